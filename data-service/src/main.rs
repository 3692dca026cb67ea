//! The data-service binary: parses the command line and configuration, then hands over to the
//! library. `serve` is the default command.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use data_service::{
    archive::{Archiver, RetryPolicy},
    configuration::{ArchiveSettings, Settings},
    import,
    startup::Application,
    symbols::Symbols,
};
use platform::db;

#[derive(Parser)]
#[command(name = "data-service", version, about = "Halyard market data: feeds, history API, live stream")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service and the configured feeds (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Import 1-minute OHLCV bars from a CSV file (all or nothing).
    Import {
        /// Symbol the bars belong to.
        #[arg(long)]
        symbol: String,
        /// CSV file with header timestamp,open,high,low,close,volume.
        #[arg(long)]
        file: PathBuf,
    },
    /// Archive a closed UTC day of ticks and 1-minute bars to Parquet (ARCHIVE_BUCKET, else
    /// ARCHIVE_DIR), verify it, and prune per ARCHIVE_RETENTION_DAYS. Running it again changes
    /// nothing.
    Archive {
        /// The day, YYYY-MM-DD (UTC); must be before today.
        #[arg(long)]
        date: chrono::NaiveDate,
    },
    /// Exit 0 when GET /healthz on LISTEN_ADDR answers 200 (container HEALTHCHECK).
    Healthcheck,
}

#[tokio::main]
async fn main() -> ExitCode {
    platform::telemetry::init("data-service");
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let secrets = platform::aws::secret_source_from_env().await?;
            let app = Application::build(Settings::from_env()?, secrets).await?;
            app.run_until_stopped(platform::shutdown::signal()).await
        }
        Command::Migrate => {
            let pool = db::pool_from_env().await?;
            db::migrate(&pool).await?;
            println!("migrations applied; schema is current");
            Ok(())
        }
        Command::Import { symbol, file } => {
            let symbol = data_service::market::canonical_symbol(&symbol).map_err(anyhow::Error::msg)?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let bars = import::parse_bars_csv(&text).with_context(|| format!("{}", file.display()))?;
            let pool = db::pool_from_env().await?;
            db::migrate(&pool).await?;
            let progress = platform_progress(bars.len() as u64);
            let summary = import::import_bars(&pool, &Symbols::default(), &symbol, &bars, &progress).await?;
            progress.finish_and_clear();
            println!(
                "imported {} bars of {symbol} from {} ({} to {})",
                summary.bars,
                file.display(),
                summary.first.to_rfc3339(),
                summary.last.to_rfc3339()
            );
            Ok(())
        }
        Command::Archive { date } => {
            let settings = ArchiveSettings::from_env()?;
            let pool = db::pool_from_env().await?;
            db::migrate(&pool).await?;
            let store = settings.target.open(&platform::aws::AwsSettings::default()).await;
            let archiver = Archiver::new(pool, store, RetryPolicy::default(), settings.retention_days);
            let progress = indicatif::ProgressBar::new(0);
            progress.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} objects {elapsed_precise} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let report = archiver.archive_day(date, &progress).await?;
            progress.finish_and_clear();
            println!(
                "{date} archived to {}: {} objects written ({} rows), {} already verified{}",
                archiver.store_name(),
                report.written,
                report.rows,
                report.skipped,
                if report.pruned { "; tick partition dropped" } else { "" }
            );
            Ok(())
        }
        Command::Healthcheck => {
            let addr = platform::config::parsed_or("LISTEN_ADDR", std::net::SocketAddr::from(([127, 0, 0, 1], 8081)))?;
            platform::http::health::probe(addr).await
        }
    }
}

fn platform_progress(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} bars {elapsed_precise}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
