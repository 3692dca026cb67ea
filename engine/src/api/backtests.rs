//! Backtests over HTTP: start a job, watch it, read its results.

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use platform::http::{validate, ApiError, ApiJson, ApiPath, ApiQuery};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    auth::Caller,
    backtests::{
        jobs::{self, Created, JobView, TradeRow},
        BacktestRequest,
    },
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/backtests", get(list).post(create))
        .route("/api/v1/backtests/{id}", get(get_one))
        .route("/api/v1/backtests/{id}/trades", get(trades))
        .route("/api/v1/backtests/{id}/equity", get(equity))
        .route("/api/v1/backtests/{id}/report", get(report))
}

/// Longest accepted `Idempotency-Key`.
const MAX_KEY_LEN: usize = 200;

/// Start a backtest. The job is queued at once (202) and run by an engine's worker; poll
/// `GET /api/v1/backtests/{id}` for its status and progress. With an `Idempotency-Key`
/// header, a retry returns the job the first request created.
#[utoipa::path(post, path = "/api/v1/backtests", tag = "backtests", request_body = BacktestRequest,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    responses((status = 202, body = JobView), (status = 409, description = "key reused for another request"), (status = 422)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(request): ApiJson<BacktestRequest>,
) -> Result<Response, ApiError> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => match value.to_str() {
            Ok(key) if !key.is_empty() && key.len() <= MAX_KEY_LEN => Some(key.to_owned()),
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_idempotency_key",
                    format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
                ))
            }
        },
    };
    request.validate().map_err(|e| ApiError::unprocessable("invalid_backtest", e.to_string()))?;
    let stored = serde_json::to_value(&request).map_err(|e| ApiError::Internal(e.into()))?;
    validate::json("the backtest request", &stored)?;
    let job = match jobs::create(&state.pool, &stored, &caller.name, key.as_deref()).await? {
        Created::New(job) => {
            state.backtest_wake.notify_one();
            tracing::info!(job_id = %job.id, strategy = %request.strategy, symbol = %request.symbol, "backtest queued");
            job
        }
        Created::Existing(job) => job,
        Created::KeyReused => {
            return Err(ApiError::Conflict("this Idempotency-Key was used for a different backtest request".into()))
        }
    };
    let location = format!("/api/v1/backtests/{}", job.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(job)).into_response())
}

/// Paging of the job list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// Most jobs to return (1 to 200, default 50).
    pub limit: Option<i64>,
}

/// Backtest jobs, newest first.
#[utoipa::path(get, path = "/api/v1/backtests", tag = "backtests", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = [JobView])))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<JobView>>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", "limit must be between 1 and 200"));
    }
    Ok(Json(jobs::list(&state.pool, limit).await?))
}

fn job_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::bad_request("invalid_id", format!("{raw:?} is not a backtest id (a UUID)")))
}

async fn job(state: &AppState, raw: &str) -> Result<JobView, ApiError> {
    let id = job_id(raw)?;
    jobs::get(&state.pool, &id).await?.ok_or_else(|| ApiError::NotFound(format!("no backtest {id}")))
}

async fn succeeded(state: &AppState, raw: &str) -> Result<JobView, ApiError> {
    let job = job(state, raw).await?;
    if job.status != "succeeded" {
        return Err(ApiError::Conflict(format!(
            "backtest {} is {}; results exist once it succeeded",
            job.id, job.status
        )));
    }
    Ok(job)
}

/// One job: status, progress, and once succeeded its summary.
#[utoipa::path(get, path = "/api/v1/backtests/{id}", tag = "backtests", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = JobView), (status = 404)))]
pub async fn get_one(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Json<JobView>, ApiError> {
    Ok(Json(job(&state, &id).await?))
}

/// Every round trip of a succeeded job, in order.
#[utoipa::path(get, path = "/api/v1/backtests/{id}/trades", tag = "backtests", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = [TradeRow]), (status = 409, description = "not succeeded")))]
pub async fn trades(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Vec<TradeRow>>, ApiError> {
    succeeded(&state, &id).await?;
    Ok(Json(jobs::trades(&state.pool, &job_id(&id)?).await?))
}

async fn stored_file(state: &AppState, id: &str, file: &str, content_type: &'static str) -> Result<Response, ApiError> {
    let job = succeeded(state, id).await?;
    let key = format!("{}{file}", job.result_prefix);
    let body = state.store.get(&key).await.map_err(|error| {
        tracing::warn!(%error, "cannot read backtest result");
        ApiError::Unavailable(format!("the result store cannot be read right now ({file}); retry shortly"))
    })?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

/// `equity.csv` of a succeeded job (`ts,equity,drawdown` per bar).
#[utoipa::path(get, path = "/api/v1/backtests/{id}/equity", tag = "backtests", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, content_type = "text/csv"), (status = 409)))]
pub async fn equity(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    stored_file(&state, &id, "equity.csv", "text/csv; charset=utf-8").await
}

/// The HTML report of a succeeded job (summary table, equity and drawdown chart).
#[utoipa::path(get, path = "/api/v1/backtests/{id}/report", tag = "backtests", params(("id" = String, Path)),
    security(("bearer" = [])), responses((status = 200, content_type = "text/html"), (status = 409)))]
pub async fn report(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Response, ApiError> {
    stored_file(&state, &id, "report.html", "text/html; charset=utf-8").await
}
