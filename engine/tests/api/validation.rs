//! Hostile input: every value the API takes is checked against what the database can hold
//! before a query runs, and answered with a 422 naming the field, never a 500.

use serde_json::{json, Value};

use crate::helpers::{error_message, spawn_app};

fn refused_naming(status: u16, body: &Value, field: &str) {
    assert_eq!(status, 422, "{body}");
    let message = error_message(body, "invalid_field");
    assert!(message.contains(field), "the message names {field}: {message}");
}

#[tokio::test]
async fn risk_limits_beyond_the_columns_precision_are_refused_naming_the_field() {
    let (app, _feed, _db) = spawn_app().await;
    let put = |body: Value| app.send(reqwest::Method::PUT, "/api/v1/risk-limits/acct", body);
    let (status, body) = put(json!({"max_order_notional": "1e25"})).await;
    refused_naming(status, &body, "max_order_notional");
    let (status, body) = put(json!({"max_daily_loss": "123456789012345678901"})).await;
    refused_naming(status, &body, "max_daily_loss");
    let (status, body) = put(json!({"max_order_qty": "0.123456789"})).await;
    refused_naming(status, &body, "max_order_qty");
    let (status, body) = put(json!({"price_collar_bps": "12345678901"})).await;
    refused_naming(status, &body, "price_collar_bps");
    // Nothing was half-written, and limits that fit are taken.
    let (status, body) = put(json!({"max_order_notional": "90000000000.5", "price_collar_bps": "9999999999.99"})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.send(reqwest::Method::PUT, "/api/v1/risk-limits/a%00b", json!({})).await;
    refused_naming(status, &body, "account");
    app.stop().await;
}

#[tokio::test]
async fn nul_characters_in_a_strategy_name_symbol_or_parameters_are_refused() {
    let (app, _feed, _db) = spawn_app().await;
    let strategy = |name: &str, symbol: &str| {
        json!({"name": name, "kind": "signal_follower", "params": {"quantity": "1"}, "account": "a",
               "symbols": [symbol], "passphrase": "p"})
    };
    let (status, body) = app.post("/api/v1/strategies", strategy("bad\u{0}name", "BTCUSD")).await;
    refused_naming(status, &body, "name");
    let (status, body) = app.post("/api/v1/strategies", strategy("good", "BTC\u{0}USD")).await;
    refused_naming(status, &body, "symbols");
    let mut with_nul_param = strategy("good", "BTCUSD");
    with_nul_param["params"]["note"] = json!("x\u{0}");
    let (status, body) = app.post("/api/v1/strategies", with_nul_param).await;
    refused_naming(status, &body, "params");
    let (status, body) = app.post("/api/v1/strategies", strategy("good", "BTCUSD")).await;
    assert_eq!(status, 201, "{body}");

    let patch = |body: Value| app.send(reqwest::Method::PATCH, "/api/v1/strategies/good", body);
    let (status, body) = patch(json!({"symbols": ["ETH\u{0}USD"]})).await;
    refused_naming(status, &body, "symbols");
    let (status, body) = patch(json!({"passphrase": "p\u{0}"})).await;
    refused_naming(status, &body, "passphrase");
    // A name no strategy can have is simply not found.
    let (status, _) = app.send(reqwest::Method::PATCH, "/api/v1/strategies/go%00od", json!({})).await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/api/v1/strategies/go%00od").await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn nul_characters_in_orders_halts_alerts_and_filters_get_a_4xx() {
    let (app, _feed, _db) = spawn_app().await;
    app.follower("tv", "acct").await;
    let (status, body) = app.place_market("ac\u{0}ct", "BTCUSD", "buy", "1", "n-1").await;
    refused_naming(status, &body, "account");
    let (status, body) = app.place_market("acct", "BTCUSD", "buy", "1", "n\u{1}2").await;
    refused_naming(status, &body, "client_order_id");
    let (status, body) = app.post("/api/v1/halt", json!({"reason": "drill\u{0}", "scope": "all"})).await;
    refused_naming(status, &body, "reason");

    let mut alert = crate::helpers::alert("tv", "pass-tv", "buy", "a-1");
    alert["comment"] = json!("nul \u{0} inside");
    let (status, body) = app.webhook(alert.to_string(), "application/json").await;
    refused_naming(status, &body, "alert");
    let alert = crate::helpers::alert("tv", "pass-tv", "buy", "a\u{0}1");
    let (status, _) = app.webhook(alert.to_string(), "application/json").await;
    assert_eq!(status, 422);
    let alert = crate::helpers::alert("t\u{0}v", "pass-tv", "buy", "a-2");
    let (status, body) = app.webhook(alert.to_string(), "application/json").await;
    refused_naming(status, &body, "strategy");
    // The refusals did not disturb the queue: a good alert is taken at once.
    let (status, body) =
        app.webhook(crate::helpers::alert("tv", "pass-tv", "buy", "a-3").to_string(), "application/json").await;
    assert_eq!(status, 202, "{body}");

    for path in [
        "/api/v1/orders?account=a%00",
        "/api/v1/fills?symbol=%00",
        "/api/v1/audit?target=%00",
        "/api/v1/positions?strategy=%00",
    ] {
        let (status, body) = app.get(path).await;
        assert!((400..500).contains(&status), "{path}: {status} {body}");
    }
    app.stop().await;
}
