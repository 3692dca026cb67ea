//! Pre-trade risk checks: a pure function of the order, the account's state and the limits.
//! The engine does the I/O around it (loading limits, counting order rates, storing the reason).

use crate::fixed::{Bps, Money, Price, Qty};
use crate::market::{OrderIntent, OrderType};

/// Why an order was refused; stored on the rejected order as [`RiskReason::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RiskReason {
    /// Trading is halted (kill switch); under a reduce-only halt, the order would open, grow or
    /// flip a position.
    Halted,
    /// Quantity zero or negative.
    InvalidQuantity,
    /// Order quantity above the maximum.
    MaxOrderQty,
    /// Order notional above the maximum.
    MaxOrderNotional,
    /// The position after the order (and working orders) would exceed the maximum.
    MaxPosition,
    /// The account's gross exposure after the order would exceed the maximum.
    MaxGrossExposure,
    /// The limit price is too far from the last trade (fat finger).
    PriceCollar,
    /// A notional or collar check needs a last trade price and there is none.
    NoReferencePrice,
    /// The daily loss limit is breached; only orders that reduce the position pass.
    DailyLossLimit,
    /// Too many orders in the rate window (counted by the engine, not by [`check_order`]).
    OrderRateLimit,
    /// The order costs more than the broker account can spend (the venue's buying power, less
    /// what the engine sent since the venue said so).
    InsufficientBuyingPower,
    /// A reduce-only order would open, grow or flip the position (working orders included).
    ReduceOnly,
    /// The quantity is not a whole number of the instrument's lots.
    LotSize,
    /// A limit or stop price is not on the instrument's price grid (tick size).
    TickSize,
    /// The order's notional is below the instrument's minimum.
    MinNotional,
}

impl RiskReason {
    /// Stable snake_case code for storage and APIs.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::Halted => "halted",
            Self::InvalidQuantity => "invalid_quantity",
            Self::MaxOrderQty => "max_order_qty",
            Self::MaxOrderNotional => "max_order_notional",
            Self::MaxPosition => "max_position",
            Self::MaxGrossExposure => "max_gross_exposure",
            Self::PriceCollar => "price_collar",
            Self::NoReferencePrice => "no_reference_price",
            Self::DailyLossLimit => "daily_loss_limit",
            Self::OrderRateLimit => "order_rate_limit",
            Self::InsufficientBuyingPower => "insufficient_buying_power",
            Self::ReduceOnly => "reduce_only",
            Self::LotSize => "lot_size",
            Self::TickSize => "tick_size",
            Self::MinNotional => "min_notional",
        }
    }
}

/// An order refused by a risk check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("order rejected by risk check `{}`", reason.code())]
pub struct RiskRejection {
    /// Which check refused it.
    pub reason: RiskReason,
}

/// Limits of one account (and strategy); `None` disables a check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RiskLimits {
    /// Largest quantity of a single order.
    pub max_order_qty: Option<Qty>,
    /// Largest notional of a single order.
    pub max_order_notional: Option<Money>,
    /// Largest absolute position per symbol, working orders included.
    pub max_position: Option<Qty>,
    /// Largest sum of absolute position values across symbols.
    pub max_gross_exposure: Option<Money>,
    /// Largest distance of a limit price from the last trade.
    pub price_collar: Option<Bps>,
    /// Largest loss (realized + unrealized) allowed in a day, as a positive amount.
    pub max_daily_loss: Option<Money>,
}

/// What the venue accepts for one instrument; `None` leaves a rule unchecked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstrumentRules {
    /// Prices (limit and stop) must be whole multiples of it.
    pub tick_size: Option<Price>,
    /// Quantities must be whole multiples of it.
    pub lot_size: Option<Qty>,
    /// Smallest notional of an order (valued as the notional check values it).
    pub min_notional: Option<Money>,
}

impl InstrumentRules {
    /// Whether `price` is on the price grid.
    #[must_use]
    pub fn on_tick(&self, price: Price) -> bool {
        self.tick_size.is_none_or(|tick| tick.raw() > 0 && price.raw() % tick.raw() == 0)
    }

    /// Whether `qty` is a whole number of lots.
    #[must_use]
    pub fn whole_lots(&self, qty: Qty) -> bool {
        self.lot_size.is_none_or(|lot| lot.raw() > 0 && qty.raw() % lot.raw() == 0)
    }
}

/// What the checks need to know about the account at the time of the order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RiskSnapshot {
    /// Trading halted for this account or strategy.
    pub halted: bool,
    /// A reduce-only halt covers the order: only an order that brings the position (working
    /// orders included) closer to flat without crossing it passes.
    pub reduce_only: bool,
    /// Signed position in the order's instrument.
    pub position: Qty,
    /// Signed quantity of working orders in that instrument.
    pub working: Qty,
    /// Last trade price of the instrument, if any.
    pub last_trade: Option<Price>,
    /// Sum of absolute position values across all instruments, this one included.
    pub gross_exposure: Money,
    /// Realized plus unrealized P&L since the start of the day.
    pub daily_pnl: Money,
    /// What the broker account can still spend on this order, when the venue says (a live
    /// venue's buying power; `None` for paper, or while the venue has not answered).
    pub buying_power: Option<Money>,
    /// The instrument's lot, tick and minimum notional.
    pub instrument: InstrumentRules,
}

/// Checks `intent` against `limits`; `Ok` means the order may be sent.
///
/// Checks run in a fixed order (halt, quantity, reduce-only, the instrument's lot and tick,
/// daily loss, order size, minimum notional, collar, position, exposure, buying power) and the
/// first failure is reported. Market orders are valued at the last trade,
/// limit orders at their limit price.
///
/// # Errors
/// [`RiskRejection`] with the reason of the first failed check.
pub fn check_order(intent: &OrderIntent, state: &RiskSnapshot, limits: &RiskLimits) -> Result<(), RiskRejection> {
    let reject = |reason| Err(RiskRejection { reason });
    if state.halted {
        return reject(RiskReason::Halted);
    }
    if !intent.qty.is_positive() {
        return reject(RiskReason::InvalidQuantity);
    }
    let signed = intent.signed_qty();
    let committed = state.position.checked_add(state.working).unwrap_or(Qty::MAX);
    let projected = committed.checked_add(signed).unwrap_or(Qty::MAX);
    let reduces_risk = projected.checked_abs().unwrap_or(Qty::MAX) < committed.checked_abs().unwrap_or(Qty::MAX);
    let closes_without_crossing =
        reduces_risk && (projected.is_zero() || projected.is_positive() == committed.is_positive());
    if state.reduce_only && !closes_without_crossing {
        return reject(RiskReason::Halted);
    }
    if intent.reduce_only && !closes_without_crossing {
        return reject(RiskReason::ReduceOnly);
    }
    if !state.instrument.whole_lots(intent.qty) {
        return reject(RiskReason::LotSize);
    }
    let prices = [intent.order_type.limit_price(), intent.order_type.stop_price()];
    if prices.iter().flatten().any(|price| !state.instrument.on_tick(*price)) {
        return reject(RiskReason::TickSize);
    }

    if let Some(max_loss) = limits.max_daily_loss {
        let loss = state.daily_pnl.checked_neg().unwrap_or(Money::MAX);
        if loss >= max_loss && !reduces_risk {
            return reject(RiskReason::DailyLossLimit);
        }
    }
    if limits.max_order_qty.is_some_and(|max| intent.qty > max) {
        return reject(RiskReason::MaxOrderQty);
    }
    // A stop is valued at the price it triggers at (a trailing stop's is not known yet).
    let valuation_price = match intent.order_type {
        OrderType::Limit(price) | OrderType::StopLimit { limit: price, .. } | OrderType::Stop(price) => Some(price),
        OrderType::Market | OrderType::TrailingStop(_) => state.last_trade,
    };
    if let Some(max_notional) = limits.max_order_notional {
        let Some(price) = valuation_price else {
            return reject(RiskReason::NoReferencePrice);
        };
        let notional = price.checked_notional(intent.qty).unwrap_or(Money::MAX);
        if notional > max_notional {
            return reject(RiskReason::MaxOrderNotional);
        }
    }
    if let (Some(minimum), Some(price)) = (state.instrument.min_notional, valuation_price) {
        if price.checked_notional(intent.qty).unwrap_or(Money::MAX) < minimum {
            return reject(RiskReason::MinNotional);
        }
    }
    if let (Some(collar), Some(limit)) = (limits.price_collar, intent.order_type.limit_price()) {
        let Some(last) = state.last_trade else {
            return reject(RiskReason::NoReferencePrice);
        };
        let distance =
            Money::from_raw(limit.checked_sub(last).and_then(Price::checked_abs).unwrap_or(Price::MAX).raw());
        let allowed = collar.checked_apply(Money::from_raw(last.raw())).unwrap_or(Money::ZERO);
        if distance > allowed {
            return reject(RiskReason::PriceCollar);
        }
    }
    if let Some(max_position) = limits.max_position {
        if projected.checked_abs().unwrap_or(Qty::MAX) > max_position && !reduces_risk {
            return reject(RiskReason::MaxPosition);
        }
    }
    if let Some(max_gross) = limits.max_gross_exposure {
        if !reduces_risk {
            let Some(price) = state.last_trade.or(valuation_price) else {
                return reject(RiskReason::NoReferencePrice);
            };
            let value_of = |qty: Qty| price.checked_notional(qty).and_then(Money::checked_abs).unwrap_or(Money::MAX);
            let projected_gross = state
                .gross_exposure
                .checked_sub(value_of(state.position))
                .and_then(|others| others.checked_add(value_of(projected)))
                .unwrap_or(Money::MAX);
            if projected_gross > max_gross {
                return reject(RiskReason::MaxGrossExposure);
            }
        }
    }
    // An order that reduces the position frees buying power rather than using it. A market
    // order with no last trade to value it by is left to the venue, which checks its own
    // buying power: the figure is the venue's, not a limit the trader set.
    if let (Some(available), false, Some(price)) = (state.buying_power, reduces_risk, valuation_price) {
        if price.checked_notional(intent.qty).unwrap_or(Money::MAX) > available {
            return reject(RiskReason::InsufficientBuyingPower);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::{InstrumentId, Side};

    fn qty(units: i64) -> Qty {
        Qty::from_units(units)
    }

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    fn buy(units: i64) -> OrderIntent {
        OrderIntent::market(InstrumentId(1), Side::Buy, qty(units))
    }

    fn state() -> RiskSnapshot {
        RiskSnapshot { last_trade: Some(Price::from_units(100)), ..RiskSnapshot::default() }
    }

    fn reason(result: Result<(), RiskRejection>) -> Option<RiskReason> {
        result.err().map(|rejection| rejection.reason)
    }

    #[test]
    fn a_reduce_only_halt_passes_only_orders_that_bring_the_position_closer_to_flat_without_crossing() {
        let limits = RiskLimits::default();
        let long = RiskSnapshot { position: qty(10), reduce_only: true, ..state() };
        let sell = |units| OrderIntent::market(InstrumentId(1), Side::Sell, qty(units));
        assert_eq!(reason(check_order(&sell(4), &long, &limits)), None, "partly closing");
        assert_eq!(reason(check_order(&sell(10), &long, &limits)), None, "closing");
        assert_eq!(reason(check_order(&sell(15), &long, &limits)), Some(RiskReason::Halted), "flipping short");
        assert_eq!(reason(check_order(&buy(1), &long, &limits)), Some(RiskReason::Halted), "growing");
        let flat = RiskSnapshot { reduce_only: true, ..state() };
        assert_eq!(reason(check_order(&buy(1), &flat, &limits)), Some(RiskReason::Halted), "opening");
        let closing_already = RiskSnapshot { position: qty(10), working: qty(-10), reduce_only: true, ..state() };
        assert_eq!(
            reason(check_order(&sell(1), &closing_already, &limits)),
            Some(RiskReason::Halted),
            "working orders count"
        );
    }

    #[test]
    fn a_reduce_only_order_is_refused_when_it_would_open_grow_or_flip_the_position() {
        let limits = RiskLimits::default();
        let sell = |units| OrderIntent::market(InstrumentId(1), Side::Sell, qty(units)).reducing_only();
        let long = RiskSnapshot { position: qty(10), ..state() };
        assert_eq!(reason(check_order(&sell(10), &long, &limits)), None, "closing");
        assert_eq!(reason(check_order(&sell(11), &long, &limits)), Some(RiskReason::ReduceOnly), "flipping");
        assert_eq!(reason(check_order(&buy(1).reducing_only(), &long, &limits)), Some(RiskReason::ReduceOnly));
        let flat = state();
        assert_eq!(reason(check_order(&sell(1), &flat, &limits)), Some(RiskReason::ReduceOnly), "opening");
        let stop_working = RiskSnapshot { position: qty(10), working: qty(-10), ..state() };
        assert_eq!(
            reason(check_order(&sell(5), &stop_working, &limits)),
            Some(RiskReason::ReduceOnly),
            "a working stop already closes it"
        );
        assert_eq!(RiskReason::ReduceOnly.code(), "reduce_only");
    }

    #[test]
    fn orders_off_the_instruments_lot_or_tick_or_below_its_minimum_notional_are_refused() {
        let limits = RiskLimits::default();
        let rules = InstrumentRules {
            tick_size: Some("0.05".parse().unwrap()),
            lot_size: Some(qty(10)),
            min_notional: Some(money("1000")),
        };
        let listed = RiskSnapshot { instrument: rules, ..state() };
        let limit =
            |units, price: &str| OrderIntent::limit(InstrumentId(1), Side::Buy, qty(units), price.parse().unwrap());
        assert_eq!(reason(check_order(&limit(10, "100.05"), &listed, &limits)), None);
        assert_eq!(reason(check_order(&limit(15, "100.05"), &listed, &limits)), Some(RiskReason::LotSize));
        assert_eq!(reason(check_order(&limit(10, "100.02"), &listed, &limits)), Some(RiskReason::TickSize));
        assert_eq!(reason(check_order(&limit(10, "99.95"), &listed, &limits)), Some(RiskReason::MinNotional));
        let stop =
            OrderIntent::of_type(InstrumentId(1), Side::Sell, qty(10), OrderType::Stop("100.01".parse().unwrap()));
        assert_eq!(reason(check_order(&stop, &listed, &limits)), Some(RiskReason::TickSize), "stop prices too");
        assert_eq!(reason(check_order(&buy(10), &listed, &limits)), None, "a market order at the last trade of 100");
        assert_eq!(reason(check_order(&buy(5), &state(), &limits)), None, "no rules, no checks");
    }

    #[test]
    fn stops_are_valued_at_their_stop_and_stop_limits_at_their_limit() {
        let limits = RiskLimits { max_order_notional: Some(money("1000")), ..RiskLimits::default() };
        let order = |order_type| OrderIntent::of_type(InstrumentId(1), Side::Buy, qty(10), order_type);
        let stop = order(OrderType::Stop(Price::from_units(101)));
        assert_eq!(reason(check_order(&stop, &state(), &limits)), Some(RiskReason::MaxOrderNotional));
        let stop_limit = order(OrderType::StopLimit { stop: Price::from_units(101), limit: Price::from_units(99) });
        assert_eq!(reason(check_order(&stop_limit, &state(), &limits)), None);
    }

    #[test]
    fn deny_order_costing_more_than_the_buying_power_unless_it_reduces_the_position() {
        let limits = RiskLimits::default();
        let poor = RiskSnapshot { buying_power: Some(money("999.99")), ..state() };
        assert_eq!(reason(check_order(&buy(10), &poor, &limits)), Some(RiskReason::InsufficientBuyingPower));
        let enough = RiskSnapshot { buying_power: Some(money("1000")), ..state() };
        assert_eq!(reason(check_order(&buy(10), &enough, &limits)), None, "exactly affordable");
        let long = RiskSnapshot { position: qty(10), buying_power: Some(Money::ZERO), ..state() };
        let sell = OrderIntent::market(InstrumentId(1), Side::Sell, qty(10));
        assert_eq!(reason(check_order(&sell, &long, &limits)), None, "closing needs no buying power");
        let unknown = RiskSnapshot { buying_power: None, ..state() };
        assert_eq!(reason(check_order(&buy(10), &unknown, &limits)), None, "no figure, no check");
        let no_price = RiskSnapshot { buying_power: Some(money("1000000")), last_trade: None, ..state() };
        assert_eq!(reason(check_order(&buy(10), &no_price, &limits)), None, "left to the venue");
    }

    #[test]
    fn order_within_all_limits_passes() {
        let limits = RiskLimits {
            max_order_qty: Some(qty(100)),
            max_order_notional: Some(money("10000")),
            max_position: Some(qty(100)),
            max_gross_exposure: Some(money("10000")),
            price_collar: Some(Bps::from_bps(50)),
            max_daily_loss: Some(money("500")),
        };
        assert_eq!(check_order(&buy(100), &state(), &limits), Ok(()));
    }

    #[test]
    fn halted_account_rejects_everything() {
        let halted = RiskSnapshot { halted: true, ..state() };
        assert_eq!(reason(check_order(&buy(1), &halted, &RiskLimits::default())), Some(RiskReason::Halted));
    }

    #[test]
    fn deny_order_exceeding_max_order_qty() {
        let limits = RiskLimits { max_order_qty: Some(qty(10)), ..RiskLimits::default() };
        assert_eq!(reason(check_order(&buy(11), &state(), &limits)), Some(RiskReason::MaxOrderQty));
    }

    #[test]
    fn deny_order_exceeding_max_notional_valued_at_last_trade() {
        let limits = RiskLimits { max_order_notional: Some(money("999.99")), ..RiskLimits::default() };
        assert_eq!(reason(check_order(&buy(10), &state(), &limits)), Some(RiskReason::MaxOrderNotional));
        let no_price = RiskSnapshot { last_trade: None, ..state() };
        assert_eq!(reason(check_order(&buy(1), &no_price, &limits)), Some(RiskReason::NoReferencePrice));
    }

    #[test]
    fn deny_order_that_would_exceed_max_position_counting_working_orders() {
        let limits = RiskLimits { max_position: Some(qty(100)), ..RiskLimits::default() };
        let long = RiskSnapshot { position: qty(60), working: qty(30), ..state() };
        assert_eq!(reason(check_order(&buy(11), &long, &limits)), Some(RiskReason::MaxPosition));
        assert_eq!(check_order(&buy(10), &long, &limits), Ok(()));
    }

    #[test]
    fn reducing_order_passes_even_beyond_position_and_loss_limits() {
        let limits =
            RiskLimits { max_position: Some(qty(10)), max_daily_loss: Some(money("100")), ..RiskLimits::default() };
        let over = RiskSnapshot { position: qty(50), daily_pnl: money("-200"), ..state() };
        let sell = OrderIntent::market(InstrumentId(1), Side::Sell, qty(20));
        assert_eq!(check_order(&sell, &over, &limits), Ok(()));
        assert_eq!(reason(check_order(&buy(1), &over, &limits)), Some(RiskReason::DailyLossLimit));
    }

    #[test]
    fn deny_order_raising_gross_exposure_above_maximum() {
        let limits = RiskLimits { max_gross_exposure: Some(money("15000")), ..RiskLimits::default() };
        // 50 held here (5,000) plus 8,000 elsewhere; buying 21 more adds 2,100 → 15,100.
        let snapshot = RiskSnapshot { position: qty(50), gross_exposure: money("13000"), ..state() };
        assert_eq!(reason(check_order(&buy(21), &snapshot, &limits)), Some(RiskReason::MaxGrossExposure));
        assert_eq!(check_order(&buy(20), &snapshot, &limits), Ok(()));
    }

    #[test]
    fn deny_limit_price_outside_collar_around_last_trade() {
        let limits = RiskLimits { price_collar: Some(Bps::from_bps(100)), ..RiskLimits::default() };
        let far = OrderIntent::limit(InstrumentId(1), Side::Buy, qty(1), "101.01".parse().unwrap());
        assert_eq!(reason(check_order(&far, &state(), &limits)), Some(RiskReason::PriceCollar));
        let edge = OrderIntent::limit(InstrumentId(1), Side::Buy, qty(1), "101".parse().unwrap());
        assert_eq!(check_order(&edge, &state(), &limits), Ok(()));
    }

    #[test]
    fn zero_quantity_is_invalid() {
        assert_eq!(reason(check_order(&buy(0), &state(), &RiskLimits::default())), Some(RiskReason::InvalidQuantity));
    }

    #[test]
    fn reason_codes_are_snake_case() {
        assert_eq!(RiskReason::MaxGrossExposure.code(), "max_gross_exposure");
        assert_eq!(
            RiskRejection { reason: RiskReason::PriceCollar }.to_string(),
            "order rejected by risk check `price_collar`"
        );
    }
}
