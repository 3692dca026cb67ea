//! Venues: where orders are executed. A venue takes submissions and cancels, and reports what
//! happens to each order as [`VenueEvent`]s on a channel the order manager drains.
//!
//! Implementations: [`paper::PaperVenue`] (fills against live ticks with the domain's
//! `SimulatedVenue`) and [`alpaca::AlpacaVenue`] (Alpaca's REST API and trade-updates stream). The set is closed, so it is an enum rather than a trait object.

pub mod alpaca;
pub mod paper;

use domain::{Money, OrderIntent, Price, Qty, Timestamp};

/// What a venue reports about one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VenueEventKind {
    /// Acknowledged and working.
    Accepted,
    /// Refused by the venue.
    Rejected {
        /// The venue's reason.
        reason: String,
    },
    /// An execution.
    Fill {
        /// Venue execution id, unique per venue (makes replays harmless).
        exec_id: String,
        /// Executed quantity.
        qty: Qty,
        /// Execution price.
        price: Price,
        /// Fee charged for this execution.
        fee: Money,
        /// Set by a venue that reports an order's fee as a running total rather than per
        /// execution (Alpaca's order `commission`): the fee on the order so far. The fill is
        /// then charged whatever of it is not booked yet (`fee` is ignored), so a total seen
        /// with several executions, or again in a replay, is booked once.
        cum_fee: Option<Money>,
        /// Execution time.
        ts: Timestamp,
    },
    /// Cancelled (on request, or an IOC remainder).
    Cancelled,
    /// A cancel request found nothing to cancel.
    CancelRejected,
    /// Ended by its time in force.
    Expired,
}

/// An event about the order `order_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueEvent {
    /// The engine's order id.
    pub order_id: i64,
    /// What happened.
    pub kind: VenueEventKind,
}

/// An order handed to a venue.
#[derive(Debug, Clone)]
pub struct VenueOrder {
    /// The engine's order id.
    pub order_id: i64,
    /// The symbol.
    pub symbol: std::sync::Arc<str>,
    /// What to trade (quantity = what is still open).
    pub intent: OrderIntent,
}

/// The configured venue.
#[derive(Clone)]
pub enum Venue {
    /// The paper venue.
    Paper(paper::PaperVenue),
    /// Alpaca.
    Alpaca(alpaca::AlpacaVenue),
}

impl Venue {
    /// The name stored on orders.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Paper(_) => "paper",
            Self::Alpaca(_) => "alpaca",
        }
    }

    /// Whether each engine process has its own book at this venue (paper), rather than one
    /// broker account shared by every instance (Alpaca). Only a per-process book's events are
    /// fenced by order ownership: a shared venue's events are the broker's truth whoever
    /// receives them.
    pub fn is_per_process(&self) -> bool {
        matches!(self, Self::Paper(_))
    }

    /// Hands an order to the venue; the outcome arrives as events.
    pub async fn submit(&self, order: VenueOrder) {
        match self {
            Self::Paper(paper) => paper.submit(order).await,
            Self::Alpaca(alpaca) => alpaca.submit(order).await,
        }
    }

    /// Brings an open order (of which `filled` is booked) in line with the venue after a
    /// restart or adoption: the paper venue simply takes what is still open; Alpaca is asked.
    pub async fn reconcile(&self, order: VenueOrder, filled: domain::Qty) {
        match self {
            Self::Paper(paper) => paper.submit(order).await,
            Self::Alpaca(alpaca) => alpaca.reconcile(order, filled).await,
        }
    }

    /// Signalled each time the venue's event stream is (re)established, so what happened while
    /// it was down is reconciled; `None` for the paper venue, which has no stream to lose.
    pub fn stream_reconnected(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        match self {
            Self::Paper(_) => None,
            Self::Alpaca(alpaca) => Some(alpaca.stream_connected()),
        }
    }

    /// A shared venue's positions by symbol (signed), to compare with the engine's fills;
    /// `None` for the paper venue (its book is the engine's own) or when the venue did not answer.
    pub async fn positions(&self) -> Option<Vec<(String, rust_decimal::Decimal)>> {
        match self {
            Self::Paper(_) => None,
            Self::Alpaca(alpaca) => alpaca.positions().await,
        }
    }

    /// Asks the venue to cancel; the outcome arrives as events.
    pub async fn cancel(&self, order_id: i64) {
        match self {
            Self::Paper(paper) => paper.cancel(order_id).await,
            Self::Alpaca(alpaca) => alpaca.cancel(order_id).await,
        }
    }
}
