//! The paper venue: the domain's [`SimulatedVenue`] driven by live ticks. Market orders fill at
//! the next trade of their symbol (with the configured slippage), limit orders when a trade
//! touches them; IOC orders that miss their one trade are cancelled, DAY orders expire at the
//! first trade of a later UTC day. With `PAPER_LIQUIDITY=trade_size` a trade fills at most its
//! own size, shared by the working orders in arrival order: larger orders fill partially over
//! several trades (the rest of a partly filled IOC order is cancelled).
//!
//! One task owns the simulated book; submissions, cancels and ticks reach it in order through a
//! channel, so no lock sits on the decision path.

use std::collections::{HashMap, HashSet};

use domain::{
    fill::{FillModel, FillTiming, SimFill, SimOrderId, SimulatedVenue},
    InstrumentId, Price, Qty, TimeInForce,
};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::{VenueEvent, VenueEventKind, VenueOrder};
use crate::{
    configuration::{PaperLiquidity, PaperSettings},
    market::MarketTick,
};

enum Command {
    Submit(VenueOrder),
    Cancel(i64),
    Replace(i64, VenueOrder),
}

/// Handle to the paper venue task.
#[derive(Clone)]
pub struct PaperVenue {
    commands: mpsc::Sender<Command>,
}

struct Working {
    order_id: i64,
    instrument: InstrumentId,
    time_in_force: TimeInForce,
    /// Quantity not filled yet.
    remaining: Qty,
}

impl PaperVenue {
    /// Starts the venue: it reads `ticks` and reports on `events` until `stop`.
    pub fn start(
        settings: PaperSettings,
        instance_id: &str,
        mut ticks: broadcast::Receiver<MarketTick>,
        events: mpsc::Sender<VenueEvent>,
        stop: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (commands, mut rx) = mpsc::channel::<Command>(4096);
        let model = FillModel {
            timing: FillTiming::NextBarOpen,
            fees: settings.fees,
            slippage: settings.slippage,
            tick: Price::from_raw(1_000_000), // slipped prices round to 0.01
        };
        let exec_prefix = format!("{instance_id}-{}", uuid::Uuid::new_v4().simple());
        let task = tokio::spawn(async move {
            let mut book = Book {
                sim: SimulatedVenue::new(model),
                liquidity: settings.liquidity,
                working: HashMap::new(),
                by_order: HashMap::new(),
                cancelled_early: HashSet::new(),
                fills: Vec::new(),
                exec_seq: 0,
                exec_prefix,
                events,
            };
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    command = rx.recv() => match command {
                        Some(Command::Submit(order)) => book.submit(order).await,
                        Some(Command::Cancel(order_id)) => book.cancel(order_id).await,
                        Some(Command::Replace(old, amendment)) => book.replace(old, amendment).await,
                        None => return,
                    },
                    tick = ticks.recv() => match tick {
                        Ok(tick) => book.on_tick(&tick).await,
                        Err(broadcast::error::RecvError::Lagged(n)) => tracing::warn!(skipped = n, "paper venue lagged behind the feed"),
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
        });
        (Self { commands }, task)
    }

    /// Queues a submission.
    pub async fn submit(&self, order: VenueOrder) {
        let _ = self.commands.send(Command::Submit(order)).await;
    }

    /// Queues a cancel.
    pub async fn cancel(&self, order_id: i64) {
        let _ = self.commands.send(Command::Cancel(order_id)).await;
    }

    /// Queues a replace of `old` by `amendment`.
    pub async fn replace(&self, old: i64, amendment: VenueOrder) {
        let _ = self.commands.send(Command::Replace(old, amendment)).await;
    }
}

struct Book {
    sim: SimulatedVenue,
    liquidity: PaperLiquidity,
    working: HashMap<SimOrderId, Working>,
    by_order: HashMap<i64, SimOrderId>,
    /// Cancels that arrived before their order: the submission is dropped when it comes.
    cancelled_early: HashSet<i64>,
    fills: Vec<SimFill>,
    exec_seq: u64,
    exec_prefix: String,
    events: mpsc::Sender<VenueEvent>,
}

impl Book {
    async fn emit(&self, order_id: i64, kind: VenueEventKind) {
        let _ = self.events.send(VenueEvent { order_id, kind, reconciled: false }).await;
    }

    async fn submit(&mut self, order: VenueOrder) {
        if self.cancelled_early.remove(&order.order_id) || self.by_order.contains_key(&order.order_id) {
            return;
        }
        if let Some(tick) = order.tick {
            self.sim.set_tick(order.intent.instrument, tick);
        }
        // Engine order ids are below 2^63, apart from the venue's own bracket groups.
        let group = order.oco_group.and_then(|g| u64::try_from(g).ok()).map(|g| g | (1 << 63));
        let id = self.sim.submit_in_group(order.intent, crate::market::now(), group);
        self.working.insert(
            id,
            Working {
                order_id: order.order_id,
                instrument: order.intent.instrument,
                time_in_force: order.intent.time_in_force,
                remaining: order.intent.qty,
            },
        );
        self.by_order.insert(order.order_id, id);
        self.emit(order.order_id, VenueEventKind::Accepted).await;
    }

    async fn cancel(&mut self, order_id: i64) {
        match self.by_order.get(&order_id).copied() {
            Some(id) if self.sim.cancel(id) => {
                self.forget(id);
                self.emit(order_id, VenueEventKind::Cancelled).await;
            }
            Some(_) => self.emit(order_id, VenueEventKind::CancelRejected).await,
            None => {
                self.cancelled_early.insert(order_id);
                self.emit(order_id, VenueEventKind::Cancelled).await;
            }
        }
    }

    /// Takes `old` off the book and works `amendment` in its place, in one step: no trade can
    /// fill both. An order no longer working (filled meanwhile) is not replaced.
    async fn replace(&mut self, old: i64, amendment: VenueOrder) {
        match self.by_order.get(&old).copied() {
            Some(id) if self.sim.cancel(id) => {
                self.forget(id);
                self.emit(old, VenueEventKind::Replaced).await;
                self.submit(amendment).await;
            }
            _ => {
                let reason = "the order is no longer working at the paper venue".to_owned();
                self.emit(old, VenueEventKind::ReplaceRejected { reason }).await;
            }
        }
    }

    fn forget(&mut self, id: SimOrderId) -> Option<Working> {
        let working = self.working.remove(&id)?;
        self.by_order.remove(&working.order_id);
        Some(working)
    }

    async fn on_tick(&mut self, tick: &MarketTick) {
        if self.working.is_empty() {
            return;
        }
        let t = tick.tick;
        self.fills.clear();
        let mut fills = std::mem::take(&mut self.fills);
        let available = match self.liquidity {
            PaperLiquidity::Unlimited => None,
            PaperLiquidity::TradeSize => Some(t.size),
        };
        if let Err(e) = self.sim.on_trade_with_liquidity(t.instrument, t.price, available, t.ts, &mut fills) {
            tracing::error!(error = %e, "paper fill could not be priced");
        }
        for fill in &fills {
            let Some(working) = self.working.get_mut(&fill.order_id) else { continue };
            working.remaining = working.remaining.checked_sub(fill.fill.qty).unwrap_or(Qty::ZERO);
            let order_id = working.order_id;
            if !working.remaining.is_positive() {
                self.forget(fill.order_id);
            }
            self.exec_seq += 1;
            let exec_id = format!("{}-{}", self.exec_prefix, self.exec_seq);
            let f = fill.fill;
            let kind =
                VenueEventKind::Fill { exec_id, qty: f.qty, price: f.price, fee: f.fee, cum_fee: None, ts: f.ts };
            self.emit(order_id, kind).await;
        }
        self.fills = fills;
        // Orders of this instrument that left the book without a fill: IOC misses and DAY expiries.
        let ended: Vec<SimOrderId> = self
            .working
            .iter()
            .filter(|(id, w)| w.instrument == t.instrument && !self.sim.is_working(**id))
            .map(|(id, _)| *id)
            .collect();
        for id in ended {
            if let Some(working) = self.forget(id) {
                let kind = match working.time_in_force {
                    TimeInForce::Day => VenueEventKind::Expired,
                    _ => VenueEventKind::Cancelled,
                };
                self.emit(working.order_id, kind).await;
            }
        }
    }
}
