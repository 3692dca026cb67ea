//! Trades the external signals it receives (e.g. TradingView alerts).

use super::{IntentBuffer, ParamReader, Strategy, StrategyBase, StrategyConfigError, StrategyContext, StrategyParams};
use crate::fixed::Qty;
use crate::market::{ExternalSignal, InstrumentId, OrderIntent, OrderType, Side, SignalAction};

/// Turns each external signal into one order:
/// - `buy`: buy the signal's quantity (or `quantity`);
/// - `sell`: sell it, capped at the long position unless `allow_short`;
/// - `exit`: close the whole position.
///
/// Orders are market orders, or limit orders at the signal's price with `use_signal_price`.
#[derive(Debug, Clone)]
pub struct SignalFollower {
    instrument: InstrumentId,
    quantity: Qty,
    use_signal_price: bool,
    allow_short: bool,
}

impl SignalFollower {
    /// Registry name.
    pub const NAME: &'static str = "signal_follower";

    /// Builds from optional `quantity`, `use_signal_price` (default false) and `allow_short`
    /// (default false).
    ///
    /// # Errors
    /// [`StrategyConfigError`] naming the bad parameter.
    pub fn from_params(params: &StrategyParams, base: StrategyBase) -> Result<Self, StrategyConfigError> {
        let mut reader = ParamReader::new(Self::NAME, params);
        let quantity = reader.positive_qty("quantity", base.quantity)?;
        let use_signal_price = reader.flag("use_signal_price", false)?;
        let allow_short = reader.flag("allow_short", false)?;
        reader.finish()?;
        Ok(Self { instrument: base.instrument, quantity, use_signal_price, allow_short })
    }

    fn order(&self, side: Side, qty: Qty, signal: &ExternalSignal) -> OrderIntent {
        let order_type = match (self.use_signal_price, signal.price) {
            (true, Some(price)) => OrderType::Limit(price),
            _ => OrderType::Market,
        };
        OrderIntent::of_type(self.instrument, side, qty, order_type)
    }
}

impl Strategy for SignalFollower {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn on_signal(&mut self, ctx: &StrategyContext, signal: &ExternalSignal, intents: &mut IntentBuffer) {
        if signal.instrument != self.instrument {
            return;
        }
        let asked = signal.qty.filter(|qty| qty.is_positive()).unwrap_or(self.quantity);
        match signal.action {
            SignalAction::Buy => intents.push(self.order(Side::Buy, asked, signal)),
            SignalAction::Sell => {
                let qty = if self.allow_short { asked } else { asked.min(ctx.position.max(Qty::ZERO)) };
                if qty.is_positive() {
                    intents.push(self.order(Side::Sell, qty, signal));
                }
            }
            SignalAction::Exit => {
                if let Some(held) = ctx.position.checked_abs().filter(|held| held.is_positive()) {
                    let side = if ctx.position.is_positive() { Side::Sell } else { Side::Buy };
                    intents.push(self.order(side, held, signal));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{base, INSTRUMENT};
    use super::*;
    use crate::market::Timestamp;

    fn follower(params: &str) -> SignalFollower {
        SignalFollower::from_params(&params.parse().unwrap(), base(10)).unwrap()
    }

    fn signal(action: SignalAction, qty: Option<i64>) -> ExternalSignal {
        ExternalSignal {
            instrument: INSTRUMENT,
            action,
            qty: qty.map(Qty::from_units),
            price: Some("101.5".parse().unwrap()),
            ts: Timestamp::from_nanos(0),
        }
    }

    fn react(strategy: &mut SignalFollower, position: i64, signal: &ExternalSignal) -> IntentBuffer {
        let ctx = StrategyContext { now: signal.ts, position: Qty::from_units(position), working: Qty::ZERO };
        let mut intents = IntentBuffer::new();
        strategy.on_signal(&ctx, signal, &mut intents);
        intents
    }

    #[test]
    fn buy_signal_buys_signal_quantity_or_default() {
        let mut strategy = follower("");
        let with_qty = react(&mut strategy, 0, &signal(SignalAction::Buy, Some(3)));
        assert_eq!(with_qty, vec![OrderIntent::market(INSTRUMENT, Side::Buy, Qty::from_units(3))]);
        let without = react(&mut strategy, 0, &signal(SignalAction::Buy, None));
        assert_eq!(without[0].qty, Qty::from_units(10));
    }

    #[test]
    fn sell_signal_is_capped_at_long_position_unless_shorting_is_allowed() {
        let mut long_only = follower("");
        assert_eq!(react(&mut long_only, 4, &signal(SignalAction::Sell, Some(10)))[0].qty, Qty::from_units(4));
        assert!(react(&mut long_only, 0, &signal(SignalAction::Sell, Some(10))).is_empty());
        let mut shorting = follower("allow_short=true");
        assert_eq!(react(&mut shorting, 0, &signal(SignalAction::Sell, Some(10)))[0].qty, Qty::from_units(10));
    }

    #[test]
    fn exit_signal_flattens_long_and_short_positions() {
        let mut strategy = follower("");
        let from_long = react(&mut strategy, 7, &signal(SignalAction::Exit, None));
        assert_eq!((from_long[0].side, from_long[0].qty), (Side::Sell, Qty::from_units(7)));
        let from_short = react(&mut strategy, -2, &signal(SignalAction::Exit, None));
        assert_eq!((from_short[0].side, from_short[0].qty), (Side::Buy, Qty::from_units(2)));
        assert!(react(&mut strategy, 0, &signal(SignalAction::Exit, None)).is_empty());
    }

    #[test]
    fn signal_price_becomes_limit_when_configured() {
        let mut strategy = follower("use_signal_price=true");
        let intents = react(&mut strategy, 0, &signal(SignalAction::Buy, Some(1)));
        assert_eq!(intents[0].order_type, OrderType::Limit("101.5".parse().unwrap()));
    }

    #[test]
    fn rejects_non_boolean_flag() {
        let error = SignalFollower::from_params(&"allow_short=maybe".parse().unwrap(), base(1)).unwrap_err();
        assert!(matches!(&error, StrategyConfigError::InvalidParam { param, .. } if param == "allow_short"));
    }
}
