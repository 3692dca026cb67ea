//! Engine benchmarks (`make bench`; figures quoted in docs/engine.md).
//!
//! 1. Decision path, excluding the database: a tick goes through the bar aggregator, the
//!    strategy, the pre-trade risk check and into the simulated venue. Latency per tick, and
//!    per tick that produced an order.
//! 2. Webhook, open loop: signals are sent at a fixed rate whatever the answers do (latency is
//!    measured from each request's scheduled time, so a stall is not hidden), for several
//!    rates; every 202 means the signal was committed.
//!
//! Run: `cargo run --release -p engine --example bench_engine [-- --rates 5000,10000 --seconds 5]`.
//! Needs PostgreSQL: `HALYARD_TEST_DATABASE_URL`, or the test harness's throwaway cluster.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use domain::{
    bars::BarAggregator,
    fill::{FillModel, SimulatedVenue},
    risk::{check_order, RiskLimits, RiskSnapshot},
    Bps, InstrumentId, Money, Price, Qty, Strategy, StrategyBase, StrategyContext, Tick, Timestamp,
};

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn decision_path() {
    let instrument = InstrumentId(1);
    let params: domain::StrategyParams = "fast=2,slow=3".parse().unwrap();
    let mut strategy =
        domain::build_strategy("sma_cross", &params, StrategyBase { instrument, quantity: Qty::ONE }).unwrap();
    let mut bars = BarAggregator::new(instrument, 1_000_000_000);
    let mut venue = SimulatedVenue::new(FillModel::default());
    let limits = RiskLimits {
        max_order_qty: Some(Qty::from_units(100)),
        max_order_notional: Some(Money::from_units(1_000_000)),
        max_position: Some(Qty::from_units(1000)),
        max_gross_exposure: Some(Money::from_units(10_000_000)),
        price_collar: Some(Bps::from_bps(500)),
        max_daily_loss: Some(Money::from_units(10_000)),
    };
    let mut intents = Vec::with_capacity(4);
    let mut position = Qty::ZERO;
    let mut all = Vec::with_capacity(2_000_000);
    let mut with_order = Vec::new();
    let mut price: i64 = 100_000_000 * 100;
    let mut seed: u64 = 42;
    for i in 0..2_000_000i64 {
        // A cheap deterministic random walk; two ticks per 1 s bar.
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        price += ((seed >> 33) % 7) as i64 * 1_000_000 - 3_000_000;
        let tick = Tick {
            instrument,
            ts: Timestamp::from_nanos(i * 500_000_000),
            price: Price::from_raw(price),
            size: Qty::ONE,
        };
        let started = Instant::now();
        let mut ordered = false;
        if let Some(bar) = bars.on_tick(&tick) {
            intents.clear();
            let ctx = StrategyContext { now: bar.ts, position, working: Qty::ZERO };
            strategy.on_bar(&ctx, &bar, &mut intents);
            for intent in &intents {
                let snapshot = RiskSnapshot { position, last_trade: Some(tick.price), ..RiskSnapshot::default() };
                if check_order(intent, &snapshot, &limits).is_ok() {
                    venue.submit(*intent, tick.ts);
                    ordered = true;
                }
            }
        }
        let elapsed = started.elapsed().as_nanos() as u64;
        all.push(elapsed);
        if ordered {
            with_order.push(elapsed);
            // Outside the timed section: fill at once so the strategy sees its position.
            for intent in &intents {
                position = position + intent.signed_qty();
            }
            venue.cancel_all(instrument);
        }
    }
    all.sort_unstable();
    with_order.sort_unstable();
    println!("decision path (tick → bar → strategy → risk → venue), excluding the database:");
    println!(
        "  all ticks        n={:>8}  p50={:>6} ns  p99={:>6} ns  p99.9={:>6} ns  max={:>8} ns",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        percentile(&all, 0.999),
        all.last().unwrap()
    );
    println!(
        "  ticks → an order n={:>8}  p50={:>6} ns  p99={:>6} ns  p99.9={:>6} ns  max={:>8} ns",
        with_order.len(),
        percentile(&with_order, 0.5),
        percentile(&with_order, 0.99),
        percentile(&with_order, 0.999),
        with_order.last().copied().unwrap_or(0)
    );
}

async fn webhook(rates: &[u64], seconds: u64) -> anyhow::Result<()> {
    let db = test_support::TestDb::new().await;
    let url = db.url();
    let settings = engine::configuration::Settings {
        listen_addr: "127.0.0.1:0".parse()?,
        database: platform::config::DatabaseSettings {
            source: platform::config::DatabaseSource::Url(url),
            max_connections: 10,
        },
        migrate_on_start: false,
        data_service_url: "http://127.0.0.1:9".into(),
        venue: engine::configuration::VenueSettings::Paper,
        paper: engine::configuration::PaperSettings {
            fees: Default::default(),
            slippage: Bps::ZERO,
            liquidity: Default::default(),
        },
        signals: engine::configuration::SignalSettings {
            max_age: Duration::from_secs(60),
            hmac_secret: None,
            body_limit: 16_384,
        },
        lease_ttl: Duration::from_secs(10),
        lease_renew: Duration::from_secs(2),
        halt_poll: Duration::from_millis(250),
        equity_snapshot: Duration::from_secs(60),
        instance_id: "bench".into(),
        store: platform::store::StoreTarget::Local(
            std::env::temp_dir().join(format!("halyard-results-{}", uuid::Uuid::new_v4().simple())),
        ),
        backtest_workers: 0,
        metrics: platform::metrics::MetricsSettings {
            namespace: "Halyard".into(),
            cloudwatch: false,
            flush_interval: Duration::from_secs(3600),
            environment: "test".into(),
        },
        secrets_refresh: Duration::from_secs(300),
    };
    let market = engine::market::MarketData::new("http://127.0.0.1:9");
    let app = engine::startup::Application::build_with_market(
        settings,
        std::sync::Arc::new(platform::db::NoSecretSource),
        market,
        false,
    )
    .await?;
    let port = app.port();
    let pool = app.state().pool.clone();
    // A strategy whose signals produce no orders (the worker stays quiet): rsi_reversion ignores signals.
    sqlx::query("insert into strategy (name, kind, params, account, symbols, enabled, passphrase_hash) values ('bench', 'rsi_reversion', '{}', 'bench', '{BTCUSD}', true, $1)")
        .bind(engine::auth::hash(b"bench-pass"))
        .execute(&pool)
        .await?;
    let server = tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = reqwest::Client::builder().pool_max_idle_per_host(512).build()?;
    // At most this many requests in flight (connections), as a real load generator would hold;
    // latency still counts from each request's scheduled time, so queueing here is measured.
    let connections = Arc::new(tokio::sync::Semaphore::new(256));
    let endpoint = Arc::new(format!("http://127.0.0.1:{port}/api/v1/signals/tradingview"));
    println!("webhook, open loop, {seconds} s per rate (server, database and load generator share this machine):");
    let mut sequence = 0u64;
    // Warm-up (connections, database pool, caches), not reported.
    let warm_up = [(2000u64, 2u64, false)];
    for (rate, seconds, report) in warm_up.into_iter().chain(rates.iter().map(|r| (*r, seconds, true))) {
        let total = rate * seconds;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(bool, u64)>();
        let started = Instant::now();
        // Requests are released in 1 ms slices at the target rate.
        let per_ms = rate as f64 / 1000.0;
        let mut sent = 0u64;
        while sent < total {
            let due = ((started.elapsed().as_secs_f64() * 1000.0 + 1.0) * per_ms) as u64;
            while sent < due.min(total) {
                let scheduled = started + Duration::from_secs_f64(sent as f64 / rate as f64);
                sequence += 1;
                let body = format!(
                    r#"{{"passphrase":"bench-pass","strategy":"bench","ticker":"BTCUSD","action":"buy","quantity":"1","alert_id":"b-{sequence}"}}"#
                );
                let (client, endpoint, tx, connections) =
                    (client.clone(), endpoint.clone(), tx.clone(), connections.clone());
                tokio::spawn(async move {
                    let _permit = connections.acquire().await;
                    let ok = match client
                        .post(endpoint.as_str())
                        .header("content-type", "text/plain")
                        .body(body)
                        .send()
                        .await
                    {
                        Ok(res) if res.status().as_u16() == 202 => true,
                        Ok(res) => {
                            eprintln!("answer {}", res.status());
                            false
                        }
                        Err(e) => {
                            eprintln!("request failed: {e}");
                            false
                        }
                    };
                    let _ = tx.send((ok, scheduled.elapsed().as_micros() as u64));
                });
                sent += 1;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(tx);
        let mut latencies = Vec::with_capacity(total as usize);
        let mut errors = 0;
        while let Some((ok, micros)) = rx.recv().await {
            if !ok {
                errors += 1;
            }
            latencies.push(micros);
        }
        let wall = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        if !report {
            continue;
        }
        println!(
            "  target {rate:>6}/s: {total} sent, {:.0}/s completed, errors {errors}, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            total as f64 / wall,
            percentile(&latencies, 0.5) as f64 / 1000.0,
            percentile(&latencies, 0.99) as f64 / 1000.0,
            *latencies.last().unwrap_or(&0) as f64 / 1000.0
        );
    }
    let stored: i64 = sqlx::query_scalar("select count(*) from signal").fetch_one(&pool).await?;
    println!("  signals committed: {stored}");
    server.abort();
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let rates: Vec<u64> =
        value("--rates").unwrap_or_else(|| "5000,10000".into()).split(',').map(|r| r.parse().unwrap()).collect();
    let seconds: u64 = value("--seconds").map_or(5, |s| s.parse().unwrap());
    decision_path();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(webhook(&rates, seconds))
}
