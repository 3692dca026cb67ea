//! The SMA(fast, slow) crossover as a strategy module: long only, buy `quantity` on a cross up
//! while flat, sell the whole position on a cross down. The averages are compared exactly in
//! integers (`sum_fast × slow` against `sum_slow × fast`); an exact tie changes nothing.
//!
//! Built to `wasm32-unknown-unknown` by `scripts/build-modules.sh`; the backtester, the paper
//! venue and live trading run it in the engine's sandbox.

use strategy_sdk::{
    export_strategy, Bar, InstrumentId, IntentBuffer, OrderIntent, ParamReader, Qty, Side, Strategy, StrategyBase,
    StrategyConfigError, StrategyContext, StrategyParams,
};

/// The crossover's state: the last `slow` closes in a ring and the two running sums.
pub struct SmaCrossModule {
    instrument: InstrumentId,
    quantity: Qty,
    fast: usize,
    closes: Vec<i64>,
    next: usize,
    seen: usize,
    fast_sum: i128,
    slow_sum: i128,
    last_sign: i8,
}

impl SmaCrossModule {
    const NAME: &'static str = "sma_cross_module";

    /// Parameters `fast` (default 10), `slow` (default 30, above `fast`), optional `quantity`.
    ///
    /// # Errors
    /// A [`StrategyConfigError`] naming the bad parameter.
    pub fn from_params(params: &StrategyParams, base: StrategyBase) -> Result<Self, StrategyConfigError> {
        let mut reader = ParamReader::new(Self::NAME, params);
        let fast = reader.usize_in("fast", Some(10), 1, 100_000)?;
        let slow = reader.usize_in("slow", Some(30), 2, 100_000)?;
        let quantity = reader.positive_qty("quantity", base.quantity)?;
        if fast >= slow {
            return Err(reader.invalid("fast", &fast.to_string(), &format!("less than slow ({slow})")));
        }
        reader.finish()?;
        Ok(Self {
            instrument: base.instrument,
            quantity,
            fast,
            closes: vec![0; slow],
            next: 0,
            seen: 0,
            fast_sum: 0,
            slow_sum: 0,
            last_sign: 0,
        })
    }

    /// The close `age` bars back (0 = the latest), once that many are held.
    fn back(&self, age: usize) -> Option<i64> {
        let slow = self.closes.len();
        (age < self.seen).then(|| self.closes[(self.next + slow - 1 - age) % slow])
    }
}

impl Strategy for SmaCrossModule {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn on_bar(&mut self, ctx: &StrategyContext, bar: &Bar, intents: &mut IntentBuffer) {
        if bar.instrument != self.instrument {
            return;
        }
        let slow = self.closes.len();
        let close = bar.close.raw();
        let leaving_fast = self.back(self.fast - 1).unwrap_or(0);
        let leaving_slow = if self.seen == slow { self.closes[self.next] } else { 0 };
        self.closes[self.next] = close;
        self.next = (self.next + 1) % slow;
        self.seen = (self.seen + 1).min(slow);
        self.fast_sum += i128::from(close) - i128::from(leaving_fast);
        self.slow_sum += i128::from(close) - i128::from(leaving_slow);
        if self.seen < slow {
            return;
        }
        let sign = (self.fast_sum * slow as i128 - self.slow_sum * self.fast as i128).signum() as i8;
        if sign == 0 {
            return;
        }
        let previous = std::mem::replace(&mut self.last_sign, sign);
        if sign > 0 && previous < 0 && ctx.position.is_zero() && ctx.working.is_zero() {
            intents.push(OrderIntent::market(self.instrument, Side::Buy, self.quantity));
        } else if sign < 0 && previous > 0 && ctx.position.is_positive() && ctx.working.is_zero() {
            intents.push(OrderIntent::market(self.instrument, Side::Sell, ctx.position));
        }
    }
}

export_strategy!(SmaCrossModule::from_params);
