//! One router per feature, merged in [`crate::startup::router`].

pub mod assets;
pub mod auth;
pub mod backtests;
pub mod emergency;
pub mod markets;
pub mod orders;
pub mod overview;
pub mod risk;
pub mod strategies;
pub mod ticket;

use std::{convert::Infallible, future::Future, time::Duration};

use axum::{
    extract::FromRequestParts,
    http::request::Parts,
    response::{
        sse::{Event, KeepAlive, Sse},
        Html, IntoResponse, Response,
    },
};
use futures_util::Stream;
use leptos::prelude::AnyView;

use crate::{
    auth::{
        secrets_equal,
        session::{self, CurrentUser, SESSION_COOKIE},
    },
    error::PageError,
    pages::{self, Chrome, Section},
    startup::AppState,
};

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(value) = session::cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(PageError::SignInRequired);
        };
        session::lookup(&state.pool, value).await?.ok_or(PageError::SignInRequired)
    }
}

/// Fails unless the posted token is the session's CSRF token.
pub fn check_csrf(user: &CurrentUser, posted: &str) -> Result<(), PageError> {
    if secrets_equal(&user.csrf, posted) {
        Ok(())
    } else {
        tracing::warn!(user = %user.username, "form rejected: CSRF token missing or wrong");
        Err(PageError::Csrf)
    }
}

/// Fails with 403 unless the user may trade (traders and admins); `action` completes "may not
/// …" in the answer, e.g. `place orders`.
pub fn require_trader(user: &CurrentUser, action: &str) -> Result<(), PageError> {
    if user.role.can_trade() {
        Ok(())
    } else {
        tracing::warn!(user = %user.username, role = %user.role, action, "refused: not a trader");
        Err(PageError::Forbidden(format!("Your role ({}) may not {action}; ask a trader.", user.role)))
    }
}

/// Renders a signed-in page: the shell (with the current halts) around `content`.
pub async fn signed_in_page(
    state: &AppState,
    user: CurrentUser,
    section: Section,
    title: &str,
    content: AnyView,
) -> Response {
    let halts = state.engine.halts().await.map_err(|e| e.to_string());
    Html(pages::document(title, Some(Chrome { user, halts, section }), content)).into_response()
}

/// How often a live stream ([`changes`]) asks the engine again.
pub const LIVE_REFRESH: Duration = Duration::from_secs(1);

/// A server-sent event stream of events named `name`: what `load` answers, as JSON, at once and
/// then whenever it changes (asked every [`LIVE_REFRESH`]), until the server stops. A browser's
/// `EventSource` reconnects by itself after the `retry` delay it carries.
pub fn changes<T, F, Fut>(state: AppState, name: &'static str, load: F) -> Response
where
    T: serde::Serialize + 'static,
    F: Fn(AppState) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    Sse::new(change_events(state, name, load)).keep_alive(KeepAlive::default()).into_response()
}

fn change_events<T, F, Fut>(
    state: AppState,
    name: &'static str,
    load: F,
) -> impl Stream<Item = Result<Event, Infallible>>
where
    T: serde::Serialize + 'static,
    F: Fn(AppState) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    futures_util::stream::unfold((state, load, None::<String>), move |(state, load, last)| async move {
        if last.is_some() && !pause(&state).await {
            return None;
        }
        loop {
            let json = match serde_json::to_string(&load(state.clone()).await) {
                Ok(json) => json,
                Err(e) => {
                    tracing::error!(error = %e, event = name, "live event not serializable");
                    return None;
                }
            };
            if last.as_deref() != Some(json.as_str()) {
                let event = Event::default().event(name).retry(Duration::from_secs(2)).data(json.clone());
                return Some((Ok(event), (state, load, Some(json))));
            }
            if !pause(&state).await {
                return None;
            }
        }
    })
}

/// Waits [`LIVE_REFRESH`]; false when the server is stopping instead.
async fn pause(state: &AppState) -> bool {
    tokio::select! {
        () = state.stop.cancelled() => false,
        () = tokio::time::sleep(LIVE_REFRESH) => true,
    }
}
