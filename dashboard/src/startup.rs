//! Wiring: state, router, serving until shutdown.

use std::{future::Future, sync::Arc};

use axum::{
    extract::FromRef,
    http::{header, HeaderValue},
    middleware, Router,
};
use platform::db::{self, SecretSource};
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    clients::{DataServiceClient, EngineClient},
    configuration::Settings,
};

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database (users, sessions, sign-in attempts).
    pub pool: PgPool,
    /// Settings.
    pub settings: Arc<Settings>,
    /// The engine API.
    pub engine: EngineClient,
    /// The data-service API.
    pub market: DataServiceClient,
    /// Cancelled at shutdown: ends the live streams so graceful shutdown does not wait on them.
    pub stop: CancellationToken,
    /// The overview's live part, read once for every open overview.
    pub overview: crate::routes::overview::OverviewFeed,
}

impl FromRef<AppState> for PgPool {
    fn from_ref(s: &AppState) -> Self {
        s.pool.clone()
    }
}

/// Every route of the dashboard, with the standard and security layers.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .merge(platform::http::health::router())
        .merge(crate::routes::auth::router())
        .merge(crate::routes::overview::router())
        .merge(crate::routes::markets::router())
        .merge(crate::routes::orders::router())
        .merge(crate::routes::ticket::router())
        .merge(crate::routes::strategies::router())
        .merge(crate::routes::risk::router())
        .merge(crate::routes::backtests::router())
        .merge(crate::routes::emergency::router())
        .merge(crate::routes::assets::router())
        .merge(crate::openapi::router())
        .with_state(state);
    platform::http::with_standard_layers(routes).layer(middleware::map_response(security_headers))
}

/// Headers on every response: scripts and styles only from this origin (no inline script; the
/// wasm client may be compiled, `'wasm-unsafe-eval'`, which allows no JavaScript eval), no
/// framing (clickjacking the HALT button), no caching of pages that show positions.
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    let is_html = h.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_html {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A built dashboard, listening, not yet serving.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects (lazily), applies migrations when configured and binds the listener (port 0
    /// picks a free port; see [`Application::port`]).
    pub async fn build(settings: Settings, secrets: &dyn SecretSource) -> anyhow::Result<Self> {
        let options = db::connect_options(&settings.database, secrets).await?;
        let pool = db::lazy_pool(options, settings.database.max_connections);
        if settings.migrate_on_start {
            db::migrate(&pool).await?;
        }
        let listener = TcpListener::bind(settings.listen_addr).await?;
        let state = AppState {
            pool,
            engine: EngineClient::new(&settings.engine_url, &settings.engine_token),
            market: DataServiceClient::new(&settings.data_service_url),
            settings: Arc::new(settings),
            stop: CancellationToken::new(),
            overview: Default::default(),
        };
        Ok(Self { listener, state })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// Serves until `signal` completes, then ends the live streams and lets requests finish.
    pub async fn run_until_stopped(self, signal: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let Self { listener, state } = self;
        tracing::info!(addr = %listener.local_addr()?, engine = %state.settings.engine_url,
            data_service = %state.settings.data_service_url, "dashboard listening");
        let stop = state.stop.clone();
        platform::http::serve(listener, router(state), async move {
            signal.await;
            stop.cancel();
        })
        .await?;
        tracing::info!("dashboard stopped");
        Ok(())
    }
}
