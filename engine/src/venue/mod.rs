//! Venues: where orders are executed. A venue takes submissions and cancels, and reports what
//! happens to each order as [`VenueEvent`]s on a channel the order manager drains.
//!
//! Implementations: [`paper::PaperVenue`] (fills against live ticks with the domain's
//! `SimulatedVenue`), [`alpaca::AlpacaVenue`] (Alpaca's REST API and trade-updates stream) and
//! [`binance::BinanceVenue`] (Binance Spot's signed REST API and user data stream). The set is
//! closed, so it is an enum rather than a trait object.

pub mod alpaca;
pub mod binance;
pub mod paper;

use std::{collections::HashMap, sync::Arc};

use domain::{Money, OrderIntent, Price, Qty, Timestamp};

/// Lookups (and resends) of an order whose submission had no clear answer before it is left to
/// the next reconciliation: about two minutes with [`unknown_backoff`].
pub const UNKNOWN_ATTEMPTS: u32 = 12;

/// The longest `Retry-After` honoured; a longer one is waited in several steps.
pub(crate) const MAX_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

/// The pause before lookup `attempt` of an unknown order: 200 ms, doubling, capped at 20 s.
pub(crate) fn unknown_backoff(attempt: u32) -> std::time::Duration {
    std::time::Duration::from_millis(200u64.saturating_mul(1 << attempt.saturating_sub(1).min(7)).min(20_000))
}

/// A `Retry-After` header in seconds (Alpaca and Binance send seconds, not an HTTP date).
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<std::time::Duration> {
    let seconds: f64 = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| std::time::Duration::from_secs_f64(seconds))
}

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
    /// Replaced by its amendment (which is acknowledged separately).
    Replaced,
    /// The venue refused to amend the order; it works on unchanged.
    ReplaceRejected {
        /// The venue's reason.
        reason: String,
    },
    /// The venue broke (busted) an execution of the order after the fact: the one of `qty` at
    /// `price` did not happen. Booked as a reversing entry (see [`crate::oms`]'s busts).
    Bust {
        /// Quantity of the busted execution.
        qty: Qty,
        /// Its price.
        price: Price,
        /// The order's filled quantity at the venue after the bust (a replay finds it booked).
        order_filled: Qty,
        /// The venue still works the order.
        working: bool,
    },
    /// The venue corrected an execution of the order: it was `qty` at `price`. Which booked
    /// execution it was follows from the order's totals at the venue after the correction.
    Correct {
        /// Corrected quantity.
        qty: Qty,
        /// Corrected price.
        price: Price,
        /// The order's filled quantity at the venue after the correction.
        order_filled: Qty,
        /// The order's average fill price at the venue after the correction.
        order_avg_price: Price,
    },
}

/// An event about the order `order_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueEvent {
    /// The engine's order id.
    pub order_id: i64,
    /// What happened.
    pub kind: VenueEventKind,
    /// Found by reconciliation (asking the venue) rather than reported by its stream or its
    /// answer: booked as a reconciliation event, flagged and audited.
    pub reconciled: bool,
}

/// What a broker account can spend, as the venue last said (Alpaca's `buying_power`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuyingPower {
    /// The amount (0 while the venue blocks the account's trading).
    pub amount: Money,
    /// When the venue was asked: orders the engine sent after it are not in `amount` yet.
    pub as_of: chrono::DateTime<chrono::Utc>,
}

/// What the engine has booked of an order being reconciled, so only the rest is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booked {
    /// Quantity filled.
    pub filled: Qty,
    /// Whether its acknowledgement is booked (it is past `pending_new`).
    pub acknowledged: bool,
}

impl Booked {
    /// Nothing booked yet: a submission whose answer was unclear.
    pub const NOTHING: Self = Self { filled: Qty::ZERO, acknowledged: false };
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
    /// The instrument's tick size, where defined and the venue needs it (the paper venue rounds
    /// slipped prices to it; otherwise to 0.01).
    pub tick: Option<Price>,
    /// The one-cancels-other group of a bracket leg: the paper venue cancels the other legs in
    /// the same step as the fill (live venues are sent the engine's cancel after it).
    pub oco_group: Option<i64>,
}

/// The configured venue.
#[derive(Clone)]
pub enum Venue {
    /// The paper venue.
    Paper(paper::PaperVenue),
    /// Alpaca.
    Alpaca(alpaca::AlpacaVenue),
    /// Binance Spot.
    Binance(binance::BinanceVenue),
}

impl Venue {
    /// The name stored on orders.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Paper(_) => "paper",
            Self::Alpaca(_) => "alpaca",
            Self::Binance(_) => "binance",
        }
    }

    /// Whether each engine process has its own book at this venue (paper), rather than one
    /// broker account shared by every instance (Alpaca, Binance). Only a per-process book's events are
    /// fenced by order ownership: a shared venue's events are the broker's truth whoever
    /// receives them.
    pub fn is_per_process(&self) -> bool {
        matches!(self, Self::Paper(_))
    }

    /// Whether the venue takes `order_type` for `symbol` natively; the engine holds the
    /// trigger of a stop it does not (see `crate::oms::triggers`).
    /// - Paper: every type (the domain's simulated venue).
    /// - Alpaca: every type for equities; crypto pairs (`BTC/USD`) take market, limit and
    ///   stop-limit orders only.
    /// - Binance Spot: stops and stop-limits; trailing stops by whole basis points of price
    ///   (`trailingDelta`), not by an amount.
    pub fn supports(&self, order_type: domain::OrderType, symbol: &str) -> bool {
        use domain::{OrderType as T, Trail};
        match (self, order_type) {
            (Self::Paper(_), _) | (_, T::Market | T::Limit(_) | T::StopLimit { .. }) => true,
            (Self::Alpaca(_), T::Stop(_) | T::TrailingStop(_)) => !symbol.contains('/'),
            (Self::Binance(_), T::Stop(_)) => true,
            (Self::Binance(_), T::TrailingStop(Trail::Percent(rate))) => rate.centi_bps() % 100 == 0,
            (Self::Binance(_), T::TrailingStop(Trail::Amount(_))) => false,
        }
    }

    /// Hands an order to the venue; the outcome arrives as events.
    pub async fn submit(&self, order: VenueOrder) {
        match self {
            Self::Paper(paper) => paper.submit(order).await,
            Self::Alpaca(alpaca) => alpaca.submit(order).await,
            Self::Binance(binance) => binance.submit(order).await,
        }
    }

    /// Brings an open order (of which `booked` is in the engine's books) in line with the venue after a
    /// restart or adoption: the paper venue simply takes what is still open; a shared venue is asked.
    pub async fn reconcile(&self, order: VenueOrder, booked: Booked) {
        match self {
            Self::Paper(paper) => paper.submit(order).await,
            Self::Alpaca(alpaca) => alpaca.reconcile(order, booked).await,
            Self::Binance(binance) => binance.reconcile(order, booked).await,
        }
    }

    /// Asks the venue to replace the working order `old` by `amendment` (cancel/replace). The
    /// venue answers with [`VenueEventKind::Replaced`] for `old` and an acknowledgement of the
    /// amendment, or [`VenueEventKind::ReplaceRejected`] for `old`.
    pub async fn replace(&self, old: i64, amendment: VenueOrder) {
        match self {
            Self::Paper(paper) => paper.replace(old, amendment).await,
            Self::Alpaca(alpaca) => alpaca.replace(old, amendment).await,
            Self::Binance(binance) => binance.refuse_replace(old).await,
        }
    }

    /// When the venue's stream last asked to listen: orders changed after that have their events
    /// on the new stream, so a reconnect reconciles only those changed before.
    pub fn listen_asked_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            Self::Paper(_) => None,
            Self::Alpaca(alpaca) => alpaca.listen_asked_at(),
            Self::Binance(binance) => binance.listen_asked_at(),
        }
    }

    /// Signalled each time the venue's event stream is (re)established, so what happened while
    /// it was down is reconciled; `None` for the paper venue, which has no stream to lose.
    pub fn stream_reconnected(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        match self {
            Self::Paper(_) => None,
            Self::Alpaca(alpaca) => Some(alpaca.stream_connected()),
            Self::Binance(binance) => Some(binance.stream_connected()),
        }
    }

    /// A shared venue's positions by symbol (signed), to compare with the engine's fills;
    /// `None` for the paper venue (its book is the engine's own), for Binance (a spot
    /// account's balances hold assets the engine never traded, so they cannot be compared with
    /// its fills) or when the venue did not answer.
    pub async fn positions(&self) -> Option<Vec<(String, rust_decimal::Decimal)>> {
        match self {
            Self::Paper(_) | Self::Binance(_) => None,
            Self::Alpaca(alpaca) => alpaca.positions().await,
        }
    }

    /// Asks the venue for the account's buying power and keeps it for [`Self::buying_power`];
    /// a failed read keeps the last figure.
    pub async fn refresh_buying_power(&self) {
        match self {
            Self::Paper(_) => {}
            Self::Alpaca(alpaca) => alpaca.refresh_buying_power().await,
            Self::Binance(binance) => binance.refresh_buying_power().await,
        }
    }

    /// What the account can spend on a buy of `symbol` as last read (Alpaca: the account's
    /// buying power, whatever the symbol; Binance: the free balance of the symbol's quote
    /// asset); without a symbol, the account-wide figure (Alpaca only). `None` for paper, or
    /// before the first answer.
    pub fn buying_power(&self, symbol: Option<&str>) -> Option<BuyingPower> {
        match (self, symbol) {
            (Self::Paper(_), _) | (Self::Binance(_), None) => None,
            (Self::Alpaca(alpaca), _) => alpaca.buying_power(),
            (Self::Binance(binance), Some(symbol)) => binance.buying_power(symbol),
        }
    }

    /// Executions the venue reported for orders the engine did not place (a trade made by
    /// hand at the venue), described, since the last call. Each is certain evidence that the
    /// account holds what the engine did not book.
    pub fn take_foreign_executions(&self) -> Vec<String> {
        match self {
            Self::Paper(_) => Vec::new(),
            Self::Alpaca(alpaca) => alpaca.take_foreign_executions(),
            Self::Binance(binance) => binance.take_foreign_executions(),
        }
    }

    /// Asks the venue to cancel order `order_id` (on `symbol`); the outcome arrives as events.
    pub async fn cancel(&self, order_id: i64, symbol: &str) {
        match self {
            Self::Paper(paper) => paper.cancel(order_id).await,
            Self::Alpaca(alpaca) => alpaca.cancel(order_id).await,
            Self::Binance(binance) => binance.cancel(order_id, symbol).await,
        }
    }
}

/// Every venue of one engine: the default one (`VENUE`, paper unless configured), for any
/// account not routed elsewhere, and one per routed account (`ACCOUNTS`: that account's own
/// broker account). An order records the name of the venue it went to, and every later step
/// (cancel, events, reconciliation, adoption) goes to that venue by name.
#[derive(Clone)]
pub struct Venues {
    default: (Arc<str>, Venue),
    routed: Arc<HashMap<String, (Arc<str>, Venue)>>,
    reconnected: Arc<tokio::sync::Notify>,
}

impl From<Venue> for Venues {
    fn from(venue: Venue) -> Self {
        Self::new(venue, Vec::new())
    }
}

impl Venues {
    /// The default venue (named after its kind: `paper`, `alpaca`, `binance`) and the routed
    /// accounts' venues (named `<kind>:<account>`).
    pub fn new(default: Venue, routed: Vec<(String, Venue)>) -> Self {
        let reconnected = Arc::new(tokio::sync::Notify::new());
        let routed: HashMap<String, (Arc<str>, Venue)> = routed
            .into_iter()
            .map(|(account, venue)| {
                let name: Arc<str> = Arc::from(format!("{}:{account}", venue.name()));
                (account, (name, venue))
            })
            .collect();
        let venues = Self { default: (Arc::from(default.name()), default), routed: Arc::new(routed), reconnected };
        for (_, venue) in venues.all() {
            if let Some(connected) = venue.stream_reconnected() {
                let merged = venues.reconnected.clone();
                tokio::spawn(async move {
                    loop {
                        connected.notified().await;
                        merged.notify_one();
                    }
                });
            }
        }
        venues
    }

    /// The venue an order of `account` goes to, and its name.
    pub fn route(&self, account: &str) -> (&str, &Venue) {
        let (name, venue) = self.routed.get(account).unwrap_or(&self.default);
        (name, venue)
    }

    /// The default venue's name (where every account not routed elsewhere trades).
    pub fn default_name(&self) -> &str {
        &self.default.0
    }

    /// The venue named `name` (as stored on an order), if this engine has it.
    pub fn named(&self, name: &str) -> Option<&Venue> {
        if *self.default.0 == *name {
            return Some(&self.default.1);
        }
        self.routed.values().find(|(n, _)| **n == *name).map(|(_, venue)| venue)
    }

    /// Every venue with its name, the default first.
    pub fn all(&self) -> Vec<(&str, &Venue)> {
        let mut all = vec![(&*self.default.0, &self.default.1)];
        let mut routed: Vec<(&str, &Venue)> = self.routed.values().map(|(n, v)| (&**n, v)).collect();
        routed.sort_by_key(|(name, _)| *name);
        all.extend(routed);
        all
    }

    /// The names of every venue.
    pub fn names(&self) -> Vec<String> {
        self.all().into_iter().map(|(name, _)| name.to_owned()).collect()
    }

    /// The venues shared by every engine instance (broker accounts), with their names.
    pub fn shared(&self) -> Vec<(&str, &Venue)> {
        self.all().into_iter().filter(|(_, venue)| !venue.is_per_process()).collect()
    }

    /// The routed accounts with their venue names, sorted.
    pub fn accounts(&self) -> Vec<(String, String)> {
        let mut accounts: Vec<(String, String)> =
            self.routed.iter().map(|(account, (name, _))| (account.clone(), name.to_string())).collect();
        accounts.sort();
        accounts
    }

    /// Notified each time any venue's stream is (re)established.
    pub fn stream_reconnected(&self) -> Arc<tokio::sync::Notify> {
        self.reconnected.clone()
    }

    /// The latest time any venue's stream asked to listen (the reconnect's reconciliation covers
    /// orders changed before it; later ones have their events on the stream).
    pub fn listen_asked_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.all().into_iter().filter_map(|(_, venue)| venue.listen_asked_at()).max()
    }
}
