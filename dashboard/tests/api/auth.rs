//! Sign-in, sessions, CSRF and the sign-in rate limit.

use std::time::Duration;

use dashboard::{auth::Role, configuration::LoginLimits};

use crate::helpers::{TestApp, PASSWORD};

#[tokio::test]
async fn pages_redirect_to_sign_in_without_a_session() {
    let app = TestApp::spawn().await;
    let mut b = app.browser();
    for path in ["/", "/markets", "/orders", "/halt/confirm"] {
        let page = b.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location.as_deref(), Some("/login"), "{path}");
    }
}

#[tokio::test]
async fn sign_in_with_the_right_password_starts_a_secure_session() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    let answer = b.sign_in("alice", PASSWORD).await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location.as_deref(), Some("/"));
    let cookie = answer.set_cookies.iter().find(|c| c.starts_with("halyard_session=")).expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    let overview = b.get("/").await;
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains("alice (trader)"));
    let stored: i64 =
        sqlx::query_scalar("select count(*) from dashboard_session").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_a_session() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    let answer = b.sign_in("alice", "not the password at all").await;
    assert_eq!(answer.status, 401);
    assert!(answer.body.contains("Wrong username or password."));
    assert!(!b.has_session());
    let unknown = b.sign_in("mallory", PASSWORD).await;
    assert_eq!(unknown.status, 401, "an unknown user gets the same answer");
    assert!(unknown.body.contains("Wrong username or password."));
}

#[tokio::test]
async fn sign_in_is_refused_after_too_many_failures_even_with_the_right_password() {
    let app = TestApp::spawn_with(LoginLimits { per_user: 3, per_client: 100, window: Duration::from_secs(900) }).await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    for _ in 0..3 {
        assert_eq!(b.sign_in("alice", "wrong password guess").await.status, 401);
    }
    let limited = b.sign_in("alice", PASSWORD).await;
    assert_eq!(limited.status, 429);
    assert!(limited.body.contains("Too many failed sign-ins"));
    assert!(!b.has_session());
    // Another user from elsewhere is not affected by alice's limit.
    app.user("bob", Role::Viewer).await;
    assert_eq!(app.browser().sign_in("bob", PASSWORD).await.status, 303);
}

#[tokio::test]
async fn sign_in_without_the_forms_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.get("/login").await;
    let forged = b.post("/login", &[("csrf", "forged"), ("username", "alice"), ("password", PASSWORD)]).await;
    assert_eq!(forged.status, 403);
    assert!(!b.has_session());
    // A cross-site post carries no cookie at all (SameSite=Strict): refused too.
    let mut stranger = app.browser();
    let blind = stranger.post("/login", &[("csrf", ""), ("username", "alice"), ("password", PASSWORD)]).await;
    assert_eq!(blind.status, 403);
}

#[tokio::test]
async fn sign_out_ends_the_session_on_the_server() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let csrf = b.get("/").await.csrf();
    let out = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!((out.status, out.location.as_deref()), (303, Some("/login")));
    assert!(!b.has_session());
    let left: i64 = sqlx::query_scalar("select count(*) from dashboard_session").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(left, 0);
}
