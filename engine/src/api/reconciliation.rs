//! Reconciliation events: what the engine booked because the venue said so when asked (fills,
//! acknowledgements and final statuses found by reconciliation) or restated after the fact
//! (busts and corrections), each flagged `"reconciliation": true` on the order's event.

use axum::{extract::State, routing::get, Json, Router};
use chrono::{DateTime, Utc};
use platform::http::{ApiError, ApiQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::startup::AppState;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/reconciliation-events", get(list))
}

/// Filters, newest first.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationQuery {
    /// Only this account's.
    pub account: Option<String>,
    /// At most this many (1 to 500, default 50).
    pub limit: Option<i64>,
}

/// One booked reconciliation event.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ReconciliationEvent {
    /// The order event's id.
    pub event_id: i64,
    /// The order.
    pub order_id: i64,
    /// Account.
    pub account: String,
    /// Strategy.
    pub strategy: String,
    /// Symbol.
    pub symbol: String,
    /// The venue, as recorded on the order.
    pub venue: String,
    /// `fill`, `accepted`, `cancelled`, `expired`, `rejected`, `replaced`, `bust`, `correction`, ...
    pub event: String,
    /// Status before.
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: String,
    /// What was booked (an execution's id, quantity and price; a bust's reversing fill and
    /// realized P&L change).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// When it was booked.
    pub ts: DateTime<Utc>,
}

/// Reconciliation events, newest first.
#[utoipa::path(get, path = "/api/v1/reconciliation-events", tag = "reconciliation", params(ReconciliationQuery),
    security(("bearer" = [])), responses((status = 200, body = Vec<ReconciliationEvent>), (status = 400)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ReconciliationQuery>,
) -> Result<Json<Vec<ReconciliationEvent>>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", "limit must be between 1 and 500"));
    }
    let rows = sqlx::query_as(
        "select e.event_id, e.order_id, e.account, e.strategy, o.symbol, o.venue, e.event, e.from_status, e.to_status,
                e.detail, e.ts
           from order_event e join \"order\" o on o.order_id = e.order_id
          where e.detail @> '{\"reconciliation\": true}' and ($1::text is null or e.account = $1)
          order by e.event_id desc limit $2",
    )
    .bind(&q.account)
    .bind(limit)
    .fetch_all(state.oms.pool())
    .await?;
    Ok(Json(rows))
}
