//! `GET /`: the overview.

use axum::{extract::State, response::Response, routing::get, Router};
use leptos::prelude::*;

use crate::{
    auth::session::CurrentUser,
    clients::Health,
    pages::{
        overview::{OverviewPage, ServiceHealth},
        Section,
    },
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(overview))
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

async fn overview(State(state): State<AppState>, user: CurrentUser) -> Response {
    let (engine, market, own, positions, working) = tokio::join!(
        state.engine.health(),
        state.market.health(),
        dashboard_health(&state),
        state.engine.positions(),
        state.engine.working_orders(),
    );
    let services = vec![
        ServiceHealth { name: "engine", health: engine },
        ServiceHealth { name: "data-service", health: market },
        ServiceHealth { name: "dashboard", health: own },
    ];
    let content = view! {
        <OverviewPage services=services positions=positions.map_err(|e| e.to_string())
            working=working.map_err(|e| e.to_string())/>
    }
    .into_any();
    super::signed_in_page(&state, user, Section::Overview, "Overview", content).await
}
