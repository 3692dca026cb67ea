//! Backtests as jobs: `POST /api/v1/backtests` queues a run over the platform's own history,
//! an engine's worker claims it, runs the same domain code as live trading over the bars, and
//! keeps the summary and round trips in Postgres and the output files in the object store
//! under `backtest-results/YYYY/MM/DD/<id>/`.
//!
//! - [`source`]: bars from Postgres or the Parquet archive.
//! - [`jobs`]: the job table: create, claim, heartbeat, finish.
//! - [`worker`]: the loop that runs claimed jobs.
//! - [`command`]: the `engine backtest --source ...` command line.

pub mod command;
pub mod jobs;
pub mod replay;
pub mod source;
pub mod worker;

use chrono::{DateTime, Duration, Utc};
use domain::{
    fill::{FeeSchedule, FillModel, FillTiming},
    risk::RiskLimits,
    Bps, InstrumentId, StrategyBase,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::convert;
use source::{BarSource, HistoryRequest, Interval};

/// Longest range one job may cover (about five years of 1-minute bars, ~2.6 million).
pub const MAX_RANGE_DAYS: i64 = 1830;

/// When market orders fill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FillChoice {
    /// At the next bar's open (default).
    #[default]
    NextOpen,
    /// At the signal bar's close.
    Close,
}

fn default_interval() -> String {
    "1m".to_owned()
}

fn default_capital() -> Decimal {
    Decimal::from(100_000)
}

/// A backtest to run: strategy and parameters, the history to run over, trading conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// Strategy kind: `sma_cross`, `rsi_reversion`, `bollinger_breakout`, `signal_follower`.
    pub strategy: String,
    /// Its parameters, a flat object (`{"fast": 10, "slow": 30}`).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Symbol whose bars to use.
    pub symbol: String,
    /// Bar interval: 1m, 5m, 15m, 1h or 1d (1-minute bars aggregated).
    #[serde(default = "default_interval")]
    pub interval: String,
    /// Range start (inclusive).
    pub from: DateTime<Utc>,
    /// Range end (exclusive).
    pub to: DateTime<Utc>,
    /// Units per order.
    pub quantity: Decimal,
    /// `next_open` (default) or `close`.
    #[serde(default)]
    pub fill: FillChoice,
    /// `postgres` (default) or `archive`.
    #[serde(default = "default_source")]
    pub source: BarSource,
    /// Fee in basis points of the notional, per fill.
    #[serde(default)]
    pub fee_bps: Decimal,
    /// Fixed fee per order.
    #[serde(default)]
    pub fee_per_order: Decimal,
    /// Slippage in basis points against the trader on market fills.
    #[serde(default)]
    pub slippage_bps: Decimal,
    /// Capital at the start (the base of returns).
    #[serde(default = "default_capital")]
    pub initial_capital: Decimal,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(serde_json::Map::new())
}

fn default_source() -> BarSource {
    BarSource::Postgres
}

/// A request that cannot run, naming the field.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidRequest {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidRequest {
    InvalidRequest { field, message: message.into() }
}

/// A checked request: what the backtester and the bar source need.
#[derive(Debug, Clone)]
pub struct ValidatedRequest {
    /// The backtest.
    pub spec: backtest::BacktestSpec,
    /// The bars.
    pub history: HistoryRequest,
    /// Where the bars come from.
    pub source: BarSource,
}

impl BacktestRequest {
    /// Checks every field and builds the strategy once, so a queued job can only fail for
    /// reasons of the data (no bars) or an outage.
    ///
    /// # Errors
    /// [`InvalidRequest`] naming the first field at fault.
    pub fn validate(&self) -> Result<ValidatedRequest, InvalidRequest> {
        let params = crate::strategies::parse_params(&self.params).map_err(|e| invalid("params", e.to_string()))?;
        let interval: Interval = self.interval.parse().map_err(|e: String| invalid("interval", e))?;
        if self.symbol.trim().is_empty() {
            return Err(invalid("symbol", "must not be empty"));
        }
        if self.to <= self.from {
            return Err(invalid("to", "must be after `from`"));
        }
        if self.to - self.from > Duration::days(MAX_RANGE_DAYS) {
            return Err(invalid("to", format!("the range may cover at most {MAX_RANGE_DAYS} days")));
        }
        let quantity = convert::qty(self.quantity).map_err(|e| invalid("quantity", e.to_string()))?;
        if !quantity.is_positive() {
            return Err(invalid("quantity", "must be positive"));
        }
        let bps = |field: &'static str, value: Decimal| -> Result<Bps, InvalidRequest> {
            if value.is_sign_negative() || value >= Decimal::from(10_000) {
                return Err(invalid(field, "must be between 0 and 10000 basis points"));
            }
            value.to_string().parse().map_err(|e| invalid(field, format!("{e}")))
        };
        let fee_per_order = convert::money(self.fee_per_order).map_err(|e| invalid("fee_per_order", e.to_string()))?;
        if fee_per_order.is_negative() {
            return Err(invalid("fee_per_order", "must not be negative"));
        }
        let initial_capital =
            convert::money(self.initial_capital).map_err(|e| invalid("initial_capital", e.to_string()))?;
        if !initial_capital.is_positive() {
            return Err(invalid("initial_capital", "must be positive"));
        }
        let spec = backtest::BacktestSpec {
            strategy: self.strategy.clone(),
            params,
            quantity,
            fill_model: FillModel {
                timing: match self.fill {
                    FillChoice::NextOpen => FillTiming::NextBarOpen,
                    FillChoice::Close => FillTiming::SignalBarClose,
                },
                fees: FeeSchedule { per_order: fee_per_order, rate: bps("fee_bps", self.fee_bps)? },
                slippage: bps("slippage_bps", self.slippage_bps)?,
                ..FillModel::default()
            },
            risk_limits: RiskLimits::default(),
            initial_capital,
            instrument_rules: Default::default(),
        };
        domain::build_strategy(&spec.strategy, &spec.params, StrategyBase { instrument: InstrumentId(0), quantity })
            .map_err(|e| {
                let field = match e {
                    domain::strategy::StrategyConfigError::UnknownStrategy { .. } => "strategy",
                    _ => "params",
                };
                invalid(field, e.to_string())
            })?;
        Ok(ValidatedRequest {
            spec,
            history: HistoryRequest { symbol: self.symbol.trim().to_owned(), interval, from: self.from, to: self.to },
            source: self.source,
        })
    }

    /// The fill as the summary names it.
    pub fn fill_name(&self) -> &'static str {
        match self.fill {
            FillChoice::NextOpen => "next-open",
            FillChoice::Close => "close",
        }
    }
}
