//! Parameter sweeps: parallel results equal single runs, and shards partition the grid.

mod common;

use backtest::sweep::{run_sweep, ParamGrid};
use backtest::{run_backtest, BacktestSpec};
use domain::fill::FillModel;
use domain::risk::RiskLimits;
use domain::{Money, Qty};

fn spec() -> BacktestSpec {
    BacktestSpec {
        strategy: "sma_cross".into(),
        params: Default::default(),
        quantity: Qty::from_units(100),
        fill_model: FillModel::default(),
        risk_limits: RiskLimits::default(),
        initial_capital: Money::from_units(100_000),
        instrument_rules: Default::default(),
    }
}

#[test]
fn parallel_sweep_results_equal_individual_runs() {
    let series = common::reference_bars();
    let grid = ParamGrid::parse("fast=4..12:4,slow=20..40:10").unwrap();
    let outcome = run_sweep(&spec(), &grid, &series, 0, 1, 2, &|_| {}).unwrap();
    assert_eq!(outcome.ranked.len(), 9);
    assert_eq!(outcome.threads, 2);
    for row in &outcome.ranked {
        let single =
            run_backtest(&BacktestSpec { params: row.params.clone(), ..spec() }, &series, &mut |_| {}).unwrap();
        assert_eq!(row.round_trips, single.metrics.round_trips, "{}", row.params);
        assert_eq!(row.realized_pnl, single.metrics.realized_pnl, "{}", row.params);
        assert_eq!(row.final_equity, single.metrics.final_equity, "{}", row.params);
    }
}

#[test]
fn shards_partition_the_grid() {
    let series = common::reference_bars();
    let grid = ParamGrid::parse("fast=3..7,slow=25").unwrap();
    let mut seen: Vec<usize> = Vec::new();
    for shard in 0..3 {
        let outcome = run_sweep(&spec(), &grid, &series, shard, 3, 2, &|_| {}).unwrap();
        assert!(outcome.ranked.iter().all(|row| row.combination % 3 == shard));
        seen.extend(outcome.ranked.iter().map(|row| row.combination));
    }
    seen.sort_unstable();
    assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    assert!(run_sweep(&spec(), &grid, &series, 3, 3, 2, &|_| {}).is_err(), "shard index must be below count");
}

#[test]
fn sweep_refuses_unknown_parameter_names() {
    let series = common::reference_bars();
    let grid = ParamGrid::parse("fats=3..5").unwrap();
    let error = run_sweep(&spec(), &grid, &series, 0, 1, 2, &|_| {}).unwrap_err();
    assert!(error.to_string().contains("unknown parameter `fats`"), "{error}");
}
