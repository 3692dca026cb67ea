//! External signals: the TradingView webhook, the group-commit writer that makes every accepted
//! signal durable before its 202, and the worker that turns stored signals into orders.
//!
//! The webhook authenticates (per-strategy passphrase in constant time, optional HMAC of the
//! body), validates, and hands the signal to [`SignalWriter`], which inserts everything queued
//! meanwhile in one statement and one commit (group commit), then answers each request:
//! `accepted` or `duplicate` (the `(strategy, alert_id)` pair is unique in the table). The
//! [`worker`] claims stored signals with `FOR UPDATE SKIP LOCKED`, so any number of engine
//! instances share the work and each signal is processed once.

pub mod webhook;
pub mod worker;

use std::{collections::HashMap, sync::Arc, time::Duration};

use rust_decimal::Decimal;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Notify};

/// Largest number of signals written in one transaction.
pub const MAX_BATCH: usize = 2_000;

/// Writer tasks: while one batch commits, the next one is being inserted by another, so a
/// request waits for at most about one commit before its own.
pub const WRITERS: usize = 3;

/// A validated signal to store.
#[derive(Debug, Clone)]
pub struct PendingSignal {
    /// Strategy id.
    pub strategy_id: i64,
    /// Account of the strategy.
    pub account: String,
    /// Strategy name.
    pub strategy: String,
    /// Idempotency key: the alert id, or a hash of the body.
    pub dedupe_key: String,
    /// Symbol.
    pub ticker: String,
    /// `buy`, `sell` or `exit`.
    pub action: String,
    /// Quantity asked for.
    pub quantity: Option<Decimal>,
    /// Price mentioned.
    pub price: Option<Decimal>,
    /// The alert as received (passphrase removed).
    pub payload: String,
    /// After this the queued signal fails as `expired` instead of trading (none: never).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What storing a signal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Committed with this id.
    Accepted(i64),
    /// The same alert was stored before under this id; nothing new.
    Duplicate(i64),
}

/// Storing failed; nothing of the request was stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    /// The database refused or is unreachable.
    #[error("storing the signal failed: {0}")]
    Storage(String),
    /// Shutting down.
    #[error("the engine is shutting down")]
    Closed,
}

type Request = (PendingSignal, oneshot::Sender<Result<Stored, WriteError>>);

/// Handle to the group-commit writer.
#[derive(Clone)]
pub struct SignalWriter {
    queue: mpsc::Sender<Request>,
}

impl SignalWriter {
    /// Starts the writer; `stored` is notified after every commit that stored something.
    pub fn start(pool: PgPool, stored: Arc<Notify>) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, rx) = mpsc::channel(16_384);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let writers: Vec<_> =
            (0..WRITERS).map(|_| tokio::spawn(run_writer(pool.clone(), rx.clone(), stored.clone()))).collect();
        let all = tokio::spawn(async move {
            for writer in writers {
                let _ = writer.await;
            }
        });
        (Self { queue }, all)
    }

    /// Stores `signal`; returns once it is committed (or known to be a duplicate).
    pub async fn store(&self, signal: PendingSignal) -> Result<Stored, WriteError> {
        let (ack, done) = oneshot::channel();
        self.queue.send((signal, ack)).await.map_err(|_| WriteError::Closed)?;
        done.await.map_err(|_| WriteError::Closed)?
    }
}

async fn run_writer(pool: PgPool, rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Request>>>, stored: Arc<Notify>) {
    let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
    loop {
        // Only the taking is serialized; the insert and commit run alongside the other writers.
        let taken = rx.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if taken == 0 {
            break;
        }
        let started = std::time::Instant::now();
        match insert_batch(&pool, &batch).await {
            Ok(results) => {
                let any = results.iter().any(|r| matches!(r, Stored::Accepted(_)));
                for ((_, ack), result) in batch.drain(..).zip(results) {
                    let _ = ack.send(Ok(result));
                }
                if any {
                    stored.notify_waiters();
                    stored.notify_one();
                }
                tracing::debug!(elapsed_us = started.elapsed().as_micros() as u64, "signal batch committed");
            }
            Err(e) => {
                tracing::warn!(error = %e, signals = batch.len(), "storing signals failed");
                let message = e.to_string();
                for (_, ack) in batch.drain(..) {
                    let _ = ack.send(Err(WriteError::Storage(message.clone())));
                }
                // Do not spin against a database that is down.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn insert_batch(pool: &PgPool, batch: &[Request]) -> Result<Vec<Stored>, sqlx::Error> {
    let n = batch.len();
    let mut strategy_ids = Vec::with_capacity(n);
    let mut accounts = Vec::with_capacity(n);
    let mut strategies = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    let mut tickers = Vec::with_capacity(n);
    let mut actions = Vec::with_capacity(n);
    let mut quantities = Vec::with_capacity(n);
    let mut prices = Vec::with_capacity(n);
    let mut payloads = Vec::with_capacity(n);
    let mut expiries = Vec::with_capacity(n);
    for (s, _) in batch {
        strategy_ids.push(s.strategy_id);
        accounts.push(s.account.as_str());
        strategies.push(s.strategy.as_str());
        keys.push(s.dedupe_key.as_str());
        tickers.push(s.ticker.as_str());
        actions.push(s.action.as_str());
        quantities.push(s.quantity);
        prices.push(s.price);
        payloads.push(s.payload.as_str());
        expiries.push(s.expires_at);
    }
    let rows: Vec<(i64, i64, String)> = sqlx::query_as(
        "insert into signal (strategy_id, account, strategy, dedupe_key, ticker, action, quantity, price, payload,
                             expires_at)
         select t.sid, t.acc, t.strat, t.dk, t.tick, t.act, t.q, t.p, t.pl::jsonb, t.exp
           from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::numeric[], $8::numeric[], $9::text[], $10::timestamptz[])
                as t(sid, acc, strat, dk, tick, act, q, p, pl, exp)
         on conflict (strategy_id, dedupe_key) do nothing
         returning signal_id, strategy_id, dedupe_key",
    )
    .bind(&strategy_ids)
    .bind(&accounts)
    .bind(&strategies)
    .bind(&keys)
    .bind(&tickers)
    .bind(&actions)
    .bind(&quantities)
    .bind(&prices)
    .bind(&payloads)
    .bind(&expiries)
    .fetch_all(pool)
    .await?;
    let mut inserted: HashMap<(i64, &str), i64> =
        rows.iter().map(|(id, sid, key)| ((*sid, key.as_str()), *id)).collect();
    // Repeats of alerts stored earlier (rare): look their ids up, so a retry learns which signal
    // its alert became.
    let mut earlier: HashMap<(i64, String), i64> = HashMap::new();
    if inserted.len() < batch.len() {
        let (sids, dks): (Vec<i64>, Vec<&str>) = batch
            .iter()
            .filter(|(s, _)| !inserted.contains_key(&(s.strategy_id, s.dedupe_key.as_str())))
            .map(|(s, _)| (s.strategy_id, s.dedupe_key.as_str()))
            .unzip();
        let found: Vec<(i64, i64, String)> = sqlx::query_as(
            "select signal_id, strategy_id, dedupe_key from signal
              where (strategy_id, dedupe_key) in (select * from unnest($1::bigint[], $2::text[]))",
        )
        .bind(&sids)
        .bind(&dks)
        .fetch_all(pool)
        .await?;
        earlier = found.into_iter().map(|(id, sid, key)| ((sid, key), id)).collect();
    }
    // The first request with a key gets the row; later ones in the batch are duplicates of it.
    let mut seen: HashMap<(i64, &str), i64> = HashMap::new();
    Ok(batch
        .iter()
        .map(|(s, _)| {
            let key = (s.strategy_id, s.dedupe_key.as_str());
            if let Some(id) = inserted.remove(&key) {
                seen.insert(key, id);
                return Stored::Accepted(id);
            }
            let id = seen
                .get(&key)
                .copied()
                .or_else(|| earlier.get(&(s.strategy_id, s.dedupe_key.clone())).copied())
                .unwrap_or_default();
            Stored::Duplicate(id)
        })
        .collect())
}
