//! Several data-service tasks on one database, as ECS runs them: the live stream of every task
//! carries every tick, whichever task stored it; a feed runs on one task at a time and moves to
//! another when its holder stops; each trade is stored once.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use data_service::configuration::{BinanceSettings, FeedLeaseSettings};
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio::{net::TcpListener, sync::broadcast};
use tokio_tungstenite::tungstenite::Message;

use crate::{
    helpers::{eventually, spawn_app, spawn_peer, spawn_with, test_settings, TestApp},
    stream::{connect, next_json},
};

/// Ticks of `symbol` with prices 1, 2, … `n` (the price says the order they were posted in).
fn ticks(symbol: &str, first: i64, n: i64) -> String {
    let ticks: Vec<Value> = (first..first + n)
        .map(|i| json!({"symbol": symbol, "ts": 1_767_225_600_000i64 + i, "price": i.to_string(), "size": "1"}))
        .collect();
    json!(ticks).to_string()
}

/// Reads tick messages until `n` have arrived; returns their prices in order.
async fn read_prices(
    ws: &mut (impl futures_util::StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
    n: usize,
) -> Vec<i64> {
    let mut prices = Vec::with_capacity(n);
    while prices.len() < n {
        let m = next_json(ws).await;
        assert_eq!(m["type"], "tick", "{m}");
        prices.push(m["price"].as_str().unwrap().parse().unwrap());
    }
    prices
}

#[tokio::test]
async fn a_stream_client_on_either_task_receives_every_tick_posted_to_the_other_in_order() {
    let a = spawn_app().await;
    let b = spawn_peer(&a, test_settings(&a.db)).await;
    let mut on_a = connect(&a, "?symbols=BTCUSD").await;
    let mut on_b = connect(&b, "?symbols=BTCUSD").await;

    // Posted to b, in three requests, with another symbol mixed in.
    for first in [1, 401, 801] {
        assert_eq!(b.post_ticks(ticks("BTCUSD", first, 400), "application/json").await.0, 200);
        assert_eq!(b.post_ticks(ticks("ETHUSD", first, 10), "application/json").await.0, 200);
    }
    let expected: Vec<i64> = (1..=1200).collect();
    assert_eq!(read_prices(&mut on_a, 1200).await, expected, "a's client: every tick b stored, in order");
    assert_eq!(read_prices(&mut on_b, 1200).await, expected, "b's own client too");

    // And the other way round.
    assert_eq!(a.post_ticks(ticks("BTCUSD", 5000, 50), "application/json").await.0, 200);
    assert_eq!(read_prices(&mut on_b, 50).await, (5000..5050).collect::<Vec<_>>());
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_stream_client_is_told_of_a_gap_when_the_relay_reconnects_and_keeps_receiving() {
    let app = spawn_app().await;
    let mut ws = connect(&app, "?symbols=GAP").await;
    assert_eq!(app.post_ticks(ticks("GAP", 1, 3), "application/json").await.0, 200);
    assert_eq!(read_prices(&mut ws, 3).await, vec![1, 2, 3]);

    // The database drops the relay's connection (a failover or restart does the same).
    let terminated: Vec<bool> = sqlx::query_scalar(
        "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query ilike 'listen%'",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(terminated, vec![true], "one relay connection listening");

    let gap = next_json(&mut ws).await;
    assert_eq!((gap["type"].as_str(), gap["skipped"].is_null()), (Some("lagged"), true), "{gap}");
    assert!(gap["reason"].as_str().unwrap().contains("history"), "{gap}");
    assert_eq!(app.post_ticks(ticks("GAP", 4, 2), "application/json").await.0, 200);
    assert_eq!(read_prices(&mut ws, 2).await, vec![4, 5]);
    app.stop().await;
}

/// A stand-in for Binance's combined stream that behaves like a live exchange: one sequence of
/// trades (ids from 1, price = id), each sent to every connection open at that moment.
async fn live_exchange() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let (trades, _) = broadcast::channel::<String>(4096);
    let sender = trades.clone();
    tokio::spawn(async move {
        for id in 1i64.. {
            let trade = json!({"stream": "btcusdt@trade", "data": {"e": "trade", "E": 1_767_225_600_000i64 + id,
                "s": "BTCUSDT", "t": id, "p": id.to_string(), "q": "0.5", "T": 1_767_225_600_000i64 + id,
                "m": true, "M": true}});
            let _ = sender.send(trade.to_string());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut feed = trades.subscribe();
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
                while let Ok(trade) = feed.recv().await {
                    if ws.send(Message::Text(trade.into())).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, connections)
}

async fn stored_trades(app: &TestApp) -> (i64, i64) {
    sqlx::query_as("select count(*), count(distinct price) from tick").fetch_one(&app.db.pool).await.unwrap()
}

#[tokio::test]
async fn a_binance_feed_on_two_tasks_stores_each_trade_once_and_moves_to_the_other_when_its_holder_stops() {
    let (url, connections) = live_exchange().await;
    let db = test_support::TestDb::new().await;
    let settings = |db: &test_support::TestDb| {
        let mut s = test_settings(db);
        s.binance = Some(BinanceSettings { url: url.clone(), symbols: vec!["BTCUSDT".into()] });
        s.feed_lease = FeedLeaseSettings { ttl: Duration::from_secs(2), renew: Duration::from_millis(200) };
        s
    };
    let first_settings = settings(&db);
    let first = spawn_with(db, first_settings).await;
    eventually("the first task runs the feed", || async { stored_trades(&first).await.0 >= 10 }).await;
    let second = spawn_peer(&first, settings(&first.db)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(connections.load(Ordering::SeqCst), 1, "only the lease holder connects to the venue");
    let (stored, distinct) = stored_trades(&first).await;
    assert_eq!(stored, distinct, "each trade stored once");

    // The holder stops (a deploy replaces it): the other task takes the feed over.
    first.stop().await;
    let before = stored_trades(&second).await.0;
    eventually("the second task runs the feed", || async { stored_trades(&second).await.0 >= before + 20 }).await;
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    let (stored, distinct) = stored_trades(&second).await;
    assert_eq!(stored, distinct, "no trade stored twice across the take-over");
    second.stop().await;
}
