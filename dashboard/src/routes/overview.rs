//! The overview.
//!
//! - `GET /`: the page.
//! - `GET /overview/live` (server-sent events, signed-in users only): a `snapshot` event with
//!   the overview's live part (trading state, open positions, working orders; JSON of
//!   [`OverviewSnapshot`]) at once, then again whenever it changes; the engine is asked every
//!   [`super::LIVE_REFRESH`]. The wasm client's overview island listens to it.

use axum::{extract::State, response::Response, routing::get, Router};
use leptos::prelude::*;

use crate::{
    auth::session::CurrentUser,
    clients::Health,
    live::rows::{OverviewSnapshot, TradingState},
    pages::{
        overview::{OverviewPage, ServiceHealth},
        Section,
    },
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(overview)).route("/overview/live", get(live))
}

async fn dashboard_health(state: &AppState) -> Health {
    let check = tokio::time::timeout(std::time::Duration::from_secs(2), platform::db::schema_status(&state.pool)).await;
    match check {
        Ok(Ok(platform::db::SchemaStatus::Current)) => Health::Ready,
        Ok(Ok(platform::db::SchemaStatus::Behind(m))) => Health::NotReady(format!("migrations {m:?} not applied")),
        Ok(Err(e)) => Health::NotReady(format!("database: {e}")),
        Err(_) => Health::NotReady("database did not answer within 2 s".to_owned()),
    }
}

/// The overview's live part as the engine reports it now.
async fn snapshot(state: &AppState) -> OverviewSnapshot {
    let (halts, positions, working) =
        tokio::join!(state.engine.halts(), state.engine.positions(), state.engine.working_orders());
    OverviewSnapshot {
        trading: TradingState::from_halts(&halts.map_err(|e| e.to_string())),
        positions: positions.map(|p| p.into_iter().map(Into::into).collect()).map_err(|e| e.to_string()),
        working: working.map(|o| o.into_iter().map(Into::into).collect()).map_err(|e| e.to_string()),
    }
}

async fn overview(State(state): State<AppState>, user: CurrentUser) -> Response {
    let (engine, market, own, live) =
        tokio::join!(state.engine.health(), state.market.health(), dashboard_health(&state), snapshot(&state));
    let services = vec![
        ServiceHealth { name: "engine", health: engine },
        ServiceHealth { name: "data-service", health: market },
        ServiceHealth { name: "dashboard", health: own },
    ];
    let content = view! { <OverviewPage services=services live=live/> }.into_any();
    super::signed_in_page(&state, user, Section::Overview, "Overview", content).await
}

async fn live(State(state): State<AppState>, _user: CurrentUser) -> Response {
    super::changes(state, "snapshot", |state| async move { snapshot(&state).await })
}
