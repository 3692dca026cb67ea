//! The kill switch over HTTP: halt, resume, list active halts.

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use platform::http::{validate, ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::Caller,
    halt::{self, Halt, Scope},
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/halt", get(list).post(create)).route("/api/v1/resume", post(resume))
}

/// A halt request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HaltRequest {
    /// Why (recorded; up to 500 characters, no control characters but line breaks and tabs).
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
    /// `all`, `account` or `strategy`.
    pub scope: Scope,
    /// The account, for scope `account`.
    pub account: Option<String>,
    /// The strategy, for scope `strategy`.
    pub strategy: Option<String>,
    /// Also close the positions in scope with market orders.
    #[serde(default)]
    pub flatten: bool,
    /// Reduce-only: orders that close positions in scope still pass (never one that opens,
    /// grows or flips a position), and only working orders that would grow one are cancelled.
    #[serde(default)]
    pub reduce_only: bool,
}

/// A resume request: lifts the active halts with exactly this scope and target.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeRequest {
    /// `all`, `account` or `strategy`.
    pub scope: Scope,
    /// The account, for scope `account`.
    pub account: Option<String>,
    /// The strategy, for scope `strategy`.
    pub strategy: Option<String>,
}

/// The result of a resume.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resumed {
    /// Halts lifted.
    pub lifted: u64,
}

fn target(scope: Scope, account: &Option<String>, strategy: &Option<String>) -> Result<(), ApiError> {
    let ok = match scope {
        Scope::All => account.is_none() && strategy.is_none(),
        Scope::Account => account.as_deref().is_some_and(|a| !a.is_empty()) && strategy.is_none(),
        Scope::Strategy => strategy.as_deref().is_some_and(|s| !s.is_empty()) && account.is_none(),
    };
    if ok {
        if let Some(account) = account {
            validate::identifier("account", account, crate::api::ACCOUNT_MAX_CHARS)?;
        }
        if let Some(strategy) = strategy {
            validate::identifier("strategy", strategy, crate::api::STRATEGY_NAME_MAX_CHARS)?;
        }
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "invalid_scope",
            "scope all takes no target; scope account needs account; scope strategy needs strategy",
        ))
    }
}

/// Halt trading: new orders in scope are refused at once on every instance, working orders are
/// cancelled, and with `flatten` positions are closed.
#[utoipa::path(post, path = "/api/v1/halt", tag = "halt", request_body = HaltRequest, security(("bearer" = [])),
    responses((status = 201, body = Halt), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<HaltRequest>,
) -> Result<(StatusCode, Json<Halt>), ApiError> {
    target(req.scope, &req.account, &req.strategy)?;
    if req.reason.trim().is_empty() {
        return Err(ApiError::unprocessable("invalid_reason", "reason is required"));
    }
    validate::text("reason", &req.reason, crate::api::REASON_MAX_CHARS)?;
    let halt = halt::halt(
        &state.pool,
        &caller.name,
        req.scope.code(),
        req.account.as_deref(),
        req.strategy.as_deref(),
        &req.reason,
        req.flatten,
        req.reduce_only,
    )
    .await?;
    if let Err(e) = halt::cancel_halted_orders(&state.oms).await {
        tracing::warn!(error = %e, "cancelling orders after the halt failed; the watcher retries");
    }
    if req.flatten {
        match halt::flatten(&state.oms, &halt).await {
            Ok(n) => tracing::info!(orders = n, halt_id = halt.halt_id, "flatten orders placed"),
            Err(e) => tracing::error!(error = %e, halt_id = halt.halt_id, "flattening failed"),
        }
    }
    Ok((StatusCode::CREATED, Json(halt)))
}

/// Lift halts.
#[utoipa::path(post, path = "/api/v1/resume", tag = "halt", request_body = ResumeRequest, security(("bearer" = [])),
    responses((status = 200, body = Resumed), (status = 422)))]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ResumeRequest>,
) -> Result<Json<Resumed>, ApiError> {
    target(req.scope, &req.account, &req.strategy)?;
    let lifted =
        halt::resume(&state.pool, &caller.name, req.scope.code(), req.account.as_deref(), req.strategy.as_deref())
            .await?;
    Ok(Json(Resumed { lifted }))
}

/// Active halts.
#[utoipa::path(get, path = "/api/v1/halt", tag = "halt", security(("bearer" = [])), responses((status = 200, body = Vec<Halt>)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Halt>>, ApiError> {
    Ok(Json(halt::active(&state.pool).await?))
}
