//! Halyard's backtester: the live strategy, risk, fill and position code of the `domain` crate
//! driven over historical bars, with metrics, reports and parameter sweeps.
//!
//! - [`data`]: the CSV bar loader.
//! - [`simulation`]: the event-driven loop over one instrument's bars.
//! - [`portfolio`]: several instruments in one account, on bars or replayed ticks (as live).
//! - [`metrics`]: returns, risk-adjusted ratios, drawdown, trade statistics.
//! - [`report`]: `summary.json`, `trades.csv`, `equity.csv`, `report.html`.
//! - [`sweep`]: parameter grids run in parallel.
//! - [`walk_forward`]: rolling in-sample sweeps and out-of-sample runs of their winners.
//! - [`cli`]: the `backtest` command.

#![warn(missing_docs, clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod cli;
pub mod data;
pub mod metrics;
pub mod portfolio;
pub mod report;
pub mod simulation;
pub mod sweep;
pub mod walk_forward;

use domain::fill::FillModel;
use domain::risk::{InstrumentRules, RiskLimits};
use domain::strategy::{StrategyBase, StrategyConfigError, StrategyParams};
use strategy_host::build_strategy;
use domain::{Money, Price, Qty};

use crate::data::BarSeries;
use crate::metrics::{compute_metrics, Metrics};
use crate::simulation::{run_simulation, SimulationConfig, SimulationError, SimulationResult};

/// What to backtest: a strategy, its parameters and the trading conditions.
#[derive(Debug, Clone)]
pub struct BacktestSpec {
    /// Registry name of the strategy.
    pub strategy: String,
    /// Its parameters.
    pub params: StrategyParams,
    /// Order quantity.
    pub quantity: Qty,
    /// Fill timing, fees and slippage; its tick is replaced by the data's price precision.
    pub fill_model: FillModel,
    /// Pre-trade limits.
    pub risk_limits: RiskLimits,
    /// Capital at the start.
    pub initial_capital: Money,
    /// The instrument's lot, tick and minimum notional; a tick size also sets the grid slipped
    /// prices round to.
    pub instrument_rules: InstrumentRules,
}

/// Why a backtest could not run.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// The strategy name or parameters are invalid.
    #[error(transparent)]
    Strategy(#[from] StrategyConfigError),
    /// The loop stopped.
    #[error(transparent)]
    Simulation(#[from] SimulationError),
    /// The strategy (a sandboxed module) was stopped during the run.
    #[error("the strategy was stopped: {0}")]
    StrategyFault(String),
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct BacktestOutcome {
    /// What the loop produced.
    pub result: SimulationResult,
    /// Metrics derived from it.
    pub metrics: Metrics,
}

/// Builds the strategy of `spec` and runs it over `series`.
///
/// # Errors
/// [`BacktestError`] for an invalid strategy or a loop failure.
pub fn run_backtest(
    spec: &BacktestSpec,
    series: &BarSeries,
    progress: &mut dyn FnMut(usize),
) -> Result<BacktestOutcome, BacktestError> {
    let instrument = series.bars.first().map(|bar| bar.instrument).unwrap_or_default();
    let mut strategy =
        build_strategy(&spec.strategy, &spec.params, StrategyBase { instrument, quantity: spec.quantity })?;
    let config = SimulationConfig {
        instrument,
        fill_model: FillModel {
            tick: spec
                .instrument_rules
                .tick_size
                .or_else(|| Price::tick_for_decimals(series.price_decimals))
                .unwrap_or(Price::from_raw(1)),
            ..spec.fill_model
        },
        risk_limits: spec.risk_limits,
        initial_capital: spec.initial_capital,
        instrument_rules: spec.instrument_rules,
    };
    let result = run_simulation(&series.bars, &mut strategy, &config, progress)?;
    // A faulted module answers every later bar with nothing; its results would be a lie.
    if let Some(reason) = strategy.fault() {
        return Err(BacktestError::StrategyFault(reason.to_owned()));
    }
    let last_close = series.bars.last().map(|bar| bar.close);
    let metrics = compute_metrics(&result, spec.initial_capital, last_close, series.interval_nanos);
    Ok(BacktestOutcome { result, metrics })
}
