//! Risk limits per account: read and replace; every change is in the audit log.

use axum::{extract::State, routing::get, Json, Router};
use platform::http::{validate, ApiError, ApiJson, ApiPath};

use crate::{auth::Caller, oms::risk::StoredLimits, startup::AppState};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/risk-limits/{account}", get(get_limits).put(put_limits))
}

/// An account's limits (all absent when none are set).
#[utoipa::path(get, path = "/api/v1/risk-limits/{account}", tag = "risk", params(("account" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = StoredLimits)))]
pub async fn get_limits(
    State(state): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> Result<Json<StoredLimits>, ApiError> {
    let mut conn = state.pool.acquire().await?;
    Ok(Json(crate::oms::risk::load_limits(&mut conn, &account).await?))
}

/// Replace an account's limits (absent fields remove that limit).
#[utoipa::path(put, path = "/api/v1/risk-limits/{account}", tag = "risk", params(("account" = String, Path)),
    request_body = StoredLimits, security(("bearer" = [])), responses((status = 200, body = StoredLimits), (status = 422)))]
pub async fn put_limits(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account): ApiPath<String>,
    ApiJson(limits): ApiJson<StoredLimits>,
) -> Result<Json<StoredLimits>, ApiError> {
    validate::identifier("account", &account, crate::api::ACCOUNT_MAX_CHARS)?;
    for (field, value) in [
        ("max_order_qty", limits.max_order_qty),
        ("max_order_notional", limits.max_order_notional),
        ("max_position", limits.max_position),
        ("max_gross_exposure", limits.max_gross_exposure),
        ("max_daily_loss", limits.max_daily_loss),
    ] {
        if let Some(value) = value {
            validate::amount(field, value)?;
        }
    }
    if let Some(bps) = limits.price_collar_bps {
        validate::numeric("price_collar_bps", bps, 12, 2)?;
    }
    limits.to_domain().map_err(|e| ApiError::unprocessable("invalid_limit", e.to_string()))?;
    let negative = [
        limits.max_order_qty,
        limits.max_order_notional,
        limits.max_position,
        limits.max_gross_exposure,
        limits.price_collar_bps,
        limits.max_daily_loss,
    ]
    .iter()
    .flatten()
    .any(|v| v.is_sign_negative());
    if negative || limits.max_orders_per_minute.is_some_and(|m| m < 0) {
        return Err(ApiError::unprocessable("invalid_limit", "limits must not be negative"));
    }
    Ok(Json(crate::oms::risk::save_limits(&state.pool, &account, &limits, &caller.name).await?))
}
