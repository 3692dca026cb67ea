//! Daily reports: the day's trades, P&L and end-of-day positions per account, in the store.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use platform::store::LocalStore;
use serde_json::{json, Value};

use crate::helpers::{alert, eventually, spawn_with, test_settings, FakeFeed};

async fn fills_reach(app: &crate::helpers::TestApp, n: usize) {
    eventually("the fills", || async {
        app.get("/api/v1/fills?account=acct-d").await.1.as_array().is_some_and(|f| f.len() == n)
    })
    .await;
}

/// A 1-minute bar of `symbol` closing at `close`, a minute ago, as the data-service stores it.
async fn store_bar(pool: &sqlx::PgPool, symbol: &str, close: &str) {
    let now = Utc::now();
    let month = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap();
    let next = month.checked_add_months(chrono::Months::new(1)).unwrap();
    sqlx::query("select halyard_ensure_partition('bar_1m', 'reporttest', $1, $2)")
        .bind(month.and_hms_opt(0, 0, 0).unwrap().and_utc())
        .bind(next.and_hms_opt(0, 0, 0).unwrap().and_utc())
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "with s as (insert into symbol (symbol) values ($1) returning symbol_id)
         insert into bar_1m (symbol_id, ts, open, high, low, close, volume, trades, first_ts, last_ts)
         select symbol_id, date_trunc('minute', now()) - interval '1 minute', $2::numeric, $2::numeric, $2::numeric,
                $2::numeric, 1, 1, now(), now() from s",
    )
    .bind(symbol)
    .bind(close)
    .execute(pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_daily_report_has_each_accounts_trades_pnl_and_end_of_day_positions() {
    let store_dir = std::env::temp_dir().join(format!("halyard-reports-{}", uuid::Uuid::new_v4().simple()));
    let db = test_support::TestDb::new().await;
    let feed = FakeFeed::start().await;
    let mut settings = test_settings(&db.url(), &feed);
    settings.store = platform::store::StoreTarget::Local(store_dir.clone());
    let app = spawn_with(settings).await;
    feed.wait_for_clients(1).await;
    app.follower("daily", "acct-d").await;
    feed.tick("BTCUSD", "100");
    for (i, (action, fill_at)) in [("buy", "101"), ("sell", "103"), ("buy", "104")].into_iter().enumerate() {
        let (status, body) =
            app.webhook(alert("daily", "pass-daily", action, &format!("d-{i}")).to_string(), "application/json").await;
        assert_eq!(status, 202, "{body}");
        eventually("the signal's order at the venue", || async {
            let (_, page) = app.get("/api/v1/orders?strategy=daily&status=new").await;
            page["orders"].as_array().is_some_and(|o| o.len() == 1)
        })
        .await;
        feed.tick("BTCUSD", fill_at);
        fills_reach(&app, i + 1).await;
    }
    store_bar(&app.pool, "BTCUSD", "105").await;

    let today = Utc::now().date_naive();
    let store = LocalStore::new(&store_dir);
    let published = engine::reports::publish(&app.pool, &store, today).await.unwrap();
    assert_eq!(published.accounts, 1);
    let stored: Value = serde_json::from_slice(&std::fs::read(store_dir.join(&published.json_key)).unwrap()).unwrap();
    assert_eq!(published.json_key, format!("reports/daily/{today}.json"));
    let account = &stored["accounts"][0];
    assert_eq!(account["account"], "acct-d");
    assert_eq!(account["fill_count"], 3);
    assert_eq!(account["realized_pnl"], "4", "bought 2 at 101, sold 2 at 103: {account}");
    assert_eq!(
        account["positions"],
        json!([{"strategy": "daily", "symbol": "BTCUSD", "qty": "2", "avg_price": "104", "mark": "105",
                "unrealized_pnl": "2", "realized_pnl_to_date": "4"}])
    );
    assert_eq!(account["unrealized_pnl"], "2");
    let sides: Vec<&str> = account["trades"].as_array().unwrap().iter().map(|t| t["side"].as_str().unwrap()).collect();
    assert_eq!(sides, ["buy", "sell", "buy"]);

    // The same document over the API (the engine's store is the same folder), and the page.
    let (status, served) = app.get(&format!("/api/v1/reports/daily/{today}")).await;
    assert_eq!((status, &served), (200, &stored));
    let page = app.client.get(format!("{}/api/v1/reports/daily/{today}.html", app.address)).bearer_auth(&app.token);
    let page = page.send().await.unwrap().text().await.unwrap();
    assert!(page.contains("<h2>acct-d</h2>") && page.contains("Daily report"), "{page}");
    let (status, _) = app.get("/api/v1/reports/daily/2001-01-01").await;
    assert_eq!(status, 404);
    let (status, _) = app.get("/api/v1/reports/daily/yesterday").await;
    assert_eq!(status, 400);

    // The scheduler writes closed days that have no report, once.
    sqlx::query("delete from daily_report").execute(&app.pool).await.unwrap();
    let tomorrow = Utc::now() + Duration::days(1);
    let written = engine::reports::publish_due(&app.pool, &store, tomorrow).await.unwrap();
    assert_eq!(written, [today]);
    assert!(engine::reports::publish_due(&app.pool, &store, tomorrow).await.unwrap().is_empty());
    assert!(
        engine::reports::publish_due(&app.pool, &store, Utc::now()).await.unwrap().is_empty(),
        "today is not closed"
    );
    let _ = std::fs::remove_dir_all(store_dir);
}
