//! The Binance adapter against a local stand-in that speaks Binance's combined-stream format:
//! it checks the requested streams, replays trades and candles, announces `serverShutdown`,
//! drops the connection, and serves the reconnection.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use data_service::ingest::binance::{decode, Event};
use futures_util::SinkExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{handshake::server::Request, Message};

use crate::helpers::{eventually, spawn_with, test_settings};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/binance/{name}.json", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Serves scripted sessions: session i sends `sessions[i]` then closes. Returns the base URL,
/// the number of connections, and the request paths seen.
// The handshake callback's error type is tungstenite's, not ours to shrink.
#[allow(clippy::result_large_err)]
async fn stand_in(sessions: Vec<Vec<String>>) -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let paths = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c, p) = (connections.clone(), paths.clone());
    tokio::spawn(async move {
        let mut sessions = sessions.into_iter();
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let p = p.clone();
            let mut ws = tokio_tungstenite::accept_hdr_async(tcp, move |req: &Request, res| {
                p.lock().unwrap().push(req.uri().to_string());
                Ok(res)
            })
            .await
            .unwrap();
            c.fetch_add(1, Ordering::SeqCst);
            let script = sessions.next().unwrap_or_default();
            for m in script {
                ws.send(Message::Text(m.into())).await.unwrap();
            }
            // Keep the last session open; close the others as Binance does after serverShutdown.
            if sessions.len() == 0 {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            }
            let _ = ws.close(None).await;
        }
    });
    (url, connections, paths)
}

#[test]
fn documented_message_shapes_decode_to_events() {
    match decode(&fixture("btcusdt_trade_1")).unwrap() {
        Event::Trade(t) => {
            assert_eq!(
                (t.symbol.as_str(), t.price.to_string().as_str(), t.ts.timestamp_millis()),
                ("BTCUSDT", "87000.01000000", 1_767_225_600_099)
            );
        }
        other => panic!("expected a trade, got {other:?}"),
    }
    assert_eq!(decode(&fixture("btcusdt_kline_open")).unwrap(), Event::OpenBar);
    assert!(matches!(decode(&fixture("btcusdt_kline_closed")).unwrap(), Event::ClosedBar { .. }));
    assert_eq!(decode(&fixture("server_shutdown")).unwrap(), Event::ServerShutdown);
    assert_eq!(decode(&fixture("subscribe_reply")).unwrap(), Event::Other);
    // The raw (non-combined) form carries the same event.
    let raw = r#"{"e":"trade","E":1,"s":"ethusdt","t":1,"p":"1.5","q":"2","T":1767225600000,"m":true,"M":true}"#;
    assert!(matches!(decode(raw).unwrap(), Event::Trade(t) if t.symbol == "ETHUSDT"));
    assert!(decode("not json").is_err());
}

#[tokio::test]
async fn binance_trades_and_closed_candles_are_stored_and_the_feed_reconnects_after_server_shutdown() {
    let first = vec![
        fixture("subscribe_reply"),
        fixture("btcusdt_trade_1"),
        fixture("btcusdt_trade_2"),
        fixture("btcusdt_kline_open"),
        "{\"garbage\": true".to_owned(),
        fixture("btcusdt_kline_closed"),
        fixture("server_shutdown"),
    ];
    let second = vec![fixture("btcusdt_trade_3")];
    let (url, connections, paths) = stand_in(vec![first, second]).await;

    let db = test_support::TestDb::new().await;
    let mut settings = test_settings(&db);
    settings.binance = Some(data_service::configuration::BinanceSettings { url, symbols: vec!["BTCUSDT".into()] });
    let app = spawn_with(db, settings).await;

    eventually("three trades stored across the reconnect", || async {
        let n: i64 = sqlx::query_scalar("select count(*) from tick").fetch_one(&app.db.pool).await.unwrap();
        n == 3
    })
    .await;
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert_eq!(paths.lock().unwrap()[0], "/stream?streams=btcusdt@trade/btcusdt@kline_1m");

    // The closed candle is the exchange's word on the minute.
    eventually("the closed candle", || async {
        let (_, page) =
            app.get("/api/v1/market/bars/BTCUSDT?start=2026-01-01T00:00:00Z&end=2026-01-01T00:01:00Z").await;
        page["bars"][0]["close"] == "86990" && page["bars"][0]["low"] == "86985.25" && page["bars"][0]["trades"] == 3
    })
    .await;
    app.stop().await;
}
