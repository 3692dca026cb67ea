//! Tests with real `engine` processes: lease takeover after `kill -9`, the kill switch across
//! processes, and crash recovery while signals flow.

use std::{
    collections::HashSet,
    process::Stdio,
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use test_support::TestDb;
use tokio::process::{Child, Command};

use crate::helpers::{alert, eventually, FakeFeed};

struct EngineProcess {
    child: Child,
    url: String,
    instance_id: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_engine(db: &TestDb, feed: &FakeFeed, instance_id: &str, env: &[(&str, &str)]) -> EngineProcess {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_engine"));
    command
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("DATA_SERVICE_URL", &feed.url)
        .env("MIGRATE_ON_START", "false")
        .env("INSTANCE_ID", instance_id)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().expect("engine binary starts");
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually("the engine process answers /healthz", || async {
        client.get(format!("{url}/healthz")).send().await.is_ok_and(|r| r.status().is_success())
    })
    .await;
    EngineProcess { child, url, instance_id: instance_id.to_owned() }
}

/// An order's status as stored.
async fn order_status(pool: &sqlx::PgPool, order_id: i64) -> String {
    sqlx::query_scalar("select status from \"order\" where order_id = $1").bind(order_id).fetch_one(pool).await.unwrap()
}

async fn lease_owner(pool: &sqlx::PgPool, name: &str) -> (Option<String>, i64) {
    sqlx::query_as(
        "select l.owner, l.fencing_token from strategy_lease l join strategy s using (strategy_id) where s.name = $1",
    )
    .bind(name)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn post(client: &reqwest::Client, token: &str, url: String, body: Value) -> (u16, Value) {
    let res = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn two_engine_processes_share_the_kill_switch_and_hand_over_a_strategy_within_15_s_of_a_kill_9() {
    let db = TestDb::new().await;
    let feed = FakeFeed::start().await;
    let token = engine::auth::create_token(&db.pool, "ops").await.unwrap();
    let client = reqwest::Client::new();
    // Production lease settings: 10 s leases renewed every 2 s.
    let mut first = start_engine(&db, &feed, "engine-one", &[]).await;
    let mut second = start_engine(&db, &feed, "engine-two", &[]).await;
    feed.wait_for_clients(2).await;
    feed.tick("BTCUSD", "100");

    // Kill switch: a halt through one process refuses orders in the other at once.
    let (status, _) =
        post(&client, &token, format!("{}/api/v1/halt", first.url), json!({"reason": "drill", "scope": "all"})).await;
    assert_eq!(status, 201);
    let order = json!({"account": "a", "symbol": "BTCUSD", "side": "buy", "qty": "1", "client_order_id": "p-1"});
    let (_, refused) = post(&client, &token, format!("{}/api/v1/orders", second.url), order).await;
    assert_eq!(refused["reject_reason"], "halted", "{refused}");
    post(&client, &token, format!("{}/api/v1/resume", second.url), json!({"scope": "all"})).await;

    let (status, _) = post(
        &client,
        &token,
        format!("{}/api/v1/strategies", first.url),
        json!({"name": "owned", "kind": "sma_cross", "account": "a", "symbols": ["BTCUSD"], "enabled": true}),
    )
    .await;
    assert_eq!(status, 201);
    eventually("a lease owner", || async { lease_owner(&db.pool, "owned").await.0.is_some() }).await;
    let (owner, token_before) = lease_owner(&db.pool, "owned").await;
    let owner = owner.unwrap();
    let (victim, survivor) = if owner == first.instance_id { (&mut first, &second) } else { (&mut second, &first) };
    victim.child.kill().await.unwrap(); // SIGKILL: no lease release, no goodbye
    let killed_at = Instant::now();
    let survivor_id = survivor.instance_id.clone();
    let deadline = killed_at + Duration::from_secs(15);
    loop {
        let (owner, token_now) = lease_owner(&db.pool, "owned").await;
        if owner.as_deref() == Some(survivor_id.as_str()) {
            assert!(token_now > token_before);
            break;
        }
        assert!(Instant::now() < deadline, "no takeover within 15 s of the kill");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("takeover after kill -9: {:?}", killed_at.elapsed());
    first.child.kill().await.ok();
    second.child.kill().await.ok();
}

#[tokio::test]
async fn killing_the_engine_while_signals_flow_loses_no_accepted_signal_and_duplicates_no_order() {
    let db = TestDb::new().await;
    let feed = FakeFeed::start().await;
    let token = engine::auth::create_token(&db.pool, "ops").await.unwrap();
    let client = reqwest::Client::new();
    let quick = [("LEASE_TTL_SECS", "2"), ("LEASE_RENEW_MILLIS", "300")];
    let mut first = start_engine(&db, &feed, "crash-one", &quick).await;
    feed.wait_for_clients(1).await;
    let (status, _) = post(
        &client,
        &token,
        format!("{}/api/v1/strategies", first.url),
        json!({"name": "flow",
        "kind": "signal_follower", "params": {"quantity": "1"}, "account": "a", "symbols": ["BTCUSD"],
        "passphrase": "pass-flow", "enabled": true}),
    )
    .await;
    assert_eq!(status, 201);
    // The market trades every 20 ms throughout.
    let ticker = {
        let feed = feed.clone();
        tokio::spawn(async move {
            loop {
                feed.tick("BTCUSD", "100");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // 8 clients post buy signals; the engine is killed after 150 are accepted.
    let total = 400;
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, i64)>::new()));
    let mut posters = Vec::new();
    for worker in 0..8 {
        let (client, url, accepted) =
            (client.clone(), format!("{}/api/v1/signals/tradingview", first.url), accepted.clone());
        posters.push(tokio::spawn(async move {
            for i in (worker..total).step_by(8) {
                let id = format!("s-{i}");
                let body = alert("flow", "pass-flow", "buy", &id).to_string();
                let Ok(res) = client.post(&url).header("content-type", "text/plain").body(body).send().await else {
                    return;
                };
                if res.status().as_u16() == 202 {
                    let receipt: Value = res.json().await.unwrap();
                    accepted.lock().unwrap().push((id, receipt["signal_id"].as_i64().unwrap()));
                }
            }
        }));
    }
    eventually("150 signals accepted", || async { accepted.lock().unwrap().len() >= 150 }).await;
    first.child.kill().await.unwrap();
    for p in posters {
        p.await.unwrap();
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(accepted.len() < total, "the kill happened while signals flowed");

    // A new process takes over; clients retry every alert, as TradingView would not, but a client might.
    let second = start_engine(&db, &feed, "crash-two", &quick).await;
    let url = format!("{}/api/v1/signals/tradingview", second.url);
    for i in 0..total {
        let body = alert("flow", "pass-flow", "buy", &format!("s-{i}")).to_string();
        let res = client.post(&url).header("content-type", "text/plain").body(body).send().await.unwrap();
        assert!(matches!(res.status().as_u16(), 200 | 202), "retry answered {}", res.status());
    }
    eventually("every signal processed and every order filled", || async {
        let (pending, open): (i64, i64) = sqlx::query_as(
            "select (select count(*) from signal where status = 'pending'),
                    (select count(*) from \"order\" where status <> 'filled')",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        pending == 0 && open == 0
    })
    .await;
    ticker.abort();

    // Every accepted signal is stored, under the id it was acknowledged with.
    let stored: HashSet<(String, i64)> = sqlx::query_as::<_, (String, i64)>("select dedupe_key, signal_id from signal")
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    for pair in &accepted {
        assert!(stored.contains(pair), "accepted signal {pair:?} was lost");
    }
    assert_eq!(stored.len(), total, "each alert stored exactly once");
    // One order per signal, never two.
    let (orders, distinct_signals): (i64, i64) =
        sqlx::query_as("select count(*), count(distinct signal_id) from \"order\"").fetch_one(&db.pool).await.unwrap();
    assert_eq!((orders, distinct_signals), (total as i64, total as i64));
    // The position is the sum of the fills.
    let (position, fills): (rust_decimal::Decimal, rust_decimal::Decimal) = sqlx::query_as(
        "select (select qty from position where account = 'a' and strategy = 'flow' and symbol = 'BTCUSD'),
                (select sum(qty) from fill where account = 'a' and strategy = 'flow')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(position, fills);
    assert_eq!(position, rust_decimal::Decimal::from(2 * total), "each alert buys 2");
    eprintln!("accepted before the kill: {}, total: {total}", accepted.len());
    drop(second);
}

#[tokio::test]
async fn an_engine_killed_and_restarted_under_its_instance_id_resumes_its_open_orders_at_once() {
    let db = TestDb::new().await;
    let feed = FakeFeed::start().await;
    let token = engine::auth::create_token(&db.pool, "ops").await.unwrap();
    let client = reqwest::Client::new();
    // Production lease settings (10 s TTL): the restart comes well within the TTL, so no other
    // instance could adopt the orders; only the restarted process itself can carry on.
    let mut first = start_engine(&db, &feed, "restarted", &[]).await;
    feed.wait_for_clients(1).await;
    let order = json!({"account": "a", "symbol": "ETHUSD", "side": "buy", "qty": "1", "client_order_id": "r-1"});
    let (status, placed) = post(&client, &token, format!("{}/api/v1/orders", first.url), order).await;
    assert_eq!(status, 201, "{placed}");
    let order_id = placed["order_id"].as_i64().unwrap();
    let status_of = |order_id: i64| order_status(&db.pool, order_id);
    eventually("the order works in the first process's book", || async { status_of(order_id).await == "new" }).await;
    first.child.kill().await.unwrap(); // SIGKILL: its paper book is gone with it

    let second = start_engine(&db, &feed, "restarted", &[]).await;
    let restarted = Instant::now();
    let mut filled = false;
    while restarted.elapsed() < Duration::from_secs(5) {
        feed.tick("ETHUSD", "2000"); // a trade the resumed order fills at
        if status_of(order_id).await == "filled" {
            filled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(filled, "the restarted process did not resume its open order within 5 s");
    eprintln!("open order resumed and filled {:?} after the restart", restarted.elapsed());
    let fills: i64 = sqlx::query_scalar("select count(*) from fill where order_id = $1")
        .bind(order_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(fills, 1);
    drop(second);
}

#[tokio::test]
async fn seed_demo_prints_only_a_working_token_and_can_run_twice() {
    let db = TestDb::new().await;
    let run = || async {
        let out = Command::new(env!("CARGO_BIN_EXE_engine"))
            .arg("seed-demo")
            .env("DATABASE_URL", db.url())
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run().await;
    let second = run().await;
    for stdout in [&first, &second] {
        let token = stdout.trim();
        assert_eq!(stdout.lines().count(), 1, "stdout is the token alone: {stdout:?}");
        let known: bool = sqlx::query_scalar("select exists(select 1 from api_token where token_hash = $1)")
            .bind(engine::auth::hash(token.as_bytes()))
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert!(known, "the printed token is the stored one");
    }
    let strategies: Vec<(String, bool)> =
        sqlx::query_as("select name, enabled from strategy order by name").fetch_all(&db.pool).await.unwrap();
    assert_eq!(strategies, [("demo-sma".to_owned(), true), ("demo-tv".to_owned(), true)]);
}

#[tokio::test]
async fn an_amend_committed_just_before_a_kill_9_is_carried_out_by_the_restarted_engine_and_fills_once() {
    let db = TestDb::new().await;
    let feed = FakeFeed::start().await;
    let token = engine::auth::create_token(&db.pool, "ops").await.unwrap();
    let client = reqwest::Client::new();
    let mut first = start_engine(&db, &feed, "amender", &[]).await;
    feed.wait_for_clients(1).await;
    let order = json!({"account": "a", "symbol": "ETHUSD", "side": "buy", "qty": "1", "limit_price": "1900",
                       "client_order_id": "amend-crash"});
    let (_, placed) = post(&client, &token, format!("{}/api/v1/orders", first.url), order).await;
    let order_id = placed["order_id"].as_i64().unwrap();
    let status_of = |order_id: i64| order_status(&db.pool, order_id);
    eventually("the order works", || async { status_of(order_id).await == "new" }).await;
    let (status, amendment) = post(
        &client,
        &token,
        format!("{}/api/v1/orders/{order_id}/replace", first.url),
        json!({"limit_price": "2000"}),
    )
    .await;
    assert_eq!(status, 201, "{amendment}");
    let amendment_id = amendment["order_id"].as_i64().unwrap();
    eventually("the amendment works", || async { status_of(amendment_id).await == "new" }).await;
    first.child.kill().await.unwrap();
    // The state a kill between the amend's commit and the venue hearing of it leaves behind.
    sqlx::query("update \"order\" set status = case when order_id = $1 then 'pending_replace' else 'pending_new' end where order_id in ($1, $2)")
        .bind(order_id)
        .bind(amendment_id)
        .execute(&db.pool)
        .await
        .unwrap();

    let second = start_engine(&db, &feed, "amender", &[]).await;
    eventually("the restarted engine replaces the order", || async { status_of(order_id).await == "replaced" }).await;
    let restarted = Instant::now();
    while restarted.elapsed() < Duration::from_secs(5) && status_of(amendment_id).await != "filled" {
        feed.tick("ETHUSD", "1899"); // would fill both limits (2000 and 1900) if both still worked
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status_of(amendment_id).await, "filled");
    let fills: Vec<i64> = sqlx::query_scalar("select order_id from fill").fetch_all(&db.pool).await.unwrap();
    assert_eq!(fills, [amendment_id], "one fill, of the amendment");
    drop(second);
}

#[tokio::test]
async fn an_emulated_trailing_stop_survives_a_kill_9_and_another_engine_triggers_it_from_the_stored_best_price() {
    let db = TestDb::new().await;
    let feed = FakeFeed::start().await;
    let token = engine::auth::create_token(&db.pool, "ops").await.unwrap();
    let client = reqwest::Client::new();
    let mut first = start_engine(&db, &feed, "stops-a", &[]).await;
    feed.wait_for_clients(1).await;
    let order = json!({"account": "s", "symbol": "SOLUSD", "side": "sell", "qty": "2", "order_type": "trailing_stop",
                       "trail_amount": "2", "emulate": true, "client_order_id": "held-trail"});
    let (status, placed) = post(&client, &token, format!("{}/api/v1/orders", first.url), order).await;
    assert_eq!((status, placed["status"].as_str()), (201, Some("held")), "{placed}");
    let order_id = placed["order_id"].as_i64().unwrap();
    let reference = || async {
        sqlx::query_scalar::<_, Option<String>>("select trigger_reference::text from \"order\" where order_id = $1")
            .bind(order_id)
            .fetch_one(&db.pool)
            .await
            .unwrap()
            .map(|r| r.trim_end_matches('0').trim_end_matches('.').to_owned())
    };
    let trades_until = |price: &'static str| {
        let (feed, reference) = (&feed, &reference);
        async move {
            eventually(&format!("the first engine stores the best price {price}"), || async {
                feed.tick("SOLUSD", price);
                tokio::time::sleep(Duration::from_millis(50)).await;
                reference().await.as_deref() == Some(price)
            })
            .await;
        }
    };
    trades_until("100").await;
    trades_until("105").await;
    first.child.kill().await.unwrap(); // SIGKILL: its watcher is gone; the stop is 103 from the high of 105

    let second = start_engine(&db, &feed, "stops-b", &[]).await;
    feed.wait_for_clients(1).await;
    tokio::time::sleep(engine::oms::triggers::RELOAD_EVERY * 2).await;
    feed.tick("SOLUSD", "103.5");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(order_status(&db.pool, order_id).await, "held", "103.5 is above the stop of 103");
    // Trailing from scratch, the second engine would put the stop at 101.5 and not trigger here.
    feed.tick("SOLUSD", "102.9");
    eventually("the second engine triggers the stop", || async { order_status(&db.pool, order_id).await != "held" })
        .await;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) && order_status(&db.pool, order_id).await != "filled" {
        feed.tick("SOLUSD", "102.8");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(order_status(&db.pool, order_id).await, "filled");
    let (owner, price): (String, String) =
        sqlx::query_as("select instance_id, avg_fill_price::text from \"order\" where order_id = $1")
            .bind(order_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((owner.as_str(), price.trim_end_matches('0').trim_end_matches('.')), ("stops-b", "102.8"));
    let triggered: Vec<Value> =
        sqlx::query_scalar("select detail from order_event where order_id = $1 and event = 'triggered'")
            .bind(order_id)
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(triggered.len(), 1, "triggered once");
    assert_eq!((triggered[0]["by"].as_str(), triggered[0]["price"].as_str()), (Some("stops-b"), Some("102.9")));
    drop(second);
}
