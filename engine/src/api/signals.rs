//! Stored signals and what became of them.

use axum::{extract::State, routing::get, Json, Router};
use chrono::{DateTime, Utc};
use platform::http::{ApiError, ApiQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::startup::AppState;

/// Routes of this feature (the webhook itself is in [`crate::signals::webhook`]).
pub fn router() -> axum::Router<AppState> {
    Router::new().route("/api/v1/signals", get(list))
}

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SignalQuery {
    /// Strategy name.
    pub strategy: Option<String>,
    /// `pending`, `processed`, `ignored` or `failed`.
    pub status: Option<String>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// A stored signal.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct SignalRow {
    /// Id.
    pub signal_id: i64,
    /// Account.
    pub account: String,
    /// Strategy.
    pub strategy: String,
    /// Alert id or body hash.
    pub dedupe_key: String,
    /// Symbol.
    pub ticker: String,
    /// Action.
    pub action: String,
    /// Status.
    pub status: String,
    /// What processing did.
    pub note: Option<String>,
    /// Received.
    pub received_at: DateTime<Utc>,
    /// Processed.
    pub processed_at: Option<DateTime<Utc>>,
}

/// List signals, newest first.
#[utoipa::path(get, path = "/api/v1/signals", tag = "signals", params(SignalQuery), security(("bearer" = [])), responses((status = 200, body = Vec<SignalRow>)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<SignalQuery>,
) -> Result<Json<Vec<SignalRow>>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", "limit must be between 1 and 1000"));
    }
    let rows = sqlx::query_as(
        "select signal_id, account, strategy, dedupe_key, ticker, action, status, note, received_at, processed_at from signal
          where ($1::text is null or strategy = $1) and ($2::text is null or status = $2) order by signal_id desc limit $3",
    )
    .bind(&q.strategy)
    .bind(&q.status)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}
