//! The data-service's settings, from environment variables.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LISTEN_ADDR` | `0.0.0.0:8081` | HTTP address |
//! | `DATABASE_URL` / `DATABASE_SECRET_ID` | — (one required) | see [`platform::config::DatabaseSettings`] |
//! | `DATABASE_MAX_CONNECTIONS` | `10` | pool size |
//! | `MIGRATE_ON_START` | `true` | apply pending migrations at start-up |
//! | `FEEDS` | `none` | comma list of `synthetic`, `binance` |
//! | `SYNTHETIC_SYMBOLS` | `BTCUSD,ETHUSD,AAPL` | symbols of the synthetic feed |
//! | `SYNTHETIC_TICKS_PER_SECOND` | `5` | per symbol |
//! | `BINANCE_WS_URL` | `wss://stream.binance.com:9443` | Binance public-stream base URL |
//! | `BINANCE_SYMBOLS` | `BTCUSDT` | symbols to follow on Binance |

use std::net::SocketAddr;

use platform::config::{self, ConfigError, DatabaseSettings};

/// Everything the service needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen_addr: SocketAddr,
    /// Database connection.
    pub database: DatabaseSettings,
    /// Apply migrations at start-up (they also run as a one-shot task before deploys).
    pub migrate_on_start: bool,
    /// The synthetic feed, when enabled.
    pub synthetic: Option<SyntheticSettings>,
    /// The Binance feed, when enabled.
    pub binance: Option<BinanceSettings>,
}

/// Synthetic random-walk feed.
#[derive(Debug, Clone)]
pub struct SyntheticSettings {
    /// Symbols to generate.
    pub symbols: Vec<String>,
    /// Ticks per second per symbol.
    pub ticks_per_second: u32,
}

/// Binance public streams.
#[derive(Debug, Clone)]
pub struct BinanceSettings {
    /// Base URL, e.g. `wss://stream.binance.com:9443`.
    pub url: String,
    /// Symbols, e.g. `BTCUSDT`.
    pub symbols: Vec<String>,
}

impl Settings {
    /// Reads and validates the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let feeds = config::list_or("FEEDS", &["none"]);
        for feed in &feeds {
            if !matches!(feed.as_str(), "none" | "synthetic" | "binance") {
                return Err(ConfigError::new(
                    "FEEDS",
                    format!("unknown feed {feed:?}; expected synthetic, binance or none"),
                ));
            }
        }
        let symbols = |var: &str, default: &[&str]| -> Result<Vec<String>, ConfigError> {
            let list = config::list_or(var, default);
            if list.is_empty() {
                return Err(ConfigError::new(var, "needs at least one symbol"));
            }
            list.iter().map(|s| crate::market::canonical_symbol(s).map_err(|e| ConfigError::new(var, e))).collect()
        };
        let synthetic = if feeds.iter().any(|f| f == "synthetic") {
            let ticks_per_second = config::parsed_or("SYNTHETIC_TICKS_PER_SECOND", 5u32)?;
            if ticks_per_second == 0 || ticks_per_second > 1_000_000 {
                return Err(ConfigError::new("SYNTHETIC_TICKS_PER_SECOND", "must be between 1 and 1000000"));
            }
            Some(SyntheticSettings {
                symbols: symbols("SYNTHETIC_SYMBOLS", &["BTCUSD", "ETHUSD", "AAPL"])?,
                ticks_per_second,
            })
        } else {
            None
        };
        let binance = if feeds.iter().any(|f| f == "binance") {
            let url = config::optional("BINANCE_WS_URL").unwrap_or_else(|| "wss://stream.binance.com:9443".to_owned());
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                return Err(ConfigError::new("BINANCE_WS_URL", "must start with ws:// or wss://"));
            }
            Some(BinanceSettings { url, symbols: symbols("BINANCE_SYMBOLS", &["BTCUSDT"])? })
        } else {
            None
        };
        Ok(Self {
            listen_addr: config::parsed_or("LISTEN_ADDR", SocketAddr::from(([0, 0, 0, 0], 8081)))?,
            database: DatabaseSettings::from_env()?,
            migrate_on_start: config::parsed_or("MIGRATE_ON_START", true)?,
            synthetic,
            binance,
        })
    }
}
