//! The risk page: everyone reads an account's limits; only admins change them.

use dashboard::auth::Role;

use crate::helpers::{TestApp, PASSWORD};

#[tokio::test]
async fn the_risk_page_shows_an_accounts_limits_with_no_limit_for_the_unset_ones() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("victor", PASSWORD).await;
    let page = b.get("/risk?account=demo").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Account demo"));
    assert!(page.body.contains(">1000<"), "the order quantity limit is shown");
    assert!(page.body.contains("no limit"));
    assert!(!page.body.contains("id=\"save-limits\""), "a viewer gets no form");
    assert!(page.body.contains("id=\"risk-audit\""), "the audit log is shown");
    assert!(page.body.contains("ops-token") && page.body.contains("2026-11-24 11:30:00"));
    assert!(page.body.contains("Largest order quantity</td><td class=\"num\">1000</td><td class=\"num\">500<"));
    assert!(page
        .body
        .contains("Largest daily loss (halts the account)</td><td class=\"num\">no limit</td><td class=\"num\">2500<"));
    assert!(b.get("/risk?account=other").await.body.contains("id=\"no-audit\""));
}

#[tokio::test]
async fn an_admin_changes_the_limits_and_the_engine_receives_exact_decimals() {
    let app = TestApp::spawn().await;
    app.user("ada", Role::Admin).await;
    let mut b = app.browser();
    b.sign_in("ada", PASSWORD).await;
    let page = b.get("/risk?account=demo").await;
    assert!(page.body.contains("id=\"save-limits\""));
    let saved = b
        .post(
            "/risk",
            &[
                ("csrf", &page.csrf()),
                ("account", "demo"),
                ("max_order_qty", "250.5"),
                ("max_daily_loss", "0.1"),
                ("max_orders_per_minute", "30"),
            ],
        )
        .await;
    assert_eq!((saved.status, saved.location.as_deref()), (303, Some("/risk?account=demo")));
    {
        let engine = app.engine.lock().unwrap();
        assert_eq!(engine.limit_puts.len(), 1);
        let (account, body) = &engine.limit_puts[0];
        assert_eq!(account, "demo");
        assert_eq!(body["max_order_qty"], "250.5");
        assert_eq!(body["max_daily_loss"], "0.1");
        assert_eq!(body["max_orders_per_minute"], 30);
        assert!(body["max_position"].is_null(), "an empty field is no limit");
    }
    assert!(b.get("/risk?account=demo").await.body.contains(">250.5<"));
}

#[tokio::test]
async fn a_bad_limit_is_shown_with_the_reason_and_a_trader_or_forged_form_changes_nothing() {
    let app = TestApp::spawn().await;
    app.user("ada", Role::Admin).await;
    app.user("alice", Role::Trader).await;
    let mut admin = app.browser();
    admin.sign_in("ada", PASSWORD).await;
    let csrf = admin.get("/risk").await.csrf();
    let bad = admin.post("/risk", &[("csrf", &csrf), ("account", "demo"), ("max_order_qty", "-1")]).await;
    assert_eq!(bad.status, 200);
    assert!(bad.body.contains("id=\"risk-error\"") && bad.body.contains("Order quantity"));
    assert_eq!(admin.post("/risk", &[("csrf", "0000"), ("account", "demo"), ("max_order_qty", "1")]).await.status, 403);
    assert_eq!(
        admin.post("/risk", &[("csrf", &csrf), ("account", "../halt"), ("max_order_qty", "1")]).await.status,
        400
    );
    let mut trader = app.browser();
    trader.sign_in("alice", PASSWORD).await;
    let page = trader.get("/risk").await;
    assert!(!page.body.contains("id=\"save-limits\""));
    assert_eq!(
        trader.post("/risk", &[("csrf", &page.csrf()), ("account", "demo"), ("max_order_qty", "1")]).await.status,
        403
    );
    assert!(app.engine.lock().unwrap().limit_puts.is_empty(), "nothing reached the engine");
}

#[tokio::test]
async fn the_risk_page_shows_what_reconciliation_booked_for_the_account() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("victor", PASSWORD).await;
    let page = b.get("/risk?account=us").await;
    assert_eq!(page.status, 200);
    let table = &page.body[page.body.find("id=\"reconciliation\"").expect("the reconciliation table")..];
    let bust = table.find("execution of 1 at 120 busted and reversed").expect("the bust, in words");
    let fill = table.find("execution of 1 at 119.5 booked").expect("the fill found by reconciliation");
    assert!(bust < fill, "newest first");
    assert!(table.contains("<a href=\"/orders/41\">41</a>") && table.contains("filled → cancelled"));
    let quiet = b.get("/risk?account=demo").await;
    assert!(quiet.body.contains("Nothing booked by reconciliation."));
}

#[tokio::test]
async fn the_risk_page_lists_the_accounts_with_the_venue_each_trades_at() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("victor", PASSWORD).await;
    let page = b.get("/risk?account=demo").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Accounts without their own broker account trade at paper."), "{}", page.body);
    assert!(page
        .body
        .contains("<td><a href=\"/risk?account=crypto\">crypto</a></td><td>binance:crypto</td><td>its own</td><td class=\"num\">not reported</td>"));
    assert!(page
        .body
        .contains("<td><a href=\"/risk?account=demo\">demo</a></td><td>paper</td><td>the default venue</td><td class=\"num\">not reported</td>"));
    assert!(
        page.body.contains("<td>alpaca:us</td><td>its own</td><td class=\"num\">245432.61 (at 10:00:05 UTC)</td>"),
        "Alpaca's buying power, with when it was read"
    );
}
