//! Portfolio backtests over several instruments in one account, and tick replays that drive
//! strategies as the live runner does.

mod common;

use backtest::portfolio::{run_portfolio_bars, run_tick_replay, Leg, Liquidity, PortfolioConfig};
use backtest::run_backtest;
use backtest::BacktestSpec;
use domain::fill::{FillModel, FillTiming};
use domain::risk::{RiskLimits, RiskReason};
use domain::strategy::{build_strategy, IntentBuffer, StrategyBase};
use domain::{
    Bar, InstrumentId, Money, OrderIntent, OrderType, Price, Qty, Side, Strategy, StrategyContext, Tick, Timestamp,
    Trail,
};

fn price(text: &str) -> Price {
    text.parse().unwrap()
}

fn config() -> PortfolioConfig {
    PortfolioConfig {
        fill_model: FillModel { tick: Price::tick_for_decimals(2).unwrap(), ..FillModel::default() },
        risk_limits: RiskLimits::default(),
        initial_capital: Money::from_units(100_000),
        bar_period_nanos: 60_000_000_000,
        liquidity: Liquidity::Unlimited,
    }
}

fn sma_leg(instrument: InstrumentId) -> Leg {
    let base = StrategyBase { instrument, quantity: Qty::from_units(100) };
    Leg { instrument, strategy: build_strategy("sma_cross", &"fast=10,slow=30".parse().unwrap(), base).unwrap() }
}

fn with_instrument(bars: &[Bar], instrument: InstrumentId) -> Vec<Bar> {
    bars.iter().map(|bar| Bar { instrument, ..*bar }).collect()
}

#[test]
fn a_one_leg_portfolio_gives_the_single_instrument_backtests_trades_and_pnl() {
    let series = common::reference_bars();
    let spec = BacktestSpec {
        strategy: "sma_cross".into(),
        params: "fast=10,slow=30".parse().unwrap(),
        quantity: Qty::from_units(100),
        fill_model: FillModel::default(),
        risk_limits: RiskLimits::default(),
        initial_capital: Money::from_units(100_000),
        instrument_rules: Default::default(),
    };
    let single = run_backtest(&spec, &series, &mut |_| {}).unwrap();
    let portfolio = run_portfolio_bars(vec![sma_leg(InstrumentId(0))], &[&series.bars], &config()).unwrap();
    assert_eq!(portfolio.round_trips.len(), 1_922, "the reference result");
    assert_eq!(portfolio.realized_pnl().to_string(), "-521.31");
    let trips: Vec<_> = portfolio.round_trips.iter().map(|(_, trip)| *trip).collect();
    assert_eq!(trips, single.result.round_trips);
    let equity: Vec<Money> = portfolio.equity.iter().map(|(_, e)| *e).collect();
    assert_eq!(equity, single.result.equity);
}

#[test]
fn legs_share_one_account_one_equity_curve_and_its_gross_exposure_limit() {
    let series = common::reference_bars();
    let first = with_instrument(&series.bars[..5_000], InstrumentId(1));
    let second = with_instrument(&series.bars[..5_000], InstrumentId(2));
    let free =
        run_portfolio_bars(vec![sma_leg(InstrumentId(1)), sma_leg(InstrumentId(2))], &[&first, &second], &config())
            .unwrap();
    let alone = run_portfolio_bars(vec![sma_leg(InstrumentId(1))], &[&first], &config()).unwrap();
    assert_eq!(free.round_trips.len(), 2 * alone.round_trips.len(), "two identical legs trade twice");
    assert_eq!(free.equity.len(), alone.equity.len(), "one equity point per bar time, not per bar");
    let gain = |result: &backtest::portfolio::PortfolioResult| {
        result.equity.last().unwrap().1.checked_sub(Money::from_units(100_000)).unwrap()
    };
    assert_eq!(gain(&free), gain(&alone).checked_add(gain(&alone)).unwrap());

    // Room for one leg's 100 units at about 100, not for both at once. Fills at the signal
    // bar's close, so the first leg holds its position when the second leg's order is checked.
    let limited = PortfolioConfig {
        risk_limits: RiskLimits { max_gross_exposure: Some(Money::from_units(15_000)), ..RiskLimits::default() },
        fill_model: FillModel { timing: FillTiming::SignalBarClose, ..config().fill_model },
        ..config()
    };
    let shared =
        run_portfolio_bars(vec![sma_leg(InstrumentId(1)), sma_leg(InstrumentId(2))], &[&first, &second], &limited)
            .unwrap();
    let refused: u64 =
        shared.risk_rejections.iter().filter(|(r, _)| *r == RiskReason::MaxGrossExposure).map(|(_, n)| n).sum();
    assert!(refused > 0, "the second leg's entries are refused while the first holds: {:?}", shared.risk_rejections);
    assert!(shared.round_trips.iter().all(|(instrument, _)| *instrument == InstrumentId(1)));
}

#[test]
fn two_legs_on_one_instrument_are_refused() {
    let error = run_portfolio_bars(vec![sma_leg(InstrumentId(1)), sma_leg(InstrumentId(1))], &[&[], &[]], &config())
        .err()
        .unwrap();
    assert_eq!(error.to_string(), "instrument 1 is traded by two legs of the portfolio");
}

const STOCK: InstrumentId = InstrumentId(4);

fn ticks(prices: &[&str]) -> Vec<Tick> {
    prices
        .iter()
        .enumerate()
        .map(|(n, p)| Tick {
            instrument: STOCK,
            ts: Timestamp::from_nanos(1_700_000_000_000_000_000 + n as i64 * 500_000_000),
            price: price(p),
            size: Qty::from_units(10),
        })
        .collect()
}

fn level_breakout(params: &str) -> Leg {
    let base = StrategyBase { instrument: STOCK, quantity: Qty::from_units(3) };
    Leg { instrument: STOCK, strategy: build_strategy("level_breakout", &params.parse().unwrap(), base).unwrap() }
}

#[test]
fn level_breakout_over_ticks_buys_the_cross_at_the_next_trade_and_the_timer_sells_after_the_hold() {
    // Trades every 0.5 s: cross 100 at the third, held 2 s, then a second cross.
    let data = ticks(&["99", "99.5", "100.5", "101", "101", "101", "101", "101", "101", "101", "99", "100.2", "100.4"]);
    let result = run_tick_replay(vec![level_breakout("level=100,hold_seconds=2")], &data, &config()).unwrap();
    let orders: Vec<_> = result.orders.iter().map(|o| (o.intent.side, o.intent.qty, o.ts)).collect();
    let at = |n: usize| data[n].ts;
    assert_eq!(orders[0], (Side::Buy, Qty::from_units(3), at(2)), "the cross");
    assert_eq!(result.fills[0].price, price("101"), "filled by the next trade");
    assert_eq!(result.fills[0].ts, at(3));
    // Held from 1.5 s; timers fire every second from the first trade (1 s, 2 s, 3 s, 4 s): the
    // one at 4 s is the first at least 2 s after the fill, and it comes before that trade.
    assert_eq!(orders[1], (Side::Sell, Qty::from_units(3), at(8)));
    assert_eq!(result.fills[1].ts, at(8), "sold at the trade the timer preceded");
    assert_eq!(orders[2].0, Side::Buy, "the second cross");
    assert_eq!(orders[2].2, at(11));
    assert_eq!(result.fills.len(), 3);
    assert_eq!(result.positions[0].qty(), Qty::from_units(3));
}

/// Places one order on the first trade it sees and nothing after.
struct OneOrder(Option<OrderIntent>);

impl Strategy for OneOrder {
    fn name(&self) -> &'static str {
        "one_order"
    }
    fn on_tick(&mut self, _ctx: &StrategyContext, _tick: &Tick, intents: &mut IntentBuffer) {
        intents.extend(self.0.take());
    }
}

fn one_order(side: Side, order_type: OrderType) -> Leg {
    let intent = OrderIntent::of_type(STOCK, side, Qty::from_units(2), order_type);
    Leg { instrument: STOCK, strategy: Box::new(OneOrder(Some(intent))) }
}

fn replay_fill(side: Side, order_type: OrderType, prices: &[&str]) -> Option<(usize, Price)> {
    let data = ticks(prices);
    let result = run_tick_replay(vec![one_order(side, order_type)], &data, &config()).unwrap();
    let fill = result.fills.first()?;
    Some((data.iter().position(|t| t.ts == fill.ts).unwrap(), fill.price))
}

#[test]
fn stop_orders_replayed_over_ticks_trigger_and_fill_where_the_paper_venue_would() {
    let path = ["100", "100.5", "99.6", "101.2", "99.4", "98.9", "99.2", "100.1"];
    assert_eq!(replay_fill(Side::Sell, OrderType::Stop(price("99.5")), &path), Some((4, price("99.4"))));
    assert_eq!(replay_fill(Side::Buy, OrderType::Stop(price("101")), &path), Some((3, price("101.2"))));
    let stop_limit = OrderType::StopLimit { stop: price("99.5"), limit: price("99.1") };
    assert_eq!(replay_fill(Side::Sell, stop_limit, &path), Some((4, price("99.4"))));
    let tight = OrderType::StopLimit { stop: price("99"), limit: price("99.1") };
    assert_eq!(replay_fill(Side::Sell, tight, &path), Some((6, price("99.2"))), "triggered at 98.9, filled at 99.2");
    // A trailing sell 1.5 below the high: the high is 101.2, so the stop is 99.7 from then on.
    let trailing = OrderType::TrailingStop(Trail::Amount(price("1.5")));
    assert_eq!(replay_fill(Side::Sell, trailing, &path), Some((4, price("99.4"))));
    let wide = OrderType::TrailingStop(Trail::Amount(price("3")));
    assert_eq!(replay_fill(Side::Sell, wide, &path), None, "never 3 below the high");
}

#[test]
fn a_reduce_only_order_that_would_open_a_position_is_refused_in_a_replay() {
    let intent = OrderIntent::market(STOCK, Side::Sell, Qty::from_units(1)).reducing_only();
    let leg = Leg { instrument: STOCK, strategy: Box::new(OneOrder(Some(intent))) };
    let result = run_tick_replay(vec![leg], &ticks(&["100", "101"]), &config()).unwrap();
    assert!(result.fills.is_empty());
    assert_eq!(result.risk_rejections, vec![(RiskReason::ReduceOnly, 1)]);
}

#[test]
fn ticks_out_of_time_order_are_refused() {
    let mut data = ticks(&["100", "101"]);
    data.swap(0, 1);
    let error = run_tick_replay(vec![level_breakout("level=100")], &data, &config()).err().unwrap();
    assert!(error.to_string().starts_with("tick 1 "), "{error}");
}

#[test]
fn legs_run_on_all_cores_give_exactly_what_one_account_running_them_in_turn_gives() {
    let series = common::reference_bars();
    // Three legs on different stretches of the reference path (their bars at the same times).
    let legs_bars: Vec<Vec<Bar>> = (0..3u32)
        .map(|k| {
            let offset = k as usize * 20_000;
            series.bars[..20_000]
                .iter()
                .zip(&series.bars[offset..offset + 20_000])
                .map(|(at, path)| Bar { instrument: InstrumentId(10 + k), ts: at.ts, ..*path })
                .collect()
        })
        .collect();
    let slices: Vec<&[Bar]> = legs_bars.iter().map(Vec::as_slice).collect();
    let legs = || (0..3u32).map(|k| sma_leg(InstrumentId(10 + k))).collect::<Vec<_>>();
    // No account-wide limit: the legs are independent and run in groups on all cores.
    let parallel = run_portfolio_bars(legs(), &slices, &config()).unwrap();
    // A daily loss limit no run reaches makes them one account run in one thread.
    let one_account = PortfolioConfig {
        risk_limits: RiskLimits { max_daily_loss: Some(Money::from_units(1_000_000_000)), ..RiskLimits::default() },
        ..config()
    };
    let sequential = run_portfolio_bars(legs(), &slices, &one_account).unwrap();
    assert!(parallel.fills.len() > 1_000, "the legs trade: {}", parallel.fills.len());
    assert_eq!(parallel.orders, sequential.orders);
    assert_eq!(parallel.fills, sequential.fills);
    assert_eq!(parallel.round_trips, sequential.round_trips);
    assert_eq!(parallel.equity, sequential.equity);
    assert_eq!(parallel.positions, sequential.positions);
}
