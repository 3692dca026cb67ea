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
//! | `ARCHIVE_BUCKET` | — | S3 bucket of the Parquet archive; unset: a local folder |
//! | `ARCHIVE_DIR` | `.local/archive` | the local archive folder (relative to the working directory) |
//! | `ARCHIVE_RETENTION_DAYS` | — (keep) | drop a day's tick partition this many days after the day, once verified in the archive |
//! | `ARCHIVE_INTERVAL_SECONDS` | `3600` | period of the archive run inside `serve`; `0` disables it |
//! | `ARCHIVE_LOOKBACK_DAYS` | `7` | how far back the scheduled run looks for days with bars only |
//! | `SECRETS_REFRESH_SECONDS` | `300` | secret cache lifetime and database credential refresh period |
//! | `METRICS_NAMESPACE`, `METRICS_SINK`, `METRICS_FLUSH_SECONDS` | see [`platform::metrics`] | metrics |
//! | `AWS_REGION`, `AWS_ENDPOINT_URL`, ... | SDK default chain | AWS access (see `docs/aws.md`) |

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use platform::{
    aws::AwsSettings,
    config::{self, ConfigError, DatabaseSettings},
    metrics::MetricsSettings,
};

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
    /// The Parquet archive.
    pub archive: ArchiveSettings,
    /// AWS access (default chain unless overridden, e.g. for an emulator).
    pub aws: AwsSettings,
    /// Metrics.
    pub metrics: MetricsSettings,
    /// `SECRETS_REFRESH_SECONDS`: database credential refresh period.
    pub secrets_refresh: Duration,
    /// How the feeds' leases are held (fixed defaults; tests shorten them).
    pub feed_lease: FeedLeaseSettings,
}

/// A feed runs on the one task holding its lease ([`crate::ingest::lease`]).
#[derive(Debug, Clone, Copy)]
pub struct FeedLeaseSettings {
    /// A lease not renewed for this long may be taken over by another task.
    pub ttl: Duration,
    /// How often the holder renews it, and how often the others try to take it.
    pub renew: Duration,
}

impl Default for FeedLeaseSettings {
    fn default() -> Self {
        Self { ttl: Duration::from_secs(10), renew: Duration::from_secs(2) }
    }
}

/// Where the archive goes: `ARCHIVE_BUCKET`, else the local folder `ARCHIVE_DIR`.
pub use platform::store::StoreTarget as ArchiveTarget;

/// The Parquet archive's settings.
#[derive(Debug, Clone)]
pub struct ArchiveSettings {
    /// Where objects go.
    pub target: ArchiveTarget,
    /// `ARCHIVE_RETENTION_DAYS`; `None` keeps every partition.
    pub retention_days: Option<u32>,
    /// Period of the scheduled run; `None` disables it.
    pub interval: Option<Duration>,
    /// `ARCHIVE_LOOKBACK_DAYS`.
    pub lookback_days: u32,
}

impl ArchiveSettings {
    /// A local-folder archive at `dir` without schedule or retention (tests, tools).
    pub fn local_unscheduled(dir: impl Into<PathBuf>) -> Self {
        Self { target: ArchiveTarget::Local(dir.into()), retention_days: None, interval: None, lookback_days: 7 }
    }

    /// Reads the `ARCHIVE_*` variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        let target = ArchiveTarget::from_env();
        let retention_days = config::optional("ARCHIVE_RETENTION_DAYS")
            .map(|v| v.trim().parse::<u32>().map_err(|e| ConfigError::new("ARCHIVE_RETENTION_DAYS", e.to_string())))
            .transpose()?;
        if retention_days == Some(0) {
            return Err(ConfigError::new("ARCHIVE_RETENTION_DAYS", "must be at least 1 (a day must be closed first)"));
        }
        let interval = config::parsed_or("ARCHIVE_INTERVAL_SECONDS", 3600u64)?;
        Ok(Self {
            target,
            retention_days,
            interval: (interval > 0).then(|| Duration::from_secs(interval)),
            lookback_days: config::parsed_or("ARCHIVE_LOOKBACK_DAYS", 7u32)?,
        })
    }
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
    /// Settings without feeds, schedule or AWS: metrics to the logs, archive (on demand only)
    /// in `.local/archive`, migrations not run at start. For tests, benchmarks and tools.
    pub fn minimal(listen_addr: SocketAddr, database: DatabaseSettings) -> Self {
        Self {
            listen_addr,
            database,
            migrate_on_start: false,
            synthetic: None,
            binance: None,
            archive: ArchiveSettings::local_unscheduled(".local/archive"),
            aws: AwsSettings::default(),
            metrics: MetricsSettings {
                namespace: "Halyard".to_owned(),
                cloudwatch: false,
                flush_interval: Duration::from_secs(60),
                environment: "local".to_owned(),
            },
            secrets_refresh: Duration::from_secs(300),
            feed_lease: FeedLeaseSettings::default(),
        }
    }

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
            archive: ArchiveSettings::from_env()?,
            aws: AwsSettings::default(),
            metrics: MetricsSettings::from_env()?,
            secrets_refresh: platform::aws::secrets_refresh_from_env()?,
            feed_lease: FeedLeaseSettings::default(),
        })
    }
}
