//! The emergency controls: HALT ALL and resume, each behind a confirmation page. Only traders
//! and admins may see or use them; the server refuses viewers with 403 whatever they send.
//!
//! - `GET /halt/confirm`, `GET /resume/confirm`: the confirmation forms.
//! - `POST /halt` (`csrf`, `reason`, optional `flatten` and `reduce_only`): halts all trading through the engine,
//!   recording the dashboard user in the reason, then redirects to the overview.
//! - `POST /resume` (`csrf`): lifts the global halt.
//! - `GET /halts/live` (server-sent events, any signed-in user): a `trading` event with the halt
//!   state (JSON of [`TradingState`]) at once and whenever it changes; the top bar's island on
//!   every page listens to it.

use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Router,
};
use leptos::prelude::*;
use serde::Deserialize;

use crate::{
    auth::session::CurrentUser,
    error::PageError,
    live::rows::TradingState,
    pages::{
        confirm::{Action, ConfirmPage},
        Section,
    },
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/halt/confirm", get(confirm_halt))
        .route("/resume/confirm", get(confirm_resume))
        .route("/halt", post(halt))
        .route("/resume", post(resume))
        .route("/halts/live", get(live))
}

async fn live(State(state): State<AppState>, _user: CurrentUser) -> Response {
    super::changes(state, "trading", |state| async move {
        TradingState::from_halts(&state.engine.halts().await.map_err(|e| e.to_string()))
    })
}

async fn confirm(state: AppState, user: CurrentUser, action: Action) -> Result<Response, PageError> {
    super::require_trader(&user, "halt or resume trading")?;
    let title = match action {
        Action::Halt => "Confirm HALT ALL",
        Action::Resume => "Confirm resume",
    };
    let content = view! { <ConfirmPage action=action csrf=user.csrf.clone()/> }.into_any();
    Ok(super::signed_in_page(&state, user, Section::None, title, content).await)
}

async fn confirm_halt(State(state): State<AppState>, user: CurrentUser) -> Result<Response, PageError> {
    confirm(state, user, Action::Halt).await
}

async fn confirm_resume(State(state): State<AppState>, user: CurrentUser) -> Result<Response, PageError> {
    confirm(state, user, Action::Resume).await
}

/// The confirmed halt form.
#[derive(Debug, Deserialize)]
pub struct HaltForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    flatten: Option<String>,
    #[serde(default)]
    reduce_only: Option<String>,
}

async fn halt(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<HaltForm>,
) -> Result<Response, PageError> {
    super::require_trader(&user, "halt or resume trading")?;
    super::check_csrf(&user, &form.csrf)?;
    let reason = form.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(PageError::BadRequest("A reason of 1 to 200 characters is required.".to_owned()));
    }
    if reason.chars().any(char::is_control) {
        return Err(PageError::BadRequest("The reason may not contain control characters or line breaks.".to_owned()));
    }
    let checked = |v: &Option<String>| v.as_deref().is_some_and(|v| v == "true" || v == "on");
    let (flatten, reduce_only) = (checked(&form.flatten), checked(&form.reduce_only));
    let recorded = format!("{reason} [dashboard user {}]", user.username);
    let halt = state.engine.halt_all(&recorded, flatten, reduce_only).await?;
    tracing::warn!(user = %user.username, halt_id = halt.halt_id, flatten, reduce_only, reason, "HALT ALL from the dashboard");
    Ok(Redirect::to("/").into_response())
}

async fn resume(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<super::auth::CsrfForm>,
) -> Result<Response, PageError> {
    super::require_trader(&user, "halt or resume trading")?;
    super::check_csrf(&user, &form.csrf)?;
    let lifted = state.engine.resume_all().await?;
    tracing::warn!(user = %user.username, lifted, "trading resumed from the dashboard");
    Ok(Redirect::to("/").into_response())
}
