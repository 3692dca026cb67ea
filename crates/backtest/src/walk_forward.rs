//! Walk-forward optimisation: a parameter grid swept over a rolling in-sample window, and the
//! winner run over the out-of-sample window that follows it, window after window.
//!
//! Windows are counted in bars: window `k` sweeps bars `[k·step, k·step + in)` and runs its
//! winner over `[k·step + in, k·step + in + out)`, for every `k` whose out-of-sample window is
//! complete (`step` defaults to `out`, so the out-of-sample windows tile the data after the first
//! in-sample one). The winner is the sweep's best combination (final equity, then Sharpe). Each
//! out-of-sample run starts flat with fresh indicators, as a strategy redeployed with new
//! parameters would. Sweeps run on all cores; windows can be split into shards (`window index
//! mod shard count`), one per task of the deployment's task runner.

use std::io::{self, Write};
use std::ops::Range;

use domain::{Money, Timestamp};

use crate::data::BarSeries;
use crate::sweep::{run_sweep, ParamGrid, SweepError, SweepRow};
use crate::{run_backtest, BacktestSpec};

/// The window sizes, in bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalkForwardPlan {
    /// Bars each sweep runs over.
    pub in_sample: usize,
    /// Bars each winner runs over.
    pub out_of_sample: usize,
    /// Bars between the starts of consecutive windows.
    pub step: usize,
}

impl WalkForwardPlan {
    /// Parses `IN,OUT` or `IN,OUT,STEP` (bars).
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let numbers: Vec<usize> = text
            .split(',')
            .map(|part| part.trim().parse::<usize>().map_err(|_| format!("`{part}` is not a number of bars")))
            .collect::<Result<_, _>>()?;
        let plan = match numbers[..] {
            [in_sample, out_of_sample] => Self { in_sample, out_of_sample, step: out_of_sample },
            [in_sample, out_of_sample, step] => Self { in_sample, out_of_sample, step },
            _ => return Err(format!("expected IN,OUT or IN,OUT,STEP in bars, got `{text}`")),
        };
        if plan.in_sample == 0 || plan.out_of_sample == 0 || plan.step == 0 {
            return Err("window sizes and the step must be at least one bar".into());
        }
        Ok(plan)
    }

    /// The windows over `bars` bars: (in-sample, out-of-sample) index ranges.
    #[must_use]
    pub fn windows(&self, bars: usize) -> Vec<(Range<usize>, Range<usize>)> {
        let mut windows = Vec::new();
        let mut start = 0;
        while start + self.in_sample + self.out_of_sample <= bars {
            let split = start + self.in_sample;
            windows.push((start..split, split..split + self.out_of_sample));
            start += self.step;
        }
        windows
    }
}

/// What one out-of-sample run of a winner did.
#[derive(Debug, Clone, PartialEq)]
pub struct OutOfSample {
    /// Closed round trips.
    pub round_trips: usize,
    /// Realized P&L.
    pub realized_pnl: Money,
    /// Final equity.
    pub final_equity: Money,
    /// Total return.
    pub total_return: f64,
    /// Annualized Sharpe.
    pub sharpe: Option<f64>,
    /// Max drawdown as a fraction.
    pub max_drawdown_pct: f64,
}

/// One window: its sweep's winner, in sample and out of sample.
#[derive(Debug, Clone)]
pub struct WalkForwardWindow {
    /// Window index.
    pub index: usize,
    /// First and last bar times of the in-sample window.
    pub in_sample: (Timestamp, Timestamp),
    /// First and last bar times of the out-of-sample window.
    pub out_of_sample: (Timestamp, Timestamp),
    /// The sweep's best combination, with its in-sample metrics.
    pub winner: SweepRow,
    /// Combinations the sweep ran.
    pub combinations: usize,
    /// The winner over the out-of-sample bars.
    pub result: OutOfSample,
}

/// A walk-forward run: the windows of this shard, in order.
#[derive(Debug, Clone)]
pub struct WalkForwardOutcome {
    /// Windows run.
    pub windows: Vec<WalkForwardWindow>,
    /// Windows in the whole plan (all shards).
    pub total_windows: usize,
}

impl WalkForwardOutcome {
    /// Realized P&L summed over the out-of-sample runs.
    #[must_use]
    pub fn out_of_sample_pnl(&self) -> Money {
        self.windows.iter().fold(Money::ZERO, |sum, w| sum.checked_add(w.result.realized_pnl).unwrap_or(Money::MAX))
    }

    /// Out-of-sample return per unit of in-sample return, averaged over windows (walk-forward
    /// efficiency): near 1 when what the sweeps found carries over, near 0 or below when it was
    /// fitted noise. `None` when no window had an in-sample return.
    #[must_use]
    pub fn efficiency(&self) -> Option<f64> {
        let ratios: Vec<f64> = self
            .windows
            .iter()
            .filter(|w| w.winner.total_return.abs() > f64::EPSILON)
            .map(|w| w.result.total_return / w.winner.total_return)
            .collect();
        (!ratios.is_empty()).then(|| ratios.iter().sum::<f64>() / ratios.len() as f64)
    }
}

fn slice(series: &BarSeries, range: Range<usize>) -> BarSeries {
    BarSeries {
        bars: series.bars[range].to_vec(),
        price_decimals: series.price_decimals,
        interval_nanos: series.interval_nanos,
    }
}

/// Runs the windows of `plan` over `series` that belong to shard `shard_index` of
/// `shard_count`, each sweep on `threads` threads; `progress` gets the windows done.
///
/// # Errors
/// [`SweepError`] for a bad shard, a bad grid or strategy, or a failed run; a plan with no
/// complete window is [`SweepError::Grid`] naming the sizes.
pub fn run_walk_forward(
    base: &BacktestSpec,
    grid: &ParamGrid,
    series: &BarSeries,
    plan: WalkForwardPlan,
    (shard_index, shard_count): (usize, usize),
    threads: usize,
    progress: &dyn Fn(usize),
) -> Result<WalkForwardOutcome, SweepError> {
    if shard_count == 0 || shard_index >= shard_count {
        return Err(SweepError::Shard { index: shard_index, count: shard_count });
    }
    let all = plan.windows(series.bars.len());
    if all.is_empty() {
        return Err(SweepError::Grid {
            entry: format!("{},{}", plan.in_sample, plan.out_of_sample),
            problem: format!("{} bars hold no complete in-sample plus out-of-sample window", series.bars.len()),
        });
    }
    let total_windows = all.len();
    let mut windows = Vec::new();
    for (index, (in_range, out_range)) in all.into_iter().enumerate() {
        if index % shard_count != shard_index {
            continue;
        }
        let span = |range: &Range<usize>| (series.bars[range.start].ts, series.bars[range.end - 1].ts);
        let (in_span, out_span) = (span(&in_range), span(&out_range));
        let sweep = run_sweep(base, grid, &slice(series, in_range), 0, 1, threads, &|_| {})?;
        let Some(winner) = sweep.ranked.into_iter().next() else { continue };
        let combinations = grid.combinations().len() - sweep.skipped.len();
        let spec = BacktestSpec { params: winner.params.clone(), ..base.clone() };
        let outcome = run_backtest(&spec, &slice(series, out_range), &mut |_| {})
            .map_err(|source| SweepError::Run { params: winner.params.to_string(), source })?;
        let m = &outcome.metrics;
        windows.push(WalkForwardWindow {
            index,
            in_sample: in_span,
            out_of_sample: out_span,
            winner,
            combinations,
            result: OutOfSample {
                round_trips: m.round_trips,
                realized_pnl: m.realized_pnl,
                final_equity: m.final_equity,
                total_return: m.total_return,
                sharpe: m.sharpe,
                max_drawdown_pct: m.max_drawdown_pct,
            },
        });
        progress(windows.len());
    }
    Ok(WalkForwardOutcome { windows, total_windows })
}

fn optional(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| format!("{v:.6}"))
}

/// Writes one row per window: `window,in_start_ms,in_end_ms,out_start_ms,out_end_ms,params,
/// in_final_equity,in_return,in_sharpe,out_round_trips,out_realized_pnl,out_final_equity,
/// out_return,out_sharpe,out_max_drawdown` (`params` as `name=value;…`).
///
/// # Errors
/// Any I/O error of `out`.
pub fn write_walk_forward_csv(out: &mut dyn Write, outcome: &WalkForwardOutcome) -> io::Result<()> {
    writeln!(
        out,
        "window,in_start_ms,in_end_ms,out_start_ms,out_end_ms,params,in_final_equity,in_return,in_sharpe,\
         out_round_trips,out_realized_pnl,out_final_equity,out_return,out_sharpe,out_max_drawdown"
    )?;
    for w in &outcome.windows {
        writeln!(
            out,
            "{},{},{},{},{},{},{},{:.6},{},{},{},{},{:.6},{},{:.6}",
            w.index,
            w.in_sample.0.millis(),
            w.in_sample.1.millis(),
            w.out_of_sample.0.millis(),
            w.out_of_sample.1.millis(),
            w.winner.params.to_string().replace(',', ";"),
            w.winner.final_equity,
            w.winner.total_return,
            optional(w.winner.sharpe),
            w.result.round_trips,
            w.result.realized_pnl,
            w.result.final_equity,
            w.result.total_return,
            optional(w.result.sharpe),
            w.result.max_drawdown_pct,
        )?;
    }
    Ok(())
}
