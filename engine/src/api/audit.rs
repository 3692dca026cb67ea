//! The audit log over HTTP: who changed what (risk limits, halts, strategies) and when.

use axum::{extract::State, routing::get, Json, Router};
use chrono::{DateTime, Utc};
use platform::http::{ApiError, ApiQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::startup::AppState;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/audit", get(list))
}

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// What was changed, e.g. `account:acct-1`, `strategy:sma-btc`, `all`.
    pub target: Option<String>,
    /// The kind of change, e.g. `risk_limits.update`, `halt`, `strategy.configure`.
    pub action: Option<String>,
    /// Entries before this id (paging backwards).
    pub before: Option<i64>,
    /// Page size (default 50, at most 500).
    pub limit: Option<i64>,
}

/// One entry.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct AuditEntry {
    /// Id, increasing.
    pub audit_id: i64,
    /// When.
    pub ts: DateTime<Utc>,
    /// Who: the API token's name, or `engine` for automatic actions.
    pub actor: String,
    /// What kind of change.
    pub action: String,
    /// What was changed.
    pub target: String,
    /// The change (for limits `{"before": …, "after": …}`).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// Audit entries, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = [AuditEntry]), (status = 400)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", "limit must be between 1 and 500"));
    }
    let rows = sqlx::query_as(
        "select audit_id, ts, actor, action, target, detail from audit_log
         where ($1::text is null or target = $1) and ($2::text is null or action = $2)
           and ($3::bigint is null or audit_id < $3)
         order by audit_id desc limit $4",
    )
    .bind(&q.target)
    .bind(&q.action)
    .bind(q.before)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}
