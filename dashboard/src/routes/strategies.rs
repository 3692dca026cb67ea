//! Strategies:
//! - `GET /strategies`: every strategy with its parameters, state and P&L
//!   (`GET /api/v1/pnl?strategy=NAME`, loaded concurrently).
//! - `POST /strategies/{name}/enable`, `POST /strategies/{name}/disable` (`csrf`; admins only):
//!   start or stop it through the engine, then back to the list.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Router,
};
use leptos::prelude::*;

use crate::{
    auth::session::CurrentUser,
    error::PageError,
    pages::{
        strategies::{StrategiesPage, StrategyLine},
        Section,
    },
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/strategies", get(strategies))
        .route("/strategies/{name}/enable", post(enable))
        .route("/strategies/{name}/disable", post(disable))
}

async fn strategies(State(state): State<AppState>, user: CurrentUser) -> Response {
    let lines = match state.engine.strategies().await {
        Ok(list) => {
            let pnls = futures_util::future::join_all(list.iter().map(|s| state.engine.strategy_pnl(&s.name))).await;
            Ok(list
                .into_iter()
                .zip(pnls)
                .map(|(strategy, pnl)| StrategyLine { strategy, pnl: pnl.map_err(|e| e.to_string()) })
                .collect())
        }
        Err(e) => Err(e.to_string()),
    };
    let csrf = user.role.can_administer().then(|| user.csrf.clone());
    let content = view! { <StrategiesPage lines=lines csrf=csrf/> }.into_any();
    super::signed_in_page(&state, user, Section::Strategies, "Strategies", content).await
}

/// Whether `name` can be a strategy's name (the engine's rule, `[a-z0-9][a-z0-9_-]{0,63}`); a
/// name from the URL goes into the engine's path only if it is, so it cannot reach another
/// endpoint with the dashboard's token.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

async fn set_enabled(
    state: AppState,
    user: CurrentUser,
    name: String,
    csrf: String,
    enabled: bool,
) -> Result<Response, PageError> {
    if !user.role.can_administer() {
        tracing::warn!(user = %user.username, role = %user.role, "strategy change refused: not an admin");
        return Err(PageError::Forbidden(format!(
            "Your role ({}) may not start or stop strategies; ask an admin.",
            user.role
        )));
    }
    super::check_csrf(&user, &csrf)?;
    if !valid_name(&name) {
        return Err(PageError::NotFound(format!("There is no strategy {name:?}.")));
    }
    state.engine.set_strategy_enabled(&name, enabled).await?;
    tracing::warn!(user = %user.username, strategy = %name, enabled, "strategy state changed from the dashboard");
    Ok(Redirect::to("/strategies").into_response())
}

async fn enable(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    Form(form): Form<super::auth::CsrfForm>,
) -> Result<Response, PageError> {
    set_enabled(state, user, name, form.csrf, true).await
}

async fn disable(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    Form(form): Form<super::auth::CsrfForm>,
) -> Result<Response, PageError> {
    set_enabled(state, user, name, form.csrf, false).await
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn only_names_the_engine_allows_are_passed_on_so_a_path_cannot_escape() {
        assert!(valid_name("demo-sma"));
        assert!(valid_name("e2e_tv2"));
        for bad in ["", "../halt", "a/b", "Demo", "-x", "a b", "a%2fb", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
