//! Orders:
//! - `GET /orders?before=N`: every order, newest first, 50 a page.
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

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(orders))
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
