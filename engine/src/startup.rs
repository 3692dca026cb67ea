//! Wiring: state, router, serving until shutdown.

use std::future::Future;

use axum::{extract::FromRef, Router};
use platform::db::{self, SecretSource};
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::configuration::Settings;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: PgPool,
}

impl FromRef<AppState> for PgPool {
    fn from_ref(s: &AppState) -> Self {
        s.pool.clone()
    }
}

/// Every route of the engine, with the standard layers.
pub fn router(state: AppState) -> Router {
    platform::http::with_standard_layers(Router::new().merge(platform::http::health::router()).with_state(state))
}

/// A built engine, listening, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects (lazily), applies migrations when configured, binds the listener.
    pub async fn build(settings: Settings, secrets: &dyn SecretSource) -> anyhow::Result<Self> {
        let options = db::connect_options(&settings.database, secrets).await?;
        let pool = db::lazy_pool(options, settings.database.max_connections);
        if settings.migrate_on_start {
            db::migrate(&pool).await?;
        }
        let listener = TcpListener::bind(settings.listen_addr).await?;
        Ok(Self { listener, state: AppState { pool } })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// Serves until `signal` completes, letting in-flight requests finish.
    pub async fn run_until_stopped(self, signal: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        tracing::info!(addr = %self.listener.local_addr()?, "engine listening");
        platform::http::serve(self.listener, router(self.state), signal).await?;
        tracing::info!("engine stopped");
        Ok(())
    }
}
