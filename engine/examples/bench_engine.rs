//! Engine benchmarks (`make bench`; figures in docs/benchmarks.md).
//!
//! 1. Decision path, excluding the database: a tick goes through the bar aggregator, the
//!    strategy, the pre-trade risk check and into the simulated venue. Latency per tick, and
//!    per tick that produced an order.
//! 2. Webhook, open loop: signals are sent at a fixed rate whatever the answers do (latency is
//!    measured from each request's scheduled time, so a stall is not hidden), for several
//!    rates; every 202 means the signal was committed. The signal worker runs as in production
//!    and turns the stored signals into decisions meanwhile.
//!
//!    "completed/s" is requests over the time from the first request to the last answer, so at
//!    exactly 10,000/s offered it stays a little under 10,000 by the last answers' latency;
//!    12,000/s offered shows whether the engine completes 10,000/s or more. "CPU per signal"
//!    splits this process's CPU time between the engine and the load generator (PostgreSQL's
//!    is not counted).
//!
//! Run: `cargo run --release -p engine --example bench_engine [-- --rates 5000,10000,12000 --seconds 5]`.
//! Needs PostgreSQL: `HALYARD_TEST_DATABASE_URL`, or the test harness's throwaway cluster.

use std::time::{Duration, Instant};

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
    // No data-service: the webhook path needs none (the address refuses connections).
    let settings = engine::configuration::Settings {
        backtest_workers: 0,
        instance_id: "bench".into(),
        ..engine::configuration::Settings::local(&url, "http://127.0.0.1:9")
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
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    println!(
        "webhook, open loop, {seconds} s per rate, {CONNECTIONS} keep-alive connections \
         (server, database and load generator share this machine):"
    );
    let mut first_alert = 0u64;
    // Warm-up (connections, database pool, caches), not reported.
    let warm_up = [(2000u64, 2u64, false)];
    for (rate, seconds, report) in warm_up.into_iter().chain(rates.iter().map(|r| (*r, seconds, true))) {
        let total = rate * seconds;
        let process_before = cpu_time("/proc/self/stat");
        // The generator runs on a thread of its own, so the CPU the engine spends per signal
        // can be told apart from the generator's (and compared across runs on a busy machine).
        let generator = std::thread::Builder::new().name("loadgen".into()).spawn(move || {
            let run = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("load generator runtime")
                .block_on(open_loop(address, rate, total, first_alert));
            (run, cpu_time("/proc/thread-self/stat"))
        })?;
        let (run, generator_cpu) =
            tokio::task::spawn_blocking(move || generator.join().expect("load generator thread")).await?;
        let engine_cpu = cpu_time("/proc/self/stat").saturating_sub(process_before).saturating_sub(generator_cpu);
        first_alert += total;
        if !report {
            continue;
        }
        let mut latencies = run.latencies;
        latencies.sort_unstable();
        println!(
            "  target {rate:>6}/s: {total} sent in {:.3} s ({:.0}/s offered), {:.0}/s completed, errors {}, \
             p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            run.sending.as_secs_f64(),
            total as f64 / run.sending.as_secs_f64(),
            total as f64 / run.wall.as_secs_f64(),
            run.errors,
            percentile(&latencies, 0.5) as f64 / 1000.0,
            percentile(&latencies, 0.99) as f64 / 1000.0,
            *latencies.last().unwrap_or(&0) as f64 / 1000.0
        );
        println!(
            "  {:>15}  CPU per signal: engine {:.1} µs, load generator {:.1} µs",
            "",
            engine_cpu.as_secs_f64() * 1e6 / total as f64,
            generator_cpu.as_secs_f64() * 1e6 / total as f64,
        );
    }
    let processed: i64 =
        sqlx::query_scalar("select count(*) from signal where status <> 'pending'").fetch_one(&pool).await?;
    let stored: i64 = sqlx::query_scalar("select count(*) from signal").fetch_one(&pool).await?;
    println!("  signals committed: {stored}; processed by the signal worker meanwhile: {processed}");
    server.abort();
    Ok(())
}

/// CPU time (user and system) from a `/proc/.../stat` file; zero where that does not exist.
fn cpu_time(stat_file: &str) -> Duration {
    let Ok(stat) = std::fs::read_to_string(stat_file) else { return Duration::ZERO };
    let Some(close) = stat.rfind(')') else { return Duration::ZERO };
    // After the name: state is field 3; utime and stime are fields 14 and 15, in USER_HZ (100).
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    Duration::from_secs_f64(ticks / 100.0)
}

/// Connections the load generator holds open, as TradingView's senders or a proxy would.
const CONNECTIONS: u64 = 256;

/// What one open-loop run measured.
struct Run {
    /// Per request, from its scheduled time to its answer (µs), so queueing is counted.
    latencies: Vec<u64>,
    errors: u64,
    /// From the start to the last request's scheduled time having passed and it being written.
    sending: Duration,
    /// From the start to the last answer.
    wall: Duration,
}

/// Sends `total` alerts at `rate` per second over [`CONNECTIONS`] keep-alive HTTP/1.1
/// connections, one request at a time on each (no pipelining). Request `i` is due at
/// `i / rate` seconds and goes on connection `i % CONNECTIONS`; a connection that is still
/// waiting for an earlier answer sends late, and that lateness is part of the latency.
///
/// HTTP is written and read by hand: a general-purpose client costs as much CPU per request as
/// the server under test, and both share this machine's two cores.
async fn open_loop(address: std::net::SocketAddr, rate: u64, total: u64, first_alert: u64) -> Run {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for lane in 0..CONNECTIONS.min(total) {
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity((total / CONNECTIONS + 1) as usize);
            let mut errors = 0u64;
            let mut last_sent = Duration::ZERO;
            let mut connection: Option<tokio::net::TcpStream> = None;
            let mut buffer = Vec::with_capacity(1024);
            let mut i = lane;
            while i < total {
                let due = started + Duration::from_secs_f64(i as f64 / rate as f64);
                tokio::time::sleep_until(due.into()).await;
                let body = format!(
                    r#"{{"passphrase":"bench-pass","strategy":"bench","ticker":"BTCUSD","action":"buy","quantity":"1","alert_id":"b-{}"}}"#,
                    first_alert + i
                );
                let request = format!(
                    "POST /api/v1/signals/tradingview HTTP/1.1\r\nhost: {address}\r\ncontent-type: text/plain\r\n\
                     content-length: {}\r\n\r\n{body}",
                    body.len()
                );
                last_sent = started.elapsed();
                match exchange(&mut connection, address, request.as_bytes(), &mut buffer).await {
                    Ok(202) => {}
                    Ok(status) => {
                        eprintln!("answer {status}");
                        errors += 1;
                    }
                    Err(e) => {
                        eprintln!("request failed: {e}");
                        errors += 1;
                        connection = None;
                    }
                }
                latencies.push(due.elapsed().as_micros() as u64);
                i += CONNECTIONS;
            }
            (latencies, errors, last_sent)
        }));
    }
    let mut run =
        Run { latencies: Vec::with_capacity(total as usize), errors: 0, sending: Duration::ZERO, wall: Duration::ZERO };
    for task in tasks {
        let (latencies, errors, last_sent) = task.await.expect("load generator task");
        run.latencies.extend(latencies);
        run.errors += errors;
        run.sending = run.sending.max(last_sent);
    }
    run.wall = started.elapsed();
    run
}

/// Writes one request on the connection (opening it if needed) and reads the answer; returns
/// its status code.
async fn exchange(
    connection: &mut Option<tokio::net::TcpStream>,
    address: std::net::SocketAddr,
    request: &[u8],
    buffer: &mut Vec<u8>,
) -> std::io::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    if connection.is_none() {
        let stream = tokio::net::TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        *connection = Some(stream);
    }
    let stream = connection.as_mut().expect("connected above");
    stream.write_all(request).await?;
    buffer.clear();
    loop {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed"));
        }
        buffer.extend_from_slice(&chunk[..n]);
        let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = std::str::from_utf8(&buffer[..head_end]).map_err(|_| invalid("response head is not UTF-8"))?;
        let status: u16 =
            head.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(|| invalid("no status in the response"))?;
        let length: usize = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
            })
            .ok_or_else(|| invalid("response without content-length"))?;
        if buffer.len() >= head_end + 4 + length {
            return Ok(status);
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let rates: Vec<u64> =
        value("--rates").unwrap_or_else(|| "5000,10000,12000".into()).split(',').map(|r| r.parse().unwrap()).collect();
    let seconds: u64 = value("--seconds").map_or(5, |s| s.parse().unwrap());
    decision_path();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(webhook(&rates, seconds))
}
