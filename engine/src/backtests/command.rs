//! `engine backtest`: the backtester's command line plus the engine's own history as a data
//! source and the object store as a destination.
//!
//! ```text
//! engine backtest --data bars.csv --strategy sma_cross --params fast=10,slow=30 --quantity 100
//! engine backtest --source postgres --symbol BTCUSD --interval 5m --from 2026-11-01 --to 2026-11-20 ...
//! engine backtest --source archive --symbol BTCUSD ... --params fast=5..20:5,slow=20..60:10 \
//!     --shard-index 1 --shard-count 4 --store-prefix backtest-results/2026/11/24/sweep-42/
//! ```
//!
//! The last form is what each ECS task of a distributed sweep runs: every shard writes its
//! ranked table under the run's prefix in the store (S3 with `ARCHIVE_BUCKET`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use backtest::cli::{BacktestArgs, LoadedSeries};
use chrono::{DateTime, NaiveDate, Utc};
use platform::store::{ObjectStore, StoreTarget};

use super::replay;
use super::source::{self, BarSource, HistoryRequest};

/// Arguments of `engine backtest`.
#[derive(Debug, Clone, clap::Args)]
pub struct BacktestCommand {
    /// The backtester's own arguments.
    #[command(flatten)]
    pub args: BacktestArgs,
    /// Read bars from the platform instead of `--data`: `postgres` (the data-service's bars,
    /// via DATABASE_URL or DATABASE_SECRET_ID) or `archive` (ARCHIVE_BUCKET or ARCHIVE_DIR).
    #[arg(long, value_enum)]
    pub source: Option<BarSource>,
    /// Symbol, with `--source`.
    #[arg(long)]
    pub symbol: Option<String>,
    /// Bar interval with `--source`: 1m, 5m, 15m, 1h or 1d.
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// Range start with `--source` (YYYY-MM-DD, or RFC 3339), inclusive.
    #[arg(long)]
    pub from: Option<String>,
    /// Range end with `--source` (YYYY-MM-DD, or RFC 3339), exclusive.
    #[arg(long)]
    pub to: Option<String>,
    /// Also copy the output files under this key prefix of the object store.
    #[arg(long)]
    pub store_prefix: Option<String>,
    /// Replay the symbol's trades one by one as live trading runs them (`on_tick`, a timer every
    /// second, bars of `--bar-seconds`, fills at the next trade as on paper) instead of running
    /// bars; needs `--source` (the ticks in Postgres or the archive's `ticks.parquet`).
    #[arg(long)]
    pub replay: bool,
    /// With `--replay`: also replay the TradingView signals the strategy of this name received
    /// for the symbol in the range (read from Postgres: DATABASE_URL or DATABASE_SECRET_ID).
    #[arg(long, value_name = "STRATEGY")]
    pub signals_of: Option<String>,
    /// With `--replay`: the period of the bars given to `on_bar`, in seconds (a strategy's
    /// `bar_seconds`).
    #[arg(long, default_value_t = 60)]
    pub bar_seconds: u32,
}

fn parse_time(flag: &str, value: Option<&str>) -> anyhow::Result<DateTime<Utc>> {
    let Some(value) = value else { bail!("{flag} is required with --source") };
    if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| format!("{flag} {value:?} is neither YYYY-MM-DD nor an RFC 3339 time"))
}

fn history_request(command: &BacktestCommand) -> anyhow::Result<HistoryRequest> {
    let Some(symbol) = command.symbol.clone() else { bail!("--symbol is required with --source") };
    let interval = command.interval.parse().map_err(|e: String| anyhow::anyhow!("--interval: {e}"))?;
    let from = parse_time("--from", command.from.as_deref())?;
    let to = parse_time("--to", command.to.as_deref())?;
    if to <= from {
        bail!("--to must be after --from");
    }
    Ok(HistoryRequest { symbol, interval, from, to })
}

async fn open_store() -> std::sync::Arc<dyn ObjectStore> {
    StoreTarget::from_env().open(&platform::aws::AwsSettings::default()).await
}

async fn load(source: BarSource, history: &HistoryRequest) -> anyhow::Result<LoadedSeries> {
    let started = std::time::Instant::now();
    let series = match source {
        BarSource::Postgres => {
            let pool = platform::db::pool_from_env().await?;
            source::load_postgres(&pool, history).await?
        }
        BarSource::Archive => source::load_archive(&*open_store().await, history).await?,
    };
    Ok(LoadedSeries { series, label: history.label(source), load_time: started.elapsed() })
}

/// Runs the command. Arguments are checked before any data is read; nothing is written or
/// copied when the run fails.
///
/// # Errors
/// Bad arguments, invalid data, an unreachable database or store, outputs that cannot be
/// written.
pub async fn run(command: BacktestCommand) -> anyhow::Result<()> {
    let mut args = command.args.clone();
    let scratch = match (&args.out, &command.store_prefix) {
        (None, Some(_)) => {
            let dir = std::env::temp_dir().join(format!("halyard-backtest-{}", uuid::Uuid::new_v4().simple()));
            args.out = Some(dir.clone());
            Some(dir)
        }
        _ => None,
    };
    let out = args.out.clone();
    let ran = match (command.replay, command.source) {
        (true, None) => bail!("--replay needs --source postgres or --source archive (the trades to replay)"),
        (true, Some(source)) => {
            let history = history_request(&command)?;
            let runtime = tokio::runtime::Handle::current();
            let (bar_seconds, signals_of) = (command.bar_seconds, command.signals_of.clone());
            tokio::task::spawn_blocking(move || {
                backtest::cli::run_replay_with(&args, bar_seconds, || {
                    runtime.block_on(load_replay(source, &history, signals_of.as_deref()))
                })
            })
            .await?
        }
        (false, source) => run_bars(args, source, &command).await,
    };
    let copied = match (ran, &command.store_prefix, &out) {
        (Ok(()), Some(prefix), Some(dir)) => copy_to_store(dir, prefix).await,
        (ran, ..) => ran,
    };
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    copied
}

/// Trades (and signals) for a replay.
async fn load_replay(
    source: BarSource,
    history: &HistoryRequest,
    signals_of: Option<&str>,
) -> anyhow::Result<backtest::cli::LoadedTicks> {
    let started = std::time::Instant::now();
    let pool = match (source, signals_of) {
        (BarSource::Postgres, _) | (_, Some(_)) => Some(platform::db::pool_from_env().await?),
        _ => None,
    };
    let trades = match (source, &pool) {
        (BarSource::Postgres, Some(pool)) => replay::load_ticks_postgres(pool, history).await?,
        _ => replay::load_ticks_archive(&*open_store().await, history).await?,
    };
    let signals = match (signals_of, &pool) {
        (Some(strategy), Some(pool)) => replay::load_signals(pool, strategy, history).await?,
        _ => Vec::new(),
    };
    Ok(backtest::cli::LoadedTicks {
        ticks: trades.ticks,
        signals,
        price_decimals: trades.price_decimals,
        label: history.label(source).replacen(&format!(" {}", history.interval), " ticks", 1),
        load_time: started.elapsed(),
    })
}

/// A bar backtest (or sweep, or walk-forward) over `--data` or `--source`.
async fn run_bars(args: BacktestArgs, source: Option<BarSource>, command: &BacktestCommand) -> anyhow::Result<()> {
    match source {
        None => tokio::task::spawn_blocking(move || backtest::cli::run(args)).await?,
        Some(source) => {
            if args.data.is_some() {
                bail!("--data and --source are exclusive: give one");
            }
            let history = history_request(command)?;
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                backtest::cli::run_with(&args, || runtime.block_on(load(source, &history)))
            })
            .await?
        }
    }
}

/// Copies every finished file of `dir` (not the hidden partial ones) under `prefix`.
async fn copy_to_store(dir: &Path, prefix: &str) -> anyhow::Result<()> {
    let store = open_store().await;
    let prefix = prefix.trim_matches('/');
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    for path in &files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let body = tokio::fs::read(path).await.with_context(|| format!("cannot read {}", path.display()))?;
        store.put(&format!("{prefix}/{name}"), body.into()).await?;
    }
    println!("copied {} file(s) to {}/{prefix}/", files.len(), store.describe());
    Ok(())
}
