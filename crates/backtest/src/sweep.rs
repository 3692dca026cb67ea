//! Parameter sweeps: a grid such as `fast=5..20:5,slow=20..60:10` run in parallel on all cores
//! (or on one shard of it), ranked by final equity.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use domain::strategy::{StrategyConfigError, StrategyParams};
use domain::{Money, Price};

use crate::data::BarSeries;
use crate::{run_backtest, BacktestError, BacktestSpec};

/// Largest grid accepted, against typos like `fast=1..100000`.
pub const MAX_COMBINATIONS: usize = 1_000_000;

/// Why a grid could not be parsed or run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// An entry of the grid is malformed.
    #[error("bad parameter grid entry `{entry}`: {problem}")]
    Grid {
        /// The entry.
        entry: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Shard settings are inconsistent.
    #[error("shard index {index} is not below shard count {count}")]
    Shard {
        /// `--shard-index`.
        index: usize,
        /// `--shard-count`.
        count: usize,
    },
    /// A strategy name or parameter name is wrong for every combination.
    #[error(transparent)]
    Strategy(StrategyConfigError),
    /// No combination has valid parameters.
    #[error("no valid parameter combination in the grid; first problem: {0}")]
    NothingValid(StrategyConfigError),
    /// A run failed.
    #[error("run {params}: {source}")]
    Run {
        /// Its parameters.
        params: String,
        /// The failure.
        source: BacktestError,
    },
}

/// A parameter grid: each name with the values it takes, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamGrid {
    axes: Vec<(String, Vec<String>)>,
}

/// True when `text` describes a grid (has a `a..b` range) rather than single values.
#[must_use]
pub fn is_grid(text: &str) -> bool {
    text.contains("..")
}

impl ParamGrid {
    /// Parses `name=value`, `name=start..end` (step 1) and `name=start..end:step` entries
    /// separated by commas; ranges include `end` and may be decimal (`k=1.5..2.5:0.5`).
    ///
    /// # Errors
    /// [`SweepError::Grid`] naming the bad entry.
    pub fn parse(text: &str) -> Result<Self, SweepError> {
        let mut axes: Vec<(String, Vec<String>)> = Vec::new();
        let mut combinations: usize = 1;
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let problem = |problem: &str| SweepError::Grid { entry: entry.to_owned(), problem: problem.to_owned() };
            let (name, spec) = entry.split_once('=').ok_or_else(|| problem("expected name=values"))?;
            let (name, spec) = (name.trim(), spec.trim());
            if name.is_empty() || spec.is_empty() {
                return Err(problem("expected name=values"));
            }
            if axes.iter().any(|(existing, _)| existing == name) {
                return Err(problem("parameter given twice"));
            }
            let values = match spec.split_once("..") {
                None => vec![spec.to_owned()],
                Some((start, rest)) => {
                    let (end, step) = rest.split_once(':').unwrap_or((rest, "1"));
                    let parse = |text: &str, what: &str| {
                        text.trim().parse::<Price>().map_err(|_| problem(&format!("{what} `{text}` is not a number")))
                    };
                    let (start, end, step) = (parse(start, "start")?, parse(end, "end")?, parse(step, "step")?);
                    if !step.is_positive() {
                        return Err(problem("step must be positive"));
                    }
                    if start > end {
                        return Err(problem("start is above end"));
                    }
                    let mut values = Vec::new();
                    let mut value = start;
                    while value <= end {
                        if values.len() >= MAX_COMBINATIONS {
                            return Err(problem("too many values"));
                        }
                        values.push(value.to_string());
                        value = value.checked_add(step).ok_or_else(|| problem("range overflows"))?;
                    }
                    values
                }
            };
            combinations = combinations
                .checked_mul(values.len())
                .filter(|n| *n <= MAX_COMBINATIONS)
                .ok_or_else(|| problem(&format!("grid has more than {MAX_COMBINATIONS} combinations")))?;
            axes.push((name.to_owned(), values));
        }
        Ok(Self { axes })
    }

    /// Parameter names in grid order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.axes.iter().map(|(name, _)| name.as_str())
    }

    /// Every combination, the last axis varying fastest.
    #[must_use]
    pub fn combinations(&self) -> Vec<StrategyParams> {
        let mut all = vec![StrategyParams::new()];
        for (name, values) in &self.axes {
            all = all
                .into_iter()
                .flat_map(|base| {
                    values.iter().map(move |value| {
                        let mut params = base.clone();
                        params.set(name.clone(), value.clone());
                        params
                    })
                })
                .collect();
        }
        all
    }
}

/// One finished combination.
#[derive(Debug, Clone)]
pub struct SweepRow {
    /// Index of the combination in the whole grid (stable across shards).
    pub combination: usize,
    /// Its parameters.
    pub params: StrategyParams,
    /// Closed round trips.
    pub round_trips: usize,
    /// Realized P&L.
    pub realized_pnl: Money,
    /// Final equity (the ranking key).
    pub final_equity: Money,
    /// Total return.
    pub total_return: f64,
    /// Annualized Sharpe.
    pub sharpe: Option<f64>,
    /// Max drawdown as a fraction.
    pub max_drawdown_pct: f64,
    /// Win rate.
    pub win_rate: Option<f64>,
    /// Profit factor.
    pub profit_factor: Option<f64>,
    /// Loop time.
    pub elapsed_ms: f64,
}

/// Result of a sweep.
#[derive(Debug, Clone)]
pub struct SweepOutcome {
    /// Finished combinations, best first.
    pub ranked: Vec<SweepRow>,
    /// Combinations skipped because their parameters are invalid together (e.g. fast ≥ slow).
    pub skipped: Vec<(StrategyParams, StrategyConfigError)>,
    /// Worker threads used.
    pub threads: usize,
}

/// Runs the combinations of `grid` belonging to shard `shard_index` of `shard_count` (every
/// combination whose index modulo `shard_count` equals `shard_index`) on `threads` threads,
/// calling `progress` with the number done after each one.
///
/// # Errors
/// [`SweepError`] for a bad shard, an unknown strategy or parameter, a grid with no valid
/// combination, or a failed run.
pub fn run_sweep(
    base: &BacktestSpec,
    grid: &ParamGrid,
    series: &BarSeries,
    shard_index: usize,
    shard_count: usize,
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<SweepOutcome, SweepError> {
    if shard_count == 0 || shard_index >= shard_count {
        return Err(SweepError::Shard { index: shard_index, count: shard_count });
    }
    let mut runnable = Vec::new();
    let mut skipped = Vec::new();
    for (combination, params) in grid.combinations().into_iter().enumerate() {
        if combination % shard_count != shard_index {
            continue;
        }
        // Build once up front: a wrong name fails the sweep, a bad value pair skips the combination.
        match strategy_host::build_strategy(
            &base.strategy,
            &params,
            domain::StrategyBase { instrument: Default::default(), quantity: base.quantity },
        ) {
            Ok(_) => runnable.push((combination, params)),
            Err(error @ StrategyConfigError::InvalidParam { .. }) => skipped.push((params, error)),
            Err(error) => return Err(SweepError::Strategy(error)),
        }
    }
    if runnable.is_empty() {
        if let Some((_, error)) = skipped.first() {
            return Err(SweepError::NothingValid(error.clone()));
        }
    }
    let threads = threads.clamp(1, runnable.len().max(1));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let rows = Mutex::new(Vec::with_capacity(runnable.len()));
    let failure = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some((combination, params)) = runnable.get(index) else {
                    break;
                };
                let spec = BacktestSpec { params: params.clone(), ..base.clone() };
                match run_backtest(&spec, series, &mut |_| {}) {
                    Ok(outcome) => {
                        let metrics = &outcome.metrics;
                        let row = SweepRow {
                            combination: *combination,
                            params: params.clone(),
                            round_trips: metrics.round_trips,
                            realized_pnl: metrics.realized_pnl,
                            final_equity: metrics.final_equity,
                            total_return: metrics.total_return,
                            sharpe: metrics.sharpe,
                            max_drawdown_pct: metrics.max_drawdown_pct,
                            win_rate: metrics.win_rate,
                            profit_factor: metrics.profit_factor,
                            elapsed_ms: outcome.result.elapsed.as_secs_f64() * 1e3,
                        };
                        rows.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(row);
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                    }
                    Err(source) => {
                        failure
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .get_or_insert(SweepError::Run { params: params.to_string(), source });
                        // Stop handing out work: the sweep has failed.
                        next.store(usize::MAX / 2, Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
    });
    if let Some(error) = failure.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(error);
    }
    let mut ranked = rows.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    ranked.sort_by(|a, b| {
        b.final_equity
            .cmp(&a.final_equity)
            .then_with(|| b.sharpe.unwrap_or(f64::NEG_INFINITY).total_cmp(&a.sharpe.unwrap_or(f64::NEG_INFINITY)))
            .then_with(|| a.combination.cmp(&b.combination))
    });
    Ok(SweepOutcome { ranked, skipped, threads })
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| format!("{v:.6}"))
}

/// Writes the ranked table as CSV: `rank,<param names…>,round_trips,realized_pnl,…`.
///
/// # Errors
/// Any I/O error of `out`.
pub fn write_sweep_csv(out: &mut dyn Write, grid: &ParamGrid, outcome: &SweepOutcome) -> io::Result<()> {
    let names: Vec<&str> = grid.names().collect();
    writeln!(
        out,
        "rank,{},round_trips,realized_pnl,final_equity,total_return,sharpe,max_drawdown_pct,win_rate,profit_factor,elapsed_ms",
        names.join(",")
    )?;
    for (rank, row) in outcome.ranked.iter().enumerate() {
        let mut line = format!("{}", rank + 1);
        for name in &names {
            let _ = write!(line, ",{}", row.params.get(name).unwrap_or(""));
        }
        writeln!(
            out,
            "{line},{},{},{},{:.6},{},{:.6},{},{},{:.3}",
            row.round_trips,
            row.realized_pnl.display_min(2),
            row.final_equity.display_min(2),
            row.total_return,
            optional(row.sharpe),
            row.max_drawdown_pct,
            optional(row.win_rate),
            optional(row.profit_factor),
            row.elapsed_ms,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_expands_inclusive_ranges_with_steps() {
        let grid = ParamGrid::parse("fast=5..20:5,slow=20..60:10").unwrap();
        let combinations = grid.combinations();
        assert_eq!(combinations.len(), 4 * 5);
        assert_eq!(combinations[0].to_string(), "fast=5,slow=20");
        assert_eq!(combinations[1].to_string(), "fast=5,slow=30");
        assert_eq!(combinations[19].to_string(), "fast=20,slow=60");
    }

    #[test]
    fn grid_accepts_single_values_default_step_and_decimals() {
        let grid = ParamGrid::parse("period=3..5,k=1.5..2.5:0.5,quantity=10").unwrap();
        let combinations = grid.combinations();
        assert_eq!(combinations.len(), 3 * 3);
        assert_eq!(combinations[1].get("k"), Some("2"));
        assert_eq!(combinations[2].get("k"), Some("2.5"));
        assert_eq!(combinations[8].get("quantity"), Some("10"));
    }

    #[test]
    fn grid_rejects_bad_entries_naming_them() {
        for (text, entry) in [
            ("fast=20..5", "fast=20..5"),
            ("fast=1..5:0", "fast=1..5:0"),
            ("fast=a..5", "fast=a..5"),
            ("fast", "fast"),
            ("fast=1..2,fast=3", "fast=3"),
        ] {
            match ParamGrid::parse(text) {
                Err(SweepError::Grid { entry: named, .. }) => assert_eq!(named, entry, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(ParamGrid::parse("a=1..1000,b=1..1000,c=1..2").is_err(), "grid too large");
    }
}
