//! HALT ALL and resume: traders only, confirmed, CSRF-checked.

use dashboard::auth::Role;

use crate::helpers::{TestApp, PASSWORD};

#[tokio::test]
async fn a_trader_halts_all_trading_after_confirming_and_then_resumes() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let overview = b.get("/").await;
    assert!(overview.body.contains("id=\"halt-all\""), "traders see HALT ALL");
    assert!(overview.body.contains("Trading active"));

    let confirm = b.get("/halt/confirm").await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Confirm HALT ALL"));
    let halted = b.post("/halt", &[("csrf", &confirm.csrf()), ("reason", "fat finger"), ("flatten", "true")]).await;
    assert_eq!((halted.status, halted.location.as_deref()), (303, Some("/")));
    {
        let engine = app.engine.lock().unwrap();
        assert_eq!(engine.halt_requests.len(), 1);
        let request = &engine.halt_requests[0];
        assert_eq!(request["scope"], "all");
        assert_eq!(request["flatten"], true);
        assert_eq!(request["reduce_only"], false, "a plain HALT ALL blocks every order");
        assert_eq!(request["reason"], "fat finger [dashboard user alice]");
    }
    let after = b.get("/").await;
    assert!(after.body.contains("HALTED"));
    assert!(after.body.contains("fat finger [dashboard user alice]"), "who halted and why is shown");
    assert!(after.body.contains("id=\"resume\""));

    let confirm = b.get("/resume/confirm").await;
    let resumed = b.post("/resume", &[("csrf", &confirm.csrf())]).await;
    assert_eq!(resumed.status, 303);
    assert_eq!(app.engine.lock().unwrap().resumes, 1);
    assert!(b.get("/").await.body.contains("Trading active"));
}

#[tokio::test]
async fn a_viewer_sees_no_emergency_controls_and_is_refused_with_403() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("victor", PASSWORD).await;
    let overview = b.get("/").await;
    assert_eq!(overview.status, 200);
    assert!(!overview.body.contains("HALT ALL"));
    let csrf = overview.csrf();
    assert_eq!(b.get("/halt/confirm").await.status, 403);
    let halt = b.post("/halt", &[("csrf", &csrf), ("reason", "i should not")]).await;
    assert_eq!(halt.status, 403);
    assert_eq!(b.post("/resume", &[("csrf", &csrf)]).await.status, 403);
    let engine = app.engine.lock().unwrap();
    assert!(engine.halt_requests.is_empty() && engine.resumes == 0, "nothing reached the engine");
}

#[tokio::test]
async fn a_halt_without_the_sessions_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    assert_eq!(b.post("/halt", &[("reason", "forged")]).await.status, 403);
    assert_eq!(b.post("/halt", &[("csrf", "0000"), ("reason", "forged")]).await.status, 403);
    // Another session's token is no good either.
    app.user("bob", Role::Trader).await;
    let mut other = app.browser();
    other.sign_in("bob", PASSWORD).await;
    let bobs = other.get("/").await.csrf();
    assert_eq!(b.post("/halt", &[("csrf", &bobs), ("reason", "forged")]).await.status, 403);
    assert!(app.engine.lock().unwrap().halt_requests.is_empty());
}

#[tokio::test]
async fn a_halt_reason_with_control_characters_is_refused_before_the_engine() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let csrf = b.get("/").await.csrf();
    let refused = b.post("/halt", &[("csrf", &csrf), ("reason", "fat\u{0}finger")]).await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("control characters"));
    assert!(app.engine.lock().unwrap().halt_requests.is_empty());
}

#[tokio::test]
async fn a_reduce_only_halt_all_is_asked_of_the_engine_and_shown_as_such() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let confirm = b.get("/halt/confirm").await;
    assert!(confirm.body.contains("id=\"reduce-only\""), "the confirm page offers reduce-only");
    let halted = b.post("/halt", &[("csrf", &confirm.csrf()), ("reason", "wind down"), ("reduce_only", "true")]).await;
    assert_eq!(halted.status, 303);
    assert_eq!(app.engine.lock().unwrap().halt_requests[0]["reduce_only"], true);
    assert!(b.get("/").await.body.contains("(reduce only: closing orders pass)"));
}
