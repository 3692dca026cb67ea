//! Busts and corrections: a venue breaks an execution after the fact, or corrects its quantity
//! or price. Booked history is never edited. A bust books a reversing row (`kind = 'bust'`: the
//! opposite side, the same quantity and price, the fee refunded) naming the execution it
//! reverses; a correction books that reversal plus the corrected execution (`kind =
//! 'correction'`) in the replaced one's place. The position is rebuilt by replaying the
//! executions still standing, and each new row carries the realized P&L difference it makes, so
//! sums over `fill` (signed quantity, fees, realized P&L) keep equalling the position. Both new
//! rows are dated when they are booked, so a day's report counts an execution, its reversal
//! and its correction each on the day it was booked.
//!
//! Which booked execution the venue means is decided from what it reports: a bust names the
//! execution's quantity and price, a correction the order's totals after it. A bust or
//! correction that matches no booked execution is refused (logged, nothing booked): the
//! position check of reconciliation then finds the difference and halts the account.

use domain::{position::Position, Fill, OrderEvent, Price, Qty, Side};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::{lock_position, record_event, store_position, Oms, OmsError, OrderRow};
use crate::{
    convert::{self, ToDecimal},
    venue::{VenueEvent, VenueEventKind},
};

/// How close the order's average price after a correction must come to the venue's to name
/// the corrected execution (venues round averages; executions differ by far more).
const AVERAGE_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 4);

/// A booked execution still standing (not reversed).
#[derive(Debug, Clone, sqlx::FromRow)]
struct Standing {
    fill_id: i64,
    order_id: i64,
    exec_id: String,
    side: String,
    qty: Decimal,
    price: Decimal,
    fee: Decimal,
    ts: chrono::DateTime<chrono::Utc>,
    replay_seq: Option<i64>,
}

impl Standing {
    fn fill(&self, instrument: domain::InstrumentId) -> Result<Fill, OmsError> {
        Ok(Fill {
            instrument,
            side: if self.side == "buy" { Side::Buy } else { Side::Sell },
            qty: convert::qty(self.qty)?,
            price: convert::price(self.price)?,
            fee: convert::money(self.fee)?,
            ts: domain::Timestamp::from_nanos(self.ts.timestamp_nanos_opt().unwrap_or_default()),
        })
    }
}

/// The executions of (account, strategy, symbol), or of one order, that stand: neither a
/// reversing row nor reversed by one, in replay order.
const STANDING: &str = "select fill_id, order_id, exec_id, side, qty, price, fee, ts, replay_seq from fill f
      where f.kind <> 'bust' and not exists (select 1 from fill b where b.reverses = f.fill_id)";

impl Oms {
    /// Applies a bust or correction to `row`, locked in `tx`, (see the module docs).
    pub(super) async fn restate(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        row: OrderRow,
        event: &VenueEvent,
    ) -> Result<(), OmsError> {
        let booked_filled = convert::qty(row.filled_qty)?;
        let order_execs: Vec<Standing> =
            sqlx::query_as(&format!("{STANDING} and f.order_id = $1 order by f.fill_id desc"))
                .bind(row.order_id)
                .fetch_all(&mut *tx)
                .await?;
        let (target, corrected, domain_event) = match &event.kind {
            VenueEventKind::Bust { qty, price, order_filled, working } => {
                if booked_filled == *order_filled {
                    // Booked already (a replayed bust): the order's fills equal the venue's.
                    tx.rollback().await?;
                    return Ok(());
                }
                let target = order_execs
                    .iter()
                    .find(|e| {
                        e.qty == qty.dec()
                            && e.price == price.dec()
                            && booked_filled.checked_sub(*qty) == Some(*order_filled)
                    })
                    .ok_or_else(|| {
                        unmatched(
                            &row,
                            format!("a bust of {} at {} matches no booked execution", qty.dec(), price.dec()),
                        )
                    })?;
                (target.clone(), None, OrderEvent::Bust { qty: *qty, working: *working })
            }
            VenueEventKind::Correct { qty, price, order_filled, order_avg_price } => {
                let notional: Decimal = order_execs.iter().map(|e| e.qty * e.price).sum();
                let average = |filled: Decimal, notional: Decimal| {
                    if filled.is_zero() {
                        Decimal::ZERO
                    } else {
                        notional / filled
                    }
                };
                let venue_avg = order_avg_price.dec();
                if booked_filled == *order_filled
                    && (average(booked_filled.dec(), notional) - venue_avg).abs() <= AVERAGE_TOLERANCE
                {
                    // Booked already: nothing the venue reports differs.
                    tx.rollback().await?;
                    return Ok(());
                }
                let replaced = |e: &Standing| {
                    let filled = booked_filled.dec() - e.qty + qty.dec();
                    let gap = (average(filled, notional - e.qty * e.price + qty.dec() * price.dec()) - venue_avg).abs();
                    (filled == order_filled.dec()).then_some(gap)
                };
                let target = order_execs
                    .iter()
                    .filter_map(|e| replaced(e).map(|gap| (gap, e)))
                    .filter(|(gap, _)| *gap <= AVERAGE_TOLERANCE)
                    .min_by_key(|(gap, _)| *gap)
                    .map(|(_, e)| e)
                    .ok_or_else(|| {
                        unmatched(
                            &row,
                            format!(
                                "a correction to {} at {} (order filled {} at {}) matches no booked execution",
                                qty.dec(),
                                price.dec(),
                                order_filled.dec(),
                                venue_avg
                            ),
                        )
                    })?;
                let from = convert::qty(target.qty)?;
                (target.clone(), Some((*qty, *price)), OrderEvent::Correct { from, to: *qty })
            }
            _ => return Err(OmsError::Invalid("not a bust or correction".into())),
        };
        let mut state = row.state()?;
        let from_status = state.status;
        let next = state.apply(domain_event)?;

        let (reversing, standing_after) = self.rebook_position(&mut tx, &row, &target, corrected).await?;
        let standing_notional: Decimal = standing_after.iter().map(|(q, p)| q * p).sum();
        let standing_qty: Decimal = standing_after.iter().map(|(q, _)| q).sum();
        let avg_price = (!standing_qty.is_zero()).then(|| (standing_notional / standing_qty).round_dp(8));
        sqlx::query(
            "update \"order\" set status = $2, filled_qty = $3, avg_fill_price = $4, updated_at = now()
              where order_id = $1",
        )
        .bind(row.order_id)
        .bind(next.code())
        .bind(state.filled.dec())
        .bind(avg_price)
        .execute(&mut *tx)
        .await?;
        let mut detail = serde_json::json!({
            "exec_id": target.exec_id,
            "qty": target.qty.normalize(),
            "price": target.price.normalize(),
            "reversed_fill_id": target.fill_id,
            "reversing_fill_id": reversing.0,
            "realized_pnl_change": reversing.1.normalize(),
            "reconciliation": true,
        });
        if let Some((qty, price)) = corrected {
            detail["corrected_qty"] = serde_json::json!(qty.dec().normalize());
            detail["corrected_price"] = serde_json::json!(price.dec().normalize());
        }
        record_event(&mut tx, &row, domain_event.code(), Some(from_status.code()), next.code(), Some(detail.clone()))
            .await?;
        let actor = format!("venue:{}", row.venue);
        crate::audit::record(&mut tx, &actor, domain_event.code(), &format!("order/{}", row.order_id), detail).await?;
        tx.commit().await?;
        if next != from_status {
            crate::metrics::order_state(next.code());
        }
        tracing::warn!(
            order_id = row.order_id,
            account = %row.account,
            exec_id = %target.exec_id,
            event = domain_event.code(),
            status = next.code(),
            "venue restated an execution; booked as a reversing entry"
        );
        Ok(())
    }

    /// Books the reversal of `target` (and the `corrected` execution in its place) and rebuilds
    /// the position from what stands. Returns the reversing row's id and the realized P&L the
    /// restatement changed, and the order's standing executions (quantity, price) after it.
    async fn rebook_position(
        &self,
        tx: &mut PgConnection,
        row: &OrderRow,
        target: &Standing,
        corrected: Option<(Qty, Price)>,
    ) -> Result<((i64, Decimal), Vec<(Decimal, Decimal)>), OmsError> {
        let instrument = self.market.instruments.id(&row.symbol);
        let booked_realized = lock_position(tx, row, instrument).await?.realized_pnl().dec();
        let standing: Vec<Standing> = sqlx::query_as(&format!(
            "{STANDING} and f.account = $1 and f.strategy = $2 and f.symbol = $3
              order by coalesce(f.replay_seq, f.fill_id), f.fill_id"
        ))
        .bind(&row.account)
        .bind(&row.strategy)
        .bind(&row.symbol)
        .fetch_all(&mut *tx)
        .await?;
        let without: Vec<Fill> = standing
            .iter()
            .filter(|e| e.fill_id != target.fill_id)
            .map(|e| e.fill(instrument))
            .collect::<Result<_, _>>()?;
        let corrupt = |e: domain::position::AccountingOverflow| OmsError::Corrupt(e.to_string());
        let after_bust = Position::replay(instrument, &without).map_err(corrupt)?;
        let target_fill = target.fill(instrument)?;
        let corrected_fill = corrected.map(|(qty, price)| Fill { qty, price, ..target_fill });
        let after = match corrected_fill {
            Some(corrected) => {
                let mut replayed = Vec::with_capacity(standing.len());
                for (execution, fill) in standing.iter().zip(standing.iter().map(|e| e.fill(instrument))) {
                    replayed.push(if execution.fill_id == target.fill_id { corrected } else { fill? });
                }
                Position::replay(instrument, &replayed).map_err(corrupt)?
            }
            None => after_bust,
        };
        let bust_realized = after_bust.realized_pnl().dec() - booked_realized;
        let opposite = if target.side == "buy" { "sell" } else { "buy" };
        let note = if corrected.is_some() { "reversed by a correction" } else { "busted by the venue" };
        let reversing: i64 = sqlx::query_scalar(
            "insert into fill (order_id, account, strategy, symbol, side, qty, price, fee, realized_pnl, venue, exec_id,
                               ts, kind, reverses, note)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), 'bust', $12, $13) returning fill_id",
        )
        .bind(row.order_id)
        .bind(&row.account)
        .bind(&row.strategy)
        .bind(&row.symbol)
        .bind(opposite)
        .bind(target.qty)
        .bind(target.price)
        .bind(-target.fee)
        .bind(bust_realized)
        .bind(&row.venue)
        .bind(format!("bust:{}", target.exec_id))
        .bind(target.fill_id)
        .bind(note)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(corrected) = corrected_fill {
            sqlx::query(
                "insert into fill (order_id, account, strategy, symbol, side, qty, price, fee, realized_pnl, venue,
                                   exec_id, ts, kind, replay_seq, note)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), 'correction', $12, $13)",
            )
            .bind(row.order_id)
            .bind(&row.account)
            .bind(&row.strategy)
            .bind(&row.symbol)
            .bind(&target.side)
            .bind(corrected.qty.dec())
            .bind(corrected.price.dec())
            .bind(target.fee)
            .bind(after.realized_pnl().dec() - after_bust.realized_pnl().dec())
            .bind(&row.venue)
            .bind(format!("correction:{}", target.exec_id))
            .bind(target.replay_seq.unwrap_or(target.fill_id))
            .bind(format!("corrects fill {}", target.fill_id))
            .execute(&mut *tx)
            .await?;
        }
        store_position(tx, row, &after).await?;
        let mut order_standing: Vec<(Decimal, Decimal)> = standing
            .iter()
            .filter(|e| e.fill_id != target.fill_id && e.order_id == row.order_id)
            .map(|e| (e.qty, e.price))
            .collect();
        if let Some(corrected) = corrected_fill {
            order_standing.push((corrected.qty.dec(), corrected.price.dec()));
        }
        Ok(((reversing, after.realized_pnl().dec() - booked_realized), order_standing))
    }
}

fn unmatched(row: &OrderRow, what: String) -> OmsError {
    tracing::error!(order_id = row.order_id, account = %row.account, %what, "venue restatement not booked");
    OmsError::Invalid(format!("order {}: {what}", row.order_id))
}
