//! The engine binary: parses the command line and configuration, then hands over to the library.
//! `serve` is the default command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use engine::{configuration::Settings, startup::Application};
use platform::db;

#[derive(Parser)]
#[command(name = "engine", version, about = "Halyard trading engine")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service, the strategy runner and the signal worker (the default).
    Serve,
    /// Apply pending database migrations and exit (the one-shot task before a deploy).
    Migrate,
    /// Exit 0 when GET /healthz on LISTEN_ADDR answers 200 (container HEALTHCHECK).
    Healthcheck,
    /// Backtest a strategy over historical bars (CSV, Postgres or the archive), or sweep a grid.
    Backtest(Box<engine::backtests::command::BacktestCommand>),
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Create the demo strategies and limits (if absent) and print a new API token.
    SeedDemo,
    /// Write the daily report of a UTC day to the store (reports/daily/YYYY-MM-DD.json/.html).
    Report {
        /// The day, YYYY-MM-DD.
        #[arg(long)]
        date: chrono::NaiveDate,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create a token and print it (it is shown only once; only its hash is stored).
    Create {
        /// Name of the token, recorded as the actor in the audit log.
        #[arg(long)]
        name: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands whose stdout is a token for scripts to capture log nothing (the log goes to stdout).
    if !matches!(cli.command, Some(Command::Token { .. } | Command::SeedDemo)) {
        platform::telemetry::init("engine");
    }
    match run(cli).await {
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
            let settings = Settings::from_env()?;
            let secrets = platform::aws::secret_source_from_env().await?;
            let app = Application::build(settings, secrets).await?;
            app.run_until_stopped(platform::shutdown::signal()).await
        }
        Command::Migrate => {
            db::migrate(&db::pool_from_env().await?).await?;
            println!("migrations applied; schema is current");
            Ok(())
        }
        Command::Healthcheck => {
            let addr = platform::config::parsed_or("LISTEN_ADDR", std::net::SocketAddr::from(([127, 0, 0, 1], 8080)))?;
            platform::http::health::probe(addr).await
        }
        Command::Backtest(command) => engine::backtests::command::run(*command).await,
        Command::Token { action: TokenAction::Create { name } } => {
            let token = engine::auth::create_token(&db::pool_from_env().await?, &name).await?;
            println!("{token}");
            Ok(())
        }
        Command::Report { date } => {
            let store = platform::store::StoreTarget::from_env().open(&platform::aws::AwsSettings::default()).await;
            let published = engine::reports::publish(&db::pool_from_env().await?, &*store, date).await?;
            println!(
                "daily report {date}: {} account(s), {} and {} in {}",
                published.accounts,
                published.json_key,
                published.html_key,
                store.describe()
            );
            Ok(())
        }
        Command::SeedDemo => {
            let token = engine::seed::seed_demo(&db::pool_from_env().await?).await?;
            println!("{token}");
            Ok(())
        }
    }
}
