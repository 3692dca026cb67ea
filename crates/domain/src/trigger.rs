//! Stop triggers: when a stop, stop-limit or trailing stop order comes alive.
//!
//! The same rules decide in the simulated venue (paper trading and backtests) and in the engine's
//! emulation of stops a venue does not support natively, so an emulated stop triggers on the
//! very trade a simulated one would.
//!
//! - A buy stop triggers on a trade at or above its stop price, a sell stop at or below.
//! - A trailing stop's reference is the best price since it was placed (the highest trade for a
//!   sell, the lowest for a buy); its stop is the reference less (sell) or plus (buy) the trail.
//!   A trade is first compared with the stop from before it, then moves the reference, so a
//!   trade never triggers the stop it has just moved.
//! - On a bar the stop triggers when the bar's range reaches it: at the open if the bar opens
//!   through it (a gap), otherwise at the stop price. A trailing stop's reference moves by the
//!   bar's high (sell) or low (buy) only when the bar did not trigger it.

use crate::fixed::Price;
use crate::market::{stop_reached, Bar, OrderType, Side, Trail};

/// The trigger state of one order. Orders that are not stops are always triggered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StopTrigger {
    /// A trade reached the stop: the order works as a market or limit order from now on.
    pub triggered: bool,
    /// A trailing stop's best price since it was placed (`None` until the first trade).
    pub reference: Option<Price>,
}

impl StopTrigger {
    /// The trigger of a new order of `order_type`; `reference` is the market price when it was
    /// placed, where known (a trailing stop starts trailing from it).
    #[must_use]
    pub fn new(order_type: OrderType, reference: Option<Price>) -> Self {
        Self { triggered: !order_type.is_stop(), reference }
    }

    /// The stop price in force, if there is one yet (a trailing stop needs its reference).
    #[must_use]
    pub fn stop_price(&self, side: Side, order_type: OrderType, tick: Price) -> Option<Price> {
        match order_type {
            OrderType::Stop(stop) | OrderType::StopLimit { stop, .. } => Some(stop),
            OrderType::TrailingStop(trail) => trail.stop_from(side, self.reference?, tick),
            OrderType::Market | OrderType::Limit(_) => None,
        }
    }

    /// Feeds a trade at `price`; returns whether the order is triggered (by it or before).
    pub fn on_trade(&mut self, side: Side, order_type: OrderType, price: Price, tick: Price) -> bool {
        if self.triggered {
            return true;
        }
        if let Some(stop) = self.stop_price(side, order_type, tick) {
            if stop_reached(side, stop, price) {
                self.triggered = true;
                return true;
            }
        }
        if let OrderType::TrailingStop(_) = order_type {
            self.reference = Some(self.reference.map_or(price, |best| better(side, best, price)));
        }
        false
    }

    /// Feeds a bar; returns the price the stop triggered at, if this bar triggered it (`None`
    /// when already triggered before or not reached).
    pub fn on_bar(&mut self, side: Side, order_type: OrderType, bar: &Bar, tick: Price) -> Option<Price> {
        if self.triggered {
            return None;
        }
        let trailing = matches!(order_type, OrderType::TrailingStop(_));
        if trailing && self.reference.is_none() {
            self.reference = Some(bar.open);
        }
        if let Some(stop) = self.stop_price(side, order_type, tick) {
            let at = match side {
                Side::Buy if bar.open >= stop => Some(bar.open),
                Side::Buy if bar.high >= stop => Some(stop),
                Side::Sell if bar.open <= stop => Some(bar.open),
                Side::Sell if bar.low <= stop => Some(stop),
                _ => None,
            };
            if at.is_some() {
                self.triggered = true;
                return at;
            }
        }
        if trailing {
            let extreme = match side {
                Side::Sell => bar.high,
                Side::Buy => bar.low,
            };
            self.reference = self.reference.map(|best| better(side, best, extreme));
        }
        None
    }
}

/// The better reference for a trailing stop on `side`: a sell trails the highest price, a buy
/// the lowest.
fn better(side: Side, best: Price, price: Price) -> Price {
    match side {
        Side::Sell => best.max(price),
        Side::Buy => best.min(price),
    }
}

impl Trail {
    /// Whether the trail is usable: a positive amount, or a percentage above 0 and below 100.
    #[must_use]
    pub fn is_valid(self) -> bool {
        match self {
            Trail::Amount(amount) => amount.is_positive(),
            Trail::Percent(pct) => pct.centi_bps() > 0 && pct.centi_bps() < 1_000_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::{Bps, Qty};
    use crate::market::{InstrumentId, Timestamp};

    fn p(text: &str) -> Price {
        text.parse().unwrap()
    }

    const TICK: Price = Price::from_raw(1_000_000);

    fn bar(open: &str, high: &str, low: &str, close: &str) -> Bar {
        Bar {
            instrument: InstrumentId(1),
            ts: Timestamp::from_nanos(0),
            open: p(open),
            high: p(high),
            low: p(low),
            close: p(close),
            volume: Qty::ONE,
        }
    }

    #[test]
    fn a_sell_stop_triggers_at_or_below_its_price_and_a_buy_stop_at_or_above() {
        let sell = OrderType::Stop(p("99"));
        let mut trigger = StopTrigger::new(sell, None);
        assert!(!trigger.on_trade(Side::Sell, sell, p("99.01"), TICK));
        assert!(trigger.on_trade(Side::Sell, sell, p("99"), TICK));
        assert!(trigger.on_trade(Side::Sell, sell, p("120"), TICK), "once triggered it stays triggered");
        let buy = OrderType::Stop(p("101"));
        let mut trigger = StopTrigger::new(buy, None);
        assert!(!trigger.on_trade(Side::Buy, buy, p("100.99"), TICK));
        assert!(trigger.on_trade(Side::Buy, buy, p("101.5"), TICK));
    }

    #[test]
    fn a_trailing_sell_stop_follows_the_high_and_triggers_on_the_pullback() {
        let order = OrderType::TrailingStop(Trail::Amount(p("2")));
        let mut trigger = StopTrigger::new(order, None);
        for price in ["100", "103", "102", "104"] {
            assert!(!trigger.on_trade(Side::Sell, order, p(price), TICK), "{price}");
        }
        assert_eq!(trigger.stop_price(Side::Sell, order, TICK), Some(p("102")));
        assert!(!trigger.on_trade(Side::Sell, order, p("102.01"), TICK));
        assert!(trigger.on_trade(Side::Sell, order, p("102"), TICK));
    }

    #[test]
    fn a_percent_trail_rounds_its_stop_away_from_the_market() {
        let order = OrderType::TrailingStop(Trail::Percent(Bps::from_bps(100)));
        let trigger = StopTrigger { triggered: false, reference: Some(p("100.55")) };
        // 100.55 × 0.99 = 99.5445 → a sell's stop rounds down to 99.54.
        assert_eq!(trigger.stop_price(Side::Sell, order, TICK), Some(p("99.54")));
        // 100.55 × 1.01 = 101.5555 → a buy's stop rounds up to 101.56.
        assert_eq!(trigger.stop_price(Side::Buy, order, TICK), Some(p("101.56")));
        assert!(!Trail::Percent(Bps::from_bps(10_000)).is_valid());
        assert!(!Trail::Amount(Price::ZERO).is_valid());
    }

    #[test]
    fn a_bar_triggers_at_the_stop_or_at_a_gapping_open_and_moves_a_trailing_reference_only_otherwise() {
        let stop = OrderType::Stop(p("99"));
        let mut trigger = StopTrigger::new(stop, None);
        assert_eq!(trigger.on_bar(Side::Sell, stop, &bar("100", "101", "99.5", "100"), TICK), None);
        assert_eq!(trigger.on_bar(Side::Sell, stop, &bar("100", "101", "98", "99"), TICK), Some(p("99")));
        let mut gapped = StopTrigger::new(stop, None);
        assert_eq!(gapped.on_bar(Side::Sell, stop, &bar("97", "98", "96", "97"), TICK), Some(p("97")));
        let trailing = OrderType::TrailingStop(Trail::Amount(p("3")));
        let mut trigger = StopTrigger::new(trailing, Some(p("100")));
        assert_eq!(trigger.on_bar(Side::Sell, trailing, &bar("100", "105", "98", "104"), TICK), None);
        assert_eq!(trigger.reference, Some(p("105")), "the high moves the reference");
        assert_eq!(trigger.on_bar(Side::Sell, trailing, &bar("104", "104", "101.5", "102"), TICK), Some(p("102")));
    }
}
