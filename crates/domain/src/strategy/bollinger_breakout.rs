//! Bollinger-band breakout, long only.

use super::{
    IntentBuffer, ParamReader, PriceWindow, Strategy, StrategyBase, StrategyConfigError, StrategyContext,
    StrategyParams,
};
use crate::fixed::{Price, Qty, SCALE};
use crate::market::{Bar, InstrumentId, OrderIntent, Side};

/// Buys when the close breaks above the upper band (SMA(`period`) + `k` × population standard
/// deviation) while flat; sells the position when the close falls below the middle band.
///
/// The band test `close > mean + k·σ` is evaluated exactly in integers as
/// `n·close − Σ > 0 ∧ (n·close − Σ)² > k² · (n·Σx² − Σ²)`, with `k` as a reduced fraction.
#[derive(Debug, Clone)]
pub struct BollingerBreakout {
    instrument: InstrumentId,
    quantity: Qty,
    period: i128,
    k_numerator: i128,
    k_denominator: i128,
    closes: PriceWindow,
    sum: i128,
    sum_of_squares: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.abs()
}

/// ⌊√value⌋ for non-negative `value` (Newton's method on integers).
fn isqrt(value: i128) -> i128 {
    if value < 2 {
        return value.max(0);
    }
    let mut x = value;
    let mut y = x / 2 + x % 2;
    while y < x {
        x = y;
        y = (x + value / x) / 2;
    }
    x
}

impl BollingerBreakout {
    /// Registry name.
    pub const NAME: &'static str = "bollinger_breakout";

    /// Builds from `period` (default 20), `k` (default 2, in 0..=10) and optional `quantity`.
    ///
    /// # Errors
    /// [`StrategyConfigError`] naming the bad parameter.
    pub fn from_params(params: &StrategyParams, base: StrategyBase) -> Result<Self, StrategyConfigError> {
        let mut reader = ParamReader::new(Self::NAME, params);
        let period = reader.usize_in("period", Some(20), 2, 100_000)?;
        let k = reader.decimal_in("k", Some(Price::from_units(2)), Price::ZERO, Price::from_units(10))?;
        let quantity = reader.positive_qty("quantity", base.quantity)?;
        reader.finish()?;
        let divisor = gcd(i128::from(k.raw()), i128::from(SCALE)).max(1);
        Ok(Self {
            instrument: base.instrument,
            quantity,
            period: period as i128,
            k_numerator: i128::from(k.raw()) / divisor,
            k_denominator: i128::from(SCALE) / divisor,
            closes: PriceWindow::new(period),
            sum: 0,
            sum_of_squares: 0,
        })
    }

    /// `close > mean + k·σ`, exactly when the squares fit in 128 bits, else with ⌊√⌋.
    fn above_upper_band(&self, close: i128) -> bool {
        let excess = self.period * close - self.sum;
        if excess <= 0 {
            return false;
        }
        // n² · variance = n·Σx² − Σ², never negative in exact arithmetic.
        let scaled_variance = (self.period * self.sum_of_squares - self.sum * self.sum).max(0);
        let exact = excess.checked_mul(excess).and_then(|e2| e2.checked_mul(self.k_denominator * self.k_denominator));
        let bound = (self.k_numerator * self.k_numerator).checked_mul(scaled_variance);
        match (exact, bound) {
            (Some(left), Some(right)) => left > right,
            _ => excess * self.k_denominator > self.k_numerator * isqrt(scaled_variance),
        }
    }
}

impl Strategy for BollingerBreakout {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn on_bar(&mut self, ctx: &StrategyContext, bar: &Bar, intents: &mut IntentBuffer) {
        if bar.instrument != self.instrument {
            return;
        }
        let close = i128::from(bar.close.raw());
        if let Some(old) = self.closes.push(bar.close.raw()) {
            let old = i128::from(old);
            self.sum -= old;
            self.sum_of_squares -= old * old;
        }
        self.sum += close;
        self.sum_of_squares += close * close;
        if !self.closes.is_full() || !ctx.working.is_zero() {
            return;
        }
        if ctx.position.is_zero() && self.above_upper_band(close) {
            intents.push(OrderIntent::market(self.instrument, Side::Buy, self.quantity));
        } else if ctx.position.is_positive() && self.period * close < self.sum {
            intents.push(OrderIntent::market(self.instrument, Side::Sell, ctx.position));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{base, run_closes};
    use super::*;

    fn bollinger(params: &str) -> BollingerBreakout {
        BollingerBreakout::from_params(&params.parse().unwrap(), base(5)).unwrap()
    }

    #[test]
    fn buys_on_break_above_upper_band_and_sells_below_middle() {
        let mut strategy = bollinger("period=4,k=1");
        // Window [10,10,10,14]: mean 11, σ = √3 ≈ 1.73, upper ≈ 12.73 < 14 → buy at bar 3.
        // Then 9: window [10,10,14,9] mean 10.75 > 9 → sell at bar 4.
        let orders = run_closes(&mut strategy, &["10", "10", "10", "14", "9"]);
        assert_eq!(orders.len(), 2, "{orders:?}");
        assert_eq!((orders[0].0, orders[0].1.side), (3, Side::Buy));
        assert_eq!((orders[1].0, orders[1].1.side), (4, Side::Sell));
    }

    #[test]
    fn close_inside_the_band_does_not_trade() {
        let mut strategy = bollinger("period=4,k=2");
        // Same window, upper = 11 + 2·√3 ≈ 14.46 > 14: no breakout.
        assert!(run_closes(&mut strategy, &["10", "10", "10", "14"]).is_empty());
    }

    #[test]
    fn band_edge_is_compared_exactly() {
        // Window [9,11]: mean 10, σ = 1; with k=1 the upper band is exactly 11: not above.
        let mut strategy = bollinger("period=2,k=1");
        assert!(run_closes(&mut strategy, &["9", "11"]).is_empty());
        let mut strategy = bollinger("period=2,k=0.99999999");
        assert_eq!(run_closes(&mut strategy, &["9", "11"]).len(), 1);
    }

    #[test]
    fn integer_square_root_floors() {
        assert_eq!(isqrt(0), 0);
        assert_eq!(isqrt(15), 3);
        assert_eq!(isqrt(16), 4);
        assert_eq!(isqrt(i128::MAX), 13_043_817_825_332_782_212);
    }

    #[test]
    fn rejects_negative_k() {
        let error = BollingerBreakout::from_params(&"k=-1".parse().unwrap(), base(1)).unwrap_err();
        assert!(matches!(&error, StrategyConfigError::InvalidParam { param, .. } if param == "k"));
    }
}
