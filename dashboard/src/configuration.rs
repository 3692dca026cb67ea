//! The dashboard's settings, from environment variables.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LISTEN_ADDR` | `0.0.0.0:3000` | HTTP address |
//! | `DATABASE_URL` / `DATABASE_SECRET_ID` | — (one required) | see [`platform::config::DatabaseSettings`] |
//! | `DATABASE_MAX_CONNECTIONS` | `10` | pool size |
//! | `MIGRATE_ON_START` | `true` | apply pending migrations at start-up |
//! | `ENGINE_URL` | `http://localhost:8080` | engine API base URL |
//! | `ENGINE_API_TOKEN` | — (required) | engine API token the dashboard acts with (`engine token create`) |
//! | `DATA_SERVICE_URL` | `http://localhost:8081` | data-service base URL (quotes, live stream) |
//! | `SESSION_TTL_HOURS` | `12` | a session ends this long after sign-in |
//! | `COOKIE_SECURE` | `true` | mark cookies `Secure` (browsers accept them on `http://localhost` too) |
//! | `LOGIN_MAX_FAILURES` | `5` | failed sign-ins per username within the window before sign-in is refused |
//! | `LOGIN_MAX_FAILURES_PER_CLIENT` | `20` | failed sign-ins per client address within the window |
//! | `LOGIN_WINDOW_SECS` | `900` | the rate-limit window |
//! | `DASHBOARD_PKG_DIR` | `dashboard/pkg` of the source tree | the wasm client built by `scripts/build-wasm.sh`, served at `/pkg/` |

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use platform::config::{self, ConfigError, DatabaseSettings};

/// Everything the dashboard needs to serve.
#[derive(Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen_addr: SocketAddr,
    /// Database connection.
    pub database: DatabaseSettings,
    /// Apply migrations at start-up.
    pub migrate_on_start: bool,
    /// Engine API base URL, without a trailing slash.
    pub engine_url: String,
    /// Engine API bearer token.
    pub engine_token: String,
    /// Data-service base URL, without a trailing slash.
    pub data_service_url: String,
    /// Session lifetime.
    pub session_ttl: Duration,
    /// Whether cookies carry the `Secure` attribute.
    pub cookie_secure: bool,
    /// Sign-in rate limits.
    pub login_limits: LoginLimits,
    /// The wasm client's files (`dashboard.js`, `dashboard_bg.wasm`), served at `/pkg/`.
    pub pkg_dir: PathBuf,
}

/// Where `scripts/build-wasm.sh` writes the wasm client: `dashboard/pkg` in the source tree.
pub const DEFAULT_PKG_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pkg");

impl std::fmt::Debug for Settings {
    // The engine token is a credential: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen_addr", &self.listen_addr)
            .field("engine_url", &self.engine_url)
            .field("data_service_url", &self.data_service_url)
            .field("session_ttl", &self.session_ttl)
            .field("cookie_secure", &self.cookie_secure)
            .field("login_limits", &self.login_limits)
            .field("pkg_dir", &self.pkg_dir)
            .finish_non_exhaustive()
    }
}

/// How many failed sign-ins are tolerated.
#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    /// Failures per username within `window`.
    pub per_user: i64,
    /// Failures per client address within `window`.
    pub per_client: i64,
    /// The window.
    pub window: Duration,
}

fn base_url(var: &str, default: &str) -> Result<String, ConfigError> {
    let url = config::optional(var).unwrap_or_else(|| default.to_owned());
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::new(var, "must start with http:// or https://"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl Settings {
    /// Reads and validates the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let engine_token = config::optional("ENGINE_API_TOKEN").ok_or_else(|| {
            ConfigError::new(
                "ENGINE_API_TOKEN",
                "required: an engine API token (`engine token create --name dashboard`)",
            )
        })?;
        let positive = |var: &str, default: i64| -> Result<i64, ConfigError> {
            let v = config::parsed_or(var, default)?;
            if v < 1 {
                return Err(ConfigError::new(var, "must be at least 1"));
            }
            Ok(v)
        };
        Ok(Self {
            listen_addr: config::parsed_or("LISTEN_ADDR", SocketAddr::from(([0, 0, 0, 0], 3000)))?,
            database: DatabaseSettings::from_env()?,
            migrate_on_start: config::parsed_or("MIGRATE_ON_START", true)?,
            engine_url: base_url("ENGINE_URL", "http://localhost:8080")?,
            engine_token: engine_token.trim().to_owned(),
            data_service_url: base_url("DATA_SERVICE_URL", "http://localhost:8081")?,
            session_ttl: Duration::from_secs(positive("SESSION_TTL_HOURS", 12)?.unsigned_abs() * 3600),
            cookie_secure: config::parsed_or("COOKIE_SECURE", true)?,
            login_limits: LoginLimits {
                per_user: positive("LOGIN_MAX_FAILURES", 5)?,
                per_client: positive("LOGIN_MAX_FAILURES_PER_CLIENT", 20)?,
                window: Duration::from_secs(positive("LOGIN_WINDOW_SECS", 900)?.unsigned_abs()),
            },
            pkg_dir: config::optional("DASHBOARD_PKG_DIR")
                .map_or_else(|| PathBuf::from(DEFAULT_PKG_DIR), PathBuf::from),
        })
    }
}
