//! Instruments: each symbol's tick size, lot size, minimum notional, asset class and currency.
//! Pre-trade risk refuses orders off the lot or tick or below the minimum notional, and the paper
//! venue rounds slipped prices to the tick. Every change is in the audit log.

use axum::{extract::State, routing::get, Json, Router};
use chrono::{DateTime, Utc};
use platform::http::{validate, ApiError, ApiJson, ApiPath};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{auth::Caller, convert, startup::AppState};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/instruments", get(list)).route("/api/v1/instruments/{symbol}", get(get_one).put(put))
}

/// Asset classes an instrument can have.
pub const ASSET_CLASSES: [&str; 6] = ["equity", "crypto", "fx", "future", "option", "other"];

/// An instrument as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Instrument {
    /// Symbol.
    pub symbol: String,
    /// Price grid of limit and stop prices.
    #[serde(serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub tick_size: Option<Decimal>,
    /// Quantities are whole multiples of it.
    #[serde(serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub lot_size: Option<Decimal>,
    /// Smallest order notional.
    #[serde(serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub min_notional: Option<Decimal>,
    /// `equity`, `crypto`, `fx`, `future`, `option` or `other`.
    pub asset_class: String,
    /// Currency prices are quoted in (ISO 4217 or a crypto code, 3 to 5 capitals).
    pub currency: String,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Who changed it.
    pub updated_by: String,
}

/// An instrument's definition (absent rules are not checked).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstrumentDefinition {
    /// Price grid (positive decimal string).
    #[schema(value_type = Option<String>)]
    pub tick_size: Option<Decimal>,
    /// Lot (positive decimal string).
    #[schema(value_type = Option<String>)]
    pub lot_size: Option<Decimal>,
    /// Minimum notional (decimal string, zero or more).
    #[schema(value_type = Option<String>)]
    pub min_notional: Option<Decimal>,
    /// Asset class (default `other`).
    pub asset_class: Option<String>,
    /// Quote currency (default `USD`).
    pub currency: Option<String>,
}

/// Every instrument, by symbol.
#[utoipa::path(get, path = "/api/v1/instruments", tag = "instruments", security(("bearer" = [])),
    responses((status = 200, body = [Instrument])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Instrument>>, ApiError> {
    Ok(Json(sqlx::query_as("select * from instrument order by symbol").fetch_all(&state.pool).await?))
}

/// One instrument.
#[utoipa::path(get, path = "/api/v1/instruments/{symbol}", tag = "instruments", params(("symbol" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = Instrument), (status = 404)))]
pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(symbol): ApiPath<String>,
) -> Result<Json<Instrument>, ApiError> {
    let symbol = symbol.trim().to_ascii_uppercase();
    sqlx::query_as("select * from instrument where symbol = $1")
        .bind(&symbol)
        .fetch_optional(&state.pool)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("instrument {symbol} not defined")))
}

/// Define or replace an instrument; the change is audited.
#[utoipa::path(put, path = "/api/v1/instruments/{symbol}", tag = "instruments", params(("symbol" = String, Path)),
    request_body = InstrumentDefinition, security(("bearer" = [])),
    responses((status = 200, body = Instrument), (status = 422, description = "invalid definition")))]
pub async fn put(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(symbol): ApiPath<String>,
    ApiJson(definition): ApiJson<InstrumentDefinition>,
) -> Result<Json<Instrument>, ApiError> {
    let symbol = symbol.trim().to_ascii_uppercase();
    validate::identifier("symbol", &symbol, crate::api::SYMBOL_MAX_CHARS)?;
    let invalid = |m: String| ApiError::unprocessable("invalid_instrument", m);
    for (field, value, zero_allowed) in [
        ("tick_size", definition.tick_size, false),
        ("lot_size", definition.lot_size, false),
        ("min_notional", definition.min_notional, true),
    ] {
        if let Some(value) = value {
            convert::qty(value).map_err(|e| invalid(format!("{field}: {e}")))?;
            if value.is_sign_negative() || (!zero_allowed && value.is_zero()) {
                let bound = if zero_allowed { "zero or more" } else { "greater than zero" };
                return Err(invalid(format!("{field} must be {bound}")));
            }
        }
    }
    let asset_class = definition.asset_class.clone().unwrap_or_else(|| "other".to_owned());
    if !ASSET_CLASSES.contains(&asset_class.as_str()) {
        return Err(invalid(format!("asset_class must be one of {}", ASSET_CLASSES.join(", "))));
    }
    let currency = definition.currency.clone().unwrap_or_else(|| "USD".to_owned());
    if !(3..=5).contains(&currency.len()) || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(invalid("currency must be 3 to 5 capital letters".into()));
    }
    let mut tx = state.pool.begin().await?;
    let before: Option<Instrument> = sqlx::query_as("select * from instrument where symbol = $1 for update")
        .bind(&symbol)
        .fetch_optional(&mut *tx)
        .await?;
    let saved: Instrument = sqlx::query_as(
        "insert into instrument (symbol, tick_size, lot_size, min_notional, asset_class, currency, updated_by)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (symbol) do update set
           tick_size = excluded.tick_size, lot_size = excluded.lot_size, min_notional = excluded.min_notional,
           asset_class = excluded.asset_class, currency = excluded.currency,
           updated_by = excluded.updated_by, updated_at = now()
         returning *",
    )
    .bind(&symbol)
    .bind(definition.tick_size)
    .bind(definition.lot_size)
    .bind(definition.min_notional)
    .bind(&asset_class)
    .bind(&currency)
    .bind(&caller.name)
    .fetch_one(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        &caller.name,
        "instrument.update",
        &format!("symbol:{symbol}"),
        serde_json::json!({"before": before, "after": &saved}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(saved))
}

/// The pre-trade rules of `symbol` (none when it is not defined).
///
/// # Errors
/// A database error, or a stored value beyond the fixed-point range.
pub async fn rules(
    conn: &mut sqlx::PgConnection,
    symbol: &str,
) -> Result<domain::risk::InstrumentRules, crate::oms::OmsError> {
    let row: Option<(Option<Decimal>, Option<Decimal>, Option<Decimal>)> =
        sqlx::query_as("select tick_size, lot_size, min_notional from instrument where symbol = $1")
            .bind(symbol)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((tick, lot, minimum)) = row else { return Ok(Default::default()) };
    Ok(domain::risk::InstrumentRules {
        tick_size: tick.map(convert::price).transpose()?,
        lot_size: lot.map(convert::qty).transpose()?,
        min_notional: minimum.map(convert::money).transpose()?,
    })
}
