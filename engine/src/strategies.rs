//! Strategy definitions as stored: registry kind, validated parameters, account, symbols, bar
//! period, webhook passphrase (hashed), enabled flag. Parameters are checked by building the
//! strategy through the domain registry before anything is stored.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use domain::{build_strategy, Qty, Strategy, StrategyBase, StrategyParams};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::RwLock;
use utoipa::ToSchema;

use crate::market::Instruments;

/// A strategy as stored (the passphrase hash stays inside).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct StrategyRow {
    /// Id.
    pub strategy_id: i64,
    /// Unique name.
    pub name: String,
    /// Registry kind (`sma_cross`, `rsi_reversion`, `bollinger_breakout`, `signal_follower`).
    pub kind: String,
    /// Parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Account it trades for.
    pub account: String,
    /// Symbols it trades.
    pub symbols: Vec<String>,
    /// Bar period in seconds.
    pub bar_seconds: i32,
    /// Running when true.
    pub enabled: bool,
    /// Whether the webhook is enabled (a passphrase is set).
    pub webhook: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Passphrase hash.
    #[serde(skip)]
    pub passphrase_hash: Option<Vec<u8>>,
}

/// The column list of [`StrategyRow`].
pub const STRATEGY_COLUMNS: &str = "strategy_id, name, kind, params, account, symbols, bar_seconds, enabled, \
    passphrase_hash is not null as webhook, created_at, updated_at, passphrase_hash";

/// Why a definition is refused.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// The parameters are not a flat JSON object of numbers, strings and booleans.
    #[error("params must be a flat JSON object of numbers, strings or booleans: {0}")]
    ParamsShape(String),
    /// The registry refused kind or parameters.
    #[error(transparent)]
    Config(#[from] domain::strategy::StrategyConfigError),
}

/// Parses stored or submitted parameters.
pub fn parse_params(params: &serde_json::Value) -> Result<StrategyParams, DefinitionError> {
    serde_json::from_value(params.clone()).map_err(|e| DefinitionError::ParamsShape(e.to_string()))
}

/// Builds the domain strategy for one symbol (the registry validates kind and parameters).
pub fn build(
    kind: &str,
    params: &serde_json::Value,
    instruments: &Instruments,
    symbol: &str,
) -> Result<Box<dyn Strategy>, DefinitionError> {
    let params = parse_params(params)?;
    let base = StrategyBase { instrument: instruments.id(symbol), quantity: Qty::ONE };
    Ok(build_strategy(kind, &params, base)?)
}

/// Loads a strategy by name.
pub async fn by_name(pool: &PgPool, name: &str) -> Result<Option<StrategyRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {STRATEGY_COLUMNS} from strategy where name = $1"))
        .bind(name)
        .fetch_optional(pool)
        .await
}

/// Loads a strategy by id.
pub async fn by_id(pool: &PgPool, id: i64) -> Result<Option<StrategyRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {STRATEGY_COLUMNS} from strategy where strategy_id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// When the cache was loaded, and what it holds.
type CacheState = (Instant, HashMap<String, Arc<StrategyRow>>);

/// A short-lived in-memory copy of the strategies, so the webhook does not read the database
/// for every alert. Refreshed when older than [`Self::MAX_AGE`] or on a miss (at most every
/// [`Self::MIN_RELOAD`]).
#[derive(Clone)]
pub struct StrategyCache {
    pool: PgPool,
    inner: Arc<RwLock<CacheState>>,
}

impl StrategyCache {
    /// Entries older than this are reloaded.
    pub const MAX_AGE: Duration = Duration::from_secs(1);
    /// A miss reloads at most this often.
    pub const MIN_RELOAD: Duration = Duration::from_millis(100);

    /// An empty cache.
    pub fn new(pool: PgPool) -> Self {
        let stale = Instant::now().checked_sub(Duration::from_secs(3600)).unwrap_or_else(Instant::now);
        Self { pool, inner: Arc::new(RwLock::new((stale, HashMap::new()))) }
    }

    /// The strategy named `name`, if it exists.
    pub async fn get(&self, name: &str) -> Result<Option<Arc<StrategyRow>>, sqlx::Error> {
        {
            let guard = self.inner.read().await;
            let age = guard.0.elapsed();
            match guard.1.get(name) {
                Some(row) if age < Self::MAX_AGE => return Ok(Some(row.clone())),
                None if age < Self::MIN_RELOAD => return Ok(None),
                _ => {}
            }
        }
        let mut guard = self.inner.write().await;
        if guard.0.elapsed() >= Self::MIN_RELOAD {
            let rows: Vec<StrategyRow> =
                sqlx::query_as(&format!("select {STRATEGY_COLUMNS} from strategy")).fetch_all(&self.pool).await?;
            guard.1 = rows.into_iter().map(|r| (r.name.clone(), Arc::new(r))).collect();
            guard.0 = Instant::now();
        }
        Ok(guard.1.get(name).cloned())
    }

    /// Forgets everything (after a change through the API).
    pub async fn invalidate(&self) {
        let mut guard = self.inner.write().await;
        guard.0 = Instant::now().checked_sub(Duration::from_secs(3600)).unwrap_or_else(Instant::now);
    }
}
