//! `GET /orders?before=N`: every order, newest first, 50 a page.

use axum::{
    extract::{Query, State},
    response::Response,
    routing::get,
    Router,
};
use leptos::prelude::*;
use serde::Deserialize;

use crate::{
    auth::session::CurrentUser,
    pages::{orders::OrdersPage, Section},
    startup::AppState,
};

/// Orders per page.
pub const PAGE_SIZE: i64 = 50;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/orders", get(orders))
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
