//! Strategies: create, list, get, configure, enable, disable. Parameters are validated by the
//! domain registry for every symbol before they are stored; every change is audited.

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use platform::http::{validate, ApiError, ApiJson, ApiPath};
use serde::Deserialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::{
    auth::Caller,
    startup::AppState,
    strategies::{self, StrategyRow, STRATEGY_COLUMNS},
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/strategies", get(list).post(create))
        .route("/api/v1/strategies/{name}", get(get_one).patch(configure))
        .route("/api/v1/strategies/{name}/enable", post(enable))
        .route("/api/v1/strategies/{name}/disable", post(disable))
}

/// A new strategy.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStrategy {
    /// Unique name (`[a-z0-9_-]`, up to 64).
    #[schema(min_length = 1, max_length = 64, pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
    pub name: String,
    /// Registry kind: `sma_cross`, `rsi_reversion`, `bollinger_breakout`, `signal_follower`.
    #[schema(min_length = 1, max_length = 64)]
    pub kind: String,
    /// Parameters, e.g. `{"fast": 3, "slow": 8, "quantity": "0.5"}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Account (no control characters, up to 64).
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1f\x7f\s]([^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$")]
    pub account: String,
    /// Symbols (each without control characters, up to 32).
    #[schema(min_items = 1)]
    pub symbols: Vec<String>,
    /// Bar period in seconds (default 60).
    #[schema(minimum = 1, maximum = 86400)]
    pub bar_seconds: Option<i32>,
    /// Webhook passphrase (stored hashed); without one the webhook refuses the strategy.
    #[schema(max_length = 200)]
    pub passphrase: Option<String>,
    /// Start at once (default false).
    #[serde(default)]
    pub enabled: bool,
}

/// Changes to a strategy; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigureStrategy {
    /// New parameters.
    #[schema(value_type = Option<Object>)]
    pub params: Option<serde_json::Value>,
    /// New symbols.
    pub symbols: Option<Vec<String>>,
    /// New bar period.
    #[schema(minimum = 1, maximum = 86400)]
    pub bar_seconds: Option<i32>,
    /// New passphrase.
    #[schema(max_length = 200)]
    pub passphrase: Option<String>,
}

/// Whether `name` fits the `strategy` table's check: `[a-z0-9][a-z0-9_-]{0,63}`.
fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=crate::api::STRATEGY_NAME_MAX_CHARS).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

/// Refuses a strategy name the table cannot hold, before any query.
fn check_name(name: &str) -> Result<(), ApiError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(validate::INVALID_FIELD, "name must match [a-z0-9][a-z0-9_-]{0,63}"))
    }
}

/// The fields both creating and configuring take: symbols, parameters and passphrase.
fn check_fields(
    params: Option<&serde_json::Value>,
    symbols: Option<&[String]>,
    passphrase: Option<&str>,
) -> Result<(), ApiError> {
    if let Some(params) = params {
        validate::json("params", params)?;
    }
    for symbol in symbols.unwrap_or_default() {
        validate::identifier("symbols", symbol.trim(), crate::api::SYMBOL_MAX_CHARS)?;
    }
    if let Some(passphrase) = passphrase {
        validate::text("passphrase", passphrase, PASSPHRASE_MAX_CHARS)?;
    }
    Ok(())
}

/// Longest webhook passphrase.
const PASSPHRASE_MAX_CHARS: usize = 200;

fn validate(
    state: &AppState,
    kind: &str,
    params: &serde_json::Value,
    symbols: &[String],
    bar_seconds: i32,
) -> Result<(), ApiError> {
    if symbols.is_empty() {
        return Err(ApiError::unprocessable("invalid_strategy", "symbols must not be empty"));
    }
    if !(1..=86_400).contains(&bar_seconds) {
        return Err(ApiError::unprocessable("invalid_strategy", "bar_seconds must be between 1 and 86400"));
    }
    for symbol in symbols {
        strategies::build(kind, params, &state.oms.market().instruments, symbol)
            .map_err(|e| ApiError::unprocessable("invalid_strategy", e.to_string()))?;
    }
    Ok(())
}

fn normalize_symbols(symbols: &[String]) -> Vec<String> {
    symbols.iter().map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty()).collect()
}

/// Inserts a strategy and its lease row, with an audit entry.
pub async fn insert(pool: &PgPool, req: &CreateStrategy, actor: &str) -> Result<StrategyRow, ApiError> {
    let mut tx = pool.begin().await?;
    let params = if req.params.is_null() { serde_json::json!({}) } else { req.params.clone() };
    let row: Option<StrategyRow> = sqlx::query_as(&format!(
        "insert into strategy (name, kind, params, account, symbols, bar_seconds, enabled, passphrase_hash)
         values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict (name) do nothing returning {STRATEGY_COLUMNS}"
    ))
    .bind(&req.name)
    .bind(&req.kind)
    .bind(&params)
    .bind(req.account.trim())
    .bind(normalize_symbols(&req.symbols))
    .bind(req.bar_seconds.unwrap_or(60))
    .bind(req.enabled)
    .bind(req.passphrase.as_ref().map(|p| crate::auth::hash(p.as_bytes())))
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.code().as_deref() == Some("23514") => {
            ApiError::unprocessable("invalid_strategy", "name must match [a-z0-9][a-z0-9_-]{0,63}")
        }
        _ => e.into(),
    })?;
    let row = row.ok_or_else(|| ApiError::Conflict(format!("a strategy named {:?} exists", req.name)))?;
    sqlx::query("insert into strategy_lease (strategy_id) values ($1)").bind(row.strategy_id).execute(&mut *tx).await?;
    crate::audit::record(&mut tx, actor, "strategy.create", &format!("strategy:{}", row.name), serde_json::json!(row))
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// Create a strategy.
#[utoipa::path(post, path = "/api/v1/strategies", tag = "strategies", request_body = CreateStrategy, security(("bearer" = [])),
    responses((status = 201, body = StrategyRow), (status = 409, description = "name taken"), (status = 422, description = "invalid kind or parameters")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(mut req): ApiJson<CreateStrategy>,
) -> Result<(StatusCode, Json<StrategyRow>), ApiError> {
    check_name(&req.name)?;
    validate::identifier("kind", &req.kind, 64)?;
    validate::identifier("account", req.account.trim(), crate::api::ACCOUNT_MAX_CHARS)?;
    check_fields(Some(&req.params), Some(&req.symbols), req.passphrase.as_deref())?;
    req.symbols = normalize_symbols(&req.symbols);
    if req.params.is_null() {
        req.params = serde_json::json!({});
    }
    validate(&state, &req.kind, &req.params, &req.symbols, req.bar_seconds.unwrap_or(60))?;
    let row = insert(&state.pool, &req, &caller.name).await?;
    state.strategies.invalidate().await;
    Ok((StatusCode::CREATED, Json(row)))
}

/// List strategies.
#[utoipa::path(get, path = "/api/v1/strategies", tag = "strategies", security(("bearer" = [])), responses((status = 200, body = Vec<StrategyRow>)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<StrategyRow>>, ApiError> {
    let rows = sqlx::query_as(&format!("select {STRATEGY_COLUMNS} from strategy order by name"))
        .fetch_all(&state.pool)
        .await?;
    Ok(Json(rows))
}

async fn load(state: &AppState, name: &str) -> Result<StrategyRow, ApiError> {
    if !valid_name(name) {
        // No strategy can have this name; asking the database would only fail on NUL bytes.
        return Err(ApiError::NotFound(format!("strategy {name:?} not found")));
    }
    strategies::by_name(&state.pool, name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("strategy {name:?} not found")))
}

/// Get a strategy.
#[utoipa::path(get, path = "/api/v1/strategies/{name}", tag = "strategies", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = StrategyRow), (status = 404)))]
pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<StrategyRow>, ApiError> {
    Ok(Json(load(&state, &name).await?))
}

/// Change parameters, symbols, bar period or passphrase. A running strategy restarts with the
/// new definition at the next lease round.
#[utoipa::path(patch, path = "/api/v1/strategies/{name}", tag = "strategies", params(("name" = String, Path)),
    request_body = ConfigureStrategy, security(("bearer" = [])), responses((status = 200, body = StrategyRow), (status = 404), (status = 422)))]
pub async fn configure(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<ConfigureStrategy>,
) -> Result<Json<StrategyRow>, ApiError> {
    check_fields(req.params.as_ref(), req.symbols.as_deref(), req.passphrase.as_deref())?;
    let current = load(&state, &name).await?;
    let params = req.params.clone().unwrap_or_else(|| current.params.clone());
    let symbols = req.symbols.as_deref().map(normalize_symbols).unwrap_or_else(|| current.symbols.clone());
    let bar_seconds = req.bar_seconds.unwrap_or(current.bar_seconds);
    validate(&state, &current.kind, &params, &symbols, bar_seconds)?;
    let mut tx = state.pool.begin().await?;
    let row: StrategyRow = sqlx::query_as(&format!(
        "update strategy set params = $2, symbols = $3, bar_seconds = $4,
                passphrase_hash = coalesce($5, passphrase_hash), updated_at = now()
          where name = $1 returning {STRATEGY_COLUMNS}"
    ))
    .bind(&name)
    .bind(&params)
    .bind(&symbols)
    .bind(bar_seconds)
    .bind(req.passphrase.as_ref().map(|p| crate::auth::hash(p.as_bytes())))
    .fetch_one(&mut *tx)
    .await?;
    let detail = serde_json::json!({"before": current, "after": row, "passphrase_changed": req.passphrase.is_some()});
    crate::audit::record(&mut tx, &caller.name, "strategy.configure", &format!("strategy:{name}"), detail).await?;
    tx.commit().await?;
    state.strategies.invalidate().await;
    Ok(Json(row))
}

async fn set_enabled(
    state: &AppState,
    caller: &Caller,
    name: &str,
    enabled: bool,
) -> Result<Json<StrategyRow>, ApiError> {
    if !valid_name(name) {
        return Err(ApiError::NotFound(format!("strategy {name:?} not found")));
    }
    let mut tx = state.pool.begin().await?;
    let row: StrategyRow = sqlx::query_as(&format!(
        "update strategy set enabled = $2, updated_at = now() where name = $1 returning {STRATEGY_COLUMNS}"
    ))
    .bind(name)
    .bind(enabled)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| ApiError::NotFound(format!("strategy {name:?} not found")))?;
    let action = if enabled { "strategy.enable" } else { "strategy.disable" };
    crate::audit::record(&mut tx, &caller.name, action, &format!("strategy:{name}"), serde_json::json!({})).await?;
    tx.commit().await?;
    state.strategies.invalidate().await;
    Ok(Json(row))
}

/// Enable a strategy: an engine instance leases and runs it within one lease round.
#[utoipa::path(post, path = "/api/v1/strategies/{name}/enable", tag = "strategies", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = StrategyRow), (status = 404)))]
pub async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<StrategyRow>, ApiError> {
    set_enabled(&state, &caller, &name, true).await
}

/// Disable a strategy: its owner stops it and releases the lease.
#[utoipa::path(post, path = "/api/v1/strategies/{name}/disable", tag = "strategies", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = StrategyRow), (status = 404)))]
pub async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<StrategyRow>, ApiError> {
    set_enabled(&state, &caller, &name, false).await
}
