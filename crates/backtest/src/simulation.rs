//! The event-driven backtest loop: for every bar, working orders are matched (fill model),
//! fills are booked (position accounting) and reported to the strategy, the strategy sees the
//! bar, and each order intent goes through the pre-trade risk checks before it reaches the
//! simulated venue — the same strategy → risk → fill → position path as live trading.

use std::time::{Duration, Instant};

use domain::fill::{FillModel, FillOverflow, SimFill, SimulatedVenue, Submitted};
use domain::position::{AccountingOverflow, Position};
use domain::risk::{check_order, InstrumentRules, RiskLimits, RiskReason, RiskSnapshot};
use domain::strategy::IntentBuffer;
use domain::{Bar, Fill, InstrumentId, Money, Price, Qty, Strategy, StrategyContext, Timestamp};

/// How often (in bars) the progress callback is called.
pub const PROGRESS_EVERY_BARS: usize = 1 << 16;
/// Upper bound on order intents handled for one bar, against strategies that answer every
/// fill with a new order forever.
const MAX_INTENTS_PER_BAR: usize = 1_000;

/// Settings of one backtest run.
#[derive(Debug, Clone, Copy)]
pub struct SimulationConfig {
    /// The instrument traded (the bars' instrument).
    pub instrument: InstrumentId,
    /// Fill timing, fees and slippage.
    pub fill_model: FillModel,
    /// Pre-trade limits (all off by default).
    pub risk_limits: RiskLimits,
    /// Cash at the start, the base of returns.
    pub initial_capital: Money,
    /// The instrument's lot, tick and minimum notional, checked on every order.
    pub instrument_rules: InstrumentRules,
}

/// Why a backtest stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SimulationError {
    /// An amount overflowed the fixed-point range.
    #[error("amount overflow at bar {bar_index} (epoch ms {ts_ms}): values beyond ±92 billion")]
    Overflow {
        /// Index of the bar being processed.
        bar_index: usize,
        /// Its time.
        ts_ms: i64,
    },
    /// The strategy kept emitting orders for the same bar.
    #[error("strategy emitted more than {MAX_INTENTS_PER_BAR} orders at bar {bar_index}")]
    RunawayStrategy {
        /// Index of the bar being processed.
        bar_index: usize,
    },
    /// Two legs of a portfolio trade the same instrument.
    #[error("instrument {instrument} is traded by two legs of the portfolio")]
    DuplicateInstrument {
        /// The instrument id.
        instrument: u32,
    },
    /// A leg's bars include bars of another instrument.
    #[error("the bars given for instrument {instrument} include another instrument's")]
    ForeignBars {
        /// The leg's instrument id.
        instrument: u32,
    },
    /// A thread running part of a portfolio panicked.
    #[error("a thread running part of the portfolio panicked")]
    Panicked,
    /// Ticks to replay are not in time order.
    #[error("tick {index} (epoch ms {ts_ms}) is earlier than the tick before it")]
    OutOfOrder {
        /// Index of the tick.
        index: usize,
        /// Its time.
        ts_ms: i64,
    },
}

/// A position from flat back to flat (or through zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTrip {
    /// Time of the bar that filled the first entry order.
    pub entry_ts: Timestamp,
    /// Average entry price.
    pub entry_price: Price,
    /// Time of the bar that filled the closing order.
    pub exit_ts: Timestamp,
    /// Average exit price.
    pub exit_price: Price,
    /// Largest quantity held, signed (negative for a short).
    pub qty: Qty,
    /// Realized P&L of the trip, fees included.
    pub pnl: Money,
}

/// Everything a run produced; metrics and reports are derived from it.
#[derive(Debug, Clone)]
pub struct SimulationResult {
    /// Bars processed.
    pub bars: usize,
    /// Closed round trips in order.
    pub round_trips: Vec<RoundTrip>,
    /// Equity (capital + realized + unrealized at the close) after each bar.
    pub equity: Vec<Money>,
    /// The position at the end.
    pub final_position: Position,
    /// Orders accepted by the risk checks.
    pub orders_submitted: u64,
    /// Fills booked.
    pub fills: u64,
    /// Orders refused by the risk checks, per reason.
    pub risk_rejections: Vec<(RiskReason, u64)>,
    /// Bars at whose close a position was held.
    pub bars_in_market: usize,
    /// Orders still working at the end (e.g. a signal on the last bar).
    pub unfilled_orders: usize,
    /// Wall time of the loop alone.
    pub elapsed: Duration,
}

/// Tracks the round trip currently open.
#[derive(Debug, Default)]
pub(crate) struct TripTracker {
    open: Option<OpenTrip>,
    pub(crate) closed: Vec<RoundTrip>,
}

#[derive(Debug)]
struct OpenTrip {
    entry_ts: Timestamp,
    entry_notional: i128,
    entry_qty: i128,
    exit_notional: i128,
    exit_qty: i128,
    max_qty: Qty,
    realized_before: Money,
}

fn average_price(notional: i128, qty: i128) -> Price {
    if qty == 0 {
        return Price::ZERO;
    }
    // notional is in 10^-16 units (raw price × raw qty); divide by qty to get raw price.
    let price = notional / qty;
    Price::from_raw(i64::try_from(price).unwrap_or(i64::MAX))
}

impl TripTracker {
    /// Books `fill` given the position before and after it.
    pub(crate) fn record(&mut self, fill: &Fill, before: &Position, after: &Position) {
        let held_before = before.qty();
        let signed = fill.signed_qty();
        let closing = if held_before.is_zero() || held_before.is_positive() == signed.is_positive() {
            Qty::ZERO
        } else {
            fill.qty.min(held_before.checked_abs().unwrap_or(Qty::MAX))
        };
        let opening = fill.qty.checked_sub(closing).unwrap_or(Qty::ZERO);
        if closing.is_positive() {
            if let Some(trip) = self.open.as_mut() {
                trip.exit_notional += i128::from(fill.price.raw()) * i128::from(closing.raw());
                trip.exit_qty += i128::from(closing.raw());
            }
            if after.qty().is_zero() || after.qty().is_positive() != held_before.is_positive() {
                if let Some(trip) = self.open.take() {
                    self.closed.push(RoundTrip {
                        entry_ts: trip.entry_ts,
                        entry_price: average_price(trip.entry_notional, trip.entry_qty),
                        exit_ts: fill.ts,
                        exit_price: average_price(trip.exit_notional, trip.exit_qty),
                        qty: trip.max_qty,
                        pnl: after.realized_pnl().checked_sub(trip.realized_before).unwrap_or(Money::ZERO),
                    });
                }
            }
        }
        if opening.is_positive() {
            let trip = self.open.get_or_insert_with(|| OpenTrip {
                entry_ts: fill.ts,
                entry_notional: 0,
                entry_qty: 0,
                exit_notional: 0,
                exit_qty: 0,
                max_qty: Qty::ZERO,
                // A trip opened by the remainder of a flip starts after the flip's realized P&L.
                realized_before: after.realized_pnl(),
            });
            trip.entry_notional += i128::from(fill.price.raw()) * i128::from(opening.raw());
            trip.entry_qty += i128::from(opening.raw());
            if after.qty().checked_abs().unwrap_or(Qty::MAX) > trip.max_qty.checked_abs().unwrap_or(Qty::MAX) {
                trip.max_qty = after.qty();
            }
        }
    }
}

/// The mutable state of a run, kept together so fills and intents can be handled by methods.
struct Book<'a, S: ?Sized> {
    strategy: &'a mut S,
    config: &'a SimulationConfig,
    venue: SimulatedVenue,
    position: Position,
    trips: TripTracker,
    orders_submitted: u64,
    fills: u64,
    rejections: [u64; REASON_COUNT],
    last_close: Option<Price>,
    day: i64,
    day_start_equity: Money,
    last_equity: Money,
}

/// Every reason the risk checks give, in the order reports list them.
pub(crate) const REASONS: [RiskReason; 15] = [
    RiskReason::Halted,
    RiskReason::InvalidQuantity,
    RiskReason::MaxOrderQty,
    RiskReason::MaxOrderNotional,
    RiskReason::MaxPosition,
    RiskReason::MaxGrossExposure,
    RiskReason::PriceCollar,
    RiskReason::NoReferencePrice,
    RiskReason::DailyLossLimit,
    RiskReason::OrderRateLimit,
    RiskReason::InsufficientBuyingPower,
    RiskReason::ReduceOnly,
    RiskReason::LotSize,
    RiskReason::TickSize,
    RiskReason::MinNotional,
];
const REASON_COUNT: usize = REASONS.len();

impl<S: Strategy + ?Sized> Book<'_, S> {
    fn context(&self, now: Timestamp) -> StrategyContext {
        StrategyContext {
            now,
            position: self.position.qty(),
            working: if self.venue.working_count() == 0 {
                Qty::ZERO
            } else {
                self.venue.working_qty(self.config.instrument)
            },
        }
    }

    fn book_fill(&mut self, fill: &Fill, intents: &mut IntentBuffer) -> Result<(), AccountingOverflow> {
        let before = self.position;
        self.position.apply_fill(fill)?;
        self.fills += 1;
        self.trips.record(fill, &before, &self.position);
        let ctx = self.context(fill.ts);
        self.strategy.on_fill(&ctx, fill, intents);
        Ok(())
    }

    /// Sends every intent in `intents` (and those the resulting fills trigger) through the risk
    /// checks to the venue.
    fn route_intents(
        &mut self,
        bar: &Bar,
        bar_index: usize,
        intents: &mut IntentBuffer,
    ) -> Result<(), SimulationError> {
        let overflow = |_| SimulationError::Overflow { bar_index, ts_ms: bar.ts.millis() };
        // In submission order; fills booked here may append further intents to the buffer.
        let mut next = 0;
        while next < intents.len() {
            let intent = intents[next];
            next += 1;
            if next > MAX_INTENTS_PER_BAR {
                return Err(SimulationError::RunawayStrategy { bar_index });
            }
            let snapshot = RiskSnapshot {
                halted: false,
                reduce_only: false,
                position: self.position.qty(),
                working: self.venue.working_qty(intent.instrument),
                last_trade: self.last_close,
                gross_exposure: self
                    .last_close
                    .and_then(|price| price.checked_notional(self.position.qty()))
                    .and_then(Money::checked_abs)
                    .unwrap_or(Money::ZERO),
                daily_pnl: self.last_equity.checked_sub(self.day_start_equity).unwrap_or(Money::ZERO),
                // A backtest has no broker account to ask.
                buying_power: None,
                instrument: self.config.instrument_rules,
            };
            if let Err(rejection) = check_order(&intent, &snapshot, &self.config.risk_limits) {
                let slot = REASONS.iter().position(|r| *r == rejection.reason).unwrap_or(0);
                self.rejections[slot] += 1;
                continue;
            }
            self.orders_submitted += 1;
            if let Submitted::Filled(SimFill { fill, .. }) =
                self.venue.submit_on_bar(intent, bar).map_err(|FillOverflow| overflow(()))?
            {
                self.book_fill(&fill, intents).map_err(|AccountingOverflow| overflow(()))?;
            }
        }
        intents.clear();
        Ok(())
    }

    fn equity_at(&self, close: Price) -> Result<Money, AccountingOverflow> {
        let unrealized = if self.position.is_flat() { Money::ZERO } else { self.position.unrealized_pnl(close)? };
        self.config
            .initial_capital
            .checked_add(self.position.realized_pnl())
            .and_then(|equity| equity.checked_add(unrealized))
            .ok_or(AccountingOverflow)
    }
}

/// Runs `strategy` over `bars`, calling `progress` with the number of bars done every
/// [`PROGRESS_EVERY_BARS`] bars.
///
/// # Errors
/// [`SimulationError`] on an amount overflow or a runaway strategy.
pub fn run_simulation<S: Strategy + ?Sized>(
    bars: &[Bar],
    strategy: &mut S,
    config: &SimulationConfig,
    progress: &mut dyn FnMut(usize),
) -> Result<SimulationResult, SimulationError> {
    let started = Instant::now();
    let mut book = Book {
        strategy,
        config,
        venue: SimulatedVenue::new(config.fill_model),
        position: Position::flat(config.instrument),
        trips: TripTracker::default(),
        orders_submitted: 0,
        fills: 0,
        rejections: [0; REASON_COUNT],
        last_close: None,
        day: bars.first().map_or(0, |bar| bar.ts.utc_day()),
        day_start_equity: config.initial_capital,
        last_equity: config.initial_capital,
    };
    let mut equity = Vec::with_capacity(bars.len());
    let mut intents = IntentBuffer::with_capacity(16);
    let mut fills: Vec<SimFill> = Vec::with_capacity(16);
    let mut bars_in_market = 0;

    for (bar_index, bar) in bars.iter().enumerate() {
        let overflow = |_| SimulationError::Overflow { bar_index, ts_ms: bar.ts.millis() };
        if bar.ts.utc_day() != book.day {
            book.day = bar.ts.utc_day();
            book.day_start_equity = book.last_equity;
        }
        // 1. Orders working from earlier bars meet this bar (next-open fills, limit touches).
        if book.venue.working_count() != 0 {
            fills.clear();
            book.venue.on_bar(bar, &mut fills).map_err(|FillOverflow| overflow(()))?;
            for sim_fill in &fills {
                intents.clear();
                book.book_fill(&sim_fill.fill, &mut intents).map_err(|AccountingOverflow| overflow(()))?;
                book.route_intents(bar, bar_index, &mut intents)?;
            }
        }
        // 2. The bar closes: the strategy decides, the orders go through risk to the venue.
        book.last_close = Some(bar.close);
        intents.clear();
        let ctx = book.context(bar.ts);
        book.strategy.on_bar(&ctx, bar, &mut intents);
        if !intents.is_empty() {
            book.route_intents(bar, bar_index, &mut intents)?;
        }
        // 3. Mark to market at the close.
        let marked = book.equity_at(bar.close).map_err(|AccountingOverflow| overflow(()))?;
        book.last_equity = marked;
        equity.push(marked);
        bars_in_market += usize::from(!book.position.is_flat());
        if (bar_index + 1) % PROGRESS_EVERY_BARS == 0 {
            progress(bar_index + 1);
        }
    }
    progress(bars.len());
    let elapsed = started.elapsed();
    Ok(SimulationResult {
        bars: bars.len(),
        round_trips: book.trips.closed,
        equity,
        final_position: book.position,
        orders_submitted: book.orders_submitted,
        fills: book.fills,
        risk_rejections: REASONS
            .iter()
            .zip(book.rejections)
            .filter(|(_, count)| *count > 0)
            .map(|(reason, count)| (*reason, count))
            .collect(),
        bars_in_market,
        unfilled_orders: book.venue.working_count(),
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::fill::FillTiming;
    use domain::strategy::StrategyContext;
    use domain::{OrderIntent, Side};

    const INSTRUMENT: InstrumentId = InstrumentId(0);

    /// Buys on the given bar indexes and sells everything on others.
    struct Scripted {
        actions: Vec<(usize, Side, i64)>,
        seen: usize,
        fills_seen: usize,
    }

    impl Strategy for Scripted {
        fn name(&self) -> &'static str {
            "scripted"
        }
        fn on_bar(&mut self, _ctx: &StrategyContext, _bar: &Bar, intents: &mut IntentBuffer) {
            for (index, side, qty) in &self.actions {
                if *index == self.seen {
                    intents.push(OrderIntent::market(INSTRUMENT, *side, Qty::from_units(*qty)));
                }
            }
            self.seen += 1;
        }
        fn on_fill(&mut self, _ctx: &StrategyContext, _fill: &Fill, _intents: &mut IntentBuffer) {
            self.fills_seen += 1;
        }
    }

    fn bars(prices: &[(&str, &str)]) -> Vec<Bar> {
        prices
            .iter()
            .enumerate()
            .map(|(index, (open, close))| {
                let (open, close): (Price, Price) = (open.parse().unwrap(), close.parse().unwrap());
                Bar {
                    instrument: INSTRUMENT,
                    ts: Timestamp::checked_from_millis(index as i64 * 60_000).unwrap(),
                    open,
                    high: open.max(close),
                    low: open.min(close),
                    close,
                    volume: Qty::from_units(1),
                }
            })
            .collect()
    }

    fn config(timing: FillTiming) -> SimulationConfig {
        SimulationConfig {
            instrument: INSTRUMENT,
            fill_model: FillModel { timing, ..FillModel::default() },
            risk_limits: RiskLimits::default(),
            initial_capital: Money::from_units(1_000),
            instrument_rules: InstrumentRules::default(),
        }
    }

    fn run(strategy: &mut Scripted, data: &[Bar], config: &SimulationConfig) -> SimulationResult {
        run_simulation(data, strategy, config, &mut |_| {}).unwrap()
    }

    #[test]
    fn next_open_fill_books_round_trip_at_following_bar_opens() {
        let data = bars(&[("10", "10"), ("11", "12"), ("13", "14"), ("15", "16")]);
        let mut strategy = Scripted { actions: vec![(0, Side::Buy, 2), (2, Side::Sell, 2)], seen: 0, fills_seen: 0 };
        let result = run(&mut strategy, &data, &config(FillTiming::NextBarOpen));
        assert_eq!(result.round_trips.len(), 1);
        let trip = result.round_trips[0];
        assert_eq!((trip.entry_ts.millis(), trip.entry_price), (60_000, "11".parse().unwrap()));
        assert_eq!((trip.exit_ts.millis(), trip.exit_price), (180_000, "15".parse().unwrap()));
        assert_eq!(trip.pnl, Money::from_units(8));
        assert_eq!(strategy.fills_seen, 2);
        // equity: 1000, 1000+2*(12-11), 1000+2*(14-11), 1000+8
        let expected: Vec<Money> = [1000, 1002, 1006, 1008].into_iter().map(Money::from_units).collect();
        assert_eq!(result.equity, expected);
        assert_eq!(result.bars_in_market, 2);
    }

    #[test]
    fn close_fill_books_round_trip_at_signal_bar_closes() {
        let data = bars(&[("10", "10"), ("11", "12"), ("13", "14"), ("15", "16")]);
        let mut strategy = Scripted { actions: vec![(0, Side::Buy, 2), (2, Side::Sell, 2)], seen: 0, fills_seen: 0 };
        let result = run(&mut strategy, &data, &config(FillTiming::SignalBarClose));
        let trip = result.round_trips[0];
        assert_eq!((trip.entry_ts.millis(), trip.entry_price), (0, "10".parse().unwrap()));
        assert_eq!((trip.exit_ts.millis(), trip.exit_price), (120_000, "14".parse().unwrap()));
        assert_eq!(result.final_position.realized_pnl(), Money::from_units(8));
    }

    #[test]
    fn signal_on_last_bar_stays_unfilled() {
        let data = bars(&[("10", "10"), ("11", "12")]);
        let mut strategy = Scripted { actions: vec![(1, Side::Buy, 1)], seen: 0, fills_seen: 0 };
        let result = run(&mut strategy, &data, &config(FillTiming::NextBarOpen));
        assert_eq!(result.fills, 0);
        assert_eq!(result.unfilled_orders, 1);
        assert!(result.final_position.is_flat());
    }

    #[test]
    fn risk_rejection_keeps_order_from_the_venue() {
        let data = bars(&[("10", "10"), ("11", "12"), ("13", "14")]);
        let mut strategy = Scripted { actions: vec![(0, Side::Buy, 5)], seen: 0, fills_seen: 0 };
        let mut limited = config(FillTiming::NextBarOpen);
        limited.risk_limits.max_order_qty = Some(Qty::from_units(4));
        let result = run(&mut strategy, &data, &limited);
        assert_eq!(result.fills, 0);
        assert_eq!(result.orders_submitted, 0);
        assert_eq!(result.risk_rejections, vec![(RiskReason::MaxOrderQty, 1)]);
    }

    #[test]
    fn flip_through_zero_closes_one_trip_and_opens_the_next() {
        let data = bars(&[("10", "10"), ("10", "10"), ("12", "12"), ("9", "9"), ("9", "9")]);
        let mut strategy = Scripted {
            actions: vec![(0, Side::Buy, 1), (1, Side::Sell, 3), (2, Side::Buy, 2)],
            seen: 0,
            fills_seen: 0,
        };
        let result = run(&mut strategy, &data, &config(FillTiming::NextBarOpen));
        assert_eq!(result.round_trips.len(), 2, "{:?}", result.round_trips);
        assert_eq!(result.round_trips[0].pnl, Money::from_units(2));
        assert_eq!(result.round_trips[1].qty, Qty::from_units(-2));
        assert_eq!(result.round_trips[1].pnl, Money::from_units(6));
    }
}
