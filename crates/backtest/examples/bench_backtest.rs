//! Benchmark of the backtester on a bar file (1,000,000 bars for the published figures):
//!
//! ```text
//! cargo run --release -p backtest --example bench_backtest -- .local/bars_1000000.csv
//! ```
//!
//! Prints the CSV load time, the backtest loop time of the SMA(10,30) reference strategy
//! (through the same strategy → risk → fill → position path as live) and its rate, the whole
//! run time since `main` started, the peak resident memory (VmHWM), and the time of the
//! `fast=5..20:5,slow=20..60:10` sweep on one thread and on all cores.
//!
//! `bench_backtest FILE --command OUT_DIR` instead runs only the complete `backtest` command
//! (`backtest::cli::run`: load, loop, summary table, summary.json, trades.csv, equity.csv and
//! report.html written to `OUT_DIR`), so that timing the process measures exactly what
//! `engine backtest` does.

use std::time::Instant;

use anyhow::{bail, Context};
use backtest::cli::{BacktestArgs, FillArg};
use backtest::data::{load_bars, LoadOptions};
use backtest::{run_backtest, BacktestSpec};
use domain::fill::FillModel;
use domain::risk::RiskLimits;
use domain::{Money, Qty};

/// Extra loop repetitions after the first, to show the steady-state time as well.
const REPEATS: usize = 5;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    let Some(path) = std::env::args().nth(1) else {
        bail!("usage: bench_backtest FILE.csv [--command OUT_DIR]");
    };
    if std::env::args().nth(2).as_deref() == Some("--command") {
        let Some(out) = std::env::args().nth(3) else {
            bail!("usage: bench_backtest FILE.csv --command OUT_DIR");
        };
        let command_started = Instant::now();
        backtest::cli::run(BacktestArgs {
            data: Some(path.into()),
            strategy: "sma_cross".into(),
            params: "fast=10,slow=30".into(),
            quantity: Qty::from_units(100),
            fill: FillArg::NextOpen,
            out: Some(out.into()),
            fee_bps: domain::Bps::ZERO,
            fee_per_order: Money::ZERO,
            slippage_bps: domain::Bps::ZERO,
            initial_capital: Money::from_units(100_000),
            allow_gaps: false,
            max_order_qty: None,
            max_order_notional: None,
            max_position: None,
            shard_index: 0,
            shard_count: 1,
            threads: None,
            tick_size: None,
            lot_size: None,
            min_notional: None,
            walk_forward: None,
        })?;
        println!("backtest command with all outputs {:.1} ms", command_started.elapsed().as_secs_f64() * 1e3);
        return Ok(());
    }
    let series = load_bars(path.as_ref(), &LoadOptions::default()).with_context(|| format!("loading {path}"))?;
    let load = started.elapsed();
    let spec = BacktestSpec {
        strategy: "sma_cross".into(),
        params: "fast=10,slow=30".parse()?,
        quantity: Qty::from_units(100),
        fill_model: FillModel::default(),
        risk_limits: RiskLimits::default(),
        initial_capital: Money::from_units(100_000),
        instrument_rules: Default::default(),
    };
    let first = run_backtest(&spec, &series, &mut |_| {})?;
    let whole = started.elapsed();
    let rss_first = peak_rss_kib();
    let mut best = first.result.elapsed;
    for _ in 0..REPEATS {
        let again = run_backtest(&spec, &series, &mut |_| {})?;
        assert_eq!(again.metrics.realized_pnl, first.metrics.realized_pnl, "runs must be deterministic");
        best = best.min(again.result.elapsed);
    }
    let bars = series.bars.len() as f64;
    let loop_first = first.result.elapsed.as_secs_f64();
    println!("file                 {path}");
    println!("bars                 {}", series.bars.len());
    println!("round trips          {}", first.metrics.round_trips);
    println!("realized P&L         {}", first.metrics.realized_pnl.display_min(2));
    println!("csv load             {:.1} ms", load.as_secs_f64() * 1e3);
    println!(
        "backtest loop        {:.1} ms ({:.1}M bars/s), best of {} runs {:.1} ms ({:.1}M bars/s)",
        loop_first * 1e3,
        bars / loop_first / 1e6,
        REPEATS + 1,
        best.as_secs_f64() * 1e3,
        bars / best.as_secs_f64() / 1e6
    );
    println!("load + loop + metrics {:.1} ms (from main start)", whole.as_secs_f64() * 1e3);
    match rss_first {
        Some(kib) => println!("peak RSS             {:.1} MiB (VmHWM)", kib as f64 / 1024.0),
        None => println!("peak RSS             n/a (no /proc/self/status)"),
    }
    // Sweep scaling: the reference grid on one thread, then on all cores.
    let grid = backtest::sweep::ParamGrid::parse("fast=5..20:5,slow=20..60:10")?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut sweep_ms = Vec::new();
    for threads in [1, cores] {
        let sweep_started = Instant::now();
        let outcome = backtest::sweep::run_sweep(&spec, &grid, &series, 0, 1, threads, &|_| {})?;
        let ms = sweep_started.elapsed().as_secs_f64() * 1e3;
        println!("sweep {} runs        {ms:.1} ms on {} thread(s)", outcome.ranked.len(), outcome.threads);
        sweep_ms.push(ms);
    }
    println!("sweep speed-up       {:.2}x on {cores} cores", sweep_ms[0] / sweep_ms[1]);
    Ok(())
}
