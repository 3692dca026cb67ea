//! Sign-in and sign-out.
//!
//! - `GET /login`: the form, with a fresh CSRF token in a short-lived cookie (double submit).
//! - `POST /login`: checks the CSRF token, the rate limit, then the password; on success starts
//!   a session and redirects to the overview. Wrong credentials get 401, too many failures 429.
//! - `POST /logout`: ends the session (CSRF-checked) and redirects to the sign-in page.

use std::{net::SocketAddr, time::Duration};

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Router,
};
use leptos::prelude::*;
use serde::Deserialize;

use crate::{
    auth::{
        random_token, ratelimit, secrets_equal,
        session::{self, CurrentUser, LOGIN_CSRF_COOKIE, SESSION_COOKIE},
        users,
    },
    error::PageError,
    pages::{self, login::LoginPage},
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/login", get(login_form).post(login)).route("/logout", post(logout))
}

/// How long the sign-in form stays valid.
const LOGIN_FORM_TTL: Duration = Duration::from_secs(3600);

/// The sign-in page with `status`, a fresh CSRF cookie and an optional message.
fn login_page(state: &AppState, status: StatusCode, message: Option<String>, username: String) -> Response {
    let csrf = random_token();
    let cookie = session::set_cookie(LOGIN_CSRF_COOKIE, &csrf, LOGIN_FORM_TTL, state.settings.cookie_secure);
    let content = view! { <LoginPage csrf=csrf message=message username=username/> }.into_any();
    (status, [(header::SET_COOKIE, cookie)], Html(pages::document("Sign in", None, content))).into_response()
}

async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    if let Some(value) = session::cookie(&headers, SESSION_COOKIE) {
        if session::lookup(&state.pool, value).await?.is_some() {
            return Ok(Redirect::to("/").into_response());
        }
    }
    Ok(login_page(&state, StatusCode::OK, None, String::new()))
}

/// The sign-in form as posted.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let username = form.username.trim().to_ascii_lowercase();
    let expected = session::cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !secrets_equal(expected, &form.csrf) {
        tracing::warn!(%username, "sign-in rejected: CSRF token missing or wrong");
        let message = "The sign-in form expired or did not come from this site; try again.".to_owned();
        return Ok(login_page(&state, StatusCode::FORBIDDEN, Some(message), username));
    }
    let client = peer.ip().to_string();
    let limits = state.settings.login_limits;
    if let ratelimit::Verdict::Limited { retry_after_secs } =
        ratelimit::check(&state.pool, &limits, &username, &client).await?
    {
        tracing::warn!(%username, %client, "sign-in refused: too many failures");
        let minutes = retry_after_secs.div_ceil(60);
        let message = format!("Too many failed sign-ins. Try again in {minutes} minute(s).");
        let mut response = login_page(&state, StatusCode::TOO_MANY_REQUESTS, Some(message), username);
        response.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.into());
        return Ok(response);
    }
    let user = users::authenticate(&state.pool, &username, &form.password).await?;
    ratelimit::record(&state.pool, &username, &client, user.is_some()).await?;
    let Some(user) = user else {
        tracing::info!(%username, %client, "sign-in failed");
        let message = "Wrong username or password.".to_owned();
        return Ok(login_page(&state, StatusCode::UNAUTHORIZED, Some(message), username));
    };
    let value = session::create(&state.pool, user.user_id, state.settings.session_ttl).await?;
    tracing::info!(username = %user.username, role = %user.role, "signed in");
    let secure = state.settings.cookie_secure;
    let mut response = Redirect::to("/").into_response();
    let h = response.headers_mut();
    let session_cookie = session::set_cookie(SESSION_COOKIE, &value, state.settings.session_ttl, secure);
    let clear_csrf = session::set_cookie(LOGIN_CSRF_COOKIE, "", Duration::ZERO, secure);
    for c in [session_cookie, clear_csrf] {
        h.append(header::SET_COOKIE, c.parse().map_err(|e| PageError::Internal(anyhow::anyhow!("cookie: {e}")))?);
    }
    Ok(response)
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    super::check_csrf(&user, &form.csrf)?;
    session::delete(&state.pool, &user.session_hash).await?;
    tracing::info!(username = %user.username, "signed out");
    let clear = session::set_cookie(SESSION_COOKIE, "", Duration::ZERO, state.settings.cookie_secure);
    Ok(([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response())
}
