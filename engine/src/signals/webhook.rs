//! `POST /api/v1/signals/tradingview`: TradingView alerts.
//!
//! Body (JSON, sent as `application/json` or `text/plain` as TradingView does):
//! `{"passphrase","strategy","ticker","action":"buy|sell|exit","quantity","price","alert_id","time"}`.
//! `quantity`, `price`, `alert_id` and `time` are optional; without `alert_id` the body's
//! sha256 is the duplicate key. Answers: 202 `accepted` (committed), 200 `duplicate`, 400
//! malformed, 401 wrong passphrase or signature, 403 webhook not enabled, 404 unknown strategy,
//! 409 strategy disabled, 413 too large, 422 invalid field or stale alert, 503 database down.

use std::str::FromStr;

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Json, Router,
};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use platform::http::{validate, ApiError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::{PendingSignal, Stored, WriteError};
use crate::startup::AppState;

/// Header carrying `sha256=<hex HMAC-SHA256 of the body>` when `SIGNAL_HMAC_SECRET` is set.
pub const SIGNATURE_HEADER: &str = "x-halyard-signature";

/// Routes of this feature (no bearer token: the passphrase authenticates).
pub fn router(body_limit: usize) -> axum::Router<AppState> {
    Router::new()
        .route("/api/v1/signals/tradingview", post(tradingview))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
}

/// A TradingView alert.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Alert {
    /// The strategy's webhook passphrase.
    pub passphrase: String,
    /// Strategy name.
    pub strategy: String,
    /// Symbol.
    pub ticker: String,
    /// `buy`, `sell` or `exit`.
    pub action: String,
    /// Quantity (number or decimal string).
    #[schema(value_type = Option<String>)]
    pub quantity: Option<Value>,
    /// Price (number or decimal string).
    #[schema(value_type = Option<String>)]
    pub price: Option<Value>,
    /// Unique alert id; repeats are duplicates.
    #[schema(value_type = Option<String>)]
    pub alert_id: Option<Value>,
    /// When the alert fired (RFC 3339); older than `SIGNAL_MAX_AGE_SECS` is refused.
    #[serde(alias = "timestamp", alias = "timenow")]
    pub time: Option<String>,
}

/// The answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalReceipt {
    /// `accepted` or `duplicate`.
    pub status: &'static str,
    /// The stored signal: the new one, or for a duplicate the one the first alert became.
    pub signal_id: Option<i64>,
}

fn decimal_field(name: &'static str, value: &Option<Value>) -> Result<Option<Decimal>, ApiError> {
    let text = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.trim().to_owned(),
        // serde_json prints the shortest text that reads back to the same f64: `0.1` stays "0.1".
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(ApiError::unprocessable("invalid_field", format!("{name} must be a number, got {other}")))
        }
    };
    let parsed = Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| ApiError::unprocessable("invalid_field", format!("{name} {text:?} is not a number")))?;
    if parsed <= Decimal::ZERO {
        return Err(ApiError::unprocessable(
            if name == "quantity" { "invalid_quantity" } else { "invalid_field" },
            format!("{name} must be greater than zero, got {text}"),
        ));
    }
    if crate::convert::decimal_to_raw(parsed).is_err() {
        return Err(ApiError::unprocessable(
            "invalid_field",
            format!("{name} {text} has more than 8 decimals or is too large"),
        ));
    }
    Ok(Some(parsed.normalize()))
}

/// Receive a TradingView alert.
#[utoipa::path(post, path = "/api/v1/signals/tradingview", tag = "signals", request_body = Alert,
    responses((status = 202, body = SignalReceipt, description = "committed; processed asynchronously"),
              (status = 200, body = SignalReceipt, description = "duplicate alert_id; nothing done"),
              (status = 400, description = "malformed JSON"), (status = 401, description = "wrong passphrase or signature"),
              (status = 404, description = "unknown strategy"), (status = 413, description = "body too large"),
              (status = 422, description = "invalid field or stale alert")))]
pub async fn tradingview(
    state: State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SignalReceipt>), ApiError> {
    let answer = receive(state, headers, body).await;
    match &answer {
        Ok((_, Json(receipt))) => crate::metrics::signal(receipt.status),
        Err(error) => crate::metrics::signal_refused(error.code()),
    }
    answer
}

async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<SignalReceipt>), ApiError> {
    let body = body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(format!("the alert is larger than {} bytes", state.settings.signals.body_limit))
        }
        _ => ApiError::bad_request("invalid_body", r.body_text()),
    })?;
    if let Some(secret) = &state.signal_hmac {
        if let Err(refused) = verify_signature(secret.current().expose().as_bytes(), &headers, &body) {
            // The secret may have been rotated and the sender already signs with the new one:
            // re-read it (at most every few seconds) and check once more.
            match secret.refresh().await {
                Ok(true) => verify_signature(secret.current().expose().as_bytes(), &headers, &body)?,
                _ => return Err(refused),
            }
        }
    }
    let alert: Alert = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid_json", format!("the alert is not valid JSON of the expected shape: {e}"))
    })?;
    validate::identifier("strategy", &alert.strategy, crate::api::STRATEGY_NAME_MAX_CHARS)?;
    let strategy = state
        .strategies
        .get(&alert.strategy)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("unknown strategy {:?}", alert.strategy)))?;
    let Some(expected) = &strategy.passphrase_hash else {
        return Err(ApiError::Forbidden(format!("strategy {:?} has no webhook passphrase", strategy.name)));
    };
    let given = crate::auth::hash(alert.passphrase.as_bytes());
    if !bool::from(given.ct_eq(expected)) {
        return Err(ApiError::Unauthorized("wrong passphrase".into()));
    }
    if !strategy.enabled {
        return Err(ApiError::Conflict(format!("strategy {:?} is disabled", strategy.name)));
    }
    let action = alert.action.trim().to_ascii_lowercase();
    if !matches!(action.as_str(), "buy" | "sell" | "exit") {
        return Err(ApiError::unprocessable(
            "invalid_action",
            format!("action must be buy, sell or exit, got {:?}", alert.action),
        ));
    }
    validate::identifier("ticker", alert.ticker.trim(), crate::api::SYMBOL_MAX_CHARS)?;
    let ticker = alert.ticker.trim().to_ascii_uppercase();
    if !strategy.symbols.contains(&ticker) {
        return Err(ApiError::unprocessable(
            "invalid_ticker",
            format!("strategy {:?} does not trade {ticker:?} (symbols: {})", strategy.name, strategy.symbols.join(",")),
        ));
    }
    let quantity = decimal_field("quantity", &alert.quantity)?;
    let price = decimal_field("price", &alert.price)?;
    let max = chrono::Duration::from_std(state.settings.signals.max_age).unwrap_or(chrono::Duration::MAX);
    let mut fired = Utc::now();
    if let Some(time) = &alert.time {
        fired = DateTime::parse_from_rfc3339(time.trim())
            .map_err(|_| ApiError::unprocessable("invalid_time", format!("time {time:?} is not RFC 3339")))?
            .with_timezone(&Utc);
        let age = Utc::now().signed_duration_since(fired);
        if age > max || -age > max {
            return Err(ApiError::unprocessable(
                "stale_alert",
                format!(
                    "alert time {time} is {}s away from now; the window is {}s",
                    age.num_seconds(),
                    max.num_seconds()
                ),
            ));
        }
    }
    let dedupe_key = match &alert.alert_id {
        None | Some(Value::Null) => format!("sha256:{}", hex::encode(crate::auth::hash(&body))),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 200 && !s.chars().any(char::is_control) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(ApiError::unprocessable(
                "invalid_field",
                "alert_id must be a string of 1 to 200 characters without control characters",
            ))
        }
    };
    let mut payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(object) = payload.as_object_mut() {
        object.remove("passphrase");
    }
    // The alert is stored as jsonb, which cannot hold `\u0000`.
    validate::json("alert", &payload)?;
    let pending = PendingSignal {
        strategy_id: strategy.strategy_id,
        account: strategy.account.clone(),
        strategy: strategy.name.clone(),
        dedupe_key,
        ticker,
        action,
        quantity,
        price,
        payload: payload.to_string(),
        // The alert's time-to-live runs from when it fired (or arrived, without a time).
        expires_at: fired.checked_add_signed(max),
    };
    match state.signal_writer.store(pending).await {
        Ok(Stored::Accepted(id)) => {
            Ok((StatusCode::ACCEPTED, Json(SignalReceipt { status: "accepted", signal_id: Some(id) })))
        }
        Ok(Stored::Duplicate(id)) => {
            Ok((StatusCode::OK, Json(SignalReceipt { status: "duplicate", signal_id: Some(id) })))
        }
        Err(WriteError::Closed) => Err(ApiError::Unavailable("the engine is shutting down; retry".into())),
        Err(WriteError::Storage(e)) => {
            tracing::warn!(error = %e, "signal not stored");
            Err(ApiError::Unavailable("the signal could not be stored; retry shortly".into()))
        }
    }
}

fn verify_signature(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Unauthorized(format!("missing {SIGNATURE_HEADER} header")))?;
    let hex_sig = header.trim().strip_prefix("sha256=").unwrap_or(header.trim());
    let signature =
        hex::decode(hex_sig).map_err(|_| ApiError::Unauthorized(format!("{SIGNATURE_HEADER} is not hex")))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    mac.update(body);
    mac.verify_slice(&signature).map_err(|_| ApiError::Unauthorized("signature does not match the body".into()))
}

/// The signature header value for `body` under `secret` (for clients and tests).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
