//! Daily reports over HTTP: which days exist, and one day's report.

use axum::{
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use chrono::NaiveDate;
use platform::http::{ApiError, ApiPath};

use crate::{
    reports::{self, Published},
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/reports/daily", get(list)).route("/api/v1/reports/daily/{date}", get(get_one))
}

/// The daily reports written, newest first (at most 366).
#[utoipa::path(get, path = "/api/v1/reports/daily", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = [Published])))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<Published>>, ApiError> {
    Ok(Json(reports::list(&state.pool, 366).await?))
}

/// One day's report: `YYYY-MM-DD` for the JSON document, `YYYY-MM-DD.html` for the page.
#[utoipa::path(get, path = "/api/v1/reports/daily/{date}", tag = "reports", params(("date" = String, Path)),
    security(("bearer" = [])), responses((status = 200, body = reports::DailyReport), (status = 404)))]
pub async fn get_one(State(state): State<AppState>, ApiPath(date): ApiPath<String>) -> Result<Response, ApiError> {
    let (day, html) = match date.strip_suffix(".html") {
        Some(day) => (day, true),
        None => (date.strip_suffix(".json").unwrap_or(&date), false),
    };
    let day = NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request("invalid_date", format!("{date:?} is not YYYY-MM-DD[.html]")))?;
    let written: Option<String> = sqlx::query_scalar("select json_key from daily_report where day = $1")
        .bind(day)
        .fetch_optional(&state.pool)
        .await?;
    if written.is_none() {
        return Err(ApiError::NotFound(format!("no daily report for {day} (days are reported once closed)")));
    }
    let (json_key, html_key) = reports::object_keys(day);
    let (key, content_type) =
        if html { (html_key, "text/html; charset=utf-8") } else { (json_key, "application/json") };
    let body = state.store.get(&key).await.map_err(|error| {
        tracing::warn!(%error, "cannot read a daily report");
        ApiError::Unavailable("the report store cannot be read right now; retry shortly".into())
    })?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}
