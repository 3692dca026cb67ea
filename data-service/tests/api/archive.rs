//! The Parquet archive against a real S3 emulator (moto) and a local folder.

use std::{sync::Arc, time::Duration};

use chrono::NaiveDate;
use data_service::archive::{
    format,
    store::{LocalStore, ObjectStore, S3Store},
    tick_partition, Archiver, RetryPolicy,
};
use indicatif::ProgressBar;
use platform::aws::{s3_client, AwsSettings};
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

const DAY: &str = "2026-01-05";

fn day() -> NaiveDate {
    DAY.parse().unwrap()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy { attempts: 2, base: Duration::from_millis(10), max: Duration::from_millis(20) }
}

/// Two symbols with ticks on DAY (3 and 2, across two minutes) and one tick on the next day.
async fn seed(app: &TestApp) {
    let body = json!([
        {"symbol": "ACME", "ts": "2026-01-05T10:00:01Z", "price": "10.5000000001", "size": 3},
        {"symbol": "ACME", "ts": "2026-01-05T10:00:30Z", "price": "11.25", "size": "1"},
        {"symbol": "ACME", "ts": "2026-01-05T10:01:05Z", "price": "10", "size": "4"},
        {"symbol": "BTC/USD", "ts": "2026-01-05T23:59:59.999999Z", "price": "98765.4321", "size": "0.001"},
        {"symbol": "BTC/USD", "ts": "2026-01-05T00:00:00Z", "price": "98000", "size": "0.5"},
        {"symbol": "ACME", "ts": "2026-01-06T00:00:00Z", "price": "12", "size": 1}
    ]);
    let (status, _) = app.post_ticks(body.to_string(), "application/json").await;
    assert_eq!(status, 200);
}

async fn s3_store(bucket: &str) -> (aws_sdk_s3::Client, Arc<dyn ObjectStore>) {
    let sdk = AwsSettings::emulator(&test_support::moto().await).load().await;
    let client = s3_client(&sdk);
    client.create_bucket().bucket(bucket).send().await.expect("create bucket");
    (client.clone(), Arc::new(S3Store::new(client, bucket)))
}

/// A store whose endpoint refuses connections (an S3 outage).
async fn dead_store() -> Arc<dyn ObjectStore> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let sdk = AwsSettings::emulator(&format!("http://127.0.0.1:{port}")).load().await;
    Arc::new(S3Store::new(s3_client(&sdk), "nowhere"))
}

fn bucket() -> String {
    format!("archive-{}", uuid_like())
}

fn uuid_like() -> String {
    format!("{:x}", rand::random::<u64>())
}

async fn partition_exists(app: &TestApp) -> bool {
    sqlx::query_scalar("select to_regclass($1) is not null")
        .bind(tick_partition(day()))
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn manifest(app: &TestApp) -> Vec<(String, String, i64, bool)> {
    sqlx::query_as(
        "select s.symbol, m.kind, m.rows, m.verified_at is not null
         from archive_manifest m join symbol s using (symbol_id) where m.day = $1 order by 1, 2",
    )
    .bind(day())
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_closed_day_is_written_to_s3_as_parquet_and_verified_by_reading_it_back() {
    let app = spawn_app().await;
    seed(&app).await;
    let bucket = bucket();
    let (client, store) = s3_store(&bucket).await;
    let archiver = Archiver::new(app.db.pool.clone(), store, fast_retry(), None);

    let report = archiver.archive_day(day(), &ProgressBar::hidden()).await.unwrap();
    assert_eq!((report.written, report.skipped, report.rows, report.pruned), (4, 0, 3 + 2 + 2 + 2, false));
    assert_eq!(
        manifest(&app).await,
        vec![
            ("ACME".into(), "bars_1m".into(), 2, true),
            ("ACME".into(), "ticks".into(), 3, true),
            ("BTC/USD".into(), "bars_1m".into(), 2, true),
            ("BTC/USD".into(), "ticks".into(), 2, true),
        ]
    );

    // Read the object straight from the bucket, independently of the archiver.
    let key = "market-data/historical/symbol=ACME/date=2026-01-05/ticks.parquet";
    let body = client.get_object().bucket(&bucket).key(key).send().await.unwrap().body.collect().await.unwrap();
    let batches = format::decode(body.into_bytes()).unwrap();
    let (rows, checksum) = format::content_checksum(&batches).unwrap();
    assert_eq!(rows, 3);
    let recorded: String = sqlx::query_scalar("select checksum from archive_manifest where object_key = $1")
        .bind(key)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(checksum, recorded);
    // Prices are exact decimals: 10.5000000001 at scale 10.
    let prices = batches[0].column_by_name("price").unwrap();
    assert_eq!(
        arrow_array::cast::AsArray::as_primitive::<arrow_array::types::Decimal128Type>(prices).value(0),
        105_000_000_001
    );
    let escaped = client
        .head_object()
        .bucket(&bucket)
        .key("market-data/historical/symbol=BTC%2FUSD/date=2026-01-05/bars_1m.parquet")
        .send()
        .await;
    assert!(escaped.is_ok(), "the symbol with a slash is one Hive partition value");
    app.stop().await;
}

#[tokio::test]
async fn archiving_a_day_twice_changes_nothing() {
    let app = spawn_app().await;
    seed(&app).await;
    let (_, store) = s3_store(&bucket()).await;
    let archiver = Archiver::new(app.db.pool.clone(), store, fast_retry(), None);
    archiver.archive_day(day(), &ProgressBar::hidden()).await.unwrap();
    let written_at: Vec<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select written_at from archive_manifest order by object_key")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();

    let again = archiver.archive_day(day(), &ProgressBar::hidden()).await.unwrap();
    assert_eq!((again.written, again.skipped, again.rows), (0, 4, 0));
    let after: Vec<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select written_at from archive_manifest order by object_key")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(written_at, after);
    app.stop().await;
}

#[tokio::test]
async fn ticks_added_to_an_archived_day_are_archived_again() {
    let app = spawn_app().await;
    seed(&app).await;
    let (_, store) = s3_store(&bucket()).await;
    let archiver = Archiver::new(app.db.pool.clone(), store, fast_retry(), None);
    archiver.archive_day(day(), &ProgressBar::hidden()).await.unwrap();
    let late = json!([{"symbol": "ACME", "ts": "2026-01-05T12:00:00Z", "price": "13", "size": 1}]);
    assert_eq!(app.post_ticks(late.to_string(), "application/json").await.0, 200);

    let again = archiver.archive_day(day(), &ProgressBar::hidden()).await.unwrap();
    assert_eq!(again.written, 2, "ACME's ticks and bars changed");
    assert!(manifest(&app).await.contains(&("ACME".into(), "ticks".into(), 4, true)));
    app.stop().await;
}

#[tokio::test]
async fn the_tick_partition_is_dropped_only_after_every_object_is_verified() {
    let app = spawn_app().await;
    seed(&app).await;

    // Retention allows pruning, but the store is down: nothing may be dropped.
    let down = Archiver::new(app.db.pool.clone(), dead_store().await, fast_retry(), Some(1));
    assert!(down.archive_day(day(), &ProgressBar::hidden()).await.is_err());
    assert!(!down.prune_day(day()).await.unwrap(), "unverified objects keep the partition");
    assert!(partition_exists(&app).await);
    assert!(manifest(&app).await.iter().all(|(_, _, _, verified)| !verified));

    let bucket = bucket();
    let (client, store) = s3_store(&bucket).await;
    let up = Archiver::new(app.db.pool.clone(), store, fast_retry(), Some(1));
    let report = up.archive_day(day(), &ProgressBar::hidden()).await.unwrap();
    assert!(report.pruned);
    assert!(!partition_exists(&app).await);
    // The next day's ticks are untouched, and the bars of the pruned day stay queryable.
    let (_, prices) = app.get("/api/v1/market/prices/ACME?start=2026-01-06T00:00:00Z&end=2026-01-07T00:00:00Z").await;
    assert_eq!(prices["prices"].as_array().unwrap().len(), 1);
    let (_, bars) = app.get("/api/v1/market/bars/ACME?start=2026-01-05T00:00:00Z&end=2026-01-06T00:00:00Z").await;
    assert_eq!(bars["bars"].as_array().unwrap().len(), 2);

    // Idempotent after pruning too.
    let again = up.archive_day(day(), &ProgressBar::hidden()).await.unwrap();
    assert_eq!((again.written, again.pruned), (0, false));

    // A late tick for the pruned day is stored (its partition is re-created) and does not
    // replace the archived ticks with a one-row fragment.
    let late = json!([{"symbol": "ACME", "ts": "2026-01-05T10:00:02Z", "price": "13", "size": 1}]);
    assert_eq!(app.post_ticks(late.to_string(), "application/json").await.0, 200);
    up.archive_day(day(), &ProgressBar::hidden()).await.unwrap();
    assert!(partition_exists(&app).await, "the late tick's partition is kept");
    let key = "market-data/historical/symbol=ACME/date=2026-01-05/ticks.parquet";
    let body = client.get_object().bucket(&bucket).key(key).send().await.unwrap().body.collect().await.unwrap();
    let (rows, _) = format::content_checksum(&format::decode(body.into_bytes()).unwrap()).unwrap();
    assert_eq!(rows, 3);
    app.stop().await;
}

#[tokio::test]
async fn an_s3_outage_delays_archiving_and_loses_nothing() {
    let app = spawn_app().await;
    seed(&app).await;
    let count =
        || async { sqlx::query_scalar::<_, i64>("select count(*) from tick").fetch_one(&app.db.pool).await.unwrap() };
    let before = count().await;

    let down = Archiver::new(app.db.pool.clone(), dead_store().await, fast_retry(), Some(1));
    let pending_before = down.pending_days(7).await.unwrap();
    assert!(pending_before.contains(&day()));
    // The scheduled pass reports failures and keeps going; the day stays pending.
    let pending = down.run_once(7).await.unwrap();
    assert!(pending.contains(&day()));
    assert_eq!(count().await, before);
    assert!(partition_exists(&app).await);

    let (_, store) = s3_store(&bucket()).await;
    let up = Archiver::new(app.db.pool.clone(), store, fast_retry(), Some(1));
    let pending = up.run_once(7).await.unwrap();
    assert!(!pending.contains(&day()), "archived once S3 is back: {pending:?}");
    assert!(!partition_exists(&app).await);
    app.stop().await;
}

#[tokio::test]
async fn the_local_folder_store_uses_the_same_layout() {
    let app = spawn_app().await;
    seed(&app).await;
    let dir = std::env::temp_dir().join(format!("halyard-archive-{}", uuid_like()));
    let archiver = Archiver::new(app.db.pool.clone(), Arc::new(LocalStore::new(&dir)), fast_retry(), None);
    let report = archiver.archive_day(day(), &ProgressBar::hidden()).await.unwrap();
    assert_eq!(report.written, 4);
    let file = dir.join("market-data/historical/symbol=ACME/date=2026-01-05/bars_1m.parquet");
    let batches = format::decode(std::fs::read(&file).unwrap().into()).unwrap();
    assert_eq!(format::content_checksum(&batches).unwrap().0, 2);
    assert!(dir.join("market-data/historical/symbol=BTC%2FUSD/date=2026-01-05/ticks.parquet").exists());
    std::fs::remove_dir_all(&dir).unwrap();
    app.stop().await;
}

#[tokio::test]
async fn today_is_not_archived() {
    let app = spawn_app().await;
    let archiver = Archiver::new(
        app.db.pool.clone(),
        Arc::new(LocalStore::new(std::env::temp_dir().join("halyard-never"))),
        fast_retry(),
        Some(1),
    );
    let today = chrono::Utc::now().date_naive();
    assert!(archiver.archive_day(today, &ProgressBar::hidden()).await.is_err());
    app.stop().await;
}

#[tokio::test]
async fn the_archive_command_writes_a_day_and_a_second_run_writes_nothing() {
    let app = spawn_app().await;
    seed(&app).await;
    let dir = std::env::temp_dir().join(format!("halyard-archive-cli-{}", uuid_like()));
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_data-service"))
            .args(["archive", "--date", DAY])
            .env("DATABASE_URL", app.db.url())
            .env("ARCHIVE_DIR", &dir)
            .env_remove("ARCHIVE_BUCKET")
            .env_remove("DATABASE_SECRET_ID")
            .env("LOG_FORMAT", "text")
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let out = String::from_utf8_lossy(&first.stdout);
    assert!(out.contains("4 objects written (9 rows), 0 already verified"), "{out}");
    let second = run();
    let out = String::from_utf8_lossy(&second.stdout);
    assert!(out.contains("0 objects written (0 rows), 4 already verified"), "{out}");
    assert!(dir.join("market-data/historical/symbol=ACME/date=2026-01-05/ticks.parquet").exists());
    std::fs::remove_dir_all(&dir).unwrap();
    app.stop().await;
}

#[tokio::test]
async fn the_service_archives_closed_days_on_its_schedule() {
    let db = test_support::TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("halyard-archive-scheduled-{}", uuid_like()));
    let mut settings = crate::helpers::test_settings(&db);
    settings.archive = data_service::configuration::ArchiveSettings {
        target: data_service::configuration::ArchiveTarget::Local(dir.clone()),
        retention_days: None,
        interval: Some(Duration::from_millis(500)),
        lookback_days: 7,
    };
    let app = crate::helpers::spawn_with(db, settings).await;
    seed(&app).await;
    let file = dir.join("market-data/historical/symbol=ACME/date=2026-01-05/ticks.parquet");
    crate::helpers::eventually("the scheduled archive run", || {
        let file = file.clone();
        async move { file.exists() }
    })
    .await;
    crate::helpers::eventually("both closed days recorded as archived", || async {
        sqlx::query_scalar::<_, i64>("select count(*) from archive_day").fetch_one(&app.db.pool).await.unwrap() == 2
    })
    .await;
    app.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_history_api_reads_ticks_of_pruned_days_back_from_the_archive() {
    let db = test_support::TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("halyard-archive-read-{}", uuid_like()));
    let mut settings = crate::helpers::test_settings(&db);
    settings.archive = data_service::configuration::ArchiveSettings::local_unscheduled(&dir);
    let app = crate::helpers::spawn_with(db, settings).await;
    seed(&app).await;
    let archiver = Archiver::new(app.db.pool.clone(), Arc::new(LocalStore::new(&dir)), fast_retry(), Some(1));
    assert!(archiver.archive_day(day(), &ProgressBar::hidden()).await.unwrap().pruned);
    assert!(!partition_exists(&app).await);

    let range = "start=2026-01-05T00:00:00Z&end=2026-01-07T00:00:00Z";
    let prices = |body: &serde_json::Value| -> Vec<String> {
        body["prices"].as_array().unwrap().iter().map(|p| p["price"].as_str().unwrap().to_owned()).collect()
    };
    let (status, all) = app.get(&format!("/api/v1/market/prices/ACME?{range}")).await;
    assert_eq!(status, 200, "{all}");
    // Three archived ticks of the pruned day (exact), then the next day's tick from Postgres.
    assert_eq!(prices(&all), vec!["10.5000000001", "11.25", "10", "12"]);

    // Paging crosses from the archive into Postgres without gaps or repeats.
    let (_, first) = app.get(&format!("/api/v1/market/prices/ACME?{range}&limit=3")).await;
    assert_eq!(prices(&first), vec!["10.5000000001", "11.25", "10"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second) = app.get(&format!("/api/v1/market/prices/ACME?{range}&limit=3&cursor={cursor}")).await;
    assert_eq!(prices(&second), vec!["12"]);

    // A late tick stored after pruning is merged in order with the archived ones.
    let late = json!([{"symbol": "ACME", "ts": "2026-01-05T10:00:02Z", "price": "13", "size": 1}]);
    assert_eq!(app.post_ticks(late.to_string(), "application/json").await.0, 200);
    let (_, merged) = app.get(&format!("/api/v1/market/prices/ACME?{range}")).await;
    assert_eq!(prices(&merged), vec!["10.5000000001", "13", "11.25", "10", "12"]);

    // The archive missing: an honest 503, not a silently shorter history.
    std::fs::remove_dir_all(&dir).unwrap();
    let (status, _) = app.get(&format!("/api/v1/market/prices/ACME?{range}")).await;
    assert_eq!(status, 503);
    app.stop().await;
}

/// A store that loses the last row of every object it hands back (a corrupted read).
struct LossyStore(LocalStore);

impl ObjectStore for LossyStore {
    fn put<'a>(&'a self, key: &'a str, body: bytes::Bytes) -> platform::store::StoreFuture<'a, ()> {
        self.0.put(key, body)
    }

    fn get<'a>(&'a self, key: &'a str) -> platform::store::StoreFuture<'a, bytes::Bytes> {
        Box::pin(async move {
            let data = self.0.get(key).await?;
            let batch = format::decode(data).unwrap().remove(0);
            Ok(format::encode(&batch.slice(0, batch.num_rows() - 1)).unwrap())
        })
    }

    fn describe(&self) -> String {
        "lossy".to_owned()
    }
}

#[tokio::test]
async fn an_object_that_reads_back_different_is_never_verified_and_nothing_is_dropped() {
    let app = spawn_app().await;
    seed(&app).await;
    let dir = std::env::temp_dir().join(format!("halyard-archive-lossy-{}", uuid_like()));
    let archiver =
        Archiver::new(app.db.pool.clone(), Arc::new(LossyStore(LocalStore::new(&dir))), fast_retry(), Some(1));
    let err = archiver.archive_day(day(), &ProgressBar::hidden()).await.unwrap_err();
    assert!(err.to_string().contains("verification"), "{err}");
    assert!(manifest(&app).await.iter().all(|(_, _, _, verified)| !verified));
    assert!(partition_exists(&app).await);
    assert!(!archiver.prune_day(day()).await.unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    app.stop().await;
}
