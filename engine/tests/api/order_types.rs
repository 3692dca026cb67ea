//! Stop, stop-limit, trailing stop and reduce-only orders through the API and the paper venue,
//! checked against the backtester's tick replay of the same trades.

use backtest::portfolio::{run_tick_replay, Leg, Liquidity, PortfolioConfig};
use domain::fill::FillModel;
use domain::risk::RiskLimits;
use domain::strategy::IntentBuffer;
use domain::{
    Bps, InstrumentId, Money, OrderIntent, OrderType, Price, Qty, Side, Strategy, StrategyContext, Tick, Timestamp,
    Trail,
};
use serde_json::{json, Value};

use crate::helpers::{eventually, spawn_app};

/// The trades both runs see: the first before the orders are placed, the rest after.
const PATH: [&str; 8] = ["100", "100.5", "99.6", "101.2", "99.4", "98.9", "99.2", "100.1"];

fn p(text: &str) -> Price {
    text.parse().unwrap()
}

/// Each order type once, told apart by its quantity: (qty, side, type, API fields).
fn orders() -> Vec<(i64, Side, OrderType, Value)> {
    vec![
        (1, Side::Sell, OrderType::Stop(p("99.5")), json!({"order_type": "stop", "stop_price": "99.5"})),
        (2, Side::Buy, OrderType::Stop(p("101")), json!({"order_type": "stop", "stop_price": "101"})),
        (
            3,
            Side::Sell,
            OrderType::StopLimit { stop: p("99.5"), limit: p("99.1") },
            json!({"order_type": "stop_limit", "stop_price": "99.5", "limit_price": "99.1"}),
        ),
        (
            4,
            Side::Sell,
            OrderType::StopLimit { stop: p("99"), limit: p("99.1") },
            json!({"order_type": "stop_limit", "stop_price": "99", "limit_price": "99.1"}),
        ),
        (
            5,
            Side::Sell,
            OrderType::TrailingStop(Trail::Amount(p("1.5"))),
            json!({"order_type": "trailing_stop", "trail_amount": "1.5"}),
        ),
        (
            6,
            Side::Sell,
            OrderType::TrailingStop(Trail::Amount(p("3"))),
            json!({"order_type": "trailing_stop", "trail_amount": "3"}),
        ),
        (
            7,
            Side::Sell,
            OrderType::TrailingStop(Trail::Percent(Bps::from_bps(100))),
            json!({"order_type": "trailing_stop", "trail_percent": "1"}),
        ),
    ]
}

/// The fills booked for `account`: (qty, price), sorted.
async fn fills_of(app: &crate::helpers::TestApp, account: &str) -> Vec<(String, String)> {
    let (_, fills) = app.get(&format!("/api/v1/fills?account={account}")).await;
    let mut got: Vec<(String, String)> = fills
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["qty"].as_str().unwrap().to_owned(), f["price"].as_str().unwrap().to_owned()))
        .collect();
    got.sort();
    got
}

/// Places every order of [`orders`] on the first trade it sees.
struct PlaceAll(Vec<OrderIntent>);

impl Strategy for PlaceAll {
    fn name(&self) -> &'static str {
        "place_all"
    }
    fn on_tick(&mut self, _ctx: &StrategyContext, _tick: &Tick, intents: &mut IntentBuffer) {
        intents.append(&mut self.0);
    }
}

/// What the backtester's tick replay fills: (qty, price) per order, sorted by qty.
fn replayed_fills() -> Vec<(String, String)> {
    let intents = orders()
        .into_iter()
        .map(|(qty, side, order_type, _)| OrderIntent::of_type(InstrumentId(0), side, Qty::from_units(qty), order_type))
        .collect();
    replay(intents, &PATH)
}

/// The fills of `intents`, placed on the first of `path`'s trades, in the backtester's tick
/// replay with the paper venue's tick and liquidity: (qty, price), sorted.
fn replay(intents: Vec<OrderIntent>, path: &[&str]) -> Vec<(String, String)> {
    let instrument = InstrumentId(0);
    let ticks: Vec<Tick> = path
        .iter()
        .enumerate()
        .map(|(n, price)| Tick {
            instrument,
            ts: Timestamp::from_nanos(1_800_000_000_000_000_000 + n as i64 * 1_000_000),
            price: p(price),
            size: Qty::from_units(3),
        })
        .collect();
    let config = PortfolioConfig {
        // The paper venue's tick and liquidity.
        fill_model: FillModel { tick: p("0.01"), ..FillModel::default() },
        risk_limits: RiskLimits::default(),
        initial_capital: Money::from_units(100_000),
        bar_period_nanos: 60_000_000_000,
        liquidity: Liquidity::Unlimited,
    };
    let result =
        run_tick_replay(vec![Leg { instrument, strategy: Box::new(PlaceAll(intents)) }], &ticks, &config).unwrap();
    let mut fills: Vec<_> = result.fills.iter().map(|f| (f.qty.to_string(), f.price.to_string())).collect();
    fills.sort();
    fills
}

#[tokio::test]
async fn stop_stop_limit_and_trailing_stop_orders_fill_on_paper_exactly_where_the_tick_replay_fills_them() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("STOPS", PATH[0]);
    let mut ids = Vec::new();
    for (qty, side, _, fields) in orders() {
        let mut body = json!({"account": "stops", "symbol": "STOPS", "qty": qty.to_string(),
                              "side": if side == Side::Buy { "buy" } else { "sell" },
                              "client_order_id": format!("stop-{qty}")});
        body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        let (status, placed) = app.post("/api/v1/orders", body).await;
        assert_eq!(status, 201, "{placed}");
        ids.push(placed["order_id"].as_i64().unwrap());
    }
    for id in &ids {
        app.order_reaches(*id, "new").await;
    }
    let (_, trailing) = app.get(&format!("/api/v1/orders/{}", ids[6])).await;
    assert_eq!(
        (trailing["order_type"].as_str(), trailing["trail_percent"].as_str()),
        (Some("trailing_stop"), Some("1"))
    );
    for price in &PATH[1..] {
        feed.tick("STOPS", price);
    }
    let expected = replayed_fills();
    assert_eq!(expected.len(), 6, "all but the 3-wide trailing stop fill: {expected:?}");
    eventually("the paper venue fills what the replay filled", || async {
        fills_of(&app, "stops").await.len() >= expected.len()
    })
    .await;
    let paper = fills_of(&app, "stops").await;
    assert_eq!(paper, expected);
    let (_, untouched) = app.get(&format!("/api/v1/orders/{}", ids[5])).await;
    assert_eq!(untouched["status"], "new", "the wide trailing stop still waits");
    app.stop().await;
}

#[tokio::test]
async fn a_reduce_only_order_is_rejected_when_it_would_open_or_flip_and_passes_when_it_closes() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("RDC", "50");
    let order = |qty: &str, side: &str, id: &str| json!({"account": "rdc", "symbol": "RDC", "side": side, "qty": qty, "reduce_only": true, "client_order_id": id});
    let (_, opening) = app.post("/api/v1/orders", order("1", "sell", "r-1")).await;
    assert_eq!(
        (opening["status"].as_str(), opening["reject_reason"].as_str()),
        (Some("rejected"), Some("reduce_only"))
    );
    let (_, bought) = app.place_market("rdc", "RDC", "buy", "2", "r-2").await;
    app.order_reaches(bought["order_id"].as_i64().unwrap(), "new").await;
    feed.tick("RDC", "51");
    app.order_reaches(bought["order_id"].as_i64().unwrap(), "filled").await;
    let (_, flipping) = app.post("/api/v1/orders", order("3", "sell", "r-3")).await;
    assert_eq!(flipping["reject_reason"], "reduce_only", "{flipping}");
    let (status, closing) = app.post("/api/v1/orders", order("2", "sell", "r-4")).await;
    assert_eq!(
        (status, closing["status"].as_str(), closing["reduce_only"].as_bool()),
        (201, Some("pending_new"), Some(true))
    );
    app.order_reaches(closing["order_id"].as_i64().unwrap(), "new").await;
    feed.tick("RDC", "52");
    app.order_reaches(closing["order_id"].as_i64().unwrap(), "filled").await;
    app.stop().await;
}

#[tokio::test]
async fn an_order_type_without_its_prices_or_with_another_types_prices_is_refused_with_the_reason() {
    let (app, _feed, _db) = spawn_app().await;
    let cases = [
        (json!({"order_type": "stop"}), "a stop order needs a positive stop_price"),
        (
            json!({"order_type": "stop_limit", "stop_price": "10"}),
            "a stop_limit order needs a positive stop_price and limit_price",
        ),
        (json!({"order_type": "trailing_stop"}), "a trailing_stop order needs trail_amount or trail_percent"),
        (
            json!({"order_type": "trailing_stop", "trail_amount": "1", "trail_percent": "1"}),
            "give trail_amount or trail_percent, not both",
        ),
        (json!({"order_type": "trailing_stop", "trail_percent": "100"}), "trail_percent must be above 0 and below 100"),
        (json!({"order_type": "limit", "limit_price": "10", "stop_price": "9"}), "a limit order takes no stop_price"),
        (json!({"order_type": "market", "trail_amount": "1"}), "a market order takes no trail_amount"),
        (json!({"order_type": "stop", "stop_price": "-1"}), "stop_price must be greater than zero"),
        (
            json!({"order_type": "iceberg"}),
            "order_type must be market, limit, stop, stop_limit or trailing_stop, got \"iceberg\"",
        ),
    ];
    for (n, (fields, message)) in cases.into_iter().enumerate() {
        let mut body =
            json!({"account": "v", "symbol": "V", "side": "sell", "qty": "1", "client_order_id": format!("v-{n}")});
        body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        let (status, error) = app.post("/api/v1/orders", body).await;
        assert_eq!((status, error["error"]["message"].as_str()), (422, Some(message)), "{error}");
    }
    app.stop().await;
}

#[tokio::test]
async fn an_emulated_paper_stop_is_held_by_the_engine_sent_as_a_market_order_when_triggered_or_cancelled_unsent() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("HELD", "100");
    let stop = |id: &str| {
        json!({"account": "held", "symbol": "HELD", "side": "sell", "qty": "1", "order_type": "stop",
               "stop_price": "99", "emulate": true, "client_order_id": id})
    };
    let (status, held) = app.post("/api/v1/orders", stop("held-1")).await;
    assert_eq!(
        (status, held["status"].as_str(), held["emulated"].as_bool()),
        (201, Some("held"), Some(true)),
        "{held}"
    );
    let (_, other) = app.post("/api/v1/orders", stop("held-2")).await;
    let (status, cancelled) = app.post(&format!("/api/v1/orders/{}/cancel", other["order_id"]), json!({})).await;
    assert_eq!((status, cancelled["status"].as_str()), (202, Some("cancelled")), "a held stop is cancelled at once");
    tokio::time::sleep(engine::oms::triggers::RELOAD_EVERY + std::time::Duration::from_millis(200)).await;
    let id = held["order_id"].as_i64().unwrap();
    feed.tick("HELD", "99.5");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.get(&format!("/api/v1/orders/{id}")).await.1["status"], "held", "99.5 does not reach 99");
    feed.tick("HELD", "98.8");
    let working = app.order_reaches(id, "new").await;
    assert!(working["triggered_at"].is_string(), "{working}");
    // The market order it became fills at the next trade, as any market order on paper.
    feed.tick("HELD", "98.6");
    let filled = app.order_reaches(id, "filled").await;
    assert_eq!(filled["avg_fill_price"], "98.6");
    let events = filled["events"].as_array().unwrap();
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(names.iter().filter(|n| **n == "triggered").count(), 1, "{names:?}");
    let (status, error) = app
        .post(
            "/api/v1/orders",
            json!({"account": "held", "symbol": "HELD", "side": "buy", "qty": "1", "emulate": true, "client_order_id": "m"}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["message"].as_str()),
        (422, Some("only stop orders are emulated, not a market order"))
    );
    app.stop().await;
}

/// The bracket legs of `entry` as (client order id, status, avg fill price).
async fn legs(app: &crate::helpers::TestApp, account: &str) -> Vec<(String, String, String)> {
    let (_, page) = app.get(&format!("/api/v1/orders?account={account}")).await;
    let mut legs: Vec<(String, String, String)> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["parent_order_id"].is_i64())
        .map(|o| {
            let text = |k: &str| o[k].as_str().unwrap_or_default().to_owned();
            (text("client_order_id"), text("status"), text("avg_fill_price"))
        })
        .collect();
    legs.sort();
    legs
}

#[tokio::test]
async fn a_bracket_entry_releases_its_take_profit_and_stop_loss_when_filled_and_the_first_to_fill_cancels_the_other() {
    let (app, feed, _db) = spawn_app().await;
    feed.tick("BRKT", "100");
    let bracket = |id: &str| {
        json!({"account": "b", "symbol": "BRKT", "side": "buy", "qty": "2", "take_profit": "105", "stop_loss": "98",
               "client_order_id": id})
    };
    let (status, entry) = app.post("/api/v1/orders", bracket("b-1")).await;
    assert_eq!(status, 201, "{entry}");
    let entry_id = entry["order_id"].as_i64().unwrap();
    app.order_reaches(entry_id, "new").await;
    assert_eq!(
        legs(&app, "b").await,
        [("b-1-sl".into(), "held".into(), String::new()), ("b-1-tp".into(), "held".into(), String::new())],
        "the legs wait for the entry"
    );
    feed.tick("BRKT", "100.5");
    app.order_reaches(entry_id, "filled").await;
    crate::helpers::eventually("both legs work at the venue", || async {
        legs(&app, "b").await.iter().all(|(_, status, _)| status == "new")
    })
    .await;
    feed.tick("BRKT", "103");
    feed.tick("BRKT", "105.2");
    crate::helpers::eventually("the take-profit fills and the stop-loss is cancelled", || async {
        legs(&app, "b").await
            == [
                ("b-1-sl".into(), "cancelled".into(), String::new()),
                ("b-1-tp".into(), "filled".into(), "105.2".into()),
            ]
    })
    .await;
    let (_, positions) = app.get("/api/v1/positions?account=b").await;
    assert_eq!((positions[0]["qty"].as_str(), positions[0]["realized_pnl"].as_str()), (Some("0"), Some("9.4")));

    // A second bracket stopped out: the stop-loss fills and cancels the take-profit.
    let (_, second) = app.post("/api/v1/orders", bracket("b-2")).await;
    app.order_reaches(second["order_id"].as_i64().unwrap(), "new").await;
    feed.tick("BRKT", "100");
    app.order_reaches(second["order_id"].as_i64().unwrap(), "filled").await;
    crate::helpers::eventually("the second bracket's legs work", || async {
        legs(&app, "b").await.iter().filter(|(id, s, _)| id.starts_with("b-2") && s == "new").count() == 2
    })
    .await;
    feed.tick("BRKT", "97.5");
    crate::helpers::eventually("stopped out", || async {
        let all = legs(&app, "b").await;
        all.contains(&("b-2-sl".into(), "filled".into(), "97.5".into()))
            && all.contains(&("b-2-tp".into(), "cancelled".into(), String::new()))
    })
    .await;

    // An entry cancelled before it fills cancels its legs.
    let (_, third) = app
        .post(
            "/api/v1/orders",
            json!({"account": "b", "symbol": "BRKT", "side": "buy", "qty": "1", "limit_price": "90", "take_profit": "110",
                   "stop_loss": "85", "client_order_id": "b-3"}),
        )
        .await;
    let third_id = third["order_id"].as_i64().unwrap();
    app.order_reaches(third_id, "new").await;
    app.post(&format!("/api/v1/orders/{third_id}/cancel"), json!({})).await;
    app.order_reaches(third_id, "cancelled").await;
    crate::helpers::eventually("the unfilled entry's legs are cancelled", || async {
        legs(&app, "b").await.iter().filter(|(id, s, _)| id.starts_with("b-3") && s == "cancelled").count() == 2
    })
    .await;
    let (status, error) = app
        .post(
            "/api/v1/orders",
            json!({"account": "b", "symbol": "BRKT", "side": "buy", "qty": "1", "take_profit": "95", "stop_loss": "99",
                   "client_order_id": "b-4"}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["message"].as_str()),
        (422, Some("a buy bracket's take_profit must be above its stop_loss"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_bracket_fills_on_paper_exactly_where_the_tick_replay_fills_it() {
    let (app, feed, _db) = spawn_app().await;
    let entry = |tp: &str, sl: &str| {
        OrderIntent::market(InstrumentId(0), Side::Buy, Qty::from_units(3)).with_bracket(Some(p(tp)), Some(p(sl)))
    };
    for (account, path, (tp, sl)) in [
        ("bt-profit", ["100", "100.5", "103", "105.2", "99"], ("105", "98")),
        ("bt-stop", ["100", "100.5", "99", "97.9", "106"], ("105", "98")),
    ] {
        let symbol = account.to_ascii_uppercase();
        feed.tick(&symbol, path[0]);
        let body = json!({"account": account, "symbol": account, "side": "buy", "qty": "3", "take_profit": tp,
                          "stop_loss": sl, "client_order_id": format!("{account}-1")});
        let (_, placed) = app.post("/api/v1/orders", body).await;
        let id = placed["order_id"].as_i64().unwrap();
        app.order_reaches(id, "new").await;
        feed.tick(&symbol, path[1]);
        app.order_reaches(id, "filled").await;
        eventually("both legs work", || async {
            legs(&app, account).await.iter().all(|(_, status, _)| status == "new")
        })
        .await;
        for price in &path[2..] {
            feed.tick(&symbol, price);
        }
        let expected = replay(vec![entry(tp, sl)], &path);
        assert_eq!(expected.len(), 2, "entry and one leg: {expected:?}");
        eventually("paper fills the entry and one leg", || async { fills_of(&app, account).await.len() >= 2 }).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(fills_of(&app, account).await, expected, "{account}");
    }
    app.stop().await;
}
