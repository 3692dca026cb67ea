//! The engine's settings, from environment variables.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LISTEN_ADDR` | `0.0.0.0:8080` | HTTP address |
//! | `DATABASE_URL` / `DATABASE_SECRET_ID` | — (one required) | see [`platform::config::DatabaseSettings`] |
//! | `DATABASE_MAX_CONNECTIONS` | `10` | pool size |
//! | `MIGRATE_ON_START` | `true` | apply pending migrations at start-up |
//! | `DATA_SERVICE_URL` | `http://localhost:8081` | data-service base URL: live ticks (WebSocket) and quotes |
//! | `VENUE` | `paper` | where orders go: `paper` (fills against live ticks), `alpaca` or `binance` (Binance Spot) |
//! | `ALPACA_BASE_URL` | `https://paper-api.alpaca.markets` | Alpaca REST base URL (`https://api.alpaca.markets` for live) |
//! | `ALPACA_STREAM_URL` | `wss://paper-api.alpaca.markets/stream` | Alpaca trade-updates stream |
//! | `ALPACA_SECRET_ID` | — | Secrets Manager secret `{"key_id": "...", "secret_key": "..."}` with the Alpaca keys; re-read every `SECRETS_REFRESH_SECONDS` and when Alpaca refuses them |
//! | `ALPACA_KEY_ID` / `ALPACA_SECRET_KEY` | — (required with `VENUE=alpaca` without `ALPACA_SECRET_ID`) | Alpaca API keys given directly |
//! | `BINANCE_BASE_URL` | `https://testnet.binance.vision` | Binance Spot REST base URL (`https://api.binance.com` for live) |
//! | `BINANCE_WS_API_URL` | `wss://ws-api.testnet.binance.vision/ws-api/v3` | Binance WebSocket API, where the user data stream is subscribed (`wss://ws-api.binance.com:443/ws-api/v3` for live) |
//! | `BINANCE_SECRET_ID` | — | Secrets Manager secret `{"api_key": "...", "secret_key": "..."}` with the Binance HMAC keys; re-read like Alpaca's |
//! | `BINANCE_API_KEY` / `BINANCE_SECRET_KEY` | — (required with `VENUE=binance` without `BINANCE_SECRET_ID`) | Binance keys given directly |
//! | `BINANCE_RECV_WINDOW_MS` | `5000` | how long a signed request stays valid at Binance (1–60000) |
//! | `PAPER_FEE_BPS` | `0` | paper venue fee, basis points of the notional (e.g. `1.5`) |
//! | `PAPER_FEE_PER_ORDER` | `0` | paper venue fixed fee per fill |
//! | `PAPER_LIQUIDITY` | `unlimited` | `trade_size`: a trade fills at most its size, so larger paper orders fill partially |
//! | `PAPER_SLIPPAGE_BPS` | `0` | paper venue slippage on market orders, basis points |
//! | `SIGNAL_MAX_AGE_SECS` | `60` | webhook alerts whose `time` is older than this are refused |
//! | `SIGNAL_HMAC_SECRET` / `SIGNAL_HMAC_SECRET_ID` | — | when set (the value, or a Secrets Manager secret id re-read every `SECRETS_REFRESH_SECONDS` and when a signature does not match), webhook requests must carry `X-Halyard-Signature: sha256=<hex hmac of the body>` |
//! | `SIGNAL_BODY_LIMIT_BYTES` | `16384` | largest webhook body |
//! | `LEASE_TTL_SECS` | `10` | strategy lease lifetime; a dead instance's strategies move within TTL + one renew interval |
//! | `LEASE_RENEW_MILLIS` | `2000` | how often leases are renewed and free strategies claimed |
//! | `HALT_POLL_MILLIS` | `250` | how often the kill switch state is re-read (LISTEN/NOTIFY wakes it sooner) |
//! | `EQUITY_SNAPSHOT_SECS` | `60` | equity history sampling interval |
//! | `ACCOUNTS` | — | accounts with their own broker account, a JSON object: `{"<account>": {"venue": "alpaca" or "binance", "secret_id": "<Secrets Manager id of its keys>", "trading": "paper"/"live" (Alpaca), "network": "testnet"/"live" (Binance)}}`; every other account trades at `VENUE` |
//! | `RECONCILE_INTERVAL_SECS` | `60` | how often open orders are reconciled with a shared venue (Alpaca), besides at start-up and after every reconnect of its stream |
//! | `INSTANCE_ID` | random | this process's name in leases and order ownership |
//! | `ARCHIVE_BUCKET` / `ARCHIVE_DIR` | `.local/archive` | object store for backtest results (`backtest-results/...`) and archived bars |
//! | `METRICS_SINK`, `METRICS_NAMESPACE`, `METRICS_FLUSH_SECONDS`, `HALYARD_ENVIRONMENT` | log / `Halyard` / `60` / `local` | custom metrics (`engine/src/metrics.rs`) |
//! | `BACKTEST_WORKERS` | `1` | backtest jobs this process runs at a time (`0`: none, e.g. on latency-critical instances) |

use std::{net::SocketAddr, time::Duration};

use domain::{fill::FeeSchedule, Bps, Money};
use platform::config::{self, ConfigError, DatabaseSettings};
use platform::metrics::MetricsSettings;
use platform::secrets::SecretSetting;
use platform::store::StoreTarget;

/// Everything the engine needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen_addr: SocketAddr,
    /// Database connection.
    pub database: DatabaseSettings,
    /// Apply migrations at start-up.
    pub migrate_on_start: bool,
    /// Base URL of the data-service.
    pub data_service_url: String,
    /// Where orders go: the default venue, for every account not in `accounts`.
    pub venue: VenueSettings,
    /// Accounts with their own broker account (`ACCOUNTS`): each account's orders go to its
    /// venue, with its own credentials.
    pub accounts: Vec<(String, VenueSettings)>,
    /// The paper venue's fees and slippage.
    pub paper: PaperSettings,
    /// Webhook settings.
    pub signals: SignalSettings,
    /// Lease lifetime.
    pub lease_ttl: Duration,
    /// Lease renewal interval.
    pub lease_renew: Duration,
    /// Kill-switch poll interval.
    pub halt_poll: Duration,
    /// Equity sampling interval.
    pub equity_snapshot: Duration,
    /// Scheduled reconciliation of open orders with a shared venue.
    pub reconcile_interval: Duration,
    /// This process's id.
    pub instance_id: String,
    /// The object store for backtest results (and archived bars): `ARCHIVE_BUCKET`, else
    /// the folder `ARCHIVE_DIR` (default `.local/archive`).
    pub store: StoreTarget,
    /// Backtest jobs this process runs at a time: 0 or 1 (`BACKTEST_WORKERS`, default 1).
    pub backtest_workers: usize,
    /// Custom metrics (`METRICS_*`, `HALYARD_ENVIRONMENT`; see [`platform::metrics`]).
    pub metrics: MetricsSettings,
    /// How often secrets from Secrets Manager are re-read (`SECRETS_REFRESH_SECONDS`, 300).
    pub secrets_refresh: Duration,
}

/// The venue orders go to.
#[derive(Debug, Clone)]
pub enum VenueSettings {
    /// The paper venue.
    Paper,
    /// Alpaca.
    Alpaca(crate::venue::alpaca::AlpacaSettings),
    /// Binance Spot.
    Binance(crate::venue::binance::BinanceSettings),
}

/// Paper venue pricing.
#[derive(Debug, Clone, Copy)]
pub struct PaperSettings {
    /// Fees per fill.
    pub fees: FeeSchedule,
    /// Slippage of market orders.
    pub slippage: Bps,
    /// How much one trade can fill.
    pub liquidity: PaperLiquidity,
}

/// How much of the working orders one trade fills on the paper venue (`PAPER_LIQUIDITY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PaperLiquidity {
    /// Every matching order fills whole (`unlimited`, the default).
    #[default]
    Unlimited,
    /// At most the trade's size, shared in arrival order; larger orders fill partially
    /// (`trade_size`).
    TradeSize,
}

/// Webhook settings.
#[derive(Debug, Clone)]
pub struct SignalSettings {
    /// Alerts older than this are refused.
    pub max_age: Duration,
    /// HMAC key; when set the signature header is required.
    pub hmac_secret: Option<SecretSetting>,
    /// Largest body.
    pub body_limit: usize,
}

impl Settings {
    /// Reads and validates the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let venue = match config::optional("VENUE").as_deref().unwrap_or("paper") {
            "paper" => VenueSettings::Paper,
            "alpaca" => {
                let required = |var: &str| {
                    config::optional(var).ok_or_else(|| ConfigError::new(var, "required when VENUE=alpaca"))
                };
                VenueSettings::Alpaca(crate::venue::alpaca::AlpacaSettings {
                    base_url: config::optional("ALPACA_BASE_URL")
                        .unwrap_or_else(|| "https://paper-api.alpaca.markets".to_owned())
                        .trim_end_matches('/')
                        .to_owned(),
                    stream_url: config::optional("ALPACA_STREAM_URL")
                        .unwrap_or_else(|| "wss://paper-api.alpaca.markets/stream".to_owned()),
                    credentials: match config::optional("ALPACA_SECRET_ID") {
                        Some(id) => SecretSetting::SecretId(id),
                        None => crate::venue::alpaca::credentials_value(
                            &required("ALPACA_KEY_ID")?,
                            &required("ALPACA_SECRET_KEY")?,
                        ),
                    },
                })
            }
            "binance" => {
                let required = |var: &str| {
                    config::optional(var).ok_or_else(|| ConfigError::new(var, "required when VENUE=binance"))
                };
                let recv_window: u64 = config::parsed_or("BINANCE_RECV_WINDOW_MS", 5000)?;
                if !(1..=60_000).contains(&recv_window) {
                    return Err(ConfigError::new("BINANCE_RECV_WINDOW_MS", "must be 1 to 60000 (Binance's maximum)"));
                }
                VenueSettings::Binance(crate::venue::binance::BinanceSettings {
                    base_url: config::optional("BINANCE_BASE_URL")
                        .unwrap_or_else(|| "https://testnet.binance.vision".to_owned())
                        .trim_end_matches('/')
                        .to_owned(),
                    ws_api_url: config::optional("BINANCE_WS_API_URL")
                        .unwrap_or_else(|| "wss://ws-api.testnet.binance.vision/ws-api/v3".to_owned()),
                    credentials: match config::optional("BINANCE_SECRET_ID") {
                        Some(id) => SecretSetting::SecretId(id),
                        None => crate::venue::binance::credentials_value(
                            &required("BINANCE_API_KEY")?,
                            &required("BINANCE_SECRET_KEY")?,
                        ),
                    },
                    recv_window: Duration::from_millis(recv_window),
                })
            }
            other => {
                return Err(ConfigError::new(
                    "VENUE",
                    format!("unknown venue {other:?}; expected paper, alpaca or binance"),
                ))
            }
        };
        let data_service_url =
            config::optional("DATA_SERVICE_URL").unwrap_or_else(|| "http://localhost:8081".to_owned());
        if !(data_service_url.starts_with("http://") || data_service_url.starts_with("https://")) {
            return Err(ConfigError::new("DATA_SERVICE_URL", "must start with http:// or https://"));
        }
        let millis = |var: &str, default: u64, min: u64| -> Result<Duration, ConfigError> {
            let value = config::parsed_or(var, default)?;
            if value < min {
                return Err(ConfigError::new(var, format!("must be at least {min}")));
            }
            Ok(Duration::from_millis(value))
        };
        Ok(Self {
            listen_addr: config::parsed_or("LISTEN_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)))?,
            database: DatabaseSettings::from_env()?,
            migrate_on_start: config::parsed_or("MIGRATE_ON_START", true)?,
            data_service_url: data_service_url.trim_end_matches('/').to_owned(),
            venue,
            accounts: accounts_from_env()?,
            paper: PaperSettings {
                fees: FeeSchedule {
                    per_order: config::parsed_or("PAPER_FEE_PER_ORDER", Money::ZERO)?,
                    rate: config::parsed_or("PAPER_FEE_BPS", Bps::ZERO)?,
                },
                slippage: config::parsed_or("PAPER_SLIPPAGE_BPS", Bps::ZERO)?,
                liquidity: match config::optional("PAPER_LIQUIDITY").as_deref() {
                    None | Some("unlimited") => PaperLiquidity::Unlimited,
                    Some("trade_size") => PaperLiquidity::TradeSize,
                    Some(other) => {
                        return Err(ConfigError::new(
                            "PAPER_LIQUIDITY",
                            format!("{other:?}: expected unlimited or trade_size"),
                        ))
                    }
                },
            },
            signals: SignalSettings {
                max_age: millis("SIGNAL_MAX_AGE_SECS", 60, 1)?.saturating_mul(1000),
                hmac_secret: SecretSetting::from_env("SIGNAL_HMAC_SECRET", "SIGNAL_HMAC_SECRET_ID"),
                body_limit: config::parsed_or("SIGNAL_BODY_LIMIT_BYTES", 16_384usize)?,
            },
            lease_ttl: millis("LEASE_TTL_SECS", 10, 1)?.saturating_mul(1000),
            lease_renew: millis("LEASE_RENEW_MILLIS", 2000, 50)?,
            halt_poll: millis("HALT_POLL_MILLIS", 250, 10)?,
            equity_snapshot: millis("EQUITY_SNAPSHOT_SECS", 60, 1)?.saturating_mul(1000),
            reconcile_interval: millis("RECONCILE_INTERVAL_SECS", 60, 1)?.saturating_mul(1000),
            instance_id: config::optional("INSTANCE_ID").unwrap_or_else(new_instance_id),
            store: StoreTarget::from_env(),
            backtest_workers: match config::parsed_or("BACKTEST_WORKERS", 1usize)? {
                n @ (0 | 1) => n,
                _ => return Err(ConfigError::new("BACKTEST_WORKERS", "must be 0 (no backtests here) or 1")),
            },
            metrics: MetricsSettings::from_env()?,
            secrets_refresh: platform::aws::secrets_refresh_from_env()?,
        })
    }
}

impl Settings {
    /// One engine on this machine, built in code rather than read from the environment: paper
    /// trading without fees, the database at `database_url` (not migrated on start), market
    /// data from `data_service_url`, results in a fresh temporary folder, metrics kept in
    /// memory, the production periods. What tests and benchmarks start from and adjust.
    pub fn local(database_url: &str, data_service_url: &str) -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: DatabaseSettings {
                source: platform::config::DatabaseSource::Url(database_url.to_owned()),
                max_connections: 10,
            },
            migrate_on_start: false,
            data_service_url: data_service_url.trim_end_matches('/').to_owned(),
            venue: VenueSettings::Paper,
            accounts: Vec::new(),
            paper: PaperSettings {
                fees: FeeSchedule::default(),
                slippage: Bps::ZERO,
                liquidity: PaperLiquidity::default(),
            },
            signals: SignalSettings { max_age: Duration::from_secs(60), hmac_secret: None, body_limit: 16_384 },
            lease_ttl: Duration::from_secs(10),
            lease_renew: Duration::from_secs(2),
            halt_poll: Duration::from_millis(250),
            equity_snapshot: Duration::from_secs(60),
            reconcile_interval: Duration::from_secs(60),
            instance_id: new_instance_id(),
            store: StoreTarget::Local(
                std::env::temp_dir().join(format!("halyard-results-{}", uuid::Uuid::new_v4().simple())),
            ),
            backtest_workers: 1,
            metrics: MetricsSettings {
                namespace: "Halyard".into(),
                cloudwatch: false,
                flush_interval: Duration::from_secs(3600),
                environment: "local".into(),
            },
            secrets_refresh: Duration::from_secs(300),
        }
    }
}

/// One entry of `ACCOUNTS`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountVenue {
    venue: String,
    /// Secrets Manager id of the account's keys.
    secret_id: String,
    /// Alpaca: `paper` (default) or `live`.
    trading: Option<String>,
    /// Binance: `testnet` (default) or `live`.
    network: Option<String>,
    /// Overrides of the endpoints the above choose (a stand-in, a proxy).
    base_url: Option<String>,
    stream_url: Option<String>,
    ws_api_url: Option<String>,
    recv_window_ms: Option<u64>,
}

/// `ACCOUNTS`: a JSON object from account name to its venue, e.g.
/// `{"us-equities": {"venue": "alpaca", "secret_id": "halyard/prod/broker/us", "trading": "live"},
///   "crypto": {"venue": "binance", "secret_id": "halyard/prod/broker/crypto", "network": "live"}}`.
fn accounts_from_env() -> Result<Vec<(String, VenueSettings)>, ConfigError> {
    let Some(text) = config::optional("ACCOUNTS") else { return Ok(Vec::new()) };
    parse_accounts(&text).map_err(|message| ConfigError::new("ACCOUNTS", message))
}

/// Parses the `ACCOUNTS` JSON (see [`accounts_from_env`]); the message says what is wrong.
pub fn parse_accounts(text: &str) -> Result<Vec<(String, VenueSettings)>, String> {
    let entries: std::collections::BTreeMap<String, AccountVenue> =
        serde_json::from_str(text).map_err(|e| format!("not a JSON object of accounts: {e}"))?;
    let mut accounts = Vec::new();
    for (account, entry) in entries {
        let name_ok = (1..=64).contains(&account.len())
            && account.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            && account != "."
            && account != "..";
        if !name_ok {
            return Err(format!("account name {account:?} must be 1 to 64 letters, digits, '_', '-' or '.'"));
        }
        let secret = SecretSetting::SecretId(entry.secret_id.clone());
        if entry.secret_id.trim().is_empty() {
            return Err(format!("{account}: secret_id is empty"));
        }
        let venue = match entry.venue.as_str() {
            "alpaca" => {
                let (base, stream) = match entry.trading.as_deref().unwrap_or("paper") {
                    "paper" => ("https://paper-api.alpaca.markets", "wss://paper-api.alpaca.markets/stream"),
                    "live" => ("https://api.alpaca.markets", "wss://api.alpaca.markets/stream"),
                    other => return Err(format!("{account}: trading {other:?}: expected paper or live")),
                };
                if entry.network.is_some() || entry.ws_api_url.is_some() || entry.recv_window_ms.is_some() {
                    return Err(format!("{account}: network, ws_api_url and recv_window_ms are Binance settings"));
                }
                VenueSettings::Alpaca(crate::venue::alpaca::AlpacaSettings {
                    base_url: entry.base_url.unwrap_or_else(|| base.to_owned()).trim_end_matches('/').to_owned(),
                    stream_url: entry.stream_url.unwrap_or_else(|| stream.to_owned()),
                    credentials: secret,
                })
            }
            "binance" => {
                let (base, ws) = match entry.network.as_deref().unwrap_or("testnet") {
                    "testnet" => ("https://testnet.binance.vision", "wss://ws-api.testnet.binance.vision/ws-api/v3"),
                    "live" => ("https://api.binance.com", "wss://ws-api.binance.com:443/ws-api/v3"),
                    other => return Err(format!("{account}: network {other:?}: expected testnet or live")),
                };
                if entry.trading.is_some() || entry.stream_url.is_some() {
                    return Err(format!("{account}: trading and stream_url are Alpaca settings"));
                }
                let recv_window = entry.recv_window_ms.unwrap_or(5000);
                if !(1..=60_000).contains(&recv_window) {
                    return Err(format!("{account}: recv_window_ms must be 1 to 60000"));
                }
                VenueSettings::Binance(crate::venue::binance::BinanceSettings {
                    base_url: entry.base_url.unwrap_or_else(|| base.to_owned()).trim_end_matches('/').to_owned(),
                    ws_api_url: entry.ws_api_url.unwrap_or_else(|| ws.to_owned()),
                    credentials: secret,
                    recv_window: Duration::from_millis(recv_window),
                })
            }
            other => {
                return Err(format!(
                    "{account}: venue {other:?}: expected alpaca or binance (every other account trades at VENUE)"
                ))
            }
        };
        accounts.push((account, venue));
    }
    Ok(accounts)
}

/// A fresh random instance id.
pub fn new_instance_id() -> String {
    format!("engine-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_name_their_venue_and_the_secret_holding_their_keys() {
        let accounts = parse_accounts(
            r#"{"us": {"venue": "alpaca", "secret_id": "halyard/dev/broker/us", "trading": "live"},
                "crypto": {"venue": "binance", "secret_id": "halyard/dev/broker/crypto"}}"#,
        )
        .unwrap();
        assert_eq!(accounts.len(), 2);
        match &accounts[0] {
            (name, VenueSettings::Binance(b)) => {
                assert_eq!(name, "crypto");
                assert_eq!(b.base_url, "https://testnet.binance.vision");
                assert!(matches!(&b.credentials, SecretSetting::SecretId(id) if id == "halyard/dev/broker/crypto"));
            }
            other => panic!("{:?}", other.0),
        }
        match &accounts[1] {
            (name, VenueSettings::Alpaca(a)) => {
                assert_eq!(name, "us");
                assert_eq!(a.base_url, "https://api.alpaca.markets");
            }
            other => panic!("{:?}", other.0),
        }
    }

    #[test]
    fn a_wrong_accounts_setting_says_what_is_wrong() {
        for (text, expected) in [
            ("[]", "not a JSON object of accounts"),
            (r#"{"x": {"venue": "paper", "secret_id": "s"}}"#, "x: venue \"paper\": expected alpaca or binance"),
            (r#"{"x": {"venue": "alpaca", "secret_id": "s", "trading": "real"}}"#, "x: trading \"real\""),
            (r#"{"x": {"venue": "binance", "secret_id": "s", "recv_window_ms": 90000}}"#, "x: recv_window_ms"),
            (r#"{"x": {"venue": "binance", "secret_id": " "}}"#, "x: secret_id is empty"),
            (r#"{"x": {"venue": "binance", "secret": "s"}}"#, "unknown field"),
            (r#"{"a b": {"venue": "binance", "secret_id": "s"}}"#, "account name \"a b\""),
        ] {
            let error = parse_accounts(text).err().unwrap_or_default();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
