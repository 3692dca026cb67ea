//! One router per feature, merged in [`crate::startup::router`].

pub mod assets;
pub mod auth;
pub mod emergency;
pub mod markets;
pub mod orders;
pub mod overview;
pub mod risk;
pub mod strategies;
pub mod ticket;

use axum::{
    extract::FromRequestParts,
    http::request::Parts,
    response::{Html, IntoResponse, Response},
};
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
