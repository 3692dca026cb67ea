use serde_json::json;

use crate::helpers::{eventually, spawn_app};

#[tokio::test]
async fn a_manual_market_order_fills_at_the_next_trade() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("ETHUSD", "2000");
    let (status, order) = app.place_market("acct", "ethusd", "buy", "1.5", "m-1").await;
    assert_eq!(status, 201, "{order}");
    assert_eq!((order["status"].as_str(), order["strategy"].as_str()), (Some("pending_new"), Some("manual")));
    let id = order["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    feed.tick("ETHUSD", "2001.5");
    let filled = app.order_reaches(id, "filled").await;
    assert_eq!((filled["filled_qty"].as_str(), filled["avg_fill_price"].as_str()), (Some("1.5"), Some("2001.5")));
    app.stop().await;
}

#[tokio::test]
async fn retrying_with_the_same_client_order_id_returns_the_same_order() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("ETHUSD", "2000");
    let (first_status, first) = app.place_market("acct", "ETHUSD", "buy", "1", "retry-me").await;
    let (second_status, second) = app.place_market("acct", "ETHUSD", "buy", "1", "retry-me").await;
    assert_eq!((first_status, second_status), (201, 200));
    assert_eq!(first["order_id"], second["order_id"]);
    // The same key under another account is another order.
    let (other_status, other) = app.place_market("acct-2", "ETHUSD", "buy", "1", "retry-me").await;
    assert_eq!(other_status, 201);
    assert_ne!(other["order_id"], first["order_id"]);
    let orders: i64 = sqlx::query_scalar("select count(*) from \"order\"").fetch_one(&app.pool).await.unwrap();
    assert_eq!(orders, 2);
    app.stop().await;
}

#[tokio::test]
async fn every_risk_check_rejects_with_its_reason_stored_on_the_order() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("BTCUSD", "100");
    // Each case: the limits, then an order that breaks exactly that limit.
    let cases = [
        ("max_order_qty", json!({"max_order_qty": "5"}), json!({"qty": "6"})),
        ("max_order_notional", json!({"max_order_notional": "999"}), json!({"qty": "10"})),
        ("max_position", json!({"max_position": "3"}), json!({"qty": "4"})),
        ("max_gross_exposure", json!({"max_gross_exposure": "250"}), json!({"qty": "3"})),
        ("price_collar", json!({"price_collar_bps": "100"}), json!({"qty": "1", "limit_price": "101.5"})),
    ];
    for (i, (reason, limits, order)) in cases.into_iter().enumerate() {
        let account = format!("risk-{i}");
        let (status, _) = app.send(reqwest::Method::PUT, &format!("/api/v1/risk-limits/{account}"), limits).await;
        assert_eq!(status, 200);
        let mut body =
            json!({"account": account, "symbol": "BTCUSD", "side": "buy", "client_order_id": format!("r-{i}")});
        body.as_object_mut().unwrap().extend(order.as_object().unwrap().clone());
        let (status, placed) = app.post("/api/v1/orders", body).await;
        assert_eq!(status, 201, "{reason}: {placed}");
        assert_eq!(
            (placed["status"].as_str(), placed["reject_reason"].as_str()),
            (Some("rejected"), Some(reason)),
            "{placed}"
        );
        let (_, detail) = app.get(&format!("/api/v1/orders/{}", placed["order_id"])).await;
        assert_eq!(detail["events"][0]["event"], "risk_rejected");
    }
    // Within the limits the same account trades.
    let (_, ok) = app.place_market("risk-0", "BTCUSD", "buy", "5", "r-ok").await;
    assert_eq!(ok["status"], "pending_new", "{ok}");
    app.stop().await;
}

#[tokio::test]
async fn the_order_rate_limit_rejects_orders_beyond_the_allowed_count_per_minute() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("BTCUSD", "100");
    app.send(reqwest::Method::PUT, "/api/v1/risk-limits/fast", json!({"max_orders_per_minute": 2})).await;
    let mut statuses = Vec::new();
    for i in 0..3 {
        let (_, order) = app.place_market("fast", "BTCUSD", "buy", "1", &format!("f-{i}")).await;
        statuses
            .push((order["status"].as_str().unwrap().to_owned(), order["reject_reason"].as_str().map(str::to_owned)));
    }
    assert_eq!(statuses[2], ("rejected".to_owned(), Some("order_rate_limit".to_owned())), "{statuses:?}");
    assert!(statuses[..2].iter().all(|(s, _)| s != "rejected"), "{statuses:?}");
    app.stop().await;
}

#[tokio::test]
async fn breaching_the_daily_loss_limit_rejects_the_order_and_halts_the_account() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("BTCUSD", "100");
    let (_, bought) = app.place_market("loser", "BTCUSD", "buy", "10", "l-1").await;
    app.order_reaches(bought["order_id"].as_i64().unwrap(), "new").await;
    feed.tick("BTCUSD", "100");
    app.order_reaches(bought["order_id"].as_i64().unwrap(), "filled").await;
    app.send(reqwest::Method::PUT, "/api/v1/risk-limits/loser", json!({"max_daily_loss": "50"})).await;
    feed.tick("BTCUSD", "90"); // 10 × -10 = -100 unrealized
    eventually("the engine saw the drop", || async {
        app.get("/api/v1/positions?account=loser").await.1[0]["unrealized_pnl"] == "-100"
    })
    .await;
    let (_, more) = app.place_market("loser", "BTCUSD", "buy", "1", "l-2").await;
    assert_eq!(more["reject_reason"], "daily_loss_limit", "{more}");
    eventually("the account halted", || async {
        app.get("/api/v1/halt").await.1.as_array().is_some_and(|h| h.iter().any(|h| h["account"] == "loser"))
    })
    .await;
    // A reducing order is refused too now: the account is halted.
    let (_, reduce) = app.place_market("loser", "BTCUSD", "sell", "1", "l-3").await;
    assert_eq!(reduce["reject_reason"], "halted");
    let halts: i64 = sqlx::query_scalar("select count(*) from halt where account = 'loser' and created_by = 'engine'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(halts, 1, "one automatic halt, not one per rejected order");
    app.stop().await;
}

#[tokio::test]
async fn a_limit_order_waits_until_touched_and_can_be_cancelled() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("BTCUSD", "100");
    let place = |price: &str, id: &str| {
        app.post(
            "/api/v1/orders",
            json!({"account": "a", "symbol": "BTCUSD", "side": "buy", "qty": "1",
            "limit_price": price, "client_order_id": id}),
        )
    };
    let (_, touched) = place("99", "lim-1").await;
    let (_, resting) = place("95", "lim-2").await;
    let (touched, resting) = (touched["order_id"].as_i64().unwrap(), resting["order_id"].as_i64().unwrap());
    app.order_reaches(touched, "new").await;
    app.order_reaches(resting, "new").await;
    feed.tick("BTCUSD", "99.5");
    feed.tick("BTCUSD", "98.9");
    let filled = app.order_reaches(touched, "filled").await;
    assert_eq!(filled["avg_fill_price"], "98.9");
    assert_eq!(app.get(&format!("/api/v1/orders/{resting}")).await.1["status"], "new");
    let (status, cancelling) = app.post(&format!("/api/v1/orders/{resting}/cancel"), json!({})).await;
    assert_eq!((status, cancelling["status"].as_str()), (202, Some("pending_cancel")));
    let cancelled = app.order_reaches(resting, "cancelled").await;
    let events: Vec<&str> =
        cancelled["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["created", "accepted", "cancel_requested", "cancelled"]);
    // A final order cannot be cancelled.
    let (status, _) = app.post(&format!("/api/v1/orders/{touched}/cancel"), json!({})).await;
    assert_eq!(status, 409);
    app.stop().await;
}

#[tokio::test]
async fn risk_limit_changes_are_recorded_in_the_audit_log_with_the_token_name() {
    let (app, _feed, _db) = spawn_app().await;
    app.send(reqwest::Method::PUT, "/api/v1/risk-limits/acct", json!({"max_order_qty": "5"})).await;
    let (status, limits) =
        app.send(reqwest::Method::PUT, "/api/v1/risk-limits/acct", json!({"max_order_qty": "7"})).await;
    assert_eq!((status, limits["max_order_qty"].as_str()), (200, Some("7")));
    let rows: Vec<(String, serde_json::Value)> =
        sqlx::query_as("select actor, detail from audit_log where action = 'risk_limits.update' order by audit_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[1].0.starts_with("test-"), "actor is the token name: {}", rows[1].0);
    assert_eq!(
        (rows[1].1["before"]["max_order_qty"].as_str(), rows[1].1["after"]["max_order_qty"].as_str()),
        (Some("5"), Some("7"))
    );
    let (status, _) = app.send(reqwest::Method::PUT, "/api/v1/risk-limits/acct", json!({"max_order_qty": "-1"})).await;
    assert_eq!(status, 422);
    app.send(reqwest::Method::PUT, "/api/v1/risk-limits/other", json!({"max_order_qty": "9"})).await;

    // The same entries over the API, newest first, for one account.
    let (status, entries) = app.get("/api/v1/audit?target=account:acct").await;
    assert_eq!(status, 200, "{entries}");
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 2, "the refused change is not audited and the other account is filtered out");
    assert_eq!(entries[0]["action"], "risk_limits.update");
    assert_eq!(
        (
            entries[0]["detail"]["before"]["max_order_qty"].as_str(),
            entries[0]["detail"]["after"]["max_order_qty"].as_str()
        ),
        (Some("5"), Some("7"))
    );
    assert!(entries[0]["audit_id"].as_i64() > entries[1]["audit_id"].as_i64());
    let (_, older) = app.get(&format!("/api/v1/audit?target=account:acct&before={}", entries[0]["audit_id"])).await;
    assert_eq!(older.as_array().unwrap().len(), 1);
    let (status, _) = app.get("/api/v1/audit?limit=0").await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401_but_health_and_openapi_are_open() {
    let (app, _feed, _db) = spawn_app().await;
    let no_token = app.client.get(format!("{}/api/v1/orders", app.address)).send().await.unwrap();
    assert_eq!(no_token.status().as_u16(), 401);
    let bad = app.client.get(format!("{}/api/v1/orders", app.address)).bearer_auth("hly_nope").send().await.unwrap();
    assert_eq!(bad.status().as_u16(), 401);
    let health = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let doc: serde_json::Value =
        app.client.get(format!("{}/api/v1/openapi.json", app.address)).send().await.unwrap().json().await.unwrap();
    for path in
        ["/api/v1/signals/tradingview", "/api/v1/orders", "/api/v1/halt", "/api/v1/strategies", "/api/v1/positions"]
    {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    app.stop().await;
}

/// An engine whose paper venue fills each trade's size at most (the stand-in feed's trades
/// are 3 units), on a fresh database and feed.
async fn spawn_with_trade_size_liquidity() -> (crate::helpers::TestApp, crate::helpers::FakeFeed, test_support::TestDb)
{
    let db = test_support::TestDb::new().await;
    let feed = crate::helpers::FakeFeed::start().await;
    let mut settings = crate::helpers::test_settings(&db.url(), &feed);
    settings.paper.liquidity = engine::configuration::PaperLiquidity::TradeSize;
    let app = crate::helpers::spawn_with(settings).await;
    feed.wait_for_clients(1).await;
    (app, feed, db)
}

#[tokio::test]
async fn with_trade_size_liquidity_a_paper_order_fills_partially_over_several_trades() {
    let (app, feed, _db) = spawn_with_trade_size_liquidity().await;
    feed.tick("BTCUSD", "100");
    let (status, placed) = app.place_market("acct-p", "BTCUSD", "buy", "5", "partial-1").await;
    assert_eq!(status, 201, "{placed}");
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    // Every trade of the stand-in feed is 3 units: 3 fill now, 2 at the next trade.
    feed.tick("BTCUSD", "101");
    let partial = app.order_reaches(id, "partially_filled").await;
    assert_eq!(partial["filled_qty"], "3");
    feed.tick("BTCUSD", "102");
    let filled = app.order_reaches(id, "filled").await;
    assert_eq!((filled["filled_qty"].as_str(), filled["avg_fill_price"].as_str()), (Some("5"), Some("101.4")));
    let (_, fills) = app.get("/api/v1/fills?account=acct-p").await;
    let got: Vec<(&str, &str)> =
        fills.as_array().unwrap().iter().map(|f| (f["qty"].as_str().unwrap(), f["price"].as_str().unwrap())).collect();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&("3", "101")) && got.contains(&("2", "102")), "{got:?}");
    let (_, positions) = app.get("/api/v1/positions?account=acct-p").await;
    assert_eq!((positions[0]["qty"].as_str(), positions[0]["avg_price"].as_str()), (Some("5"), Some("101.4")));
}

#[tokio::test]
async fn fills_page_with_a_before_cursor_and_fills_and_equity_filter_by_time() {
    let (app, feed, _db) = spawn_with_trade_size_liquidity().await;
    feed.tick("BTCUSD", "100");
    let (_, placed) = app.place_market("acct-f", "BTCUSD", "buy", "5", "paged-1").await;
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    feed.tick("BTCUSD", "101");
    app.order_reaches(id, "partially_filled").await;
    feed.tick("BTCUSD", "102");
    app.order_reaches(id, "filled").await;

    let (status, first) = app.get("/api/v1/fills?account=acct-f&limit=1").await;
    assert_eq!((status, first.as_array().unwrap().len()), (200, 1), "{first}");
    assert_eq!(first[0]["price"], "102", "newest first");
    let cursor = first[0]["fill_id"].as_i64().unwrap();
    let (_, second) = app.get(&format!("/api/v1/fills?account=acct-f&limit=1&before={cursor}")).await;
    assert_eq!(second[0]["price"], "101", "{second}");
    let last_id = second[0]["fill_id"].as_i64().unwrap();
    let (_, after_the_end) = app.get(&format!("/api/v1/fills?account=acct-f&before={last_id}")).await;
    assert_eq!(after_the_end, json!([]));
    let (_, none_before) = app.get("/api/v1/fills?account=acct-f&until=2000-01-01T00:00:00Z").await;
    assert_eq!(none_before, json!([]));
    let (_, all_since) = app.get("/api/v1/fills?account=acct-f&from=2000-01-01T00:00:00Z").await;
    assert_eq!(all_since.as_array().unwrap().len(), 2);
    let (status, bad) = app.get("/api/v1/fills?from=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z").await;
    assert_eq!((status, bad["error"]["code"].as_str()), (400, Some("invalid_range")), "{bad}");
    let (status, _) = app.get("/api/v1/fills?until=yesterday").await;
    assert_eq!(status, 400);

    sqlx::query(
        "insert into equity_snapshot (account, ts, realized_pnl, unrealized_pnl, equity) values
           ('acct-e', '2026-11-23T23:59:00Z', 1, 2, 3), ('acct-e', '2026-11-24T00:01:00Z', 2, 2, 4)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let (_, at_midnight) = app.get("/api/v1/equity?account=acct-e&until=2026-11-24T00:00:00Z&limit=1").await;
    assert_eq!(at_midnight.as_array().unwrap().len(), 1);
    assert_eq!(at_midnight[0]["equity"], "3", "the last sample of the previous day: {at_midnight}");
    let (_, today) = app.get("/api/v1/equity?account=acct-e&from=2026-11-24T00:00:00Z").await;
    assert_eq!((today.as_array().unwrap().len(), &today[0]["equity"]), (1, &json!("4")), "{today}");
    app.stop().await;
}

#[tokio::test]
async fn orders_filter_by_the_time_they_were_created() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("ETHUSD", "2000");
    let (_, early) = app.place_market("acct-t", "ETHUSD", "buy", "1", "t-early").await;
    let (_, late) = app.place_market("acct-t", "ETHUSD", "buy", "1", "t-late").await;
    sqlx::query("update \"order\" set created_at = '2020-06-01T12:00:00Z' where order_id = $1")
        .bind(early["order_id"].as_i64().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    let ids = |page: &serde_json::Value| -> Vec<i64> {
        page["orders"].as_array().unwrap().iter().map(|o| o["order_id"].as_i64().unwrap()).collect()
    };
    let (_, today) = app.get("/api/v1/orders?account=acct-t&from=2021-01-01T00:00:00Z").await;
    assert_eq!(ids(&today), [late["order_id"].as_i64().unwrap()], "{today}");
    let (_, before) = app.get("/api/v1/orders?account=acct-t&until=2021-01-01T00:00:00Z").await;
    assert_eq!(ids(&before), [early["order_id"].as_i64().unwrap()], "{before}");
    let (status, bad) = app.get("/api/v1/orders?from=2026-11-24T00:00:00Z&until=2026-11-24T00:00:00Z").await;
    assert_eq!((status, bad["error"]["code"].as_str()), (400, Some("invalid_range")), "{bad}");
    app.stop().await;
}

#[tokio::test]
async fn an_amended_paper_order_is_replaced_at_once_and_its_amendment_fills_at_the_new_price() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("BTCUSD", "100");
    let (_, resting) = app
        .post(
            "/api/v1/orders",
            json!({"account": "a", "symbol": "BTCUSD", "side": "buy", "qty": "2",
                                      "limit_price": "95", "client_order_id": "rest-1"}),
        )
        .await;
    let id = resting["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    let (status, amendment) = app.post(&format!("/api/v1/orders/{id}/replace"), json!({"limit_price": "99"})).await;
    assert_eq!((status, amendment["qty"].as_str(), amendment["limit_price"].as_str()), (201, Some("2"), Some("99")));
    let new_id = amendment["order_id"].as_i64().unwrap();
    let replaced = app.order_reaches(id, "replaced").await;
    let events: Vec<&str> =
        replaced["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["created", "accepted", "replace_requested", "replaced"]);
    app.order_reaches(new_id, "new").await;
    feed.tick("BTCUSD", "98.5");
    assert_eq!(app.order_reaches(new_id, "filled").await["avg_fill_price"], "98.5");
    assert_eq!(app.get(&format!("/api/v1/orders/{id}")).await.1["filled_qty"], "0", "the old order never fills");
    let (_, positions) = app.get("/api/v1/positions?account=a").await;
    assert_eq!(positions[0]["qty"], "2", "filled once, by the amendment");
    app.stop().await;
}

#[tokio::test]
async fn only_a_working_unfilled_order_is_amended_and_a_bad_amend_is_explained() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("BTCUSD", "100");
    let (_, filled) = app
        .post(
            "/api/v1/orders",
            json!({"account": "a", "symbol": "BTCUSD", "side": "buy", "qty": "1", "client_order_id": "mkt-1"}),
        )
        .await;
    let filled = filled["order_id"].as_i64().unwrap();
    feed.tick("BTCUSD", "100.5");
    app.order_reaches(filled, "filled").await;
    let (status, body) = app.post(&format!("/api/v1/orders/{filled}/replace"), json!({"qty": "2"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("only a working order with nothing filled can be amended"));
    let (_, resting) = app
        .post(
            "/api/v1/orders",
            json!({"account": "a", "symbol": "BTCUSD", "side": "buy", "qty": "1",
                                      "limit_price": "90", "client_order_id": "rest-2"}),
        )
        .await;
    let resting = resting["order_id"].as_i64().unwrap();
    app.order_reaches(resting, "new").await;
    for (body, why) in [
        (json!({}), "give qty, limit_price or both"),
        (json!({"qty": "0"}), "qty must be greater than zero"),
        (json!({"limit_price": "90"}), "the amend changes nothing"),
        (json!({"price": "91"}), "unknown field"),
    ] {
        let (status, answer) = app.post(&format!("/api/v1/orders/{resting}/replace"), body.clone()).await;
        assert!(status == 422 || status == 400, "{body}: {status} {answer}");
        assert!(answer.to_string().contains(why), "{body}: {answer}");
    }
    assert_eq!(app.post("/api/v1/orders/999999/replace", json!({"qty": "1"})).await.0, 404);
    // An amendment that breaks a limit is refused by risk; the order works on unchanged.
    app.send(reqwest::Method::PUT, "/api/v1/risk-limits/a", json!({"max_order_qty": "5"})).await;
    let (status, refused) = app.post(&format!("/api/v1/orders/{resting}/replace"), json!({"qty": "6"})).await;
    assert_eq!(
        (status, refused["status"].as_str(), refused["reject_reason"].as_str()),
        (201, Some("rejected"), Some("max_order_qty"))
    );
    assert_eq!(app.get(&format!("/api/v1/orders/{resting}")).await.1["status"], "new");
    app.stop().await;
}

#[tokio::test]
async fn a_fill_or_kill_paper_order_fills_whole_or_is_cancelled_with_nothing_filled() {
    let (app, feed, _db) = spawn_with_trade_size_liquidity().await;
    feed.tick("BTCUSD", "100");
    let fok = |qty: &str, id: &str| json!({"account": "acct-f", "symbol": "BTCUSD", "side": "buy", "qty": qty, "time_in_force": "fok", "client_order_id": id});
    // Every trade of the stand-in feed is 3 units: 5 cannot fill whole, 3 can.
    let (_, killed) = app.post("/api/v1/orders", fok("5", "fok-5")).await;
    let (_, filled) = app.post("/api/v1/orders", fok("3", "fok-3")).await;
    assert_eq!(killed["time_in_force"], "fok");
    let (killed, filled) = (killed["order_id"].as_i64().unwrap(), filled["order_id"].as_i64().unwrap());
    app.order_reaches(killed, "new").await;
    app.order_reaches(filled, "new").await;
    feed.tick("BTCUSD", "101");
    let cancelled = app.order_reaches(killed, "cancelled").await;
    assert_eq!(cancelled["filled_qty"], "0", "killed, not partly filled");
    assert_eq!(app.order_reaches(filled, "filled").await["filled_qty"], "3");
    let (_, fills) = app.get("/api/v1/fills?account=acct-f").await;
    assert_eq!(fills.as_array().unwrap().len(), 1);
    app.stop().await;
}
