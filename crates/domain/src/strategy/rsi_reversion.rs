//! RSI mean reversion, long only.

use super::{
    IntentBuffer, ParamReader, PriceWindow, Strategy, StrategyBase, StrategyConfigError, StrategyContext,
    StrategyParams,
};
use crate::fixed::{Price, Qty, SCALE};
use crate::market::{Bar, InstrumentId, OrderIntent, Side};

/// Buys when the RSI falls below `oversold` while flat and sells the position when it rises
/// above `overbought`.
///
/// The RSI here is Cutler's (simple sums over the last `period` close-to-close changes:
/// `RSI = 100 × gains / (gains + losses)`) rather than Wilder's exponential smoothing, so it is
/// computed and compared exactly in integers and depends only on the last `period + 1` closes.
#[derive(Debug, Clone)]
pub struct RsiReversion {
    instrument: InstrumentId,
    quantity: Qty,
    /// Thresholds as raw fixed-point RSI values (0..=100 × 10^8).
    oversold: i128,
    overbought: i128,
    changes: PriceWindow,
    previous_close: Option<i64>,
    gains: i128,
    losses: i128,
}

impl RsiReversion {
    /// Registry name.
    pub const NAME: &'static str = "rsi_reversion";

    /// Builds from `period` (default 14), `oversold` (default 30), `overbought` (default 70,
    /// above `oversold`) and optional `quantity`.
    ///
    /// # Errors
    /// [`StrategyConfigError`] naming the bad parameter.
    pub fn from_params(params: &StrategyParams, base: StrategyBase) -> Result<Self, StrategyConfigError> {
        let mut reader = ParamReader::new(Self::NAME, params);
        let period = reader.usize_in("period", Some(14), 2, 100_000)?;
        let hundred = Price::from_units(100);
        let oversold = reader.decimal_in("oversold", Some(Price::from_units(30)), Price::ZERO, hundred)?;
        let overbought = reader.decimal_in("overbought", Some(Price::from_units(70)), Price::ZERO, hundred)?;
        let quantity = reader.positive_qty("quantity", base.quantity)?;
        if oversold >= overbought {
            return Err(reader.invalid("oversold", &oversold.to_string(), &format!("below overbought ({overbought})")));
        }
        reader.finish()?;
        Ok(Self {
            instrument: base.instrument,
            quantity,
            oversold: i128::from(oversold.raw()),
            overbought: i128::from(overbought.raw()),
            changes: PriceWindow::new(period),
            previous_close: None,
            gains: 0,
            losses: 0,
        })
    }

    /// `rsi < threshold` ⇔ `100 × gains × SCALE < threshold × (gains + losses)`.
    fn rsi_below(&self, threshold: i128) -> bool {
        let total = self.gains + self.losses;
        total > 0 && 100 * i128::from(SCALE) * self.gains < threshold * total
    }

    fn rsi_above(&self, threshold: i128) -> bool {
        let total = self.gains + self.losses;
        total > 0 && 100 * i128::from(SCALE) * self.gains > threshold * total
    }
}

impl Strategy for RsiReversion {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn on_bar(&mut self, ctx: &StrategyContext, bar: &Bar, intents: &mut IntentBuffer) {
        if bar.instrument != self.instrument {
            return;
        }
        let close = bar.close.raw();
        let Some(previous) = self.previous_close.replace(close) else {
            return;
        };
        let change = close - previous;
        if let Some(old) = self.changes.push(change) {
            if old > 0 {
                self.gains -= i128::from(old);
            } else {
                self.losses += i128::from(old);
            }
        }
        if change > 0 {
            self.gains += i128::from(change);
        } else {
            self.losses -= i128::from(change);
        }
        if !self.changes.is_full() || !ctx.working.is_zero() {
            return;
        }
        if ctx.position.is_zero() && self.rsi_below(self.oversold) {
            intents.push(OrderIntent::market(self.instrument, Side::Buy, self.quantity));
        } else if ctx.position.is_positive() && self.rsi_above(self.overbought) {
            intents.push(OrderIntent::market(self.instrument, Side::Sell, ctx.position));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{base, run_closes};
    use super::*;

    fn rsi(params: &str) -> RsiReversion {
        RsiReversion::from_params(&params.parse().unwrap(), base(10)).unwrap()
    }

    #[test]
    fn buys_when_oversold_and_sells_when_overbought() {
        let mut strategy = rsi("period=3,oversold=30,overbought=70");
        // Three falls: RSI 0 → buy at bar 3. Then three rises: RSI 100 → sell at bar 6.
        let orders = run_closes(&mut strategy, &["10", "9", "8", "7", "8", "9", "10"]);
        assert_eq!(orders.len(), 2, "{orders:?}");
        assert_eq!((orders[0].0, orders[0].1.side), (3, Side::Buy));
        assert_eq!((orders[1].0, orders[1].1.side), (6, Side::Sell));
        assert_eq!(orders[1].1.qty, Qty::from_units(10));
    }

    #[test]
    fn waits_for_a_full_window_before_trading() {
        let mut strategy = rsi("period=5");
        let orders = run_closes(&mut strategy, &["10", "9", "8", "7", "6"]);
        assert!(orders.is_empty(), "only 4 changes seen: {orders:?}");
    }

    #[test]
    fn threshold_comparison_is_exact_at_the_boundary() {
        // gains 1, losses 2 over 3 changes → RSI exactly 33.333…; oversold at 33.33333333 is
        // below it (no buy), at 33.33333334 above it (buy).
        let closes = ["10", "11", "10", "9"];
        let mut below = rsi("period=3,oversold=33.33333333");
        assert!(run_closes(&mut below, &closes).is_empty());
        let mut above = rsi("period=3,oversold=33.33333334");
        assert_eq!(run_closes(&mut above, &closes).len(), 1);
    }

    #[test]
    fn rejects_oversold_not_below_overbought() {
        let error = RsiReversion::from_params(&"oversold=80".parse().unwrap(), base(1)).unwrap_err();
        assert!(matches!(&error, StrategyConfigError::InvalidParam { param, .. } if param == "oversold"));
    }

    #[test]
    fn rejects_threshold_above_one_hundred() {
        let error = RsiReversion::from_params(&"overbought=170".parse().unwrap(), base(1)).unwrap_err();
        assert!(matches!(&error, StrategyConfigError::InvalidParam { param, .. } if param == "overbought"));
    }
}
