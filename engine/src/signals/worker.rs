//! Turns stored signals into orders. Each signal is claimed with `FOR UPDATE SKIP LOCKED` and
//! processed in one transaction: the strategy's `on_signal` decides, the orders are written
//! (client order id `sig-<signal_id>-<n>`, so a retry after a crash writes nothing new), and the
//! signal is marked processed. Orders go to the venue only after the commit.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use domain::{ExternalSignal, SignalAction, StrategyContext};
use rust_decimal::Decimal;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    convert,
    oms::{NewOrder, Oms, WriteOutcome},
    strategies,
};

/// Processes signals until `stop`: at once when `stored` is notified, else every `poll`.
pub async fn run(oms: Oms, stored: Arc<Notify>, poll: Duration, stop: CancellationToken) {
    loop {
        loop {
            if stop.is_cancelled() {
                return;
            }
            match process_one(&oms).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "signal processing failed; will retry");
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

type Claimed = (i64, i64, String, String, String, String, Option<Decimal>, Option<Decimal>, DateTime<Utc>);

/// Claims and processes the oldest pending signal; `false` when there is none.
pub async fn process_one(oms: &Oms) -> anyhow::Result<bool> {
    let mut tx = oms.pool().begin().await?;
    let claimed: Option<Claimed> = sqlx::query_as(
        "select signal_id, strategy_id, account, strategy, ticker, action, quantity, price, received_at
           from signal where status = 'pending' order by signal_id limit 1 for update skip locked",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some((signal_id, strategy_id, account, strategy_name, ticker, action, quantity, price, received_at)) = claimed
    else {
        return Ok(false);
    };
    let finish = |status: &'static str, note: String| (status, note);
    let (status, note, outcomes) = match strategies::by_id(oms.pool(), strategy_id).await? {
        None => {
            let (s, n) = finish("failed", "strategy no longer exists".into());
            (s, n, Vec::new())
        }
        Some(def) => match strategies::build(&def.kind, &def.params, &oms.market().instruments, &ticker) {
            Err(e) => {
                let (s, n) = finish("failed", format!("strategy cannot be built: {e}"));
                (s, n, Vec::new())
            }
            Ok(mut strategy) => {
                let instrument = oms.market().instruments.id(&ticker);
                let (position, working) =
                    crate::runner::strategy_exposure(&mut tx, &account, &strategy_name, &ticker).await?;
                let ts = domain::Timestamp::from_nanos(received_at.timestamp_nanos_opt().unwrap_or_default());
                let signal = ExternalSignal {
                    instrument,
                    action: match action.as_str() {
                        "buy" => SignalAction::Buy,
                        "sell" => SignalAction::Sell,
                        _ => SignalAction::Exit,
                    },
                    qty: quantity.map(convert::qty).transpose()?,
                    price: price.map(convert::price).transpose()?,
                    ts,
                };
                let ctx = StrategyContext { now: ts, position, working };
                let mut intents = Vec::new();
                strategy.on_signal(&ctx, &signal, &mut intents);
                let mut outcomes = Vec::new();
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
                        signal_id: Some(signal_id),
                        lease: None,
                        bypass_halt: false,
                    };
                    outcomes.push(oms.write(&mut tx, &order).await?);
                }
                if outcomes.is_empty() {
                    ("ignored", format!("{} produced no order (position {position})", def.kind), outcomes)
                } else {
                    let ids: Vec<String> =
                        outcomes.iter().map(|o| format!("{} {}", o.order().order_id, o.order().status)).collect();
                    ("processed", format!("orders: {}", ids.join(", ")), outcomes)
                }
            }
        },
    };
    sqlx::query("update signal set status = $2, note = $3, processed_at = now() where signal_id = $1")
        .bind(signal_id)
        .bind(status)
        .bind(&note)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(signal_id, status, %note, "signal processed");
    for outcome in &outcomes {
        if let WriteOutcome::Created(_) = outcome {
            oms.after_commit(outcome).await;
        }
    }
    Ok(true)
}
