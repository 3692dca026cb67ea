//! Order detail with its event log, and cancel (traders only, CSRF-checked).

use dashboard::auth::Role;

use crate::helpers::{TestApp, PASSWORD};

#[tokio::test]
async fn the_order_detail_shows_the_order_and_its_event_log_and_the_list_links_to_it() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("victor", PASSWORD).await;
    assert!(b.get("/orders").await.body.contains("href=\"/orders/100\""), "order ids link to their detail");
    let page = b.get("/orders/7").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Order 7"));
    assert!(page.body.contains("buy 10 BTCUSD limit 99.5"));
    assert!(page.body.contains("accepted") && page.body.contains("paper-7"), "the event log with details is shown");
    assert!(!page.body.contains("id=\"cancel-order\""), "a viewer gets no cancel button");
    assert_eq!(b.get("/orders/999").await.status, 404);
}

#[tokio::test]
async fn a_trader_cancels_a_working_order_and_the_engine_receives_the_cancel() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let page = b.get("/orders/7").await;
    assert!(page.body.contains("id=\"cancel-order\""));
    assert!(!b.get("/orders/8").await.body.contains("id=\"cancel-order\""), "no cancel button for a filled order");
    let cancelled = b.post("/orders/7/cancel", &[("csrf", &page.csrf())]).await;
    assert_eq!((cancelled.status, cancelled.location.as_deref()), (303, Some("/orders/7")));
    assert_eq!(app.engine.lock().unwrap().cancels, vec![7]);
}

#[tokio::test]
async fn a_cancel_the_engine_refuses_answers_with_its_status_and_reason_not_a_gateway_error() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let csrf = b.get("/orders/7").await.csrf();
    let filled = b.post("/orders/8/cancel", &[("csrf", &csrf)]).await;
    assert_eq!(filled.status, 409);
    assert!(filled.body.contains("order 8 is filled: nothing to cancel"), "the engine's reason is shown");
    assert_eq!(b.post("/orders/12345/cancel", &[("csrf", &csrf)]).await.status, 404);
    assert!(app.engine.lock().unwrap().cancels.is_empty());
}

#[tokio::test]
async fn a_cancel_from_a_viewer_or_without_the_csrf_token_is_refused_and_nothing_reaches_the_engine() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    app.user("alice", Role::Trader).await;
    let mut viewer = app.browser();
    viewer.sign_in("victor", PASSWORD).await;
    let csrf = viewer.get("/orders").await.csrf();
    assert_eq!(viewer.post("/orders/7/cancel", &[("csrf", &csrf)]).await.status, 403);
    let mut trader = app.browser();
    trader.sign_in("alice", PASSWORD).await;
    assert_eq!(trader.post("/orders/7/cancel", &[("csrf", "0000")]).await.status, 403);
    assert!(app.engine.lock().unwrap().cancels.is_empty());
}

#[tokio::test]
async fn a_trader_amends_a_working_order_and_lands_on_the_amendment_and_a_refusal_says_why() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    app.user("victor", Role::Viewer).await;
    let mut viewer = app.browser();
    viewer.sign_in("victor", PASSWORD).await;
    assert!(!viewer.get("/orders/7").await.body.contains("id=\"amend-order\""), "no amend form for a viewer");
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let page = b.get("/orders/7").await;
    assert!(page.body.contains("id=\"amend-order\"") && page.body.contains("value=\"99.5\""), "prefilled");
    assert!(!b.get("/orders/8").await.body.contains("id=\"amend-order\""), "no amend form for a filled order");
    let csrf = page.csrf();
    let amended = b.post("/orders/7/amend", &[("csrf", &csrf), ("qty", "10"), ("limit_price", "100.25")]).await;
    assert_eq!((amended.status, amended.location.as_deref()), (303, Some("/orders/9")));
    assert_eq!(app.engine.lock().unwrap().amends, vec![(7, serde_json::json!({"qty": "10", "limit_price": "100.25"}))]);
    let refused = b.post("/orders/8/amend", &[("csrf", &csrf), ("qty", "3")]).await;
    assert_eq!(refused.status, 409);
    assert!(refused.body.contains("only a working order with nothing filled can be amended"), "the engine's reason");
    let bad = b.post("/orders/7/amend", &[("csrf", &csrf), ("qty", "-1")]).await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Quantity must be a positive decimal"));
    assert_eq!(viewer.post("/orders/7/amend", &[("csrf", &csrf), ("qty", "2")]).await.status, 403);
    assert_eq!(app.engine.lock().unwrap().amends.len(), 1, "only the trader's valid amend reached the engine");
}
