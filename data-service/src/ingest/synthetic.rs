//! A synthetic feed: a random walk per symbol at a configurable rate, so the platform has live
//! prices without any network. Prices move in whole cents, so they stay exact decimals.

use std::time::Duration;

use chrono::Utc;
use rand::{rngs::SmallRng, Rng, SeedableRng};
use rust_decimal::Decimal;
use tokio_util::sync::CancellationToken;

use super::Ingest;
use crate::market::Tick;

/// Runs the feed until `stop` fires. `ticks_per_second` is per symbol.
pub async fn run(ingest: Ingest, symbols: Vec<String>, ticks_per_second: u32, stop: CancellationToken) {
    let mut rng = SmallRng::from_entropy();
    let cent = Decimal::new(1, 2);
    let mut prices: Vec<Decimal> = symbols.iter().map(|_| Decimal::new(rng.gen_range(5_000..50_000), 2)).collect();
    // At 10 ticks/s and more, ticks come in 10 slices a second so the stream looks continuous.
    let rate = ticks_per_second.max(1);
    let (period, per_slice) = if rate >= 10 {
        (Duration::from_millis(100), rate.div_ceil(10) as usize)
    } else {
        (Duration::from_secs(1) / rate, 1)
    };
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(?symbols, ticks_per_second, "synthetic feed started");
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = interval.tick() => {}
        }
        let now = Utc::now();
        let mut batch = Vec::with_capacity(per_slice * symbols.len());
        for (symbol, price) in symbols.iter().zip(prices.iter_mut()) {
            for _ in 0..per_slice {
                let step: i64 = rng.gen_range(-3..=3);
                *price = (*price + cent * Decimal::from(step)).max(cent);
                batch.push(Tick {
                    symbol: symbol.clone(),
                    ts: now,
                    price: *price,
                    size: Decimal::from(rng.gen_range(1..100)),
                });
            }
        }
        let newest = batch.iter().map(|t| t.ts).max();
        if ingest.feed(batch).await.is_err() {
            break;
        }
        if let Some(ts) = newest {
            super::record_lag("synthetic", ts);
        }
    }
    tracing::info!("synthetic feed stopped");
}
