//! Soak runs: 1,000 orders through each venue stand-in while 5% of its requests (order
//! submissions, lookups, fills and positions reads) and of its stream messages fail at random
//! (seeded): an order placed and answered 5xx, a 429, a 5xx before placing, a lost, duplicated
//! or delayed message, a dropped connection. The stand-in executes every order it places, whole
//! or in two parts. At the end the engine's orders, fills and positions must equal the venue's:
//! every order filled once at the venue, each execution booked once, none left unknown.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use rand::{rngs::StdRng, Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::json;

use crate::{alpaca, binance, faults::Chaos, helpers::TestApp};

const ORDERS: usize = 1_000;
const FAULT_RATE: f64 = 0.05;
/// How long the engine may take to converge after the last order was placed.
const SETTLE: Duration = Duration::from_secs(120);

/// What a venue executed for each order, by engine order id: (placements, filled quantity,
/// executions), and its net position.
struct VenueBook {
    orders: HashMap<i64, (u32, Decimal, usize)>,
    position: Decimal,
}

/// Places [`ORDERS`] market orders on `account` for `symbol` (random sides and sizes from
/// `seed`), eight at a time, through the engine's API; returns their ids.
async fn place_orders(app: &TestApp, account: &str, symbol: &str, unit: Decimal, seed: u64) -> Vec<i64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let orders: Vec<serde_json::Value> = (0..ORDERS)
        .map(|i| {
            let side = if rng.gen_bool(0.5) { "buy" } else { "sell" };
            let qty = unit * Decimal::from(rng.gen_range(1..=3u32));
            json!({"account": account, "symbol": symbol, "side": side, "qty": qty.to_string(), "client_order_id": format!("soak-{i}")})
        })
        .collect();
    let placed: Vec<i64> = futures_util::stream::iter(orders)
        .map(|body| async move {
            let (status, placed) = app.post("/api/v1/orders", body).await;
            assert_eq!(status, 201, "{placed}");
            placed["order_id"].as_i64().unwrap()
        })
        .buffer_unordered(8)
        .collect()
        .await;
    placed
}

/// Waits until no order of `account` is open and `venue_done` says the venue executed all.
async fn settle(app: &TestApp, account: &str, venue_done: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let open: i64 = sqlx::query_scalar(
            "select count(*) from \"order\" where account = $1 and status = any(array['pending_new', 'new', 'partially_filled', 'pending_cancel'])",
        )
        .bind(account)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if open == 0 && venue_done() {
            return started.elapsed();
        }
        if std::env::var("SOAK_DEBUG").is_ok() {
            let rows: Vec<(String, i64)> =
                sqlx::query_as("select status, count(*) from \"order\" where account = $1 group by 1")
                    .bind(account)
                    .fetch_all(&app.pool)
                    .await
                    .unwrap();
            eprintln!("{:?} {rows:?}", started.elapsed());
        }
        assert!(started.elapsed() < SETTLE, "{open} orders still open after {SETTLE:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Compares the engine's books of `account` with the venue's; returns the figures.
async fn assert_books_equal(app: &TestApp, account: &str, ids: &[i64], venue: &VenueBook) -> String {
    let rows: Vec<(i64, String, Decimal, i64, Option<Decimal>)> = sqlx::query_as(
        "select o.order_id, o.status, o.filled_qty, count(f.fill_id), sum(f.qty)
           from \"order\" o left join fill f on f.order_id = o.order_id
          where o.account = $1 group by o.order_id order by o.order_id",
    )
    .bind(account)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), ORDERS, "every order written once");
    let mut executions = 0;
    for (order_id, status, filled, fills, booked) in &rows {
        assert!(ids.contains(order_id));
        let (placements, at_venue, venue_executions) =
            venue.orders.get(order_id).copied().unwrap_or_else(|| panic!("order {order_id} never reached the venue"));
        assert_eq!(placements, 1, "order {order_id} placed {placements} times at the venue");
        assert_eq!(status, "filled", "order {order_id}");
        assert_eq!(filled.normalize(), at_venue.normalize(), "order {order_id}: filled quantity");
        assert_eq!(booked.unwrap_or_default().normalize(), at_venue.normalize(), "order {order_id}: fills");
        assert_eq!(*fills as usize, venue_executions, "order {order_id}: each execution booked once");
        executions += venue_executions;
    }
    assert_eq!(venue.orders.len(), ORDERS, "no order at the venue the engine does not know");
    let (_, positions) = app.get(&format!("/api/v1/positions?account={account}")).await;
    let position: Decimal =
        positions.as_array().unwrap().first().map_or(Decimal::ZERO, |p| p["qty"].as_str().unwrap().parse().unwrap());
    assert_eq!(position.normalize(), venue.position.normalize(), "position equals the venue's");
    let halts = app.get("/api/v1/halt").await.1;
    assert_eq!(halts, json!([]), "no reconciliation break");
    format!("{ORDERS} orders, {executions} executions, position {}", position.normalize())
}

fn describe(chaos: &Chaos, elapsed: Duration, settled: Duration, books: &str) -> String {
    let (kinds, total) = chaos.report();
    let kinds: Vec<String> = kinds.into_iter().map(|(kind, n)| format!("{kind} {n}")).collect();
    format!(
        "{books}; {total} faults injected ({}); placed in {:.1} s, converged {:.1} s after the last",
        kinds.join(", "),
        elapsed.as_secs_f64(),
        settled.as_secs_f64()
    )
}

#[tokio::test]
async fn a_thousand_orders_through_alpaca_with_five_percent_faults_end_equal_to_alpacas_books() {
    let db = test_support::TestDb::new().await;
    let venue = alpaca::StandIn::start().await;
    let app = alpaca::alpaca_engine_with(&db, &venue, Duration::from_millis(500)).await;
    let chaos = Chaos::new(16_001, FAULT_RATE);
    *venue.chaos.lock().unwrap() = Some(chaos.clone());
    let started = Instant::now();
    let ids = place_orders(&app, "soak", "AAPL", Decimal::ONE, 16_002).await;
    let elapsed = started.elapsed();
    let all_filled = || {
        let orders = venue.orders.lock().unwrap();
        orders.len() == ORDERS && orders.values().all(|o| o["status"] == "filled")
    };
    let settled = settle(&app, "soak", all_filled).await;
    *venue.chaos.lock().unwrap() = None;
    let activities = venue.activities.lock().unwrap().clone();
    let orders = venue.orders.lock().unwrap().clone();
    let placements = venue.placements.lock().unwrap().clone();
    let book = VenueBook {
        orders: orders
            .iter()
            .map(|(client, o)| {
                let id: i64 = client.trim_start_matches("hly-").parse().unwrap();
                let executions = activities.iter().filter(|a| a["order_id"] == o["id"]).count();
                let filled: Decimal = o["filled_qty"].as_str().unwrap().parse().unwrap();
                (id, (placements[client], filled, executions))
            })
            .collect(),
        position: venue.positions.lock().unwrap().get("AAPL").copied().unwrap_or_default(),
    };
    let books = assert_books_equal(&app, "soak", &ids, &book).await;
    println!("alpaca soak: {}", describe(&chaos, elapsed, settled, &books));
    app.stop().await;
}

#[tokio::test]
async fn a_thousand_orders_through_binance_with_five_percent_faults_end_equal_to_binances_books() {
    let db = test_support::TestDb::new().await;
    let venue = binance::StandIn::start().await;
    let app = binance::binance_engine_with(&db, &venue, Duration::from_millis(500)).await;
    let chaos = Chaos::new(16_003, FAULT_RATE);
    *venue.chaos.lock().unwrap() = Some(chaos.clone());
    let started = Instant::now();
    let ids = place_orders(&app, "soak", "BTCUSDT", Decimal::new(1, 3), 16_004).await;
    let elapsed = started.elapsed();
    let all_filled = || {
        let orders = venue.orders.lock().unwrap();
        orders.len() == ORDERS && orders.values().all(|o| o["status"] == "FILLED")
    };
    let settled = settle(&app, "soak", all_filled).await;
    *venue.chaos.lock().unwrap() = None;
    let trades = venue.trades.lock().unwrap().clone();
    let orders = venue.orders.lock().unwrap().clone();
    let placements = venue.placements.lock().unwrap().clone();
    let mut position = Decimal::ZERO;
    for t in &trades {
        let qty: Decimal = t["qty"].as_str().unwrap().parse().unwrap();
        position += if t["isBuyer"] == true { qty } else { -qty };
    }
    let book = VenueBook {
        orders: orders
            .iter()
            .map(|(client, o)| {
                let id: i64 = client.trim_start_matches("hly-").parse().unwrap();
                let executions = trades.iter().filter(|t| t["orderId"] == o["orderId"]).count();
                let filled: Decimal = o["executedQty"].as_str().unwrap().parse().unwrap();
                (id, (placements[client], filled, executions))
            })
            .collect(),
        position,
    };
    let books = assert_books_equal(&app, "soak", &ids, &book).await;
    println!("binance soak: {}", describe(&chaos, elapsed, settled, &books));
    app.stop().await;
}
