//! Benchmark of the portfolio backtest and the tick replay (issue 17), on the bar file of
//! `bench_backtest`:
//!
//! ```text
//! cargo run --release -p backtest --example bench_portfolio -- .local/bars_1000000.csv
//! ```
//!
//! - Portfolio: 10 legs of SMA(10,30) × 100 units, one account, 1,000,000 bars each. Leg `k`
//!   trades the file's price path rotated by `k × 100,000` bars (same timestamps), so the legs
//!   cross at different times. Best of 3 runs of the loop.
//! - Tick replay: every bar becomes four trades (open, high or low, low or high, close, 15 s
//!   apart), 4,000,000 trades, replayed through `level_breakout` (on every trade, a timer every
//!   second of market time, bars of 60 s built as live). Best of 3 runs.

use std::time::Instant;

use anyhow::{bail, Context};
use backtest::data::{load_bars, LoadOptions};
use backtest::portfolio::{run_portfolio_bars, run_tick_replay, Leg, Liquidity, PortfolioConfig};
use domain::fill::FillModel;
use domain::risk::RiskLimits;
use domain::strategy::{build_strategy, StrategyBase};
use domain::{Bar, InstrumentId, Money, Price, Qty, Tick, Timestamp};

const LEGS: u32 = 10;
const RUNS: usize = 3;

fn legs(kind: &str, params: &str, count: u32) -> anyhow::Result<Vec<Leg>> {
    (0..count)
        .map(|k| {
            let instrument = InstrumentId(k);
            let base = StrategyBase { instrument, quantity: Qty::from_units(100) };
            Ok(Leg { instrument, strategy: build_strategy(kind, &params.parse()?, base)? })
        })
        .collect()
}

fn rotated(bars: &[Bar], by: usize, instrument: InstrumentId) -> Vec<Bar> {
    (0..bars.len())
        .map(|i| {
            let source = &bars[(i + by) % bars.len()];
            Bar { instrument, ts: bars[i].ts, ..*source }
        })
        .collect()
}

fn ticks_of(bars: &[Bar]) -> Vec<Tick> {
    let mut ticks = Vec::with_capacity(bars.len() * 4);
    for bar in bars {
        let (first, second) = if bar.close >= bar.open { (bar.low, bar.high) } else { (bar.high, bar.low) };
        for (n, price) in [bar.open, first, second, bar.close].into_iter().enumerate() {
            let ts = Timestamp::from_nanos(bar.ts.nanos() + n as i64 * 15_000_000_000);
            ticks.push(Tick { instrument: bar.instrument, ts, price, size: bar.volume });
        }
    }
    ticks
}

fn main() -> anyhow::Result<()> {
    let Some(path) = std::env::args().nth(1) else {
        bail!("usage: bench_portfolio FILE.csv");
    };
    let series = load_bars(path.as_ref(), &LoadOptions::default()).with_context(|| format!("loading {path}"))?;
    let bars = &series.bars;
    let config = PortfolioConfig {
        fill_model: FillModel {
            tick: Price::tick_for_decimals(series.price_decimals).unwrap_or(Price::from_raw(1)),
            ..FillModel::default()
        },
        risk_limits: RiskLimits::default(),
        initial_capital: Money::from_units(1_000_000),
        bar_period_nanos: 60_000_000_000,
        liquidity: Liquidity::Unlimited,
    };

    let step = bars.len() / LEGS as usize;
    let all: Vec<Vec<Bar>> = (0..LEGS).map(|k| rotated(bars, k as usize * step, InstrumentId(k))).collect();
    let slices: Vec<&[Bar]> = all.iter().map(Vec::as_slice).collect();
    let mut best = None;
    let mut summary = String::new();
    for _ in 0..RUNS {
        let result = run_portfolio_bars(legs("sma_cross", "fast=10,slow=30", LEGS)?, &slices, &config)?;
        best = Some(best.map_or(result.elapsed, |b: std::time::Duration| b.min(result.elapsed)));
        summary = format!(
            "{} legs, {} bars, {} round trips, {} fills, realized P&L {}, {} equity points",
            LEGS,
            result.events,
            result.round_trips.len(),
            result.fills.len(),
            result.realized_pnl().display_min(2),
            result.equity.len()
        );
    }
    let best = best.unwrap_or_default();
    let events = (bars.len() * LEGS as usize) as f64;
    println!("portfolio            {summary}");
    println!(
        "portfolio loop       best of {RUNS} {:.1} ms ({:.1}M bars/s)",
        best.as_secs_f64() * 1e3,
        events / best.as_secs_f64() / 1e6
    );

    let level = bars[0].close;
    let ticks = ticks_of(bars);
    let mut best = None;
    let mut summary = String::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let params = format!("level={level},hold_seconds=600");
        let result = run_tick_replay(legs("level_breakout", &params, 1)?, &ticks, &config)?;
        let took = started.elapsed().min(result.elapsed);
        best = Some(best.map_or(took, |b: std::time::Duration| b.min(took)));
        summary = format!(
            "{} trades, {} orders, {} fills, realized P&L {}",
            result.events,
            result.orders.len(),
            result.fills.len(),
            result.realized_pnl().display_min(2)
        );
    }
    let best = best.unwrap_or_default();
    println!("tick replay          level_breakout, {summary}");
    println!(
        "tick replay loop     best of {RUNS} {:.1} ms ({:.1}M ticks/s)",
        best.as_secs_f64() * 1e3,
        ticks.len() as f64 / best.as_secs_f64() / 1e6
    );
    Ok(())
}
