//! The dashboard binary: parses the command line and configuration, then hands over to the
//! library. `serve` is the default command.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dashboard::{auth::Role, configuration::Settings, startup::Application};
use platform::db;

#[derive(Parser)]
#[command(name = "dashboard", version, about = "Halyard traders' dashboard")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the dashboard (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Exit 0 when GET /healthz on LISTEN_ADDR answers 200 (container HEALTHCHECK).
    Healthcheck,
    /// Manage dashboard users.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user and print its password (generated unless DASHBOARD_PASSWORD is set).
    Create {
        /// Login name: lowercase letters, digits, '_', '.', '-'.
        #[arg(long)]
        username: String,
        /// viewer, trader or admin.
        #[arg(long, default_value = "viewer")]
        role: Role,
    },
    /// Set a new password (printed; generated unless DASHBOARD_PASSWORD is set) and end the
    /// user's sessions.
    ResetPassword {
        /// Login name.
        #[arg(long)]
        username: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // `user` commands print a password for scripts to capture: they log nothing (the log goes
    // to stdout).
    if !matches!(cli.command, Some(Command::User { .. })) {
        platform::telemetry::init("dashboard");
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
            let app =
                Application::build(Settings::from_env()?, &*platform::aws::secret_source_from_env().await?).await?;
            app.run_until_stopped(platform::shutdown::signal()).await
        }
        Command::Migrate => {
            db::migrate(&db::pool_from_env().await?).await?;
            println!("migrations applied; schema is current");
            Ok(())
        }
        Command::Healthcheck => {
            let addr = platform::config::parsed_or("LISTEN_ADDR", std::net::SocketAddr::from(([127, 0, 0, 1], 3000)))?;
            platform::http::health::probe(addr).await
        }
        Command::User { action: UserAction::Create { username, role } } => {
            let password =
                platform::config::optional("DASHBOARD_PASSWORD").unwrap_or_else(dashboard::auth::random_token);
            dashboard::auth::users::create_user(&db::pool_from_env().await?, &username, &password, role).await?;
            println!("{password}");
            Ok(())
        }
        Command::User { action: UserAction::ResetPassword { username } } => {
            let password =
                platform::config::optional("DASHBOARD_PASSWORD").unwrap_or_else(dashboard::auth::random_token);
            if !dashboard::auth::users::reset_password(&db::pool_from_env().await?, &username, &password).await? {
                anyhow::bail!("no user named {username:?}");
            }
            println!("{password}");
            Ok(())
        }
    }
}
