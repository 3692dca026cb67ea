use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{error_message, spawn_app, TestApp};

pub async fn connect(
    app: &TestApp,
    query: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/api/v1/market/stream{query}", app.port))
        .await
        .expect("connect");
    ws
}

pub async fn next_json(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

#[tokio::test]
async fn subscribers_receive_committed_ticks_of_their_symbols_only() {
    let app = spawn_app().await;
    let mut only_a = connect(&app, "?symbols=aaa").await;
    let mut all = connect(&app, "").await;
    // Let both subscriptions register before ticks flow.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ticks = json!([
        {"symbol": "BBB", "ts": "2026-01-05T10:00:00Z", "price": "2", "size": "1"},
        {"symbol": "AAA", "ts": "2026-01-05T10:00:01Z", "price": "1.5", "size": "3"}
    ]);
    assert_eq!(app.post_ticks(ticks.to_string(), "application/json").await.0, 200);

    let m = next_json(&mut only_a).await;
    assert_eq!(m, json!({"type": "tick", "symbol": "AAA", "ts": "2026-01-05T10:00:01Z", "price": "1.5", "size": "3"}));
    let first = next_json(&mut all).await;
    let second = next_json(&mut all).await;
    assert_eq!((first["symbol"].as_str(), second["symbol"].as_str()), (Some("BBB"), Some("AAA")));

    // Nothing else arrives for the filtered client.
    assert!(tokio::time::timeout(Duration::from_millis(300), only_a.next()).await.is_err());
    app.stop().await;
}

#[tokio::test]
async fn an_invalid_symbol_list_is_refused_before_the_upgrade() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!("{}/api/v1/market/stream?symbols=a%20b", app.address))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    error_message(&res.json().await.unwrap(), "invalid_symbol");
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_never_reads_does_not_slow_ingest() {
    let app = spawn_app().await;
    // This client subscribes and then never reads a byte.
    let _stalled = connect(&app, "").await;
    let mut reader = connect(&app, "?symbols=FAST").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // 200 requests of 500 ticks each: far more than the stalled socket's buffers hold.
    let started = std::time::Instant::now();
    for i in 0..200 {
        let ticks: Vec<Value> = (0..500)
            .map(|j| json!({"symbol": "FAST", "ts": 1_767_225_600_000i64 + i * 1000 + j, "price": "1.0001", "size": "100000"}))
            .collect();
        assert_eq!(app.post_ticks(json!(ticks).to_string(), "application/json").await.0, 200);
    }
    let elapsed = started.elapsed();
    // Every tick was stored, and the reading client still gets live data.
    let n: i64 = sqlx::query_scalar("select count(*) from tick").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(n, 100_000);
    let m = next_json(&mut reader).await;
    assert!(m["type"] == "tick" || m["type"] == "lagged", "{m}");
    // Not a speed assertion: a blocked ingest would never finish, this bound only catches that.
    assert!(elapsed < Duration::from_secs(120), "ingest took {elapsed:?}");
    app.stop().await;
}
