//! Backtests as live trading runs them: several instruments in one account, on bars or on
//! ticks.
//!
//! - [`run_portfolio_bars`]: each leg's bars, merged in time order, drive its strategy's
//!   `on_bar`; one account holds every position, the risk limits (gross exposure, daily loss)
//!   see all of them, and one equity curve is marked at each bar time.
//! - [`run_tick_replay`]: trades drive `on_tick`, fill working orders the way the paper venue
//!   does (the same [`SimulatedVenue::on_trade_with_liquidity`]), close bars the way the live
//!   runner does (the same [`BarAggregator`], quiet instruments closed a second after the market
//!   moved past them) and fire `on_timer` every second of market time, as the live runner does
//!   every second of the clock. Tick- and timer-driven strategies such as `level_breakout` are
//!   backtested through the very path they trade live.
//!
//! Within one trade: timers that fell due before it fire first, then working orders meet the
//! trade (an order placed on a trade fills at the next one, as on paper), then the strategy
//! sees it, then the bars it closes.

use std::time::{Duration, Instant};

use domain::bars::BarAggregator;
use domain::fill::{FillModel, FillOverflow, SimFill, SimulatedVenue, Submitted};
use domain::position::{AccountingOverflow, Position};
use domain::risk::{check_order, RiskLimits, RiskReason, RiskSnapshot};
use domain::strategy::IntentBuffer;
use domain::{
    Bar, ExternalSignal, Fill, InstrumentId, Money, OrderIntent, Price, Qty, Strategy, StrategyContext, Tick, Timestamp,
};

use crate::simulation::{RoundTrip, SimulationError, TripTracker, REASONS};

/// How often the live runner fires `on_timer`, and so the replay.
pub const TIMER_PERIOD_NANOS: i64 = 1_000_000_000;
/// How long after the market moved past a quiet instrument's bar the live runner closes it.
const QUIET_BAR_GRACE_NANOS: i64 = 1_000_000_000;
/// Upper bound on order intents handled for one event, against runaway strategies.
const MAX_INTENTS_PER_EVENT: usize = 1_000;

/// One instrument of a portfolio and the strategy instance that trades it (the live runner
/// also builds one instance per symbol).
pub struct Leg {
    /// The instrument; unique within the portfolio.
    pub instrument: InstrumentId,
    /// Its strategy.
    pub strategy: Box<dyn Strategy>,
}

/// How much of a trade's size working orders may take in a tick replay (the paper venue's
/// `PAPER_LIQUIDITY`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Liquidity {
    /// Every matching order fills whole.
    #[default]
    Unlimited,
    /// A trade fills at most its own size, shared in arrival order.
    TradeSize,
}

/// Settings of a portfolio run.
#[derive(Debug, Clone, Copy)]
pub struct PortfolioConfig {
    /// Fill timing (bars), fees, slippage and tick.
    pub fill_model: FillModel,
    /// Pre-trade limits of the one account.
    pub risk_limits: RiskLimits,
    /// Cash at the start.
    pub initial_capital: Money,
    /// Tick replay: the bar period the live runner builds bars of (its `bar_seconds`).
    pub bar_period_nanos: i64,
    /// Tick replay: how much of each trade orders may take.
    pub liquidity: Liquidity,
}

/// An order the risk checks let through to the simulated venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlacedOrder {
    /// When it was placed (the event's time).
    pub ts: Timestamp,
    /// What was placed.
    pub intent: OrderIntent,
}

/// What a portfolio run produced.
#[derive(Debug, Clone)]
pub struct PortfolioResult {
    /// Bars or trades processed.
    pub events: usize,
    /// Every order placed, in order.
    pub orders: Vec<PlacedOrder>,
    /// Every fill, in order.
    pub fills: Vec<Fill>,
    /// Closed round trips per instrument, in the order they closed.
    pub round_trips: Vec<(InstrumentId, RoundTrip)>,
    /// Equity (capital + realized + unrealized at the last prices) at each bar time (bars) or
    /// at each bar period the market crossed (ticks).
    pub equity: Vec<(Timestamp, Money)>,
    /// Positions at the end, one per leg.
    pub positions: Vec<Position>,
    /// Orders refused by the risk checks, per reason.
    pub risk_rejections: Vec<(RiskReason, u64)>,
    /// Orders still working at the end.
    pub unfilled_orders: usize,
    /// Wall time of the loop alone.
    pub elapsed: Duration,
}

impl PortfolioResult {
    /// Realized P&L over all instruments, fees included.
    #[must_use]
    pub fn realized_pnl(&self) -> Money {
        self.positions.iter().fold(Money::ZERO, |sum, p| sum.checked_add(p.realized_pnl()).unwrap_or(Money::MAX))
    }
}

struct Slot {
    strategy: Box<dyn Strategy>,
    position: Position,
    trips: TripTracker,
    last_price: Option<Price>,
    bars: BarAggregator,
    uses_timer: bool,
}

struct Account {
    config: PortfolioConfig,
    venue: SimulatedVenue,
    slots: Vec<Slot>,
    /// Slot of each instrument id (instrument ids are small numbers).
    slot_of: Vec<u32>,
    realized: Money,
    day: i64,
    day_start_equity: Money,
    orders: Vec<PlacedOrder>,
    fills: Vec<Fill>,
    rejections: [u64; REASONS.len()],
    intents: IntentBuffer,
    sim_fills: Vec<SimFill>,
    /// Index of the bar or trade being processed (for errors).
    event: usize,
}

const NO_SLOT: u32 = u32::MAX;

/// The parts of some legs' equity after one bar time: kept apart so that legs run on separate
/// threads add up to exactly what one account holding them all marks (one rounding of the
/// summed market value).
#[derive(Debug, Clone, Copy, Default)]
struct Marks {
    ts: Timestamp,
    realized: Money,
    /// Σ price × qty of the open positions, in raw units ([`Price::raw_notional`]).
    raw_value: i128,
    cost: Money,
}

impl Marks {
    /// `capital` plus the realized P&L and unrealized P&L of `parts` together.
    fn total(capital: Money, parts: &[Marks]) -> Result<Money, AccountingOverflow> {
        let mut realized = Money::ZERO;
        let mut raw_value: i128 = 0;
        let mut cost = Money::ZERO;
        for part in parts {
            realized = realized.checked_add(part.realized).ok_or(AccountingOverflow)?;
            raw_value = raw_value.checked_add(part.raw_value).ok_or(AccountingOverflow)?;
            cost = cost.checked_add(part.cost).ok_or(AccountingOverflow)?;
        }
        let value = Money::checked_from_raw_notional(raw_value).ok_or(AccountingOverflow)?;
        capital
            .checked_add(realized)
            .and_then(|equity| equity.checked_add(value))
            .and_then(|equity| equity.checked_sub(cost))
            .ok_or(AccountingOverflow)
    }
}

/// Where an accepted order goes: matched on the next bar (or at this bar's close) or on the
/// next trade.
#[derive(Clone, Copy)]
enum Route<'a> {
    Bar(&'a Bar),
    Trade(Timestamp),
}

impl Account {
    fn new(legs: Vec<Leg>, config: &PortfolioConfig) -> Result<Self, SimulationError> {
        let max_id = legs.iter().map(|leg| leg.instrument.0).max().unwrap_or(0);
        let mut slot_of = vec![NO_SLOT; usize::try_from(max_id).unwrap_or(0) + 1];
        let mut slots = Vec::with_capacity(legs.len());
        for (index, leg) in legs.into_iter().enumerate() {
            let entry = &mut slot_of[leg.instrument.0 as usize];
            if *entry != NO_SLOT {
                return Err(SimulationError::DuplicateInstrument { instrument: leg.instrument.0 });
            }
            *entry = u32::try_from(index).unwrap_or(NO_SLOT);
            slots.push(Slot {
                uses_timer: leg.strategy.uses_timer(),
                strategy: leg.strategy,
                position: Position::flat(leg.instrument),
                trips: TripTracker::default(),
                last_price: None,
                bars: BarAggregator::new(leg.instrument, config.bar_period_nanos),
            });
        }
        Ok(Self {
            config: *config,
            venue: SimulatedVenue::new(config.fill_model),
            slots,
            slot_of,
            realized: Money::ZERO,
            day: i64::MIN,
            day_start_equity: config.initial_capital,
            orders: Vec::new(),
            fills: Vec::new(),
            rejections: [0; REASONS.len()],
            intents: IntentBuffer::with_capacity(16),
            sim_fills: Vec::with_capacity(16),
            event: 0,
        })
    }

    fn slot(&self, instrument: InstrumentId) -> Option<usize> {
        let slot = *self.slot_of.get(instrument.0 as usize)?;
        (slot != NO_SLOT).then_some(slot as usize)
    }

    /// What the equity is made of now: realized P&L, and the open positions' market value at
    /// each instrument's last price and their cost.
    fn marks(&self, ts: Timestamp) -> Result<Marks, AccountingOverflow> {
        let mut marks = Marks { ts, realized: self.realized, raw_value: 0, cost: Money::ZERO };
        for slot in &self.slots {
            if let (false, Some(price)) = (slot.position.is_flat(), slot.last_price) {
                marks.raw_value =
                    marks.raw_value.checked_add(price.raw_notional(slot.position.qty())).ok_or(AccountingOverflow)?;
                marks.cost = marks.cost.checked_add(slot.position.cost_basis()).ok_or(AccountingOverflow)?;
            }
        }
        Ok(marks)
    }

    /// Capital, realized P&L and every open position marked at its instrument's last price.
    fn equity(&self) -> Result<Money, AccountingOverflow> {
        Marks::total(self.config.initial_capital, &[self.marks(Timestamp::default())?])
    }

    fn new_day(&mut self, ts: Timestamp) -> Result<(), AccountingOverflow> {
        if ts.utc_day() != self.day {
            self.day = ts.utc_day();
            self.day_start_equity = self.equity()?;
        }
        Ok(())
    }

    fn context(&self, slot: usize, now: Timestamp) -> StrategyContext {
        let position = self.slots[slot].position;
        let working =
            if self.venue.working_count() == 0 { Qty::ZERO } else { self.venue.working_qty(position.instrument) };
        StrategyContext { now, position: position.qty(), working }
    }

    fn book_fill(&mut self, fill: &Fill) -> Result<Option<usize>, AccountingOverflow> {
        let Some(slot) = self.slot(fill.instrument) else { return Ok(None) };
        let s = &mut self.slots[slot];
        let before = s.position;
        s.position.apply_fill(fill)?;
        s.trips.record(fill, &before, &s.position);
        let realized_change = s.position.realized_pnl().checked_sub(before.realized_pnl()).ok_or(AccountingOverflow)?;
        self.realized = self.realized.checked_add(realized_change).ok_or(AccountingOverflow)?;
        self.fills.push(*fill);
        Ok(Some(slot))
    }

    /// Books the fills in `self.sim_fills`, giving each to its strategy and routing what it
    /// answers.
    fn book_sim_fills(
        &mut self,
        route: Route<'_>,
        overflow: &dyn Fn() -> SimulationError,
    ) -> Result<(), SimulationError> {
        let fills = std::mem::take(&mut self.sim_fills);
        for sim_fill in &fills {
            if let Some(slot) = self.book_fill(&sim_fill.fill).map_err(|AccountingOverflow| overflow())? {
                let ctx = self.context(slot, sim_fill.fill.ts);
                self.intents.clear();
                self.slots[slot].strategy.on_fill(&ctx, &sim_fill.fill, &mut self.intents);
                self.route(route, overflow)?;
            }
        }
        self.sim_fills = fills;
        self.sim_fills.clear();
        Ok(())
    }

    fn gross_exposure(&self) -> Money {
        self.slots.iter().fold(Money::ZERO, |sum, s| {
            let value = s
                .last_price
                .and_then(|price| price.checked_notional(s.position.qty()))
                .and_then(Money::checked_abs)
                .unwrap_or(Money::ZERO);
            sum.checked_add(value).unwrap_or(Money::MAX)
        })
    }

    /// Sends the intents in `self.intents` (and those that fills booked at once add) through
    /// the account's risk checks to the venue.
    fn route(&mut self, route: Route<'_>, overflow: &dyn Fn() -> SimulationError) -> Result<(), SimulationError> {
        let limits = self.config.risk_limits;
        let mut next = 0;
        while next < self.intents.len() {
            let intent = self.intents[next];
            next += 1;
            if next > MAX_INTENTS_PER_EVENT {
                return Err(SimulationError::RunawayStrategy { bar_index: self.event });
            }
            let Some(slot) = self.slot(intent.instrument) else {
                self.reject(RiskReason::InvalidQuantity);
                continue;
            };
            let s = &self.slots[slot];
            let snapshot = RiskSnapshot {
                halted: false,
                reduce_only: false,
                position: s.position.qty(),
                working: self.venue.working_qty(intent.instrument),
                last_trade: s.last_price,
                // Worked out only for the limits that read them.
                gross_exposure: if limits.max_gross_exposure.is_some() { self.gross_exposure() } else { Money::ZERO },
                daily_pnl: match limits.max_daily_loss {
                    Some(_) => self
                        .equity()
                        .ok()
                        .and_then(|equity| equity.checked_sub(self.day_start_equity))
                        .unwrap_or(Money::ZERO),
                    None => Money::ZERO,
                },
                buying_power: None,
                instrument: Default::default(),
            };
            if let Err(rejection) = check_order(&intent, &snapshot, &limits) {
                self.reject(rejection.reason);
                continue;
            }
            let ts = match route {
                Route::Bar(bar) => bar.ts,
                Route::Trade(ts) => ts,
            };
            self.orders.push(PlacedOrder { ts, intent });
            let filled = match route {
                Route::Bar(bar) => match self.venue.submit_on_bar(intent, bar).map_err(|FillOverflow| overflow())? {
                    Submitted::Filled(SimFill { fill, .. }) => Some(fill),
                    Submitted::Working(_) | Submitted::Cancelled(_) => None,
                },
                Route::Trade(ts) => {
                    self.venue.submit(intent, ts);
                    None
                }
            };
            if let Some(fill) = filled {
                if let Some(slot) = self.book_fill(&fill).map_err(|AccountingOverflow| overflow())? {
                    let ctx = self.context(slot, fill.ts);
                    let mut more = IntentBuffer::new();
                    self.slots[slot].strategy.on_fill(&ctx, &fill, &mut more);
                    self.intents.extend(more);
                }
            }
        }
        self.intents.clear();
        Ok(())
    }

    fn reject(&mut self, reason: RiskReason) {
        let index = REASONS.iter().position(|r| *r == reason).unwrap_or(0);
        self.rejections[index] += 1;
    }

    /// One bar of one leg (portfolio bars).
    fn on_bar(
        &mut self,
        slot: usize,
        bar: &Bar,
        overflow: &dyn Fn() -> SimulationError,
    ) -> Result<(), SimulationError> {
        if self.venue.working_count() != 0 {
            self.venue.on_bar(bar, &mut self.sim_fills).map_err(|FillOverflow| overflow())?;
            if !self.sim_fills.is_empty() {
                // Fills of this bar are marked at its close below, after the strategy decided.
                self.book_sim_fills(Route::Bar(bar), overflow)?;
            }
        }
        self.slots[slot].last_price = Some(bar.close);
        let ctx = self.context(slot, bar.ts);
        self.intents.clear();
        self.slots[slot].strategy.on_bar(&ctx, bar, &mut self.intents);
        if !self.intents.is_empty() {
            self.route(Route::Bar(bar), overflow)?;
        }
        Ok(())
    }

    /// `on_timer` for every leg whose strategy uses timers, at market time `now`.
    fn on_timer(&mut self, now: Timestamp, overflow: &dyn Fn() -> SimulationError) -> Result<(), SimulationError> {
        for slot in 0..self.slots.len() {
            if !self.slots[slot].uses_timer {
                continue;
            }
            let ctx = self.context(slot, now);
            self.intents.clear();
            self.slots[slot].strategy.on_timer(&ctx, &mut self.intents);
            if !self.intents.is_empty() {
                self.route(Route::Trade(now), overflow)?;
            }
        }
        Ok(())
    }

    /// An external signal for the leg of its instrument (tick replay).
    fn on_signal(
        &mut self,
        signal: &ExternalSignal,
        overflow: &dyn Fn() -> SimulationError,
    ) -> Result<(), SimulationError> {
        let Some(slot) = self.slot(signal.instrument) else { return Ok(()) };
        let ctx = self.context(slot, signal.ts);
        self.intents.clear();
        self.slots[slot].strategy.on_signal(&ctx, signal, &mut self.intents);
        if !self.intents.is_empty() {
            self.route(Route::Trade(signal.ts), overflow)?;
        }
        Ok(())
    }

    /// One trade (tick replay).
    fn on_tick(&mut self, tick: &Tick, overflow: &dyn Fn() -> SimulationError) -> Result<(), SimulationError> {
        self.new_day(tick.ts).map_err(|AccountingOverflow| overflow())?;
        if self.venue.working_count() != 0 {
            let available = match self.config.liquidity {
                Liquidity::Unlimited => None,
                Liquidity::TradeSize => Some(tick.size),
            };
            self.venue
                .on_trade_with_liquidity(tick.instrument, tick.price, available, tick.ts, &mut self.sim_fills)
                .map_err(|FillOverflow| overflow())?;
            if !self.sim_fills.is_empty() {
                self.book_sim_fills(Route::Trade(tick.ts), overflow)?;
            }
        }
        let Some(slot) = self.slot(tick.instrument) else { return Ok(()) };
        self.slots[slot].last_price = Some(tick.price);
        let ctx = self.context(slot, tick.ts);
        self.intents.clear();
        self.slots[slot].strategy.on_tick(&ctx, tick, &mut self.intents);
        if !self.intents.is_empty() {
            self.route(Route::Trade(tick.ts), overflow)?;
        }
        if let Some(bar) = self.slots[slot].bars.on_tick(tick) {
            self.bar_closed(slot, &bar, tick.ts, overflow)?;
        }
        if self.slots.len() > 1 {
            let flush_at = Timestamp::from_nanos(tick.ts.nanos().saturating_sub(QUIET_BAR_GRACE_NANOS));
            for other in 0..self.slots.len() {
                if other != slot {
                    if let Some(bar) = self.slots[other].bars.flush_before(flush_at) {
                        self.bar_closed(other, &bar, tick.ts, overflow)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn bar_closed(
        &mut self,
        slot: usize,
        bar: &Bar,
        now: Timestamp,
        overflow: &dyn Fn() -> SimulationError,
    ) -> Result<(), SimulationError> {
        let ctx = self.context(slot, bar.ts);
        self.intents.clear();
        self.slots[slot].strategy.on_bar(&ctx, bar, &mut self.intents);
        if !self.intents.is_empty() {
            self.route(Route::Trade(now), overflow)?;
        }
        Ok(())
    }

    fn finish(self, events: usize, equity: Vec<(Timestamp, Money)>, started: Instant) -> PortfolioResult {
        let mut round_trips = Vec::new();
        let mut positions = Vec::with_capacity(self.slots.len());
        for slot in self.slots {
            round_trips.extend(slot.trips.closed.into_iter().map(|trip| (slot.position.instrument, trip)));
            positions.push(slot.position);
        }
        round_trips.sort_by_key(|(_, trip)| trip.exit_ts);
        PortfolioResult {
            events,
            orders: self.orders,
            fills: self.fills,
            round_trips,
            equity,
            positions,
            risk_rejections: reasons_counted(self.rejections),
            unfilled_orders: self.venue.working_count(),
            elapsed: started.elapsed(),
        }
    }
}

/// Runs a portfolio over each leg's bars (`series[i]` belongs to `legs[i]`), merged in time
/// order; bars of one time are taken in leg order, and equity is marked once per bar time.
///
/// Without account-wide limits (gross exposure, daily loss) the legs cannot affect one another,
/// so they run in groups on all cores and their results are merged: orders, fills and round
/// trips in the order one account would have produced them, and the equity marked exactly as
/// one account marks it.
///
/// # Errors
/// [`SimulationError`] on an amount overflow, a runaway strategy, a leg without bars of its
/// own instrument, or two legs on one instrument.
pub fn run_portfolio_bars(
    legs: Vec<Leg>,
    series: &[&[Bar]],
    config: &PortfolioConfig,
) -> Result<PortfolioResult, SimulationError> {
    let started = Instant::now();
    let mut seen = std::collections::HashSet::new();
    if let Some(leg) = legs.iter().find(|leg| !seen.insert(leg.instrument)) {
        return Err(SimulationError::DuplicateInstrument { instrument: leg.instrument.0 });
    }
    let limits = config.risk_limits;
    let independent = limits.max_gross_exposure.is_none() && limits.max_daily_loss.is_none();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let groups = if independent { cores.min(legs.len()).max(1) } else { 1 };
    let per_group = legs.len().div_ceil(groups).max(1);
    let mut chunks: Vec<(Vec<Leg>, &[&[Bar]])> = Vec::with_capacity(groups);
    let mut legs = legs.into_iter();
    for group_series in series.chunks(per_group) {
        chunks.push((legs.by_ref().take(group_series.len()).collect(), group_series));
    }
    let capital = config.initial_capital;
    let mut equity: Vec<(Timestamp, Money)> = Vec::with_capacity(series.iter().map(|b| b.len()).max().unwrap_or(0));
    let groups_run: Vec<(Account, usize)> = if chunks.len() <= 1 {
        let (legs, bars) = chunks.pop().unwrap_or_default();
        let mut emit = |marks: Marks| {
            let total = Marks::total(capital, &[marks]).map_err(|AccountingOverflow| SimulationError::Overflow {
                bar_index: equity.len(),
                ts_ms: marks.ts.millis(),
            })?;
            equity.push((marks.ts, total));
            Ok(())
        };
        vec![run_bar_group(legs, bars, config, &mut emit)?]
    } else {
        run_groups_on_threads(chunks, config, &mut equity)?
    };
    let mut rejections = [0u64; REASONS.len()];
    let mut parts = Vec::with_capacity(groups_run.len());
    let mut events = 0;
    for (account, bars) in groups_run {
        events += bars;
        for (count, more) in rejections.iter_mut().zip(account.rejections) {
            *count += more;
        }
        parts.push(account.finish(0, Vec::new(), started));
    }
    let positions = parts.iter().flat_map(|part| part.positions.iter().copied()).collect();
    let unfilled_orders = parts.iter().map(|part| part.unfilled_orders).sum();
    let mut orders = Vec::new();
    let mut fills = Vec::new();
    let mut round_trips = Vec::new();
    for part in parts {
        orders.push(part.orders);
        fills.push(part.fills);
        round_trips.push(part.round_trips);
    }
    Ok(PortfolioResult {
        events,
        // Groups hold consecutive legs, so merging by time with ties to the earlier group gives
        // one account's order: by time, then by leg.
        orders: merge_by_time(orders, |order| order.ts),
        fills: merge_by_time(fills, |fill| fill.ts),
        round_trips: merge_by_time(round_trips, |(_, trip)| trip.exit_ts),
        equity,
        positions,
        risk_rejections: reasons_counted(rejections),
        unfilled_orders,
        elapsed: started.elapsed(),
    })
}

/// Marks handed from a group's thread to the merging one at a time (the buffers are reused, so
/// memory does not grow with the run).
const MARKS_BLOCK: usize = 4_096;

/// Runs each group on its own thread and merges their marks into `equity` as they come: at each
/// bar time of any group, every group's latest marks added up.
fn run_groups_on_threads(
    chunks: Vec<(Vec<Leg>, &[&[Bar]])>,
    config: &PortfolioConfig,
    equity: &mut Vec<(Timestamp, Money)>,
) -> Result<Vec<(Account, usize)>, SimulationError> {
    use std::sync::mpsc;
    std::thread::scope(|scope| {
        let mut blocks = Vec::new();
        let mut recycle = Vec::new();
        let mut handles = Vec::new();
        for (legs, bars) in chunks {
            let (block_tx, block_rx) = mpsc::sync_channel::<Vec<Marks>>(4);
            let (recycle_tx, recycle_rx) = mpsc::channel::<Vec<Marks>>();
            blocks.push(block_rx);
            recycle.push(recycle_tx);
            handles.push(scope.spawn(move || {
                let mut buffer = Vec::with_capacity(MARKS_BLOCK);
                let mut emit = |marks: Marks| {
                    buffer.push(marks);
                    if buffer.len() == MARKS_BLOCK {
                        let next = recycle_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(MARKS_BLOCK));
                        // A closed channel means the merge gave up on an error of its own.
                        let _ = block_tx.send(std::mem::replace(&mut buffer, next));
                    }
                    Ok(())
                };
                let outcome = run_bar_group(legs, bars, config, &mut emit);
                let _ = block_tx.send(buffer);
                outcome
            }));
        }
        let groups = blocks.len();
        let mut pending: Vec<std::collections::VecDeque<Marks>> = vec![std::collections::VecDeque::new(); groups];
        let mut open = vec![true; groups];
        let mut latest = vec![Marks::default(); groups];
        let mut merged = Ok(());
        loop {
            // A time is final once every group still running has marks past or at it.
            for group in 0..groups {
                while open[group] && pending[group].is_empty() {
                    match blocks[group].recv() {
                        Ok(mut block) => {
                            pending[group].extend(block.drain(..));
                            let _ = recycle[group].send(block);
                        }
                        Err(_) => open[group] = false,
                    }
                }
            }
            let Some(ts) = pending.iter().filter_map(|marks| marks.front()).map(|m| m.ts).min() else { break };
            for (group, marks) in pending.iter_mut().enumerate() {
                if let Some(next) = marks.front().filter(|m| m.ts == ts) {
                    latest[group] = *next;
                    marks.pop_front();
                }
            }
            match Marks::total(config.initial_capital, &latest) {
                Ok(total) => equity.push((ts, total)),
                Err(AccountingOverflow) => {
                    merged = Err(SimulationError::Overflow { bar_index: equity.len(), ts_ms: ts.millis() });
                    break;
                }
            }
        }
        drop(blocks);
        let mut accounts = Vec::with_capacity(handles.len());
        for handle in handles {
            accounts.push(handle.join().unwrap_or(Err(SimulationError::Panicked))?);
        }
        merged.map(|()| accounts)
    })
}

/// Merges lists each sorted by `key` into one sorted list; ties go to the earlier list.
fn merge_by_time<T>(lists: Vec<Vec<T>>, key: impl Fn(&T) -> Timestamp) -> Vec<T> {
    if lists.len() == 1 {
        return lists.into_iter().next().unwrap_or_default();
    }
    let mut merged = Vec::with_capacity(lists.iter().map(Vec::len).sum());
    let mut lists: Vec<std::iter::Peekable<std::vec::IntoIter<T>>> =
        lists.into_iter().map(|list| list.into_iter().peekable()).collect();
    loop {
        let mut pick: Option<(usize, Timestamp)> = None;
        for (index, list) in lists.iter_mut().enumerate() {
            if let Some(ts) = list.peek().map(&key) {
                if pick.is_none_or(|(_, best)| ts < best) {
                    pick = Some((index, ts));
                }
            }
        }
        let Some((index, _)) = pick else { break };
        merged.extend(lists[index].next());
    }
    merged
}

/// Runs `legs` over their `series` in one account, handing `emit` its marks after each bar
/// time: the account at the end, and the number of bars.
fn run_bar_group(
    legs: Vec<Leg>,
    series: &[&[Bar]],
    config: &PortfolioConfig,
    emit: &mut dyn FnMut(Marks) -> Result<(), SimulationError>,
) -> Result<(Account, usize), SimulationError> {
    let mut account = Account::new(legs, config)?;
    let mut cursors = vec![0usize; series.len()];
    let mut done = 0;
    // One round per bar time: the earliest next bar of any leg, then every leg's bar of that
    // time in leg order (aligned series cost one scan of the legs per time, not per bar).
    while let Some(ts) = series.iter().zip(&cursors).filter_map(|(bars, at)| bars.get(*at)).map(|bar| bar.ts).min() {
        let first = done;
        let overflow = move || SimulationError::Overflow { bar_index: first, ts_ms: ts.millis() };
        account.new_day(ts).map_err(|AccountingOverflow| overflow())?;
        for (leg, bars) in series.iter().enumerate() {
            while let Some(bar) = bars.get(cursors[leg]).filter(|bar| bar.ts == ts) {
                if bar.instrument != account.slots[leg].position.instrument {
                    return Err(SimulationError::ForeignBars { instrument: account.slots[leg].position.instrument.0 });
                }
                cursors[leg] += 1;
                account.event = done;
                done += 1;
                account.on_bar(leg, bar, &overflow)?;
            }
        }
        emit(account.marks(ts).map_err(|AccountingOverflow| overflow())?)?;
    }
    Ok((account, done))
}

/// The non-zero counts per reason, in [`REASONS`] order.
fn reasons_counted(counts: [u64; REASONS.len()]) -> Vec<(RiskReason, u64)> {
    REASONS.iter().zip(counts).filter(|(_, count)| *count > 0).map(|(reason, count)| (*reason, count)).collect()
}

/// Replays `ticks` (in time order, any mix of the legs' instruments) through the legs'
/// strategies as the live runner and the paper venue would.
///
/// # Errors
/// [`SimulationError`] on an amount overflow, a runaway strategy, ticks out of time order, or
/// two legs on one instrument.
pub fn run_tick_replay(
    legs: Vec<Leg>,
    ticks: &[Tick],
    config: &PortfolioConfig,
) -> Result<PortfolioResult, SimulationError> {
    run_replay(legs, ticks, &[], config)
}

/// As [`run_tick_replay`], with external `signals` (TradingView alerts, in time order) given to
/// the strategies of their instruments' legs (`on_signal`) at their time: before the first
/// trade after it, so a market order a signal places fills at that trade, as on paper.
///
/// # Errors
/// As [`run_tick_replay`]; signals out of time order too.
pub fn run_replay(
    legs: Vec<Leg>,
    ticks: &[Tick],
    signals: &[ExternalSignal],
    config: &PortfolioConfig,
) -> Result<PortfolioResult, SimulationError> {
    if let Some(index) = signals.windows(2).position(|pair| pair[1].ts < pair[0].ts) {
        return Err(SimulationError::OutOfOrder { index: index + 1, ts_ms: signals[index + 1].ts.millis() });
    }
    let mut pending_signals = signals.iter().peekable();
    let started = Instant::now();
    let mut account = Account::new(legs, config)?;
    let any_timer = account.slots.iter().any(|slot| slot.uses_timer);
    let period = config.bar_period_nanos.max(1);
    let mut equity = Vec::new();
    let mut next_timer = ticks.first().map_or(i64::MAX, |t| t.ts.nanos().saturating_add(TIMER_PERIOD_NANOS));
    let mut equity_period = ticks.first().map_or(0, |t| t.ts.nanos().div_euclid(period));
    let mut last_ts = i64::MIN;
    for (index, tick) in ticks.iter().enumerate() {
        let ts = tick.ts.nanos();
        let overflow = || SimulationError::Overflow { bar_index: index, ts_ms: tick.ts.millis() };
        if ts < last_ts {
            return Err(SimulationError::OutOfOrder { index, ts_ms: tick.ts.millis() });
        }
        last_ts = ts;
        account.event = index;
        if ts.div_euclid(period) != equity_period {
            let marked = account.equity().map_err(|AccountingOverflow| overflow())?;
            equity.push((Timestamp::from_nanos(equity_period * period), marked));
            equity_period = ts.div_euclid(period);
        }
        if any_timer && ts >= next_timer {
            // Missed periods are skipped, as the live runner's interval does: one timer, at the
            // last period boundary before this trade.
            let due = next_timer + (ts - next_timer) / TIMER_PERIOD_NANOS * TIMER_PERIOD_NANOS;
            next_timer = due + TIMER_PERIOD_NANOS;
            account.on_timer(Timestamp::from_nanos(due), &overflow)?;
        }
        while let Some(signal) = pending_signals.next_if(|signal| signal.ts <= tick.ts) {
            account.on_signal(signal, &overflow)?;
        }
        account.on_tick(tick, &overflow)?;
    }
    if let Some(last) = ticks.last() {
        let marked = account.equity().map_err(|AccountingOverflow| SimulationError::Overflow {
            bar_index: ticks.len() - 1,
            ts_ms: last.ts.millis(),
        })?;
        equity.push((Timestamp::from_nanos(equity_period * period), marked));
    }
    Ok(account.finish(ticks.len(), equity, started))
}
