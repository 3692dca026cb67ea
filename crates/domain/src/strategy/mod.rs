//! The event-driven [`Strategy`] interface and the built-in strategies.
//!
//! A strategy sees market data, its own fills, timers and external signals, and answers with
//! [`OrderIntent`]s pushed into a buffer owned by the caller (cleared and reused between events,
//! so a strategy allocates nothing per event). It does no I/O and reads no clock of its own, so
//! the same code runs in backtests, on paper and live.

mod bollinger_breakout;
mod level_breakout;
mod params;
mod rsi_reversion;
mod signal_follower;
mod sma_cross;

pub use bollinger_breakout::BollingerBreakout;
pub use level_breakout::LevelBreakout;
pub use params::{ParamListError, ParamReader, StrategyConfigError, StrategyParams};
pub use rsi_reversion::RsiReversion;
pub use signal_follower::SignalFollower;
pub use sma_cross::SmaCross;

use crate::fixed::Qty;
use crate::market::{Bar, ExternalSignal, Fill, InstrumentId, OrderIntent, Tick, Timestamp};

/// What the engine tells a strategy about its own state along with each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrategyContext {
    /// Time of the event.
    pub now: Timestamp,
    /// Signed position of the strategy in the event's instrument.
    pub position: Qty,
    /// Signed quantity of the strategy's working (not yet filled) orders in that instrument.
    pub working: Qty,
}

/// Buffer that strategies push their order intents into; owned and cleared by the caller.
pub type IntentBuffer = Vec<OrderIntent>;

/// An event-driven trading strategy. Every handler has a do-nothing default.
pub trait Strategy: Send {
    /// The registry name, e.g. `sma_cross`.
    fn name(&self) -> &'static str;

    /// A bar closed.
    fn on_bar(&mut self, ctx: &StrategyContext, bar: &Bar, intents: &mut IntentBuffer) {
        let _ = (ctx, bar, intents);
    }

    /// A trade printed.
    fn on_tick(&mut self, ctx: &StrategyContext, tick: &Tick, intents: &mut IntentBuffer) {
        let _ = (ctx, tick, intents);
    }

    /// One of the strategy's orders filled (`ctx.position` already includes it).
    fn on_fill(&mut self, ctx: &StrategyContext, fill: &Fill, intents: &mut IntentBuffer) {
        let _ = (ctx, fill, intents);
    }

    /// A timer the engine runs for the strategy fired.
    fn on_timer(&mut self, ctx: &StrategyContext, intents: &mut IntentBuffer) {
        let _ = (ctx, intents);
    }

    /// Whether [`Strategy::on_timer`] can do anything. A driver may skip timer events (and the
    /// position reads that come with them) for strategies that say no; those overriding
    /// `on_timer` must say yes.
    fn uses_timer(&self) -> bool {
        false
    }

    /// An external signal (e.g. a TradingView alert) addressed to the strategy arrived.
    fn on_signal(&mut self, ctx: &StrategyContext, signal: &ExternalSignal, intents: &mut IntentBuffer) {
        let _ = (ctx, signal, intents);
    }

    /// Why the strategy stopped working, if it did. A built-in never does; a sandboxed module
    /// that trapped or ran past its limits answers every later event with nothing and says why
    /// here, so its driver disables it with the reason instead of trading on a broken state.
    fn fault(&self) -> Option<&str> {
        None
    }
}

impl<S: Strategy + ?Sized> Strategy for Box<S> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn on_bar(&mut self, ctx: &StrategyContext, bar: &Bar, intents: &mut IntentBuffer) {
        (**self).on_bar(ctx, bar, intents);
    }
    fn on_tick(&mut self, ctx: &StrategyContext, tick: &Tick, intents: &mut IntentBuffer) {
        (**self).on_tick(ctx, tick, intents);
    }
    fn on_fill(&mut self, ctx: &StrategyContext, fill: &Fill, intents: &mut IntentBuffer) {
        (**self).on_fill(ctx, fill, intents);
    }
    fn on_timer(&mut self, ctx: &StrategyContext, intents: &mut IntentBuffer) {
        (**self).on_timer(ctx, intents);
    }
    fn uses_timer(&self) -> bool {
        (**self).uses_timer()
    }
    fn on_signal(&mut self, ctx: &StrategyContext, signal: &ExternalSignal, intents: &mut IntentBuffer) {
        (**self).on_signal(ctx, signal, intents);
    }
    fn fault(&self) -> Option<&str> {
        (**self).fault()
    }
}

/// Settings every strategy shares, given by the deployment rather than the parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrategyBase {
    /// The instrument the strategy trades.
    pub instrument: InstrumentId,
    /// Order quantity used unless the parameters give `quantity`.
    pub quantity: Qty,
}

/// Names of the built-in strategies, as accepted by [`build_strategy`].
pub const STRATEGY_NAMES: &[&str] =
    &[SmaCross::NAME, RsiReversion::NAME, BollingerBreakout::NAME, SignalFollower::NAME, LevelBreakout::NAME];

/// Builds a built-in strategy from its registry name and validated parameters.
///
/// # Errors
/// [`StrategyConfigError`] for an unknown name, or a missing, invalid or unknown parameter.
pub fn build_strategy(
    name: &str,
    params: &StrategyParams,
    base: StrategyBase,
) -> Result<Box<dyn Strategy>, StrategyConfigError> {
    Ok(match name {
        SmaCross::NAME => Box::new(SmaCross::from_params(params, base)?),
        RsiReversion::NAME => Box::new(RsiReversion::from_params(params, base)?),
        BollingerBreakout::NAME => Box::new(BollingerBreakout::from_params(params, base)?),
        SignalFollower::NAME => Box::new(SignalFollower::from_params(params, base)?),
        LevelBreakout::NAME => Box::new(LevelBreakout::from_params(params, base)?),
        _ => {
            return Err(StrategyConfigError::UnknownStrategy {
                name: name.to_owned(),
                known: STRATEGY_NAMES.join(", "),
            })
        }
    })
}

/// A fixed-capacity ring of the last `capacity` raw prices (allocated once at construction).
#[derive(Debug, Clone)]
pub(crate) struct PriceWindow {
    values: Vec<i64>,
    next: usize,
    len: usize,
}

impl PriceWindow {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { values: vec![0; capacity.max(1)], next: 0, len: 0 }
    }

    /// Pushes `value`; returns the value `capacity` pushes ago once the window is full.
    #[inline]
    pub(crate) fn push(&mut self, value: i64) -> Option<i64> {
        let full = self.len == self.values.len();
        let slot = &mut self.values[self.next];
        let evicted = full.then_some(*slot);
        *slot = value;
        self.next += 1;
        if self.next == self.values.len() {
            self.next = 0;
        }
        if self.len < self.values.len() {
            self.len += 1;
        }
        evicted
    }

    /// The value pushed `age` pushes ago (`0` = the latest), if still held.
    #[inline]
    pub(crate) fn back(&self, age: usize) -> Option<i64> {
        if age >= self.len {
            return None;
        }
        // `next + capacity - 1 - age` is below twice the capacity: one subtraction instead of a
        // division on every bar.
        let capacity = self.values.len();
        let mut index = self.next + capacity - 1 - age;
        if index >= capacity {
            index -= capacity;
        }
        Some(self.values[index])
    }

    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.len == self.values.len()
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::fixed::Price;

    pub(crate) const INSTRUMENT: InstrumentId = InstrumentId(1);

    pub(crate) fn base(quantity: i64) -> StrategyBase {
        StrategyBase { instrument: INSTRUMENT, quantity: Qty::from_units(quantity) }
    }

    pub(crate) fn bar_with_close(index: i64, close: Price) -> Bar {
        Bar {
            instrument: INSTRUMENT,
            ts: Timestamp::checked_from_millis(index * 60_000).unwrap(),
            open: close,
            high: close,
            low: close,
            close,
            volume: Qty::from_units(1),
        }
    }

    /// Feeds closes to `strategy`, tracking the position as if every intent filled at once, and
    /// returns the bar index and intent of every order.
    pub(crate) fn run_closes(strategy: &mut dyn Strategy, closes: &[&str]) -> Vec<(usize, OrderIntent)> {
        let mut position = Qty::ZERO;
        let mut intents = IntentBuffer::new();
        let mut orders = Vec::new();
        for (index, close) in closes.iter().enumerate() {
            let bar = bar_with_close(index as i64, close.parse().unwrap());
            let ctx = StrategyContext { now: bar.ts, position, working: Qty::ZERO };
            intents.clear();
            strategy.on_bar(&ctx, &bar, &mut intents);
            for intent in &intents {
                position = position + intent.signed_qty();
                orders.push((index, *intent));
            }
        }
        orders
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_builds_every_named_strategy_from_its_required_parameters_only() {
        for name in STRATEGY_NAMES {
            // The breakout level has no sensible default; every other parameter has one.
            let params: StrategyParams =
                if *name == LevelBreakout::NAME { "level=100".parse().unwrap() } else { StrategyParams::new() };
            let strategy = build_strategy(name, &params, test_support::base(1)).unwrap();
            assert_eq!(strategy.name(), *name);
            // Only the breakout closes positions on a timer; the others are never asked.
            assert_eq!(strategy.uses_timer(), *name == LevelBreakout::NAME, "{name}");
        }
    }

    #[test]
    fn registry_refuses_unknown_strategy_listing_known_ones() {
        let error = build_strategy("smacross", &StrategyParams::new(), test_support::base(1)).err().unwrap();
        assert!(matches!(error, StrategyConfigError::UnknownStrategy { .. }));
        assert!(error.to_string().contains("sma_cross"), "{error}");
    }

    #[test]
    fn price_window_evicts_oldest_once_full() {
        let mut window = PriceWindow::new(3);
        assert_eq!(window.push(1), None);
        assert_eq!(window.push(2), None);
        assert_eq!(window.push(3), None);
        assert!(window.is_full());
        assert_eq!(window.back(0), Some(3));
        assert_eq!(window.back(2), Some(1));
        assert_eq!(window.push(4), Some(1));
        assert_eq!(window.back(0), Some(4));
        assert_eq!(window.back(3), None);
    }
}
