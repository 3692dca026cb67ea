//! Bracket orders: an entry with a take-profit limit and a stop-loss stop that close what it
//! fills, managed by the engine on every venue.
//!
//! - The legs are written with the entry, in its transaction: status `held`, `parent_order_id`
//!   the entry, `oco_group` the entry's id, reduce-only, on the other side, for the entry's
//!   quantity. A held leg waiting for its entry is neither at the venue nor watched as a stop.
//! - When the entry ends (filled, or cancelled or expired after part of it filled), in the
//!   transaction that records it, each leg is released for what the entry filled: `pending_new`
//!   and sent after the commit, or, for a stop the venue does not take, `held` for the trigger
//!   watcher. An entry that ends with nothing filled cancels its legs.
//! - When a leg fills, even in part, the other legs of its group are cancelled (one cancels the
//!   other), after the commit.
//!
//! Everything is in the database before anything is sent, so a crash between the entry's fill
//! and the legs reaching the venue leaves them `pending_new`, and they are sent by the next
//! owner like any order written ahead. Alpaca's own bracket orders are not used: their legs would
//! carry Alpaca's ids, not the engine's.

use domain::{Bracket, OrderStatus, Qty};
use sqlx::PgConnection;

use super::{record_event, side_code, NewOrder, Oms, OmsError, OrderRow, ORDER_COLUMNS, WORKING_STATUSES};
use crate::convert::ToDecimal;

/// What a transition of an order means for its contingent orders, to act on after the commit.
#[derive(Debug, Default)]
pub(super) struct Settled {
    /// Legs released to go to the venue now.
    pub(super) to_send: Vec<OrderRow>,
    /// Legs released to the trigger watcher.
    pub(super) to_watch: bool,
    /// Orders of the same one-cancels-other group to cancel.
    pub(super) to_cancel: Vec<i64>,
}

impl Oms {
    /// Writes the legs of `entry`'s bracket, held until it is done (inside the entry's
    /// transaction).
    pub(super) async fn write_bracket(
        &self,
        tx: &mut PgConnection,
        entry: &OrderRow,
        order: &NewOrder,
        bracket: Bracket,
    ) -> Result<(), OmsError> {
        let instrument = self.market.instruments.id(&order.symbol);
        for intent in bracket.legs(instrument, order.side, order.qty) {
            let order_type = intent.order_type;
            let (leg, suffix) = if order_type.is_stop() { ("stop_loss", "sl") } else { ("take_profit", "tp") };
            let row: OrderRow = sqlx::query_as(&format!(
                "insert into \"order\" (account, strategy, client_order_id, symbol, side, order_type, limit_price,
                    stop_price, time_in_force, qty, status, venue, instance_id, owner_epoch, signal_id, reduce_only,
                    parent_order_id, oco_group)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, 'gtc', $9, 'held', $10, $11, $12, $13, true, $14, $14)
                 returning {ORDER_COLUMNS}"
            ))
            .bind(&order.account)
            .bind(&order.strategy)
            .bind(format!("{}-{suffix}", order.client_order_id))
            .bind(&order.symbol)
            .bind(side_code(intent.side))
            .bind(order_type.code())
            .bind(order_type.limit_price().map(ToDecimal::dec))
            .bind(order_type.stop_price().map(ToDecimal::dec))
            .bind(order.qty.dec())
            .bind(&entry.venue)
            .bind(&*self.instance_id)
            .bind(self.epoch())
            .bind(order.signal_id)
            .bind(entry.order_id)
            .fetch_one(&mut *tx)
            .await?;
            let detail = serde_json::json!({"entry": entry.order_id, "leg": leg});
            record_event(tx, &row, "created", None, OrderStatus::Held.code(), Some(detail)).await?;
        }
        Ok(())
    }

    /// Settles `row`'s contingent orders for its move to `next` with `filled` filled (inside the
    /// transaction that records the move); `filled_now` when the move was a fill.
    pub(super) async fn settle_contingent(
        &self,
        tx: &mut PgConnection,
        row: &OrderRow,
        next: OrderStatus,
        filled: Qty,
        filled_now: bool,
    ) -> Result<Settled, OmsError> {
        let mut settled = Settled::default();
        if filled_now {
            if let Some(group) = row.oco_group {
                settled.to_cancel = sqlx::query_scalar(
                    "select order_id from \"order\" where oco_group = $1 and order_id <> $2 and status = any($3)
                      order by order_id",
                )
                .bind(group)
                .bind(row.order_id)
                .bind(&WORKING_STATUSES[..])
                .fetch_all(&mut *tx)
                .await?;
            }
        }
        if !next.is_terminal() {
            return Ok(settled);
        }
        let legs: Vec<OrderRow> = sqlx::query_as(&format!(
            "select {ORDER_COLUMNS} from \"order\"
              where parent_order_id = $1 and status = 'held' and activated_at is null order by order_id for update"
        ))
        .bind(row.order_id)
        .fetch_all(&mut *tx)
        .await?;
        let venue = self.venues.named(&row.venue);
        for leg in legs {
            let (status, qty) = if filled.is_positive() {
                let order_type = leg.order_type()?;
                let held = order_type.is_stop() && !venue.is_some_and(|v| v.supports(order_type, &leg.symbol));
                let status = if held { OrderStatus::Held } else { OrderStatus::PendingNew };
                (status, crate::convert::qty(leg.qty)?.min(filled))
            } else {
                (OrderStatus::Cancelled, crate::convert::qty(leg.qty)?)
            };
            let released: OrderRow = sqlx::query_as(&format!(
                "update \"order\" set status = $2, qty = $3, activated_at = now(), emulated = $4,
                        instance_id = $5, owner_epoch = $6, updated_at = now()
                  where order_id = $1 returning {ORDER_COLUMNS}"
            ))
            .bind(leg.order_id)
            .bind(status.code())
            .bind(qty.dec())
            .bind(status == OrderStatus::Held)
            .bind(&*self.instance_id)
            .bind(self.epoch())
            .fetch_one(&mut *tx)
            .await?;
            let (event, detail) = if status == OrderStatus::Cancelled {
                (
                    "cancelled",
                    serde_json::json!({"entry": row.order_id, "reason": "the entry ended with nothing filled"}),
                )
            } else {
                ("activated", serde_json::json!({"entry": row.order_id, "qty": qty.dec().normalize()}))
            };
            record_event(tx, &leg, event, Some(&leg.status), status.code(), Some(detail)).await?;
            match status {
                OrderStatus::PendingNew => settled.to_send.push(released),
                OrderStatus::Held => settled.to_watch = true,
                _ => {}
            }
        }
        Ok(settled)
    }

    /// Carries out what a committed transition settled: sends released legs, wakes the trigger
    /// watcher, cancels the other legs of a filled one.
    pub(super) async fn after_settled(&self, settled: Settled) {
        for leg in &settled.to_send {
            crate::metrics::order_state(&leg.status);
            self.dispatch(leg).await;
        }
        if settled.to_watch {
            self.held_changed.notify_one();
        }
        for order_id in settled.to_cancel {
            match Box::pin(self.cancel(order_id, "one-cancels-other")).await {
                Ok(_) | Err(OmsError::NotCancellable(..)) => {}
                Err(e) => tracing::warn!(order_id, error = %e, "the other leg was not cancelled; retry by hand"),
            }
        }
    }
}
