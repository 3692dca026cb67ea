use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{eventually, spawn_app, spawn_with, test_settings};

#[tokio::test]
async fn a_halt_stops_new_orders_on_two_engine_instances_at_once() {
    let (a, feed, db) = spawn_app().await;
    let b = spawn_with(test_settings(&db.url(), &feed)).await;
    feed.wait_for_clients(2).await;
    feed.tick("BTCUSD", "100");

    let (status, halt) =
        a.post("/api/v1/halt", json!({"reason": "desk says stop", "scope": "account", "account": "x"})).await;
    assert_eq!(status, 201, "{halt}");
    // Immediately, on the other instance: orders of the halted account are refused, others pass.
    let (_, refused) = b.place_market("x", "BTCUSD", "buy", "1", "h-1").await;
    assert_eq!((refused["status"].as_str(), refused["reject_reason"].as_str()), (Some("rejected"), Some("halted")));
    let (_, passed) = b.place_market("y", "BTCUSD", "buy", "1", "h-2").await;
    assert_eq!(passed["status"], "pending_new");

    // A halt of everything through b stops a as well.
    b.post("/api/v1/halt", json!({"reason": "all stop", "scope": "all"})).await;
    let (_, refused) = a.place_market("y", "BTCUSD", "buy", "1", "h-3").await;
    assert_eq!(refused["reject_reason"], "halted");
    let (_, active) = a.get("/api/v1/halt").await;
    assert_eq!(active.as_array().unwrap().len(), 2);

    // Resume lifts exactly the named halt.
    let (_, resumed) = a.post("/api/v1/resume", json!({"scope": "all"})).await;
    assert_eq!(resumed["lifted"], 1);
    assert_eq!(b.place_market("y", "BTCUSD", "buy", "1", "h-4").await.1["status"], "pending_new");
    assert_eq!(b.place_market("x", "BTCUSD", "buy", "1", "h-5").await.1["reject_reason"], "halted");
    a.post("/api/v1/resume", json!({"scope": "account", "account": "x"})).await;
    assert_eq!(b.place_market("x", "BTCUSD", "buy", "1", "h-6").await.1["status"], "pending_new");

    let audit: Vec<(String, String)> =
        sqlx::query_as("select action, actor from audit_log where action in ('halt', 'resume') order by audit_id")
            .fetch_all(&a.pool)
            .await
            .unwrap();
    assert_eq!(audit.iter().map(|(a, _)| a.as_str()).collect::<Vec<_>>(), ["halt", "halt", "resume", "resume"]);
    assert!(audit.iter().all(|(_, actor)| actor.starts_with("test-")), "{audit:?}");
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_halt_cancels_working_orders_on_every_instance_within_a_second() {
    let (a, feed, db) = spawn_app().await;
    let b = spawn_with(test_settings(&db.url(), &feed)).await;
    feed.wait_for_clients(2).await;
    feed.tick("BTCUSD", "100");
    let (_, resting) = b
        .post("/api/v1/orders", json!({"account": "acct", "symbol": "BTCUSD", "side": "buy", "qty": "1", "limit_price": "90", "client_order_id": "rest"}))
        .await;
    let id = resting["order_id"].as_i64().unwrap();
    b.order_reaches(id, "new").await;

    let started = Instant::now();
    a.post("/api/v1/halt", json!({"reason": "test", "scope": "strategy", "strategy": "manual"})).await;
    let mut status = String::new();
    while started.elapsed() < Duration::from_secs(1) {
        status = a.get(&format!("/api/v1/orders/{id}")).await.1["status"].as_str().unwrap().to_owned();
        if status == "cancelled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, "cancelled", "the order on the other instance was not cancelled within 1 s");
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_halt_with_flatten_closes_positions_and_survives_a_restart() {
    let (app, feed, db) = spawn_app().await;
    feed.tick("ETHUSD", "50");
    let (_, bought) = app.place_market("acct", "ETHUSD", "buy", "3", "buy-3").await;
    let id = bought["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    feed.tick("ETHUSD", "50");
    app.order_reaches(id, "filled").await;

    let (status, _) = app
        .post("/api/v1/halt", json!({"reason": "flatten all", "scope": "account", "account": "acct", "flatten": true}))
        .await;
    assert_eq!(status, 201);
    eventually("a flatten order working", || async {
        app.get("/api/v1/orders?account=acct&status=new").await.1["orders"].as_array().is_some_and(|o| o.len() == 1)
    })
    .await;
    feed.tick("ETHUSD", "55");
    eventually("the position flat", || async { app.get("/api/v1/positions?account=acct").await.1[0]["qty"] == "0" })
        .await;
    let (_, pnl) = app.get("/api/v1/pnl?account=acct").await;
    assert_eq!(pnl["realized_pnl"], "15", "{pnl}");

    // The halt is a row: a new engine on the same database still refuses the account.
    app.stop().await;
    let restarted = spawn_with(test_settings(&db.url(), &feed)).await;
    let (_, refused) = restarted.place_market("acct", "ETHUSD", "buy", "1", "after-restart").await;
    assert_eq!(refused["reject_reason"], "halted");
    restarted.stop().await;
}

#[tokio::test]
async fn a_reduce_only_halt_lets_positions_close_but_not_open_grow_or_flip_and_cancels_only_growing_orders() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("BTCUSD", "100");
    let (_, bought) = app.place_market("wind", "BTCUSD", "buy", "10", "ro-1").await;
    let bought = bought["order_id"].as_i64().unwrap();
    feed.tick("BTCUSD", "100.5");
    app.order_reaches(bought, "filled").await;
    let limit = |side: &str, qty: &str, price: &str, id: &str| json!({"account": "wind", "symbol": "BTCUSD", "side": side, "qty": qty, "limit_price": price, "client_order_id": id});
    let (_, growing) = app.post("/api/v1/orders", limit("buy", "1", "90", "ro-grow")).await;
    let (_, closing) = app.post("/api/v1/orders", limit("sell", "4", "120", "ro-close")).await;
    let (growing, closing) = (growing["order_id"].as_i64().unwrap(), closing["order_id"].as_i64().unwrap());
    app.order_reaches(growing, "new").await;
    app.order_reaches(closing, "new").await;

    let (status, halt) = app
        .post(
            "/api/v1/halt",
            json!({"reason": "wind down", "scope": "account", "account": "wind", "reduce_only": true}),
        )
        .await;
    assert_eq!((status, halt["reduce_only"].as_bool()), (201, Some(true)), "{halt}");
    app.order_reaches(growing, "cancelled").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.get(&format!("/api/v1/orders/{closing}")).await.1["status"], "new", "a closing order keeps working");

    // Long 10 with 4 on their way out: 6 more may go, not 7 (that would flip), and no buy.
    let (_, flip) = app.place_market("wind", "BTCUSD", "sell", "7", "ro-flip").await;
    assert_eq!(flip["reject_reason"], "halted", "{flip}");
    let (_, grow) = app.place_market("wind", "BTCUSD", "buy", "1", "ro-buy").await;
    assert_eq!(grow["reject_reason"], "halted");
    let (_, rest) = app.place_market("wind", "BTCUSD", "sell", "6", "ro-rest").await;
    assert_eq!(rest["status"], "pending_new", "{rest}");
    let rest = rest["order_id"].as_i64().unwrap();
    feed.tick("BTCUSD", "101");
    app.order_reaches(rest, "filled").await;
    assert_eq!(app.get("/api/v1/positions?account=wind").await.1[0]["qty"], "4");
    // Other accounts are not covered; a blocking halt on top refuses closing orders too.
    assert_eq!(app.place_market("other", "BTCUSD", "buy", "1", "ro-other").await.1["status"], "pending_new");
    app.post("/api/v1/halt", json!({"reason": "stop everything", "scope": "all"})).await;
    let (_, blocked) = app.place_market("wind", "BTCUSD", "sell", "1", "ro-blocked").await;
    assert_eq!(blocked["reject_reason"], "halted");
    app.stop().await;
}
