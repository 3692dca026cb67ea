//! Turns stored signals into orders. Signals are claimed in batches with `FOR UPDATE SKIP
//! LOCKED` (so any number of engine instances share the work) and a batch is processed in one
//! transaction: for each signal in order, the strategy's `on_signal` decides, the orders are
//! written (client order id `sig-<signal_id>-<n>`, so a retry after a crash writes nothing new),
//! and the signal is marked processed. Orders go to the venue only after the commit.
//!
//! One commit per batch instead of per signal is what lets processing keep up with the webhook:
//! a signal that produces no order costs no query of its own. A batch that fails is retried one
//! signal at a time, so one signal the database refuses cannot hold back the others.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use domain::{ExternalSignal, Qty, SignalAction, StrategyContext};
use rust_decimal::Decimal;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    convert,
    oms::{NewOrder, Oms, WriteOutcome},
    strategies::{self, StrategyRow},
};

/// Most signals claimed in one transaction.
pub const BATCH: i64 = 128;

/// How long the worker lets new signals gather after it drained the queue. Bounds what it
/// adds to a signal's way to its order.
pub const GATHER: Duration = Duration::from_millis(5);

/// A batch stops taking further claimed signals after this long (the rest stay pending for the
/// next one): the transaction holds the kill switch's share lock, and a halt waits for it.
pub const BATCH_TIME: Duration = Duration::from_millis(200);

/// Processes signals until `stop`: at once when `stored` is notified, else every `poll`.
pub async fn run(oms: Oms, stored: Arc<Notify>, poll: Duration, stop: CancellationToken) {
    let mut limit = BATCH;
    loop {
        loop {
            if stop.is_cancelled() {
                return;
            }
            match process_batch(&oms, limit).await {
                Ok(0) => break,
                Ok(n) => {
                    // A batch that was not full means the queue is drained: let the next
                    // signals gather for a moment instead of committing each alone, so a busy
                    // webhook is followed with a few large transactions rather than many small.
                    if (n as i64) < limit {
                        tokio::time::sleep(GATHER).await;
                    }
                    limit = BATCH;
                }
                Err(e) => {
                    tracing::warn!(error = %e, batch = limit, "signal processing failed; will retry one at a time");
                    limit = 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    break;
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = stored.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// A claimed signal: id, strategy id, account, strategy, ticker, action, quantity, price,
/// received, and whether its time-to-live had run out when it was claimed.
type Claimed = (i64, i64, String, String, String, String, Option<Decimal>, Option<Decimal>, DateTime<Utc>, bool);

/// What processing one signal decided.
struct Decision {
    status: &'static str,
    note: String,
    outcomes: Vec<WriteOutcome>,
}

impl Decision {
    fn failed(note: String) -> Self {
        Self { status: "failed", note, outcomes: Vec::new() }
    }
}

/// Claims up to `limit` of the oldest pending signals and processes them in one transaction;
/// returns how many were processed (0 when none was pending).
pub async fn process_batch(oms: &Oms, limit: i64) -> anyhow::Result<usize> {
    let started = Instant::now();
    let mut tx = oms.pool().begin().await?;
    // The signal table is a queue that grows from nothing: a generic plan cached while it was
    // small joins the batch's update by scanning the whole table, and keeps doing so as it
    // grows. Custom plans are made with the table's size at the time.
    sqlx::query("set local plan_cache_mode = force_custom_plan").execute(&mut *tx).await?;
    let claimed: Vec<Claimed> = sqlx::query_as(
        "select signal_id, strategy_id, account, strategy, ticker, action, quantity, price, received_at,
                coalesce(expires_at <= now(), false)
           from signal where status = 'pending' order by signal_id limit $1 for update skip locked",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let mut definitions: HashMap<i64, Option<StrategyRow>> = HashMap::new();
    // Position and working quantity per (account, strategy, symbol), read once per batch and
    // read again after an order was written for it.
    let mut exposures: HashMap<(String, String, String), (Qty, Qty)> = HashMap::new();
    let mut decided = Vec::with_capacity(claimed.len());
    for signal in claimed {
        if !decided.is_empty() && started.elapsed() > BATCH_TIME {
            break;
        }
        let (signal_id, strategy_id, ..) = signal;
        if signal.9 {
            // Queued past its time-to-live (e.g. every engine was down): the moment it was
            // sent for is gone, so it must not trade now.
            let note = format!("expired: received {}, queued past its time-to-live", signal.8.to_rfc3339());
            decided.push((signal_id, Decision::failed(note)));
            continue;
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = definitions.entry(strategy_id) {
            slot.insert(strategies::by_id(oms.pool(), strategy_id).await?);
        }
        let decision = match &definitions[&strategy_id] {
            None => Decision::failed("strategy no longer exists".into()),
            Some(definition) => decide(oms, &mut tx, definition, &signal, &mut exposures).await?,
        };
        decided.push((signal_id, decision));
    }
    if decided.is_empty() {
        return Ok(0);
    }
    let (ids, statuses, notes): (Vec<i64>, Vec<&str>, Vec<&str>) =
        decided.iter().map(|(id, d)| (*id, d.status, d.note.as_str())).collect();
    sqlx::query(
        "update signal set status = u.status, note = u.note, processed_at = now()
           from unnest($1::bigint[], $2::text[], $3::text[]) as u(id, status, note)
          where signal.signal_id = u.id",
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(&notes)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    for (signal_id, decision) in &decided {
        tracing::info!(signal_id, status = decision.status, note = %decision.note, "signal processed");
        for outcome in &decision.outcomes {
            if let WriteOutcome::Created(_) = outcome {
                oms.after_commit(outcome).await;
            }
        }
    }
    Ok(decided.len())
}

/// Runs the strategy on one signal and writes the orders it asks for, inside `tx`. A signal the
/// strategy cannot take (its parameters or numbers do not fit) is `failed` with the reason;
/// only database errors abort the batch.
async fn decide(
    oms: &Oms,
    tx: &mut sqlx::PgConnection,
    definition: &StrategyRow,
    signal: &Claimed,
    exposures: &mut HashMap<(String, String, String), (Qty, Qty)>,
) -> anyhow::Result<Decision> {
    let (signal_id, _, account, strategy_name, ticker, action, quantity, price, received_at, _) = signal;
    let mut strategy = match strategies::build(&definition.kind, &definition.params, &oms.market().instruments, ticker)
    {
        Ok(strategy) => strategy,
        Err(e) => return Ok(Decision::failed(format!("strategy cannot be built: {e}"))),
    };
    let (qty, price) = match (quantity.map(convert::qty).transpose(), price.map(convert::price).transpose()) {
        (Ok(qty), Ok(price)) => (qty, price),
        (Err(e), _) | (_, Err(e)) => return Ok(Decision::failed(format!("the signal's numbers do not fit: {e}"))),
    };
    let key = (account.clone(), strategy_name.clone(), ticker.clone());
    let (position, working) = match exposures.get(&key) {
        Some(exposure) => *exposure,
        None => {
            let exposure = crate::runner::strategy_exposure(tx, account, strategy_name, ticker).await?;
            exposures.insert(key.clone(), exposure);
            exposure
        }
    };
    let ts = domain::Timestamp::from_nanos(received_at.timestamp_nanos_opt().unwrap_or_default());
    let external = ExternalSignal {
        instrument: oms.market().instruments.id(ticker),
        action: match action.as_str() {
            "buy" => SignalAction::Buy,
            "sell" => SignalAction::Sell,
            _ => SignalAction::Exit,
        },
        qty,
        price,
        ts,
    };
    let ctx = StrategyContext { now: ts, position, working };
    let mut intents = Vec::new();
    strategy.on_signal(&ctx, &external, &mut intents);
    if intents.is_empty() {
        return Ok(Decision {
            status: "ignored",
            note: format!("{} produced no order (position {position})", definition.kind),
            outcomes: Vec::new(),
        });
    }
    let mut outcomes = Vec::with_capacity(intents.len());
    for (n, intent) in intents.iter().enumerate() {
        let order = NewOrder {
            account: account.clone(),
            strategy: strategy_name.clone(),
            client_order_id: format!("sig-{signal_id}-{n}"),
            symbol: ticker.clone(),
            side: intent.side,
            qty: intent.qty,
            order_type: intent.order_type,
            time_in_force: intent.time_in_force,
            reduce_only: intent.reduce_only,
            signal_id: Some(*signal_id),
            lease: None,
            bypass_halt: false,
            emulate: false,
            bracket: intent.bracket,
        };
        outcomes.push(oms.write(tx, &order).await?);
    }
    exposures.remove(&key);
    let ids: Vec<String> = outcomes.iter().map(|o| format!("{} {}", o.order().order_id, o.order().status)).collect();
    Ok(Decision { status: "processed", note: format!("orders: {}", ids.join(", ")), outcomes })
}
