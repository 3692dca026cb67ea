//! The fill model: when and at what price a simulated order executes, and what it costs.
//!
//! [`FillModel`] holds the pure pricing rules (slippage, fees, limit touches). [`SimulatedVenue`]
//! keeps the working orders of a simulation and matches them against bars (backtests) or trades
//! (the paper venue), so both use the very same rules.
//!
//! Rules:
//! - Market orders fill in full at the next bar's open ([`FillTiming::NextBarOpen`], default) or
//!   at the signal bar's close ([`FillTiming::SignalBarClose`]); on a trade feed, at the next trade.
//! - Slippage moves the price against the trader by `slippage` and rounds it to the instrument's
//!   tick, again against the trader (buys up, sells down). Limit fills get no slippage.
//! - A limit order fills when the bar's range touches its price: a buy when `low <= limit`, at
//!   `min(open, limit)` (a gap through the limit fills at the better open); a sell symmetrically.
//! - Fees per fill: `per_order + notional × rate` (one fill per order in this model).
//! - Stop, stop-limit and trailing stop orders wait for their trigger ([`crate::trigger`]); once
//!   triggered, a stop fills as a market order at the triggering trade (on a bar, at the stop
//!   price, or at the open when the bar gaps through it), a stop-limit as a limit order (on the
//!   triggering bar only if the trigger price is within its limit). A trailing stop placed on a
//!   bar trails from that bar's close; one placed between trades, from the next trade.
//! - IOC orders get exactly one chance (the first bar or trade they meet); DAY orders expire at
//!   the first bar or trade of a later UTC day; GTC orders wait until filled or cancelled.

use crate::fixed::{Bps, Money, Price, Qty};
use crate::market::{Bar, Fill, InstrumentId, OrderIntent, OrderType, Side, TimeInForce, Timestamp};
use crate::trigger::StopTrigger;

/// Identifier of an order in a simulated venue, unique within that venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimOrderId(pub u64);

/// When market orders placed on a bar are filled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FillTiming {
    /// At the open of the bar after the signal (no look-ahead; the default).
    #[default]
    NextBarOpen,
    /// At the close of the bar that produced the signal.
    SignalBarClose,
}

/// Fees charged on every fill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeeSchedule {
    /// Fixed fee per order.
    pub per_order: Money,
    /// Fee proportional to the notional.
    pub rate: Bps,
}

/// A fill could not be priced because an amount overflowed `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("fill pricing overflowed")]
pub struct FillOverflow;

/// Pricing rules shared by the backtester and the paper venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillModel {
    /// When market orders fill relative to the signal bar.
    pub timing: FillTiming,
    /// Fees per fill.
    pub fees: FeeSchedule,
    /// Adverse price move applied to market fills.
    pub slippage: Bps,
    /// Price increment that slipped prices are rounded to.
    pub tick: Price,
}

impl Default for FillModel {
    fn default() -> Self {
        Self {
            timing: FillTiming::NextBarOpen,
            fees: FeeSchedule::default(),
            slippage: Bps::ZERO,
            tick: Price::from_raw(1),
        }
    }
}

impl FillModel {
    /// The price a market order on `side` gets when the market trades at `reference`.
    ///
    /// # Errors
    /// [`FillOverflow`] if the slipped price does not fit.
    pub fn market_price(&self, side: Side, reference: Price) -> Result<Price, FillOverflow> {
        if self.slippage == Bps::ZERO {
            return Ok(reference);
        }
        let centi_bps = match side {
            Side::Buy => 1_000_000 + self.slippage.centi_bps(),
            Side::Sell => 1_000_000 - self.slippage.centi_bps(),
        };
        let slipped = reference.checked_mul_ratio(centi_bps, 1_000_000).ok_or(FillOverflow)?;
        slipped.checked_round_to_tick(self.tick, side == Side::Buy).ok_or(FillOverflow)
    }

    /// The price a resting limit order gets from `bar`, or `None` if the bar did not touch it.
    #[must_use]
    pub fn limit_price_on_bar(side: Side, limit: Price, bar: &Bar) -> Option<Price> {
        match side {
            Side::Buy if bar.low <= limit => Some(bar.open.min(limit)),
            Side::Sell if bar.high >= limit => Some(bar.open.max(limit)),
            _ => None,
        }
    }

    /// The fee for a fill of `qty` at `price`.
    ///
    /// # Errors
    /// [`FillOverflow`] if the notional or fee does not fit.
    pub fn fee(&self, price: Price, qty: Qty) -> Result<Money, FillOverflow> {
        if self.fees.rate == Bps::ZERO {
            return Ok(self.fees.per_order);
        }
        let notional = price.checked_notional(qty).ok_or(FillOverflow)?;
        let proportional =
            self.fees.rate.checked_apply(notional.checked_abs().ok_or(FillOverflow)?).ok_or(FillOverflow)?;
        self.fees.per_order.checked_add(proportional).ok_or(FillOverflow)
    }

    fn fill(&self, id: SimOrderId, intent: &OrderIntent, price: Price, ts: Timestamp) -> Result<SimFill, FillOverflow> {
        self.partial_fill(id, intent, intent.qty, price, ts, true)
    }

    /// A fill of `qty` of the order; the fixed fee per order is charged on its first fill only.
    fn partial_fill(
        &self,
        id: SimOrderId,
        intent: &OrderIntent,
        qty: Qty,
        price: Price,
        ts: Timestamp,
        first: bool,
    ) -> Result<SimFill, FillOverflow> {
        let mut fee = self.fee(price, qty)?;
        if !first {
            fee = fee.checked_sub(self.fees.per_order).ok_or(FillOverflow)?;
        }
        Ok(SimFill {
            order_id: id,
            fill: Fill { instrument: intent.instrument, side: intent.side, qty, price, fee, ts },
        })
    }
}

/// A fill produced by a [`SimulatedVenue`], with the order it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimFill {
    /// The order that filled.
    pub order_id: SimOrderId,
    /// The execution.
    pub fill: Fill,
}

#[derive(Debug, Clone, Copy)]
struct WorkingOrder {
    id: SimOrderId,
    /// The order; its quantity is what remains to fill.
    intent: OrderIntent,
    submitted_day: i64,
    /// Whether a part of it filled already.
    partly_filled: bool,
    /// Whether a stop has triggered (always for other orders).
    trigger: StopTrigger,
    /// Filled so far.
    filled: Qty,
    /// Orders of one group cancel one another when one fills (a bracket's legs).
    group: Option<u64>,
}

impl WorkingOrder {
    fn new(id: SimOrderId, intent: OrderIntent, day: i64, reference: Option<Price>) -> Self {
        let trigger = StopTrigger::new(intent.order_type, reference);
        Self { id, intent, submitted_day: day, partly_filled: false, trigger, filled: Qty::ZERO, group: None }
    }

    /// The price of a fill against a trade at `price`, if the order fills there; moves a stop's
    /// trigger first.
    fn price_on_trade(&mut self, model: &FillModel, price: Price) -> Result<Option<Price>, FillOverflow> {
        let side = self.intent.side;
        if !self.trigger.on_trade(side, self.intent.order_type, price, model.tick) {
            return Ok(None);
        }
        match self.intent.order_type {
            OrderType::Market | OrderType::Stop(_) | OrderType::TrailingStop(_) => {
                model.market_price(side, price).map(Some)
            }
            OrderType::Limit(limit) | OrderType::StopLimit { limit, .. } => Ok(limit_on_trade(side, limit, price)),
        }
    }

    /// The price of a fill on `bar`, if the order fills in it; moves a stop's trigger first.
    fn price_on_bar(&mut self, model: &FillModel, bar: &Bar) -> Result<Option<Price>, FillOverflow> {
        let side = self.intent.side;
        let order_type = self.intent.order_type;
        if !self.trigger.triggered {
            return match (self.trigger.on_bar(side, order_type, bar, model.tick), order_type) {
                (None, _) => Ok(None),
                (Some(at), OrderType::StopLimit { limit, .. }) => Ok(limit_on_trade(side, limit, at)),
                (Some(at), _) => model.market_price(side, at).map(Some),
            };
        }
        match order_type {
            OrderType::Market | OrderType::Stop(_) | OrderType::TrailingStop(_) => {
                model.market_price(side, bar.open).map(Some)
            }
            OrderType::Limit(limit) | OrderType::StopLimit { limit, .. } => {
                Ok(FillModel::limit_price_on_bar(side, limit, bar))
            }
        }
    }

    /// An untriggered stop keeps waiting whatever its time in force; anything else that could
    /// not fill leaves if it had only one chance.
    fn keeps_waiting(&self) -> bool {
        !self.trigger.triggered || !self.intent.time_in_force.is_immediate()
    }
}

/// The fill price of a limit order against a trade at `price`, if the trade reaches the limit.
fn limit_on_trade(side: Side, limit: Price, price: Price) -> Option<Price> {
    match side {
        Side::Buy if price <= limit => Some(price),
        Side::Sell if price >= limit => Some(price),
        _ => None,
    }
}

/// Outcome of submitting an order to a [`SimulatedVenue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// Filled at once (signal-bar-close timing, or a marketable limit at the close).
    Filled(SimFill),
    /// Resting until a later bar or trade.
    Working(SimOrderId),
    /// An IOC order that could not fill at once and was cancelled.
    Cancelled(SimOrderId),
}

/// Working orders of a simulation and their matching against bars or trades.
///
/// Allocation-free in steady state: working orders live in a vector that is reused, and fills
/// are pushed into a buffer owned by the caller.
#[derive(Debug, Clone, Default)]
pub struct SimulatedVenue {
    model: FillModel,
    working: Vec<WorkingOrder>,
    next_id: u64,
    /// Instruments whose prices round to their own tick rather than the model's.
    ticks: Vec<(InstrumentId, Price)>,
}

impl SimulatedVenue {
    /// A venue with no working orders that prices fills with `model`.
    #[must_use]
    pub fn new(model: FillModel) -> Self {
        Self { model, working: Vec::with_capacity(8), next_id: 1, ticks: Vec::new() }
    }

    /// Rounds `instrument`'s slipped prices and percent trails to `tick` from now on.
    pub fn set_tick(&mut self, instrument: InstrumentId, tick: Price) {
        match self.ticks.iter_mut().find(|(i, _)| *i == instrument) {
            Some(entry) => entry.1 = tick,
            None => self.ticks.push((instrument, tick)),
        }
    }

    /// The pricing rules for `instrument`: the model with the instrument's tick, if it has one.
    fn model_for(&self, instrument: InstrumentId) -> FillModel {
        match self.ticks.iter().find(|(i, _)| *i == instrument) {
            Some((_, tick)) => FillModel { tick: *tick, ..self.model },
            None => self.model,
        }
    }

    /// The pricing rules in use.
    #[must_use]
    pub const fn model(&self) -> &FillModel {
        &self.model
    }

    /// Signed quantity of the working orders in `instrument` (buys positive).
    #[must_use]
    pub fn working_qty(&self, instrument: InstrumentId) -> Qty {
        self.working
            .iter()
            .filter(|order| order.intent.instrument == instrument)
            .fold(Qty::ZERO, |sum, order| sum.checked_add(order.intent.signed_qty()).unwrap_or(Qty::MAX))
    }

    /// Number of working orders.
    #[must_use]
    pub fn working_count(&self) -> usize {
        self.working.len()
    }

    /// Cancels every working order in `instrument`; returns how many were cancelled.
    pub fn cancel_all(&mut self, instrument: InstrumentId) -> usize {
        let before = self.working.len();
        self.working.retain(|order| order.intent.instrument != instrument);
        before - self.working.len()
    }

    /// Cancels one working order; `false` when it is not working (filled, expired or unknown).
    pub fn cancel(&mut self, id: SimOrderId) -> bool {
        let Some(index) = self.working.iter().position(|order| order.id == id) else { return false };
        let order = self.working.remove(index);
        // A bracket entry cancelled after part of it filled leaves its legs for that part.
        self.release_legs(&order.intent, order.filled, order.id, order.submitted_day);
        true
    }

    /// Works the bracket legs of `entry` (order `id`) for `filled`, if it has a bracket and
    /// filled anything; they match from the next bar or trade on.
    fn release_legs(&mut self, entry: &OrderIntent, filled: Qty, id: SimOrderId, day: i64) {
        let Some(bracket) = entry.bracket.filter(|_| filled.is_positive()) else { return };
        for leg in bracket.legs(entry.instrument, entry.side, filled) {
            let leg_id = self.allocate_id();
            let mut order = WorkingOrder::new(leg_id, leg, day, None);
            order.group = Some(id.0);
            self.working.push(order);
        }
    }

    /// True while the order rests in the venue.
    #[must_use]
    pub fn is_working(&self, id: SimOrderId) -> bool {
        self.working.iter().any(|order| order.id == id)
    }

    /// Accepts an order decided on `signal_bar` (after the bar closed).
    ///
    /// With [`FillTiming::SignalBarClose`] a market order fills at once at the bar's close (with
    /// slippage), and a limit order that is marketable at the close fills there; anything else
    /// rests until a later bar. IOC orders that do not fill at once are cancelled.
    ///
    /// # Errors
    /// [`FillOverflow`] if the fill cannot be priced.
    pub fn submit_on_bar(&mut self, intent: OrderIntent, signal_bar: &Bar) -> Result<Submitted, FillOverflow> {
        let id = self.allocate_id();
        let mut order = WorkingOrder::new(id, intent, signal_bar.ts.utc_day(), Some(signal_bar.close));
        if self.model.timing == FillTiming::SignalBarClose {
            let model = self.model_for(intent.instrument);
            if let Some(price) = order.price_on_trade(&model, signal_bar.close)? {
                let fill = model.fill(id, &intent, price, signal_bar.ts)?;
                self.release_legs(&intent, intent.qty, id, signal_bar.ts.utc_day());
                return Ok(Submitted::Filled(fill));
            }
            if !order.keeps_waiting() {
                return Ok(Submitted::Cancelled(id));
            }
        }
        self.working.push(order);
        Ok(Submitted::Working(id))
    }

    /// Accepts an order submitted at `now` for matching against the next trades (paper venue).
    pub fn submit(&mut self, intent: OrderIntent, now: Timestamp) -> SimOrderId {
        self.submit_in_group(intent, now, None)
    }

    /// As [`Self::submit`], in one-cancels-other `group`: the first order of the group to fill
    /// (even in part) cancels the others at once, before any later trade. Bracket legs the venue
    /// releases itself are grouped by their entry's id; give groups of another number range.
    pub fn submit_in_group(&mut self, intent: OrderIntent, now: Timestamp, group: Option<u64>) -> SimOrderId {
        let id = self.allocate_id();
        let mut order = WorkingOrder::new(id, intent, now.utc_day(), None);
        order.group = group;
        self.working.push(order);
        id
    }

    /// Matches the working orders of `bar.instrument` against `bar`, pushing fills into `fills`
    /// and dropping filled, expired DAY and unfilled IOC orders.
    ///
    /// # Errors
    /// [`FillOverflow`] if a fill cannot be priced; the order stays working then.
    pub fn on_bar(&mut self, bar: &Bar, fills: &mut Vec<SimFill>) -> Result<(), FillOverflow> {
        if self.working.is_empty() {
            return Ok(());
        }
        let model = self.model_for(bar.instrument);
        self.match_working(bar.instrument, bar.ts, None, fills, |order| order.price_on_bar(&model, bar))
    }

    /// Matches the working orders of `instrument` against a trade at `price` (paper venue):
    /// market orders fill at the trade price with slippage, limits when the trade touches them.
    ///
    /// # Errors
    /// [`FillOverflow`] if a fill cannot be priced; the order stays working then.
    pub fn on_trade(
        &mut self,
        instrument: InstrumentId,
        price: Price,
        ts: Timestamp,
        fills: &mut Vec<SimFill>,
    ) -> Result<(), FillOverflow> {
        self.on_trade_with_liquidity(instrument, price, None, ts, fills)
    }

    /// As [`Self::on_trade`], with at most `available` units filled by this trade (its size),
    /// shared by the working orders in the order they arrived: an order larger than what is
    /// left fills partially and keeps working for the rest (an IOC order's rest is cancelled).
    /// `None` fills every matching order whole.
    ///
    /// # Errors
    /// [`FillOverflow`] if a fill cannot be priced; the order stays working then.
    pub fn on_trade_with_liquidity(
        &mut self,
        instrument: InstrumentId,
        price: Price,
        available: Option<Qty>,
        ts: Timestamp,
        fills: &mut Vec<SimFill>,
    ) -> Result<(), FillOverflow> {
        if self.working.is_empty() {
            return Ok(());
        }
        let model = self.model_for(instrument);
        self.match_working(instrument, ts, available, fills, |order| order.price_on_trade(&model, price))
    }

    fn match_working(
        &mut self,
        instrument: InstrumentId,
        ts: Timestamp,
        mut available: Option<Qty>,
        fills: &mut Vec<SimFill>,
        mut price_for: impl FnMut(&mut WorkingOrder) -> Result<Option<Price>, FillOverflow>,
    ) -> Result<(), FillOverflow> {
        let day = ts.utc_day();
        let model = self.model;
        let mut result = Ok(());
        // Bracket entries that left the book with fills, and legs that filled: settled after
        // the pass, so a leg released by this trade or bar only meets the next one.
        let mut done_entries: Vec<(OrderIntent, Qty, SimOrderId)> = Vec::new();
        let mut filled_legs: Vec<(u64, SimOrderId)> = Vec::new();
        self.working.retain_mut(|order| {
            if order.intent.instrument != instrument || result.is_err() {
                return true;
            }
            let keep = 'decide: {
                if order.intent.time_in_force == TimeInForce::Day && day > order.submitted_day {
                    break 'decide false;
                }
                let price = match price_for(order) {
                    Ok(Some(price)) => price,
                    Ok(None) => break 'decide order.keeps_waiting(),
                    Err(overflow) => {
                        result = Err(overflow);
                        break 'decide true;
                    }
                };
                let qty = match available {
                    // Fill or kill: all of it from this trade, or nothing and the order is gone.
                    Some(left) if left < order.intent.qty && order.intent.time_in_force == TimeInForce::Fok => {
                        break 'decide false;
                    }
                    Some(left) if left < order.intent.qty => left,
                    _ => order.intent.qty,
                };
                if !qty.is_positive() {
                    break 'decide !order.intent.time_in_force.is_immediate();
                }
                match model.partial_fill(order.id, &order.intent, qty, price, ts, !order.partly_filled) {
                    Ok(fill) => {
                        fills.push(fill);
                        available = available.map(|left| left.checked_sub(qty).unwrap_or(Qty::ZERO));
                        let rest = order.intent.qty.checked_sub(qty).unwrap_or(Qty::ZERO);
                        order.intent.qty = rest;
                        order.partly_filled = true;
                        order.filled = order.filled.checked_add(qty).unwrap_or(Qty::MAX);
                        if let Some(group) = order.group {
                            filled_legs.push((group, order.id));
                        }
                        rest.is_positive() && !order.intent.time_in_force.is_immediate()
                    }
                    Err(overflow) => {
                        result = Err(overflow);
                        true
                    }
                }
            };
            if !keep && order.intent.bracket.is_some() && order.filled.is_positive() {
                done_entries.push((order.intent, order.filled, order.id));
            }
            keep
        });
        for (group, leg) in filled_legs {
            self.working.retain(|order| order.group != Some(group) || order.id == leg);
        }
        for (entry, filled, id) in done_entries {
            self.release_legs(&entry, filled, id, day);
        }
        result
    }

    fn allocate_id(&mut self) -> SimOrderId {
        let id = SimOrderId(self.next_id);
        self.next_id += 1;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTRUMENT: InstrumentId = InstrumentId(7);

    fn price(text: &str) -> Price {
        text.parse().unwrap()
    }

    fn bar(ts_millis: i64, open: &str, high: &str, low: &str, close: &str) -> Bar {
        Bar {
            instrument: INSTRUMENT,
            ts: Timestamp::checked_from_millis(ts_millis).unwrap(),
            open: price(open),
            high: price(high),
            low: price(low),
            close: price(close),
            volume: Qty::from_units(1000),
        }
    }

    fn buy(qty: i64) -> OrderIntent {
        OrderIntent::market(INSTRUMENT, Side::Buy, Qty::from_units(qty))
    }

    fn model(timing: FillTiming) -> FillModel {
        FillModel { timing, tick: Price::tick_for_decimals(4).unwrap(), ..FillModel::default() }
    }

    #[test]
    fn market_order_fills_at_next_bar_open_by_default() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        let signal = bar(0, "10", "11", "9", "10.5");
        assert!(matches!(venue.submit_on_bar(buy(100), &signal), Ok(Submitted::Working(_))));
        let mut fills = Vec::new();
        venue.on_bar(&bar(60_000, "10.6", "11", "10", "10.8"), &mut fills).unwrap();
        assert_eq!(fills.len(), 1);
        assert_eq!(fills[0].fill.price, price("10.6"));
        assert_eq!(fills[0].fill.ts.millis(), 60_000);
        assert_eq!(venue.working_count(), 0);
    }

    #[test]
    fn market_order_fills_at_signal_bar_close_when_configured() {
        let mut venue = SimulatedVenue::new(model(FillTiming::SignalBarClose));
        let signal = bar(0, "10", "11", "9", "10.5");
        let Ok(Submitted::Filled(fill)) = venue.submit_on_bar(buy(100), &signal) else {
            panic!("market order must fill at the close");
        };
        assert_eq!(fill.fill.price, price("10.5"));
        assert_eq!(fill.fill.ts.millis(), 0);
    }

    #[test]
    fn slippage_moves_price_against_trader_and_rounds_to_tick() {
        let slipped = FillModel { slippage: Bps::from_bps(10), ..model(FillTiming::NextBarOpen) };
        // 100.0001 × 1.001 = 100.1001001 → buys round up to 100.1002
        assert_eq!(slipped.market_price(Side::Buy, price("100.0001")), Ok(price("100.1002")));
        // 100.0001 × 0.999 = 99.9000999 → sells round down to 99.9000
        assert_eq!(slipped.market_price(Side::Sell, price("100.0001")), Ok(price("99.9000")));
    }

    #[test]
    fn fees_add_per_order_and_proportional_parts() {
        let priced = FillModel {
            fees: FeeSchedule { per_order: "1".parse().unwrap(), rate: Bps::from_bps(10) },
            ..model(FillTiming::NextBarOpen)
        };
        // 100 × 50 = 5000 notional; 10 bp = 5; plus 1 per order.
        assert_eq!(priced.fee(price("50"), Qty::from_units(100)), Ok("6".parse().unwrap()));
    }

    #[test]
    fn buy_limit_fills_when_bar_low_touches_it_at_the_better_of_open_and_limit() {
        let touching = bar(0, "10", "11", "9.5", "10");
        assert_eq!(FillModel::limit_price_on_bar(Side::Buy, price("9.5"), &touching), Some(price("9.5")));
        let gapped_down = bar(0, "9", "9.2", "8.8", "9");
        assert_eq!(FillModel::limit_price_on_bar(Side::Buy, price("9.5"), &gapped_down), Some(price("9")));
        let above = bar(0, "10", "11", "9.6", "10");
        assert_eq!(FillModel::limit_price_on_bar(Side::Buy, price("9.5"), &above), None);
    }

    #[test]
    fn sell_limit_fills_when_bar_high_touches_it() {
        let touching = bar(0, "10", "11", "9", "10");
        assert_eq!(FillModel::limit_price_on_bar(Side::Sell, price("11"), &touching), Some(price("11")));
        assert_eq!(FillModel::limit_price_on_bar(Side::Sell, price("11.01"), &touching), None);
        let gapped_up = bar(0, "12", "12.5", "11.8", "12");
        assert_eq!(FillModel::limit_price_on_bar(Side::Sell, price("11"), &gapped_up), Some(price("12")));
    }

    #[test]
    fn gtc_limit_waits_until_touched() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        let intent = OrderIntent::limit(INSTRUMENT, Side::Buy, Qty::from_units(1), price("9"));
        venue.submit_on_bar(intent, &bar(0, "10", "10", "10", "10")).unwrap();
        let mut fills = Vec::new();
        venue.on_bar(&bar(60_000, "10", "10.5", "9.5", "10"), &mut fills).unwrap();
        assert!(fills.is_empty());
        assert_eq!(venue.working_qty(INSTRUMENT), Qty::from_units(1));
        venue.on_bar(&bar(120_000, "9.8", "9.9", "8.9", "9"), &mut fills).unwrap();
        assert_eq!(fills.len(), 1);
        assert_eq!(fills[0].fill.price, price("9"));
    }

    #[test]
    fn ioc_limit_gets_one_chance_then_is_cancelled() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        let intent = OrderIntent::limit(INSTRUMENT, Side::Buy, Qty::from_units(1), price("9"))
            .with_time_in_force(TimeInForce::Ioc);
        venue.submit_on_bar(intent, &bar(0, "10", "10", "10", "10")).unwrap();
        let mut fills = Vec::new();
        venue.on_bar(&bar(60_000, "10", "10.5", "9.5", "10"), &mut fills).unwrap();
        assert!(fills.is_empty());
        assert_eq!(venue.working_count(), 0);
    }

    #[test]
    fn ioc_limit_not_marketable_at_close_is_cancelled_with_close_timing() {
        let mut venue = SimulatedVenue::new(model(FillTiming::SignalBarClose));
        let intent = OrderIntent::limit(INSTRUMENT, Side::Buy, Qty::from_units(1), price("9"))
            .with_time_in_force(TimeInForce::Ioc);
        let outcome = venue.submit_on_bar(intent, &bar(0, "10", "10", "10", "10")).unwrap();
        assert!(matches!(outcome, Submitted::Cancelled(_)));
        assert_eq!(venue.working_count(), 0);
    }

    #[test]
    fn day_order_expires_on_the_next_utc_day() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        let intent = OrderIntent::limit(INSTRUMENT, Side::Buy, Qty::from_units(1), price("9"))
            .with_time_in_force(TimeInForce::Day);
        let day_ms = 86_400_000;
        venue.submit_on_bar(intent, &bar(day_ms - 120_000, "10", "10", "10", "10")).unwrap();
        let mut fills = Vec::new();
        venue.on_bar(&bar(day_ms - 60_000, "10", "10", "9.5", "10"), &mut fills).unwrap();
        assert_eq!(venue.working_count(), 1, "still the same day");
        venue.on_bar(&bar(day_ms, "8", "8", "8", "8"), &mut fills).unwrap();
        assert!(fills.is_empty(), "expired before it could fill on the new day");
        assert_eq!(venue.working_count(), 0);
    }

    #[test]
    fn orders_of_other_instruments_are_left_alone() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        venue.submit_on_bar(buy(1), &bar(0, "10", "10", "10", "10")).unwrap();
        let mut other = bar(60_000, "10", "10", "10", "10");
        other.instrument = InstrumentId(99);
        let mut fills = Vec::new();
        venue.on_bar(&other, &mut fills).unwrap();
        assert!(fills.is_empty());
        assert_eq!(venue.cancel_all(INSTRUMENT), 1);
    }

    #[test]
    fn cancelling_one_order_leaves_the_others_working() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        let first = venue.submit(buy(1), Timestamp::from_nanos(0));
        let second = venue.submit(buy(2), Timestamp::from_nanos(0));
        assert!(venue.cancel(first));
        assert!(!venue.cancel(first), "already cancelled");
        assert!(!venue.is_working(first));
        assert!(venue.is_working(second));
        assert_eq!(venue.working_qty(INSTRUMENT), Qty::from_units(2));
    }

    #[test]
    fn paper_trade_fills_market_at_trade_price_and_limits_when_touched() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        venue.submit(buy(1), Timestamp::from_nanos(0));
        venue.submit(
            OrderIntent::limit(INSTRUMENT, Side::Sell, Qty::from_units(1), price("11")),
            Timestamp::from_nanos(0),
        );
        let mut fills = Vec::new();
        venue.on_trade(INSTRUMENT, price("10.2"), Timestamp::from_nanos(5), &mut fills).unwrap();
        assert_eq!(fills.len(), 1);
        assert_eq!(fills[0].fill.price, price("10.2"));
        venue.on_trade(INSTRUMENT, price("11.1"), Timestamp::from_nanos(6), &mut fills).unwrap();
        assert_eq!(fills.len(), 2);
        assert_eq!(fills[1].fill.price, price("11.1"));
    }

    #[test]
    fn trades_fill_working_orders_up_to_their_size_and_the_rest_keeps_working() {
        let fees = FeeSchedule { per_order: Money::from_units(1), rate: Bps::ZERO };
        let mut venue = SimulatedVenue::new(FillModel { fees, ..model(FillTiming::NextBarOpen) });
        let first = venue.submit(buy(5), Timestamp::from_nanos(1));
        let second = venue.submit(buy(2), Timestamp::from_nanos(2));
        let mut fills = Vec::new();
        let at = |n| Timestamp::from_nanos(n);
        venue.on_trade_with_liquidity(INSTRUMENT, price("10"), Some(Qty::from_units(3)), at(3), &mut fills).unwrap();
        assert_eq!(fills.len(), 1, "the trade's 3 units all go to the first order");
        assert_eq!((fills[0].order_id, fills[0].fill.qty), (first, Qty::from_units(3)));
        assert_eq!(fills[0].fill.fee, Money::from_units(1), "the order fee on its first fill");
        assert_eq!(venue.working_qty(INSTRUMENT), Qty::from_units(4));
        fills.clear();
        venue.on_trade_with_liquidity(INSTRUMENT, price("10.1"), Some(Qty::from_units(3)), at(4), &mut fills).unwrap();
        let got: Vec<_> = fills.iter().map(|f| (f.order_id, f.fill.qty, f.fill.fee)).collect();
        assert_eq!(
            got,
            [(first, Qty::from_units(2), Money::ZERO), (second, Qty::from_units(1), Money::from_units(1))],
            "the rest of the first order, then part of the second"
        );
        assert!(!venue.is_working(first));
        assert!(venue.is_working(second));
        assert_eq!(venue.working_qty(INSTRUMENT), Qty::from_units(1));
    }

    #[test]
    fn an_ioc_order_larger_than_the_trade_fills_partly_and_the_rest_is_cancelled() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        let id = venue.submit(buy(5).with_time_in_force(TimeInForce::Ioc), Timestamp::from_nanos(1));
        let mut fills = Vec::new();
        venue
            .on_trade_with_liquidity(
                INSTRUMENT,
                price("10"),
                Some(Qty::from_units(2)),
                Timestamp::from_nanos(2),
                &mut fills,
            )
            .unwrap();
        assert_eq!(fills[0].fill.qty, Qty::from_units(2));
        assert!(!venue.is_working(id));
    }

    #[test]
    fn a_fok_order_larger_than_the_trade_is_cancelled_with_nothing_filled() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        venue.submit(buy(5).with_time_in_force(TimeInForce::Fok), Timestamp::from_nanos(1));
        let mut fills = Vec::new();
        venue
            .on_trade_with_liquidity(
                INSTRUMENT,
                price("10"),
                Some(Qty::from_units(2)),
                Timestamp::from_nanos(2),
                &mut fills,
            )
            .unwrap();
        assert!(fills.is_empty(), "nothing filled");
        assert_eq!(venue.working_count(), 0, "and the order is gone");
    }

    #[test]
    fn a_fok_order_the_trade_covers_fills_whole_and_an_untouched_fok_limit_is_cancelled() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        venue.submit(buy(2).with_time_in_force(TimeInForce::Fok), Timestamp::from_nanos(1));
        let limit = OrderIntent::limit(INSTRUMENT, Side::Buy, Qty::from_units(1), price("9"))
            .with_time_in_force(TimeInForce::Fok);
        venue.submit(limit, Timestamp::from_nanos(1));
        let mut fills = Vec::new();
        venue
            .on_trade_with_liquidity(
                INSTRUMENT,
                price("10"),
                Some(Qty::from_units(2)),
                Timestamp::from_nanos(2),
                &mut fills,
            )
            .unwrap();
        assert_eq!(fills.len(), 1);
        assert_eq!(fills[0].fill.qty, Qty::from_units(2));
        assert_eq!(venue.working_count(), 0, "the limit missed its one chance");
        let mut on_bars = SimulatedVenue::new(model(FillTiming::SignalBarClose));
        let missed = OrderIntent::limit(INSTRUMENT, Side::Buy, Qty::from_units(1), price("9"))
            .with_time_in_force(TimeInForce::Fok);
        assert!(matches!(
            on_bars.submit_on_bar(missed, &bar(0, "10", "10", "10", "10")).unwrap(),
            Submitted::Cancelled(_)
        ));
    }

    fn sell_order(order_type: OrderType) -> OrderIntent {
        OrderIntent::of_type(INSTRUMENT, Side::Sell, Qty::from_units(1), order_type)
    }

    fn trade(venue: &mut SimulatedVenue, at: &str, fills: &mut Vec<SimFill>) {
        venue.on_trade(INSTRUMENT, price(at), Timestamp::from_nanos(1), fills).unwrap();
    }

    #[test]
    fn a_stop_waits_for_its_trigger_then_fills_as_a_market_order_at_the_triggering_trade() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        venue.submit(sell_order(OrderType::Stop(price("99"))), Timestamp::from_nanos(0));
        let mut fills = Vec::new();
        trade(&mut venue, "99.5", &mut fills);
        assert!(fills.is_empty());
        trade(&mut venue, "98.7", &mut fills);
        assert_eq!(fills.len(), 1);
        assert_eq!(fills[0].fill.price, price("98.7"), "a stop is a market order once triggered");
    }

    #[test]
    fn a_stop_limit_triggers_then_fills_only_within_its_limit() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        venue.submit(
            sell_order(OrderType::StopLimit { stop: price("99"), limit: price("98.5") }),
            Timestamp::from_nanos(0),
        );
        let mut fills = Vec::new();
        trade(&mut venue, "98", &mut fills);
        assert!(fills.is_empty(), "triggered, but the trade is below its limit");
        assert_eq!(venue.working_count(), 1);
        trade(&mut venue, "98.6", &mut fills);
        assert_eq!(fills[0].fill.price, price("98.6"), "a limit order now, no longer a stop");
    }

    #[test]
    fn an_ioc_stop_waits_for_its_trigger_and_then_has_its_one_chance() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        let stop_limit = OrderType::StopLimit { stop: price("99"), limit: price("98.5") };
        venue.submit(sell_order(stop_limit).with_time_in_force(TimeInForce::Ioc), Timestamp::from_nanos(0));
        let mut fills = Vec::new();
        trade(&mut venue, "100", &mut fills);
        assert_eq!(venue.working_count(), 1, "not triggered: still waiting");
        trade(&mut venue, "98", &mut fills);
        assert!(fills.is_empty());
        assert_eq!(venue.working_count(), 0, "its one chance was the triggering trade");
    }

    #[test]
    fn a_trailing_stop_on_bars_trails_from_the_signal_close_and_fills_at_its_stop() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        let trailing = sell_order(OrderType::TrailingStop(crate::market::Trail::Amount(price("2"))));
        venue.submit_on_bar(trailing, &bar(0, "100", "100", "100", "100")).unwrap();
        let mut fills = Vec::new();
        venue.on_bar(&bar(60_000, "100", "104", "99", "103"), &mut fills).unwrap();
        assert!(fills.is_empty(), "the stop was at 98");
        venue.on_bar(&bar(120_000, "103", "103.5", "101", "101.5"), &mut fills).unwrap();
        assert_eq!(fills.len(), 1);
        assert_eq!(fills[0].fill.price, price("102"), "104 less 2");
    }

    #[test]
    fn a_buy_stop_on_a_bar_fills_at_the_open_when_the_bar_gaps_through_it() {
        let mut venue = SimulatedVenue::new(model(FillTiming::SignalBarClose));
        let stop = OrderIntent::of_type(INSTRUMENT, Side::Buy, Qty::from_units(1), OrderType::Stop(price("101")));
        assert!(matches!(
            venue.submit_on_bar(stop, &bar(0, "100", "100", "100", "100")).unwrap(),
            Submitted::Working(_)
        ));
        let mut fills = Vec::new();
        venue.on_bar(&bar(60_000, "102", "103", "101.5", "102"), &mut fills).unwrap();
        assert_eq!(fills[0].fill.price, price("102"));
    }

    #[test]
    fn an_instruments_own_tick_rounds_its_slipped_prices_and_others_keep_the_models() {
        let slipped = FillModel { slippage: Bps::from_bps(10), ..model(FillTiming::NextBarOpen) };
        let mut venue = SimulatedVenue::new(slipped);
        venue.set_tick(INSTRUMENT, price("0.05"));
        venue.submit(buy(1), Timestamp::from_nanos(0));
        let other = InstrumentId(8);
        venue.submit(OrderIntent::market(other, Side::Buy, Qty::from_units(1)), Timestamp::from_nanos(0));
        let mut fills = Vec::new();
        // 100.0001 × 1.001 = 100.1001001: up to 100.15 on a 0.05 grid, 100.1002 on the model's.
        venue.on_trade(INSTRUMENT, price("100.0001"), Timestamp::from_nanos(1), &mut fills).unwrap();
        venue.on_trade(other, price("100.0001"), Timestamp::from_nanos(1), &mut fills).unwrap();
        assert_eq!((fills[0].fill.price, fills[1].fill.price), (price("100.15"), price("100.1002")));
    }

    fn bracket_entry(qty: i64) -> OrderIntent {
        buy(qty).with_bracket(Some(price("105")), Some(price("98")))
    }

    #[test]
    fn a_filled_bracket_entry_leaves_its_legs_working_from_the_next_trade_and_the_first_to_fill_cancels_the_other() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        venue.submit(bracket_entry(2), Timestamp::from_nanos(0));
        let mut fills = Vec::new();
        trade(&mut venue, "106", &mut fills);
        assert_eq!(fills.len(), 1, "the entry only: its take-profit starts with the next trade");
        assert_eq!(venue.working_qty(INSTRUMENT), Qty::from_units(-4), "two sell legs of 2");
        trade(&mut venue, "105.5", &mut fills);
        assert_eq!(
            (fills[1].fill.side, fills[1].fill.qty, fills[1].fill.price),
            (Side::Sell, Qty::from_units(2), price("105.5"))
        );
        assert_eq!(venue.working_count(), 0, "the stop-loss went with the take-profit's fill");
    }

    #[test]
    fn a_bracket_entry_cancelled_after_a_partial_fill_protects_what_filled_and_one_that_filled_nothing_leaves_nothing()
    {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        let partly = venue.submit(bracket_entry(5), Timestamp::from_nanos(0));
        let mut fills = Vec::new();
        venue
            .on_trade_with_liquidity(
                INSTRUMENT,
                price("100"),
                Some(Qty::from_units(2)),
                Timestamp::from_nanos(1),
                &mut fills,
            )
            .unwrap();
        assert!(venue.cancel(partly));
        assert_eq!(venue.working_qty(INSTRUMENT), Qty::from_units(-4), "legs for the 2 filled");
        trade(&mut venue, "97.9", &mut fills);
        assert_eq!((fills[1].fill.qty, fills[1].fill.price), (Qty::from_units(2), price("97.9")), "stopped out");
        assert_eq!(venue.working_count(), 0);
        let unfilled = venue.submit(bracket_entry(1).with_time_in_force(TimeInForce::Day), Timestamp::from_nanos(0));
        assert!(venue.cancel(unfilled));
        assert_eq!(venue.working_count(), 0, "nothing filled, no legs");
    }

    #[test]
    fn a_bracket_on_bars_fills_its_take_profit_when_a_bar_reaches_it() {
        let mut venue = SimulatedVenue::new(model(FillTiming::NextBarOpen));
        venue.submit_on_bar(bracket_entry(1), &bar(0, "100", "100", "100", "100")).unwrap();
        let mut fills = Vec::new();
        venue.on_bar(&bar(60_000, "100", "106", "99", "104"), &mut fills).unwrap();
        assert_eq!(fills.len(), 1, "the entry at the open; its legs wait for the next bar");
        venue.on_bar(&bar(120_000, "104", "105.5", "103", "105"), &mut fills).unwrap();
        assert_eq!((fills[1].fill.side, fills[1].fill.price), (Side::Sell, price("105")));
        assert_eq!(venue.working_count(), 0);
    }
}
