//! The SMA(10,30) reference run on the first 100,000 synthetic bars, on which backtrader,
//! vectorbt, NautilusTrader and an exact integer baseline agree trade for trade.

mod common;

use backtest::data::BarSeries;
use backtest::{run_backtest, BacktestOutcome, BacktestSpec};
use domain::fill::{FillModel, FillTiming};
use domain::risk::RiskLimits;
use domain::{Money, Price, Qty};

fn reference_run(series: &BarSeries, timing: FillTiming) -> BacktestOutcome {
    let spec = BacktestSpec {
        strategy: "sma_cross".into(),
        params: "fast=10,slow=30".parse().unwrap(),
        quantity: Qty::from_units(100),
        fill_model: FillModel { timing, ..FillModel::default() },
        risk_limits: RiskLimits::default(),
        initial_capital: Money::from_units(100_000),
        instrument_rules: Default::default(),
    };
    run_backtest(&spec, series, &mut |_| {}).expect("reference run")
}


#[test]
fn sma_cross_reproduces_reference_trades_with_next_open_fill() {
    let series = common::reference_bars();
    assert_eq!(series.bars.len(), 100_000);
    assert_eq!(series.price_decimals, 4);
    let outcome = reference_run(&series, FillTiming::NextBarOpen);
    let expected = common::reference_trades();
    let trips = &outcome.result.round_trips;
    assert_eq!(trips.len(), expected.len());
    for (index, (trip, (entry_ts, entry_px, exit_ts, exit_px))) in trips.iter().zip(&expected).enumerate() {
        assert_eq!(
            (trip.entry_ts.millis(), trip.entry_price, trip.exit_ts.millis(), trip.exit_price),
            (*entry_ts, *entry_px, *exit_ts, *exit_px),
            "round trip {index} differs from the reference"
        );
        assert_eq!(trip.qty, Qty::from_units(100));
    }
    // The realized P&L must be the exact sum of the reference trades, and the published figure.
    let reference_pnl = expected.iter().fold(Money::ZERO, |sum, (_, entry, _, exit)| {
        sum + (*exit - *entry).checked_notional(Qty::from_units(100)).unwrap()
    });
    assert_eq!(outcome.metrics.realized_pnl, reference_pnl);
    assert_eq!(outcome.metrics.round_trips, 1_922);
    assert_eq!(outcome.metrics.realized_pnl, "-521.31".parse().unwrap());
    assert_eq!(outcome.metrics.open_position, Qty::ZERO);
}

#[test]
fn sma_cross_reproduces_reference_result_with_signal_close_fill() {
    let series = common::reference_bars();
    let outcome = reference_run(&series, FillTiming::SignalBarClose);
    assert_eq!(outcome.metrics.round_trips, 1_922);
    assert_eq!(outcome.metrics.realized_pnl, "-515.64".parse().unwrap());
    assert_eq!(outcome.metrics.open_position, Qty::ZERO);
    // Same signals as the next-open run: each trip is filled one bar earlier, at that bar's close.
    let next_open = reference_run(&series, FillTiming::NextBarOpen);
    for (close_trip, open_trip) in outcome.result.round_trips.iter().zip(&next_open.result.round_trips) {
        assert_eq!(close_trip.entry_ts.millis() + 60_000, open_trip.entry_ts.millis());
        assert_eq!(close_trip.exit_ts.millis() + 60_000, open_trip.exit_ts.millis());
    }
}

#[test]
fn fees_and_slippage_lower_the_reference_pnl_by_exactly_their_cost() {
    let series = common::reference_bars();
    let spec = BacktestSpec {
        strategy: "sma_cross".into(),
        params: "fast=10,slow=30".parse().unwrap(),
        quantity: Qty::from_units(100),
        fill_model: FillModel {
            fees: domain::fill::FeeSchedule { per_order: "1".parse().unwrap(), rate: domain::Bps::ZERO },
            ..FillModel::default()
        },
        risk_limits: RiskLimits::default(),
        initial_capital: Money::from_units(100_000),
        instrument_rules: Default::default(),
    };
    let with_fees = run_backtest(&spec, &series, &mut |_| {}).unwrap();
    // 1,922 round trips × 2 orders × 1 fee each.
    assert_eq!(with_fees.metrics.fees, Money::from_units(2 * 1_922));
    assert_eq!(with_fees.metrics.realized_pnl, "-521.31".parse::<Money>().unwrap() - Money::from_units(2 * 1_922));
    let slipped =
        BacktestSpec { fill_model: FillModel { slippage: domain::Bps::from_bps(1), ..FillModel::default() }, ..spec };
    let with_slippage = run_backtest(&slipped, &series, &mut |_| {}).unwrap();
    assert_eq!(with_slippage.metrics.round_trips, 1_922);
    assert!(with_slippage.metrics.realized_pnl < "-521.31".parse().unwrap());
    for trip in &with_slippage.result.round_trips {
        // Slipped prices stay on the data's 0.0001 tick.
        assert_eq!(trip.entry_price.raw() % 10_000, 0);
        assert_eq!(trip.exit_price.raw() % 10_000, 0);
    }
}

#[test]
fn the_instruments_lot_is_checked_on_every_order_and_its_tick_rounds_slipped_prices() {
    let series = common::reference_bars();
    let base = BacktestSpec {
        strategy: "sma_cross".into(),
        params: "fast=10,slow=30".parse().unwrap(),
        quantity: Qty::from_units(100),
        fill_model: FillModel { slippage: domain::Bps::from_bps(1), ..FillModel::default() },
        risk_limits: RiskLimits::default(),
        initial_capital: Money::from_units(100_000),
        instrument_rules: Default::default(),
    };
    let lots_of_1000 = BacktestSpec {
        instrument_rules: domain::risk::InstrumentRules {
            lot_size: Some(Qty::from_units(1_000)),
            ..Default::default()
        },
        ..base.clone()
    };
    let refused = run_backtest(&lots_of_1000, &series, &mut |_| {}).unwrap();
    assert_eq!(refused.result.round_trips.len(), 0);
    assert_eq!(
        refused.result.risk_rejections,
        vec![(domain::risk::RiskReason::LotSize, refused.result.risk_rejections[0].1)]
    );
    assert!(refused.result.risk_rejections[0].1 > 1_000);
    // Slipped prices round against the trader: to the data's 0.0001 by default, to 0.05 here.
    let coarse = BacktestSpec {
        instrument_rules: domain::risk::InstrumentRules {
            tick_size: Some("0.05".parse().unwrap()),
            ..Default::default()
        },
        ..base.clone()
    };
    let fine = run_backtest(&base, &series, &mut |_| {}).unwrap();
    let rounded = run_backtest(&coarse, &series, &mut |_| {}).unwrap();
    assert_eq!(rounded.result.round_trips.len(), fine.result.round_trips.len());
    assert!(rounded.metrics.realized_pnl < fine.metrics.realized_pnl, "coarser rounding costs more");
    let tick: Price = "0.05".parse().unwrap();
    assert!(rounded
        .result
        .round_trips
        .iter()
        .all(|t| t.entry_price.raw() % tick.raw() == 0 && t.exit_price.raw() % tick.raw() == 0));
}
