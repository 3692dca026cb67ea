//! Trades the first print through a price level, and holds for a fixed time.

use super::{IntentBuffer, ParamReader, Strategy, StrategyBase, StrategyConfigError, StrategyContext, StrategyParams};
use crate::fixed::{Price, Qty};
use crate::market::{Fill, InstrumentId, OrderIntent, Side, Tick, Timestamp};

/// Tick-driven breakout with a time exit:
/// - `on_tick`: when flat with nothing working, a trade above `level` after one at or below it
///   buys `quantity` at market;
/// - `on_fill`: the first fill that opens the position starts the holding clock;
/// - `on_timer`: once the position has been held `hold_seconds`, it is closed at market.
///
/// It reacts to every trade rather than to bars, so it shows what bar strategies cannot: the
/// engine drives ticks, fills and timers live exactly as it drives bars.
#[derive(Debug, Clone)]
pub struct LevelBreakout {
    instrument: InstrumentId,
    quantity: Qty,
    level: Price,
    hold_nanos: i64,
    last_price: Option<Price>,
    opened_at: Option<Timestamp>,
}

impl LevelBreakout {
    /// Registry name.
    pub const NAME: &'static str = "level_breakout";

    /// Builds from `level` (required), optional `quantity` and `hold_seconds` (1 to 86,400,
    /// default 60).
    ///
    /// # Errors
    /// [`StrategyConfigError`] naming the bad parameter.
    pub fn from_params(params: &StrategyParams, base: StrategyBase) -> Result<Self, StrategyConfigError> {
        let mut reader = ParamReader::new(Self::NAME, params);
        let level = reader.decimal_in("level", None, Price::from_raw(1), Price::MAX)?;
        let quantity = reader.positive_qty("quantity", base.quantity)?;
        let hold_seconds = reader.usize_in("hold_seconds", Some(60), 1, 86_400)?;
        reader.finish()?;
        Ok(Self {
            instrument: base.instrument,
            quantity,
            level,
            hold_nanos: i64::try_from(hold_seconds).unwrap_or(86_400) * 1_000_000_000,
            last_price: None,
            opened_at: None,
        })
    }

    fn market(&self, side: Side, qty: Qty) -> OrderIntent {
        OrderIntent::market(self.instrument, side, qty)
    }
}

impl Strategy for LevelBreakout {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn on_tick(&mut self, ctx: &StrategyContext, tick: &Tick, intents: &mut IntentBuffer) {
        if tick.instrument != self.instrument {
            return;
        }
        let crossed = self.last_price.is_some_and(|last| last <= self.level) && tick.price > self.level;
        self.last_price = Some(tick.price);
        if crossed && ctx.position.is_zero() && ctx.working.is_zero() {
            intents.push(self.market(Side::Buy, self.quantity));
        }
    }

    fn on_fill(&mut self, ctx: &StrategyContext, fill: &Fill, _intents: &mut IntentBuffer) {
        if fill.instrument != self.instrument {
            return;
        }
        if ctx.position.is_zero() {
            self.opened_at = None;
        } else if self.opened_at.is_none() {
            self.opened_at = Some(fill.ts);
        }
    }

    fn uses_timer(&self) -> bool {
        true
    }

    fn on_timer(&mut self, ctx: &StrategyContext, intents: &mut IntentBuffer) {
        let Some(opened) = self.opened_at else { return };
        if ctx.now.nanos().saturating_sub(opened.nanos()) < self.hold_nanos || !ctx.working.is_zero() {
            return;
        }
        if ctx.position.is_positive() {
            intents.push(self.market(Side::Sell, ctx.position));
        } else if ctx.position.is_zero() {
            self.opened_at = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{base, INSTRUMENT};
    use super::*;

    fn strategy(params: &str) -> LevelBreakout {
        LevelBreakout::from_params(&params.parse().unwrap(), base(3)).unwrap()
    }

    fn ctx(now_secs: i64, position: i64) -> StrategyContext {
        StrategyContext {
            now: Timestamp::from_nanos(now_secs * 1_000_000_000),
            position: Qty::from_units(position),
            working: Qty::ZERO,
        }
    }

    fn tick(price: &str) -> Tick {
        Tick { instrument: INSTRUMENT, ts: Timestamp::from_nanos(0), price: price.parse().unwrap(), size: Qty::ONE }
    }

    #[test]
    fn a_trade_through_the_level_buys_once_and_the_timer_closes_after_the_holding_time() {
        let mut s = strategy("level=100,hold_seconds=30");
        let mut intents = IntentBuffer::new();
        s.on_tick(&ctx(0, 0), &tick("101"), &mut intents);
        assert!(intents.is_empty(), "the first trade has nothing to cross from");
        s.on_tick(&ctx(1, 0), &tick("99.5"), &mut intents);
        s.on_tick(&ctx(2, 0), &tick("100.01"), &mut intents);
        assert_eq!(intents, [OrderIntent::market(INSTRUMENT, Side::Buy, Qty::from_units(3))]);
        intents.clear();
        let fill = Fill {
            instrument: INSTRUMENT,
            side: Side::Buy,
            qty: Qty::from_units(3),
            price: "100.01".parse().unwrap(),
            fee: crate::fixed::Money::ZERO,
            ts: Timestamp::from_nanos(3_000_000_000),
        };
        s.on_fill(&ctx(3, 3), &fill, &mut intents);
        s.on_timer(&ctx(32, 3), &mut intents);
        assert!(intents.is_empty(), "held 29 s of 30");
        s.on_timer(&ctx(33, 3), &mut intents);
        assert_eq!(intents, [OrderIntent::market(INSTRUMENT, Side::Sell, Qty::from_units(3))]);
    }

    #[test]
    fn a_missing_level_is_refused() {
        let error = LevelBreakout::from_params(&"hold_seconds=5".parse().unwrap(), base(1)).unwrap_err();
        assert_eq!(error.to_string(), "strategy `level_breakout`: missing parameter `level`");
    }
}
