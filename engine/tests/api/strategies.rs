use std::time::Duration;

use serde_json::json;

use crate::helpers::{error_message, eventually, spawn_app, spawn_with, test_settings, TestApp};

async fn lease(app: &TestApp, name: &str) -> (Option<String>, i64) {
    sqlx::query_as(
        "select l.owner, l.fencing_token from strategy_lease l join strategy s using (strategy_id) where s.name = $1",
    )
    .bind(name)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn strategy_parameters_are_validated_by_the_registry_naming_the_bad_parameter() {
    let (app, _feed, _db) = spawn_app().await;
    let base = json!({"name": "s1", "kind": "sma_cross", "account": "a", "symbols": ["BTCUSD"], "params": {"fast": 10, "slow": 5}});
    let (status, body) = app.post("/api/v1/strategies", base.clone()).await;
    assert_eq!(status, 422);
    assert!(error_message(&body, "invalid_strategy").contains("`fast`"), "{body}");
    let mut unknown_kind = base.clone();
    unknown_kind["kind"] = json!("smacross");
    let (status, body) = app.post("/api/v1/strategies", unknown_kind).await;
    assert_eq!(status, 422);
    assert!(error_message(&body, "invalid_strategy").contains("sma_cross"), "{body}");
    let mut good = base;
    good["params"] = json!({"fast": 2, "slow": 5});
    assert_eq!(app.post("/api/v1/strategies", good.clone()).await.0, 201);
    assert_eq!(app.post("/api/v1/strategies", good).await.0, 409);
    let (status, patched) =
        app.send(reqwest::Method::PATCH, "/api/v1/strategies/s1", json!({"params": {"fast": 3, "slow": 6}})).await;
    assert_eq!((status, patched["params"]["fast"].as_i64()), (200, Some(3)));
    app.stop().await;
}

#[tokio::test]
async fn an_sma_strategy_builds_bars_from_live_ticks_and_trades_them() {
    let (app, feed, _db) = spawn_app().await;
    app.create_strategy(json!({"name": "sma", "kind": "sma_cross", "params": {"fast": 2, "slow": 3, "quantity": "5"},
        "account": "a", "symbols": ["BTCUSD"], "bar_seconds": 1, "enabled": true}))
        .await;
    eventually("the strategy leased", || async {
        lease(&app, "sma").await.0.as_deref() == Some(app.instance_id.as_str())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // the strategy task subscribes to the feed
                                                          // One tick per 1 s bar; each tick closes the previous bar. SMA2 crosses above SMA3 at the
                                                          // bar closing at 12 (closed by the next tick).
    let start = (chrono::Utc::now().timestamp() - 100) * 1000;
    for (i, close) in ["10", "9", "8", "12", "13"].iter().enumerate() {
        feed.tick_at("BTCUSD", close, start + i as i64 * 1000);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eventually("the buy order", || async {
        app.get("/api/v1/orders?strategy=sma").await.1["orders"].as_array().is_some_and(|o| !o.is_empty())
    })
    .await;
    let (_, page) = app.get("/api/v1/orders?strategy=sma").await;
    let order = &page["orders"][0];
    assert_eq!((order["side"].as_str(), order["qty"].as_str()), (Some("buy"), Some("5")));
    assert!(order["client_order_id"].as_str().unwrap().starts_with("sma-BTCUSD-"), "{order}");
    app.order_reaches(order["order_id"].as_i64().unwrap(), "new").await;
    feed.tick_at("BTCUSD", "13.5", start + 5000);
    app.order_reaches(order["order_id"].as_i64().unwrap(), "filled").await;
    app.stop().await;
}

/// `(side, qty, fill price)` of each order, in the order placed.
type OrderTrace = Vec<(String, String, String)>;

/// What the backtester's tick replay of `ticks` (epoch ms, price) does with `level_breakout`
/// under `params`, through the paper venue's fill rules.
fn level_breakout_replayed(params: &str, ticks: &[(i64, &str)]) -> OrderTrace {
    use backtest::portfolio::{run_tick_replay, Leg, Liquidity, PortfolioConfig};
    use domain::{InstrumentId, Money, Price, Qty, Tick, Timestamp};
    let instrument = InstrumentId(0);
    let base = domain::StrategyBase { instrument, quantity: Qty::from_units(1) };
    let strategy = domain::build_strategy("level_breakout", &params.parse().unwrap(), base).unwrap();
    let ticks: Vec<Tick> = ticks
        .iter()
        .map(|(ms, price)| Tick {
            instrument,
            ts: Timestamp::checked_from_millis(*ms).unwrap(),
            price: price.parse().unwrap(),
            size: Qty::from_units(3),
        })
        .collect();
    let config = PortfolioConfig {
        fill_model: domain::fill::FillModel { tick: Price::from_raw(1_000_000), ..Default::default() },
        risk_limits: domain::risk::RiskLimits::default(),
        initial_capital: Money::from_units(100_000),
        bar_period_nanos: 60_000_000_000,
        liquidity: Liquidity::Unlimited,
    };
    let result = run_tick_replay(vec![Leg { instrument, strategy }], &ticks, &config).unwrap();
    assert_eq!(result.orders.len(), result.fills.len(), "every order of the replay filled");
    result
        .orders
        .iter()
        .zip(&result.fills)
        .map(|(order, fill)| {
            let side = if order.intent.side == domain::Side::Buy { "buy" } else { "sell" };
            (side.to_owned(), order.intent.qty.to_string(), fill.price.to_string())
        })
        .collect()
}

#[tokio::test]
async fn level_breakout_trading_live_places_the_orders_its_tick_backtest_of_the_same_trades_places() {
    let (app, feed, _db) = spawn_app().await;
    app.create_strategy(json!({"name": "brk-eq", "kind": "level_breakout",
        "params": {"level": "100", "hold_seconds": 1, "quantity": "3"},
        "account": "acct-eq", "symbols": ["ETHUSD"], "enabled": true}))
        .await;
    eventually("the strategy leased", || async {
        lease(&app, "brk-eq").await.0.as_deref() == Some(app.instance_id.as_str())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // the strategy task subscribes to the feed
                                                          // Two breakouts, each followed by a plateau longer than the hold plus one timer period, so
                                                          // the trade the exit fills at does not depend on where the live clock's seconds fall.
    let mut path = vec!["99", "99.5", "100.5"];
    path.extend(["101"; 16]);
    path.extend(["99", "99.4", "100.2"]);
    path.extend(["100.4"; 16]);
    let mut sent = Vec::new();
    for price in path {
        let ts_ms = chrono::Utc::now().timestamp_millis();
        feed.tick_at("ETHUSD", price, ts_ms);
        sent.push((ts_ms, price));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let live = || async {
        let (_, page) = app.get("/api/v1/orders?strategy=brk-eq").await;
        let mut orders: Vec<(i64, (String, String, String))> = page["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                let text = |key: &str| o[key].as_str().unwrap_or_default().to_owned();
                (o["order_id"].as_i64().unwrap(), (text("side"), text("qty"), text("avg_fill_price")))
            })
            .collect();
        orders.sort();
        orders.into_iter().map(|(_, order)| order).collect::<OrderTrace>()
    };
    eventually("four orders filled live", || async {
        let orders = live().await;
        orders.len() == 4 && orders.iter().all(|(_, _, price)| !price.is_empty())
    })
    .await;
    let replayed = level_breakout_replayed("level=100,hold_seconds=1,quantity=3", &sent);
    let expected: OrderTrace = [("buy", "101"), ("sell", "101"), ("buy", "100.4"), ("sell", "100.4")]
        .into_iter()
        .map(|(side, price)| (side.to_owned(), "3".to_owned(), price.to_owned()))
        .collect();
    assert_eq!(replayed, expected, "the backtest over the ticks");
    assert_eq!(live().await, replayed, "live trading over the same ticks");
    app.stop().await;
}

#[tokio::test]
async fn a_tick_strategy_buys_a_breakout_on_the_trade_and_its_timer_closes_the_position() {
    let (app, feed, _db) = spawn_app().await;
    app.create_strategy(json!({"name": "brk", "kind": "level_breakout",
        "params": {"level": "100", "hold_seconds": 1, "quantity": "2"},
        "account": "acct-brk", "symbols": ["BTCUSD"], "enabled": true}))
        .await;
    eventually("the strategy leased", || async {
        lease(&app, "brk").await.0.as_deref() == Some(app.instance_id.as_str())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // the strategy task subscribes to the feed
    feed.tick("BTCUSD", "99.5");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // on_tick: the trade through 100 buys at once, with no bar closing.
    feed.tick("BTCUSD", "100.5");
    eventually("the breakout order", || async {
        app.get("/api/v1/orders?strategy=brk").await.1["orders"].as_array().is_some_and(|o| o.len() == 1)
    })
    .await;
    let (_, page) = app.get("/api/v1/orders?strategy=brk").await;
    let buy = &page["orders"][0];
    assert_eq!((buy["side"].as_str(), buy["qty"].as_str()), (Some("buy"), Some("2")));
    assert!(buy["client_order_id"].as_str().unwrap().starts_with("brk-BTCUSD-t"), "{buy}");
    app.order_reaches(buy["order_id"].as_i64().unwrap(), "new").await;
    feed.tick("BTCUSD", "101");
    app.order_reaches(buy["order_id"].as_i64().unwrap(), "filled").await;
    // on_fill starts the holding clock; on_timer closes the position a second later.
    let sell = crate::helpers::eventually_value("the timer's exit order", Duration::from_secs(10), || async {
        let (_, page) = app.get("/api/v1/orders?strategy=brk").await;
        page["orders"].as_array().and_then(|o| o.iter().find(|o| o["side"] == "sell").cloned())
    })
    .await;
    assert_eq!(sell["qty"], "2");
    assert!(sell["client_order_id"].as_str().unwrap().starts_with("brk-BTCUSD-m"), "{sell}");
    app.order_reaches(sell["order_id"].as_i64().unwrap(), "new").await;
    feed.tick("BTCUSD", "101.5");
    app.order_reaches(sell["order_id"].as_i64().unwrap(), "filled").await;
    let (_, positions) = app.get("/api/v1/positions?account=acct-brk").await;
    assert_eq!((positions[0]["qty"].as_str(), positions[0]["realized_pnl"].as_str()), (Some("0"), Some("1")));
    let (_, page) = app.get("/api/v1/orders?strategy=brk").await;
    assert_eq!(page["orders"].as_array().unwrap().len(), 2, "one entry, one exit: {page}");
    app.stop().await;
}

#[tokio::test]
async fn of_two_instances_one_runs_a_strategy_and_the_other_takes_over_when_it_stops() {
    let (a, feed, db) = spawn_app().await;
    let b = spawn_with(test_settings(&db.url(), &feed)).await;
    a.create_strategy(
        json!({"name": "leased", "kind": "sma_cross", "account": "a", "symbols": ["BTCUSD"], "enabled": true}),
    )
    .await;
    eventually("a lease owner", || async { lease(&a, "leased").await.0.is_some() }).await;
    let (owner, token) = lease(&a, "leased").await;
    let owner = owner.unwrap();
    // It stays with its owner while the owner lives.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(lease(&a, "leased").await, (Some(owner.clone()), token));
    let (stopping, staying) = if owner == a.instance_id { (a, b) } else { (b, a) };
    let staying_id = staying.instance_id.clone();
    let stopped_at = std::time::Instant::now();
    stopping.stop().await; // SIGTERM path: the lease is handed back at once
    eventually("the other instance owns the strategy", || async {
        lease(&staying, "leased").await.0.as_deref() == Some(staying_id.as_str())
    })
    .await;
    assert!(stopped_at.elapsed() < Duration::from_secs(3), "takeover took {:?}", stopped_at.elapsed());
    assert!(lease(&staying, "leased").await.1 > token, "the fencing token moves on with every owner");

    // Disabling hands the lease back.
    staying.post("/api/v1/strategies/leased/disable", json!({})).await;
    eventually("the lease released", || async { lease(&staying, "leased").await.0.is_none() }).await;
    staying.stop().await;
}

#[tokio::test]
async fn an_order_written_with_a_stale_fencing_token_is_refused() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("BTCUSD", "100");
    let strategy = app
        .create_strategy(
            json!({"name": "fenced", "kind": "sma_cross", "account": "a", "symbols": ["BTCUSD"], "enabled": true}),
        )
        .await;
    eventually("the strategy leased", || async { lease(&app, "fenced").await.0.is_some() }).await;
    let (_, token) = lease(&app, "fenced").await;
    let oms = engine::oms::Oms::new(
        app.pool.clone(),
        &app.instance_id,
        engine::venue::Venue::Paper(
            engine::venue::paper::PaperVenue::start(
                engine::configuration::PaperSettings {
                    fees: Default::default(),
                    slippage: domain::Bps::ZERO,
                    liquidity: Default::default(),
                },
                "x",
                tokio::sync::broadcast::channel(1).1,
                tokio::sync::mpsc::channel(1).0,
                tokio_util::sync::CancellationToken::new(),
            )
            .0,
        ),
        engine::market::MarketData::new(&feed.url),
    );
    let order = |token: i64, id: &str| engine::oms::NewOrder {
        account: "a".into(),
        strategy: "fenced".into(),
        client_order_id: id.into(),
        symbol: "BTCUSD".into(),
        side: domain::Side::Buy,
        qty: domain::Qty::ONE,
        order_type: domain::OrderType::Market,
        time_in_force: domain::TimeInForce::Gtc,
        reduce_only: false,
        signal_id: None,
        lease: Some(engine::oms::LeaseClaim {
            strategy_id: strategy["strategy_id"].as_i64().unwrap(),
            fencing_token: token,
        }),
        bypass_halt: false,
        emulate: false,
        bracket: None,
    };
    assert!(matches!(oms.place(order(token - 1, "stale")).await, Err(engine::oms::OmsError::StaleLease)));
    assert!(oms.place(order(token, "current")).await.is_ok());
    app.stop().await;
}

#[tokio::test]
async fn the_demo_sma_strategy_trades_a_synthetic_random_walk_within_a_minute_of_market_time() {
    use rand::{Rng, SeedableRng};
    let (app, feed, _db) = spawn_app().await;
    engine::seed::seed_demo(&app.pool).await.unwrap();
    eventually("the demo strategy leased", || async { lease(&app, "demo-sma").await.0.is_some() }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The synthetic feed's walk: 5 ticks/s per symbol, ±3 cents a tick, over 60 s of market time.
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let symbols = ["BTCUSD", "ETHUSD", "AAPL"];
    let mut prices: Vec<i64> = symbols.iter().map(|_| rng.gen_range(5_000..50_000)).collect();
    let start = (chrono::Utc::now().timestamp() - 120) * 1000;
    for step in 0..300 {
        for (symbol, cents) in symbols.iter().zip(prices.iter_mut()) {
            *cents = (*cents + rng.gen_range(-3..=3)).max(1);
            feed.tick_at(symbol, &format!("{}.{:02}", *cents / 100, *cents % 100), start + step * 200);
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    eventually("demo orders filled and a position held or closed", || async {
        let (_, fills) = app.get("/api/v1/fills?account=demo").await;
        let (_, positions) = app.get("/api/v1/positions?account=demo").await;
        fills.as_array().is_some_and(|f| !f.is_empty()) && positions.as_array().is_some_and(|p| !p.is_empty())
    })
    .await;
    let (_, page) = app.get("/api/v1/orders?strategy=demo-sma").await;
    let orders = page["orders"].as_array().unwrap();
    assert!(orders.iter().all(|o| o["status"] != "rejected"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn a_quiet_symbols_bar_closes_when_the_market_moves_past_it() {
    let (app, feed, _db) = spawn_app().await;
    app.create_strategy(
        json!({"name": "quiet", "kind": "sma_cross", "params": {"fast": 2, "slow": 3, "quantity": "1"},
        "account": "a", "symbols": ["BTCUSD", "ETHUSD"], "bar_seconds": 1, "enabled": true}),
    )
    .await;
    eventually("the strategy leased", || async { lease(&app, "quiet").await.0.is_some() }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = (chrono::Utc::now().timestamp() - 100) * 1000;
    for (i, close) in ["10", "9", "8", "12"].iter().enumerate() {
        feed.tick_at("BTCUSD", close, start + i as i64 * 1000);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // BTCUSD falls silent; ETHUSD trades on. The bar closing at 12 completes on market time.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.get("/api/v1/orders?strategy=quiet").await.1["orders"].as_array().unwrap().len(), 0);
    feed.tick_at("ETHUSD", "50", start + 5_500);
    eventually("the buy order without another BTCUSD trade", || async {
        app.get("/api/v1/orders?strategy=quiet&symbol=BTCUSD").await.1["orders"]
            .as_array()
            .is_some_and(|o| o.len() == 1)
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_strategy_that_starts_late_warms_up_from_history_and_trades_the_next_cross() {
    let (app, feed, _db) = spawn_app().await;
    // Three bars of history the strategy never saw live.
    let start = (chrono::Utc::now().timestamp() - 100) * 1000;
    for (i, close) in ["10", "9", "8"].iter().enumerate() {
        feed.history_tick("BTCUSD", close, start + i as i64 * 1000);
    }
    app.create_strategy(json!({"name": "late", "kind": "sma_cross", "params": {"fast": 2, "slow": 3, "quantity": "1"},
        "account": "a", "symbols": ["BTCUSD"], "bar_seconds": 1, "enabled": true}))
        .await;
    eventually("the strategy leased", || async { lease(&app, "late").await.0.is_some() }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Live: 12 closes the bar of 8 (from history) and 13 closes the bar of 12: the cross.
    // Cold, SMA3 would need three live bars and could not cross yet.
    feed.tick_at("BTCUSD", "12", start + 3000);
    feed.tick_at("BTCUSD", "13", start + 4000);
    eventually("the buy order on the cross", || async {
        app.get("/api/v1/orders?strategy=late").await.1["orders"].as_array().is_some_and(|o| o.len() == 1)
    })
    .await;
    app.stop().await;
}
