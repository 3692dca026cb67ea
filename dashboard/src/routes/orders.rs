//! Orders:
//! - `GET /orders?before=N`: every order, newest first, 50 a page.
//! - `GET /orders/export.csv`: every order (newest first, at most [`EXPORT_MAX`]) as CSV.
//! - `GET /orders/{id}`: one order with its event log.
//! - `POST /orders/{id}/cancel` (`csrf`; traders and admins): asks the engine to cancel it, then
//!   shows it again.

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Router,
};
use leptos::prelude::*;
use serde::Deserialize;

use crate::{
    auth::session::CurrentUser,
    error::PageError,
    pages::{order_detail::OrderDetailPage, orders::OrdersPage, Section},
    startup::AppState,
};

/// Orders per page.
pub const PAGE_SIZE: i64 = 50;

/// Most orders in one CSV export; the engine is read 500 at a time.
pub const EXPORT_MAX: usize = 10_000;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(orders))
        .route("/orders/export.csv", get(export))
        .route("/orders/{id}", get(order))
        .route("/orders/{id}/cancel", post(cancel))
}

#[derive(Debug, Deserialize)]
struct OrdersQuery {
    before: Option<i64>,
}

async fn orders(State(state): State<AppState>, user: CurrentUser, Query(q): Query<OrdersQuery>) -> Response {
    let page = state.engine.orders(None, q.before, PAGE_SIZE).await.map_err(|e| e.to_string());
    let content = view! { <OrdersPage page=page first=q.before.is_none() can_trade=user.role.can_trade()/> }.into_any();
    super::signed_in_page(&state, user, Section::Orders, "Orders", content).await
}

async fn order(State(state): State<AppState>, user: CurrentUser, Path(id): Path<i64>) -> Result<Response, PageError> {
    let detail =
        state.engine.order(id).await?.ok_or_else(|| PageError::NotFound(format!("There is no order {id}.")))?;
    let csrf = user.role.can_trade().then(|| user.csrf.clone());
    let content = view! { <OrderDetailPage detail=detail csrf=csrf/> }.into_any();
    Ok(super::signed_in_page(&state, user, Section::Orders, &format!("Order {id}"), content).await)
}

async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<super::auth::CsrfForm>,
) -> Result<Response, PageError> {
    if !user.role.can_trade() {
        tracing::warn!(user = %user.username, role = %user.role, "order cancel refused: not a trader");
        return Err(PageError::Forbidden(format!("Your role ({}) may not cancel orders; ask a trader.", user.role)));
    }
    super::check_csrf(&user, &form.csrf)?;
    let order = state.engine.cancel_order(id).await?;
    tracing::info!(user = %user.username, order_id = id, status = %order.status, "order cancel requested from the dashboard");
    Ok(Redirect::to(&format!("/orders/{id}")).into_response())
}

/// One CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
pub fn csv_field(value: &str) -> String {
    let value = match value.chars().next() {
        Some('=' | '+' | '-' | '@') if value.parse::<rust_decimal::Decimal>().is_err() => format!("'{value}"),
        _ => value.to_owned(),
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

async fn export(State(state): State<AppState>, user: CurrentUser) -> Result<Response, PageError> {
    let mut orders = Vec::new();
    let mut before = None;
    loop {
        let page = state.engine.orders(None, before, 500).await?;
        orders.extend(page.orders);
        match page.next_before {
            Some(b) if orders.len() < EXPORT_MAX => before = Some(b),
            _ => break,
        }
    }
    orders.truncate(EXPORT_MAX);
    let mut csv = String::from(
        "order_id,created_at,account,strategy,symbol,side,order_type,limit_price,qty,filled_qty,avg_fill_price,status,reject_reason\r\n",
    );
    for o in &orders {
        let opt = |d: Option<rust_decimal::Decimal>| d.map(|d| d.normalize().to_string()).unwrap_or_default();
        let fields = [
            o.order_id.to_string(),
            o.created_at.to_rfc3339(),
            o.account.clone(),
            o.strategy.clone(),
            o.symbol.clone(),
            o.side.clone(),
            o.order_type.clone(),
            opt(o.limit_price),
            o.qty.normalize().to_string(),
            o.filled_qty.normalize().to_string(),
            opt(o.avg_fill_price),
            o.status.clone(),
            o.reject_reason.clone().unwrap_or_default(),
        ];
        csv.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        csv.push_str("\r\n");
    }
    tracing::info!(user = %user.username, rows = orders.len(), "orders exported as CSV");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"orders.csv\""),
        ],
        csv,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_when_needed_and_never_start_a_formula() {
        assert_eq!(csv_field("demo"), "demo");
        assert_eq!(csv_field("-2.5"), "-2.5", "a negative number stays a number");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
