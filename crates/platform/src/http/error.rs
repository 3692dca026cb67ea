use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// An error answered to an HTTP client as `{"error": {"code": "...", "message": "..."}}`.
///
/// Client mistakes carry their own status and a message that says what is wrong. Internal
/// failures are logged with their cause and answered with a generic 500 body, so database or
/// infrastructure details never reach the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or a parameter is out of range (400).
    #[error("{message}")]
    BadRequest {
        /// Machine-readable code, e.g. `invalid_range`.
        code: &'static str,
        /// What is wrong, for a person.
        message: String,
    },
    /// The request is well-formed but its content cannot be processed (422).
    #[error("{message}")]
    Unprocessable {
        /// Machine-readable code.
        code: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Credentials are missing or wrong (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit (413).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A dependency (the database) is unavailable right now (503).
    #[error("{0}")]
    Unavailable(String),
    /// An unexpected failure; logged, answered generically (500).
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    /// A 422 with a code and message.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable { code, message: message.into() }
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of the body (`invalid_json`, `unauthorized`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::Unprocessable { code, .. } => code,
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        crate::db::report_error(&e);
        if crate::db::is_auth_failure(&e) {
            // A rotated password: the credential refresh is under way; the caller may retry.
            return Self::Unavailable("the database is unavailable; retry shortly".to_owned());
        }
        if let sqlx::Error::Database(db) = &e {
            // Class 22, "data exception": a value the database cannot hold (NUL in text,
            // `\u0000` in jsonb, a number beyond its column). Inputs are validated before any
            // query (see `validate`); this keeps one that slipped through a client error.
            if db.code().is_some_and(|code| code.starts_with("22")) {
                tracing::warn!(error = %db, "a request value was refused by the database");
                return Self::unprocessable("invalid_value", format!("a value does not fit: {}", db.message()));
            }
        }
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(error = %e, "database unavailable");
                Self::Unavailable("the database is unavailable; retry shortly".to_owned())
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            Self::Internal(cause) => {
                tracing::error!(error = ?cause, "request failed");
                "an internal error occurred".to_owned()
            }
            other => other.to_string(),
        };
        (status, Json(json!({"error": {"code": self.code(), "message": message}}))).into_response()
    }
}
