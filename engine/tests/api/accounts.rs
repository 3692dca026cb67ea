//! Several broker accounts in one engine: each routed account trades at its own venue with its
//! own keys (`ACCOUNTS`), every other account at the default venue (paper), side by side.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_with, test_settings, FakeFeed, TestApp};
use crate::{alpaca, binance};

/// An engine trading `us` at the Alpaca stand-in, `crypto` at the Binance stand-in, and every
/// other account on paper.
async fn two_broker_engine(db: &test_support::TestDb, us: &alpaca::StandIn, crypto: &binance::StandIn) -> TestApp {
    let feed = FakeFeed::start().await;
    let mut settings = test_settings(&db.url(), &feed);
    settings.reconcile_interval = Duration::from_millis(400);
    settings.accounts =
        vec![("crypto".to_owned(), binance::venue_settings(crypto)), ("us".to_owned(), alpaca::venue_settings(us))];
    let app = spawn_with(settings).await;
    eventually("both streams listen", || async { *us.listening.lock().unwrap() && *crypto.listening.lock().unwrap() })
        .await;
    app
}

async fn place(app: &TestApp, account: &str, symbol: &str, qty: &str, limit_price: &str, client: &str) -> i64 {
    let body = json!({"account": account, "symbol": symbol, "side": "buy", "qty": qty, "limit_price": limit_price,
                      "client_order_id": client});
    let (status, placed) = app.post("/api/v1/orders", body).await;
    assert_eq!(status, 201, "{placed}");
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    id
}

async fn position(app: &TestApp, account: &str) -> Value {
    app.get(&format!("/api/v1/positions?account={account}")).await.1[0]["qty"].clone()
}

#[tokio::test]
async fn two_broker_accounts_on_two_venues_trade_side_by_side_in_one_engine() {
    let db = test_support::TestDb::new().await;
    let (us, crypto) = (alpaca::StandIn::start().await, binance::StandIn::start().await);
    let app = two_broker_engine(&db, &us, &crypto).await;
    let stock = place(&app, "us", "AAPL", "2", "150", "side-1").await;
    let coin = place(&app, "crypto", "BTCUSDT", "0.02", "64000", "side-2").await;
    let sim = place(&app, "sim", "AAPL", "1", "1", "side-3").await;
    let venue_of = |order: Value| order["venue"].as_str().unwrap().to_owned();
    assert_eq!(venue_of(app.get(&format!("/api/v1/orders/{stock}")).await.1), "alpaca:us");
    assert_eq!(venue_of(app.get(&format!("/api/v1/orders/{coin}")).await.1), "binance:crypto");
    assert_eq!(venue_of(app.get(&format!("/api/v1/orders/{sim}")).await.1), "paper");
    assert_eq!(us.orders.lock().unwrap().len(), 1, "only the us order went to Alpaca");
    assert_eq!(crypto.placed(), 1, "only the crypto order went to Binance");

    // Binance's stream drops while both venues execute: Alpaca's fill arrives at once, Binance's
    // is found by the reconciliation after its stream reconnects.
    crypto.drop_stream();
    eventually("Binance's stream is down", || async { !*crypto.listening.lock().unwrap() }).await;
    let _ = crypto.execute(&format!("hly-{coin}"), "0.02", "64000");
    us.fill(&format!("hly-{stock}"), "2", "150");
    app.order_reaches(stock, "filled").await;
    crypto.restore_stream();
    app.order_reaches(coin, "filled").await;
    assert_eq!(position(&app, "us").await, "2");
    assert_eq!(position(&app, "crypto").await, "0.02");
    assert_eq!(app.get(&format!("/api/v1/orders/{sim}")).await.1["status"], "new", "the paper order waits for a tick");

    let (status, accounts) = app.get("/api/v1/accounts").await;
    assert_eq!(status, 200);
    assert_eq!(accounts["default_venue"], "paper");
    let listed: Vec<(&str, &str, bool)> = accounts["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (a["account"].as_str().unwrap(), a["venue"].as_str().unwrap(), a["own_broker_account"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(listed, [("crypto", "binance:crypto", true), ("sim", "paper", false), ("us", "alpaca:us", true)]);

    // Equal positions at Alpaca raise nothing; a trade made by hand at Binance halts the
    // account trading there, and only that one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.get("/api/v1/halt").await.1, json!([]));
    crypto.trade_at_venue("SELL", "0.01", "64100");
    eventually("the Binance account is halted", || async {
        !app.get("/api/v1/halt").await.1.as_array().unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, halts) = app.get("/api/v1/halt").await;
    let halted: Vec<&str> = halts.as_array().unwrap().iter().map(|h| h["account"].as_str().unwrap()).collect();
    assert_eq!(halted, ["crypto"], "{halts}");
    app.stop().await;
}
