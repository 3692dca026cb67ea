//! The Alpaca adapter against a local stand-in that speaks Alpaca's documented formats:
//! `POST /v2/orders`, `GET /v2/orders:by_client_order_id`, `DELETE /v2/orders/{id}`,
//! `GET /v2/account/activities/FILL`, and the `trade_updates` stream (authenticate, listen,
//! binary JSON frames). Executions change the stand-in's order (`filled_qty`,
//! `filled_avg_price`, `status`), add a FILL activity and make the trade update, which a test
//! delivers at once, later, twice, out of order or never.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{
    extract::{ws::Message, Path, Query, State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::{
    faults::Chaos,
    helpers::{eventually, spawn_with, test_settings, FakeFeed, TestApp},
};

#[derive(Clone)]
pub struct StandIn {
    pub url: String,
    pub orders: Arc<Mutex<HashMap<String, Value>>>,
    pub requests: Arc<Mutex<Vec<Value>>>,
    pub stream: broadcast::Sender<String>,
    pub listening: Arc<Mutex<bool>>,
    /// The key id and secret key Alpaca accepts now (tests rotate them).
    pub keys: Arc<Mutex<(String, String)>>,
    /// How the next `POST /v2/orders` misbehave, one fault per request.
    pub create_faults: Arc<Mutex<VecDeque<CreateFault>>>,
    /// Cancels are refused on the stream (`order_cancel_rejected`), as when the order filled.
    pub reject_cancels: Arc<AtomicBool>,
    /// Replaces (`PATCH /v2/orders/{id}`) are refused with 422.
    pub reject_replaces: Arc<AtomicBool>,
    /// The bodies of `PATCH /v2/orders/{id}`.
    pub replaces: Arc<Mutex<Vec<Value>>>,
    /// The account's FILL activities, oldest first.
    pub activities: Arc<Mutex<Vec<Value>>>,
    /// While set, the stream is down: open connections are closed and new ones refused (503).
    pub stream_down: Arc<AtomicBool>,
    /// The account's positions, signed, by symbol: the executions' net (and what a test adds
    /// as trades made at Alpaca outside the engine).
    pub positions: Arc<Mutex<std::collections::BTreeMap<String, Decimal>>>,
    /// Set for a soak run: random faults on requests and stream messages, and every placed
    /// order executed by the stand-in itself, in one or two parts.
    pub chaos: Arc<Mutex<Option<Arc<Chaos>>>>,
    /// How many times each client order id was placed (a duplicate would count 2).
    pub placements: Arc<Mutex<HashMap<String, u32>>>,
    /// The account's `buying_power` and `status` in `GET /v2/account`.
    pub account: Arc<Mutex<(Decimal, &'static str)>>,
}

/// Sent on the stand-in's internal channel to close every open stream connection.
const DROP_STREAM: &str = "drop the stream";

/// A misbehaviour of `POST /v2/orders`.
#[derive(Debug, Clone, Copy)]
pub enum CreateFault {
    /// The order is placed, then the answer is a 500 (a gateway failing after the broker).
    AcceptThenFail,
    /// Rate-limited: 429 with `Retry-After` (seconds); nothing placed.
    TooManyRequests { retry_after: u64 },
}

impl StandIn {
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let keys = self.keys.lock().unwrap().clone();
        headers.get("APCA-API-KEY-ID").is_some_and(|v| v == keys.0.as_str())
            && headers.get("APCA-API-SECRET-KEY").is_some_and(|v| v == keys.1.as_str())
    }
}

fn unauthorized() -> (StatusCode, Json<Value>) {
    (StatusCode::UNAUTHORIZED, Json(json!({"code": 40110000, "message": "request is not authorized"})))
}

async fn create_order(State(s): State<StandIn>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut fault = s.create_faults.lock().unwrap().pop_front();
    if let Some(chaos) = s.chaos() {
        if chaos.strikes() {
            match chaos.below(3) {
                0 => {
                    chaos.count("create: placed, then 500");
                    fault = Some(CreateFault::AcceptThenFail);
                }
                1 => {
                    chaos.count("create: 429");
                    fault = Some(CreateFault::TooManyRequests { retry_after: 0 });
                }
                _ => {
                    chaos.count("create: 503, not placed");
                    let body = json!({"code": 50010000, "message": "service unavailable"});
                    return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
                }
            }
        }
    }
    match fault {
        Some(CreateFault::TooManyRequests { retry_after }) => {
            s.requests.lock().unwrap().push(body);
            let body = json!({"code": 42910000, "message": "rate limit exceeded"});
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", retry_after.to_string())], Json(body)).into_response()
        }
        Some(CreateFault::AcceptThenFail) => {
            let _ = place_order(State(s), headers, Json(body)).await;
            let body = json!({"code": 50010000, "message": "internal server error"});
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
        None => place_order(State(s), headers, Json(body)).await.into_response(),
    }
}

async fn place_order(
    State(s): State<StandIn>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if !s.authorized(&headers) {
        return unauthorized();
    }
    s.requests.lock().unwrap().push(body.clone());
    let qty: f64 = body["qty"].as_str().unwrap_or("0").parse().unwrap_or(0.0);
    if qty > 100.0 {
        return (
            StatusCode::FORBIDDEN,
            Json(
                json!({"buying_power": "176531.28", "code": 40310000, "cost_basis": "48640000", "message": "insufficient buying power"}),
            ),
        );
    }
    let client_order_id = body["client_order_id"].as_str().unwrap().to_owned();
    if s.orders.lock().unwrap().contains_key(&client_order_id) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"code": 40010001, "message": "client_order_id must be unique"})),
        );
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let order = json!({
        "id": uuid::Uuid::new_v4().to_string(), "client_order_id": client_order_id,
        "created_at": now, "updated_at": "2026-11-24T10:00:00.000000Z",
        "submitted_at": "2026-11-24T10:00:00.000000Z", "filled_at": null, "expired_at": null, "canceled_at": null,
        "failed_at": null, "replaced_at": null, "replaced_by": null, "replaces": null,
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", "symbol": body["symbol"], "asset_class": "us_equity",
        "notional": null, "qty": body["qty"], "filled_qty": "0", "filled_avg_price": null, "order_class": "",
        "order_type": body["type"], "type": body["type"], "side": body["side"], "time_in_force": body["time_in_force"],
        "limit_price": body.get("limit_price").cloned().unwrap_or(Value::Null), "stop_price": null, "status": "accepted",
        "extended_hours": false, "legs": null, "trail_percent": null, "trail_price": null, "hwm": null
    });
    s.orders.lock().unwrap().insert(client_order_id.clone(), order.clone());
    *s.placements.lock().unwrap().entry(client_order_id.clone()).or_default() += 1;
    if let Some(chaos) = s.chaos() {
        tokio::spawn(s.clone().execute_later(chaos, client_order_id));
    }
    (StatusCode::OK, Json(order))
}

async fn by_client_order_id(
    State(s): State<StandIn>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    if !s.authorized(&headers) {
        return unauthorized();
    }
    if s.faulted("lookup: 500") {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"code": 50010000, "message": "internal server error"})),
        );
    }
    match s.orders.lock().unwrap().get(q.get("client_order_id").map(String::as_str).unwrap_or_default()) {
        Some(order) => (StatusCode::OK, Json(order.clone())),
        None => (StatusCode::NOT_FOUND, Json(json!({"code": 40410000, "message": "order not found"}))),
    }
}

/// `PATCH /v2/orders/{id}`: Alpaca's replace. The order becomes `replaced` and a new order
/// (the body's `qty`, `limit_price` and `client_order_id`, nothing filled, `replaces` the old)
/// takes its place; the stream says `replaced` for the old one and `new` for the new one. An
/// order no longer working, or every order while `reject_replaces` is set, is refused with 422.
async fn replace_order(
    State(s): State<StandIn>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if !s.authorized(&headers) {
        return unauthorized();
    }
    s.replaces.lock().unwrap().push(body.clone());
    let mut orders = s.orders.lock().unwrap();
    let Some(old) = orders.values_mut().find(|o| o["id"] == id.as_str()) else {
        return (StatusCode::NOT_FOUND, Json(json!({"code": 40410000, "message": "order not found"})));
    };
    let working = matches!(old["status"].as_str(), Some("new" | "accepted")) && old["filled_qty"] == "0";
    if !working || s.reject_replaces.load(Ordering::SeqCst) {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"code": 42210000, "message": "order is not replaceable"})),
        );
    }
    let mut new = old.clone();
    let new_id = uuid::Uuid::new_v4().to_string();
    old["status"] = json!("replaced");
    old["replaced_by"] = json!(new_id);
    let replaced = old.clone();
    new["id"] = json!(new_id);
    new["replaces"] = replaced["id"].clone();
    new["client_order_id"] = body["client_order_id"].clone();
    new["status"] = json!("new");
    for field in ["qty", "limit_price"] {
        if let Some(value) = body.get(field) {
            new[field] = value.clone();
        }
    }
    let client_order_id = new["client_order_id"].as_str().unwrap().to_owned();
    orders.insert(client_order_id.clone(), new.clone());
    drop(orders);
    *s.placements.lock().unwrap().entry(client_order_id).or_default() += 1;
    s.push("replaced", &replaced);
    s.push("new", &new);
    (StatusCode::OK, Json(new))
}

async fn cancel_order(State(s): State<StandIn>, headers: HeaderMap, Path(id): Path<String>) -> StatusCode {
    if !s.authorized(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    let order = s.orders.lock().unwrap().values().find(|o| o["id"] == id.as_str()).cloned();
    match order {
        Some(order) if s.reject_cancels.load(Ordering::SeqCst) => {
            s.push("order_cancel_rejected", &order);
            StatusCode::NO_CONTENT
        }
        Some(mut order) => {
            order["status"] = json!("canceled");
            order["canceled_at"] = json!("2026-11-24T10:00:05.000000Z");
            s.push("canceled", &order);
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}

/// `GET /v2/account/activities/FILL`: `direction=asc`, `page_size` (at most 100) and
/// `page_token` (the id of the last activity already read), as Alpaca pages them.
async fn fill_activities(
    State(s): State<StandIn>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    if !s.authorized(&headers) {
        return unauthorized();
    }
    assert_eq!(q.get("direction").map(String::as_str), Some("asc"), "the engine reads oldest first");
    if s.faulted("activities: 500") {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"code": 50010000, "message": "internal server error"})),
        );
    }
    let after = q.get("after").and_then(|a| chrono::DateTime::parse_from_rfc3339(a).ok());
    let size: usize = q.get("page_size").and_then(|p| p.parse().ok()).unwrap_or(100).min(100);
    let all: Vec<Value> = s
        .activities
        .lock()
        .unwrap()
        .iter()
        .filter(|a| {
            let at = chrono::DateTime::parse_from_rfc3339(a["transaction_time"].as_str().unwrap()).unwrap();
            after.is_none_or(|after| at > after)
        })
        .cloned()
        .collect();
    let start = match q.get("page_token") {
        Some(token) => all.iter().position(|a| a["id"] == token.as_str()).map_or(all.len(), |i| i + 1),
        None => 0,
    };
    (StatusCode::OK, Json(Value::Array(all.into_iter().skip(start).take(size).collect())))
}

/// `GET /v2/positions`: open positions in Alpaca's format (`qty` unsigned, `side`).
async fn positions(State(s): State<StandIn>, headers: HeaderMap) -> (StatusCode, Json<Value>) {
    if !s.authorized(&headers) {
        return unauthorized();
    }
    if s.faulted("positions: 500") {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"code": 50010000, "message": "internal server error"})),
        );
    }
    let positions: Vec<Value> = s
        .positions
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, qty)| !qty.is_zero())
        .map(|(symbol, qty)| {
            json!({"asset_class": "us_equity", "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", "asset_marginable": false,
                   "avg_entry_price": "174.78", "exchange": "NASDAQ", "qty": qty.abs().normalize().to_string(),
                   "qty_available": qty.abs().normalize().to_string(), "side": if qty.is_sign_negative() { "short" } else { "long" },
                   "symbol": symbol})
        })
        .collect();
    (StatusCode::OK, Json(Value::Array(positions)))
}

/// `GET /v2/account`: Alpaca's documented account (`account.json` of the shared samples) with
/// the status a test set and, as Alpaca reports it, the buying power a test set less what the
/// account's executions spent (plus what its sales brought) and what its open buy orders hold.
async fn account(State(s): State<StandIn>, headers: HeaderMap) -> (StatusCode, Json<Value>) {
    if !s.authorized(&headers) {
        return unauthorized();
    }
    let (set, status) = *s.account.lock().unwrap();
    let number = |v: &Value| v.as_str().map_or(Decimal::ZERO, |s| s.parse::<Decimal>().unwrap());
    let mut buying_power = set;
    for order in s.orders.lock().unwrap().values() {
        let buy = order["side"] == "buy";
        let spent = number(&order["filled_qty"]) * number(&order["filled_avg_price"]);
        buying_power += if buy { -spent } else { spent };
        let open = matches!(order["status"].as_str(), Some("new" | "accepted" | "partially_filled"));
        if buy && open {
            buying_power -= (number(&order["qty"]) - number(&order["filled_qty"])) * number(&order["limit_price"]);
        }
    }
    let buying_power = buying_power.normalize();
    (
        StatusCode::OK,
        Json(
            json!({"account_blocked": false, "account_number": "PALPACA_123", "buying_power": buying_power.to_string(),
                    "cash": "122086.5", "crypto_status": "ACTIVE", "currency": "USD", "equity": "123346.11",
                    "id": "1d9eed04-be39-4e01-9b84-a48ac5bbafcf", "multiplier": "2",
                    "non_marginable_buying_power": "122086.5", "portfolio_value": "123346.11",
                    "regt_buying_power": buying_power.to_string(), "shorting_enabled": true, "status": status,
                    "trade_suspended_by_user": false, "trading_blocked": false, "transfers_blocked": false}),
        ),
    )
}

async fn stream(State(s): State<StandIn>, ws: WebSocketUpgrade) -> axum::response::Response {
    if s.stream_down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    ws.on_upgrade(move |mut socket| async move {
        let mut updates = s.stream.subscribe();
        // authenticate
        let Some(Ok(Message::Text(auth))) = socket.recv().await else { return };
        let auth: Value = serde_json::from_str(auth.as_str()).unwrap();
        let ok = auth["action"] == "authenticate"
            && auth["data"]["key_id"] == s.keys.lock().unwrap().0.as_str()
            && auth["data"]["secret_key"] == s.keys.lock().unwrap().1.as_str();
        let status = if ok { "authorized" } else { "unauthorized" };
        let reply = json!({"stream": "authorization", "data": {"status": status, "action": "authenticate"}});
        let _ = socket.send(Message::Binary(reply.to_string().into_bytes().into())).await;
        if !ok {
            return;
        }
        let Some(Ok(Message::Text(listen))) = socket.recv().await else { return };
        let listen: Value = serde_json::from_str(listen.as_str()).unwrap();
        assert_eq!(listen, json!({"action": "listen", "data": {"streams": ["trade_updates"]}}));
        let reply = json!({"stream": "listening", "data": {"streams": ["trade_updates"]}});
        let _ = socket.send(Message::Binary(reply.to_string().into_bytes().into())).await;
        *s.listening.lock().unwrap() = true;
        while let Ok(update) = updates.recv().await {
            if update == DROP_STREAM {
                *s.listening.lock().unwrap() = false;
                return;
            }
            if socket.send(Message::Binary(update.into_bytes().into())).await.is_err() {
                return;
            }
        }
    })
}

impl StandIn {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let s = StandIn {
            url: format!("http://{}", listener.local_addr().unwrap()),
            orders: Arc::default(),
            requests: Arc::default(),
            stream: broadcast::channel(100).0,
            listening: Arc::default(),
            keys: Arc::new(Mutex::new(("key".into(), "secret".into()))),
            create_faults: Arc::default(),
            reject_cancels: Arc::default(),
            reject_replaces: Arc::default(),
            replaces: Arc::default(),
            activities: Arc::default(),
            stream_down: Arc::default(),
            positions: Arc::default(),
            chaos: Arc::default(),
            placements: Arc::default(),
            account: Arc::new(Mutex::new((Decimal::from(100_000_000), "ACTIVE"))),
        };
        let app = Router::new()
            .route("/v2/orders", post(create_order))
            .route("/v2/orders:by_client_order_id", get(by_client_order_id))
            .route("/v2/orders/{id}", delete(cancel_order).patch(replace_order))
            .route("/v2/account/activities/FILL", get(fill_activities))
            .route("/v2/positions", get(positions))
            .route("/v2/account", get(account))
            .route("/stream", get(stream))
            .with_state(s.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        s
    }

    /// A `trade_updates` message in Alpaca's format, sent now.
    fn push(&self, event: &str, order: &Value) {
        let data = json!({"event": event, "order": order, "timestamp": "2026-11-24T10:00:01.024916716Z"});
        self.send(json!({"stream": "trade_updates", "data": data}).to_string());
    }

    /// Delivers a stream message to every listening connection.
    pub(crate) fn send(&self, message: String) {
        crate::faults::deliver(self.chaos().as_deref(), &self.stream, message, DROP_STREAM);
    }

    /// The soak run's faults, if one is running.
    pub(crate) fn chaos(&self) -> Option<Arc<Chaos>> {
        self.chaos.lock().unwrap().clone()
    }

    /// Whether a soak run faults this request (counted as `kind`).
    fn faulted(&self, kind: &str) -> bool {
        self.chaos().is_some_and(|c| c.faults(kind))
    }

    /// In a soak run, Alpaca executes a placed order a moment later, whole or in two parts,
    /// each execution's update sent through the faults.
    async fn execute_later(self, chaos: Arc<Chaos>, client_order_id: String) {
        tokio::time::sleep(Duration::from_millis(chaos.below(40))).await;
        let qty: Decimal = self.order(&client_order_id)["qty"].as_str().unwrap().parse().unwrap();
        let price = format!("{}", 100 + chaos.below(5));
        if qty > Decimal::ONE && chaos.below(2) == 0 {
            self.fill(&client_order_id, "1", &price);
            tokio::time::sleep(Duration::from_millis(chaos.below(40))).await;
            self.fill(&client_order_id, &(qty - Decimal::ONE).to_string(), &price);
        } else {
            self.fill(&client_order_id, &qty.to_string(), &price);
        }
    }

    /// Alpaca executes `qty` of the order at `price`: the order's cumulative quantity, average
    /// price and status change, a FILL activity is recorded, and the `partial_fill` or `fill`
    /// trade update is returned (not sent: see [`Self::fill`]).
    pub(crate) fn execute(&self, client_order_id: &str, qty: &str, price: &str) -> String {
        let number = |v: &Value| v.as_str().map_or(Decimal::ZERO, |s| s.parse::<Decimal>().unwrap());
        let (q, p): (Decimal, Decimal) = (qty.parse().unwrap(), price.parse().unwrap());
        let mut orders = self.orders.lock().unwrap();
        let order = orders.get_mut(client_order_id).expect("order reached the stand-in");
        let (before, average) = (number(&order["filled_qty"]), number(&order["filled_avg_price"]));
        let cum = before + q;
        let done = cum >= number(&order["qty"]);
        order["filled_qty"] = json!(cum.normalize().to_string());
        order["filled_avg_price"] = json!(((average * before + p * q) / cum).round_dp(9).normalize().to_string());
        order["status"] = json!(if done { "filled" } else { "partially_filled" });
        let event = if done { "fill" } else { "partial_fill" };
        let signed = if order["side"] == "sell" { -q } else { q };
        *self.positions.lock().unwrap().entry(order["symbol"].as_str().unwrap().to_owned()).or_default() += signed;
        let execution_id = uuid::Uuid::new_v4().to_string();
        let mut activities = self.activities.lock().unwrap();
        let sequence = activities.len();
        activities.push(json!({
            "activity_type": "FILL", "id": format!("20261124100001{sequence:03}::{execution_id}"),
            "cum_qty": cum.normalize().to_string(), "leaves_qty": (number(&order["qty"]) - cum).normalize().to_string(),
            "order_id": order["id"], "order_status": order["status"], "price": price, "qty": qty,
            "side": order["side"], "symbol": order["symbol"], "transaction_time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "type": event
        }));
        let data = json!({"event": event, "execution_id": execution_id, "order": order, "price": price, "qty": qty,
                          "position_qty": cum.normalize().to_string(), "timestamp": "2026-11-24T10:00:01.024916716Z"});
        json!({"stream": "trade_updates", "data": data}).to_string()
    }

    /// Alpaca breaks the order's `nth` execution (0-based): the order's cumulative quantity and
    /// average price drop it, the position is reversed, a `trade_bust` activity is recorded and
    /// the `trade_bust` update (the busted quantity and price, the order after it) is returned.
    /// The order's status stays what it was (a filled order does not go back to the market).
    pub(crate) fn bust(&self, client_order_id: &str, nth: usize) -> String {
        self.restate(client_order_id, nth, None)
    }

    /// Alpaca corrects the price of the order's `nth` execution to `price`: the order's average
    /// changes, a `trade_correct` activity is recorded and the `trade_correct` update returned.
    pub(crate) fn correct(&self, client_order_id: &str, nth: usize, price: &str) -> String {
        self.restate(client_order_id, nth, Some(price.parse().unwrap()))
    }

    fn restate(&self, client_order_id: &str, nth: usize, corrected: Option<Decimal>) -> String {
        let number = |v: &Value| v.as_str().map_or(Decimal::ZERO, |s| s.parse::<Decimal>().unwrap());
        let mut orders = self.orders.lock().unwrap();
        let order = orders.get_mut(client_order_id).expect("order reached the stand-in");
        let mut activities = self.activities.lock().unwrap();
        let execution = activities
            .iter()
            .filter(|a| a["order_id"] == order["id"] && a.get("execution_type").is_none())
            .nth(nth)
            .expect("the order has that execution")
            .clone();
        let (q, p) = (number(&execution["qty"]), number(&execution["price"]));
        let (before, average) = (number(&order["filled_qty"]), number(&order["filled_avg_price"]));
        let (event, cum, notional, price) = match corrected {
            None => ("trade_bust", before - q, average * before - p * q, p),
            Some(new) => ("trade_correct", before, average * before - p * q + new * q, new),
        };
        order["filled_qty"] = json!(cum.normalize().to_string());
        order["filled_avg_price"] =
            if cum.is_zero() { Value::Null } else { json!((notional / cum).round_dp(9).normalize().to_string()) };
        if corrected.is_none() {
            let signed = if order["side"] == "sell" { -q } else { q };
            *self.positions.lock().unwrap().entry(order["symbol"].as_str().unwrap().to_owned()).or_default() -= signed;
        }
        let execution_id = uuid::Uuid::new_v4().to_string();
        let sequence = activities.len();
        activities.push(json!({
            "activity_type": "FILL", "id": format!("20261124100001{sequence:03}::{execution_id}"),
            "cum_qty": cum.normalize().to_string(), "leaves_qty": (number(&order["qty"]) - cum).normalize().to_string(),
            "order_id": order["id"], "order_status": order["status"], "price": price.normalize().to_string(),
            "qty": q.normalize().to_string(), "side": order["side"], "symbol": order["symbol"],
            "transaction_time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            "type": "fill", "execution_type": event
        }));
        let data = json!({"event": event, "execution_id": execution_id, "order": order,
                          "price": price.normalize().to_string(), "qty": q.normalize().to_string(),
                          "timestamp": "2026-11-24T10:00:09.000000000Z"});
        json!({"stream": "trade_updates", "data": data}).to_string()
    }

    /// An execution, its trade update sent at once.
    pub(crate) fn fill(&self, client_order_id: &str, qty: &str, price: &str) {
        let update = self.execute(client_order_id, qty, price);
        self.send(update);
    }

    /// Closes the stream and refuses reconnects until [`Self::restore_stream`].
    pub(crate) fn drop_stream(&self) {
        self.stream_down.store(true, Ordering::SeqCst);
        self.send(DROP_STREAM.to_owned());
    }

    pub(crate) fn restore_stream(&self) {
        self.stream_down.store(false, Ordering::SeqCst);
    }

    pub(crate) fn order(&self, client_order_id: &str) -> Value {
        self.orders.lock().unwrap().get(client_order_id).cloned().expect("order reached the stand-in")
    }
}

async fn spawn_alpaca_engine() -> (TestApp, StandIn, test_support::TestDb) {
    let db = test_support::TestDb::new().await;
    let alpaca = StandIn::start().await;
    let app = alpaca_engine_on(&db, &alpaca).await;
    (app, alpaca, db)
}

async fn alpaca_engine_on(db: &test_support::TestDb, alpaca: &StandIn) -> TestApp {
    alpaca_engine_with(db, alpaca, Duration::from_secs(60)).await
}

/// The venue settings of the stand-in's account.
pub(crate) fn venue_settings(alpaca: &StandIn) -> engine::configuration::VenueSettings {
    engine::configuration::VenueSettings::Alpaca(engine::venue::alpaca::AlpacaSettings {
        base_url: alpaca.url.clone(),
        stream_url: format!("{}/stream", alpaca.url.replace("http", "ws")),
        credentials: engine::venue::alpaca::credentials_value("key", "secret"),
    })
}

/// An engine on the Alpaca stand-in that reconciles open orders every `reconcile_every`.
pub(crate) async fn alpaca_engine_with(
    db: &test_support::TestDb,
    alpaca: &StandIn,
    reconcile_every: Duration,
) -> TestApp {
    *alpaca.listening.lock().unwrap() = false;
    let feed = FakeFeed::start().await;
    let mut settings = test_settings(&db.url(), &feed);
    settings.reconcile_interval = reconcile_every;
    settings.venue = venue_settings(alpaca);
    let app = spawn_with(settings).await;
    eventually("the engine listens to trade_updates", || async { *alpaca.listening.lock().unwrap() }).await;
    app
}

#[tokio::test]
async fn orders_go_to_alpaca_in_its_format_and_fill_from_its_trade_updates() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let (status, placed) = app
        .post(
            "/api/v1/orders",
            json!({"account": "live", "symbol": "AAPL", "side": "buy", "qty": "2", "limit_price": "150",
            "time_in_force": "day", "client_order_id": "mine-1"}),
        )
        .await;
    assert_eq!(status, 201, "{placed}");
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    let sent = alpaca.requests.lock().unwrap()[0].clone();
    assert_eq!(
        sent,
        json!({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "limit", "time_in_force": "day",
               "limit_price": "150", "client_order_id": format!("hly-{id}")})
    );
    alpaca.fill(&format!("hly-{id}"), "0.5", "149.5");
    app.order_reaches(id, "partially_filled").await;
    alpaca.fill(&format!("hly-{id}"), "1.5", "149.9");
    let filled = app.order_reaches(id, "filled").await;
    assert_eq!((filled["filled_qty"].as_str(), filled["avg_fill_price"].as_str()), (Some("2"), Some("149.8")));
    let (_, positions) = app.get("/api/v1/positions?account=live").await;
    assert_eq!(positions[0]["qty"], "2");
    assert_eq!(app.get("/api/v1/fills?account=live").await.1.as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn an_alpaca_rejection_is_stored_with_its_message() {
    let (app, _alpaca, _db) = spawn_alpaca_engine().await;
    let (_, placed) = app.place_market("live", "AAPL", "buy", "500", "too-big").await;
    let rejected = app.order_reaches(placed["order_id"].as_i64().unwrap(), "rejected").await;
    assert_eq!(rejected["reject_reason"], "alpaca 403: insufficient buying power");
    app.stop().await;
}

#[tokio::test]
async fn cancelling_an_alpaca_order_deletes_it_there_and_the_canceled_update_ends_it() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let id = working_limit_order(&app, "sell", "1", "300", "c-1").await;
    let (status, _) = app.post(&format!("/api/v1/orders/{id}/cancel"), json!({})).await;
    assert_eq!(status, 202);
    let cancelled = app.order_reaches(id, "cancelled").await;
    let events: Vec<&str> =
        cancelled["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["created", "accepted", "cancel_requested", "cancelled"]);
    assert_eq!(alpaca.order(&format!("hly-{id}"))["status"], "accepted", "the stand-in's stored copy is untouched");
    app.stop().await;
}

#[tokio::test]
async fn at_start_up_open_orders_are_reconciled_with_alpaca() {
    let (first, alpaca, db) = spawn_alpaca_engine().await;
    let (_, working) = first
        .post("/api/v1/orders", json!({"account": "live", "symbol": "AAPL", "side": "buy", "qty": "2", "limit_price": "150", "client_order_id": "w-1"}))
        .await;
    let working = working["order_id"].as_i64().unwrap();
    first.order_reaches(working, "new").await;
    // Written but never sent: the process stopped between the commit and the request.
    let unsent: i64 = sqlx::query_scalar(
        "insert into \"order\" (account, strategy, client_order_id, symbol, side, order_type, time_in_force, qty, status, venue, instance_id)
         values ('live', 'manual', 'unsent-1', 'AAPL', 'buy', 'market', 'gtc', 1, 'pending_new', 'alpaca', 'gone') returning order_id",
    )
    .fetch_one(&first.pool)
    .await
    .unwrap();
    first.stop().await;
    // While no engine listened, Alpaca filled the working order in two executions.
    alpaca.execute(&format!("hly-{working}"), "0.5", "149.5");
    alpaca.execute(&format!("hly-{working}"), "1.5", "149.9");
    let second = alpaca_engine_on(&db, &alpaca).await;
    let filled = second.order_reaches(working, "filled").await;
    assert_eq!(filled["avg_fill_price"], "149.8");
    let (_, fills) = second.get("/api/v1/fills?account=live").await;
    let alpaca_id = alpaca.order(&format!("hly-{working}"))["id"].as_str().unwrap().to_owned();
    let mut booked: Vec<(String, String, String)> = fills
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["exec_id"].as_str().unwrap().to_owned(),
                f["qty"].as_str().unwrap().to_owned(),
                f["price"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    booked.sort();
    assert_eq!(
        booked,
        [
            (format!("{alpaca_id}:0.5"), "0.5".to_owned(), "149.5".to_owned()),
            (format!("{alpaca_id}:2"), "1.5".to_owned(), "149.9".to_owned())
        ],
        "one fill per execution, at its own price, from Alpaca's activities"
    );
    second.order_reaches(unsent, "new").await;
    let sent: Vec<Value> = alpaca.requests.lock().unwrap().clone();
    assert_eq!(sent.iter().filter(|r| r["client_order_id"] == format!("hly-{unsent}").as_str()).count(), 1);
    second.stop().await;
}

#[tokio::test]
async fn an_order_alpaca_placed_but_answered_500_for_is_found_by_client_order_id_not_rejected_or_sent_twice() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    alpaca.create_faults.lock().unwrap().push_back(CreateFault::AcceptThenFail);
    let (_, placed) = app.place_market("live", "AAPL", "buy", "3", "unknown-1").await;
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    assert_eq!(alpaca.requests.lock().unwrap().len(), 1, "found at Alpaca, so not sent again");
    assert_eq!(alpaca.orders.lock().unwrap().len(), 1);
    alpaca.fill(&format!("hly-{id}"), "3", "187.5");
    app.order_reaches(id, "filled").await;
    assert_eq!(app.get("/api/v1/positions?account=live").await.1[0]["qty"], "3");
    app.stop().await;
}

#[tokio::test]
async fn a_429_is_waited_out_for_its_retry_after_and_the_order_sent_again_not_rejected() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    alpaca.create_faults.lock().unwrap().push_back(CreateFault::TooManyRequests { retry_after: 1 });
    let started = Instant::now();
    let (_, placed) = app.place_market("live", "AAPL", "sell", "1", "limited-1").await;
    let id = placed["order_id"].as_i64().unwrap();
    let order = app.order_reaches(id, "new").await;
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After honoured");
    assert_eq!(alpaca.requests.lock().unwrap().len(), 2, "refused once, then sent again");
    assert_eq!(alpaca.orders.lock().unwrap().len(), 1, "placed once");
    assert!(order["reject_reason"].is_null(), "{order}");
    app.stop().await;
}

#[tokio::test]
async fn a_rejection_alpaca_sends_after_acknowledging_the_order_rejects_it() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let (_, placed) = app.place_market("live", "AAPL", "buy", "1", "late-1").await;
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    let mut order = alpaca.order(&format!("hly-{id}"));
    order["status"] = json!("rejected");
    alpaca.push("rejected", &order);
    let rejected = app.order_reaches(id, "rejected").await;
    assert_eq!(rejected["reject_reason"], "rejected by Alpaca");
    app.stop().await;
}

#[tokio::test]
async fn a_cancel_alpaca_rejects_puts_the_order_back_to_working() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    alpaca.reject_cancels.store(true, Ordering::SeqCst);
    let id = working_limit_order(&app, "buy", "1", "100", "cr-1").await;
    assert_eq!(app.post(&format!("/api/v1/orders/{id}/cancel"), json!({})).await.0, 202);
    eventually("the cancel rejection is booked", || async {
        let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
        let events: Vec<String> =
            order["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect();
        order["status"] == "new" && events.ends_with(&["cancel_requested".to_owned(), "cancel_rejected".to_owned()])
    })
    .await;
    app.stop().await;
}

/// The fills booked for `account`, as (quantity, price), sorted.
async fn fills_of(app: &TestApp, account: &str) -> Vec<(String, String)> {
    let (_, fills) = app.get(&format!("/api/v1/fills?account={account}")).await;
    let mut fills: Vec<(String, String)> = fills
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["qty"].as_str().unwrap().to_owned(), f["price"].as_str().unwrap().to_owned()))
        .collect();
    fills.sort();
    fills
}

/// A limit order for AAPL on account `live`, placed and acknowledged by Alpaca; its order id.
async fn working_limit_order(app: &TestApp, side: &str, qty: &str, limit_price: &str, client_order_id: &str) -> i64 {
    let body = json!({"account": "live", "symbol": "AAPL", "side": side, "qty": qty, "limit_price": limit_price,
                      "client_order_id": client_order_id});
    let (status, placed) = app.post("/api/v1/orders", body).await;
    assert_eq!(status, 201, "{placed}");
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    id
}

#[tokio::test]
async fn fills_made_while_the_stream_was_down_are_booked_when_it_reconnects_and_their_late_updates_are_not_booked_again(
) {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let (_, placed) = app
        .post("/api/v1/orders", json!({"account": "live", "symbol": "AAPL", "side": "buy", "qty": "3", "limit_price": "150", "client_order_id": "gap-1"}))
        .await;
    let id = placed["order_id"].as_i64().unwrap();
    let client = format!("hly-{id}");
    app.order_reaches(id, "new").await;
    alpaca.drop_stream();
    eventually("the stream is down", || async { !*alpaca.listening.lock().unwrap() }).await;
    let first = alpaca.execute(&client, "0.5", "149.5");
    let second = alpaca.execute(&client, "1.5", "149.9");
    tokio::time::sleep(Duration::from_millis(300)).await;
    alpaca.restore_stream();
    // No restart: the reconnect itself triggers the reconciliation.
    eventually("the gap's fills are booked", || async {
        app.get(&format!("/api/v1/orders/{id}")).await.1["filled_qty"] == "2"
    })
    .await;
    assert_eq!(fills_of(&app, "live").await, [("0.5".into(), "149.5".into()), ("1.5".into(), "149.9".into())]);
    // Booked as reconciliation events: flagged on the order's events, listed and audited.
    let (_, events) = app.get("/api/v1/reconciliation-events?account=live").await;
    let found: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["detail"]["qty"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(found, [("fill", "1.5"), ("fill", "0.5")], "{events}");
    assert_eq!(events[0]["venue"], "alpaca");
    assert_eq!(app.get("/api/v1/reconciliation-events?limit=0").await.0, 400);
    let (_, audit) = app.get("/api/v1/audit?action=reconciliation.fill").await;
    assert_eq!(audit.as_array().map(Vec::len), Some(2), "{audit}");
    assert_eq!(audit[0]["actor"], "reconciliation");
    // The updates of those executions arrive after all (a replaying gateway), one of them
    // twice, while the order is still working: only the cumulative quantity tells they are known.
    eventually("the stream is back", || async { *alpaca.listening.lock().unwrap() }).await;
    for update in [&second, &first, &second] {
        alpaca.send(update.clone());
    }
    alpaca.fill(&client, "1", "150");
    let filled = app.order_reaches(id, "filled").await;
    assert_eq!(filled["filled_qty"], "3");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fills_of(&app, "live").await.len(), 3, "each execution booked once");
    let (_, positions) = app.get("/api/v1/positions?account=live").await;
    assert_eq!(positions[0]["qty"], "3");
    app.stop().await;
}

#[tokio::test]
async fn duplicated_and_out_of_order_fill_updates_are_booked_once_each() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let id = working_limit_order(&app, "buy", "3", "12", "ooo-1").await;
    let first = alpaca.execute(&format!("hly-{id}"), "1", "10");
    let second = alpaca.execute(&format!("hly-{id}"), "2", "11");
    // The second execution first, then the first, then each again.
    alpaca.send(second.clone());
    app.order_reaches(id, "partially_filled").await;
    for update in [&first, &second, &first] {
        alpaca.send(update.clone());
    }
    let filled = app.order_reaches(id, "filled").await;
    assert_eq!((filled["filled_qty"].as_str(), filled["avg_fill_price"].as_str()), (Some("3"), Some("10.66666667")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fills_of(&app, "live").await, [("1".into(), "10".into()), ("2".into(), "11".into())]);
    app.stop().await;
}

#[tokio::test]
async fn a_scheduled_reconciliation_books_a_fill_whose_update_never_came_and_a_cancel_made_at_alpaca() {
    let db = test_support::TestDb::new().await;
    let alpaca = StandIn::start().await;
    let app = alpaca_engine_with(&db, &alpaca, Duration::from_secs(1)).await;
    let silent = working_limit_order(&app, "buy", "1", "100", "silent-1").await;
    let manual = working_limit_order(&app, "buy", "1", "100", "manual-1").await;
    // Alpaca fills one (its update is lost) and someone cancels the other on Alpaca's site.
    alpaca.execute(&format!("hly-{silent}"), "1", "99.5");
    alpaca.orders.lock().unwrap().get_mut(&format!("hly-{manual}")).unwrap()["status"] = json!("canceled");
    app.order_reaches(silent, "filled").await;
    app.order_reaches(manual, "cancelled").await;
    assert_eq!(fills_of(&app, "live").await, [("1".into(), "99.5".into())]);
    assert!(*alpaca.listening.lock().unwrap(), "the stream never dropped: the schedule did it");
    app.stop().await;
}

#[tokio::test]
async fn alpacas_commission_is_booked_once_per_order_however_often_it_is_reported() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let (_, placed) = app
        .post("/api/v1/orders", json!({"account": "live", "symbol": "AAPL", "side": "buy", "qty": "2", "limit_price": "12", "client_order_id": "fee-1"}))
        .await;
    let id = placed["order_id"].as_i64().unwrap();
    let client = format!("hly-{id}");
    app.order_reaches(id, "new").await;
    // Alpaca reports the order's commission as a total on every update of the order.
    alpaca.orders.lock().unwrap().get_mut(&client).unwrap()["commission"] = json!("1.25");
    let first = alpaca.execute(&client, "1", "10");
    alpaca.send(first.clone());
    app.order_reaches(id, "partially_filled").await;
    alpaca.send(first);
    alpaca.fill(&client, "1", "11");
    app.order_reaches(id, "filled").await;
    let (_, fills) = app.get("/api/v1/fills?account=live").await;
    let mut fees: Vec<&str> = fills.as_array().unwrap().iter().map(|f| f["fee"].as_str().unwrap()).collect();
    fees.sort();
    assert_eq!(fees, ["0", "1.25"], "{fills}");
    let (_, pnl) = app.get("/api/v1/pnl?account=live").await;
    assert_eq!(pnl["fees"], "1.25", "{pnl}");
    app.stop().await;
}

#[tokio::test]
async fn positions_equal_to_alpacas_raise_nothing_and_a_trade_made_at_alpaca_halts_the_accounts_trading_there() {
    let db = test_support::TestDb::new().await;
    let alpaca = StandIn::start().await;
    let app = alpaca_engine_with(&db, &alpaca, Duration::from_millis(500)).await;
    let (_, placed) = app.place_market("live", "AAPL", "buy", "2", "pos-1").await;
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    alpaca.fill(&format!("hly-{id}"), "2", "150");
    app.order_reaches(id, "filled").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.get("/api/v1/halt").await.1, json!([]), "equal positions: no halt");
    // Someone buys one more on Alpaca's own site: the engine's fills cannot explain it.
    *alpaca.positions.lock().unwrap().get_mut("AAPL").unwrap() += Decimal::ONE;
    eventually("the break halts the account", || async {
        app.get("/api/v1/halt").await.1.as_array().unwrap().len() == 1
    })
    .await;
    let (_, halts) = app.get("/api/v1/halt").await;
    assert_eq!((halts[0]["scope"].as_str(), halts[0]["account"].as_str()), (Some("account"), Some("live")));
    assert_eq!(halts[0]["created_by"], "reconciliation");
    assert_eq!(halts[0]["reason"], "reconciliation: alpaca holds AAPL 3, the engine's fills make 2");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.get("/api/v1/halt").await.1.as_array().unwrap().len(), 1, "halted once, not on every check");
    app.stop().await;
}

#[tokio::test]
async fn a_trade_made_by_hand_at_alpaca_seen_on_the_stream_halts_the_accounts_trading_there_at_once() {
    let db = test_support::TestDb::new().await;
    let alpaca = StandIn::start().await;
    let app = alpaca_engine_with(&db, &alpaca, Duration::from_millis(300)).await;
    let (_, placed) = app.place_market("live", "AAPL", "buy", "1", "own-1").await;
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    alpaca.fill(&format!("hly-{id}"), "1", "150");
    app.order_reaches(id, "filled").await;
    // Someone buys on Alpaca's site: its update reaches the stream; the positions Alpaca
    // serves are left as they were, so only the stream can tell.
    let order = json!({"id": uuid::Uuid::new_v4().to_string(), "client_order_id": "manual-7f3a", "symbol": "AAPL",
                       "qty": "5", "filled_qty": "5", "side": "buy", "status": "filled"});
    let data = json!({"event": "fill", "execution_id": uuid::Uuid::new_v4().to_string(), "order": order, "price": "151",
                      "qty": "5", "timestamp": "2026-11-24T10:00:02.000000Z"});
    alpaca.send(json!({"stream": "trade_updates", "data": data}).to_string());
    eventually("the foreign trade halts the account", || async {
        app.get("/api/v1/halt").await.1.as_array().unwrap().len() == 1
    })
    .await;
    let (_, halts) = app.get("/api/v1/halt").await;
    assert_eq!(halts[0]["account"], "live");
    assert_eq!(
        halts[0]["reason"],
        "reconciliation: alpaca executed an order Halyard did not place: 5 AAPL at 151 (client order id manual-7f3a)"
    );
    assert_eq!(fills_of(&app, "live").await.len(), 1, "nothing booked for it");
    app.stop().await;
}

/// The account's fills as (kind, side, qty, price, realized P&L), in booking order.
async fn ledger(app: &TestApp) -> Vec<(String, String, String, String, String)> {
    let (_, fills) = app.get("/api/v1/fills?account=live").await;
    let text = |f: &Value, k: &str| f[k].as_str().unwrap().to_owned();
    let rows: Vec<_> = fills
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|f| (text(f, "kind"), text(f, "side"), text(f, "qty"), text(f, "price"), text(f, "realized_pnl")))
        .collect();
    rows
}

fn row(kind: &str, side: &str, qty: &str, price: &str, realized: &str) -> (String, String, String, String, String) {
    (kind.into(), side.into(), qty.into(), price.into(), realized.into())
}

#[tokio::test]
async fn a_busted_execution_is_reversed_and_the_position_rebuilt_as_if_it_never_happened_and_a_replay_changes_nothing()
{
    let db = test_support::TestDb::new().await;
    let alpaca = StandIn::start().await;
    let app = alpaca_engine_with(&db, &alpaca, Duration::from_millis(300)).await;
    let bought = working_limit_order(&app, "buy", "2", "101", "bust-buy").await;
    alpaca.fill(&format!("hly-{bought}"), "2", "100");
    app.order_reaches(bought, "filled").await;
    let sold = working_limit_order(&app, "sell", "2", "110", "bust-sell").await;
    alpaca.fill(&format!("hly-{sold}"), "1", "110");
    alpaca.fill(&format!("hly-{sold}"), "1", "120");
    app.order_reaches(sold, "filled").await;
    assert_eq!(app.get("/api/v1/positions?account=live").await.1[0]["realized_pnl"], "30");
    // The exchange breaks the sale at 120; its update comes, then comes again.
    let bust = alpaca.bust(&format!("hly-{sold}"), 1);
    alpaca.send(bust.clone());
    eventually("the bust is booked", || async {
        app.get(&format!("/api/v1/orders/{sold}")).await.1["filled_qty"] == "1"
    })
    .await;
    alpaca.send(bust);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, order) = app.get(&format!("/api/v1/orders/{sold}")).await;
    assert_eq!(order["status"], "cancelled", "a filled order whose fill is busted does not work again");
    assert_eq!(order["avg_fill_price"], "110");
    let bust_event = order["events"].as_array().unwrap().iter().find(|e| e["event"] == "bust").expect("bust event");
    assert_eq!(
        (bust_event["detail"]["price"].as_str(), bust_event["detail"]["reconciliation"].as_bool()),
        (Some("120"), Some(true))
    );
    let (_, positions) = app.get("/api/v1/positions?account=live").await;
    assert_eq!(
        (positions[0]["qty"].as_str(), positions[0]["avg_price"].as_str(), positions[0]["realized_pnl"].as_str()),
        (Some("1"), Some("100"), Some("10")),
        "as if only the sale at 110 had happened"
    );
    assert_eq!(
        ledger(&app).await,
        [
            row("execution", "buy", "2", "100", "0"),
            row("execution", "sell", "1", "110", "10"),
            row("execution", "sell", "1", "120", "20"),
            row("bust", "buy", "1", "120", "-20"),
        ],
        "history kept, the reversal booked once, with the P&L it takes back"
    );
    let (_, audit) = app.get("/api/v1/audit?action=bust").await;
    assert_eq!(audit.as_array().map(Vec::len), Some(1), "{audit}");
    let (_, flagged) = app.get("/api/v1/reconciliation-events").await;
    assert_eq!(
        (flagged[0]["event"].as_str(), flagged[0]["order_id"].as_i64()),
        (Some("bust"), Some(sold)),
        "{flagged}"
    );
    // Alpaca's position equals the rebuilt one: the scheduled check halts nothing.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(app.get("/api/v1/halt").await.1.as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn a_corrected_execution_price_is_rebooked_in_its_place_and_the_order_and_position_take_alpacas_average() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let id = working_limit_order(&app, "buy", "2", "12", "correct-1").await;
    alpaca.fill(&format!("hly-{id}"), "1", "10");
    alpaca.fill(&format!("hly-{id}"), "1", "11");
    app.order_reaches(id, "filled").await;
    let correction = alpaca.correct(&format!("hly-{id}"), 0, "9.5");
    alpaca.send(correction.clone());
    eventually("the correction is booked", || async {
        app.get(&format!("/api/v1/orders/{id}")).await.1["avg_fill_price"] == "10.25"
    })
    .await;
    alpaca.send(correction);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!((order["status"].as_str(), order["filled_qty"].as_str()), (Some("filled"), Some("2")));
    assert_eq!(
        ledger(&app).await,
        [
            row("execution", "buy", "1", "10", "0"),
            row("execution", "buy", "1", "11", "0"),
            row("bust", "sell", "1", "10", "0"),
            row("correction", "buy", "1", "9.5", "0"),
        ]
    );
    let (_, positions) = app.get("/api/v1/positions?account=live").await;
    assert_eq!((positions[0]["qty"].as_str(), positions[0]["avg_price"].as_str()), (Some("2"), Some("10.25")));
    app.stop().await;
}

#[tokio::test]
async fn a_bust_made_while_the_stream_was_down_is_booked_from_alpacas_activities_when_it_reconnects() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let id = working_limit_order(&app, "buy", "3", "12", "gap-bust").await;
    alpaca.fill(&format!("hly-{id}"), "1", "10");
    app.order_reaches(id, "partially_filled").await;
    alpaca.drop_stream();
    eventually("the stream is down", || async { !*alpaca.listening.lock().unwrap() }).await;
    let _missed = alpaca.bust(&format!("hly-{id}"), 0);
    alpaca.restore_stream();
    let order = app.order_reaches(id, "new").await;
    assert_eq!(order["filled_qty"], "0", "the working order has nothing filled again");
    let (_, positions) = app.get("/api/v1/positions?account=live").await;
    assert_eq!(positions[0]["qty"], "0");
    assert_eq!(ledger(&app).await, [row("execution", "buy", "1", "10", "0"), row("bust", "sell", "1", "10", "0")]);
    app.stop().await;
}

/// Waits until the engine has read Alpaca's buying power, and it is `amount`.
async fn buying_power_is(app: &TestApp, amount: &str) {
    eventually("the engine read Alpaca's buying power", || async {
        app.get("/api/v1/accounts").await.1["venues"][0]["buying_power"] == amount
    })
    .await;
}

#[tokio::test]
async fn orders_beyond_alpacas_buying_power_less_what_was_sent_since_are_rejected_and_closing_ones_pass() {
    let db = test_support::TestDb::new().await;
    let alpaca = StandIn::start().await;
    *alpaca.account.lock().unwrap() = (Decimal::from(1000), "ACTIVE");
    let app = alpaca_engine_with(&db, &alpaca, Duration::from_secs(3600)).await;
    buying_power_is(&app, "1000").await;
    let first = working_limit_order(&app, "buy", "2", "400", "bp-1").await;
    alpaca.fill(&format!("hly-{first}"), "2", "400");
    app.order_reaches(first, "filled").await;
    // Alpaca said 1,000 before the first order: 800 of it is spent since, 300 more is too much.
    let body = json!({"account": "live", "symbol": "AAPL", "side": "buy", "qty": "1", "limit_price": "300",
                      "client_order_id": "bp-2"});
    let (status, refused) = app.post("/api/v1/orders", body).await;
    assert_eq!(
        (status, refused["status"].as_str(), refused["reject_reason"].as_str()),
        (201, Some("rejected"), Some("insufficient_buying_power")),
        "{refused}"
    );
    let body = json!({"account": "live", "symbol": "AAPL", "side": "buy", "qty": "1", "limit_price": "200",
                      "client_order_id": "bp-3"});
    let (_, affordable) = app.post("/api/v1/orders", body).await;
    assert_eq!(affordable["status"], "pending_new", "200 fits in what is left: {affordable}");
    // Closing the position spends nothing, whatever the buying power.
    *alpaca.account.lock().unwrap() = (Decimal::ZERO, "ACTIVE");
    let closing = working_limit_order(&app, "sell", "2", "401", "bp-4").await;
    assert!(closing > 0);
    app.stop().await;
}

#[tokio::test]
async fn an_account_alpaca_says_cannot_trade_has_no_buying_power() {
    let db = test_support::TestDb::new().await;
    let alpaca = StandIn::start().await;
    *alpaca.account.lock().unwrap() = (Decimal::from(1_000_000), "ACCOUNT_CLOSED");
    let app = alpaca_engine_with(&db, &alpaca, Duration::from_secs(3600)).await;
    buying_power_is(&app, "0").await;
    let body = json!({"account": "live", "symbol": "AAPL", "side": "buy", "qty": "1", "limit_price": "10",
                      "client_order_id": "closed-1"});
    let (_, refused) = app.post("/api/v1/orders", body).await;
    assert_eq!(refused["reject_reason"], "insufficient_buying_power", "{refused}");
    assert!(alpaca.requests.lock().unwrap().is_empty(), "nothing reached Alpaca");
    app.stop().await;
}

#[tokio::test]
async fn an_amend_is_a_patch_at_alpaca_the_order_is_replaced_and_the_amendment_works_and_fills() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let id = working_limit_order(&app, "buy", "3", "150", "amend-me").await;
    let (status, amendment) =
        app.post(&format!("/api/v1/orders/{id}/replace"), json!({"qty": "2", "limit_price": "151.5"})).await;
    assert_eq!(status, 201, "{amendment}");
    assert_eq!(
        (amendment["client_order_id"].as_str(), amendment["replaces"].as_i64()),
        (Some(&*format!("amend-{id}")), Some(id))
    );
    let new_id = amendment["order_id"].as_i64().unwrap();
    app.order_reaches(id, "replaced").await;
    app.order_reaches(new_id, "new").await;
    assert_eq!(
        alpaca.replaces.lock().unwrap().clone(),
        [json!({"qty": "2", "limit_price": "151.5", "client_order_id": format!("hly-{new_id}")})],
        "Alpaca's PATCH body"
    );
    // The same request again: the same amendment, nothing more sent.
    let (status, again) =
        app.post(&format!("/api/v1/orders/{id}/replace"), json!({"qty": "2", "limit_price": "151.5"})).await;
    assert_eq!((status, again["order_id"].as_i64()), (200, Some(new_id)));
    alpaca.fill(&format!("hly-{new_id}"), "2", "151.5");
    let filled = app.order_reaches(new_id, "filled").await;
    assert_eq!(filled["filled_qty"], "2");
    assert_eq!(alpaca.requests.lock().unwrap().len(), 1, "the amendment was never placed as a new order");
    assert_eq!(alpaca.replaces.lock().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn an_amend_alpaca_refuses_leaves_the_order_working_and_rejects_the_amendment_with_alpacas_reason() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let id = working_limit_order(&app, "sell", "1", "160", "keep-me").await;
    alpaca.reject_replaces.store(true, Ordering::SeqCst);
    let (_, amendment) = app.post(&format!("/api/v1/orders/{id}/replace"), json!({"limit_price": "159"})).await;
    let new_id = amendment["order_id"].as_i64().unwrap();
    let rejected = app.order_reaches(new_id, "rejected").await;
    assert_eq!(rejected["reject_reason"], "amend refused: alpaca 422: order is not replaceable");
    let order = app.order_reaches(id, "new").await;
    let events: Vec<&str> = order["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["created", "accepted", "replace_requested", "replace_rejected"]);
    // It still works at its old price and fills there.
    alpaca.fill(&format!("hly-{id}"), "1", "160");
    app.order_reaches(id, "filled").await;
    app.stop().await;
}

#[tokio::test]
async fn a_fill_or_kill_order_goes_to_alpaca_with_its_native_fok() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let body = json!({"account": "live", "symbol": "AAPL", "side": "buy", "qty": "2", "limit_price": "150",
                      "time_in_force": "fok", "client_order_id": "fok-alpaca"});
    let (_, placed) = app.post("/api/v1/orders", body).await;
    app.order_reaches(placed["order_id"].as_i64().unwrap(), "new").await;
    assert_eq!(alpaca.requests.lock().unwrap()[0]["time_in_force"], "fok");
    app.stop().await;
}

#[tokio::test]
async fn stop_limit_and_trailing_stop_orders_go_to_alpaca_as_its_native_order_types() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    let orders = [
        json!({"account": "live", "symbol": "AAPL", "side": "sell", "qty": "2", "order_type": "stop_limit",
               "stop_price": "145", "limit_price": "144.5", "client_order_id": "stop-limit-alpaca"}),
        json!({"account": "live", "symbol": "AAPL", "side": "sell", "qty": "2", "order_type": "trailing_stop",
               "trail_percent": "1.25", "client_order_id": "trailing-alpaca"}),
        json!({"account": "live", "symbol": "AAPL", "side": "buy", "qty": "1", "order_type": "trailing_stop",
               "trail_amount": "0.75", "client_order_id": "trailing-amount-alpaca"}),
    ];
    for body in orders {
        let (status, placed) = app.post("/api/v1/orders", body).await;
        assert_eq!(status, 201, "{placed}");
        app.order_reaches(placed["order_id"].as_i64().unwrap(), "new").await;
    }
    let requests = alpaca.requests.lock().unwrap().clone();
    let fields =
        |n: usize, names: &[&str]| -> Vec<Value> { names.iter().map(|name| requests[n][*name].clone()).collect() };
    assert_eq!(fields(0, &["type", "stop_price", "limit_price"]), [json!("stop_limit"), json!("145"), json!("144.5")]);
    assert_eq!(
        fields(1, &["type", "trail_percent", "trail_price"]),
        [json!("trailing_stop"), json!("1.25"), Value::Null]
    );
    assert_eq!(
        fields(2, &["type", "trail_price", "trail_percent"]),
        [json!("trailing_stop"), json!("0.75"), Value::Null]
    );
    app.stop().await;
}
