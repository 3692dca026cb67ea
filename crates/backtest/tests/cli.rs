//! The `backtest` command end to end: flags, printed summary, output files, bad input, sweeps.

mod common;

use backtest::cli::{run, BacktestArgs};
use clap::Parser;

#[derive(Parser)]
struct TestCli {
    #[command(flatten)]
    args: BacktestArgs,
}

#[test]
fn flags_parse_exactly_as_documented() {
    let cli = TestCli::try_parse_from([
        "backtest",
        "--data",
        "FILE.csv",
        "--strategy",
        "sma_cross",
        "--params",
        "fast=10,slow=30",
        "--quantity",
        "100",
        "--fill",
        "close",
        "--out",
        "DIR",
        "--fee-bps",
        "2.5",
        "--fee-per-order",
        "1",
        "--slippage-bps",
        "1",
        "--shard-index",
        "1",
        "--shard-count",
        "3",
    ])
    .unwrap();
    assert_eq!(cli.args.fill, backtest::cli::FillArg::Close);
    assert_eq!(cli.args.fee_bps, "2.5".parse().unwrap());
    assert_eq!(cli.args.shard_count, 3);
    let defaulted =
        TestCli::try_parse_from(["backtest", "--data", "f.csv", "--strategy", "sma_cross", "--quantity", "1"]).unwrap();
    assert_eq!(defaulted.args.fill, backtest::cli::FillArg::NextOpen);
    assert!(TestCli::try_parse_from([
        "backtest",
        "--data",
        "f",
        "--strategy",
        "s",
        "--quantity",
        "1",
        "--fill",
        "open"
    ])
    .is_err());
}

#[test]
fn reference_run_writes_summary_trades_equity_and_report() {
    let out = common::scratch_dir("outputs");
    let mut args = common::reference_args(common::fixture("bars_100k.csv.gz"));
    args.out = Some(out.clone());
    run(args).expect("reference run");

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["bars"], 100_000);
    assert_eq!(summary["round_trips"], 1_922);
    assert_eq!(summary["realized_pnl"].to_string(), "-521.31");
    assert_eq!(summary["open_position"], 0);
    assert!(summary["elapsed_ms"].as_f64().unwrap() > 0.0);
    for metric in [
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "max_drawdown",
        "max_drawdown_duration_bars",
        "win_rate",
        "profit_factor",
        "average_trade",
        "exposure",
    ] {
        assert!(!summary[metric].is_null(), "summary.json lacks {metric}");
    }

    // trades.csv: the reference trades with the data's 4 decimals, then qty and pnl.
    let trades = common::csv_rows(&out.join("trades.csv"));
    let reference = common::csv_rows(&common::fixture("sma_10_30_100k_trades.csv"));
    assert_eq!(trades.len(), reference.len());
    for (ours, theirs) in trades.iter().zip(&reference) {
        assert_eq!(&ours[..4], &theirs[..4]);
        assert_eq!(ours[4], "100");
    }
    let header = std::fs::read_to_string(out.join("trades.csv")).unwrap();
    assert!(header.starts_with("entry_ts,entry_px,exit_ts,exit_px,qty,pnl\n"));

    let equity = common::csv_rows(&out.join("equity.csv"));
    assert_eq!(equity.len(), 100_000);
    assert_eq!(equity[0][0], "1577836800000");
    let final_equity: domain::Money = equity[99_999][1].parse().unwrap();
    assert_eq!(final_equity, "99478.69".parse().unwrap(), "100,000 capital + -521.31, flat at the end");

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("</svg>") && html.contains("polyline"),
        "report embeds the SVG chart"
    );
    assert!(html.contains("Drawdown"));
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty());
}

fn assert_fails_without_outputs(args: BacktestArgs, expected_in_message: &[&str]) {
    let out = args.out.clone().expect("test sets --out");
    let error = run(args).expect_err("bad input must fail");
    let message = format!("{error:#}");
    for expected in expected_in_message {
        assert!(message.contains(expected), "`{message}` should mention `{expected}`");
    }
    let written: Vec<_> = std::fs::read_dir(&out).map(|dir| dir.filter_map(Result::ok).collect()).unwrap_or_default();
    assert!(written.is_empty(), "nothing may be written on failure: {written:?}");
}

const HEADER: &str = "timestamp,open,high,low,close,volume\n";

#[test]
fn malformed_line_fails_naming_line_and_field() {
    let data = common::data_file("malformed", &format!("{HEADER}0,1,1,1,1,5\n60000,1,1,1,1.0.1,5\n"));
    let mut args = common::reference_args(data);
    args.out = Some(common::scratch_dir("malformed-out").join("out"));
    assert_fails_without_outputs(args, &["line 3", "field `close`", "1.0.1"]);
}

#[test]
fn unsorted_data_fails_naming_the_line() {
    let data = common::data_file("unsorted", &format!("{HEADER}0,1,1,1,1,5\n120000,1,1,1,1,5\n60000,1,1,1,1,5\n"));
    let mut args = common::reference_args(data);
    args.out = Some(common::scratch_dir("unsorted-out").join("out"));
    assert_fails_without_outputs(args, &["line 4", "not sorted"]);
}

#[test]
fn gapped_data_fails_unless_gaps_are_allowed() {
    let data = common::data_file("gapped", &format!("{HEADER}0,1,1,1,1,5\n60000,1,1,1,1,5\n240000,1,1,1,1,5\n"));
    let mut args = common::reference_args(data.clone());
    args.out = Some(common::scratch_dir("gapped-out").join("out"));
    assert_fails_without_outputs(args, &["line 4", "gap"]);
    let mut allowed = common::reference_args(data);
    allowed.allow_gaps = true;
    run(allowed).expect("gaps allowed");
}

#[test]
fn empty_data_fails() {
    let data = common::data_file("empty", HEADER);
    let mut args = common::reference_args(data);
    args.out = Some(common::scratch_dir("empty-out").join("out"));
    assert_fails_without_outputs(args, &["empty"]);
}

#[test]
fn missing_file_fails_naming_it() {
    let mut args = common::reference_args(common::scratch_dir("missing").join("nope.csv"));
    args.out = Some(common::scratch_dir("missing-out").join("out"));
    assert_fails_without_outputs(args, &["nope.csv"]);
}

#[test]
fn unknown_strategy_fails_listing_known_ones() {
    let mut args = common::reference_args(common::fixture("bars_100k.csv.gz"));
    args.strategy = "sma_crossover".into();
    args.out = Some(common::scratch_dir("unknown-strategy").join("out"));
    assert_fails_without_outputs(args, &["unknown strategy `sma_crossover`", "sma_cross"]);
}

#[test]
fn unknown_or_invalid_parameter_fails_naming_it() {
    let mut args = common::reference_args(common::fixture("bars_100k.csv.gz"));
    args.params = "fast=10,slwo=30".into();
    args.out = Some(common::scratch_dir("unknown-param").join("out"));
    assert_fails_without_outputs(args, &["unknown parameter `slwo`"]);
    let mut args = common::reference_args(common::fixture("bars_100k.csv.gz"));
    args.params = "fast=ten".into();
    args.out = Some(common::scratch_dir("invalid-param").join("out"));
    assert_fails_without_outputs(args, &["`fast` = `ten`"]);
}

#[test]
fn sweep_runs_the_grid_and_writes_a_ranked_table() {
    let out = common::scratch_dir("sweep");
    let mut args = common::reference_args(common::fixture("bars_100k.csv.gz"));
    args.params = "fast=5..20:5,slow=20..60:10".into();
    args.out = Some(out.clone());
    run(args).expect("sweep");
    let rows = common::csv_rows(&out.join("sweep.csv"));
    // 4 × 5 = 20 combinations, minus fast=20,slow=20 (fast must be below slow).
    assert_eq!(rows.len(), 19);
    let header = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert!(header.starts_with("rank,fast,slow,round_trips,realized_pnl,final_equity,"));
    let equities: Vec<domain::Money> = rows.iter().map(|row| row[5].parse().unwrap()).collect();
    assert!(equities.windows(2).all(|pair| pair[0] >= pair[1]), "ranked best first: {equities:?}");
    let reference = rows.iter().find(|row| row[1] == "10" && row[2] == "30").expect("fast=10,slow=30 is in the grid");
    assert_eq!((reference[3].as_str(), reference[4].as_str()), ("1922", "-521.31"));
}

#[test]
fn sweep_with_only_invalid_combinations_fails() {
    let mut args = common::reference_args(common::fixture("bars_100k.csv.gz"));
    args.params = "fast=30..40:10,slow=10..20:10".into();
    args.out = Some(common::scratch_dir("sweep-invalid").join("out"));
    assert_fails_without_outputs(args, &["no valid parameter combination"]);
}
