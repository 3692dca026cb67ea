//! `POST /api/v1/market/ticks`: users' own feeders send ticks as a JSON array or as NDJSON.
//! The answer comes after the ticks are committed; a 4xx means nothing of the request was stored.

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, DefaultBodyLimit, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Json, Router,
};
use chrono::{DateTime, Utc};
use platform::http::ApiError;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    ingest::IngestError,
    market::{canonical_symbol, Tick},
    startup::AppState,
};

/// Largest request body.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Most ticks in one request.
pub const MAX_TICKS_PER_REQUEST: usize = 100_000;
/// How far in the future a tick may be stamped (clock skew allowance).
const MAX_FUTURE_SKEW_SECS: i64 = 300;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/market/ticks", post(post_ticks)).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TickInput {
    symbol: String,
    #[serde(deserialize_with = "crate::timeparse::deserialize_timestamp")]
    ts: DateTime<Utc>,
    price: Decimal,
    size: Decimal,
}

/// How many ticks were stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// Ticks committed.
    pub accepted: usize,
}

/// Store ticks.
#[utoipa::path(post, path = "/api/v1/market/ticks", tag = "market",
    request_body(content = Vec<Tick>, description = "JSON array, or NDJSON (one tick object per line) with Content-Type application/x-ndjson. ts is RFC 3339 or epoch ms; price and size are numbers or decimal strings."),
    responses((status = 200, body = Accepted), (status = 400, description = "malformed or invalid tick; nothing stored"), (status = 413, description = "body too large"), (status = 503, description = "database unavailable; nothing stored, retry")))]
pub async fn post_ticks(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let ndjson = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-ndjson") || ct.starts_with("application/jsonl"));
    let body = body.map_err(|r| match r.status() {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(format!("the body is larger than {MAX_BODY_BYTES} bytes"))
        }
        _ => ApiError::bad_request("invalid_body", r.body_text()),
    })?;
    let ticks = parse_ticks(&body, ndjson)?;
    let accepted = state.ingest.submit(ticks).await.map_err(|e| match e {
        IngestError::Storage(_) => {
            ApiError::Unavailable("the database is unavailable; nothing was stored, retry".to_owned())
        }
        IngestError::Closed => {
            ApiError::Unavailable("the service is shutting down; nothing was stored, retry".to_owned())
        }
    })?;
    Ok((StatusCode::OK, Json(Accepted { accepted })))
}

/// Parses and validates a request body. Errors name the tick by its position (array index or
/// NDJSON line number).
pub fn parse_ticks(body: &[u8], ndjson: bool) -> Result<Vec<Tick>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("invalid_body", "the body is not UTF-8"))?;
    let trimmed = text.trim_start();
    let inputs: Vec<(String, TickInput)> = if !ndjson && trimmed.starts_with('[') {
        let values: Vec<serde_json::Value> = serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("body is not a JSON array: {e}")))?;
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::from_value(v)
                    .map(|t| (format!("tick [{i}]"), t))
                    .map_err(|e| ApiError::bad_request("invalid_tick", format!("tick [{i}]: {e}")))
            })
            .collect::<Result<_, _>>()?
    } else {
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, line)| {
                serde_json::from_str(line)
                    .map(|t| (format!("line {}", n + 1), t))
                    .map_err(|e| ApiError::bad_request("invalid_tick", format!("line {}: {e}", n + 1)))
            })
            .collect::<Result<_, _>>()?
    };
    if inputs.is_empty() {
        return Err(ApiError::bad_request("empty", "no ticks in the body"));
    }
    if inputs.len() > MAX_TICKS_PER_REQUEST {
        return Err(ApiError::PayloadTooLarge(format!(
            "at most {MAX_TICKS_PER_REQUEST} ticks per request, got {}",
            inputs.len()
        )));
    }
    let latest = Utc::now() + chrono::Duration::seconds(MAX_FUTURE_SKEW_SECS);
    inputs
        .into_iter()
        .map(|(at, t)| {
            let invalid = |m: String| ApiError::bad_request("invalid_tick", format!("{at}: {m}"));
            let symbol = canonical_symbol(&t.symbol).map_err(invalid)?;
            if t.price <= Decimal::ZERO {
                return Err(invalid(format!("price must be positive, got {}", t.price)));
            }
            if t.size < Decimal::ZERO {
                return Err(invalid(format!("size must not be negative, got {}", t.size)));
            }
            if t.ts > latest {
                return Err(invalid(format!(
                    "ts {} is more than {MAX_FUTURE_SKEW_SECS} s in the future",
                    t.ts.to_rfc3339()
                )));
            }
            Ok(Tick { symbol, ts: t.ts, price: t.price.normalize(), size: t.size.normalize() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(e: ApiError) -> String {
        e.to_string()
    }

    #[test]
    fn a_json_array_and_ndjson_give_the_same_ticks() {
        let array = br#"[{"symbol":"abc","ts":1700000000000,"price":1.5,"size":"2"},{"symbol":"ABC","ts":"2023-11-14T22:13:21Z","price":"1.25","size":1}]"#;
        let lines = b"{\"symbol\":\"abc\",\"ts\":1700000000000,\"price\":1.5,\"size\":\"2\"}\n{\"symbol\":\"ABC\",\"ts\":\"2023-11-14T22:13:21Z\",\"price\":\"1.25\",\"size\":1}\n";
        assert_eq!(parse_ticks(array, false).unwrap(), parse_ticks(lines, true).unwrap());
    }

    #[test]
    fn a_bad_ndjson_line_is_named_by_number() {
        let body = b"{\"symbol\":\"A\",\"ts\":1,\"price\":1,\"size\":1}\n{\"symbol\":\"A\",\"ts\":1,\"price\":-1,\"size\":1}\n";
        let err = message(parse_ticks(body, true).unwrap_err());
        assert!(err.starts_with("line 2:") && err.contains("positive"), "{err}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err =
            message(parse_ticks(br#"[{"symbol":"A","ts":1,"price":1,"size":1,"venue":"x"}]"#, false).unwrap_err());
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn an_empty_body_is_refused() {
        assert!(message(parse_ticks(b"  ", false).unwrap_err()).contains("no ticks"));
    }

    #[test]
    fn ticks_far_in_the_future_are_refused() {
        let body = format!(
            r#"[{{"symbol":"A","ts":{},"price":1,"size":1}}]"#,
            (Utc::now() + chrono::Duration::hours(1)).timestamp_millis()
        );
        assert!(message(parse_ticks(body.as_bytes(), false).unwrap_err()).contains("future"));
    }
}
