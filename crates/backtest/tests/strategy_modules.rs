//! Strategy modules in the backtester: the example `sma_cross` module, compiled to wasm and run
//! in the sandbox, reproduces the published reference run trade for trade; modules that loop,
//! trap or allocate without bound are stopped within their limits and the run says why.

mod common;

use std::sync::Arc;

use backtest::{run_backtest, BacktestError, BacktestOutcome, BacktestSpec};
use domain::fill::{FillModel, FillTiming};
use domain::risk::RiskLimits;
use domain::{Money, Qty};
use strategy_host::{module_strategy_name, register, StrategyModule};

fn module_named(crate_name: &str) -> String {
    let module = StrategyModule::compile(&test_support::strategy_module(crate_name)).expect("module validates");
    let name = module_strategy_name(&module.info().digest);
    register(Arc::new(module));
    name
}

fn run(strategy: &str, params: &str, bars: usize) -> Result<BacktestOutcome, BacktestError> {
    let mut series = common::reference_bars();
    series.bars.truncate(bars);
    let spec = BacktestSpec {
        strategy: strategy.to_owned(),
        params: params.parse().unwrap(),
        quantity: Qty::from_units(100),
        fill_model: FillModel { timing: FillTiming::NextBarOpen, ..FillModel::default() },
        risk_limits: RiskLimits::default(),
        initial_capital: Money::from_units(100_000),
        instrument_rules: Default::default(),
    };
    run_backtest(&spec, &series, &mut |_| {})
}

fn fault_of(params: &str) -> String {
    match run(&module_named("misbehaving-module"), params, 1_000) {
        Err(BacktestError::StrategyFault(reason)) => reason,
        other => panic!("expected the module to be stopped, got {other:?}"),
    }
}

#[test]
fn the_sma_cross_module_reproduces_the_reference_trades_with_next_open_fills() {
    let outcome = run(&module_named("sma-cross-module"), "fast=10,slow=30", 100_000).expect("module run");
    let expected = common::reference_trades();
    let trips = &outcome.result.round_trips;
    assert_eq!(trips.len(), expected.len());
    for (index, (trip, (entry_ts, entry_px, exit_ts, exit_px))) in trips.iter().zip(&expected).enumerate() {
        assert_eq!(
            (trip.entry_ts.millis(), trip.entry_price, trip.exit_ts.millis(), trip.exit_price),
            (*entry_ts, *entry_px, *exit_ts, *exit_px),
            "round trip {index} differs from the reference"
        );
    }
    assert_eq!(outcome.metrics.round_trips, 1_922);
    assert_eq!(outcome.metrics.realized_pnl, "-521.31".parse().unwrap());
    // And the fills are the built-in's, one for one.
    let native = run("sma_cross", "fast=10,slow=30", 100_000).expect("native run");
    assert_eq!(outcome.result.round_trips, native.result.round_trips);
    assert_eq!(outcome.result.fills, native.result.fills);
}

#[test]
fn a_module_refusing_its_parameters_says_why_in_its_own_words() {
    let error = run(&module_named("sma-cross-module"), "fast=30,slow=10", 100).unwrap_err().to_string();
    assert!(error.contains("less than slow (10)"), "{error}");
    let error = run(&module_named("sma-cross-module"), "fast=10,slwo=30", 100).unwrap_err().to_string();
    assert!(error.contains("unknown parameter `slwo`"), "{error}");
}

#[test]
fn a_module_that_loops_forever_is_stopped_by_its_fuel_budget() {
    let reason = fault_of("fault=loop,after=3");
    assert!(reason.contains("fuel"), "{reason}");
    assert!(reason.contains("handling a bar"), "{reason}");
}

#[test]
fn a_module_that_traps_is_stopped_with_the_trap_named() {
    let reason = fault_of("fault=trap,after=3");
    assert!(reason.contains("trapped"), "{reason}");
}

#[test]
fn a_module_that_allocates_without_bound_is_stopped_at_its_memory_limit() {
    let reason = fault_of("fault=alloc,after=3");
    assert!(reason.contains("memory limit of 64 MiB"), "{reason}");
}

#[test]
fn a_well_behaved_misbehaving_module_runs_to_the_end() {
    // The control: the same module with no fault trades on every bar and is never stopped.
    let outcome = run(&module_named("misbehaving-module"), "fault=none", 200).expect("no fault");
    assert!(outcome.result.fills > 0);
}
