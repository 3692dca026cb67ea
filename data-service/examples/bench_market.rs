//! Market-data benchmark: ingest throughput and visibility latency, `prices` over a day of one
//! symbol and `average` over a year of 1-minute bars, through the real service on a real
//! PostgreSQL (fsync on). Run by `make bench`:
//!
//!     cargo run --release -p data-service --example bench_market
//!
//! Needs `HALYARD_TEST_DATABASE_URL` (a server the bench may create databases on) or starts the
//! test harness's own PostgreSQL.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use data_service::{
    configuration::Settings,
    import,
    ingest::Ingest,
    market::{Bar, Tick},
    startup::Application,
    symbols::Symbols,
};
use platform::config::{DatabaseSettings, DatabaseSource};
use rust_decimal::Decimal;
use test_support::TestDb;

const INGEST_TICKS: usize = 3_000_000;
const FEED_CHUNK: usize = 2_000;
const SYMBOLS: usize = 20;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn tick(symbol: &str, ms: i64, i: usize) -> Tick {
    Tick {
        symbol: symbol.to_owned(),
        ts: Utc.timestamp_millis_opt(ms).unwrap(),
        price: Decimal::new(10_000 + (i % 997) as i64, 2),
        size: Decimal::from(1 + (i % 50) as i64),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let db = TestDb::new().await;
    println!("== data-service benchmark (PostgreSQL at {})", db.url());
    bench_ingest(&db).await?;
    let settings = Settings::minimal(
        "127.0.0.1:0".parse()?,
        DatabaseSettings { source: DatabaseSource::Url(db.url()), max_connections: 8 },
    );
    let app = Application::build(settings, std::sync::Arc::new(platform::db::NoSecretSource)).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    bench_prices(&db, &base).await?;
    bench_average(&db, &base).await?;
    let _ = stop.send(());
    server.await??;
    Ok(())
}

/// Feeds ticks as fast as the writer takes them while a probe measures how long a submitted tick
/// takes to be committed (= queryable).
async fn bench_ingest(db: &TestDb) -> anyhow::Result<()> {
    let (ingest, writer) =
        Ingest::start(db.pool.clone(), Symbols::default(), tokio_util::sync::CancellationToken::new());
    let symbols: Vec<String> = (0..SYMBOLS).map(|i| format!("BENCH{i:02}")).collect();
    // Warm-up: create the symbols and partitions outside the timed run.
    ingest.submit(symbols.iter().map(|s| tick(s, 1_767_225_600_000, 0)).collect()).await?;

    let producer = {
        let ingest = ingest.clone();
        let symbols = symbols.clone();
        tokio::spawn(async move {
            let mut chunk = Vec::with_capacity(FEED_CHUNK);
            for i in 0..INGEST_TICKS {
                // ~10 hours of one day, many ticks per millisecond across the symbols.
                chunk.push(tick(&symbols[i % SYMBOLS], 1_767_225_600_000 + (i / 100) as i64, i));
                if chunk.len() == FEED_CHUNK {
                    ingest.feed(std::mem::replace(&mut chunk, Vec::with_capacity(FEED_CHUNK))).await.unwrap();
                }
            }
            ingest.feed(chunk).await.unwrap();
        })
    };
    let started = Instant::now();
    let mut latencies = Vec::new();
    while !producer.is_finished() {
        let probe = Instant::now();
        ingest.submit(vec![tick("PROBE", 1_767_225_600_000, 0)]).await?;
        latencies.push(probe.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    producer.await?;
    // A final acknowledged submit is committed after everything queued before it.
    ingest.submit(vec![tick("PROBE", 1_767_225_600_000, 0)]).await?;
    let elapsed = started.elapsed();
    drop(ingest);
    writer.await?;
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from tick where symbol_id in (select symbol_id from symbol where symbol like 'BENCH%')",
    )
    .fetch_one(&db.pool)
    .await?;
    assert_eq!(stored as usize, INGEST_TICKS + SYMBOLS, "every tick stored");
    latencies.sort();
    println!(
        "ingest: {INGEST_TICKS} ticks in {:.2} s = {:.0} ticks/s sustained; commit (queryable) latency under load p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} probes)",
        elapsed.as_secs_f64(),
        INGEST_TICKS as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3,
        latencies.len()
    );
    Ok(())
}

async fn time_get(client: &reqwest::Client, url: &str, runs: usize) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let res = client.get(url).send().await?;
        anyhow::ensure!(res.status().is_success(), "{url}: {}", res.status());
        let _body = res.bytes().await?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times)
}

/// One day of one symbol at one tick per second, read back through `prices`.
async fn bench_prices(db: &TestDb, base: &str) -> anyhow::Result<()> {
    let (ingest, writer) =
        Ingest::start(db.pool.clone(), Symbols::default(), tokio_util::sync::CancellationToken::new());
    let day_start = 1_767_312_000_000i64; // 2026-01-02
    for hour in 0..24 {
        let ticks: Vec<Tick> =
            (0..3600).map(|s| tick("DAY", day_start + (hour * 3600 + s) * 1000, s as usize)).collect();
        ingest.submit(ticks).await?;
    }
    drop(ingest);
    writer.await?;
    sqlx::query("analyze tick").execute(&db.pool).await?;
    let client = reqwest::Client::new();
    let range = "start=2026-01-02T00:00:00Z&end=2026-01-03T00:00:00Z";
    let page = time_get(&client, &format!("{base}/api/v1/market/prices/DAY?{range}"), 30).await?;
    let full = time_get(&client, &format!("{base}/api/v1/market/prices/DAY?{range}&limit=100000"), 15).await?;
    println!(
        "prices, one day of one symbol at 1 tick/s (86,400 ticks): first page (10,000 ticks) p50 {:.1} ms p99 {:.1} ms; whole day in one page p50 {:.1} ms",
        percentile(&page, 0.5).as_secs_f64() * 1e3,
        percentile(&page, 0.99).as_secs_f64() * 1e3,
        percentile(&full, 0.5).as_secs_f64() * 1e3,
    );
    Ok(())
}

/// One year of 1-minute bars, averaged through `average`.
async fn bench_average(db: &TestDb, base: &str) -> anyhow::Result<()> {
    let start = 1_735_689_600_000i64; // 2025-01-01
    let bars: Vec<Bar> = (0..525_600i64)
        .map(|i| {
            let p = Decimal::new(10_000 + (i % 1_000), 2);
            Bar {
                ts: Utc.timestamp_millis_opt(start + i * 60_000).unwrap(),
                open: p,
                high: p,
                low: p,
                close: p,
                volume: Decimal::ONE,
                trades: 1,
            }
        })
        .collect();
    let loaded = Instant::now();
    import::import_bars(&db.pool, &Symbols::default(), "YEAR", &bars, &indicatif::ProgressBar::hidden()).await?;
    let load_time = loaded.elapsed();
    sqlx::query("analyze bar_1m").execute(&db.pool).await?;
    let client = reqwest::Client::new();
    // Not aligned to midnight, so both partial edges are computed from bars too.
    let url = format!("{base}/api/v1/market/average/YEAR?start=2025-01-01T06:30:00Z&end=2025-12-31T18:00:00Z");
    let cold = time_get(&client, &url, 1).await?;
    let warm = time_get(&client, &url, 50).await?;
    println!(
        "average over one year of 1-minute bars (525,600 bars, imported in {:.1} s): first call (fills the day cache) {:.0} ms; then p50 {:.1} ms p99 {:.1} ms",
        load_time.as_secs_f64(),
        cold[0].as_secs_f64() * 1e3,
        percentile(&warm, 0.5).as_secs_f64() * 1e3,
        percentile(&warm, 0.99).as_secs_f64() * 1e3,
    );
    Ok(())
}
