//! Building bars of a fixed period from a live trade feed, so bar-driven strategies run live
//! exactly as they run in backtests.

use crate::fixed::Qty;
use crate::market::{Bar, InstrumentId, Tick, Timestamp};

/// Aggregates the ticks of one instrument into bars of `period` nanoseconds, aligned to the
/// epoch (a 5 s bar opens at :00, :05, ...).
///
/// A bar is complete when the first tick of a later period arrives (or [`Self::flush_before`]
/// is called with a time past its end). Ticks of a period already handed out are ignored: a
/// live feed that delivers out of order must not rewrite a bar a strategy already saw.
#[derive(Debug, Clone)]
pub struct BarAggregator {
    instrument: InstrumentId,
    period: i64,
    open: Option<Bar>,
    /// Open time of the last bar handed out; ticks of that period or earlier are late.
    last_closed: Option<Timestamp>,
}

impl BarAggregator {
    /// An aggregator of `period_nanos` bars (at least 1 ns).
    #[must_use]
    pub fn new(instrument: InstrumentId, period_nanos: i64) -> Self {
        Self { instrument, period: period_nanos.max(1), open: None, last_closed: None }
    }

    /// The bar currently being built, if any.
    #[must_use]
    pub const fn open_bar(&self) -> Option<&Bar> {
        self.open.as_ref()
    }

    /// Adds a tick; returns the previous bar when this tick starts a new period.
    pub fn on_tick(&mut self, tick: &Tick) -> Option<Bar> {
        let start = Timestamp::from_nanos(tick.ts.nanos() - tick.ts.nanos().rem_euclid(self.period));
        if self.last_closed.is_some_and(|closed| start <= closed) {
            return None;
        }
        let closed = match &mut self.open {
            Some(bar) if bar.ts == start => {
                bar.high = bar.high.max(tick.price);
                bar.low = bar.low.min(tick.price);
                bar.close = tick.price;
                bar.volume = bar.volume.checked_add(tick.size).unwrap_or(Qty::MAX);
                None
            }
            Some(bar) if bar.ts > start => None,
            previous => previous.replace(Bar {
                instrument: self.instrument,
                ts: start,
                open: tick.price,
                high: tick.price,
                low: tick.price,
                close: tick.price,
                volume: tick.size,
            }),
        };
        if let Some(bar) = &closed {
            self.last_closed = Some(bar.ts);
        }
        closed
    }

    /// Completes the open bar if its period ended before `now` (a timer, for quiet markets).
    pub fn flush_before(&mut self, now: Timestamp) -> Option<Bar> {
        match &self.open {
            Some(bar) if bar.ts.nanos() + self.period <= now.nanos() => {
                self.last_closed = Some(bar.ts);
                self.open.take()
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::Price;

    const SECOND: i64 = 1_000_000_000;

    fn tick(ts_ms: i64, price: &str) -> Tick {
        Tick {
            instrument: InstrumentId(3),
            ts: Timestamp::checked_from_millis(ts_ms).unwrap(),
            price: price.parse().unwrap(),
            size: Qty::from_units(1),
        }
    }

    #[test]
    fn ticks_of_one_period_make_one_ohlcv_bar_closed_by_the_next_period() {
        let mut bars = BarAggregator::new(InstrumentId(3), 5 * SECOND);
        assert_eq!(bars.on_tick(&tick(10_000, "10")), None);
        assert_eq!(bars.on_tick(&tick(11_000, "12")), None);
        assert_eq!(bars.on_tick(&tick(12_000, "9")), None);
        assert_eq!(bars.on_tick(&tick(14_999, "11")), None);
        let bar = bars.on_tick(&tick(15_000, "11.5")).expect("a new period closes the bar");
        assert_eq!(bar.ts.millis(), 10_000);
        let p = |t: &str| t.parse::<Price>().unwrap();
        assert_eq!((bar.open, bar.high, bar.low, bar.close), (p("10"), p("12"), p("9"), p("11")));
        assert_eq!(bar.volume, Qty::from_units(4));
        assert_eq!(bars.open_bar().map(|b| b.open), Some(p("11.5")));
    }

    #[test]
    fn late_ticks_do_not_reopen_a_finished_bar() {
        let mut bars = BarAggregator::new(InstrumentId(3), 5 * SECOND);
        bars.on_tick(&tick(10_000, "10"));
        bars.on_tick(&tick(15_000, "11"));
        assert_eq!(bars.on_tick(&tick(14_000, "99")), None);
        assert_eq!(bars.open_bar().map(|b| b.high), Some("11".parse().unwrap()));
    }

    #[test]
    fn flush_completes_a_bar_only_after_its_period() {
        let mut bars = BarAggregator::new(InstrumentId(3), 5 * SECOND);
        bars.on_tick(&tick(10_000, "10"));
        assert_eq!(bars.flush_before(Timestamp::checked_from_millis(14_999).unwrap()), None);
        let bar = bars.flush_before(Timestamp::checked_from_millis(15_000).unwrap()).unwrap();
        assert_eq!(bar.ts.millis(), 10_000);
        assert!(bars.open_bar().is_none());
        // A late tick of the flushed period must not make a second bar for it.
        assert_eq!(bars.on_tick(&tick(14_000, "11")), None);
        assert!(bars.open_bar().is_none());
        assert_eq!(bars.on_tick(&tick(15_500, "12")), None);
        assert_eq!(bars.open_bar().map(|b| b.ts.millis()), Some(15_000));
    }
}
