//! Walk-forward optimisation: rolling in-sample sweeps and out-of-sample runs of their winners.

mod common;

use backtest::cli::run;
use backtest::data::BarSeries;
use backtest::sweep::{run_sweep, ParamGrid};
use backtest::walk_forward::{run_walk_forward, WalkForwardPlan};
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

fn part(series: &BarSeries, range: std::ops::Range<usize>) -> BarSeries {
    BarSeries { bars: series.bars[range].to_vec(), ..series.clone() }
}

#[test]
fn windows_roll_by_the_step_and_only_complete_ones_run() {
    let plan = WalkForwardPlan::parse("1000,250").unwrap();
    let windows = plan.windows(2_100);
    assert_eq!(
        windows,
        vec![(0..1000, 1000..1250), (250..1250, 1250..1500), (500..1500, 1500..1750), (750..1750, 1750..2000)]
    );
    assert_eq!(WalkForwardPlan::parse("1000,250,500").unwrap().windows(2_100).len(), 2);
    assert_eq!(WalkForwardPlan::parse("10").unwrap_err(), "expected IN,OUT or IN,OUT,STEP in bars, got `10`");
    assert_eq!(WalkForwardPlan::parse("10,0").unwrap_err(), "window sizes and the step must be at least one bar");
    assert_eq!(WalkForwardPlan::parse("ten,5").unwrap_err(), "`ten` is not a number of bars");
}

#[test]
fn each_window_runs_its_in_sample_winner_out_of_sample_and_sharded_windows_add_up() {
    let series = common::reference_bars();
    let grid = ParamGrid::parse("fast=5..15:5,slow=20..40:10").unwrap();
    let plan = WalkForwardPlan::parse("20000,10000").unwrap();
    let outcome = run_walk_forward(&spec(), &grid, &series, plan, (0, 1), 2, &|_| {}).unwrap();
    assert_eq!((outcome.total_windows, outcome.windows.len()), (8, 8));
    for window in &outcome.windows {
        let start = window.index * 10_000;
        // The winner is the in-sample sweep's best...
        let sweep = run_sweep(&spec(), &grid, &part(&series, start..start + 20_000), 0, 1, 1, &|_| {}).unwrap();
        assert_eq!(sweep.ranked[0].params, window.winner.params, "window {}", window.index);
        // ...and the out-of-sample figures are its run over the next 10,000 bars alone.
        let alone = BacktestSpec { params: window.winner.params.clone(), ..spec() };
        let oos = run_backtest(&alone, &part(&series, start + 20_000..start + 30_000), &mut |_| {}).unwrap();
        assert_eq!(
            (window.result.round_trips, window.result.realized_pnl),
            (oos.metrics.round_trips, oos.metrics.realized_pnl)
        );
        assert_eq!(window.out_of_sample.0, series.bars[start + 20_000].ts);
    }
    let shards: Vec<_> =
        (0..3).map(|shard| run_walk_forward(&spec(), &grid, &series, plan, (shard, 3), 1, &|_| {}).unwrap()).collect();
    let mut indexes: Vec<usize> = shards.iter().flat_map(|s| s.windows.iter().map(|w| w.index)).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..8).collect::<Vec<_>>(), "every window in exactly one shard");
    let pnl = shards.iter().fold(Money::ZERO, |sum, s| sum.checked_add(s.out_of_sample_pnl()).unwrap());
    assert_eq!(pnl, outcome.out_of_sample_pnl());
}

#[test]
fn the_command_writes_one_row_per_window_and_refuses_a_plan_without_a_grid_or_a_window() {
    let out = common::scratch_dir("walk-forward");
    let mut args = common::reference_args(common::fixture("bars_100k.csv.gz"));
    args.params = "fast=5..10:5,slow=20..30:10".into();
    args.walk_forward = Some("50000,25000".into());
    args.out = Some(out.clone());
    run(args.clone()).unwrap();
    let rows = common::csv_rows(&out.join("walk_forward.csv"));
    assert_eq!(rows.len(), 2, "windows at 0 and 25,000: {rows:?}");
    assert!(rows[0][5].starts_with("fast="), "{:?}", rows[0]);
    let no_grid = backtest::cli::BacktestArgs { params: "fast=10,slow=30".into(), ..args.clone() };
    assert!(run(no_grid).unwrap_err().to_string().contains("needs a parameter grid"));
    let too_long = backtest::cli::BacktestArgs { walk_forward: Some("90000,20000".into()), ..args };
    let error = run(too_long).unwrap_err().to_string();
    assert!(error.contains("no complete in-sample plus out-of-sample window"), "{error}");
}
