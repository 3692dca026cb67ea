//! Instruments: lot, tick and minimum notional in pre-trade risk, the tick in the paper venue's
//! rounding, and the definitions' validation and audit.

use serde_json::json;

use crate::helpers::{spawn_app, spawn_with, test_settings, FakeFeed};

#[tokio::test]
async fn orders_off_the_instruments_lot_or_tick_or_below_its_minimum_notional_are_rejected_with_the_reason() {
    let (app, feed, _db) = spawn_app().await;
    let definition = json!({"tick_size": "0.05", "lot_size": "10", "min_notional": "1000",
                            "asset_class": "equity", "currency": "USD"});
    let (status, saved) = app.send(reqwest::Method::PUT, "/api/v1/instruments/acme", definition).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(
        (saved["symbol"].as_str(), saved["tick_size"].as_str(), saved["lot_size"].as_str()),
        (Some("ACME"), Some("0.05"), Some("10"))
    );
    let (_, listed) = app.get("/api/v1/instruments").await;
    assert_eq!(listed[0]["asset_class"], "equity");
    feed.tick("ACME", "100");
    let order = |qty: &str, price: &str, id: &str| json!({"account": "i", "symbol": "ACME", "side": "buy", "qty": qty, "limit_price": price, "client_order_id": id});
    for (body, reason) in [
        (order("15", "100.05", "i-1"), "lot_size"),
        (order("10", "100.02", "i-2"), "tick_size"),
        (order("10", "99.95", "i-3"), "min_notional"),
    ] {
        let (status, placed) = app.post("/api/v1/orders", body).await;
        assert_eq!(
            (status, placed["status"].as_str(), placed["reject_reason"].as_str()),
            (201, Some("rejected"), Some(reason))
        );
    }
    let (_, accepted) = app.post("/api/v1/orders", order("10", "100.05", "i-4")).await;
    assert_eq!(accepted["status"], "pending_new", "{accepted}");
    let (_, undefined) = app.place_market("i", "OTHER", "buy", "3", "i-5").await;
    assert_eq!(undefined["status"], "pending_new", "a symbol without a definition has no such rules");
    let (status, missing) = app.get("/api/v1/instruments/NOPE").await;
    assert_eq!((status, missing["error"]["message"].as_str()), (404, Some("instrument NOPE not defined")));
    app.stop().await;
}

#[tokio::test]
async fn the_paper_venue_rounds_slipped_prices_to_the_instruments_tick() {
    let db = test_support::TestDb::new().await;
    let feed = FakeFeed::start().await;
    let mut settings = test_settings(&db.url(), &feed);
    settings.paper.slippage = domain::Bps::from_bps(10);
    let app = spawn_with(settings).await;
    feed.wait_for_clients(1).await;
    app.send(reqwest::Method::PUT, "/api/v1/instruments/GRID", json!({"tick_size": "0.05"})).await;
    feed.tick("GRID", "100");
    feed.tick("FINE", "100");
    let (_, on_grid) = app.place_market("g", "GRID", "buy", "1", "g-1").await;
    let (_, fine) = app.place_market("g", "FINE", "buy", "1", "g-2").await;
    for order in [&on_grid, &fine] {
        app.order_reaches(order["order_id"].as_i64().unwrap(), "new").await;
    }
    // 100.02 × 1.001 = 100.12002: a buy rounds up, to 100.15 on a 0.05 grid, 100.13 on 0.01.
    feed.tick("GRID", "100.02");
    feed.tick("FINE", "100.02");
    let on_grid = app.order_reaches(on_grid["order_id"].as_i64().unwrap(), "filled").await;
    let fine = app.order_reaches(fine["order_id"].as_i64().unwrap(), "filled").await;
    assert_eq!((on_grid["avg_fill_price"].as_str(), fine["avg_fill_price"].as_str()), (Some("100.15"), Some("100.13")));
    app.stop().await;
}

#[tokio::test]
async fn a_bad_instrument_definition_is_refused_with_the_reason_and_a_good_one_is_audited() {
    let (app, _feed, _db) = spawn_app().await;
    for (body, message) in [
        (json!({"tick_size": "0"}), "tick_size must be greater than zero"),
        (json!({"lot_size": "-1"}), "lot_size must be greater than zero"),
        (json!({"min_notional": "-5"}), "min_notional must be zero or more"),
        (json!({"asset_class": "stocks"}), "asset_class must be one of equity, crypto, fx, future, option, other"),
        (json!({"currency": "usd"}), "currency must be 3 to 5 capital letters"),
        (json!({"tick_size": "0.000000001"}), "tick_size: 0.000000001 does not fit 8 decimals within ±92,233,720,368"),
    ] {
        let (status, error) = app.send(reqwest::Method::PUT, "/api/v1/instruments/BAD", body).await;
        assert_eq!((status, error["error"]["message"].as_str()), (422, Some(message)), "{error}");
    }
    let (status, _) = app.send(reqwest::Method::PUT, "/api/v1/instruments/BAD", json!({"tick": "1"})).await;
    assert_eq!(status, 422, "unknown fields are refused");
    app.send(reqwest::Method::PUT, "/api/v1/instruments/BTCUSD", json!({"lot_size": "0.001", "asset_class": "crypto"}))
        .await;
    let (_, entries) = app.get("/api/v1/audit?target=symbol:BTCUSD").await;
    assert_eq!(entries[0]["action"], "instrument.update", "{entries}");
    assert_eq!(entries[0]["detail"]["after"]["lot_size"], "0.001");
    let (_, none) = app.get("/api/v1/audit?target=symbol:BAD").await;
    assert_eq!(none, json!([]), "refused definitions are not audited");
    app.stop().await;
}
