//! The manual order ticket: traders only, confirmed, CSRF-checked, one order per confirmation.

use dashboard::auth::Role;

use crate::helpers::{TestApp, PASSWORD};

fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).unwrap_or_else(|| panic!("a hidden {name} field")) + marker.len();
    body[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_trader_reviews_then_confirms_a_limit_order_and_the_engine_receives_it_once() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    assert!(b.get("/orders").await.body.contains("id=\"new-order\""), "traders get a New order link");
    let form = b.get("/orders/new").await;
    assert_eq!(form.status, 200);
    let review = b
        .post(
            "/orders/confirm",
            &[
                ("csrf", &form.csrf()),
                ("account", "demo"),
                ("symbol", "ethusd"),
                ("side", "sell"),
                ("qty", "2.50"),
                ("limit_price", "180.1"),
            ],
        )
        .await;
    assert_eq!(review.status, 200);
    assert!(review.body.contains("sell 2.5 ETHUSD on account demo, limit at 180.1"), "{}", review.body);
    assert!(app.engine.lock().unwrap().order_requests.is_empty(), "nothing is sent before confirming");

    let fields: Vec<(&str, String)> = ["csrf", "account", "symbol", "side", "qty", "limit_price", "client_order_id"]
        .into_iter()
        .map(|n| (n, hidden(&review.body, n)))
        .collect();
    let form: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let placed = b.post("/orders", &form).await;
    assert_eq!((placed.status, placed.location.as_deref()), (303, Some("/orders")));
    // A second press of the same confirmation is the same order.
    assert_eq!(b.post("/orders", &form).await.status, 303);
    let engine = app.engine.lock().unwrap();
    assert_eq!(engine.order_requests.len(), 1);
    let sent = &engine.order_requests[0];
    assert_eq!(sent["symbol"], "ETHUSD");
    assert_eq!(sent["side"], "sell");
    assert_eq!(sent["qty"], "2.5");
    assert_eq!(sent["order_type"], "limit");
    assert_eq!(sent["limit_price"], "180.1");
    assert!(sent["client_order_id"].as_str().unwrap().starts_with("dash-"));
}

#[tokio::test]
async fn a_ticket_with_a_bad_quantity_is_shown_again_with_the_reason_and_nothing_is_sent() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let csrf = b.get("/orders/new").await.csrf();
    let review = b
        .post(
            "/orders/confirm",
            &[("csrf", &csrf), ("account", "demo"), ("symbol", "AAPL"), ("side", "buy"), ("qty", "-1")],
        )
        .await;
    assert!(review.body.contains("id=\"ticket-error\""));
    assert!(review.body.contains("more than zero"));
    let direct = b
        .post(
            "/orders",
            &[
                ("csrf", &csrf),
                ("account", "demo"),
                ("symbol", "AAPL"),
                ("side", "buy"),
                ("qty", "-1"),
                ("client_order_id", "x"),
            ],
        )
        .await;
    assert_eq!(direct.status, 400);
    assert!(app.engine.lock().unwrap().order_requests.is_empty());
}

#[tokio::test]
async fn a_viewer_gets_no_ticket_and_cannot_place_an_order() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("victor", PASSWORD).await;
    let orders = b.get("/orders").await;
    assert!(!orders.body.contains("New order"));
    let csrf = orders.csrf();
    assert_eq!(b.get("/orders/new").await.status, 403);
    let ticket = [
        ("csrf", csrf.as_str()),
        ("account", "demo"),
        ("symbol", "AAPL"),
        ("side", "buy"),
        ("qty", "1"),
        ("client_order_id", "dash-x"),
    ];
    assert_eq!(b.post("/orders/confirm", &ticket).await.status, 403);
    assert_eq!(b.post("/orders", &ticket).await.status, 403);
    assert!(app.engine.lock().unwrap().order_requests.is_empty(), "nothing reached the engine");
}

#[tokio::test]
async fn an_order_without_the_sessions_csrf_token_is_refused() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let forged =
        [("account", "demo"), ("symbol", "AAPL"), ("side", "buy"), ("qty", "1"), ("client_order_id", "dash-x")];
    assert_eq!(b.post("/orders", &forged).await.status, 403);
    assert!(app.engine.lock().unwrap().order_requests.is_empty());
}

#[tokio::test]
async fn a_trader_places_a_stop_limit_with_a_bracket_and_the_engine_receives_every_price() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let form = b.get("/orders/new").await;
    assert!(form.body.contains("id=\"stop_price\"") && form.body.contains("id=\"take_profit\""), "{}", form.body);
    let review = b
        .post(
            "/orders/confirm",
            &[
                ("csrf", &form.csrf()),
                ("account", "demo"),
                ("symbol", "aapl"),
                ("side", "buy"),
                ("qty", "3"),
                ("limit_price", "101"),
                ("stop_price", "100"),
                ("take_profit", "110"),
                ("stop_loss", "95"),
            ],
        )
        .await;
    assert!(
        review.body.contains(
            "buy 3 AAPL on account demo, stop-limit, stop 100 limit 101, take profit at 110, stop loss at 95"
        ),
        "{}",
        review.body
    );
    let names = [
        "csrf",
        "account",
        "symbol",
        "side",
        "qty",
        "limit_price",
        "stop_price",
        "take_profit",
        "stop_loss",
        "client_order_id",
    ];
    let fields: Vec<(&str, String)> = names.into_iter().map(|n| (n, hidden(&review.body, n))).collect();
    let form: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(b.post("/orders", &form).await.status, 303);
    let sent = app.engine.lock().unwrap().order_requests[0].clone();
    assert_eq!(
        [&sent["order_type"], &sent["stop_price"], &sent["limit_price"], &sent["take_profit"], &sent["stop_loss"]],
        ["stop_limit", "100", "101", "110", "95"]
    );
    let wrong_way = b
        .post(
            "/orders/confirm",
            &[
                ("csrf", &fields[0].1),
                ("account", "demo"),
                ("symbol", "AAPL"),
                ("side", "buy"),
                ("qty", "1"),
                ("take_profit", "90"),
                ("stop_loss", "95"),
            ],
        )
        .await;
    assert!(wrong_way.body.contains("take profit must be above its stop loss"), "{}", wrong_way.body);
}
