//! Stops the engine emulates: held at the engine (status `held`) until a trade reaches their
//! trigger, then sent to the venue as the market or limit order they become.
//!
//! A stop is held when its venue does not take its type (`Venue::supports`) or the trader asked
//! for it (`emulate`). The trigger is the domain's [`StopTrigger`], the very rule the paper
//! venue and the backtester apply, so an emulated stop triggers on the trade a simulated one
//! would.
//!
//! Nothing about a held stop lives only in one process:
//! - Every engine runs a watcher over every held stop, read from the database every
//!   [`RELOAD_EVERY`] (and at once when this process writes one). When the engine that placed a
//!   stop is killed, the others are already watching it.
//! - A trailing stop's best price is stored as it moves (`trigger_reference`, only ever
//!   improved), so a restarted or another engine trails on from it rather than from scratch.
//! - Triggering is one transaction on the locked order row: `held` → `pending_new`, owned by
//!   the triggering engine. Two engines that see the same trade race for the row; the second
//!   finds it no longer held and does nothing, so a stop is sent once. From `pending_new` on,
//!   the order is an ordinary order: a crash before it reaches the venue is recovered like any
//!   write-ahead order (its client order id prevents a duplicate).
//! - A blocking halt (not a reduce-only one) cancels a held stop that triggers under it instead
//!   of sending it.
//!
//! A held stop sees only the trades that reach an engine: one that triggers while no engine
//! runs triggers on the first trade after one starts.

use std::collections::HashMap;
use std::time::Duration;

use domain::trigger::StopTrigger;
use domain::{InstrumentId, OrderEvent, OrderStatus, OrderType, Price, Side, Tick};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{lock_order, record_event, Oms, OmsError, OrderRow, ORDER_COLUMNS};
use crate::convert::{self, ToDecimal};

/// How often every engine re-reads the held stops: new ones, and ones another engine triggered
/// or a trader cancelled.
pub const RELOAD_EVERY: Duration = Duration::from_millis(500);
/// The price step trailing percentages round to (as on the paper venue).
const TICK: Price = Price::from_raw(1_000_000);

/// A held stop as the watcher tracks it.
struct Held {
    order_id: i64,
    side: Side,
    order_type: OrderType,
    trigger: StopTrigger,
    /// The trailing reference last stored.
    stored_reference: Option<Price>,
}

/// Watches the held stops until `stop`: triggers them on the trades of their symbols.
pub async fn run(oms: Oms, stop: CancellationToken) {
    let mut ticks = oms.market().subscribe();
    let mut held: HashMap<InstrumentId, Vec<Held>> = HashMap::new();
    let mut reload = tokio::time::interval(RELOAD_EVERY);
    reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let written = oms.held_changed.clone();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = reload.tick() => refresh(&oms, &mut held).await,
            () = written.notified() => refresh(&oms, &mut held).await,
            tick = ticks.recv() => match tick {
                Ok(tick) => on_trade(&oms, &mut held, &tick.tick).await,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "the stop trigger watcher lagged behind the feed");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// The better trailing reference of two: a sell trails the highest price, a buy the lowest.
fn better(side: Side, a: Option<Price>, b: Option<Price>) -> Option<Price> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if side == Side::Sell { a.max(b) } else { a.min(b) }),
        (a, b) => a.or(b),
    }
}

async fn refresh(oms: &Oms, held: &mut HashMap<InstrumentId, Vec<Held>>) {
    let rows: Vec<OrderRow> = match sqlx::query_as(&format!(
        "select {ORDER_COLUMNS} from \"order\"
              where status = 'held' and (parent_order_id is null or activated_at is not null) order by order_id"
    ))
    .fetch_all(oms.pool())
    .await
    {
        Ok(rows) => rows,
        Err(e) => return tracing::warn!(error = %e, "held stops not re-read"),
    };
    let mut next: HashMap<InstrumentId, Vec<Held>> = HashMap::new();
    for row in rows {
        let instrument = oms.market().instruments.id(&row.symbol);
        let intent = match row.open_intent(instrument) {
            Ok(intent) => intent,
            Err(e) => {
                tracing::error!(order_id = row.order_id, error = %e, "held stop cannot be watched");
                continue;
            }
        };
        let stored = row.trigger_reference.and_then(|r| convert::price(r).ok());
        // What this process saw since the last read (a better reference) is kept.
        let seen = held
            .get(&instrument)
            .and_then(|list| list.iter().find(|h| h.order_id == row.order_id))
            .and_then(|h| h.trigger.reference);
        next.entry(instrument).or_default().push(Held {
            order_id: row.order_id,
            side: intent.side,
            order_type: intent.order_type,
            trigger: StopTrigger { triggered: false, reference: better(intent.side, seen, stored) },
            stored_reference: stored,
        });
    }
    *held = next;
}

async fn on_trade(oms: &Oms, held: &mut HashMap<InstrumentId, Vec<Held>>, tick: &Tick) {
    let Some(list) = held.get_mut(&tick.instrument) else { return };
    let mut fired = Vec::new();
    for stop in list.iter_mut() {
        if stop.trigger.on_trade(stop.side, stop.order_type, tick.price, TICK) {
            fired.push(stop.order_id);
        } else if let Some(reference) = stop.trigger.reference.filter(|r| Some(*r) != stop.stored_reference) {
            match store_reference(oms, stop.order_id, reference).await {
                Ok(()) => stop.stored_reference = Some(reference),
                Err(e) => tracing::warn!(order_id = stop.order_id, error = %e, "trailing reference not stored"),
            }
        }
    }
    list.retain(|stop| !fired.contains(&stop.order_id));
    for order_id in fired {
        if let Err(e) = oms.trigger(order_id, tick.price).await {
            tracing::warn!(order_id, error = %e, "held stop not triggered; the next read retries it");
        }
    }
}

/// Stores a held trailing stop's reference if it improves on the stored one (another engine may
/// have stored a better one from the same trades).
async fn store_reference(oms: &Oms, order_id: i64, reference: Price) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update \"order\" set trigger_reference = case
                 when trigger_reference is null then $2
                 when side = 'sell' then greatest(trigger_reference, $2)
                 else least(trigger_reference, $2) end
          where order_id = $1 and status = 'held'",
    )
    .bind(order_id)
    .bind(reference.dec())
    .execute(oms.pool())
    .await?;
    Ok(())
}

impl Oms {
    /// A trade at `price` reached the trigger of the held stop `order_id`: the order becomes
    /// `pending_new`, owned by this process, and goes to the venue (or is cancelled under a
    /// blocking halt). `Ok(None)` when it is no longer held (another engine triggered it, or it
    /// was cancelled).
    ///
    /// # Errors
    /// [`OmsError`] on a database failure; the order stays held then.
    pub async fn trigger(&self, order_id: i64, price: Price) -> Result<Option<OrderRow>, OmsError> {
        let mut tx = self.pool.begin().await?;
        let row = lock_order(&mut tx, order_id).await?;
        if row.status != OrderStatus::Held.code() {
            tx.rollback().await?;
            return Ok(None);
        }
        let blocked = super::risk::halt_mode(&mut tx, &row.account, &row.strategy).await? == Some(false);
        let event = if blocked { OrderEvent::Cancelled } else { OrderEvent::Triggered };
        let mut state = row.state()?;
        let next = state
            .apply(event)
            .map_err(|e| OmsError::Corrupt(format!("held order {order_id} cannot be triggered: {e}")))?;
        let updated: OrderRow = sqlx::query_as(&format!(
            "update \"order\" set status = $2, instance_id = $3, owner_epoch = $4, updated_at = now(),
                    triggered_at = now(), reject_reason = $5
              where order_id = $1 returning {ORDER_COLUMNS}"
        ))
        .bind(order_id)
        .bind(next.code())
        .bind(&*self.instance_id)
        .bind(self.epoch())
        .bind(blocked.then_some("halted"))
        .fetch_one(&mut *tx)
        .await?;
        let detail = serde_json::json!({"price": price.dec(), "by": &*self.instance_id, "halted": blocked});
        record_event(&mut tx, &row, event.code(), Some(&row.status), next.code(), Some(detail)).await?;
        let settled = self.settle_contingent(&mut tx, &row, next, state.filled, false).await?;
        tx.commit().await?;
        self.after_settled(settled).await;
        crate::metrics::order_state(&updated.status);
        if blocked {
            tracing::info!(order_id, "held stop triggered under a halt; cancelled");
        } else {
            tracing::info!(order_id, %price, "held stop triggered; sending");
            self.dispatch(&updated).await;
        }
        Ok(Some(updated))
    }
}
