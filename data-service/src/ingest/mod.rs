//! Ingest: every feed hands ticks to one writer task per process, which commits them to
//! Postgres in batches and publishes them on a `LISTEN`/`NOTIFY` channel in the same transaction.
//! Every data-service task relays that channel to its live-stream subscribers ([`relay`]), so a
//! client connected to any task gets every committed tick, whichever task ingested it, in commit
//! order. Feeds run on the one task holding their lease ([`lease`]).
//!
//! Batching is natural group commit: the writer takes everything queued while the previous
//! batch was being written (up to [`MAX_BATCH_TICKS`]), so under load batches grow and the cost
//! per tick falls, while a lone tick is written at once. Callers that need durability
//! ([`Ingest::submit`], used by the tick endpoint) wait until their ticks are committed; feeds use
//! [`Ingest::feed`], which only waits for room in the queue (backpressure, never unbounded memory).

pub mod binance;
pub mod lease;
mod relay;
pub mod store;
pub mod synthetic;

use std::{collections::HashSet, sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};

use self::lease::Fence;
use crate::{
    market::{Bar, Tick},
    symbols::Symbols,
};

/// Largest number of ticks written in one transaction.
pub const MAX_BATCH_TICKS: usize = 50_000;

/// Most ticks waiting in the queue. Bounds memory and, more importantly, the time from arrival
/// to commit: at the measured ~230,000 ticks/s a full queue is written in under half a second,
/// keeping every tick queryable within a second of arrival. Producers wait when it is full.
pub const MAX_QUEUED_TICKS: usize = 100_000;

/// Batches (one per notification, at most ~100 ticks each) buffered per subscriber before a
/// slow subscriber starts skipping.
pub const STREAM_BUFFER_BATCHES: usize = 1024;

/// What live-stream subscribers receive.
#[derive(Debug, Clone)]
pub enum StreamEvent {
    /// Committed ticks, in commit order.
    Ticks(Arc<Vec<Tick>>),
    /// The relay's database connection was lost and re-established: ticks committed in between
    /// were not relayed (the history API has them).
    Gap,
}

/// Why ticks were not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The database refused or is unreachable; nothing of the request was stored.
    #[error("storing ticks failed: {0}")]
    Storage(String),
    /// The service is shutting down.
    #[error("the service is shutting down")]
    Closed,
}

struct Batch {
    /// Queue room held until the batch is written.
    _room: OwnedSemaphorePermit,
    ticks: Vec<Tick>,
    /// Authoritative 1-minute bars (a venue's closed candles), written after the ticks.
    bars: Vec<(String, Bar)>,
    /// The feed lease the data was received under (none for the tick endpoint).
    fence: Option<Fence>,
    ack: Option<oneshot::Sender<Result<usize, IngestError>>>,
}

/// A handle to the writer. Cheap to clone; the writer stops (after flushing) when every handle
/// is dropped.
#[derive(Clone)]
pub struct Ingest {
    queue: mpsc::UnboundedSender<Batch>,
    room: Arc<Semaphore>,
    stream: broadcast::Sender<StreamEvent>,
    /// Whether the relay is listening (subscribers wait for it).
    listening: watch::Receiver<bool>,
    fence: Option<Fence>,
}

impl Ingest {
    /// Starts the writer task. Await the returned handle after dropping every [`Ingest`] to be
    /// sure queued ticks are written.
    ///
    /// Also starts the stream relay, which listens until `stop` fires.
    pub fn start(
        pool: PgPool,
        symbols: Symbols,
        stop: tokio_util::sync::CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, rx) = mpsc::unbounded_channel();
        let (stream, _) = broadcast::channel(STREAM_BUFFER_BATCHES);
        let (listening_tx, listening) = watch::channel(false);
        tokio::spawn(relay::run(pool.clone(), stream.clone(), listening_tx, stop));
        let tag = format!("{}:{:08x}", std::process::id(), rand::random::<u32>());
        let writer = Writer { pool, symbols, partitions: HashSet::new(), tag, batches_written: 0 };
        let handle = tokio::spawn(writer.run(rx));
        let room = Arc::new(Semaphore::new(MAX_QUEUED_TICKS));
        (Self { queue, room, stream, listening, fence: None }, handle)
    }

    /// A handle whose feed data carries `fence`: the writer stores it only while that lease holds.
    pub fn fenced(&self, fence: Fence) -> Self {
        Self { fence: Some(fence), ..self.clone() }
    }

    /// Stores `ticks` and returns once they are committed (durable before acknowledged).
    pub async fn submit(&self, ticks: Vec<Tick>) -> Result<usize, IngestError> {
        if ticks.is_empty() {
            return Ok(0);
        }
        let (ack, done) = oneshot::channel();
        self.enqueue(ticks, Vec::new(), None, Some(ack)).await?;
        done.await.map_err(|_| IngestError::Closed)?
    }

    /// Queues `ticks` from a feed, waiting only for queue room. The writer retries storage
    /// failures until the database is back.
    pub async fn feed(&self, ticks: Vec<Tick>) -> Result<(), IngestError> {
        if ticks.is_empty() {
            return Ok(());
        }
        self.enqueue(ticks, Vec::new(), self.fence.clone(), None).await
    }

    /// Queues closed candles from a venue; they replace the minute's bar built from ticks, in
    /// order with the ticks queued before them.
    pub async fn feed_bars(&self, bars: Vec<(String, Bar)>) -> Result<(), IngestError> {
        if bars.is_empty() {
            return Ok(());
        }
        self.enqueue(Vec::new(), bars, self.fence.clone(), None).await
    }

    async fn enqueue(
        &self,
        ticks: Vec<Tick>,
        bars: Vec<(String, Bar)>,
        fence: Option<Fence>,
        ack: Option<oneshot::Sender<Result<usize, IngestError>>>,
    ) -> Result<(), IngestError> {
        // A request larger than the whole queue waits for an empty queue instead of forever.
        let wanted = (ticks.len() + bars.len()).clamp(1, MAX_QUEUED_TICKS) as u32;
        let room = self.room.clone().acquire_many_owned(wanted).await.map_err(|_| IngestError::Closed)?;
        self.queue.send(Batch { _room: room, ticks, bars, fence, ack }).map_err(|_| IngestError::Closed)
    }

    /// Committed ticks of every task, for the live stream, once the relay listens; `None` when it
    /// does not within `wait` (the database is unreachable): a subscriber would see nothing.
    pub async fn subscribe(&self, wait: Duration) -> Option<broadcast::Receiver<StreamEvent>> {
        let mut listening = self.listening.clone();
        let ready = matches!(tokio::time::timeout(wait, listening.wait_for(|l| *l)).await, Ok(Ok(_)));
        ready.then(|| self.stream.subscribe())
    }
}

struct Writer {
    pool: PgPool,
    symbols: Symbols,
    /// Partitions known to exist, so each is ensured once per process.
    partitions: HashSet<String>,
    /// This process's part of every notification's tag.
    tag: String,
    batches_written: u64,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Batch>) {
        while let Some(first) = rx.recv().await {
            let mut count = first.ticks.len() + first.bars.len();
            let mut batches = vec![first];
            while count < MAX_BATCH_TICKS {
                match rx.try_recv() {
                    Ok(b) => {
                        count += b.ticks.len() + b.bars.len();
                        batches.push(b);
                    }
                    Err(_) => break,
                }
            }
            self.write_with_retry(batches, &rx).await;
        }
        tracing::info!("ingest writer stopped: queue drained");
    }

    async fn write_with_retry(&mut self, mut batches: Vec<Batch>, rx: &mpsc::UnboundedReceiver<Batch>) {
        let mut attempt: u32 = 0;
        let mut partitions_rechecked = false;
        loop {
            let ticks: Vec<&Tick> = batches.iter().flat_map(|b| b.ticks.iter()).collect();
            let bars: Vec<&(String, Bar)> = batches.iter().flat_map(|b| b.bars.iter()).collect();
            let mut fences: Vec<&Fence> = batches.iter().filter_map(|b| b.fence.as_ref()).collect();
            fences.sort_by(|a, b| (&a.feed, a.epoch).cmp(&(&b.feed, b.epoch)));
            fences.dedup();
            self.batches_written += 1;
            let tag = format!("{}:{}", self.tag, self.batches_written);
            let started = std::time::Instant::now();
            let written =
                store::write_batch(&self.pool, &self.symbols, &mut self.partitions, &ticks, &bars, &fences, &tag).await;
            match written {
                Ok(()) => {
                    platform::metrics::global().count("TicksIngested", ticks.len() as f64, &[]);
                    tracing::debug!(
                        ticks = ticks.len(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "ticks committed"
                    );
                    for b in batches {
                        if let Some(ack) = b.ack {
                            let _ = ack.send(Ok(b.ticks.len()));
                        }
                    }
                    return;
                }
                Err(store::WriteError::Fenced(stale)) => {
                    let dropped: usize = batches
                        .iter()
                        .filter(|b| b.fence.as_ref().is_some_and(|f| stale.contains(f)))
                        .map(|b| b.ticks.len())
                        .sum();
                    tracing::warn!(?stale, dropped, "feed data received under a superseded lease dropped");
                    batches.retain(|b| !b.fence.as_ref().is_some_and(|f| stale.contains(f)));
                    if batches.is_empty() {
                        return;
                    }
                }
                Err(store::WriteError::Database(e)) if !partitions_rechecked && is_missing_partition(&e) => {
                    // A partition this writer created was dropped since (the archive pruned an
                    // old day): forget what is known to exist and write again at once.
                    tracing::warn!("a tick partition disappeared (archived and pruned day); re-creating");
                    self.partitions.clear();
                    partitions_rechecked = true;
                }
                Err(store::WriteError::Database(e)) => {
                    attempt += 1;
                    platform::db::report_error(&e);
                    tracing::warn!(error = %e, attempt, ticks = ticks.len(), "writing ticks failed; will retry");
                    // Requests waiting for an answer are told now, so their callers can retry;
                    // their ticks leave the batch, since they were reported as not stored.
                    let message = e.to_string();
                    batches.retain_mut(|b| match b.ack.take() {
                        Some(ack) => {
                            let _ = ack.send(Err(IngestError::Storage(message.clone())));
                            false
                        }
                        None => true,
                    });
                    if batches.is_empty() {
                        return;
                    }
                    if rx.is_closed() && attempt >= 5 {
                        let lost: usize = batches.iter().map(|b| b.ticks.len()).sum();
                        tracing::error!(lost, "shutting down with the database unavailable: feed ticks dropped");
                        return;
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
        }
    }
}

/// Whether `e` says a row had no partition to go to (SQLSTATE 23514 from partition routing).
fn is_missing_partition(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some("23514") && db.message().contains("no partition"))
}

/// Publishes `MarketDataLagSeconds` for `feed`: how far behind the wall clock the newest tick
/// the feed handed over is (a stalled or delayed venue shows as a growing lag). Also recorded
/// without the `Feed` dimension as a distribution, whose Maximum over all feeds is what the
/// `market-data-lag` alarm of `terraform/modules/monitoring` reads.
pub fn record_lag(feed: &str, newest: chrono::DateTime<chrono::Utc>) {
    let lag = (chrono::Utc::now() - newest).num_milliseconds() as f64 / 1e3;
    let metrics = platform::metrics::global();
    metrics.gauge("MarketDataLagSeconds", lag, platform::metrics::Unit::Seconds, &[("Feed", feed)]);
    metrics.observe("MarketDataLagSeconds", lag, platform::metrics::Unit::Seconds, &[]);
}

/// Exponential backoff from 100 ms, capped at 5 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(6)).min(5_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_lag_is_published_per_feed_and_as_the_platform_series_the_alarm_reads() {
        let newest = chrono::Utc::now() - chrono::Duration::seconds(30);
        record_lag("lag-test-feed", newest);
        let metrics = platform::metrics::global();
        let per_feed = metrics.buffered("MarketDataLagSeconds", &[("Feed", "lag-test-feed")]).unwrap();
        assert!((29.0..40.0).contains(&per_feed), "{per_feed}");
        assert!(metrics.buffered("MarketDataLagSeconds", &[]).is_some(), "the alarm's series has no Feed dimension");
    }
}
