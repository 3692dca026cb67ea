//! Wiring: state, background tasks, router, serving until shutdown.
//!
//! Background tasks of one engine process: the market-data stream, the paper venue, the venue
//! event applier, the signal writer and worker, the lease/strategy runner, the kill-switch
//! watcher, the equity sampler, the backtest worker and the daily reports. Shutdown order: stop accepting HTTP, stop the runner (which
//! releases its leases at once), stop the other tasks, drain the signal writer.

use std::{future::Future, sync::Arc, time::Duration};

use axum::{extract::FromRef, middleware, Router};
use platform::{
    db::{self, SecretSource},
    secrets::LiveSecret,
    store::ObjectStore,
};
use sqlx::PgPool;
use tokio::{net::TcpListener, sync::Notify, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    configuration::{Settings, VenueSettings},
    market::MarketData,
    oms::Oms,
    signals::SignalWriter,
    strategies::StrategyCache,
    venue::{alpaca::AlpacaVenue, binance::BinanceVenue, paper::PaperVenue, Venue},
};

/// Shared state of every handler: a cheap handle (one reference count) to [`Services`], since
/// axum clones the state for every request.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// Wraps the services.
    pub fn new(services: Services) -> Self {
        Self(Arc::new(services))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What the handlers and background tasks share.
pub struct Services {
    /// The database.
    pub pool: PgPool,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Order manager.
    pub oms: Oms,
    /// Group-commit writer of webhook signals.
    pub signal_writer: SignalWriter,
    /// Strategy lookups for the webhook.
    pub strategies: StrategyCache,
    /// The object store (backtest results).
    pub store: Arc<dyn ObjectStore>,
    /// Wakes this process's backtest worker when a job is queued.
    pub backtest_wake: Arc<Notify>,
    /// The webhook signing secret, when signatures are required.
    pub signal_hmac: Option<LiveSecret>,
}

impl FromRef<AppState> for PgPool {
    fn from_ref(s: &AppState) -> Self {
        s.pool.clone()
    }
}

/// Every route of the engine, with the standard layers.
pub fn router(state: AppState) -> Router {
    let protected =
        crate::api::protected().route_layer(middleware::from_fn_with_state(state.clone(), crate::auth::require_token));
    let routes = Router::new()
        .merge(platform::http::health::router())
        .merge(crate::api::public())
        .merge(crate::signals::webhook::router(state.settings.signals.body_limit))
        .merge(protected)
        .with_state(state);
    platform::http::with_standard_layers(platform::metrics::http_layer(routes, platform::metrics::global()))
}

/// A built engine, listening, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    stop: CancellationToken,
    runner: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    writer: JoinHandle<()>,
    /// Tasks that run until aborted (the database credential refresh).
    background: Vec<JoinHandle<()>>,
}

/// Starts one venue (its stream, its credentials' refresh) reporting on `events`.
async fn start_venue(
    venue: &VenueSettings,
    settings: &Settings,
    market: &MarketData,
    secrets: &Arc<dyn SecretSource>,
    events: &tokio::sync::mpsc::Sender<crate::venue::VenueEvent>,
    stop: &CancellationToken,
    tasks: &mut Vec<JoinHandle<()>>,
) -> anyhow::Result<Venue> {
    Ok(match venue {
        VenueSettings::Paper => {
            let (paper, task) = PaperVenue::start(
                settings.paper,
                &settings.instance_id,
                market.subscribe(),
                events.clone(),
                stop.clone(),
            );
            tasks.push(task);
            Venue::Paper(paper)
        }
        VenueSettings::Alpaca(alpaca) => {
            let credentials = alpaca
                .credentials
                .resolve(secrets.clone())
                .await
                .map_err(|e| anyhow::anyhow!("Alpaca credentials: {e}"))?;
            tasks.extend(credentials.spawn_refresh(settings.secrets_refresh, stop.clone()));
            let (alpaca, task) = AlpacaVenue::start(alpaca.clone(), credentials, events.clone(), stop.clone());
            tasks.push(task);
            Venue::Alpaca(alpaca)
        }
        VenueSettings::Binance(binance) => {
            let credentials = binance
                .credentials
                .resolve(secrets.clone())
                .await
                .map_err(|e| anyhow::anyhow!("Binance credentials: {e}"))?;
            tasks.extend(credentials.spawn_refresh(settings.secrets_refresh, stop.clone()));
            let (binance, task) = BinanceVenue::start(binance.clone(), credentials, events.clone(), stop.clone());
            tasks.push(task);
            Venue::Binance(binance)
        }
    })
}

impl Application {
    /// Connects (lazily), applies migrations when configured, starts the background tasks and
    /// binds the listener (port 0 picks a free port; see [`Application::port`]).
    pub async fn build(settings: Settings, secrets: Arc<dyn SecretSource>) -> anyhow::Result<Self> {
        let market = MarketData::new(&settings.data_service_url);
        Self::build_with_market(settings, secrets, market, true).await
    }

    /// As [`Self::build`], with a given market-data hub; `follow_stream` connects it to the
    /// data-service (tests publish ticks into the hub directly or run a stand-in server).
    pub async fn build_with_market(
        settings: Settings,
        secrets: Arc<dyn SecretSource>,
        market: MarketData,
        follow_stream: bool,
    ) -> anyhow::Result<Self> {
        let options = db::connect_options(&settings.database, &*secrets).await?;
        let pool = db::lazy_pool(options, settings.database.max_connections);
        // With DATABASE_SECRET_ID, keep the pool's credentials current across rotations.
        let background: Vec<JoinHandle<()>> = db::spawn_credential_refresh(
            pool.clone(),
            settings.database.clone(),
            secrets.clone(),
            settings.secrets_refresh,
            Duration::from_secs(5),
        )
        .into_iter()
        .collect();
        if settings.migrate_on_start {
            db::migrate(&pool).await?;
        }
        let stop = CancellationToken::new();
        let mut tasks = Vec::new();
        if follow_stream {
            tasks.push(tokio::spawn(market.clone().run(stop.clone())));
        }
        let (events_tx, events_rx) = tokio::sync::mpsc::channel(16_384);
        let default = start_venue(&settings.venue, &settings, &market, &secrets, &events_tx, &stop, &mut tasks).await?;
        let mut routed = Vec::new();
        for (account, venue) in &settings.accounts {
            let started = start_venue(venue, &settings, &market, &secrets, &events_tx, &stop, &mut tasks)
                .await
                .map_err(|e| anyhow::anyhow!("account {account}: {e}"))?;
            tracing::info!(%account, venue = started.name(), "account routed to its own broker account");
            routed.push((account.clone(), started));
        }
        drop(events_tx);
        let venues = crate::venue::Venues::new(default, routed);
        let oms = Oms::new(pool.clone(), &settings.instance_id, venues, market);
        tasks.push(tokio::spawn(oms.clone().run_events(events_rx, stop.clone())));

        let stored = Arc::new(Notify::new());
        let (signal_writer, writer) = SignalWriter::start(pool.clone(), stored.clone());
        tasks.push(tokio::spawn(crate::signals::worker::run(
            oms.clone(),
            stored,
            Duration::from_millis(500),
            stop.clone(),
        )));
        tasks.push(tokio::spawn(crate::halt::watch(oms.clone(), settings.halt_poll, stop.clone())));
        tasks.push(tokio::spawn(crate::oms::triggers::run(oms.clone(), stop.clone())));
        let runner_stop = CancellationToken::new();
        let runner = tokio::spawn(crate::runner::run(
            oms.clone(),
            settings.lease_ttl,
            settings.lease_renew,
            settings.reconcile_interval,
            runner_stop.clone(),
        ));
        let metrics = platform::metrics::Metrics::new("engine", &settings.metrics.environment).install_global();
        tasks.push(metrics.spawn_flusher(settings.metrics.sink().await, settings.metrics.flush_interval, stop.clone()));
        let signal_hmac = match &settings.signals.hmac_secret {
            Some(setting) => {
                let secret = setting
                    .resolve(secrets.clone())
                    .await
                    .map_err(|e| anyhow::anyhow!("webhook signing secret: {e}"))?;
                tasks.extend(secret.spawn_refresh(settings.secrets_refresh, stop.clone()));
                Some(secret)
            }
            None => None,
        };
        let store = settings.store.open(&platform::aws::AwsSettings::default()).await;
        tasks.push(tokio::spawn(crate::reports::run_scheduled(
            pool.clone(),
            store.clone(),
            Duration::from_secs(3600),
            stop.clone(),
        )));
        let backtest_wake = Arc::new(Notify::new());
        if settings.backtest_workers > 0 {
            let worker = crate::backtests::worker::Worker {
                pool: pool.clone(),
                store: store.clone(),
                name: settings.instance_id.clone(),
                settings: crate::backtests::worker::WorkerSettings::default(),
                wake: backtest_wake.clone(),
            };
            tasks.push(tokio::spawn(crate::backtests::worker::run(worker, stop.clone())));
        }
        let settings = Arc::new(settings);
        let state = AppState::new(Services {
            pool: pool.clone(),
            settings: settings.clone(),
            oms,
            signal_writer,
            strategies: StrategyCache::new(pool),
            store,
            backtest_wake,
            signal_hmac,
        });
        tasks.push(tokio::spawn(crate::api::portfolio::snapshot_equity(
            state.clone(),
            settings.equity_snapshot,
            stop.clone(),
        )));
        // The runner has its own token so that shutdown stops it (and releases leases) first.
        let runner_guard = stop.clone();
        tasks.push(tokio::spawn(async move {
            runner_guard.cancelled().await;
            runner_stop.cancel();
        }));
        let listener = TcpListener::bind(settings.listen_addr).await?;
        Ok(Self { listener, state, stop, runner, tasks, writer, background })
    }

    /// The engine's database pool (for tasks the binary starts beside it).
    pub fn pool(&self) -> PgPool {
        self.state.pool.clone()
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// The shared state (tests use its order manager directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `signal` completes, then shuts down in order. Bounded to fit ECS's 30 s
    /// stop timeout.
    pub async fn run_until_stopped(self, signal: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state, stop, runner, tasks, writer, background } = self;
        tracing::info!(addr = %listener.local_addr()?, instance = %state.settings.instance_id, "engine listening");
        let app = router(state);
        let stop_for_server = stop.clone();
        platform::http::serve(listener, app, async move {
            signal.await;
            stop_for_server.cancel();
        })
        .await?;
        stop.cancel();
        if tokio::time::timeout(Duration::from_secs(10), runner).await.is_err() {
            tracing::error!("strategy runner did not stop within 10 s");
        }
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        // The router and its writer handles are gone: the writer drains and ends.
        let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
        for task in background {
            task.abort();
        }
        tracing::info!("engine stopped");
        Ok(())
    }
}
