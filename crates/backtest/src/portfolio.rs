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
use domain::{Bar, Fill, InstrumentId, Money, OrderIntent, Price, Qty, Strategy, StrategyContext, Tick, Timestamp};

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
    unrealized: Money,
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
    unrealized: Money,
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
                unrealized: Money::ZERO,
                bars: BarAggregator::new(leg.instrument, config.bar_period_nanos),
            });
        }
        Ok(Self {
            config: *config,
            venue: SimulatedVenue::new(config.fill_model),
            slots,
            slot_of,
            realized: Money::ZERO,
            unrealized: Money::ZERO,
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

    fn equity(&self) -> Money {
        self.config
            .initial_capital
            .checked_add(self.realized)
            .and_then(|e| e.checked_add(self.unrealized))
            .unwrap_or(Money::MAX)
    }

    fn new_day(&mut self, ts: Timestamp) {
        if ts.utc_day() != self.day {
            self.day = ts.utc_day();
            self.day_start_equity = self.equity();
        }
    }

    fn context(&self, slot: usize, now: Timestamp) -> StrategyContext {
        let position = self.slots[slot].position;
        let working =
            if self.venue.working_count() == 0 { Qty::ZERO } else { self.venue.working_qty(position.instrument) };
        StrategyContext { now, position: position.qty(), working }
    }

    /// Marks `slot` at `price` and keeps the account's unrealized total.
    fn mark(&mut self, slot: usize, price: Price) -> Result<(), AccountingOverflow> {
        let s = &mut self.slots[slot];
        s.last_price = Some(price);
        let unrealized = if s.position.is_flat() { Money::ZERO } else { s.position.unrealized_pnl(price)? };
        self.unrealized = self
            .unrealized
            .checked_sub(s.unrealized)
            .and_then(|u| u.checked_add(unrealized))
            .ok_or(AccountingOverflow)?;
        s.unrealized = unrealized;
        Ok(())
    }

    fn book_fill(&mut self, fill: &Fill) -> Result<Option<usize>, AccountingOverflow> {
        let Some(slot) = self.slot(fill.instrument) else { return Ok(None) };
        let s = &mut self.slots[slot];
        let before = s.position;
        s.position.apply_fill(fill)?;
        s.trips.record(fill, &before, &s.position);
        let realized_change = s.position.realized_pnl().checked_sub(before.realized_pnl()).ok_or(AccountingOverflow)?;
        self.realized = self.realized.checked_add(realized_change).ok_or(AccountingOverflow)?;
        if let Some(price) = s.last_price {
            self.mark(slot, price)?;
        }
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
                gross_exposure: self.gross_exposure(),
                daily_pnl: self.equity().checked_sub(self.day_start_equity).unwrap_or(Money::ZERO),
                buying_power: None,
            };
            if let Err(rejection) = check_order(&intent, &snapshot, &self.config.risk_limits) {
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
        self.new_day(bar.ts);
        if self.venue.working_count() != 0 {
            self.venue.on_bar(bar, &mut self.sim_fills).map_err(|FillOverflow| overflow())?;
            if !self.sim_fills.is_empty() {
                // Fills of this bar are marked at its close below, after the strategy decided.
                self.book_sim_fills(Route::Bar(bar), overflow)?;
            }
        }
        self.mark(slot, bar.close).map_err(|AccountingOverflow| overflow())?;
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

    /// One trade (tick replay).
    fn on_tick(&mut self, tick: &Tick, overflow: &dyn Fn() -> SimulationError) -> Result<(), SimulationError> {
        self.new_day(tick.ts);
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
        self.mark(slot, tick.price).map_err(|AccountingOverflow| overflow())?;
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
            risk_rejections: REASONS
                .iter()
                .zip(self.rejections)
                .filter(|(_, count)| *count > 0)
                .map(|(reason, count)| (*reason, count))
                .collect(),
            unfilled_orders: self.venue.working_count(),
            elapsed: started.elapsed(),
        }
    }
}

/// Runs a portfolio over each leg's bars (`series[i]` belongs to `legs[i]`), merged in time
/// order; bars of one time are taken in leg order, and equity is marked once per bar time.
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
    if let Some((leg, _)) =
        legs.iter().zip(series).find(|(leg, bars)| bars.iter().any(|b| b.instrument != leg.instrument))
    {
        return Err(SimulationError::ForeignBars { instrument: leg.instrument.0 });
    }
    let mut account = Account::new(legs, config)?;
    let total: usize = series.iter().map(|bars| bars.len()).sum();
    let mut cursors = vec![0usize; series.len()];
    let mut equity: Vec<(Timestamp, Money)> = Vec::with_capacity(series.iter().map(|b| b.len()).max().unwrap_or(0));
    let mut current: Option<Timestamp> = None;
    for done in 0..total {
        // The leg whose next bar is earliest (the first such leg on a tie).
        let mut pick = usize::MAX;
        let mut pick_ts = i64::MAX;
        for (index, bars) in series.iter().enumerate() {
            if let Some(bar) = bars.get(cursors[index]) {
                if bar.ts.nanos() < pick_ts {
                    pick_ts = bar.ts.nanos();
                    pick = index;
                }
            }
        }
        let bar = &series[pick][cursors[pick]];
        cursors[pick] += 1;
        if current.is_some_and(|ts| ts != bar.ts) {
            if let Some(ts) = current {
                equity.push((ts, account.equity()));
            }
        }
        current = Some(bar.ts);
        let overflow = || SimulationError::Overflow { bar_index: done, ts_ms: bar.ts.millis() };
        account.event = done;
        account.on_bar(pick, bar, &overflow)?;
    }
    if let Some(ts) = current {
        equity.push((ts, account.equity()));
    }
    Ok(account.finish(total, equity, started))
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
            equity.push((Timestamp::from_nanos(equity_period * period), account.equity()));
            equity_period = ts.div_euclid(period);
        }
        if any_timer && ts >= next_timer {
            // Missed periods are skipped, as the live runner's interval does: one timer, at the
            // last period boundary before this trade.
            let due = next_timer + (ts - next_timer) / TIMER_PERIOD_NANOS * TIMER_PERIOD_NANOS;
            next_timer = due + TIMER_PERIOD_NANOS;
            account.on_timer(Timestamp::from_nanos(due), &overflow)?;
        }
        account.on_tick(tick, &overflow)?;
    }
    if !ticks.is_empty() {
        equity.push((Timestamp::from_nanos(equity_period * period), account.equity()));
    }
    Ok(account.finish(ticks.len(), equity, started))
}
