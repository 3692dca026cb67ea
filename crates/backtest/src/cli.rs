//! The `backtest` command: `engine backtest --data FILE.csv --strategy sma_cross
//! --params fast=10,slow=30 --quantity 100 --fill next-open --out DIR`.
//!
//! A `--params` value with a range (`fast=5..20:5,slow=20..60:10`) runs a parameter sweep.

use std::fs;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use domain::fill::{FeeSchedule, FillModel, FillTiming};
use domain::risk::{InstrumentRules, RiskLimits};
use domain::strategy::StrategyParams;
use domain::{Bps, InstrumentId, Money, Price, Qty};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::data::{load_bars, BarSeries, LoadOptions};
use crate::report::{write_outputs, RunDescription, RunOutputs};
use crate::sweep::{is_grid, run_sweep, write_sweep_csv, ParamGrid, SweepOutcome};
use crate::walk_forward::{run_walk_forward, write_walk_forward_csv, WalkForwardPlan};
use crate::{run_backtest, BacktestSpec};

/// Bars from which a single run shows a progress bar (below that it takes well under a second).
const PROGRESS_BAR_MIN_BARS: usize = 5_000_000;

/// When market orders fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FillArg {
    /// At the next bar's open (default).
    #[value(name = "next-open")]
    NextOpen,
    /// At the signal bar's close.
    #[value(name = "close")]
    Close,
}

impl FillArg {
    fn name(self) -> &'static str {
        match self {
            FillArg::NextOpen => "next-open",
            FillArg::Close => "close",
        }
    }
}

/// The registry name for `--strategy`: a built-in's name as given, or for a `.wasm` file the
/// `module:<sha256>` of the module, validated, compiled and registered for this process.
fn strategy_name(strategy: &str) -> anyhow::Result<String> {
    if !strategy.ends_with(".wasm") {
        return Ok(strategy.to_owned());
    }
    let bytes = std::fs::read(strategy).with_context(|| format!("reading the strategy module {strategy}"))?;
    let module = strategy_host::StrategyModule::compile(&bytes).with_context(|| format!("strategy module {strategy}"))?;
    let name = strategy_host::module_strategy_name(&module.info().digest);
    strategy_host::register(std::sync::Arc::new(module));
    Ok(name)
}

/// Arguments of the `backtest` command.
#[derive(Debug, Clone, clap::Args)]
pub struct BacktestArgs {
    /// Bar file (`timestamp,open,high,low,close,volume`; `.gz` accepted). Required unless the
    /// caller supplies the bars another way (the engine's `--source postgres|archive`).
    #[arg(long, value_name = "FILE.csv")]
    pub data: Option<PathBuf>,
    /// Strategy: a built-in's name (sma_cross, rsi_reversion, bollinger_breakout,
    /// signal_follower, level_breakout) or a strategy module's file (`FILE.wasm`, built with the
    /// strategy-sdk), run in the sandbox.
    #[arg(long)]
    pub strategy: String,
    /// Strategy parameters `name=value,…`; ranges `name=start..end[:step]` run a sweep.
    #[arg(long, default_value = "")]
    pub params: String,
    /// Units per order.
    #[arg(long)]
    pub quantity: Qty,
    /// When market orders fill.
    #[arg(long, value_enum, default_value_t = FillArg::NextOpen)]
    pub fill: FillArg,
    /// Output directory for summary.json, trades.csv, equity.csv, report.html (or sweep.csv).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Fee in basis points of the notional, per fill.
    #[arg(long, default_value = "0")]
    pub fee_bps: Bps,
    /// Fixed fee per order.
    #[arg(long, default_value = "0")]
    pub fee_per_order: Money,
    /// Slippage in basis points against the trader on market fills.
    #[arg(long, default_value = "0")]
    pub slippage_bps: Bps,
    /// Capital at the start (the base of returns).
    #[arg(long, default_value = "100000")]
    pub initial_capital: Money,
    /// Accept missing bars instead of refusing gapped data.
    #[arg(long)]
    pub allow_gaps: bool,
    /// Risk limit: largest order quantity.
    #[arg(long)]
    pub max_order_qty: Option<Qty>,
    /// Risk limit: largest order notional.
    #[arg(long)]
    pub max_order_notional: Option<Money>,
    /// Risk limit: largest absolute position.
    #[arg(long)]
    pub max_position: Option<Qty>,
    /// Sweep shard to run (combinations whose index modulo the shard count equals it).
    #[arg(long, default_value_t = 0)]
    pub shard_index: usize,
    /// Number of shards the sweep is split into.
    #[arg(long, default_value_t = 1)]
    pub shard_count: usize,
    /// Worker threads for sweeps (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The instrument's price grid: limit prices must be multiples of it, and slipped fill prices
    /// are rounded to it (default: the data's price precision).
    #[arg(long)]
    pub tick_size: Option<Price>,
    /// The instrument's lot: order quantities must be multiples of it.
    #[arg(long)]
    pub lot_size: Option<Qty>,
    /// The instrument's minimum order notional.
    #[arg(long)]
    pub min_notional: Option<Money>,
    /// Walk-forward optimisation of the `--params` grid: `IN,OUT[,STEP]` in bars. Each window
    /// sweeps IN bars and runs the winner over the next OUT; windows start STEP (default OUT)
    /// bars apart. Writes walk_forward.csv (with shards, one file per shard of windows).
    #[arg(long, value_name = "IN,OUT[,STEP]")]
    pub walk_forward: Option<String>,
}

fn spec_from(args: &BacktestArgs, params: StrategyParams) -> anyhow::Result<BacktestSpec> {
    if !args.quantity.is_positive() {
        bail!("--quantity must be positive, got {}", args.quantity);
    }
    if args.fee_bps.centi_bps() < 0 || args.slippage_bps.centi_bps() < 0 || args.fee_per_order.is_negative() {
        bail!("--fee-bps, --fee-per-order and --slippage-bps must not be negative");
    }
    if args.slippage_bps.centi_bps() >= 1_000_000 {
        bail!("--slippage-bps must be below 10000");
    }
    if !args.initial_capital.is_positive() {
        bail!("--initial-capital must be positive");
    }
    Ok(BacktestSpec {
        strategy: strategy_name(&args.strategy)?,
        params,
        quantity: args.quantity,
        fill_model: FillModel {
            timing: match args.fill {
                FillArg::NextOpen => FillTiming::NextBarOpen,
                FillArg::Close => FillTiming::SignalBarClose,
            },
            fees: FeeSchedule { per_order: args.fee_per_order, rate: args.fee_bps },
            slippage: args.slippage_bps,
            ..FillModel::default()
        },
        risk_limits: RiskLimits {
            max_order_qty: args.max_order_qty,
            max_order_notional: args.max_order_notional,
            max_position: args.max_position,
            ..RiskLimits::default()
        },
        initial_capital: args.initial_capital,
        instrument_rules: InstrumentRules {
            tick_size: args.tick_size,
            lot_size: args.lot_size,
            min_notional: args.min_notional,
        },
    })
}

fn progress_bar(total: u64, unit: &str, show: bool) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// Bars to run over, where they came from and how long loading took.
#[derive(Debug)]
pub struct LoadedSeries {
    /// The bars.
    pub series: BarSeries,
    /// Where they came from, for the summary (a file name, `postgres:BTCUSD 1m …`).
    pub label: String,
    /// Time spent loading.
    pub load_time: Duration,
}

/// Loads the `--data` CSV file.
///
/// # Errors
/// No `--data`, or a file that cannot be read or is invalid (the error names line and field).
pub fn load_csv(args: &BacktestArgs) -> anyhow::Result<LoadedSeries> {
    let Some(path) = &args.data else { bail!("--data FILE.csv is required") };
    let started = Instant::now();
    let options = LoadOptions { instrument: InstrumentId(0), allow_gaps: args.allow_gaps };
    let series = load_bars(path, &options).with_context(|| format!("invalid data in {}", path.display()))?;
    Ok(LoadedSeries { series, label: path.display().to_string(), load_time: started.elapsed() })
}

/// Runs the command on the `--data` CSV file; see [`run_with`].
///
/// # Errors
/// As [`run_with`].
pub fn run(args: BacktestArgs) -> anyhow::Result<()> {
    run_with(&args, || load_csv(&args))
}

/// Runs the command: checks the arguments, loads the bars with `load`, runs the backtest (or
/// sweep), prints a summary table and writes the output files. Bad input fails before
/// anything is written, and arguments are checked before the (possibly slow) load.
///
/// # Errors
/// Bad arguments, unknown strategy or parameter, invalid data, or an output that cannot be
/// written.
pub fn run_with(args: &BacktestArgs, load: impl FnOnce() -> anyhow::Result<LoadedSeries>) -> anyhow::Result<()> {
    if let Some(plan) = &args.walk_forward {
        return run_walk_forward_command(args, plan, load);
    }
    if is_grid(&args.params) {
        return run_grid(args, load);
    }
    let params: StrategyParams = args.params.parse()?;
    let spec = spec_from(args, params)?;
    strategy_host::build_strategy(
        &spec.strategy,
        &spec.params,
        domain::StrategyBase { instrument: InstrumentId(0), quantity: spec.quantity },
    )?;
    let LoadedSeries { series, label, load_time } = load()?;

    let bar = progress_bar(series.bars.len() as u64, "bars", series.bars.len() >= PROGRESS_BAR_MIN_BARS);
    let outcome = run_backtest(&spec, &series, &mut |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();

    let description = RunDescription {
        strategy: spec.strategy.clone(),
        params: spec.params.to_string(),
        data: label,
        fill: args.fill.name().to_owned(),
        quantity: spec.quantity,
        fee_per_order: args.fee_per_order,
        fee_bps: args.fee_bps.to_string(),
        slippage_bps: args.slippage_bps.to_string(),
        price_decimals: series.price_decimals,
        first_ts_ms: series.bars.first().map(|b| b.ts.millis()),
        last_ts_ms: series.bars.last().map(|b| b.ts.millis()),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    print_summary(&mut out, &description, &outcome, load_time)?;
    if let Some(dir) = &args.out {
        let bar_ts_ms: Vec<i64> = series.bars.iter().map(|b| b.ts.millis()).collect();
        write_outputs(
            dir,
            &RunOutputs {
                description: &description,
                result: &outcome.result,
                metrics: &outcome.metrics,
                bar_ts_ms: &bar_ts_ms,
            },
        )?;
        writeln!(out, "wrote summary.json, trades.csv, equity.csv, report.html to {}", dir.display())?;
    }
    Ok(())
}

fn ratio(value: Option<f64>, percent: bool) -> String {
    match value {
        Some(v) if v.is_finite() && percent => format!("{:.4}%", v * 100.0),
        Some(v) if v.is_finite() => format!("{v:.4}"),
        _ => "n/a".to_owned(),
    }
}

fn print_summary(
    out: &mut dyn Write,
    description: &RunDescription,
    outcome: &crate::BacktestOutcome,
    load_time: Duration,
) -> anyhow::Result<()> {
    let m = &outcome.metrics;
    let r = &outcome.result;
    let loop_seconds = r.elapsed.as_secs_f64();
    let rows: Vec<(&str, String)> = vec![
        ("strategy", format!("{} {}", description.strategy, description.params)),
        ("data", format!("{} ({} decimals)", description.data, description.price_decimals)),
        ("fill", description.fill.clone()),
        ("bars", r.bars.to_string()),
        ("round trips", m.round_trips.to_string()),
        ("realized P&L", m.realized_pnl.display_min(2).to_string()),
        ("open position", m.open_position.to_string()),
        ("unrealized P&L", m.unrealized_pnl.display_min(2).to_string()),
        ("fees", m.fees.display_min(2).to_string()),
        ("final equity", m.final_equity.display_min(2).to_string()),
        ("total return", ratio(Some(m.total_return), true)),
        ("CAGR", ratio(m.cagr, true)),
        ("Sharpe (annualized)", ratio(m.sharpe, false)),
        ("Sortino (annualized)", ratio(m.sortino, false)),
        ("max drawdown", format!("{} ({})", m.max_drawdown.display_min(2), ratio(Some(m.max_drawdown_pct), true))),
        (
            "max drawdown duration",
            format!(
                "{} bars ({:.1} days)",
                m.max_drawdown_duration_bars,
                m.max_drawdown_duration_ms as f64 / 86_400_000.0
            ),
        ),
        ("win rate", ratio(m.win_rate, true)),
        ("profit factor", ratio(m.profit_factor, false)),
        ("average trade", m.average_trade.map_or_else(|| "n/a".to_owned(), |a| a.display_with(4).to_string())),
        ("exposure", ratio(Some(m.exposure), true)),
        ("orders / fills", format!("{} / {} ({} unfilled at end)", r.orders_submitted, r.fills, r.unfilled_orders)),
        (
            "risk rejections",
            if r.risk_rejections.is_empty() {
                "0".to_owned()
            } else {
                r.risk_rejections
                    .iter()
                    .map(|(reason, n)| format!("{}={n}", reason.code()))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ),
        ("data load", format!("{:.1} ms", load_time.as_secs_f64() * 1e3)),
        (
            "backtest loop",
            format!(
                "{:.2} ms ({:.1}M bars/s)",
                loop_seconds * 1e3,
                if loop_seconds > 0.0 { r.bars as f64 / loop_seconds / 1e6 } else { 0.0 }
            ),
        ),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<24}{value}")?;
    }
    Ok(())
}

fn run_grid(args: &BacktestArgs, load: impl FnOnce() -> anyhow::Result<LoadedSeries>) -> anyhow::Result<()> {
    let grid = ParamGrid::parse(&args.params)?;
    let spec = spec_from(args, StrategyParams::new())?;
    if args.shard_count == 0 || args.shard_index >= args.shard_count {
        bail!("--shard-index {} must be below --shard-count {}", args.shard_index, args.shard_count);
    }
    let LoadedSeries { series, label, .. } = load()?;
    let threads =
        args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let total = grid.combinations().len().div_ceil(args.shard_count);
    let bar = progress_bar(total as u64, "runs", true);
    let started = Instant::now();
    let outcome = run_sweep(&spec, &grid, &series, args.shard_index, args.shard_count, threads, &|done| {
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "sweep {} {} on {} ({} bars): {} runs on {} threads in {:.1} ms, {} skipped (invalid combination){}",
        spec.strategy,
        args.params,
        label,
        series.bars.len(),
        outcome.ranked.len(),
        outcome.threads,
        elapsed.as_secs_f64() * 1e3,
        outcome.skipped.len(),
        if args.shard_count > 1 {
            format!(", shard {} of {}", args.shard_index, args.shard_count)
        } else {
            String::new()
        },
    )?;
    print_ranked(&mut out, &grid, &outcome)?;
    if let Some(dir) = &args.out {
        let name = if args.shard_count > 1 {
            format!("sweep-shard-{}-of-{}.csv", args.shard_index, args.shard_count)
        } else {
            "sweep.csv".to_owned()
        };
        let path = write_file_atomically(dir, &name, |w| Ok(write_sweep_csv(w, &grid, &outcome)?))?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(())
}

fn run_walk_forward_command(
    args: &BacktestArgs,
    plan: &str,
    load: impl FnOnce() -> anyhow::Result<LoadedSeries>,
) -> anyhow::Result<()> {
    let plan = WalkForwardPlan::parse(plan).map_err(|problem| anyhow::anyhow!("--walk-forward: {problem}"))?;
    if !is_grid(&args.params) {
        bail!("--walk-forward needs a parameter grid in --params (e.g. fast=5..20:5,slow=20..60:10)");
    }
    let grid = ParamGrid::parse(&args.params)?;
    let spec = spec_from(args, StrategyParams::new())?;
    let LoadedSeries { series, label, .. } = load()?;
    let threads =
        args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get));
    let started = Instant::now();
    let outcome =
        run_walk_forward(&spec, &grid, &series, plan, (args.shard_index, args.shard_count), threads, &|_| {})?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "walk-forward {} {} on {} ({} bars): {} of {} windows ({} in-sample, {} out-of-sample bars, step {}) in {:.1} ms",
        spec.strategy,
        args.params,
        label,
        series.bars.len(),
        outcome.windows.len(),
        outcome.total_windows,
        plan.in_sample,
        plan.out_of_sample,
        plan.step,
        started.elapsed().as_secs_f64() * 1e3,
    )?;
    writeln!(
        out,
        "{:>6}  {:<28} {:>10} {:>10} {:>8} {:>12}",
        "window", "winner", "in return", "out return", "out trips", "out P&L"
    )?;
    for w in &outcome.windows {
        writeln!(
            out,
            "{:>6}  {:<28} {:>9.4}% {:>9.4}% {:>8} {:>12}",
            w.index,
            w.winner.params.to_string(),
            w.winner.total_return * 100.0,
            w.result.total_return * 100.0,
            w.result.round_trips,
            w.result.realized_pnl.display_min(2),
        )?;
    }
    writeln!(
        out,
        "out-of-sample realized P&L {}, walk-forward efficiency {}",
        outcome.out_of_sample_pnl().display_min(2),
        ratio(outcome.efficiency(), false)
    )?;
    if let Some(dir) = &args.out {
        let name = if args.shard_count > 1 {
            format!("walk-forward-shard-{}-of-{}.csv", args.shard_index, args.shard_count)
        } else {
            "walk_forward.csv".to_owned()
        };
        let path = write_file_atomically(dir, &name, |w| Ok(write_walk_forward_csv(w, &outcome)?))?;
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(())
}

/// Rows of the ranked table printed to the terminal (all of them are in sweep.csv).
const PRINTED_ROWS: usize = 20;

fn print_ranked(out: &mut dyn Write, grid: &ParamGrid, outcome: &SweepOutcome) -> anyhow::Result<()> {
    let names: Vec<&str> = grid.names().collect();
    let mut header = format!("{:>4}", "rank");
    for name in &names {
        header.push_str(&format!(" {name:>10}"));
    }
    writeln!(
        out,
        "{header} {:>11} {:>14} {:>10} {:>8} {:>9}",
        "round_trips", "realized_pnl", "return", "sharpe", "max_dd"
    )?;
    for (rank, row) in outcome.ranked.iter().take(PRINTED_ROWS).enumerate() {
        let mut line = format!("{:>4}", rank + 1);
        for name in &names {
            line.push_str(&format!(" {:>10}", row.params.get(name).unwrap_or("")));
        }
        writeln!(
            out,
            "{line} {:>11} {:>14} {:>9.4}% {:>8} {:>8.4}%",
            row.round_trips,
            row.realized_pnl.display_min(2).to_string(),
            row.total_return * 100.0,
            row.sharpe.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.3}")),
            row.max_drawdown_pct * 100.0,
        )?;
    }
    if outcome.ranked.len() > PRINTED_ROWS {
        writeln!(out, "… {} more", outcome.ranked.len() - PRINTED_ROWS)?;
    }
    Ok(())
}

fn write_file_atomically(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<PathBuf> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let target = dir.join(name);
    let temporary = dir.join(format!(".{name}.partial"));
    let result = (|| -> anyhow::Result<()> {
        let mut writer = BufWriter::new(fs::File::create(&temporary)?);
        write(&mut writer)?;
        writer.flush()?;
        fs::rename(&temporary, &target)?;
        Ok(())
    })();
    if let Err(error) = result {
        let _ = fs::remove_file(&temporary);
        return Err(error.context(format!("cannot write {}", target.display())));
    }
    Ok(target)
}

/// Trades (and signals) to replay, where they came from and how long loading took.
#[derive(Debug)]
pub struct LoadedTicks {
    /// The trades, in time order (instrument 0).
    pub ticks: Vec<domain::Tick>,
    /// External signals for the strategy, in time order (instrument 0).
    pub signals: Vec<domain::ExternalSignal>,
    /// Largest number of decimals in a price (the grid slipped prices round to by default).
    pub price_decimals: u8,
    /// Where they came from, for the summary.
    pub label: String,
    /// Time spent loading.
    pub load_time: Duration,
}

/// Replays trades and signals through the strategy as live trading and the paper venue run it
/// (`on_tick`, `on_timer` every second of market time, bars of `bar_seconds`, `on_signal`),
/// prints a summary and, with `--out`, writes `replay_summary.json`, `replay_fills.csv` and
/// `replay_equity.csv`.
///
/// # Errors
/// Bad arguments, a strategy that cannot be built, a failed load or run, outputs that cannot be
/// written.
pub fn run_replay_with(
    args: &BacktestArgs,
    bar_seconds: u32,
    load: impl FnOnce() -> anyhow::Result<LoadedTicks>,
) -> anyhow::Result<()> {
    if is_grid(&args.params) || args.walk_forward.is_some() {
        bail!("--replay runs one parameter set: no grid or walk-forward");
    }
    let spec = spec_from(args, args.params.parse()?)?;
    let instrument = InstrumentId(0);
    let strategy = strategy_host::build_strategy(
        &spec.strategy,
        &spec.params,
        domain::StrategyBase { instrument, quantity: spec.quantity },
    )?;
    let LoadedTicks { ticks, signals, price_decimals, label, load_time } = load()?;
    if ticks.is_empty() {
        bail!("no trades to replay in {label}");
    }
    let config = crate::portfolio::PortfolioConfig {
        fill_model: FillModel {
            tick: spec
                .instrument_rules
                .tick_size
                .or_else(|| Price::tick_for_decimals(price_decimals))
                .unwrap_or(Price::from_raw(1)),
            ..spec.fill_model
        },
        risk_limits: spec.risk_limits,
        initial_capital: spec.initial_capital,
        bar_period_nanos: i64::from(bar_seconds.max(1)) * 1_000_000_000,
        liquidity: crate::portfolio::Liquidity::Unlimited,
    };
    let legs = vec![crate::portfolio::Leg { instrument, strategy }];
    let result = crate::portfolio::run_replay(legs, &ticks, &signals, &config)?;
    let final_equity = result.equity.last().map_or(spec.initial_capital, |(_, e)| *e);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let rows = [
        ("strategy", format!("{} {}", spec.strategy, spec.params)),
        ("data", label),
        ("trades replayed", ticks.len().to_string()),
        ("signals replayed", signals.len().to_string()),
        ("orders", result.orders.len().to_string()),
        ("fills", result.fills.len().to_string()),
        ("round trips", result.round_trips.len().to_string()),
        ("realized P&L", result.realized_pnl().display_min(2).to_string()),
        ("final equity", final_equity.display_min(2).to_string()),
        ("data load", format!("{:.1} ms", load_time.as_secs_f64() * 1e3)),
        ("replay loop", format!("{:.1} ms", result.elapsed.as_secs_f64() * 1e3)),
    ];
    for (name, value) in &rows {
        writeln!(out, "{name:<24}{value}")?;
    }
    if let Some(dir) = &args.out {
        write_file_atomically(dir, "replay_fills.csv", |w| {
            writeln!(w, "ts_ms,side,qty,price,fee")?;
            for fill in &result.fills {
                let side = if fill.side == domain::Side::Buy { "buy" } else { "sell" };
                writeln!(w, "{},{side},{},{},{}", fill.ts.millis(), fill.qty, fill.price, fill.fee)?;
            }
            Ok(())
        })?;
        write_file_atomically(dir, "replay_equity.csv", |w| {
            writeln!(w, "ts_ms,equity")?;
            for (ts, equity) in &result.equity {
                writeln!(w, "{},{equity}", ts.millis())?;
            }
            Ok(())
        })?;
        let summary = serde_json::json!({
            "strategy": spec.strategy, "params": spec.params.to_string(),
            "trades": ticks.len(), "signals": signals.len(), "orders": result.orders.len(),
            "fills": result.fills.len(), "round_trips": result.round_trips.len(),
            "realized_pnl": result.realized_pnl().to_string(), "final_equity": final_equity.to_string(),
            "fee_bps": args.fee_bps.to_string(), "fee_per_order": args.fee_per_order.to_string(),
            "slippage_bps": args.slippage_bps.to_string(),
        });
        write_file_atomically(dir, "replay_summary.json", |w| Ok(serde_json::to_writer_pretty(w, &summary)?))?;
        writeln!(out, "wrote replay_summary.json, replay_fills.csv, replay_equity.csv to {}", dir.display())?;
    }
    Ok(())
}
