//! The engine's custom metrics, in a test binary of their own: the metric buffer is
//! process-wide, and other tests' engines would flush it when they stop.

#[path = "api/helpers.rs"]
#[allow(unused_imports, reason = "shared helpers; this binary uses a few")]
mod helpers;

use helpers::{alert, eventually, spawn_app};
use platform::metrics::global;
use serde_json::json;

fn buffered(name: &str, dimensions: &[(&str, &str)]) -> f64 {
    global().buffered(name, dimensions).unwrap_or_default()
}

#[tokio::test]
async fn signals_orders_fills_risk_rejects_pnl_and_halts_are_recorded_as_metrics() {
    let (app, feed, _db) = spawn_app().await;
    app.follower("tv", "acct-m").await;
    feed.tick("BTCUSD", "100.00");

    let (status, _) = app.webhook(alert("tv", "pass-tv", "buy", "m-1").to_string(), "application/json").await;
    assert_eq!(status, 202);
    let (status, _) = app.webhook(alert("tv", "pass-tv", "buy", "m-1").to_string(), "application/json").await;
    assert_eq!(status, 200);
    let (status, _) = app.webhook(alert("tv", "wrong", "buy", "m-2").to_string(), "application/json").await;
    assert_eq!(status, 401);
    assert_eq!(buffered("SignalsAccepted", &[]), 1.0);
    assert_eq!(buffered("SignalsDuplicate", &[]), 1.0);
    assert_eq!(buffered("SignalsRefused", &[("Reason", "unauthorized")]), 1.0);

    eventually("the signal's order sent to the venue", || async { buffered("Orders", &[("State", "new")]) >= 1.0 })
        .await;
    feed.tick("BTCUSD", "101.00");
    eventually("the fill recorded", || async { buffered("Fills", &[("Account", "acct-m")]) == 1.0 }).await;
    assert!(buffered("Orders", &[("State", "filled")]) >= 1.0);
    eventually("the account's P&L published", || async {
        global().buffered("RealizedPnl", &[("Account", "acct-m")]).is_some()
    })
    .await;

    app.send(reqwest::Method::PUT, "/api/v1/risk-limits/acct-r", json!({"max_order_qty": "1"})).await;
    let (_, rejected) = app.place_market("acct-r", "BTCUSD", "buy", "5", "m-r").await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(buffered("RiskRejects", &[("Reason", "max_order_qty")]), 1.0);
    assert_eq!(buffered("RiskRejects", &[]), 1.0, "the total the risk-reject-rate alarm reads");
    assert!(buffered("OrdersSubmitted", &[]) >= 2.0, "the signal's order and the rejected one");
    assert!(buffered("EngineHeartbeat", &[]) >= 1.0, "lease rounds beat");
    assert!(buffered("Orders", &[("State", "rejected")]) >= 1.0);

    eventually("not halted", || async { global().buffered("Halted", &[("Scope", "all")]) == Some(0.0) }).await;
    let (status, _) = app.post("/api/v1/halt", json!({"reason": "metrics test", "scope": "all"})).await;
    assert_eq!(status, 201);
    eventually("halted", || async { global().buffered("Halted", &[("Scope", "all")]) == Some(1.0) }).await;
    eventually("the alarm's HaltActive", || async { global().buffered("HaltActive", &[]) == Some(1.0) }).await;

    assert_eq!(buffered("RequestCount", &[("Route", "/api/v1/signals/tradingview"), ("Status", "2xx")]), 2.0);
    assert_eq!(buffered("RequestCount", &[("Route", "/api/v1/signals/tradingview"), ("Status", "4xx")]), 1.0);
}
