//! Wiring: builds the state, the feeds and the router, and runs them until shutdown.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{extract::FromRef, Router};
use platform::db::{self, SecretSource};
use sqlx::PgPool;
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    archive::{
        store::{LocalStore, ObjectStore, S3Store},
        Archiver, RetryPolicy,
    },
    configuration::{ArchiveTarget, Settings},
    ingest::{lease, Ingest},
    symbols::Symbols,
};

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub pool: PgPool,
    /// The ingest writer.
    pub ingest: Ingest,
    /// Symbol cache.
    pub symbols: Symbols,
    /// Fires at shutdown, so long-lived connections (the stream) close cleanly.
    pub shutdown: CancellationToken,
    /// The archive's object store: ticks of pruned days are read back from it.
    pub archive: Arc<dyn ObjectStore>,
}

impl FromRef<AppState> for PgPool {
    fn from_ref(s: &AppState) -> Self {
        s.pool.clone()
    }
}

/// Every route of the service, with the standard layers.
pub fn router(state: AppState) -> Router {
    let routes = Router::new().merge(platform::http::health::router()).merge(crate::api::router()).with_state(state);
    platform::http::with_standard_layers(platform::metrics::http_layer(routes, platform::metrics::global()))
}

/// A built service, listening, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    writer: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    /// Tasks that only end when aborted (the credential refresh).
    background: Vec<JoinHandle<()>>,
    /// Flushes metrics; ends after a last flush at shutdown.
    metrics_flusher: JoinHandle<()>,
    archiver: Archiver,
}

impl Application {
    /// Connects (lazily), starts migrations, the ingest writer and the configured feeds, and
    /// binds the listener (port 0 picks a free port; see [`Application::port`]).
    ///
    /// With `DATABASE_SECRET_ID`, a background task keeps the pool's credentials current
    /// ([`db::spawn_credential_refresh`]). The archive runs on its schedule when configured, and
    /// metrics are flushed to CloudWatch or the logs ([`platform::metrics`]).
    pub async fn build(settings: Settings, secrets: Arc<dyn SecretSource>) -> anyhow::Result<Self> {
        let options = db::connect_options(&settings.database, &*secrets).await?;
        let pool = db::lazy_pool(options, settings.database.max_connections);
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();
        let mut background = Vec::new();
        background.extend(db::spawn_credential_refresh(
            pool.clone(),
            settings.database.clone(),
            secrets,
            settings.secrets_refresh,
            Duration::from_secs(5),
        ));
        let needs_aws = settings.metrics.cloudwatch || matches!(settings.archive.target, ArchiveTarget::S3 { .. });
        let sdk = if needs_aws { Some(settings.aws.load().await) } else { None };
        let metrics = platform::metrics::Metrics::new("data-service", &settings.metrics.environment).install_global();
        let sink = match &sdk {
            Some(sdk) if settings.metrics.cloudwatch => platform::metrics::Sink::CloudWatch {
                client: platform::aws::cloudwatch_client(sdk),
                namespace: settings.metrics.namespace.clone(),
            },
            _ => platform::metrics::Sink::Log,
        };
        let metrics_flusher = metrics.spawn_flusher(sink, settings.metrics.flush_interval, shutdown.clone());
        let store: Arc<dyn ObjectStore> = match (&settings.archive.target, &sdk) {
            (ArchiveTarget::S3 { bucket }, Some(sdk)) => Arc::new(S3Store::new(platform::aws::s3_client(sdk), bucket)),
            (ArchiveTarget::Local(dir), _) => Arc::new(LocalStore::new(dir)),
            (ArchiveTarget::S3 { .. }, None) => unreachable!("the SDK is loaded whenever the archive is in S3"),
        };
        let archiver =
            Archiver::new(pool.clone(), store.clone(), RetryPolicy::default(), settings.archive.retention_days);
        if let Some(interval) = settings.archive.interval {
            tasks.push(tokio::spawn(archiver.clone().run_scheduled(
                interval,
                settings.archive.lookback_days,
                shutdown.clone(),
            )));
        }
        if settings.migrate_on_start {
            tasks.push(tokio::spawn(migrate_until_done(pool.clone(), shutdown.clone())));
        }
        let symbols = Symbols::default();
        let (ingest, writer) = Ingest::start(pool.clone(), symbols.clone(), shutdown.clone());
        // Each feed runs on the one task of the deployment holding its lease.
        let holder = lease::holder_id();
        if let Some(s) = settings.synthetic {
            tasks.push(tokio::spawn(lease::run_leased(
                pool.clone(),
                ingest.clone(),
                "synthetic",
                holder.clone(),
                settings.feed_lease,
                shutdown.clone(),
                move |ingest, stop| crate::ingest::synthetic::run(ingest, s.symbols.clone(), s.ticks_per_second, stop),
            )));
        }
        if let Some(b) = settings.binance {
            tasks.push(tokio::spawn(lease::run_leased(
                pool.clone(),
                ingest.clone(),
                "binance",
                holder.clone(),
                settings.feed_lease,
                shutdown.clone(),
                move |ingest, stop| crate::ingest::binance::run(ingest, b.url.clone(), b.symbols.clone(), stop),
            )));
        }
        let listener = TcpListener::bind(settings.listen_addr).await?;
        Ok(Self {
            listener,
            state: AppState { pool, ingest, symbols, shutdown, archive: store },
            writer,
            tasks,
            background,
            metrics_flusher,
            archiver,
        })
    }

    /// The archiver this service runs (for tools and tests).
    pub fn archiver(&self) -> Archiver {
        self.archiver.clone()
    }

    /// The service's pool.
    pub fn pool(&self) -> PgPool {
        self.state.pool.clone()
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// Serves until `signal` completes, then shuts down in order: stop accepting and let
    /// in-flight requests finish, stop the feeds and streams, flush the ingest queue.
    /// Bounded to fit ECS's 30 s stop timeout.
    pub async fn run_until_stopped(self, signal: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state, writer, tasks, background, metrics_flusher, archiver: _ } = self;
        let stop = state.shutdown.clone();
        tracing::info!(addr = %listener.local_addr()?, "data-service listening");
        let app = router(state);
        let stop_for_server = stop.clone();
        let server = platform::http::serve(listener, app, async move {
            signal.await;
            stop_for_server.cancel();
        });
        server.await?;
        stop.cancel();
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        // Every Ingest handle is gone with the router and the feeds: the writer drains and ends.
        if tokio::time::timeout(Duration::from_secs(20), writer).await.is_err() {
            tracing::error!("ingest writer did not finish within 20 s");
        }
        for t in background {
            t.abort();
        }
        let _ = tokio::time::timeout(Duration::from_secs(3), metrics_flusher).await;
        tracing::info!("data-service stopped");
        Ok(())
    }
}

async fn migrate_until_done(pool: PgPool, stop: CancellationToken) {
    let mut attempt = 0;
    loop {
        match db::migrate(&pool).await {
            Ok(()) => {
                tracing::info!("database schema is current");
                return;
            }
            Err(e) => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "migrations not applied yet; retrying");
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(crate::ingest::backoff(attempt)) => {}
        }
    }
}
