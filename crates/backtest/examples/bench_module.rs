//! Benchmark of a strategy module against the built-in it reimplements: the SMA(10,30) loop over
//! a bar file (1,000,000 bars for the published figures), once with the native `sma_cross` and
//! once with the example module `sma-cross-module` running in the wasm sandbox (a fuel budget
//! per bar, a memory ceiling), through the same risk → fill → position path.
//!
//! ```text
//! bash scripts/build-modules.sh
//! cargo run --release -p backtest --example bench_module -- .local/bars_1000000.csv target/wasm-modules/sma-cross-module.wasm
//! ```
//!
//! Prints the module's compile time, each loop's first run and best of six, and checks that both
//! give the same round trips.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use backtest::data::{load_bars, BarSeries, LoadOptions};
use backtest::{run_backtest, BacktestOutcome, BacktestSpec};
use domain::fill::FillModel;
use domain::risk::RiskLimits;
use domain::{Money, Qty};
use strategy_host::{module_strategy_name, register, StrategyModule};

const RUNS: usize = 6;

fn timed(strategy: &str, series: &BarSeries) -> anyhow::Result<(BacktestOutcome, Duration, Duration)> {
    let spec = BacktestSpec {
        strategy: strategy.to_owned(),
        params: "fast=10,slow=30".parse()?,
        quantity: Qty::from_units(100),
        fill_model: FillModel::default(),
        risk_limits: RiskLimits::default(),
        initial_capital: Money::from_units(100_000),
        instrument_rules: Default::default(),
    };
    let mut first = None;
    let mut best = Duration::MAX;
    let mut outcome = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        let run = run_backtest(&spec, series, &mut |_| {})?;
        let took = started.elapsed();
        first.get_or_insert(took);
        best = best.min(took);
        outcome = Some(run);
    }
    Ok((outcome.expect("at least one run"), first.expect("at least one run"), best))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(bars), Some(module)) = (args.next(), args.next()) else {
        bail!("usage: bench_module BARS.csv MODULE.wasm");
    };
    let series = load_bars(bars.as_ref(), &LoadOptions::default()).with_context(|| format!("loading {bars}"))?;
    let bytes = std::fs::read(&module).with_context(|| format!("reading {module}"))?;
    let compile_started = Instant::now();
    let compiled = StrategyModule::compile(&bytes)?;
    let compile = compile_started.elapsed();
    let name = module_strategy_name(&compiled.info().digest);
    register(Arc::new(compiled));

    let (native, native_first, native_best) = timed("sma_cross", &series)?;
    let (wasm, wasm_first, wasm_best) = timed(&name, &series)?;
    ensure!(native.result.round_trips == wasm.result.round_trips, "the module's round trips differ from the built-in's");
    let bars = series.bars.len();
    println!("bars                 {bars}");
    println!("module               {} bytes, compiled in {:.1} ms", bytes.len(), ms(compile));
    println!("round trips          {} (module and built-in identical)", wasm.metrics.round_trips);
    println!("realized P&L         {}", wasm.metrics.realized_pnl);
    println!(
        "native sma_cross     first {:.1} ms, best of {RUNS} {:.1} ms ({:.1} ns/bar)",
        ms(native_first),
        ms(native_best),
        native_best.as_secs_f64() * 1e9 / bars as f64
    );
    println!(
        "wasm sma_cross       first {:.1} ms, best of {RUNS} {:.1} ms ({:.1} ns/bar)",
        ms(wasm_first),
        ms(wasm_best),
        wasm_best.as_secs_f64() * 1e9 / bars as f64
    );
    Ok(())
}
