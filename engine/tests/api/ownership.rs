//! Correct under concurrency and outages: positions booked by concurrent first fills, and the
//! ownership of open orders between engine instances (fenced by epochs, never taken over
//! because the database was unreachable for everyone).

use std::{str::FromStr, time::Duration};

use engine::{
    configuration::Settings,
    oms::{NewOrder, Oms, OmsError, WriteOutcome},
    venue::{VenueEvent, VenueEventKind},
};
use platform::config::{DatabaseSettings, DatabaseSource};
use rust_decimal::Decimal;
use test_support::{TcpProxy, TestDb};

use crate::helpers::{eventually, spawn_app, spawn_with, test_settings, FakeFeed, TestApp};

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// An order manager of its own on the app's database, under the app's instance id, with a
/// paper book that never sees a trade (the test applies the venue's events itself).
fn bare_oms(app: &TestApp, feed: &FakeFeed) -> Oms {
    let (paper, _) = engine::venue::paper::PaperVenue::start(
        engine::configuration::PaperSettings {
            fees: Default::default(),
            slippage: domain::Bps::ZERO,
            liquidity: Default::default(),
        },
        "bare",
        tokio::sync::broadcast::channel(1).1,
        tokio::sync::mpsc::channel(1).0,
        tokio_util::sync::CancellationToken::new(),
    );
    Oms::new(
        app.pool.clone(),
        &app.instance_id,
        engine::venue::Venue::Paper(paper),
        engine::market::MarketData::new(&feed.url),
    )
}

/// Writes a market buy without sending it anywhere; returns its id.
async fn write_buy(oms: &Oms, account: &str, symbol: &str, qty: &str, client_order_id: &str) -> i64 {
    let mut tx = oms.pool().begin().await.unwrap();
    let outcome = oms
        .write(
            &mut tx,
            &NewOrder {
                account: account.into(),
                strategy: "manual".into(),
                client_order_id: client_order_id.into(),
                symbol: symbol.into(),
                side: domain::Side::Buy,
                qty: engine::convert::qty(dec(qty)).unwrap(),
                order_type: domain::OrderType::Market,
                time_in_force: domain::TimeInForce::Gtc,
                reduce_only: false,
                signal_id: None,
                lease: None,
                bypass_halt: false,
                emulate: false,
                bracket: None,
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let WriteOutcome::Created(order) = outcome else { panic!("a new order") };
    order.order_id
}

fn fill(order_id: i64, exec_id: &str, qty: &str, price: &str) -> VenueEvent {
    VenueEvent {
        order_id,
        kind: VenueEventKind::Fill {
            exec_id: exec_id.into(),
            qty: engine::convert::qty(dec(qty)).unwrap(),
            price: engine::convert::price(dec(price)).unwrap(),
            fee: domain::Money::ZERO,
            cum_fee: None,
            ts: domain::Timestamp::from_nanos(1_700_000_000_000_000_000),
        },
        reconciled: false,
    }
}

async fn sessions_waiting_on_locks(db: &TestDb) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn two_concurrent_first_fills_of_a_new_position_both_count() {
    let (app, feed, db) = spawn_app().await;
    let oms = bare_oms(&app, &feed);
    let first = write_buy(&oms, "race", "SOLUSD", "1", "race-1").await;
    let second = write_buy(&oms, "race", "SOLUSD", "0.5", "race-2").await;

    // Hold both bookings at the fill insert, after each has read the (missing) position: the
    // interleaving two engines produce when their first fills of a symbol arrive together.
    let mut gate = db.pool.begin().await.unwrap();
    sqlx::query("lock table fill in share mode").execute(&mut *gate).await.unwrap();
    let (a, b) = (oms.clone(), oms.clone());
    let booking_a = tokio::spawn(async move { a.apply(&fill(first, "race-x-1", "1", "100")).await });
    let booking_b = tokio::spawn(async move { b.apply(&fill(second, "race-x-2", "0.5", "101")).await });
    eventually("both bookings wait on a lock", || async { sessions_waiting_on_locks(&db).await >= 2 }).await;
    gate.commit().await.unwrap();
    booking_a.await.unwrap().unwrap();
    booking_b.await.unwrap().unwrap();

    let (qty, cost): (Decimal, Decimal) = sqlx::query_as(
        "select qty, cost_basis from position where account = 'race' and strategy = 'manual' and symbol = 'SOLUSD'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let fills: Decimal =
        sqlx::query_scalar("select sum(qty) from fill where account = 'race'").fetch_one(&db.pool).await.unwrap();
    assert_eq!((qty, fills), (dec("1.5"), dec("1.5")), "the position is the sum of its fills");
    assert_eq!(cost, dec("150.5"));
    app.stop().await;
}

/// Settings for an engine whose database connection goes through `proxy`.
fn via_proxy(db: &TestDb, feed: &FakeFeed, proxy: &TcpProxy, instance_id: &str) -> Settings {
    let url = db.url_via(proxy.port());
    Settings {
        instance_id: instance_id.into(),
        database: DatabaseSettings { source: DatabaseSource::Url(url.clone()), max_connections: 8 },
        migrate_on_start: false,
        ..test_settings(&url, feed)
    }
}

async fn order_owner(db: &TestDb, order_id: i64) -> (String, String) {
    sqlx::query_as("select instance_id, status from \"order\" where order_id = $1")
        .bind(order_id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

async fn epoch(db: &TestDb, instance_id: &str) -> i64 {
    sqlx::query_scalar("select epoch from engine_instance where instance_id = $1")
        .bind(instance_id)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_database_outage_longer_than_the_lease_ttl_makes_no_engine_adopt_another_ones_orders() {
    let db = TestDb::new().await;
    let feed = FakeFeed::start().await;
    let (proxy_a, proxy_b) = (TcpProxy::start(db.server_addr()).await, TcpProxy::start(db.server_addr()).await);
    let a = spawn_with(via_proxy(&db, &feed, &proxy_a, "outage-a")).await;
    let b = spawn_with(via_proxy(&db, &feed, &proxy_b, "outage-b")).await;
    feed.wait_for_clients(2).await;
    let (status, order) = b.place_market("acct", "ETHUSD", "buy", "1", "outage-1").await;
    assert_eq!(status, 201, "{order}");
    let order_id = order["order_id"].as_i64().unwrap();
    b.order_reaches(order_id, "new").await; // working in b's paper book, no trade yet

    // The database is gone for both for twice the TTL (3 s); it comes back for `a` one second
    // before `b`, so `a` sees `b`'s heartbeat far older than the TTL.
    proxy_a.cut();
    proxy_b.cut();
    tokio::time::sleep(Duration::from_secs(6)).await;
    proxy_a.restore();
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy_b.restore();
    tokio::time::sleep(Duration::from_secs(5)).await; // more than a TTL of normal rounds

    assert_eq!(order_owner(&db, order_id).await, ("outage-b".to_owned(), "new".to_owned()), "not adopted");
    feed.tick("ETHUSD", "2000");
    b.order_reaches(order_id, "filled").await;
    let fills: i64 = sqlx::query_scalar("select count(*) from fill where order_id = $1")
        .bind(order_id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(fills, 1);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_engine_cut_off_for_a_ttl_is_fenced_and_its_orders_fill_once_at_the_adopter() {
    let db = TestDb::new().await;
    let feed = FakeFeed::start().await;
    let (proxy_a, proxy_b) = (TcpProxy::start(db.server_addr()).await, TcpProxy::start(db.server_addr()).await);
    let a = spawn_with(via_proxy(&db, &feed, &proxy_a, "fence-a")).await;
    let b = spawn_with(via_proxy(&db, &feed, &proxy_b, "fence-b")).await;
    feed.wait_for_clients(2).await;
    let (_, order) = b.place_market("acct", "ETHUSD", "buy", "1", "fence-1").await;
    let order_id = order["order_id"].as_i64().unwrap();
    b.order_reaches(order_id, "new").await;
    let epoch_before = epoch(&db, "fence-b").await;

    // Only `b` loses the database: `a` heart-beats through a whole TTL without seeing `b`'s.
    proxy_b.cut();
    eventually("a adopts b's order", || async { order_owner(&db, order_id).await.0 == "fence-a" }).await;
    assert!(epoch(&db, "fence-b").await > epoch_before, "b is fenced when declared gone");

    // Both paper books hold the order now; the trade fills it in both, but only the owner's
    // execution is booked: `b`'s arrives when it reconnects and is refused.
    feed.tick("ETHUSD", "2000");
    a.order_reaches(order_id, "filled").await;
    proxy_b.restore();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (fills, qty): (i64, Decimal) =
        sqlx::query_as("select count(*), coalesce(sum(qty), 0) from fill where order_id = $1")
            .bind(order_id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((fills, qty), (1, dec("1")));
    let position: Decimal = sqlx::query_scalar("select qty from position where account = 'acct' and symbol = 'ETHUSD'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(position, dec("1"));
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_venue_event_for_an_order_another_instance_owns_is_refused() {
    let (app, feed, db) = spawn_app().await;
    let oms = bare_oms(&app, &feed);
    let order_id = write_buy(&oms, "acct", "ETHUSD", "1", "owned-elsewhere").await;
    sqlx::query("update \"order\" set instance_id = 'someone-else' where order_id = $1")
        .bind(order_id)
        .execute(&db.pool)
        .await
        .unwrap();
    let refused = oms.apply(&fill(order_id, "elsewhere-1", "1", "100")).await;
    assert!(matches!(refused, Err(OmsError::NotOwner(id)) if id == order_id), "{refused:?}");
    let fills: i64 = sqlx::query_scalar("select count(*) from fill").fetch_one(&db.pool).await.unwrap();
    assert_eq!(fills, 0);
    app.stop().await;
}
