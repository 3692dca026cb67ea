//! Bearer API tokens. A token is 32 random bytes shown once (hex); only its sha256 is stored,
//! so a database dump does not yield working credentials. Every route except health and the
//! webhook requires one; the token's name is the actor in the audit log.

use axum::{
    extract::{FromRequestParts, Request, State},
    http::request::Parts,
    middleware::Next,
    response::Response,
};
use platform::http::ApiError;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::startup::AppState;

/// The authenticated caller, available to handlers behind [`require_token`].
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's name.
    pub name: String,
}

/// sha256 of `secret`.
pub fn hash(secret: &[u8]) -> Vec<u8> {
    Sha256::digest(secret).to_vec()
}

/// Why a token could not be created.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The name is taken.
    #[error("a token named {0:?} already exists")]
    NameTaken(String),
    /// The name is empty or too long.
    #[error("token name must be 1 to 64 characters")]
    BadName,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Creates a token named `name` and returns it (the only time it is visible).
pub async fn create_token(pool: &PgPool, name: &str) -> Result<String, TokenError> {
    if name.trim().is_empty() || name.len() > 64 {
        return Err(TokenError::BadName);
    }
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = format!("hly_{}", hex::encode(bytes));
    let inserted =
        sqlx::query("insert into api_token (name, token_hash) values ($1, $2) on conflict (name) do nothing")
            .bind(name)
            .bind(hash(token.as_bytes()))
            .execute(pool)
            .await?;
    if inserted.rows_affected() == 0 {
        return Err(TokenError::NameTaken(name.to_owned()));
    }
    Ok(token)
}

/// Middleware: answers 401 unless the request carries `Authorization: Bearer <valid token>`.
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request.headers().get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim) else {
        return Err(ApiError::Unauthorized("missing bearer token: send Authorization: Bearer <token>".into()));
    };
    let name: Option<String> =
        sqlx::query_scalar("select name from api_token where token_hash = $1 and revoked_at is null")
            .bind(hash(token.as_bytes()))
            .fetch_optional(&state.pool)
            .await?;
    let Some(name) = name else {
        return Err(ApiError::Unauthorized("invalid or revoked API token".into()));
    };
    request.extensions_mut().insert(Caller { name });
    Ok(next.run(request).await)
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| ApiError::Unauthorized("missing bearer token".into()))
    }
}
