//! Market data and order vocabulary: instruments, timestamps, bars, ticks, sides, order types,
//! order intents and fills.

use crate::fixed::{Bps, Money, Price, Qty};
use serde::{Deserialize, Serialize};

/// An instrument (symbol) interned to a small number by whoever owns the symbol table, so that
/// events stay `Copy` and cheap to compare on the hot path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct InstrumentId(pub u32);

/// A point in time as nanoseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(i64);

const NANOS_PER_MILLI: i64 = 1_000_000;
const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

impl Timestamp {
    /// Wraps nanoseconds since the epoch.
    #[inline]
    #[must_use]
    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    /// Milliseconds since the epoch, or `None` beyond the year 2262.
    #[must_use]
    pub const fn checked_from_millis(millis: i64) -> Option<Self> {
        match millis.checked_mul(NANOS_PER_MILLI) {
            Some(nanos) => Some(Self(nanos)),
            None => None,
        }
    }

    /// Nanoseconds since the epoch.
    #[inline]
    #[must_use]
    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// Milliseconds since the epoch, rounded towards negative infinity.
    #[inline]
    #[must_use]
    pub const fn millis(self) -> i64 {
        self.0.div_euclid(NANOS_PER_MILLI)
    }

    /// The UTC calendar day number (days since 1970-01-01), used for DAY orders.
    #[inline]
    #[must_use]
    pub const fn utc_day(self) -> i64 {
        self.0.div_euclid(NANOS_PER_DAY)
    }
}

/// An OHLCV bar; `ts` is the bar's OPEN time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bar {
    /// The instrument the bar belongs to.
    pub instrument: InstrumentId,
    /// Open time of the bar.
    pub ts: Timestamp,
    /// First trade price.
    pub open: Price,
    /// Highest trade price.
    pub high: Price,
    /// Lowest trade price.
    pub low: Price,
    /// Last trade price.
    pub close: Price,
    /// Traded quantity.
    pub volume: Qty,
}

/// One trade print (or quote midpoint) from a live feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tick {
    /// The instrument traded.
    pub instrument: InstrumentId,
    /// Time of the trade.
    pub ts: Timestamp,
    /// Trade price.
    pub price: Price,
    /// Trade size.
    pub size: Qty,
}

/// Direction of an order or fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Buy: increases the position.
    Buy,
    /// Sell: decreases the position.
    Sell,
}

impl Side {
    /// The other side.
    #[must_use]
    pub const fn opposite(self) -> Self {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

/// How an order is priced, and for stop orders, what triggers it.
///
/// A stop triggers when a trade reaches its stop price: a buy stop at or above it, a sell stop
/// at or below it (on bars: when the bar's range reaches it). Once triggered it works as a
/// market order ([`OrderType::Stop`], [`OrderType::TrailingStop`]) or as a limit order
/// ([`OrderType::StopLimit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderType {
    /// Fill at whatever the market offers.
    Market,
    /// Fill only at this price or better.
    Limit(Price),
    /// A market order once a trade reaches the stop price.
    Stop(Price),
    /// A limit order at `limit` once a trade reaches `stop`.
    StopLimit {
        /// The trigger price.
        stop: Price,
        /// The limit of the order it becomes.
        limit: Price,
    },
    /// A stop that follows the market: a sell's stop stays `trail` below the highest trade since
    /// the order was placed (a buy's, above the lowest), and it triggers as [`OrderType::Stop`].
    TrailingStop(Trail),
}

/// How far a trailing stop follows the market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trail {
    /// A fixed price distance.
    Amount(Price),
    /// A fraction of the best price seen.
    Percent(Bps),
}

impl Trail {
    /// The stop of a trailing order on `side` whose best price so far is `reference`, rounded to
    /// `tick` away from the market (a sell's stop down, a buy's up).
    #[must_use]
    pub fn stop_from(self, side: Side, reference: Price, tick: Price) -> Option<Price> {
        match (self, side) {
            (Trail::Amount(amount), Side::Sell) => reference.checked_sub(amount),
            (Trail::Amount(amount), Side::Buy) => reference.checked_add(amount),
            (Trail::Percent(pct), Side::Sell) => {
                reference.checked_mul_ratio(1_000_000 - pct.centi_bps(), 1_000_000)?.checked_round_to_tick(tick, false)
            }
            (Trail::Percent(pct), Side::Buy) => {
                reference.checked_mul_ratio(1_000_000 + pct.centi_bps(), 1_000_000)?.checked_round_to_tick(tick, true)
            }
        }
    }
}

impl OrderType {
    /// Stable snake_case name, as stored and in APIs.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Market => "market",
            Self::Limit(_) => "limit",
            Self::Stop(_) => "stop",
            Self::StopLimit { .. } => "stop_limit",
            Self::TrailingStop(_) => "trailing_stop",
        }
    }

    /// The limit price, for limit and stop-limit orders.
    #[must_use]
    pub const fn limit_price(self) -> Option<Price> {
        match self {
            Self::Limit(price) | Self::StopLimit { limit: price, .. } => Some(price),
            _ => None,
        }
    }

    /// The fixed stop price, for stop and stop-limit orders.
    #[must_use]
    pub const fn stop_price(self) -> Option<Price> {
        match self {
            Self::Stop(price) | Self::StopLimit { stop: price, .. } => Some(price),
            _ => None,
        }
    }

    /// What a stop becomes once triggered: a market order, or a stop-limit's limit order. Other
    /// types are returned unchanged.
    #[must_use]
    pub const fn triggered(self) -> Self {
        match self {
            Self::Stop(_) | Self::TrailingStop(_) => Self::Market,
            Self::StopLimit { limit, .. } => Self::Limit(limit),
            other => other,
        }
    }

    /// Whether the order waits for a trigger before it can fill.
    #[must_use]
    pub const fn is_stop(self) -> bool {
        matches!(self, Self::Stop(_) | Self::StopLimit { .. } | Self::TrailingStop(_))
    }
}

/// A trigger price is reached by a trade at `price` for an order on `side`.
#[must_use]
pub fn stop_reached(side: Side, stop: Price, price: Price) -> bool {
    match side {
        Side::Buy => price >= stop,
        Side::Sell => price <= stop,
    }
}

/// How long an order stays working.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// Good till cancelled.
    #[default]
    Gtc,
    /// Immediate or cancel: one chance to fill, the rest is cancelled.
    Ioc,
    /// Cancelled at the end of the (UTC) day it was submitted.
    Day,
    /// Fill or kill: filled whole at its first chance, or cancelled with nothing filled.
    Fok,
}

impl TimeInForce {
    /// Whether the order has one chance to fill (IOC and FOK) rather than resting.
    #[must_use]
    pub const fn is_immediate(self) -> bool {
        matches!(self, Self::Ioc | Self::Fok)
    }
}

/// What a strategy wants to trade; the engine turns it into an order after the risk checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderIntent {
    /// The instrument to trade.
    pub instrument: InstrumentId,
    /// Buy or sell.
    pub side: Side,
    /// Unsigned quantity, always positive.
    pub qty: Qty,
    /// Market or limit.
    pub order_type: OrderType,
    /// How long it stays working.
    pub time_in_force: TimeInForce,
    /// May only bring the position closer to flat, never open, grow or flip it.
    #[serde(default)]
    pub reduce_only: bool,
    /// Closing legs to work once this entry is done (a bracket).
    #[serde(default)]
    pub bracket: Option<Bracket>,
}

/// The closing legs of a bracket entry: once the entry is done they work for what it filled, on
/// the other side and reduce-only, and the first to fill (even in part) cancels the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bracket {
    /// The take-profit leg's limit price.
    pub take_profit: Option<Price>,
    /// The stop-loss leg's stop price.
    pub stop_loss: Option<Price>,
}

impl Bracket {
    /// The legs' orders for an entry on `side` in `instrument` that filled `qty`.
    pub fn legs(self, instrument: InstrumentId, side: Side, qty: Qty) -> impl Iterator<Item = OrderIntent> {
        let leg = move |order_type| OrderIntent::of_type(instrument, side.opposite(), qty, order_type).reducing_only();
        [self.take_profit.map(OrderType::Limit), self.stop_loss.map(OrderType::Stop)].into_iter().flatten().map(leg)
    }
}

impl OrderIntent {
    /// A good-till-cancelled market order.
    #[must_use]
    pub const fn market(instrument: InstrumentId, side: Side, qty: Qty) -> Self {
        Self::of_type(instrument, side, qty, OrderType::Market)
    }

    /// A good-till-cancelled order of any type.
    #[must_use]
    pub const fn of_type(instrument: InstrumentId, side: Side, qty: Qty, order_type: OrderType) -> Self {
        Self { instrument, side, qty, order_type, time_in_force: TimeInForce::Gtc, reduce_only: false, bracket: None }
    }

    /// A good-till-cancelled limit order.
    #[must_use]
    pub const fn limit(instrument: InstrumentId, side: Side, qty: Qty, price: Price) -> Self {
        Self::of_type(instrument, side, qty, OrderType::Limit(price))
    }

    /// The same intent as a bracket entry with these closing legs.
    #[must_use]
    pub const fn with_bracket(mut self, take_profit: Option<Price>, stop_loss: Option<Price>) -> Self {
        self.bracket = Some(Bracket { take_profit, stop_loss });
        self
    }

    /// The same intent, reduce-only.
    #[must_use]
    pub const fn reducing_only(mut self) -> Self {
        self.reduce_only = true;
        self
    }

    /// The same intent with another time in force.
    #[must_use]
    pub const fn with_time_in_force(mut self, time_in_force: TimeInForce) -> Self {
        self.time_in_force = time_in_force;
        self
    }

    /// The quantity signed by side: positive for buys, negative for sells.
    #[must_use]
    pub fn signed_qty(&self) -> Qty {
        self.qty.signed(self.side)
    }
}

/// An execution of (part of) an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// The instrument traded.
    pub instrument: InstrumentId,
    /// Buy or sell.
    pub side: Side,
    /// Unsigned executed quantity.
    pub qty: Qty,
    /// Execution price, slippage included.
    pub price: Price,
    /// Fees charged for this fill (positive = paid).
    pub fee: Money,
    /// Execution time (in a backtest, the open time of the bar that filled it).
    pub ts: Timestamp,
}

impl Fill {
    /// The quantity signed by side: positive for buys, negative for sells.
    #[must_use]
    pub fn signed_qty(&self) -> Qty {
        self.qty.signed(self.side)
    }
}

/// What an external signal (e.g. a TradingView alert) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalAction {
    /// Buy (open or add to a long).
    Buy,
    /// Sell (reduce a long, or open a short where allowed).
    Sell,
    /// Close the position whatever its side.
    Exit,
}

/// An external trading signal, already authenticated and de-duplicated by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalSignal {
    /// The instrument the signal is about.
    pub instrument: InstrumentId,
    /// What to do.
    pub action: SignalAction,
    /// Quantity asked for, if the signal carries one.
    pub qty: Option<Qty>,
    /// Price mentioned by the signal, if any.
    pub price: Option<Price>,
    /// When the signal was received.
    pub ts: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_converts_millis_and_finds_utc_day() {
        let ts = Timestamp::checked_from_millis(1_577_836_800_000).unwrap();
        assert_eq!(ts.millis(), 1_577_836_800_000);
        assert_eq!(ts.utc_day(), 18_262); // 2020-01-01
        let before_midnight = Timestamp::checked_from_millis(1_577_836_799_999).unwrap();
        assert_eq!(before_midnight.utc_day(), 18_261);
        assert_eq!(Timestamp::checked_from_millis(i64::MAX), None);
    }

    #[test]
    fn signed_qty_is_negative_for_sells() {
        let intent = OrderIntent::market(InstrumentId(1), Side::Sell, Qty::from_units(3));
        assert_eq!(intent.signed_qty(), Qty::from_units(-3));
        assert_eq!(Side::Sell.opposite(), Side::Buy);
    }
}
