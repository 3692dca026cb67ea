//! Backtest jobs: queued over HTTP, run by the engine's worker over the platform's own bars
//! (Postgres or the Parquet archive), results in Postgres and the object store.

use std::{path::PathBuf, time::Duration};

use backtest::data::{load_bars, BarSeries, LoadOptions};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use market_archive::{format, Kind};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use test_support::TestDb;

use crate::helpers::{eventually_value, spawn_with, test_settings, FakeFeed, TestApp};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/backtest/tests/fixtures").join(name)
}

/// The 100,000 reference bars (1-minute, from 2020-01-01) every established backtester agrees on.
fn reference_bars() -> BarSeries {
    load_bars(&fixture("bars_100k.csv.gz"), &LoadOptions::default()).expect("fixture")
}

fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

fn decimal(raw: i64) -> Decimal {
    Decimal::from_i128_with_scale(i128::from(raw), 8)
}

/// Stores `series` as `symbol`'s 1-minute bars, the way the data-service does.
async fn store_bars_in_postgres(pool: &sqlx::PgPool, symbol: &str, series: &BarSeries) {
    let symbol_id: i32 = sqlx::query_scalar("insert into symbol (symbol) values ($1) returning symbol_id")
        .bind(symbol)
        .fetch_one(pool)
        .await
        .unwrap();
    let first = utc(series.bars[0].ts.millis());
    let last = utc(series.bars.last().unwrap().ts.millis());
    let mut month = NaiveDate::from_ymd_opt(first.year(), first.month(), 1).unwrap();
    while month <= last.date_naive() {
        let next = month.checked_add_months(chrono::Months::new(1)).unwrap();
        sqlx::query("select halyard_ensure_partition('bar_1m', $1, $2, $3)")
            .bind(month.format("test%Y%m").to_string())
            .bind(Utc.from_utc_datetime(&month.and_hms_opt(0, 0, 0).unwrap()))
            .bind(Utc.from_utc_datetime(&next.and_hms_opt(0, 0, 0).unwrap()))
            .execute(pool)
            .await
            .unwrap();
        month = next;
    }
    let ts: Vec<DateTime<Utc>> = series.bars.iter().map(|b| utc(b.ts.millis())).collect();
    let column = |f: fn(&domain::Bar) -> i64| -> Vec<Decimal> { series.bars.iter().map(|b| decimal(f(b))).collect() };
    sqlx::query(
        "insert into bar_1m (symbol_id, ts, open, high, low, close, volume, trades, first_ts, last_ts)
         select $1, t, o, h, l, c, v, 1, t, t
         from unnest($2::timestamptz[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[])
              as u(t, o, h, l, c, v)",
    )
    .bind(symbol_id)
    .bind(&ts)
    .bind(column(|b| b.open.raw()))
    .bind(column(|b| b.high.raw()))
    .bind(column(|b| b.low.raw()))
    .bind(column(|b| b.close.raw()))
    .bind(column(|b| b.volume.raw()))
    .execute(pool)
    .await
    .unwrap();
}

/// Writes `series` to the archive folder as one `bars_1m.parquet` per UTC day.
fn store_bars_in_archive(root: &std::path::Path, symbol: &str, series: &BarSeries) {
    let mut by_day: std::collections::BTreeMap<NaiveDate, Vec<format::BarRow>> = Default::default();
    for bar in &series.bars {
        let ts = utc(bar.ts.millis());
        by_day.entry(ts.date_naive()).or_default().push(format::BarRow {
            ts,
            open: decimal(bar.open.raw()),
            high: decimal(bar.high.raw()),
            low: decimal(bar.low.raw()),
            close: decimal(bar.close.raw()),
            volume: decimal(bar.volume.raw()),
            trades: 1,
        });
    }
    for (day, rows) in by_day {
        let path = root.join(market_archive::object_key(symbol, day, Kind::Bars1m));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format::encode(&format::bars_batch(&rows).unwrap()).unwrap()).unwrap();
    }
}

/// An engine whose object store is `store_dir`.
async fn spawn_app_with_store(store_dir: &std::path::Path) -> (TestApp, FakeFeed, TestDb) {
    let db = TestDb::new().await;
    let feed = FakeFeed::start().await;
    let mut settings = test_settings(&db.url(), &feed);
    settings.store = platform::store::StoreTarget::Local(store_dir.to_owned());
    let app = spawn_with(settings).await;
    (app, feed, db)
}

fn reference_request(source: &str, fill: &str) -> Value {
    json!({
        "strategy": "sma_cross", "params": {"fast": 10, "slow": 30}, "symbol": "SYNTH",
        "interval": "1m", "from": "2020-01-01T00:00:00Z", "to": "2020-04-01T00:00:00Z",
        "quantity": "100", "fill": fill, "source": source
    })
}

async fn finished(app: &TestApp, id: &str) -> Value {
    eventually_value("the backtest job to finish", Duration::from_secs(60), || async {
        let (status, job) = app.get(&format!("/api/v1/backtests/{id}")).await;
        assert_eq!(status, 200, "{job}");
        matches!(job["status"].as_str(), Some("succeeded" | "failed")).then_some(job)
    })
    .await
}

fn temp_store() -> PathBuf {
    std::env::temp_dir().join(format!("halyard-backtest-store-{}", uuid::Uuid::new_v4().simple()))
}

#[tokio::test]
async fn a_job_over_postgres_bars_reproduces_the_reference_trades_and_stores_its_files() {
    let store = temp_store();
    let (app, _feed, _db) = spawn_app_with_store(&store).await;
    store_bars_in_postgres(&app.pool, "SYNTH", &reference_bars()).await;

    let (status, queued) = app.post("/api/v1/backtests", reference_request("postgres", "next_open")).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "queued");
    let id = queued["id"].as_str().unwrap().to_owned();

    let job = finished(&app, &id).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["progress"], 1.0);
    assert_eq!(job["summary"]["bars"], 100_000);
    assert_eq!(job["summary"]["round_trips"], 1922);
    assert_eq!(job["summary"]["realized_pnl"], -521.31);

    let (status, trades) = app.get(&format!("/api/v1/backtests/{id}/trades")).await;
    assert_eq!(status, 200);
    let trades = trades.as_array().unwrap();
    let reference = std::fs::read_to_string(fixture("sma_10_30_100k_trades.csv")).unwrap();
    let expected: Vec<&str> = reference.lines().skip(1).collect();
    assert_eq!(trades.len(), expected.len());
    for (trade, line) in trades.iter().zip(&expected) {
        let fields: Vec<&str> = line.split(',').collect();
        let ms = |v: &Value| DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().timestamp_millis().to_string();
        let px = |v: &Value| v.as_str().unwrap().parse::<Decimal>().unwrap().normalize();
        let expected_px = |i: usize| fields[i].parse::<Decimal>().unwrap().normalize();
        assert_eq!(
            (ms(&trade["entry_ts"]), px(&trade["entry_px"]), ms(&trade["exit_ts"]), px(&trade["exit_px"])),
            (fields[0].to_owned(), expected_px(1), fields[2].to_owned(), expected_px(3)),
            "trade {}",
            trade["seq"]
        );
    }

    let prefix = job["result_prefix"].as_str().unwrap();
    let today = Utc::now().format("%Y/%m/%d").to_string();
    assert_eq!(prefix, format!("backtest-results/{today}/{id}/"));
    for file in ["summary.json", "trades.csv", "equity.csv", "report.html"] {
        assert!(store.join(prefix).join(file).is_file(), "{file} under {prefix}");
    }
    let report = app.client.get(format!("{}/api/v1/backtests/{id}/report", app.address)).bearer_auth(&app.token);
    let report = report.send().await.unwrap();
    assert_eq!(report.status(), 200);
    assert!(report.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(report.text().await.unwrap().contains("<svg"), "the report embeds its chart");
    let equity = app.client.get(format!("{}/api/v1/backtests/{id}/equity", app.address)).bearer_auth(&app.token);
    let equity = equity.send().await.unwrap().text().await.unwrap();
    assert!(equity.starts_with("ts,equity,drawdown\n"));
    assert_eq!(equity.lines().count(), 100_001);

    let (_, close_fill) = app.post("/api/v1/backtests", reference_request("postgres", "close")).await;
    let job = finished(&app, close_fill["id"].as_str().unwrap()).await;
    assert_eq!(job["summary"]["realized_pnl"], -515.64, "{job}");

    let (status, list) = app.get("/api/v1/backtests").await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["id"], close_fill["id"], "newest first");
    assert_eq!(list[1]["id"].as_str(), Some(id.as_str()));
    let _ = std::fs::remove_dir_all(store);
}

#[tokio::test]
async fn a_job_over_the_parquet_archive_gives_the_same_result_as_postgres() {
    let store = temp_store();
    store_bars_in_archive(&store, "SYNTH", &reference_bars());
    let (app, _feed, _db) = spawn_app_with_store(&store).await;

    let (status, queued) = app.post("/api/v1/backtests", reference_request("archive", "next_open")).await;
    assert_eq!(status, 202, "{queued}");
    let job = finished(&app, queued["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["summary"]["bars"], 100_000);
    assert_eq!(job["summary"]["round_trips"], 1922);
    assert_eq!(job["summary"]["realized_pnl"], -521.31);
    let _ = std::fs::remove_dir_all(store);
}

#[tokio::test]
async fn hourly_bars_are_aggregated_from_the_minute_bars() {
    let store = temp_store();
    let (app, _feed, _db) = spawn_app_with_store(&store).await;
    let mut bars = reference_bars();
    bars.bars.truncate(6000);
    store_bars_in_postgres(&app.pool, "SYNTH", &bars).await;
    let mut request = reference_request("postgres", "next_open");
    request["interval"] = json!("1h");
    request["params"] = json!({"fast": 3, "slow": 8});
    let (_, queued) = app.post("/api/v1/backtests", request).await;
    let job = finished(&app, queued["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["summary"]["bars"], 100, "6000 minutes are 100 hours");
    let _ = std::fs::remove_dir_all(store);
}

#[tokio::test]
async fn invalid_backtest_requests_are_refused_naming_the_field() {
    let (app, _feed, _db) = spawn_app_with_store(&temp_store()).await;
    let cases = [
        (json!({"strategy": "moon_shot"}), "strategy"),
        (json!({"params": {"fast": 10, "slow": 30, "fats": 3}}), "fats"),
        (json!({"params": {"fast": 30, "slow": 10}}), "params"),
        (json!({"interval": "2m"}), "interval"),
        (json!({"to": "2019-12-31T00:00:00Z"}), "to"),
        (json!({"quantity": "0"}), "quantity"),
        (json!({"fee_bps": "-1"}), "fee_bps"),
        (json!({"source": "ftp"}), "source"),
        (json!({"leverage": 10}), "leverage"),
    ];
    for (change, field) in cases {
        let mut request = reference_request("postgres", "next_open");
        for (k, v) in change.as_object().unwrap() {
            request[k] = v.clone();
        }
        let (status, body) = app.post("/api/v1/backtests", request).await;
        assert!(status == 422 || status == 400, "{field}: {status} {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{field}: {body}");
    }
    let (_, list) = app.get("/api/v1/backtests").await;
    assert_eq!(list, json!([]), "nothing queued for refused requests");
    let (status, body) = app.get("/api/v1/backtests/not-a-uuid").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = app.get(&format!("/api/v1/backtests/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_job_for_a_symbol_without_bars_fails_with_the_reason() {
    let (app, _feed, _db) = spawn_app_with_store(&temp_store()).await;
    let mut request = reference_request("postgres", "next_open");
    request["symbol"] = json!("NOPE");
    let (_, queued) = app.post("/api/v1/backtests", request).await;
    let id = queued["id"].as_str().unwrap();
    let job = finished(&app, id).await;
    assert_eq!(job["status"], "failed");
    assert!(job["error"].as_str().unwrap().contains("unknown symbol \"NOPE\""), "{job}");
    let (status, body) = app.get(&format!("/api/v1/backtests/{id}/trades")).await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_returns_the_first_job() {
    let (app, _feed, _db) = spawn_app_with_store(&temp_store()).await;
    let post = |body: Value| {
        app.client
            .post(format!("{}/api/v1/backtests", app.address))
            .bearer_auth(&app.token)
            .header("idempotency-key", "run-42")
            .json(&body)
            .send()
    };
    let first: Value = post(reference_request("postgres", "next_open")).await.unwrap().json().await.unwrap();
    let again = post(reference_request("postgres", "next_open")).await.unwrap();
    assert_eq!(again.status(), 202);
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    let other = post(reference_request("postgres", "close")).await.unwrap();
    assert_eq!(other.status(), 409);
    let (_, list) = app.get("/api/v1/backtests").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_job_whose_worker_stopped_beating_is_taken_over_and_finished() {
    let store = temp_store();
    let (app, _feed, _db) = spawn_app_with_store(&store).await;
    let mut bars = reference_bars();
    bars.bars.truncate(2000);
    store_bars_in_postgres(&app.pool, "SYNTH", &bars).await;
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "insert into backtest_job (job_id, created_by, request, status, attempts, worker, heartbeat_at, started_at, result_prefix)
         values ($1::uuid, 'test', $2, 'running', 1, 'engine-gone', now() - interval '1 hour', now() - interval '1 hour', $3)",
    )
    .bind(id.to_string())
    .bind(reference_request("postgres", "next_open"))
    .bind(format!("backtest-results/2026/11/24/{id}/"))
    .execute(&app.pool)
    .await
    .unwrap();
    let job = finished(&app, &id.to_string()).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["attempts"], 2);
    assert_eq!(job["summary"]["bars"], 2000);
    let _ = std::fs::remove_dir_all(store);
}

fn engine_command(store: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_engine"))
        .arg("backtest")
        .args(args)
        .env("ARCHIVE_DIR", store)
        .env_remove("ARCHIVE_BUCKET")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run engine")
}

#[test]
fn the_command_line_backtests_the_archive_and_sweep_shards_write_to_the_store() {
    let store = temp_store();
    store_bars_in_archive(&store, "SYNTH", &reference_bars());
    let range = ["--source", "archive", "--symbol", "SYNTH", "--from", "2020-01-01", "--to", "2020-04-01"];
    let run = engine_command(
        &store,
        &[&range[..], &["--strategy", "sma_cross", "--params", "fast=10,slow=30", "--quantity", "100"]].concat(),
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("archive:SYNTH 1m"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("round trips") && l.ends_with(" 1922")), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("realized P&L") && l.ends_with(" -521.31")), "{stdout}");

    let prefix = "backtest-results/2026/11/24/sweep-test/";
    let shard = engine_command(
        &store,
        &[
            &range[..],
            &["--strategy", "sma_cross", "--params", "fast=5..10:5,slow=20..30:10", "--quantity", "100"],
            &["--shard-index", "1", "--shard-count", "2", "--store-prefix", prefix],
        ]
        .concat(),
    );
    assert!(shard.status.success(), "{}", String::from_utf8_lossy(&shard.stderr));
    let table = std::fs::read_to_string(store.join(prefix).join("sweep-shard-1-of-2.csv")).expect("shard in the store");
    assert_eq!(table.lines().count(), 1 + 2, "a header and this shard's 2 of the 4 combinations:\n{table}");

    let missing = engine_command(&store, &["--source", "archive", "--strategy", "sma_cross", "--quantity", "1"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--symbol is required"));
    let _ = std::fs::remove_dir_all(store);
}

/// Prices of a replay, one trade a second from 2026-11-02 10:00:00 UTC: a cross of 100 at the
/// second trade, a plateau, a drop, another cross.
const REPLAY_PATH: [&str; 21] = [
    "99", "100.5", "101", "101", "101", "101", "101", "101", "101", "101", "101", "101", "101", "99", "100.2", "100.4",
    "100.4", "100.4", "100.4", "100.4", "100.4",
];

fn replay_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 10, 0, 0).unwrap()
}

fn replay_rows() -> Vec<format::TickRow> {
    REPLAY_PATH
        .iter()
        .enumerate()
        .map(|(n, price)| format::TickRow {
            tick_id: n as i64 + 1,
            ts: replay_start() + chrono::Duration::seconds(n as i64),
            price: price.parse().unwrap(),
            size: Decimal::from(3),
        })
        .collect()
}

/// `replay_fills.csv` of `dir` as (seconds after the start, side, qty, price).
fn replayed_fills(dir: &std::path::Path) -> Vec<(i64, String, String, String)> {
    let text = std::fs::read_to_string(dir.join("replay_fills.csv")).expect("replay_fills.csv");
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let seconds = (f[0].parse::<i64>().unwrap() - replay_start().timestamp_millis()) / 1000;
            (seconds, f[1].to_owned(), f[2].to_owned(), f[3].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn the_command_line_replays_stored_trades_and_a_strategys_signals_tick_by_tick_from_postgres_and_the_archive() {
    let db = TestDb::new().await;
    let store = temp_store();
    let symbol_id: i32 = sqlx::query_scalar("insert into symbol (symbol) values ('REPLAY') returning symbol_id")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    sqlx::query("select halyard_ensure_partition('tick', 'test202611', '2026-11-01', '2026-12-01')")
        .execute(&db.pool)
        .await
        .unwrap();
    let rows = replay_rows();
    for row in &rows {
        sqlx::query("insert into tick (symbol_id, ts, price, size) values ($1, $2, $3, $4)")
            .bind(symbol_id)
            .bind(row.ts)
            .bind(row.price)
            .bind(row.size)
            .execute(&db.pool)
            .await
            .unwrap();
    }
    let path = store.join(market_archive::object_key("REPLAY", replay_start().date_naive(), Kind::Ticks));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format::encode(&format::ticks_batch(&rows).unwrap()).unwrap()).unwrap();
    let strategy_id: i64 = sqlx::query_scalar(
        "insert into strategy (name, kind, account, symbols) values ('follow', 'signal_follower', 'acct', '{REPLAY}')
         returning strategy_id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    for (key, action, after_ms) in [("s-1", "buy", 10_500), ("s-2", "exit", 16_500)] {
        sqlx::query(
            "insert into signal (strategy_id, account, strategy, dedupe_key, ticker, action, payload, received_at, status)
             values ($1, 'acct', 'follow', $2, 'replay', $3, '{}', $4, 'processed')",
        )
        .bind(strategy_id)
        .bind(key)
        .bind(action)
        .bind(replay_start() + chrono::Duration::milliseconds(after_ms))
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let range = ["--symbol", "REPLAY", "--from", "2026-11-02", "--to", "2026-11-03", "--replay"];
    let replay = |source: &str, extra: &[&str], out: &std::path::Path| {
        let out = out.to_str().unwrap().to_owned();
        let args = [&["--source", source][..], &range[..], extra, &["--out", &out]].concat();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_engine"));
        let run = command
            .arg("backtest")
            .args(&args)
            .env("ARCHIVE_DIR", &store)
            .env_remove("ARCHIVE_BUCKET")
            .env("DATABASE_URL", db.url())
            .env("RUST_LOG", "warn")
            .output()
            .expect("run engine");
        let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
        assert!(run.status.success(), "{stdout}{}", String::from_utf8_lossy(&run.stderr));
        stdout
    };
    let breakout = ["--strategy", "level_breakout", "--params", "level=100,hold_seconds=5", "--quantity", "2"];
    let from_postgres = store.join("out-pg");
    let stdout = replay("postgres", &breakout, &from_postgres);
    assert!(stdout.lines().any(|l| l.starts_with("trades replayed") && l.ends_with(" 21")), "{stdout}");
    let text = |side: &str, qty: &str, price: &str| (side.to_owned(), qty.to_owned(), price.to_owned());
    let expected = |fills: &[(i64, (String, String, String))]| -> Vec<(i64, String, String, String)> {
        fills.iter().map(|(t, (s, q, p))| (*t, s.clone(), q.clone(), p.clone())).collect()
    };
    // Bought at the trade after the cross; the timer sells 5 s after that fill, before that
    // second's trade; the second cross buys again and is sold 5 s later at the last trade.
    assert_eq!(
        replayed_fills(&from_postgres),
        expected(&[
            (2, text("buy", "2", "101")),
            (7, text("sell", "2", "101")),
            (15, text("buy", "2", "100.4")),
            (20, text("sell", "2", "100.4")),
        ])
    );
    let from_archive = store.join("out-archive");
    replay("archive", &breakout, &from_archive);
    assert_eq!(replayed_fills(&from_archive), replayed_fills(&from_postgres), "the archive's trades replay alike");

    let follower = ["--strategy", "signal_follower", "--quantity", "1", "--signals-of", "follow"];
    let signals = store.join("out-signals");
    let stdout = replay("archive", &follower, &signals);
    assert!(stdout.lines().any(|l| l.starts_with("signals replayed") && l.ends_with(" 2")), "{stdout}");
    // Each signal's market order fills at the first trade after it arrived, as on paper.
    assert_eq!(replayed_fills(&signals), expected(&[(11, text("buy", "1", "101")), (17, text("sell", "1", "100.4"))]));
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(signals.join("replay_summary.json")).unwrap()).unwrap();
    assert_eq!(summary["realized_pnl"], "-0.6");

    let no_source =
        replay_refused(&store, &["--replay", "--strategy", "level_breakout", "--params", "level=1", "--quantity", "1"]);
    assert!(no_source.contains("--replay needs --source"), "{no_source}");
    let _ = std::fs::remove_dir_all(store);
}

fn replay_refused(store: &std::path::Path, args: &[&str]) -> String {
    let run = engine_command(store, args);
    assert!(!run.status.success());
    String::from_utf8_lossy(&run.stderr).into_owned()
}
