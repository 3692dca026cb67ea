use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{
    alert, error_message, eventually, eventually_value, spawn_app, spawn_with, test_settings, FakeFeed,
};

#[tokio::test]
async fn a_tradingview_signal_produces_an_order_a_fill_and_a_position() {
    let (app, feed, _db) = spawn_app().await;
    app.follower("tv", "acct-1").await;
    feed.tick("BTCUSD", "100.00");

    let (status, receipt) = app.webhook(alert("tv", "pass-tv", "buy", "a-1").to_string(), "application/json").await;
    assert_eq!(status, 202, "{receipt}");
    assert_eq!(receipt["status"], "accepted");
    let signal_id = receipt["signal_id"].as_i64().unwrap();

    // The worker turns it into an order that waits for the next trade.
    eventually("an order for the signal", || async {
        app.get("/api/v1/orders?strategy=tv").await.1["orders"].as_array().is_some_and(|o| o.len() == 1)
    })
    .await;
    let (_, page) = app.get("/api/v1/orders?strategy=tv").await;
    let order = &page["orders"][0];
    assert_eq!(order["signal_id"].as_i64(), Some(signal_id));
    assert_eq!((order["side"].as_str(), order["qty"].as_str()), (Some("buy"), Some("2")));
    let order_id = order["order_id"].as_i64().unwrap();
    app.order_reaches(order_id, "new").await;
    feed.tick("BTCUSD", "101.25");
    let filled = app.order_reaches(order_id, "filled").await;
    assert_eq!(filled["avg_fill_price"], "101.25");
    let events: Vec<&str> = filled["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["created", "accepted", "fill"]);

    let (_, fills) = app.get("/api/v1/fills?strategy=tv").await;
    assert_eq!(fills.as_array().unwrap().len(), 1);
    assert_eq!((fills[0]["qty"].as_str(), fills[0]["price"].as_str()), (Some("2"), Some("101.25")));
    feed.tick("BTCUSD", "102.25");
    eventually("position marked to the last trade", || async {
        let (_, positions) = app.get("/api/v1/positions?account=acct-1").await;
        positions[0]["unrealized_pnl"] == "2"
    })
    .await;
    let (_, positions) = app.get("/api/v1/positions?account=acct-1").await;
    assert_eq!(positions.as_array().unwrap().len(), 1, "{positions}");
    assert_eq!((positions[0]["qty"].as_str(), positions[0]["avg_price"].as_str()), (Some("2"), Some("101.25")));
    let (_, signals) = app.get("/api/v1/signals?strategy=tv").await;
    assert_eq!(signals[0]["status"], "processed", "{signals}");
    // The equity history samples the account (every second in tests).
    eventually("an equity sample with the position's P&L", || async {
        let (_, equity) = app.get("/api/v1/equity?account=acct-1").await;
        equity.as_array().is_some_and(|e| e.iter().any(|p| p["unrealized_pnl"] == "2" && p["equity"] == "2"))
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_repeated_alert_id_is_answered_as_duplicate_and_creates_nothing() {
    let (app, feed, _db) = spawn_app().await;
    app.follower("tv", "acct-1").await;
    feed.tick("BTCUSD", "100");
    let body = alert("tv", "pass-tv", "buy", "same-id").to_string();
    let (status, first) = app.webhook(body.clone(), "application/json").await;
    assert_eq!(status, 202);
    let (status, receipt) = app.webhook(body.clone(), "application/json").await;
    assert_eq!((status, receipt["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(receipt["signal_id"], first["signal_id"], "a retry learns which signal its alert became");
    eventually("the first signal processed", || async {
        app.get("/api/v1/signals?strategy=tv").await.1[0]["status"] == "processed"
    })
    .await;
    // Still a duplicate after processing, and still only one order.
    let (_, again) = app.webhook(body, "application/json").await;
    assert_eq!((again["status"].as_str(), &again["signal_id"]), (Some("duplicate"), &first["signal_id"]));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signals: i64 = sqlx::query_scalar("select count(*) from signal").fetch_one(&app.pool).await.unwrap();
    let orders: i64 = sqlx::query_scalar("select count(*) from \"order\"").fetch_one(&app.pool).await.unwrap();
    assert_eq!((signals, orders), (1, 1));
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_passphrase_is_refused_with_401_and_nothing_is_stored() {
    let (app, _feed, _db) = spawn_app().await;
    app.follower("tv", "acct-1").await;
    let (status, body) = app.webhook(alert("tv", "pass-other", "buy", "x").to_string(), "application/json").await;
    assert_eq!(status, 401);
    assert!(error_message(&body, "unauthorized").contains("passphrase"));
    let signals: i64 = sqlx::query_scalar("select count(*) from signal").fetch_one(&app.pool).await.unwrap();
    assert_eq!(signals, 0);
    app.stop().await;
}

#[tokio::test]
async fn invalid_alerts_get_a_4xx_that_says_what_is_wrong() {
    let (app, _feed, _db) = spawn_app().await;
    app.follower("tv", "acct-1").await;
    let with = |field: &str, value: Value| {
        let mut a = alert("tv", "pass-tv", "buy", "id");
        a[field] = value;
        a.to_string()
    };
    let stale = (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339();
    let cases: Vec<(&str, String, u16, &str, &str)> = vec![
        ("not JSON", "{passphrase:".to_owned(), 400, "invalid_json", "not valid JSON"),
        (
            "missing field",
            json!({"passphrase": "pass-tv", "strategy": "tv"}).to_string(),
            400,
            "invalid_json",
            "ticker",
        ),
        ("unknown strategy", with("strategy", json!("nope")), 404, "not_found", "unknown strategy"),
        ("zero quantity", with("quantity", json!(0)), 422, "invalid_quantity", "greater than zero"),
        ("text quantity", with("quantity", json!("ten")), 422, "invalid_field", "not a number"),
        ("bad action", with("action", json!("hold")), 422, "invalid_action", "buy, sell or exit"),
        ("ticker not traded", with("ticker", json!("AAPL")), 422, "invalid_ticker", "does not trade"),
        ("stale alert", with("time", json!(stale)), 422, "stale_alert", "window is 60s"),
        ("too large", format!("{{\"pad\":\"{}\"}}", "x".repeat(5000)), 413, "payload_too_large", "4096"),
    ];
    for (what, body, status, code, needle) in cases {
        let (got, answer) = app.webhook(body, "application/json").await;
        assert_eq!(got, status, "{what}: {answer}");
        let message = error_message(&answer, code);
        assert!(message.contains(needle), "{what}: {message:?} lacks {needle:?}");
    }
    let signals: i64 = sqlx::query_scalar("select count(*) from signal").fetch_one(&app.pool).await.unwrap();
    assert_eq!(signals, 0, "nothing invalid is stored");
    app.stop().await;
}

#[tokio::test]
async fn text_plain_bodies_holding_json_are_accepted_like_tradingview_sends_them() {
    let (app, _feed, _db) = spawn_app().await;
    app.follower("tv", "acct-1").await;
    let (status, receipt) =
        app.webhook(alert("tv", "pass-tv", "buy", "plain").to_string(), "text/plain; charset=utf-8").await;
    assert_eq!(status, 202, "{receipt}");
    app.stop().await;
}

#[tokio::test]
async fn the_hmac_signature_is_checked_when_a_secret_is_configured() {
    let db = test_support::TestDb::new().await;
    let feed = FakeFeed::start().await;
    let mut settings = test_settings(&db.url(), &feed);
    settings.signals.hmac_secret =
        Some(platform::secrets::SecretSetting::Value(platform::aws::Redacted::new("s3cret".into())));
    let app = spawn_with(settings).await;
    app.follower("tv", "acct-1").await;
    let body = alert("tv", "pass-tv", "buy", "signed").to_string();
    let post = |signature: Option<String>| {
        let mut request = app
            .client
            .post(format!("{}/api/v1/signals/tradingview", app.address))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(s) = signature {
            request = request.header(engine::signals::webhook::SIGNATURE_HEADER, s);
        }
        request.send()
    };
    assert_eq!(post(None).await.unwrap().status().as_u16(), 401);
    let wrong = engine::signals::webhook::sign(b"other", body.as_bytes());
    assert_eq!(post(Some(wrong)).await.unwrap().status().as_u16(), 401);
    let right = engine::signals::webhook::sign(b"s3cret", body.as_bytes());
    assert_eq!(post(Some(right)).await.unwrap().status().as_u16(), 202);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_signals_are_all_committed_before_their_answers() {
    let (app, _feed, _db) = spawn_app().await;
    app.follower("tv", "acct-1").await;
    let requests = (0..300).map(|i| {
        let body = alert("tv", "pass-tv", "sell", &format!("c-{i}")).to_string();
        let client = app.client.clone();
        let url = format!("{}/api/v1/signals/tradingview", app.address);
        tokio::spawn(async move {
            let res = client.post(url).header("content-type", "application/json").body(body).send().await.unwrap();
            let status = res.status().as_u16();
            let receipt: Value = res.json().await.unwrap();
            (status, receipt["signal_id"].as_i64())
        })
    });
    let mut ids = Vec::new();
    for r in futures_util::future::join_all(requests).await {
        let (status, id) = r.unwrap();
        assert_eq!(status, 202);
        ids.push(id.unwrap());
    }
    // Every 202 names a row that is already committed.
    let stored: i64 = sqlx::query_scalar("select count(*) from signal where signal_id = any($1)")
        .bind(&ids)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 300);
    app.stop().await;
}

#[tokio::test]
async fn a_signal_that_cannot_be_traded_fails_with_its_reason_and_the_rest_of_its_batch_is_processed() {
    let (app, _feed, _db) = spawn_app().await;
    let strategy = app.follower("tv", "acct-1").await;
    // Committed together, so the worker claims them in one batch. The first asks for more than
    // an order quantity can hold (the webhook refuses that; a row can still hold it).
    let ids: Vec<i64> = sqlx::query_scalar(
        "insert into signal (strategy_id, account, strategy, dedupe_key, ticker, action, quantity, payload)
         select $1, 'acct-1', 'tv', k, 'BTCUSD', 'buy', q, '{}'::jsonb
           from unnest(array['huge', 'one', 'two'], array[1e15, 1, 3]::numeric[]) as t(k, q)
         returning signal_id",
    )
    .bind(strategy["strategy_id"].as_i64().unwrap())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    eventually("all three signals decided", || async {
        let pending: i64 = sqlx::query_scalar("select count(*) from signal where status = 'pending'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        pending == 0
    })
    .await;
    let decided: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("select signal_id, status, note from signal where signal_id = any($1) order by signal_id")
            .bind(&ids)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(decided[0].1, "failed", "{decided:?}");
    assert!(decided[0].2.as_deref().unwrap_or_default().contains("do not fit"), "{decided:?}");
    assert_eq!((decided[1].1.as_str(), decided[2].1.as_str()), ("processed", "processed"), "{decided:?}");
    let (_, page) = app.get("/api/v1/orders?strategy=tv").await;
    let mut quantities: Vec<&str> =
        page["orders"].as_array().unwrap().iter().map(|o| o["qty"].as_str().unwrap()).collect();
    quantities.sort_unstable();
    assert_eq!(quantities, ["1", "3"], "{page}");
    app.stop().await;
}

#[tokio::test]
async fn a_signal_queued_past_its_time_to_live_fails_as_expired_instead_of_trading() {
    let (app, feed, db) = spawn_app().await;
    app.follower("ttl", "acct").await;
    feed.tick("BTCUSD", "100");
    // The time-to-live runs from when the alert fired: SIGNAL_MAX_AGE_SECS (60 s here) later.
    let fired = chrono::Utc::now() - chrono::Duration::seconds(10);
    let mut body = alert("ttl", "pass-ttl", "buy", "fresh");
    body["time"] = json!(fired.to_rfc3339());
    let (status, receipt) = app.webhook(body.to_string(), "application/json").await;
    assert_eq!(status, 202, "{receipt}");
    let expires_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select expires_at from signal where signal_id = $1")
            .bind(receipt["signal_id"].as_i64().unwrap())
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!((expires_at - (fired + chrono::Duration::seconds(60))).num_milliseconds().abs() < 2, "{expires_at}");

    // An alert accepted two minutes ago that no engine could process until now (all were down).
    let late: i64 = sqlx::query_scalar(
        "insert into signal (strategy_id, account, strategy, dedupe_key, ticker, action, quantity, payload,
                             received_at, expires_at)
         select strategy_id, account, name, 'late', 'BTCUSD', 'buy', 2, '{}', now() - interval '2 minutes',
                now() - interval '1 minute'
           from strategy where name = 'ttl'
         returning signal_id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let (status, note) = eventually_value("the late signal decided", Duration::from_secs(10), || async {
        let decided: (String, Option<String>) = sqlx::query_as("select status, note from signal where signal_id = $1")
            .bind(late)
            .fetch_one(&db.pool)
            .await
            .unwrap();
        (decided.0 != "pending").then_some(decided)
    })
    .await;
    assert_eq!(status, "failed");
    assert!(note.as_deref().is_some_and(|n| n.starts_with("expired")), "{note:?}");
    let orders: i64 = sqlx::query_scalar("select count(*) from \"order\" where signal_id = $1")
        .bind(late)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(orders, 0, "an expired signal does not trade");
    app.stop().await;
}
