//! The test harness: stand-in engine and data-service, the dashboard on a fresh database, and a
//! browser-like client that keeps its cookies and reads the forms' CSRF tokens.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    extract::{
        ws::{Message, WebSocketUpgrade},
        State,
    },
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::{get, post},
    Json, Router,
};
use dashboard::{
    auth::{users, Role},
    configuration::{LoginLimits, Settings},
    startup::Application,
};
use platform::config::{DatabaseSettings, DatabaseSource};
use serde_json::{json, Value};
use test_support::TestDb;

/// The token the stand-in engine accepts.
pub const ENGINE_TOKEN: &str = "hly_test_token";

/// What the stand-in engine holds and saw.
#[derive(Default)]
pub struct EngineState {
    /// Active halts.
    pub halts: Vec<Value>,
    /// Bodies of the halt requests it received.
    pub halt_requests: Vec<Value>,
    /// Number of resume requests.
    pub resumes: usize,
    /// Bodies of the order requests it received (`POST /api/v1/orders`).
    pub order_requests: Vec<Value>,
    /// Ids of the orders it was asked to cancel.
    pub cancels: Vec<i64>,
    /// The amends it was asked for: order id and body.
    pub amends: Vec<(i64, Value)>,
    /// `(name, enabled)` of every enable or disable request.
    pub strategy_switches: Vec<(String, bool)>,
    /// `(account, body)` of every risk-limit replacement; the last one is what it serves.
    pub limit_puts: Vec<(String, Value)>,
    /// `(Idempotency-Key, body)` of every backtest request that created a job.
    pub backtest_requests: Vec<(Option<String>, Value)>,
    /// Query parameters of every order list request.
    pub order_queries: Vec<std::collections::HashMap<String, String>>,
    /// Query parameters of every fill list request.
    pub fill_queries: Vec<std::collections::HashMap<String, String>>,
    /// `(name, body)` of every strategy change (`PATCH /api/v1/strategies/{name}`) it accepted.
    pub strategy_patches: Vec<(String, Value)>,
    /// TradingView alerts received after its signal 4, oldest first (served newest first).
    pub signals: Vec<Value>,
    /// The account demo's P&L when set (else realized 8, unrealized 2.25, total 10.25).
    pub demo_pnl: Option<Value>,
    /// Number of alert list requests (`GET /api/v1/signals`), which only the overview makes.
    pub signal_reads: usize,
}

/// How many fills the stand-in engine holds (ids 1 to this): more than one page of the engine's.
pub const FILLS: i64 = 1100;

/// The stand-in engine's succeeded backtest.
pub const BACKTEST_DONE: &str = "0b6f3c7e-8a2d-4f1b-9c3e-000000000001";
/// The stand-in engine's running backtest (42%).
pub const BACKTEST_RUNNING: &str = "0b6f3c7e-8a2d-4f1b-9c3e-000000000002";

fn backtest_job(id: &str, status: &str, progress: f64) -> Value {
    let summary = (status == "succeeded").then(|| {
        json!({"bars": 600, "round_trips": 2, "realized_pnl": -521.31, "total_return": -0.0052131, "sharpe": 1.234,
            "sortino": null, "max_drawdown": -700.5, "win_rate": 0.5, "profit_factor": 0.8, "exposure": 0.25})
    });
    json!({"id": id, "status": status, "progress": progress,
        "request": {"strategy": "sma_cross", "params": {"fast": 2, "slow": 3}, "symbol": "BTCUSD", "interval": "1m",
            "from": "2026-01-05T00:00:00Z", "to": "2026-01-05T10:00:00Z", "quantity": "1", "fill": "next_open",
            "source": "postgres"},
        "summary": summary, "error": null, "attempts": 1, "created_by": "dashboard-token",
        "created_at": "2026-11-24T10:00:00Z", "started_at": null, "finished_at": null,
        "result_prefix": format!("backtest-results/2026/11/24/{id}/")})
}

/// A stand-in engine: positions, orders, halts, health, with bearer-token checks.
pub async fn spawn_engine() -> (String, Arc<Mutex<EngineState>>) {
    let state = Arc::new(Mutex::new(EngineState::default()));
    fn authorized(h: &HeaderMap) -> bool {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {ENGINE_TOKEN}"))
    }
    type S = State<Arc<Mutex<EngineState>>>;
    let app = Router::new()
        .route("/readyz", get(|| async { Json(json!({"status": "ready"})) }))
        .route(
            "/api/v1/positions",
            get(|h: HeaderMap| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                Json(json!([
                    {"account": "demo", "strategy": "demo-sma", "symbol": "BTCUSD", "qty": "10", "avg_price": "100.5",
                     "last_price": "101", "realized_pnl": "0", "unrealized_pnl": "5", "fees": "0"},
                    {"account": "demo", "strategy": "demo-sma", "symbol": "ETHUSD", "qty": "0", "avg_price": null,
                     "last_price": "20", "realized_pnl": "3", "unrealized_pnl": "0", "fees": "0"}
                ]))
                .into_response()
            }),
        )
        .route(
            "/api/v1/orders",
            get(|State(s): S, h: HeaderMap, q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                s.lock().unwrap().order_queries.push(q.0.clone());
                let order = |id: i64, status: &str| {
                    json!({"order_id": id, "account": "demo", "strategy": "demo-sma", "client_order_id": format!("c{id}"),
                       "symbol": "BTCUSD", "side": "buy", "order_type": "limit", "limit_price": "99.5",
                       "time_in_force": "gtc", "qty": "10", "filled_qty": "0", "avg_fill_price": null,
                       "status": status, "reject_reason": null, "venue": "paper", "instance_id": "e1",
                       "signal_id": null, "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:00Z"})
                };
                let page = match q.get("status").map(String::as_str) {
                    Some("new") => json!({"orders": [order(7, "new")], "next_before": null}),
                    Some(_) => json!({"orders": [], "next_before": null}),
                    None => {
                        let before: i64 = q.get("before").and_then(|b| b.parse().ok()).unwrap_or(101);
                        let ids: Vec<i64> = (1..before).rev().take(50).collect();
                        let next = (ids.last().copied().unwrap_or(1) > 1).then(|| ids.last().copied()).flatten();
                        json!({"orders": ids.iter().map(|i| order(*i, "filled")).collect::<Vec<_>>(), "next_before": next})
                    }
                };
                Json(page).into_response()
            })
            // Like the engine: a retried client_order_id returns the first order (200); while
            // halted the new order is rejected, not an error.
            .post(|State(s): S, h: HeaderMap, Json(body): Json<Value>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let mut s = s.lock().unwrap();
                let seen = s.order_requests.iter().position(|o| o["client_order_id"] == body["client_order_id"]);
                let (code, id) = match seen {
                    Some(i) => (StatusCode::OK, i + 1),
                    None => {
                        s.order_requests.push(body.clone());
                        (StatusCode::CREATED, s.order_requests.len())
                    }
                };
                let (status, reason) = if s.halts.is_empty() { ("new", None) } else { ("rejected", Some("halted")) };
                let order = json!({"order_id": 1000 + id, "account": body["account"], "strategy": "manual",
                    "client_order_id": body["client_order_id"], "symbol": body["symbol"], "side": body["side"],
                    "order_type": body.get("order_type").cloned().unwrap_or(json!("market")),
                    "limit_price": body.get("limit_price").cloned().unwrap_or(Value::Null), "time_in_force": "gtc",
                    "qty": body["qty"], "filled_qty": "0", "avg_fill_price": null, "status": status,
                    "reject_reason": reason, "venue": "paper", "instance_id": "e1", "signal_id": null,
                    "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:00Z"});
                (code, Json(order)).into_response()
            }),
        )
        // Order 7 is working with two events; order 8 is filled; any other id is unknown.
        .route(
            "/api/v1/orders/{id}",
            get(|h: HeaderMap, axum::extract::Path(id): axum::extract::Path<i64>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let status = match id {
                    7 => "new",
                    8 => "filled",
                    _ => return (StatusCode::NOT_FOUND, Json(json!({"error": {"code": "not_found", "message": "no such order"}}))).into_response(),
                };
                Json(json!({"order_id": id, "account": "demo", "strategy": "demo-sma", "client_order_id": format!("c{id}"),
                    "symbol": "BTCUSD", "side": "buy", "order_type": "limit", "limit_price": "99.5", "time_in_force": "gtc",
                    "qty": "10", "filled_qty": "0", "avg_fill_price": null, "status": status, "reject_reason": null,
                    "venue": "paper", "instance_id": "e1", "signal_id": null,
                    "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:00Z",
                    "events": [
                        {"event_id": 1, "event": "created", "from_status": null, "to_status": "pending_new", "detail": null,
                         "ts": "2026-11-24T10:00:00Z"},
                        {"event_id": 2, "event": "accepted", "from_status": "pending_new", "to_status": "new",
                         "detail": {"venue_order_id": "paper-7"}, "ts": "2026-11-24T10:00:00.005Z"}
                    ]}))
                .into_response()
            }),
        )
        .route(
            "/api/v1/orders/{id}/replace",
            post(|State(s): S, h: HeaderMap, axum::extract::Path(id): axum::extract::Path<i64>, Json(body): Json<Value>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                // As the engine answers: only order 7 is working and unfilled.
                if id != 7 {
                    let body = json!({"error": {"code": "conflict", "message": format!("order {id} is filled; only a working order with nothing filled can be amended (cancel it and place a new one)")}});
                    return (StatusCode::CONFLICT, Json(body)).into_response();
                }
                s.lock().unwrap().amends.push((id, body.clone()));
                (StatusCode::CREATED, Json(json!({"order_id": 9, "account": "demo", "strategy": "demo-sma",
                    "client_order_id": "amend-7", "symbol": "BTCUSD", "side": "buy", "order_type": "limit",
                    "limit_price": body["limit_price"], "time_in_force": "gtc", "qty": body["qty"], "filled_qty": "0",
                    "avg_fill_price": null, "status": "pending_new", "reject_reason": null, "venue": "paper", "instance_id": "e1",
                    "signal_id": null, "replaces": 7, "created_at": "2026-11-24T10:00:02Z", "updated_at": "2026-11-24T10:00:02Z"})))
                .into_response()
            }),
        )
        .route(
            "/api/v1/orders/{id}/cancel",
            post(|State(s): S, h: HeaderMap, axum::extract::Path(id): axum::extract::Path<i64>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                // As the engine answers: order 8 is filled (409), only 7 and 8 exist (404).
                if id == 8 {
                    let body = json!({"error": {"code": "conflict", "message": "order 8 is filled: nothing to cancel"}});
                    return (StatusCode::CONFLICT, Json(body)).into_response();
                }
                if id != 7 {
                    let body = json!({"error": {"code": "not_found", "message": format!("order {id} not found")}});
                    return (StatusCode::NOT_FOUND, Json(body)).into_response();
                }
                s.lock().unwrap().cancels.push(id);
                (StatusCode::ACCEPTED, Json(json!({"order_id": id, "account": "demo", "strategy": "demo-sma",
                    "client_order_id": format!("c{id}"), "symbol": "BTCUSD", "side": "buy", "order_type": "limit",
                    "limit_price": "99.5", "time_in_force": "gtc", "qty": "10", "filled_qty": "0", "avg_fill_price": null,
                    "status": "pending_cancel", "reject_reason": null, "venue": "paper", "instance_id": "e1",
                    "signal_id": null, "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:01Z"})))
                .into_response()
            }),
        )
        // One strategy, `demo-sma`, running until switched; P&L only for it.
        .route(
            "/api/v1/strategies",
            get(|State(s): S, h: HeaderMap| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let enabled = s.lock().unwrap().strategy_switches.last().is_none_or(|(_, e)| *e);
                Json(json!([{"strategy_id": 1, "name": "demo-sma", "kind": "sma_cross",
                    "params": {"fast": 3, "slow": 8, "quantity": "10"}, "account": "demo", "symbols": ["BTCUSD", "ETHUSD"],
                    "bar_seconds": 3, "enabled": enabled, "webhook": false,
                    "created_at": "2026-11-24T10:00:00Z", "updated_at": "2026-11-24T10:00:00Z"}]))
                .into_response()
            }),
        )
        .route(
            "/api/v1/pnl",
            get(|State(s): S, h: HeaderMap, q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                if q.get("account").map(String::as_str) == Some("demo") {
                    if let Some(pnl) = s.lock().unwrap().demo_pnl.clone() {
                        return Json(pnl).into_response();
                    }
                    return Json(json!({"realized_pnl": "8", "unrealized_pnl": "2.25", "total_pnl": "10.25",
                        "realized_today": "1.5", "fees": "0.40"})).into_response();
                }
                if q.get("strategy").map(String::as_str) != Some("demo-sma") {
                    return Json(json!({"realized_pnl": "0", "unrealized_pnl": "0", "total_pnl": "0",
                        "realized_today": "0", "fees": "0"})).into_response();
                }
                Json(json!({"realized_pnl": "12.50", "unrealized_pnl": "-2.25", "total_pnl": "10.25",
                    "realized_today": "3.10", "fees": "0.40"})).into_response()
            }),
        )
        // Like the engine: demo-sma's parameters must have a whole-number `fast`.
        .route(
            "/api/v1/strategies/{name}",
            get(|h: HeaderMap, axum::extract::Path(name): axum::extract::Path<String>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                if name != "demo-sma" {
                    return (StatusCode::NOT_FOUND, Json(json!({"error": {"code": "not_found", "message": "no strategy"}}))).into_response();
                }
                Json(json!({"strategy_id": 1, "name": "demo-sma", "kind": "sma_cross",
                    "params": {"fast": 3, "slow": 8, "quantity": "10"}, "account": "demo", "symbols": ["BTCUSD", "ETHUSD"],
                    "bar_seconds": 3, "enabled": true, "webhook": false})).into_response()
            })
            .patch(|State(s): S, h: HeaderMap, axum::extract::Path(name): axum::extract::Path<String>, Json(body): Json<Value>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                if !body["params"]["fast"].is_u64() {
                    let message = "strategy `sma_cross`: parameter `fast` is invalid: expected a whole number";
                    return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({"error": {"code": "invalid_strategy", "message": message}})))
                        .into_response();
                }
                s.lock().unwrap().strategy_patches.push((name.clone(), body.clone()));
                Json(json!({"strategy_id": 1, "name": name, "kind": "sma_cross", "params": body["params"], "account": "demo",
                    "symbols": body["symbols"], "bar_seconds": body["bar_seconds"], "enabled": true, "webhook": false}))
                .into_response()
            }),
        )
        // Fills 1 to FILLS of demo-sma, newest first, `limit` (1 to 1,000, default 100) of those
        // below `before` as the engine serves them; the account demo's equity 24 hours and a
        // minute ago was 7.75.
        .route(
            "/api/v1/fills",
            get(|State(s): S, h: HeaderMap, q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                s.lock().unwrap().fill_queries.push(q.0.clone());
                let limit: i64 = q.get("limit").map_or(Ok(100), |l| l.parse()).unwrap_or(0);
                let before: i64 = match q.get("before").map(|b| b.parse::<i64>()) {
                    None => FILLS + 1,
                    Some(Ok(b)) => b,
                    Some(Err(_)) => 0,
                };
                if !(1..=1000).contains(&limit) || before < 1 {
                    return (StatusCode::BAD_REQUEST, Json(json!({"error": {"code": "invalid_query", "message": "limit or before"}})))
                        .into_response();
                }
                // The newest fill is the reversal of a busted execution (a reconciliation entry).
                let fill = |id: i64| {
                    let (kind, note) = if id == FILLS { ("bust", json!("busted by the venue")) } else { ("execution", Value::Null) };
                    json!({"fill_id": id, "order_id": 8, "account": "demo", "strategy": "demo-sma",
                        "symbol": "BTCUSD", "side": "buy", "qty": "5", "price": "100.5", "fee": "0.01", "realized_pnl": "-0.01",
                        "exec_id": format!("paper-x{id}"), "ts": "2026-11-24T10:00:00Z", "kind": kind, "note": note})
                };
                let page: Vec<Value> = (1..before.min(FILLS + 1)).rev().take(limit as usize).map(fill).collect();
                Json(page).into_response()
            }),
        )
        .route(
            "/api/v1/equity",
            get(|h: HeaderMap| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let now = chrono::Utc::now();
                Json(json!([
                    {"account": "demo", "ts": now, "realized_pnl": "8", "unrealized_pnl": "1", "equity": "9"},
                    {"account": "demo", "ts": now - chrono::Duration::minutes(24 * 60 + 1), "realized_pnl": "7",
                     "unrealized_pnl": "0.75", "equity": "7.75"}
                ]))
                .into_response()
            }),
        )
        .route(
            "/api/v1/signals",
            get(|State(s): S, h: HeaderMap, q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                s.lock().unwrap().signal_reads += 1;
                let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
                let first = json!({"signal_id": 4, "account": "demo", "strategy": "tv-follow", "dedupe_key": "a1", "ticker": "SOLUSD",
                    "action": "sell", "status": "processed", "note": "orders: 1 new", "received_at": "2026-11-24T09:59:58Z",
                    "processed_at": "2026-11-24T09:59:58Z"});
                let later = s.lock().unwrap().signals.clone();
                let newest_first: Vec<Value> = later.into_iter().rev().chain([first]).take(limit).collect();
                Json(newest_first).into_response()
            }),
        )
        .route(
            "/api/v1/strategies/{name}/{verb}",
            post(|State(s): S, h: HeaderMap, axum::extract::Path((name, verb)): axum::extract::Path<(String, String)>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                s.lock().unwrap().strategy_switches.push((name.clone(), verb == "enable"));
                Json(json!({"name": name, "enabled": verb == "enable"})).into_response()
            }),
        )
        .route(
            "/api/v1/accounts",
            get(|h: HeaderMap| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                Json(json!({"default_venue": "paper", "accounts": [
                    {"account": "crypto", "venue": "binance:crypto", "kind": "binance", "own_broker_account": true},
                    {"account": "us", "venue": "alpaca:us", "kind": "alpaca", "own_broker_account": true,
                     "buying_power": "245432.61", "buying_power_as_of": "2026-11-24T10:00:05Z"},
                    {"account": "demo", "venue": "paper", "kind": "paper", "own_broker_account": false}
                ]}))
                .into_response()
            }),
        )
        .route(
            "/api/v1/reconciliation-events",
            get(|h: HeaderMap, q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                // The `us` account had an execution busted and a fill found by reconciliation.
                let events = if q.get("account").map(String::as_str) == Some("us") {
                    json!([
                        {"event_id": 9, "order_id": 41, "account": "us", "strategy": "manual", "symbol": "AAPL", "venue": "alpaca:us",
                         "event": "bust", "from_status": "filled", "to_status": "cancelled", "ts": "2026-11-24T10:05:00Z",
                         "detail": {"exec_id": "x:2", "qty": "1", "price": "120", "reconciliation": true}},
                        {"event_id": 7, "order_id": 40, "account": "us", "strategy": "manual", "symbol": "AAPL", "venue": "alpaca:us",
                         "event": "fill", "from_status": "new", "to_status": "filled", "ts": "2026-11-24T10:01:00Z",
                         "detail": {"exec_id": "y:1", "qty": "1", "price": "119.5", "reconciliation": true}}
                    ])
                } else {
                    json!([])
                };
                Json(events).into_response()
            }),
        )
        .route(
            "/api/v1/risk-limits/{account}",
            get(|State(s): S, h: HeaderMap, axum::extract::Path(account): axum::extract::Path<String>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let s = s.lock().unwrap();
                match s.limit_puts.iter().rev().find(|(a, _)| *a == account) {
                    Some((_, body)) => Json(body.clone()).into_response(),
                    None => Json(json!({"max_order_qty": "1000", "max_order_notional": null, "max_position": null,
                        "max_gross_exposure": null, "price_collar_bps": null, "max_daily_loss": null,
                        "max_orders_per_minute": null})).into_response(),
                }
            })
            .put(|State(s): S, h: HeaderMap, axum::extract::Path(account): axum::extract::Path<String>, Json(body): Json<Value>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                s.lock().unwrap().limit_puts.push((account, body.clone()));
                Json(body).into_response()
            }),
        )
        .route(
            "/api/v1/halt",
            get(|State(s): S, h: HeaderMap| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                Json(Value::Array(s.lock().unwrap().halts.clone())).into_response()
            })
            .post(|State(s): S, h: HeaderMap, Json(body): Json<Value>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let mut s = s.lock().unwrap();
                let halt = json!({"halt_id": s.halt_requests.len() + 1, "scope": body["scope"], "account": null,
                    "strategy": null, "reason": body["reason"], "flatten": body["flatten"],
                    "reduce_only": body["reduce_only"], "created_by": "dashboard-token", "created_at": "2026-11-24T10:00:00Z"});
                s.halt_requests.push(body);
                s.halts.push(halt.clone());
                (StatusCode::CREATED, Json(halt)).into_response()
            }),
        )
        // Like the engine: 422 naming the field for symbol NOPE; a repeated Idempotency-Key
        // returns the first job.
        .route(
            "/api/v1/backtests",
            get(|h: HeaderMap| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                Json(json!([backtest_job(BACKTEST_RUNNING, "running", 0.42), backtest_job(BACKTEST_DONE, "succeeded", 1.0)]))
                    .into_response()
            })
            .post(|State(s): S, h: HeaderMap, Json(body): Json<Value>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                if body["symbol"] == "NOPE" {
                    let error = json!({"error": {"code": "invalid_backtest", "message": "symbol: no bars of NOPE"}});
                    return (StatusCode::UNPROCESSABLE_ENTITY, Json(error)).into_response();
                }
                let key = h.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let mut s = s.lock().unwrap();
                let seen = key.as_ref().and_then(|k| s.backtest_requests.iter().position(|(kk, _)| kk.as_ref() == Some(k)));
                let n = match seen {
                    Some(i) => i + 1,
                    None => {
                        s.backtest_requests.push((key, body));
                        s.backtest_requests.len()
                    }
                };
                let id = format!("0b6f3c7e-8a2d-4f1b-9c3e-{:012}", 100 + n);
                (StatusCode::ACCEPTED, Json(backtest_job(&id, "queued", 0.0))).into_response()
            }),
        )
        .route(
            "/api/v1/backtests/{id}",
            get(|h: HeaderMap, axum::extract::Path(id): axum::extract::Path<String>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                match id.as_str() {
                    BACKTEST_DONE => Json(backtest_job(&id, "succeeded", 1.0)).into_response(),
                    BACKTEST_RUNNING => Json(backtest_job(&id, "running", 0.42)).into_response(),
                    _ if id.starts_with("0b6f3c7e-8a2d-4f1b-9c3e-0000000001") => {
                        Json(backtest_job(&id, "queued", 0.0)).into_response()
                    }
                    _ => (StatusCode::NOT_FOUND, Json(json!({"error": {"code": "not_found", "message": "no backtest"}})))
                        .into_response(),
                }
            }),
        )
        .route(
            "/api/v1/backtests/{id}/trades",
            get(|| async {
                Json(json!([
                    {"seq": 1, "entry_ts": "2026-01-05T00:03:00Z", "entry_px": "100.5", "exit_ts": "2026-01-05T00:09:00Z",
                     "exit_px": "99.25", "qty": "1", "pnl": "-1.25"},
                    {"seq": 2, "entry_ts": "2026-01-05T01:00:00Z", "entry_px": "98", "exit_ts": "2026-01-05T02:00:00Z",
                     "exit_px": "101.75", "qty": "1", "pnl": "3.75"}
                ]))
            }),
        )
        .route(
            "/api/v1/backtests/{id}/equity",
            get(|| async {
                ([("content-type", "text/csv")], "ts,equity,drawdown\n1767571200000,100000,0\n1767571260000,100010.5,0\n1767571320000,99990.25,-20.25\n")
            }),
        )
        .route(
            "/api/v1/audit",
            get(|h: HeaderMap, q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                if q.get("target").map(String::as_str) != Some("account:demo") {
                    return Json(json!([])).into_response();
                }
                Json(json!([{"audit_id": 9, "ts": "2026-11-24T11:30:00Z", "actor": "ops-token", "action": "risk_limits.update",
                    "target": "account:demo",
                    "detail": {"before": {"max_order_qty": "1000", "max_daily_loss": null},
                               "after": {"max_order_qty": "500", "max_daily_loss": "2500"}}}]))
                .into_response()
            }),
        )
        .route(
            "/api/v1/resume",
            post(|State(s): S, h: HeaderMap| async move {
                if !authorized(&h) {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                let mut s = s.lock().unwrap();
                let lifted = s.halts.len();
                s.halts.clear();
                s.resumes += 1;
                Json(json!({"lifted": lifted})).into_response()
            }),
        )
        .with_state(state.clone());
    (serve(app).await, state)
}

/// A stand-in data-service: two symbols, quotes, and a stream that sends a BTCUSD tick every
/// 50 ms with a rising price.
pub async fn spawn_data_service() -> String {
    let app = Router::new()
        .route("/readyz", get(|| async { Json(json!({"status": "ready"})) }))
        .route("/api/v1/market/symbols", get(|| async { Json(json!([{"symbol": "BTCUSD"}, {"symbol": "ETHUSD"}])) }))
        .route(
            "/api/v1/market/quote/{symbol}",
            get(|axum::extract::Path(s): axum::extract::Path<String>| async move {
                Json(json!({"symbol": s, "ts": "2026-11-24T10:00:00Z", "price": "100.25", "size": "1", "source": "tick"}))
            }),
        )
        // Three BTCUSD bars (up, down, flat) at any interval; no bars for other symbols.
        .route(
            "/api/v1/market/bars/{symbol}",
            get(|axum::extract::Path(s): axum::extract::Path<String>, q: axum::extract::Query<std::collections::HashMap<String, String>>| async move {
                // Daily bars since yesterday: BTCUSD closed yesterday at 100 and trades today.
                if q.get("interval").map(String::as_str) == Some("1d") {
                    let today = chrono::Utc::now().date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
                    let bars = if s == "BTCUSD" {
                        json!([
                            {"ts": today - chrono::Duration::days(1), "open": "90", "high": "101", "low": "89", "close": "100", "volume": "5", "trades": 5},
                            {"ts": today, "open": "99", "high": "101", "low": "98", "close": "100.25", "volume": "7", "trades": 7}
                        ])
                    } else {
                        json!([])
                    };
                    return Json(json!({"symbol": s, "interval": "1d", "start": today, "end": today, "bars": bars, "next_start": null}));
                }
                let bars = if s == "BTCUSD" {
                    json!([
                        {"ts": "2026-11-24T10:00:00Z", "open": "100.0", "high": "101.5", "low": "99.5", "close": "101.0", "volume": "12", "trades": 3},
                        {"ts": "2026-11-24T10:01:00Z", "open": "101.0", "high": "101.2", "low": "99.0", "close": "99.4", "volume": "30", "trades": 5},
                        {"ts": "2026-11-24T10:02:00Z", "open": "99.4", "high": "99.4", "low": "99.4", "close": "99.4", "volume": "0", "trades": 0}
                    ])
                } else {
                    json!([])
                };
                Json(json!({"symbol": s, "interval": q.get("interval").cloned().unwrap_or_else(|| "1m".into()),
                    "start": "2026-11-23T10:03:00Z", "end": "2026-11-24T10:03:00Z", "bars": bars, "next_start": null}))
            }),
        )
        .route(
            "/api/v1/market/stream",
            get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut socket| async move {
                    for i in 0..200u32 {
                        let tick = json!({"type": "tick", "symbol": "BTCUSD", "ts": "2026-11-24T10:00:01Z",
                            "price": format!("{}.5", 200 + i), "size": "1"});
                        if socket.send(Message::Text(tick.to_string().into())).await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                })
            }),
        );
    serve(app).await
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// The dashboard under test, its database and its stand-ins.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The database (kept alive for the test).
    pub db: TestDb,
    /// The stand-in engine's state.
    pub engine: Arc<Mutex<EngineState>>,
}

/// Password of every user the tests create.
pub const PASSWORD: &str = "correct horse battery staple";

/// A folder holding stand-ins for the wasm client's files (the JavaScript glue, the wasm and
/// its gzip), so the tests see how `/pkg/` serves them without building the client.
fn fake_wasm_client() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("dashboard-test-pkg-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("dashboard.js"), FAKE_CLIENT_JS).unwrap();
    std::fs::write(dir.join("dashboard_bg.wasm"), FAKE_CLIENT_WASM).unwrap();
    std::fs::write(dir.join("dashboard_bg.wasm.gz"), FAKE_CLIENT_WASM_GZ).unwrap();
    dir
}

/// The stand-in client's JavaScript.
pub const FAKE_CLIENT_JS: &str = "export function hydrate() {}";
/// The stand-in client's wasm (the module header only).
pub const FAKE_CLIENT_WASM: &[u8] = b"\0asm\x01\0\0\0";
/// What stands in for its gzip (served as is with `content-encoding: gzip`).
pub const FAKE_CLIENT_WASM_GZ: &[u8] = b"gzipped stand-in";

impl TestApp {
    /// Starts everything, with `limits` for sign-in failures.
    pub async fn spawn_with(limits: LoginLimits) -> Self {
        let db = TestDb::new().await;
        let (engine_url, engine) = spawn_engine().await;
        let data_service_url = spawn_data_service().await;
        let settings = Settings {
            listen_addr: "127.0.0.1:0".parse().unwrap(),
            database: DatabaseSettings { source: DatabaseSource::Url(db.url()), max_connections: 5 },
            migrate_on_start: false,
            engine_url,
            engine_token: ENGINE_TOKEN.to_owned(),
            data_service_url,
            session_ttl: Duration::from_secs(3600),
            cookie_secure: true,
            login_limits: limits,
            pkg_dir: fake_wasm_client(),
        };
        let app = Application::build(settings, &platform::db::NoSecretSource).await.expect("building the dashboard");
        let base = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        Self { base, db, engine }
    }

    /// Starts everything with the default limits (5 failures per user in 15 minutes).
    pub async fn spawn() -> Self {
        Self::spawn_with(LoginLimits { per_user: 5, per_client: 20, window: Duration::from_secs(900) }).await
    }

    /// Creates a user with [`PASSWORD`].
    pub async fn user(&self, name: &str, role: Role) {
        users::create_user(&self.db.pool, name, PASSWORD, role).await.expect("creating a user");
    }

    /// A new browser-like client of this app.
    pub fn browser(&self) -> Browser {
        Browser { base: self.base.clone(), cookies: Vec::new(), http: client() }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// A response as the tests look at it.
pub struct Page {
    /// Status.
    pub status: u16,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// Body.
    pub body: String,
    /// `Set-Cookie` values.
    pub set_cookies: Vec<String>,
    /// `Refresh` (a page that reloads itself).
    pub refresh: Option<String>,
}

impl Page {
    /// The value of the first hidden `csrf` input.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.body.find(marker).expect("a csrf field") + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

/// A client that keeps cookies like a browser (name → value; an empty value deletes).
pub struct Browser {
    base: String,
    cookies: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn finish(&mut self, r: reqwest::Response) -> Page {
        let status = r.status().as_u16();
        let location = r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let refresh = r.headers().get("refresh").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let set_cookies: Vec<String> =
            r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        Page { status, location, body: r.text().await.unwrap(), set_cookies, refresh }
    }

    /// GET `path`.
    pub async fn get(&mut self, path: &str) -> Page {
        let r =
            self.http.get(format!("{}{path}", self.base)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.finish(r).await
    }

    /// POST a form to `path`.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.finish(r).await
    }

    /// Signs in through the form; returns the answer to the POST.
    pub async fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        let csrf = form.csrf();
        self.post("/login", &[("csrf", &csrf), ("username", username), ("password", password)]).await
    }

    /// The `Cookie` header this browser sends.
    pub fn cookie_header_for_tests(&self) -> String {
        self.cookie_header()
    }

    /// Whether the browser holds a session cookie.
    pub fn has_session(&self) -> bool {
        self.cookies.iter().any(|(k, _)| k == dashboard::auth::session::SESSION_COOKIE)
    }
}
