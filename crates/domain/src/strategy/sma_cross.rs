//! Simple-moving-average crossover, long only.

use super::{
    IntentBuffer, ParamReader, PriceWindow, Strategy, StrategyBase, StrategyConfigError, StrategyContext,
    StrategyParams,
};
use crate::fixed::Qty;
use crate::market::{Bar, InstrumentId, OrderIntent, Side};

/// SMA(fast) / SMA(slow) crossover on closes, long only.
///
/// - Cross up at bar t: SMA(fast) > SMA(slow) at t, and the last non-zero difference before t
///   was negative; cross down symmetrically. An exact tie does not change the state.
/// - On a cross up while flat (and with nothing working): buy `quantity`. On a cross down while
///   long: sell the whole position.
///
/// The averages are compared exactly in integers (`sum_fast × slow` vs `sum_slow × fast`), so
/// no rounding can flip a signal.
#[derive(Debug, Clone)]
pub struct SmaCross {
    instrument: InstrumentId,
    quantity: Qty,
    fast: usize,
    slow: usize,
    closes: PriceWindow,
    fast_sum: i128,
    slow_sum: i128,
    /// Sign of the last non-zero (fast - slow), 0 before the first one.
    last_sign: i8,
}

impl SmaCross {
    /// Registry name.
    pub const NAME: &'static str = "sma_cross";

    /// Builds from parameters `fast` (default 10), `slow` (default 30, above `fast`) and
    /// optional `quantity`.
    ///
    /// # Errors
    /// [`StrategyConfigError`] naming the bad parameter.
    pub fn from_params(params: &StrategyParams, base: StrategyBase) -> Result<Self, StrategyConfigError> {
        let mut reader = ParamReader::new(Self::NAME, params);
        let fast = reader.usize_in("fast", Some(10), 1, 100_000)?;
        let slow = reader.usize_in("slow", Some(30), 2, 100_000)?;
        let quantity = reader.positive_qty("quantity", base.quantity)?;
        if fast >= slow {
            return Err(reader.invalid("fast", &fast.to_string(), &format!("less than slow ({slow})")));
        }
        reader.finish()?;
        Ok(Self::new(base.instrument, quantity, fast, slow))
    }

    /// A crossover of SMA(`fast`) over SMA(`slow`) trading `quantity`; the caller ensures
    /// `0 < fast < slow` (use [`Self::from_params`] for validation).
    #[must_use]
    pub fn new(instrument: InstrumentId, quantity: Qty, fast: usize, slow: usize) -> Self {
        Self {
            instrument,
            quantity,
            fast,
            slow,
            closes: PriceWindow::new(slow),
            fast_sum: 0,
            slow_sum: 0,
            last_sign: 0,
        }
    }
}

impl Strategy for SmaCross {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    #[inline]
    fn on_bar(&mut self, ctx: &StrategyContext, bar: &Bar, intents: &mut IntentBuffer) {
        if bar.instrument != self.instrument {
            return;
        }
        let close = bar.close.raw();
        // The close that leaves the fast window is the one `fast` bars back, read before the
        // push overwrites anything.
        let leaving_fast = self.closes.back(self.fast - 1);
        let leaving_slow = self.closes.push(close);
        self.fast_sum += i128::from(close) - leaving_fast.map_or(0, i128::from);
        self.slow_sum += i128::from(close) - leaving_slow.map_or(0, i128::from);
        if !self.closes.is_full() {
            return;
        }
        let difference = self.fast_sum * self.slow as i128 - self.slow_sum * self.fast as i128;
        let sign = difference.signum() as i8;
        if sign == 0 {
            return;
        }
        let previous = self.last_sign;
        self.last_sign = sign;
        if sign > 0 && previous < 0 {
            if ctx.position.is_zero() && ctx.working.is_zero() {
                intents.push(OrderIntent::market(self.instrument, Side::Buy, self.quantity));
            }
        } else if sign < 0 && previous > 0 && ctx.position.is_positive() && ctx.working.is_zero() {
            intents.push(OrderIntent::market(self.instrument, Side::Sell, ctx.position));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{base, run_closes};
    use super::*;

    fn sma(fast: &str, slow: &str) -> SmaCross {
        let params: StrategyParams = format!("fast={fast},slow={slow}").parse().unwrap();
        SmaCross::from_params(&params, base(100)).unwrap()
    }

    #[test]
    fn buys_on_cross_up_and_sells_on_cross_down() {
        let mut strategy = sma("2", "3");
        // SMA2 vs SMA3: bar2 fast<slow (down), bar3 fast>slow (cross up), bar5 cross down.
        let orders = run_closes(&mut strategy, &["10", "9", "8", "12", "13", "5"]);
        assert_eq!(orders.len(), 2, "{orders:?}");
        assert_eq!(orders[0].0, 3);
        assert_eq!(orders[0].1.side, Side::Buy);
        assert_eq!(orders[0].1.qty, Qty::from_units(100));
        assert_eq!(orders[1].0, 5);
        assert_eq!(orders[1].1.side, Side::Sell);
        assert_eq!(orders[1].1.qty, Qty::from_units(100));
    }

    #[test]
    fn first_full_window_sets_state_without_signalling() {
        let mut strategy = sma("2", "3");
        // Rising from the start: fast > slow at the first full window, but no prior negative.
        let orders = run_closes(&mut strategy, &["1", "2", "3", "4", "5"]);
        assert!(orders.is_empty(), "{orders:?}");
    }

    #[test]
    fn exact_tie_does_not_flip_state() {
        let mut strategy = sma("1", "2");
        // diffs (close - SMA2): bar1 -0.5 (down), bar2 0 (tie, ignored), bar3 +0.5: cross up
        // measured against the last non-zero (negative) difference.
        let orders = run_closes(&mut strategy, &["10", "9", "9", "10"]);
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].0, 3);
        // A tie after being up, then up again, is not a new cross.
        let mut strategy = sma("1", "2");
        let orders = run_closes(&mut strategy, &["10", "9", "10", "10", "11"]);
        assert_eq!(orders.len(), 1, "{orders:?}");
    }

    #[test]
    fn does_not_buy_while_already_long_or_with_orders_working() {
        let mut strategy = sma("2", "3");
        let bar = super::super::test_support::bar_with_close(0, "1".parse().unwrap());
        let mut intents = IntentBuffer::new();
        for close in ["10", "9", "8"] {
            let b = Bar { close: close.parse().unwrap(), ..bar };
            let ctx = StrategyContext { now: b.ts, position: Qty::ZERO, working: Qty::ZERO };
            strategy.on_bar(&ctx, &b, &mut intents);
        }
        let b = Bar { close: "12".parse().unwrap(), ..bar };
        let working = StrategyContext { now: b.ts, position: Qty::ZERO, working: Qty::from_units(100) };
        strategy.on_bar(&working, &b, &mut intents);
        assert!(intents.is_empty());
    }

    #[test]
    fn rejects_fast_not_below_slow_naming_fast() {
        let params: StrategyParams = "fast=30,slow=30".parse().unwrap();
        let error = SmaCross::from_params(&params, base(1)).unwrap_err();
        assert!(matches!(&error, StrategyConfigError::InvalidParam { param, .. } if param == "fast"));
    }

    #[test]
    fn rejects_unknown_parameter() {
        let params: StrategyParams = "fast=5,slow=20,window=3".parse().unwrap();
        let error = SmaCross::from_params(&params, base(1)).unwrap_err();
        assert!(matches!(&error, StrategyConfigError::UnknownParam { param, .. } if param == "window"));
    }
}
