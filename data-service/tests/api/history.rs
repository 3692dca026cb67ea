use chrono::{Duration, Utc};
use data_service::{import, symbols::Symbols};
use rust_decimal::Decimal;
use serde_json::json;

use crate::helpers::{error_message, spawn_app, TestApp};

/// Imports `n` one-minute bars from `start_ms` with closes 1, 2, 3, ...
async fn import_rising_bars(app: &TestApp, symbol: &str, start_ms: i64, n: usize) {
    let mut csv = String::from("timestamp,open,high,low,close,volume\n");
    for i in 0..n {
        let c = i + 1;
        csv.push_str(&format!("{},{c},{c},{c},{c},1\n", start_ms + i as i64 * 60_000));
    }
    let bars = import::parse_bars_csv(&csv).unwrap();
    import::import_bars(&app.db.pool, &Symbols::default(), symbol, &bars, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
}

#[tokio::test]
async fn unknown_symbols_get_404_and_invalid_ones_400() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/v1/market/prices/NOPE").await;
    assert_eq!(status, 404);
    assert!(error_message(&body, "not_found").contains("NOPE"));
    let (status, body) = app.get("/api/v1/market/quote/no%20pe").await;
    assert_eq!(status, 400);
    error_message(&body, "invalid_symbol");
    app.stop().await;
}

#[tokio::test]
async fn bad_ranges_limits_cursors_and_intervals_get_400_with_the_reason() {
    let app = spawn_app().await;
    import_rising_bars(&app, "RNG", 1_767_225_600_000, 2).await;
    for (query, code, needle) in [
        ("/api/v1/market/prices/RNG?start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", "invalid_range", "before"),
        ("/api/v1/market/prices/RNG?start=2026-01-01T00:00:00Z&end=2026-03-01T00:00:00Z", "range_too_long", "31 days"),
        ("/api/v1/market/average/RNG?start=2000-01-01T00:00:00Z&end=2026-03-01T00:00:00Z", "range_too_long", "3660"),
        ("/api/v1/market/prices/RNG?start=yesterday", "invalid_timestamp", "start"),
        ("/api/v1/market/prices/RNG?limit=0", "invalid_limit", "between"),
        ("/api/v1/market/prices/RNG?limit=many", "invalid_query", ""),
        ("/api/v1/market/prices/RNG?cursor=xyz", "invalid_cursor", "next_cursor"),
        ("/api/v1/market/bars/RNG?interval=7m", "invalid_interval", "1m, 5m"),
    ] {
        let (status, body) = app.get(query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(error_message(&body, code).contains(needle), "{query}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn prices_are_paged_by_cursor_without_gaps_or_repeats() {
    let app = spawn_app().await;
    // 25 ticks, several sharing a timestamp, so the cursor must break ties.
    let ticks: Vec<_> = (0..25)
        .map(|i| json!({"symbol": "PG", "ts": 1_767_225_600_000i64 + (i / 3) * 1000, "price": format!("{}", 100 + i), "size": 1}))
        .collect();
    assert_eq!(app.post_ticks(json!(ticks).to_string(), "application/json").await.0, 200);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = "/api/v1/market/prices/PG?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z&limit=10".to_owned();
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = app.get(&q).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(page["prices"].as_array().unwrap().iter().map(|p| p["price"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| (100 + i).to_string()).collect();
    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
    app.stop().await;
}

#[tokio::test]
async fn coarser_bars_are_derived_from_one_minute_bars() {
    let app = spawn_app().await;
    // 10 bars from 2026-01-01T00:00Z: closes 1..=10.
    import_rising_bars(&app, "DRV", 1_767_225_600_000, 10).await;
    let (status, page) =
        app.get("/api/v1/market/bars/DRV?interval=5m&start=2026-01-01T00:00:00Z&end=2026-01-01T01:00:00Z").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        page["bars"],
        json!([
            {"ts": "2026-01-01T00:00:00Z", "open": "1", "high": "5", "low": "1", "close": "5", "volume": "5", "trades": 0},
            {"ts": "2026-01-01T00:05:00Z", "open": "6", "high": "10", "low": "6", "close": "10", "volume": "5", "trades": 0}
        ])
    );
    let (_, daily) =
        app.get("/api/v1/market/bars/DRV?interval=1d&start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z").await;
    assert_eq!(daily["bars"][0]["close"], "10");
    assert_eq!(daily["bars"][0]["high"], "10");
    app.stop().await;
}

#[tokio::test]
async fn bars_are_paged_with_next_start() {
    let app = spawn_app().await;
    import_rising_bars(&app, "BPG", 1_767_225_600_000, 5).await;
    let (_, first) =
        app.get("/api/v1/market/bars/BPG?start=2026-01-01T00:00:00Z&end=2026-01-01T01:00:00Z&limit=3").await;
    assert_eq!(first["bars"].as_array().unwrap().len(), 3);
    let next = first["next_start"].as_str().unwrap();
    assert_eq!(next, "2026-01-01T00:03:00Z");
    let (_, second) = app.get(&format!("/api/v1/market/bars/BPG?start={next}&end=2026-01-01T01:00:00Z&limit=3")).await;
    assert_eq!(second["bars"].as_array().unwrap().len(), 2);
    assert!(second["next_start"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn average_spans_cached_whole_days_and_partial_edges_exactly() {
    let app = spawn_app().await;
    // Three days of bars at 12:00..12:59 each day: closes 1..=60 every day (mean 30.5 per day).
    for day in 0..3 {
        import_rising_bars(&app, "AVG", 1_767_225_600_000 + day * 86_400_000 + 12 * 3_600_000, 60).await;
    }
    // From the middle of day 0 (12:30, closes 31..60) through all of day 1 to 12:10 on day 2 (closes 1..10).
    let q = "/api/v1/market/average/AVG?start=2026-01-01T12:30:00Z&end=2026-01-03T12:10:00Z";
    let (status, body) = app.get(q).await;
    assert_eq!(status, 200, "{body}");
    let expected_sum: i64 = (31..=60).sum::<i64>() + (1..=60).sum::<i64>() + (1..=10).sum::<i64>();
    let expected = (Decimal::from(expected_sum) / Decimal::from(100)).normalize().to_string();
    assert_eq!((body["average"].as_str().unwrap(), body["count"].as_i64()), (expected.as_str(), Some(100)));

    // The whole day in the middle is now cached; asking again gives the same answer.
    let cached: i64 = sqlx::query_scalar("select count(*) from bar_day_stats").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(cached, 1);
    assert_eq!(app.get(q).await.1, body);

    // A late bar on the cached day replaces its cached sum.
    import_rising_bars(&app, "AVG", 1_767_312_000_000, 1).await; // day 1 at 00:00, close 1
    let (_, after) = app.get(q).await;
    assert_eq!(after["count"].as_i64(), Some(101));
    let expected = (Decimal::from(expected_sum + 1) / Decimal::from(101)).round_dp(10).normalize().to_string();
    assert_eq!(after["average"].as_str().unwrap(), expected);
    app.stop().await;
}

#[tokio::test]
async fn average_of_an_empty_range_is_null_with_count_zero() {
    let app = spawn_app().await;
    import_rising_bars(&app, "EMP", 1_767_225_600_000, 1).await;
    let (status, body) =
        app.get("/api/v1/market/average/EMP?start=2025-01-01T00:00:00Z&end=2025-01-02T00:00:00Z").await;
    assert_eq!(status, 200);
    assert!(body["average"].is_null());
    assert_eq!(body["count"], 0);
    app.stop().await;
}

#[tokio::test]
async fn quote_is_the_latest_trade_or_else_the_latest_bar_close() {
    let app = spawn_app().await;
    import_rising_bars(&app, "QTE", 1_767_225_600_000, 3).await;
    let (_, q) = app.get("/api/v1/market/quote/qte").await;
    assert_eq!((q["price"].as_str(), q["source"].as_str()), (Some("3"), Some("bar")));
    let now = Utc::now();
    let ticks = json!([
        {"symbol": "QTE", "ts": now - Duration::seconds(2), "price": "7.5", "size": 1},
        {"symbol": "QTE", "ts": now - Duration::seconds(1), "price": "7.25", "size": 2}
    ]);
    app.post_ticks(ticks.to_string(), "application/json").await;
    let (_, q) = app.get("/api/v1/market/quote/QTE").await;
    assert_eq!(
        (q["price"].as_str(), q["size"].as_str(), q["source"].as_str()),
        (Some("7.25"), Some("2"), Some("tick"))
    );
    let (_, symbols) = app.get("/api/v1/market/symbols").await;
    assert_eq!(symbols, json!([{"symbol": "QTE"}]));
    app.stop().await;
}
