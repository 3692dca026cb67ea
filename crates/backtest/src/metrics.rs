//! Performance metrics of a run.
//!
//! Amounts (P&L, drawdown in money) are exact fixed-point values; ratios (returns, Sharpe,
//! Sortino, rates) are `f64` because they are reported, never summed or compared further.
//!
//! Assumptions, also written into `summary.json`:
//! - returns are simple per-bar returns of equity marked at each bar's close, the first one
//!   against the initial capital;
//! - the risk-free rate is 0;
//! - annualization assumes the market trades around the clock (as the synthetic and crypto
//!   data do): `bars_per_year = 365.25 days / bar interval`; Sharpe = mean / sample standard
//!   deviation × √bars_per_year; Sortino uses the downside deviation √(mean(min(r, 0)²));
//! - CAGR uses the span from the first bar's open to the last bar's end.

use domain::{Money, Qty};

use crate::simulation::{RoundTrip, SimulationResult};

/// The assumptions behind the annualized figures, in one sentence for reports.
pub const ASSUMPTIONS: &str = "simple per-bar returns of close-marked equity; risk-free rate 0; \
annualized for a market trading 24/7 (bars_per_year = 365.25 days / bar interval); Sharpe uses the \
sample standard deviation, Sortino the downside deviation sqrt(mean(min(r,0)^2)); CAGR over first \
bar open to last bar end";

const NANOS_PER_YEAR: f64 = 365.25 * 86_400.0 * 1e9;

/// Metrics of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Capital at the start.
    pub initial_capital: Money,
    /// Equity after the last bar.
    pub final_equity: Money,
    /// Realized P&L (fees included) of the whole run.
    pub realized_pnl: Money,
    /// Unrealized P&L of the open position at the last close.
    pub unrealized_pnl: Money,
    /// Fees paid.
    pub fees: Money,
    /// Signed position still open at the end.
    pub open_position: Qty,
    /// Final equity / initial capital − 1.
    pub total_return: f64,
    /// Compound annual growth rate; `None` when the span is zero or equity went to zero.
    pub cagr: Option<f64>,
    /// Annualized Sharpe ratio; `None` without variation in returns.
    pub sharpe: Option<f64>,
    /// Annualized Sortino ratio; `None` without downside returns.
    pub sortino: Option<f64>,
    /// Largest fall of equity from a previous peak, in money (positive).
    pub max_drawdown: Money,
    /// That fall as a fraction of the peak.
    pub max_drawdown_pct: f64,
    /// Longest time from a peak until equity regained it (or the end), in bars.
    pub max_drawdown_duration_bars: usize,
    /// The same in milliseconds.
    pub max_drawdown_duration_ms: i64,
    /// Closed round trips.
    pub round_trips: usize,
    /// Share of round trips with positive P&L; `None` without trips.
    pub win_rate: Option<f64>,
    /// Gross profit / gross loss of round trips; `None` without losing trips.
    pub profit_factor: Option<f64>,
    /// Average P&L per round trip (exact, rounded to 10^-8); `None` without trips.
    pub average_trade: Option<Money>,
    /// Share of bars with a position held at the close.
    pub exposure: f64,
    /// Bars per year used for annualization.
    pub bars_per_year: f64,
}

/// Computes the metrics of `result`; `interval_nanos` is the bar spacing (1 minute if unknown).
#[must_use]
pub fn compute_metrics(
    result: &SimulationResult,
    initial_capital: Money,
    last_close: Option<domain::Price>,
    interval_nanos: Option<i64>,
) -> Metrics {
    let interval_nanos = interval_nanos.unwrap_or(60_000_000_000).max(1);
    let bars_per_year = NANOS_PER_YEAR / interval_nanos as f64;
    let final_equity = result.equity.last().copied().unwrap_or(initial_capital);
    let position = &result.final_position;
    let unrealized_pnl = last_close.and_then(|close| position.unrealized_pnl(close).ok()).unwrap_or(Money::ZERO);
    let capital = initial_capital.to_f64_lossy();
    let total_return = if capital > 0.0 { final_equity.to_f64_lossy() / capital - 1.0 } else { f64::NAN };
    let years = result.bars as f64 * interval_nanos as f64 / NANOS_PER_YEAR;
    let cagr = (years > 0.0 && total_return > -1.0).then(|| (1.0 + total_return).powf(1.0 / years) - 1.0);
    let (sharpe, sortino) = risk_adjusted(&result.equity, capital, bars_per_year);
    let drawdown = drawdown(&result.equity, initial_capital);
    let trips = trip_stats(&result.round_trips);
    Metrics {
        initial_capital,
        final_equity,
        realized_pnl: position.realized_pnl(),
        unrealized_pnl,
        fees: position.fees(),
        open_position: position.qty(),
        total_return,
        cagr,
        sharpe,
        sortino,
        max_drawdown: drawdown.amount,
        max_drawdown_pct: drawdown.fraction,
        max_drawdown_duration_bars: drawdown.duration_bars,
        max_drawdown_duration_ms: i64::try_from(drawdown.duration_bars)
            .unwrap_or(i64::MAX)
            .saturating_mul(interval_nanos / 1_000_000),
        round_trips: result.round_trips.len(),
        win_rate: trips.win_rate,
        profit_factor: trips.profit_factor,
        average_trade: trips.average,
        exposure: if result.bars == 0 { 0.0 } else { result.bars_in_market as f64 / result.bars as f64 },
        bars_per_year,
    }
}

fn risk_adjusted(equity: &[Money], capital: f64, bars_per_year: f64) -> (Option<f64>, Option<f64>) {
    if equity.is_empty() {
        return (None, None);
    }
    let mut previous = capital;
    let (mut sum, mut sum_sq, mut downside_sq) = (0.0_f64, 0.0_f64, 0.0_f64);
    let mut count = 0_usize;
    for value in equity {
        let current = value.to_f64_lossy();
        if previous != 0.0 {
            let r = current / previous - 1.0;
            sum += r;
            sum_sq += r * r;
            downside_sq += r.min(0.0) * r.min(0.0);
            count += 1;
        }
        previous = current;
    }
    if count < 2 {
        return (None, None);
    }
    let n = count as f64;
    let mean = sum / n;
    let variance = (sum_sq - n * mean * mean) / (n - 1.0);
    let annualizer = bars_per_year.sqrt();
    let sharpe = (variance > 0.0).then(|| mean / variance.sqrt() * annualizer);
    let downside = (downside_sq / n).sqrt();
    let sortino = (downside > 0.0).then(|| mean / downside * annualizer);
    (sharpe, sortino)
}

struct Drawdown {
    amount: Money,
    fraction: f64,
    duration_bars: usize,
}

fn drawdown(equity: &[Money], initial_capital: Money) -> Drawdown {
    let mut peak = initial_capital;
    let mut peak_index: Option<usize> = None; // None = the initial capital, before bar 0
    let mut worst = Drawdown { amount: Money::ZERO, fraction: 0.0, duration_bars: 0 };
    for (index, value) in equity.iter().enumerate() {
        if *value >= peak {
            peak = *value;
            peak_index = Some(index);
            continue;
        }
        let fall = peak.checked_sub(*value).unwrap_or(Money::MAX);
        if fall > worst.amount {
            worst.amount = fall;
            worst.fraction = fall.to_f64_lossy() / peak.to_f64_lossy();
        }
        let since_peak = peak_index.map_or(index + 1, |peak_at| index - peak_at);
        worst.duration_bars = worst.duration_bars.max(since_peak);
    }
    worst
}

struct TripStats {
    win_rate: Option<f64>,
    profit_factor: Option<f64>,
    average: Option<Money>,
}

fn trip_stats(trips: &[RoundTrip]) -> TripStats {
    if trips.is_empty() {
        return TripStats { win_rate: None, profit_factor: None, average: None };
    }
    let (mut gross_profit, mut gross_loss, mut total, mut wins) = (0_i128, 0_i128, 0_i128, 0_usize);
    for trip in trips {
        let pnl = i128::from(trip.pnl.raw());
        total += pnl;
        if pnl > 0 {
            gross_profit += pnl;
            wins += 1;
        } else {
            gross_loss -= pnl;
        }
    }
    let count = trips.len() as i128;
    // Round half away from zero, as everywhere else in fixed-point division.
    let average = (2 * total + count * total.signum()) / (2 * count);
    TripStats {
        win_rate: Some(wins as f64 / trips.len() as f64),
        profit_factor: (gross_loss > 0).then(|| gross_profit as f64 / gross_loss as f64),
        average: i64::try_from(average).ok().map(Money::from_raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Timestamp;

    fn money(units: i64) -> Money {
        Money::from_units(units)
    }

    fn trip(pnl: i64) -> RoundTrip {
        RoundTrip {
            entry_ts: Timestamp::from_nanos(0),
            entry_price: domain::Price::ONE,
            exit_ts: Timestamp::from_nanos(0),
            exit_price: domain::Price::ONE,
            qty: Qty::ONE,
            pnl: money(pnl),
        }
    }

    #[test]
    fn drawdown_measures_largest_fall_and_longest_time_under_water() {
        let equity: Vec<Money> = [100, 110, 99, 105, 111, 108, 99, 101].into_iter().map(money).collect();
        let result = drawdown(&equity, money(100));
        assert_eq!(result.amount, money(12)); // 111 → 99 (the 110 → 99 fall is 11)
        assert!((result.fraction - 12.0 / 111.0).abs() < 1e-12);
        assert_eq!(result.duration_bars, 3); // bar 4 peak, still under water at bar 7
    }

    #[test]
    fn drawdown_counts_from_initial_capital_when_first_bars_lose() {
        let equity: Vec<Money> = [90, 95, 101].into_iter().map(money).collect();
        let result = drawdown(&equity, money(100));
        assert_eq!(result.amount, money(10));
        assert_eq!(result.duration_bars, 2);
    }

    #[test]
    fn trip_statistics_cover_wins_losses_and_average() {
        let stats = trip_stats(&[trip(10), trip(-4), trip(-1), trip(3)]);
        assert_eq!(stats.win_rate, Some(0.5));
        assert_eq!(stats.profit_factor, Some(13.0 / 5.0));
        assert_eq!(stats.average, Some(Money::from_raw(200_000_000))); // 8 / 4 = 2
        let stats = trip_stats(&[trip(1)]);
        assert_eq!(stats.profit_factor, None, "no losing trip");
    }

    #[test]
    fn sharpe_is_absent_for_flat_equity_and_positive_for_steady_gains() {
        let flat = vec![money(100); 10];
        assert_eq!(risk_adjusted(&flat, 100.0, 525_960.0), (None, None));
        let rising: Vec<Money> = [101, 103, 104, 106, 107].into_iter().map(money).collect();
        let (sharpe, sortino) = risk_adjusted(&rising, 100.0, 525_960.0);
        assert!(sharpe.unwrap() > 0.0);
        assert_eq!(sortino, None, "no down bar");
    }
}
