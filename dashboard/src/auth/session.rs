//! Sessions: a random cookie value whose sha256 is the key of a `dashboard_session` row, with
//! an expiry and the session's CSRF token. Cookies are `HttpOnly`, `SameSite=Strict`, `Path=/`
//! and (by default) `Secure`.

use std::time::Duration;

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::{random_token, Role};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "halyard_session";
/// Name of the cookie that carries the sign-in form's CSRF token (double submit: the form
/// posts it back, and a cross-site page can neither read nor set it).
pub const LOGIN_CSRF_COOKIE: &str = "halyard_login_csrf";

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// User id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// This session's CSRF token; every form posts it back.
    pub csrf: String,
    /// sha256 of the session cookie (to end the session).
    pub session_hash: Vec<u8>,
}

fn hash(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// Starts a session for `user_id`; returns the cookie value (never stored).
pub async fn create(pool: &PgPool, user_id: i64, ttl: Duration) -> Result<String, sqlx::Error> {
    let value = random_token();
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(12));
    sqlx::query(
        "insert into dashboard_session (session_hash, user_id, csrf_token, expires_at) values ($1, $2, $3, now() + $4)",
    )
    .bind(hash(&value))
    .bind(user_id)
    .bind(random_token())
    .bind(ttl)
    .execute(pool)
    .await?;
    // Expired sessions are swept as new ones start, so the table stays small.
    sqlx::query("delete from dashboard_session where expires_at < now() - interval '1 day'").execute(pool).await?;
    Ok(value)
}

/// The user of a live session cookie value, or `None`.
pub async fn lookup(pool: &PgPool, value: &str) -> Result<Option<CurrentUser>, sqlx::Error> {
    let session_hash = hash(value);
    let row: Option<(i64, String, String, String)> = sqlx::query_as(
        "select u.user_id, u.username, u.role, s.csrf_token from dashboard_session s
           join dashboard_user u using (user_id)
          where s.session_hash = $1 and s.expires_at > now() and u.disabled_at is null",
    )
    .bind(&session_hash)
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(user_id, username, role, csrf)| {
        Some(CurrentUser { user_id, username, role: role.parse().ok()?, csrf, session_hash })
    }))
}

/// Ends a session.
pub async fn delete(pool: &PgPool, session_hash: &[u8]) -> Result<(), sqlx::Error> {
    sqlx::query("delete from dashboard_session where session_hash = $1").bind(session_hash).execute(pool).await?;
    Ok(())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for `name=value` that lives `max_age` (zero deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn cookies_are_found_among_several_headers_and_pairs() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; halyard_session=abc"));
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "c"), None);
    }

    #[test]
    fn session_cookies_are_http_only_strict_and_secure() {
        let c = set_cookie(SESSION_COOKIE, "v", Duration::from_secs(60), true);
        assert_eq!(c, "halyard_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure");
    }
}
