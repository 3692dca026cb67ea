use serde_json::json;

use crate::helpers::{error_message, spawn_app};

#[tokio::test]
async fn posted_ticks_are_committed_before_the_answer_and_show_in_prices_and_bars() {
    let app = spawn_app().await;
    let body = json!([
        {"symbol": "acme", "ts": "2026-01-05T10:00:01Z", "price": "10.50", "size": 3},
        {"symbol": "ACME", "ts": "2026-01-05T10:00:30Z", "price": 11.25, "size": "1"},
        {"symbol": "ACME", "ts": 1767607259000i64, "price": "9.75", "size": "2"},
        {"symbol": "ACME", "ts": "2026-01-05T10:01:05Z", "price": "10", "size": "4"}
    ]);
    let (status, res) = app.post_ticks(body.to_string(), "application/json").await;
    assert_eq!((status, res["accepted"].as_u64()), (200, Some(4)));

    // Committed before the 200: visible at once, no waiting.
    let (_, page) = app.get("/api/v1/market/prices/ACME?start=2026-01-05T10:00:00Z&end=2026-01-05T10:02:00Z").await;
    let prices: Vec<&str> = page["prices"].as_array().unwrap().iter().map(|p| p["price"].as_str().unwrap()).collect();
    assert_eq!(prices, vec!["10.5", "11.25", "9.75", "10"]);

    let (_, bars) = app.get("/api/v1/market/bars/ACME?start=2026-01-05T10:00:00Z&end=2026-01-05T10:02:00Z").await;
    assert_eq!(
        bars["bars"],
        json!([
            {"ts": "2026-01-05T10:00:00Z", "open": "10.5", "high": "11.25", "low": "9.75", "close": "9.75", "volume": "6", "trades": 3},
            {"ts": "2026-01-05T10:01:00Z", "open": "10", "high": "10", "low": "10", "close": "10", "volume": "4", "trades": 1}
        ])
    );
    app.stop().await;
}

#[tokio::test]
async fn ticks_arriving_out_of_order_still_give_the_right_open_and_close() {
    let app = spawn_app().await;
    let later = json!([{"symbol": "OOO", "ts": "2026-01-05T10:00:50Z", "price": "12", "size": 1}]);
    let earlier = json!([{"symbol": "OOO", "ts": "2026-01-05T10:00:10Z", "price": "8", "size": 1}]);
    assert_eq!(app.post_ticks(later.to_string(), "application/json").await.0, 200);
    assert_eq!(app.post_ticks(earlier.to_string(), "application/json").await.0, 200);
    let (_, bars) = app.get("/api/v1/market/bars/OOO?start=2026-01-05T10:00:00Z&end=2026-01-05T10:01:00Z").await;
    let bar = &bars["bars"][0];
    assert_eq!((bar["open"].as_str(), bar["close"].as_str(), bar["trades"].as_i64()), (Some("8"), Some("12"), Some(2)));
    app.stop().await;
}

#[tokio::test]
async fn ndjson_ticks_are_accepted() {
    let app = spawn_app().await;
    let body = "{\"symbol\":\"ND\",\"ts\":\"2026-01-05T10:00:00Z\",\"price\":\"1\",\"size\":\"1\"}\n\n{\"symbol\":\"ND\",\"ts\":\"2026-01-05T10:00:01Z\",\"price\":\"2\",\"size\":\"1\"}\n";
    let (status, res) = app.post_ticks(body, "application/x-ndjson").await;
    assert_eq!((status, res["accepted"].as_u64()), (200, Some(2)));
    app.stop().await;
}

#[tokio::test]
async fn one_invalid_tick_rejects_the_whole_request_and_stores_nothing() {
    let app = spawn_app().await;
    let body = json!([
        {"symbol": "BAD", "ts": "2026-01-05T10:00:00Z", "price": "1", "size": 1},
        {"symbol": "BAD", "ts": "2026-01-05T10:00:01Z", "price": "0", "size": 1}
    ]);
    let (status, res) = app.post_ticks(body.to_string(), "application/json").await;
    assert_eq!(status, 400);
    let message = error_message(&res, "invalid_tick");
    assert!(message.starts_with("tick [1]") && message.contains("positive"), "{message}");
    let stored: i64 = sqlx::query_scalar("select count(*) from tick").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(stored, 0);
    app.stop().await;
}

#[tokio::test]
async fn malformed_bodies_get_a_json_400_never_a_500() {
    let app = spawn_app().await;
    for (body, code) in [
        ("[{\"symbol\": \"X\", ", "invalid_json"),
        ("[]", "empty"),
        ("[{\"symbol\":\"X\",\"ts\":\"soon\",\"price\":1,\"size\":1}]", "invalid_tick"),
        ("[{\"symbol\":\"X Y\",\"ts\":1,\"price\":1,\"size\":1}]", "invalid_tick"),
        ("[{\"symbol\":\"X\",\"ts\":1,\"price\":\"abc\",\"size\":1}]", "invalid_tick"),
        ("{\"symbol\":\"X\"}", "invalid_tick"),
    ] {
        let (status, res) = app.post_ticks(body, "application/json").await;
        assert_eq!(status, 400, "body {body}: {res}");
        error_message(&res, code);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413_with_a_json_error() {
    let app = spawn_app().await;
    let huge = vec![b' '; data_service::api::ticks::MAX_BODY_BYTES + 1];
    let (status, res) = app.post_ticks(huge, "application/json").await;
    assert_eq!(status, 413);
    error_message(&res, "payload_too_large");
    app.stop().await;
}
