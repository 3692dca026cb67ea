//! The error type at the HTTP edge: every handler returns `Result<_, PageError>`, answered as an
//! HTML page with the right status (or a redirect to sign-in). Internal causes are logged, not
//! shown.

use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
};
use leptos::prelude::*;

use crate::{
    clients::UpstreamError,
    pages::{self, error::ErrorPage},
};

/// Why a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// No valid session: answered with a redirect to the sign-in page.
    #[error("sign in first")]
    SignInRequired,
    /// The user's role does not allow this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The form's CSRF token is missing or wrong (403).
    #[error("the form expired or did not come from this site; reload the page and try again")]
    Csrf,
    /// No such thing (404).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The engine or data-service failed (502), or refused the request: a refusal about the
    /// request itself (400, 404, 409, 422) keeps its status, so the trader sees why.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Anything else (500, logged).
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        platform::db::report_error(&e);
        Self::Internal(e.into())
    }
}

impl From<crate::auth::users::UserError> for PageError {
    fn from(e: crate::auth::users::UserError) -> Self {
        Self::Internal(e.into())
    }
}

impl PageError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::SignInRequired => StatusCode::SEE_OTHER,
            Self::Forbidden(_) | Self::Csrf => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Upstream(e) => match refusal_status(e) {
                Some(status) => status,
                None => StatusCode::BAD_GATEWAY,
            },
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The status to answer with when the engine or data-service refused the request itself (bad
/// input, no such thing, a conflict with its state): the refusal is the answer, not a failure of
/// the service. Authentication (401/403) and rate limits (429) are about the dashboard's own
/// credentials and load, so they stay a 502.
fn refusal_status(e: &UpstreamError) -> Option<StatusCode> {
    match e {
        UpstreamError::Status { status: status @ (400 | 404 | 409 | 422), .. } => StatusCode::from_u16(*status).ok(),
        _ => None,
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (title, message) = match &self {
            Self::SignInRequired => return Redirect::to("/login").into_response(),
            Self::Internal(cause) => {
                tracing::error!(error = ?cause, "request failed");
                ("Internal error", "Something went wrong; it has been logged.".to_owned())
            }
            Self::Upstream(e @ UpstreamError::Status { message, .. }) if refusal_status(e).is_some() => {
                tracing::info!(error = %e, "upstream refused the request");
                ("Request refused", message.clone())
            }
            Self::Upstream(e) => {
                tracing::warn!(error = %e, "upstream call failed");
                ("Service unavailable", e.to_string())
            }
            Self::Forbidden(_) | Self::Csrf => ("Forbidden", self.to_string()),
            Self::NotFound(_) => ("Not found", self.to_string()),
            Self::BadRequest(_) => ("Bad request", self.to_string()),
        };
        let content = view! { <ErrorPage status=status.as_u16() title=title.to_owned() message=message/> }.into_any();
        (status, Html(pages::document(title, None, content))).into_response()
    }
}
