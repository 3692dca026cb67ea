//! The Binance Spot adapter against a local stand-in that speaks Binance's documented formats:
//! signed REST (`X-MBX-APIKEY`, `timestamp`, `recvWindow`, the HMAC-SHA256 `signature` of the
//! query string, verified here independently of the engine's code) for `POST`/`GET`/`DELETE
//! /api/v3/order`, `GET /api/v3/myTrades` and `GET /api/v3/exchangeInfo`, and the WebSocket
//! API's user data stream (`userDataStream.subscribe.signature`, `executionReport` events
//! wrapped with their `subscriptionId`). Executions change the stand-in's order
//! (`executedQty`, `cummulativeQuoteQty`, `status`), add a trade and make the execution
//! report, which a test delivers at once, later, twice, out of order or never.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicBool, AtomicI64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{
    extract::{ws::Message, Query, RawQuery, State, WebSocketUpgrade},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use hmac::{Hmac, Mac};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::{
    faults::Chaos,
    helpers::{eventually, spawn_with, test_settings, FakeFeed, TestApp},
};

const API_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET_KEY: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
/// Binance's taker commission rate the stand-in charges, in the quote asset.
const COMMISSION_RATE: &str = "0.001";
/// Sent on the stand-in's internal channel to close every open stream connection.
const DROP_STREAM: &str = "drop the stream";

#[derive(Clone)]
pub struct StandIn {
    pub url: String,
    /// Orders by client order id, in `GET /api/v3/order`'s format.
    pub orders: Arc<Mutex<HashMap<String, Value>>>,
    /// The parameters of every correctly signed `POST /api/v3/order`.
    pub requests: Arc<Mutex<Vec<HashMap<String, String>>>>,
    /// The account's trades, in `GET /api/v3/myTrades`'s format.
    pub trades: Arc<Mutex<Vec<Value>>>,
    pub stream: broadcast::Sender<String>,
    pub listening: Arc<Mutex<bool>>,
    pub create_faults: Arc<Mutex<VecDeque<CreateFault>>>,
    /// Cancels are refused with `-2011 Unknown order sent.`, as when the order just filled.
    pub reject_cancels: Arc<AtomicBool>,
    /// While set, the stream is down: open connections are closed and new ones refused (503).
    pub stream_down: Arc<AtomicBool>,
    /// Set for a soak run: random faults on requests and stream messages, and every placed
    /// order executed by the stand-in itself, in one or two parts.
    pub chaos: Arc<Mutex<Option<Arc<Chaos>>>>,
    /// How many times each client order id was placed (Binance takes a client order id again
    /// once its order is no longer open: a second placement is a duplicate order).
    pub placements: Arc<Mutex<HashMap<String, u32>>>,
    /// The free balances a test set, by asset, before the orders' effects (see `account`).
    pub balances: Arc<Mutex<std::collections::BTreeMap<String, Decimal>>>,
    /// How many times `GET /api/v3/account` was answered.
    pub account_reads: Arc<AtomicI64>,
    next_id: Arc<AtomicI64>,
}

/// A misbehaviour of `POST /api/v3/order`.
#[derive(Debug, Clone, Copy)]
pub enum CreateFault {
    /// The order is placed, then the answer is a 503 ("execution status unknown").
    AcceptThenFail,
    /// Rate-limited: 429 with `Retry-After` (seconds) and `-1003`; nothing placed.
    TooManyRequests { retry_after: u64 },
}

fn error(status: StatusCode, code: i64, msg: &str) -> Response {
    (status, Json(json!({"code": code, "msg": msg}))).into_response()
}

/// A refused signed request: HTTP status, Binance error code and message.
type Refusal = (StatusCode, i64, &'static str);

fn internal_error() -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, -1001, "Internal error; unable to process your request. Please try again.")
}

fn hmac_hex(payload: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET_KEY.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl StandIn {
    /// Checks a signed request as Binance does: the API key header, the signature of the query
    /// string before `&signature=`, and the timestamp within `recvWindow`. Returns its params.
    fn verify(&self, headers: &HeaderMap, query: Option<String>) -> Result<HashMap<String, String>, Refusal> {
        if headers.get("X-MBX-APIKEY").is_none_or(|k| k != API_KEY) {
            return Err((StatusCode::UNAUTHORIZED, -2015, "Invalid API-key, IP, or permissions for action."));
        }
        let query = query.unwrap_or_default();
        let Some((payload, signature)) = query.rsplit_once("&signature=") else {
            return Err((
                StatusCode::BAD_REQUEST,
                -1102,
                "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
            ));
        };
        if !signature.eq_ignore_ascii_case(&hmac_hex(payload)) {
            return Err((StatusCode::BAD_REQUEST, -1022, "Signature for this request is not valid."));
        }
        let params: HashMap<String, String> = url_params(payload);
        let timestamp: i64 = params.get("timestamp").and_then(|t| t.parse().ok()).unwrap_or_default();
        let window: i64 = params.get("recvWindow").and_then(|w| w.parse().ok()).unwrap_or(5000);
        if timestamp > now_ms() + 1000 || now_ms() - timestamp > window {
            return Err((StatusCode::BAD_REQUEST, -1021, "Timestamp for this request is outside of the recvWindow."));
        }
        Ok(params)
    }
}

fn url_params(query: &str) -> HashMap<String, String> {
    query.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (k.to_owned(), percent_decode(v))).collect()
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&value[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

async fn exchange_info(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    let symbol = q.get("symbol").cloned().unwrap_or_else(|| "BTCUSDT".into());
    Json(json!({
        "timezone": "UTC", "serverTime": now_ms(), "rateLimits": [], "exchangeFilters": [],
        "symbols": [{
            "symbol": symbol, "status": "TRADING", "baseAsset": "BTC", "baseAssetPrecision": 8,
            "quoteAsset": "USDT", "quotePrecision": 8, "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": true, "ocoAllowed": true, "isSpotTradingAllowed": true, "isMarginTradingAllowed": false,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "120.00000000", "stepSize": "0.00000000"},
                {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": true,
                 "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5}
            ],
            "permissions": [], "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER", "allowedSelfTradePreventionModes": ["EXPIRE_MAKER"]
        }]
    }))
}

async fn order_endpoint(
    State(s): State<StandIn>,
    method: axum::http::Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match s.verify(&headers, query) {
        Ok(params) => params,
        Err((status, code, msg)) => return error(status, code, msg),
    };
    match method {
        axum::http::Method::POST => s.create(params),
        axum::http::Method::DELETE => s.cancel(&params),
        _ if s.faulted("query order: 500") => internal_error(),
        _ => match s.orders.lock().unwrap().get(params.get("origClientOrderId").map_or("", String::as_str)) {
            Some(order) => Json(order.clone()).into_response(),
            None => error(StatusCode::BAD_REQUEST, -2013, "Order does not exist."),
        },
    }
}

async fn my_trades(State(s): State<StandIn>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let params = match s.verify(&headers, query) {
        Ok(params) => params,
        Err((status, code, msg)) => return error(status, code, msg),
    };
    if s.faulted("myTrades: 500") {
        return internal_error();
    }
    let order_id: i64 = params.get("orderId").and_then(|o| o.parse().ok()).unwrap_or(-1);
    let trades: Vec<Value> = s.trades.lock().unwrap().iter().filter(|t| t["orderId"] == order_id).cloned().collect();
    Json(Value::Array(trades)).into_response()
}

/// `GET /api/v3/account` (signed) in Binance's format. The USDT balance a test set is reduced by
/// what the buys cost (`cummulativeQuoteQty`) and by what open buy orders lock
/// (`(origQty - executedQty) × price`), and raised by what sales brought, as Binance's `free` is.
async fn account(State(s): State<StandIn>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    if let Err((status, code, msg)) = s.verify(&headers, query) {
        return error(status, code, msg);
    }
    let number = |v: &Value| v.as_str().map_or(Decimal::ZERO, |s| s.parse::<Decimal>().unwrap_or_default());
    let mut free = s.balances.lock().unwrap().clone();
    for order in s.orders.lock().unwrap().values() {
        let quote = free.entry("USDT".to_owned()).or_default();
        let spent = number(&order["cummulativeQuoteQty"]);
        let open = matches!(order["status"].as_str(), Some("NEW" | "PARTIALLY_FILLED"));
        if order["side"] == "BUY" {
            *quote -= spent;
            if open {
                *quote -= (number(&order["origQty"]) - number(&order["executedQty"])) * number(&order["price"]);
            }
        } else {
            *quote += spent;
        }
    }
    s.account_reads.fetch_add(1, Ordering::SeqCst);
    let balances: Vec<Value> = free
        .iter()
        .map(|(asset, amount)| json!({"asset": asset, "free": format!("{amount:.8}"), "locked": "0.00000000"}))
        .collect();
    Json(json!({"makerCommission": 15, "takerCommission": 15, "buyerCommission": 0, "sellerCommission": 0,
                "commissionRates": {"maker": "0.00150000", "taker": "0.00150000", "buyer": "0.00000000", "seller": "0.00000000"},
                "canTrade": true, "canWithdraw": true, "canDeposit": true, "brokered": false, "requireSelfTradePrevention": false,
                "preventSor": false, "updateTime": now_ms(), "accountType": "SPOT", "balances": balances,
                "permissions": ["SPOT"], "uid": 354937868}))
    .into_response()
}

async fn ws_api(State(s): State<StandIn>, ws: WebSocketUpgrade) -> Response {
    if s.stream_down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    ws.on_upgrade(move |mut socket| async move {
        let mut events = s.stream.subscribe();
        let Some(Ok(Message::Text(request))) = socket.recv().await else { return };
        let request: Value = serde_json::from_str(request.as_str()).unwrap();
        assert_eq!(request["method"], "userDataStream.subscribe.signature");
        let params = &request["params"];
        let payload = format!("apiKey={}&timestamp={}", params["apiKey"].as_str().unwrap_or_default(), params["timestamp"]);
        let valid = params["apiKey"] == API_KEY && params["signature"].as_str() == Some(hmac_hex(&payload).as_str());
        let reply = if valid {
            json!({"id": request["id"], "status": 200, "result": {"subscriptionId": 0},
                   "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000, "count": 2}]})
        } else {
            json!({"id": request["id"], "status": 400, "error": {"code": -1022, "msg": "Signature for this request is not valid."}})
        };
        let _ = socket.send(Message::Text(reply.to_string().into())).await;
        if !valid {
            return;
        }
        *s.listening.lock().unwrap() = true;
        while let Ok(event) = events.recv().await {
            if event == DROP_STREAM {
                *s.listening.lock().unwrap() = false;
                return;
            }
            if socket.send(Message::Text(event.into())).await.is_err() {
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
            trades: Arc::default(),
            stream: broadcast::channel(100).0,
            listening: Arc::default(),
            create_faults: Arc::default(),
            reject_cancels: Arc::default(),
            stream_down: Arc::default(),
            chaos: Arc::default(),
            placements: Arc::default(),
            balances: Arc::new(Mutex::new(
                [("USDT".to_owned(), Decimal::from(1_000_000_000)), ("BTC".to_owned(), Decimal::from(1_000))].into(),
            )),
            account_reads: Arc::default(),
            next_id: Arc::new(AtomicI64::new(4_293_153)),
        };
        let app = Router::new()
            .route("/api/v3/exchangeInfo", get(exchange_info))
            .route("/api/v3/order", get(order_endpoint).post(order_endpoint).delete(order_endpoint))
            .route("/api/v3/myTrades", get(my_trades))
            .route("/api/v3/account", get(account))
            .route("/ws-api/v3", get(ws_api))
            .with_state(s.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        s
    }

    fn create(&self, params: HashMap<String, String>) -> Response {
        let mut fault = self.create_faults.lock().unwrap().pop_front();
        if let Some(chaos) = self.chaos().filter(|c| c.strikes()) {
            match chaos.below(3) {
                0 => {
                    chaos.count("create: placed, then 503 -1007");
                    fault = Some(CreateFault::AcceptThenFail);
                }
                1 => {
                    chaos.count("create: 429");
                    fault = Some(CreateFault::TooManyRequests { retry_after: 0 });
                }
                _ => {
                    chaos.count("create: 500, not placed");
                    return internal_error();
                }
            }
        }
        match fault {
            Some(CreateFault::TooManyRequests { retry_after }) => {
                self.requests.lock().unwrap().push(params);
                let body = json!({"code": -1003, "msg": "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."});
                (StatusCode::TOO_MANY_REQUESTS, [("retry-after", retry_after.to_string())], Json(body)).into_response()
            }
            Some(CreateFault::AcceptThenFail) => {
                let _ = self.place(params);
                error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    -1007,
                    "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
                )
            }
            None => self.place(params),
        }
    }

    fn place(&self, params: HashMap<String, String>) -> Response {
        self.requests.lock().unwrap().push(params.clone());
        let client_order_id = params["newClientOrderId"].clone();
        let open = |o: &Value| matches!(o["status"].as_str(), Some("NEW" | "PARTIALLY_FILLED"));
        if self.orders.lock().unwrap().get(&client_order_id).is_some_and(open) {
            return error(StatusCode::BAD_REQUEST, -2010, "Duplicate order sent.");
        }
        let now = now_ms();
        let order = json!({
            "symbol": params["symbol"], "orderId": self.next_id.fetch_add(1, Ordering::SeqCst), "orderListId": -1,
            "clientOrderId": client_order_id, "price": params.get("price").cloned().unwrap_or_else(|| "0.00000000".into()),
            "origQty": params["quantity"], "executedQty": "0.00000000", "cummulativeQuoteQty": "0.00000000",
            "status": "NEW", "timeInForce": params.get("timeInForce").cloned().unwrap_or_else(|| "GTC".into()),
            "type": params["type"], "side": params["side"],
            "stopPrice": params.get("stopPrice").cloned().unwrap_or_else(|| "0.00000000".into()), "icebergQty": "0.00000000",
            "time": now, "updateTime": now, "isWorking": true, "workingTime": now, "origQuoteOrderQty": "0.000000",
            "selfTradePreventionMode": "EXPIRE_MAKER"
        });
        let mut order = order;
        if let Some(delta) = params.get("trailingDelta") {
            order["trailingDelta"] = json!(delta.parse::<u64>().unwrap_or_default());
        }
        self.orders.lock().unwrap().insert(client_order_id.clone(), order.clone());
        *self.placements.lock().unwrap().entry(client_order_id.clone()).or_default() += 1;
        self.send(self.report(&order, "NEW", None));
        if let Some(chaos) = self.chaos() {
            tokio::spawn(self.clone().execute_later(chaos, client_order_id.clone()));
        }
        let mut answer = order;
        answer["transactTime"] = json!(now);
        answer["fills"] = json!([]);
        Json(answer).into_response()
    }

    fn cancel(&self, params: &HashMap<String, String>) -> Response {
        let original = params.get("origClientOrderId").cloned().unwrap_or_default();
        let mut orders = self.orders.lock().unwrap();
        let open =
            orders.get(&original).is_some_and(|o| matches!(o["status"].as_str(), Some("NEW" | "PARTIALLY_FILLED")));
        if !open || self.reject_cancels.load(Ordering::SeqCst) {
            return error(StatusCode::BAD_REQUEST, -2011, "Unknown order sent.");
        }
        let order = orders.get_mut(&original).unwrap();
        order["status"] = json!("CANCELED");
        let order = order.clone();
        drop(orders);
        self.send(self.report(&order, "CANCELED", None));
        let mut answer = order;
        answer["origClientOrderId"] = json!(original);
        answer["clientOrderId"] = json!("cancelMyOrder1");
        answer["transactTime"] = json!(now_ms());
        Json(answer).into_response()
    }

    /// An `executionReport` for `order` in its current state, wrapped as the WebSocket API
    /// sends it; `trade` is the execution of a `TRADE` report.
    fn report(&self, order: &Value, execution_type: &str, trade: Option<&Value>) -> String {
        let canceled = execution_type == "CANCELED";
        let (last_qty, last_price, commission, asset, trade_id) = match trade {
            Some(t) => (
                t["qty"].clone(),
                t["price"].clone(),
                t["commission"].clone(),
                t["commissionAsset"].clone(),
                t["id"].clone(),
            ),
            None => (json!("0.00000000"), json!("0.00000000"), json!("0"), Value::Null, json!(-1)),
        };
        let event = json!({
            "e": "executionReport", "E": now_ms(), "s": order["symbol"],
            "c": if canceled { json!("cancelMyOrder1") } else { order["clientOrderId"].clone() },
            "S": order["side"], "o": order["type"], "f": order["timeInForce"], "q": order["origQty"], "p": order["price"],
            "P": "0.00000000", "F": "0.00000000", "g": -1, "C": if canceled { order["clientOrderId"].clone() } else { json!("") },
            "x": execution_type, "X": order["status"], "r": "NONE", "i": order["orderId"], "l": last_qty,
            "z": order["executedQty"], "L": last_price, "n": commission, "N": asset, "T": now_ms(), "t": trade_id,
            "I": self.next_id.fetch_add(1, Ordering::SeqCst), "w": order["status"] == "NEW", "m": false, "M": false,
            "O": order["time"], "Z": order["cummulativeQuoteQty"], "Y": "0.00000000", "Q": "0.00000000",
            "W": order["workingTime"], "V": "EXPIRE_MAKER"
        });
        json!({"subscriptionId": 0, "event": event}).to_string()
    }

    /// Binance executes `qty` of the order at `price`: the order's executed quantity, quote
    /// total and status change, a trade (commission in USDT) is recorded, and the `TRADE`
    /// execution report is returned (not sent: see [`Self::fill`]).
    pub(crate) fn execute(&self, client_order_id: &str, qty: &str, price: &str) -> String {
        let number = |v: &Value| v.as_str().map_or(Decimal::ZERO, |s| s.parse::<Decimal>().unwrap());
        let (q, p): (Decimal, Decimal) = (qty.parse().unwrap(), price.parse().unwrap());
        let mut orders = self.orders.lock().unwrap();
        let order = orders.get_mut(client_order_id).expect("order reached the stand-in");
        let executed = number(&order["executedQty"]) + q;
        order["executedQty"] = json!(format!("{:.8}", executed));
        order["cummulativeQuoteQty"] = json!(format!("{:.8}", number(&order["cummulativeQuoteQty"]) + q * p));
        order["status"] = json!(if executed >= number(&order["origQty"]) { "FILLED" } else { "PARTIALLY_FILLED" });
        let commission = (q * p * COMMISSION_RATE.parse::<Decimal>().unwrap()).round_dp(8);
        let trade = json!({
            "symbol": order["symbol"], "id": self.next_id.fetch_add(1, Ordering::SeqCst), "orderId": order["orderId"],
            "orderListId": -1, "price": format!("{p:.8}"), "qty": format!("{q:.8}"), "quoteQty": format!("{:.8}", q * p),
            "commission": format!("{commission:.8}"), "commissionAsset": "USDT", "time": now_ms(),
            "isBuyer": order["side"] == "BUY", "isMaker": false, "isBestMatch": true
        });
        self.trades.lock().unwrap().push(trade.clone());
        let order = order.clone();
        drop(orders);
        self.report(&order, "TRADE", Some(&trade))
    }

    /// An execution, its report sent at once.
    pub(crate) fn fill(&self, client_order_id: &str, qty: &str, price: &str) {
        let report = self.execute(client_order_id, qty, price);
        self.send(report);
    }

    /// Someone cancels the order on Binance's own site.
    fn cancel_at_venue(&self, client_order_id: &str) {
        let mut params = HashMap::new();
        params.insert("origClientOrderId".to_owned(), client_order_id.to_owned());
        assert_eq!(self.cancel(&params).status(), StatusCode::OK);
    }

    /// Someone trades on Binance's own site: an order (client order id `web_…`) placed and
    /// filled at once, whose reports reach the stream like any other.
    pub(crate) fn trade_at_venue(&self, side: &str, qty: &str, price: &str) {
        let params: HashMap<String, String> = [
            ("symbol", "BTCUSDT"),
            ("side", side),
            ("type", "MARKET"),
            ("quantity", qty),
            ("newClientOrderId", "web_a1b2c3d4e5f6"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let _ = self.place(params);
        self.fill("web_a1b2c3d4e5f6", qty, price);
    }

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

    /// In a soak run, Binance executes a placed order a moment later, whole or in two parts,
    /// each execution's report sent through the faults.
    async fn execute_later(self, chaos: Arc<Chaos>, client_order_id: String) {
        tokio::time::sleep(Duration::from_millis(chaos.below(40))).await;
        let qty: Decimal = self.order(&client_order_id)["origQty"].as_str().unwrap().parse().unwrap();
        let price = format!("{}.5", 64_000 + chaos.below(50));
        let part = Decimal::new(1, 3);
        if qty > part && chaos.below(2) == 0 {
            self.fill(&client_order_id, &part.to_string(), &price);
            tokio::time::sleep(Duration::from_millis(chaos.below(40))).await;
            self.fill(&client_order_id, &(qty - part).normalize().to_string(), &price);
        } else {
            self.fill(&client_order_id, &qty.normalize().to_string(), &price);
        }
    }

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

    pub(crate) fn placed(&self) -> usize {
        self.orders
            .lock()
            .unwrap()
            .values()
            .filter(|o| o["clientOrderId"].as_str().is_some_and(|c| c.starts_with("hly-")))
            .count()
    }
}

/// The venue settings of the stand-in's account (recvWindow 1 s).
pub(crate) fn venue_settings(binance: &StandIn) -> engine::configuration::VenueSettings {
    engine::configuration::VenueSettings::Binance(engine::venue::binance::BinanceSettings {
        base_url: binance.url.clone(),
        ws_api_url: format!("{}/ws-api/v3", binance.url.replace("http", "ws")),
        credentials: engine::venue::binance::credentials_value(API_KEY, SECRET_KEY),
        recv_window: Duration::from_secs(1),
    })
}

/// An engine on the Binance stand-in (recvWindow 1 s) that reconciles every `reconcile_every`.
pub(crate) async fn binance_engine_with(
    db: &test_support::TestDb,
    binance: &StandIn,
    reconcile_every: Duration,
) -> TestApp {
    binance_engine_fed_by(db, binance, reconcile_every, &FakeFeed::start().await).await
}

/// As [`binance_engine_with`], with the market data of `feed`.
async fn binance_engine_fed_by(
    db: &test_support::TestDb,
    binance: &StandIn,
    reconcile_every: Duration,
    feed: &FakeFeed,
) -> TestApp {
    *binance.listening.lock().unwrap() = false;
    let mut settings = test_settings(&db.url(), feed);
    settings.reconcile_interval = reconcile_every;
    settings.venue = venue_settings(binance);
    let app = spawn_with(settings).await;
    eventually("the engine subscribes to the user data stream", || async { *binance.listening.lock().unwrap() }).await;
    app
}

async fn spawn_binance_engine() -> (TestApp, StandIn, test_support::TestDb) {
    let db = test_support::TestDb::new().await;
    let binance = StandIn::start().await;
    let app = binance_engine_with(&db, &binance, Duration::from_secs(60)).await;
    (app, binance, db)
}

/// A limit order for BTCUSDT on account `spot`, placed and acknowledged by Binance; its id.
async fn working_limit_order(app: &TestApp, side: &str, qty: &str, limit_price: &str, client_order_id: &str) -> i64 {
    let body = json!({"account": "spot", "symbol": "BTCUSDT", "side": side, "qty": qty, "limit_price": limit_price,
                      "client_order_id": client_order_id});
    let (status, placed) = app.post("/api/v1/orders", body).await;
    assert_eq!(status, 201, "{placed}");
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    id
}

/// The fills booked for `account`, as (quantity, price, fee), sorted.
async fn fills_of(app: &TestApp, account: &str) -> Vec<(String, String, String)> {
    let (_, fills) = app.get(&format!("/api/v1/fills?account={account}")).await;
    let mut fills: Vec<(String, String, String)> = fills
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap().to_owned();
            (text("qty"), text("price"), text("fee"))
        })
        .collect();
    fills.sort();
    fills
}

#[tokio::test]
async fn orders_go_to_binance_signed_in_its_format_and_fill_from_its_execution_reports() {
    let (app, binance, _db) = spawn_binance_engine().await;
    let id = working_limit_order(&app, "buy", "0.5", "64000.5", "bn-1").await;
    let sent = binance.requests.lock().unwrap()[0].clone();
    let expected = [
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("price", "64000.5"),
        ("quantity", "0.5"),
        ("newOrderRespType", "FULL"),
        ("recvWindow", "1000"),
    ];
    for (key, value) in expected {
        assert_eq!(sent.get(key).map(String::as_str), Some(value), "{key} in {sent:?}");
    }
    assert_eq!(sent["newClientOrderId"], format!("hly-{id}"));
    let client = format!("hly-{id}");
    binance.fill(&client, "0.2", "64000.5");
    binance.fill(&client, "0.3", "64000.5");
    let order = app.order_reaches(id, "filled").await;
    assert_eq!(order["avg_fill_price"], "64000.5");
    assert_eq!(
        fills_of(&app, "spot").await,
        [
            ("0.2".to_owned(), "64000.5".to_owned(), "12.8001".to_owned()),
            ("0.3".to_owned(), "64000.5".to_owned(), "19.20015".to_owned())
        ],
        "each execution once, its USDT commission as the fee"
    );
    assert_eq!(app.get("/api/v1/positions?account=spot").await.1[0]["qty"], "0.5");
    app.stop().await;
}

#[tokio::test]
async fn an_order_breaking_binances_filters_is_rejected_with_the_rule_before_it_leaves() {
    let (app, binance, _db) = spawn_binance_engine().await;
    let body = json!({"account": "spot", "symbol": "BTCUSDT", "side": "buy", "qty": "0.000015", "limit_price": "64000",
                      "client_order_id": "step-1"});
    let (_, placed) = app.post("/api/v1/orders", body).await;
    let rejected = app.order_reaches(placed["order_id"].as_i64().unwrap(), "rejected").await;
    assert_eq!(
        rejected["reject_reason"],
        "binance filter LOT_SIZE: quantity 0.000015 is not a multiple of stepSize 0.00001"
    );
    let body = json!({"account": "spot", "symbol": "BTCUSDT", "side": "buy", "qty": "0.00002", "limit_price": "64000",
                      "client_order_id": "notional-1"});
    let (_, placed) = app.post("/api/v1/orders", body).await;
    let rejected = app.order_reaches(placed["order_id"].as_i64().unwrap(), "rejected").await;
    assert_eq!(rejected["reject_reason"], "binance filter NOTIONAL: notional 1.28 is below minNotional 5");
    assert!(binance.requests.lock().unwrap().is_empty(), "nothing was sent");
    app.stop().await;
}

#[tokio::test]
async fn an_order_binance_placed_but_answered_503_for_is_found_by_client_order_id_not_rejected_or_sent_twice() {
    let (app, binance, _db) = spawn_binance_engine().await;
    binance.create_faults.lock().unwrap().push_back(CreateFault::AcceptThenFail);
    let (_, placed) = app.place_market("spot", "BTCUSDT", "buy", "0.01", "unknown-1").await;
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(binance.requests.lock().unwrap().len(), 1, "found at Binance, so not sent again");
    assert_eq!(binance.placed(), 1);
    binance.fill(&format!("hly-{id}"), "0.01", "64000");
    app.order_reaches(id, "filled").await;
    assert_eq!(app.get("/api/v1/positions?account=spot").await.1[0]["qty"], "0.01");
    app.stop().await;
}

#[tokio::test]
async fn a_429_is_waited_out_for_its_retry_after_and_the_order_sent_again_once_not_rejected() {
    let (app, binance, _db) = spawn_binance_engine().await;
    binance.create_faults.lock().unwrap().push_back(CreateFault::TooManyRequests { retry_after: 1 });
    let started = Instant::now();
    let (_, placed) = app.place_market("spot", "BTCUSDT", "sell", "0.01", "limited-1").await;
    let id = placed["order_id"].as_i64().unwrap();
    let order = app.order_reaches(id, "new").await;
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After honoured");
    assert_eq!(binance.requests.lock().unwrap().len(), 2, "refused once, then sent again");
    assert_eq!(binance.placed(), 1, "placed once");
    assert!(order["reject_reason"].is_null(), "{order}");
    app.stop().await;
}

#[tokio::test]
async fn a_rejection_binance_reports_after_acknowledging_the_order_rejects_it_with_binances_reason() {
    let (app, binance, _db) = spawn_binance_engine().await;
    let id = working_limit_order(&app, "buy", "0.01", "64000", "late-1").await;
    let mut order = binance.order(&format!("hly-{id}"));
    order["status"] = json!("REJECTED");
    let report = binance.report(&order, "REJECTED", None).replace("\"r\":\"NONE\"", "\"r\":\"INSUFFICIENT_BALANCES\"");
    binance.send(report);
    let rejected = app.order_reaches(id, "rejected").await;
    assert_eq!(rejected["reject_reason"], "rejected by Binance: INSUFFICIENT_BALANCES");
    app.stop().await;
}

#[tokio::test]
async fn a_cancel_binance_refuses_puts_the_order_back_to_working_and_a_cancel_made_at_binance_ends_it() {
    let (app, binance, _db) = spawn_binance_engine().await;
    binance.reject_cancels.store(true, Ordering::SeqCst);
    let id = working_limit_order(&app, "buy", "0.01", "64000", "cr-1").await;
    assert_eq!(app.post(&format!("/api/v1/orders/{id}/cancel"), json!({})).await.0, 202);
    eventually("the cancel rejection is booked", || async {
        let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
        let events: Vec<String> =
            order["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_owned()).collect();
        order["status"] == "new" && events.ends_with(&["cancel_requested".to_owned(), "cancel_rejected".to_owned()])
    })
    .await;
    binance.reject_cancels.store(false, Ordering::SeqCst);
    binance.cancel_at_venue(&format!("hly-{id}"));
    app.order_reaches(id, "cancelled").await;
    app.stop().await;
}

#[tokio::test]
async fn fills_made_while_the_stream_was_down_are_booked_on_reconnect_and_late_duplicated_or_reordered_reports_once() {
    let (app, binance, _db) = spawn_binance_engine().await;
    let id = working_limit_order(&app, "buy", "0.3", "64000", "gap-1").await;
    let client = format!("hly-{id}");
    binance.drop_stream();
    eventually("the stream is down", || async { !*binance.listening.lock().unwrap() }).await;
    let late_first = binance.execute(&client, "0.1", "64000");
    let late_second = binance.execute(&client, "0.1", "63999.5");
    binance.restore_stream();
    eventually("the gap's fills are booked from myTrades", || async { fills_of(&app, "spot").await.len() == 2 }).await;
    binance.send(late_second.clone());
    binance.send(late_first.clone());
    binance.send(late_second);
    let third = binance.execute(&client, "0.1", "64000");
    binance.send(third.clone());
    binance.send(third);
    app.order_reaches(id, "filled").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let booked: Vec<(String, String)> = fills_of(&app, "spot").await.into_iter().map(|(q, p, _)| (q, p)).collect();
    let executions =
        [("0.1", "63999.5"), ("0.1", "64000"), ("0.1", "64000")].map(|(q, p)| (q.to_owned(), p.to_owned()));
    assert_eq!(booked, executions, "three executions, each booked once at its own price");
    assert_eq!(app.get("/api/v1/positions?account=spot").await.1[0]["qty"], "0.3");
    app.stop().await;
}

#[tokio::test]
async fn a_trade_made_by_hand_at_binance_halts_the_accounts_trading_there() {
    let db = test_support::TestDb::new().await;
    let binance = StandIn::start().await;
    let app = binance_engine_with(&db, &binance, Duration::from_millis(300)).await;
    let (_, placed) = app.place_market("spot", "BTCUSDT", "buy", "0.01", "own-1").await;
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
    binance.fill(&format!("hly-{id}"), "0.01", "64000");
    app.order_reaches(id, "filled").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.get("/api/v1/halt").await.1, json!([]), "its own trades halt nothing");
    binance.trade_at_venue("BUY", "0.02", "64100");
    eventually("the foreign trade halts the account", || async {
        app.get("/api/v1/halt").await.1.as_array().unwrap().len() == 1
    })
    .await;
    let (_, halts) = app.get("/api/v1/halt").await;
    assert_eq!((halts[0]["scope"].as_str(), halts[0]["account"].as_str()), (Some("account"), Some("spot")));
    assert_eq!(halts[0]["created_by"], "reconciliation");
    assert_eq!(
        halts[0]["reason"],
        "reconciliation: binance executed an order Halyard did not place: BUY 0.02 BTCUSDT at 64100 (client order id web_a1b2c3d4e5f6)"
    );
    assert_eq!(fills_of(&app, "spot").await.len(), 1, "nothing booked for it");
    app.stop().await;
}

#[tokio::test]
async fn an_amend_at_binance_is_refused_and_the_order_works_on() {
    let (app, binance, _db) = spawn_binance_engine().await;
    let id = working_limit_order(&app, "buy", "0.01", "60000", "amend-binance").await;
    let (_, amendment) = app.post(&format!("/api/v1/orders/{id}/replace"), json!({"limit_price": "61000"})).await;
    let new_id = amendment["order_id"].as_i64().unwrap();
    let rejected = app.order_reaches(new_id, "rejected").await;
    assert!(rejected["reject_reason"].as_str().unwrap().contains("Binance Spot orders are not amended"), "{rejected}");
    app.order_reaches(id, "new").await;
    assert_eq!(binance.placed(), 1, "nothing placed for the amendment");
    app.stop().await;
}

#[tokio::test]
async fn buys_beyond_the_free_quote_balance_are_rejected_and_an_account_update_on_the_stream_is_used_at_once() {
    let db = test_support::TestDb::new().await;
    let binance = StandIn::start().await;
    binance.balances.lock().unwrap().insert("USDT".into(), Decimal::from(1000));
    let app = binance_engine_with(&db, &binance, Duration::from_secs(60)).await;
    eventually("the engine read the balances", || async { binance.account_reads.load(Ordering::SeqCst) > 0 }).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let body = json!({"account": "spot", "symbol": "BTCUSDT", "side": "buy", "qty": "0.02", "limit_price": "60000",
                      "client_order_id": "spend-1200"});
    let (_, refused) = app.post("/api/v1/orders", body).await;
    assert_eq!(refused["reject_reason"], "insufficient_buying_power", "1,200 of 1,000 USDT: {refused}");
    let first = working_limit_order(&app, "buy", "0.01", "60000", "spend-600").await;
    let body = json!({"account": "spot", "symbol": "BTCUSDT", "side": "buy", "qty": "0.01", "limit_price": "50000",
                      "client_order_id": "spend-500"});
    let (_, refused) = app.post("/api/v1/orders", body).await;
    assert_eq!(refused["reject_reason"], "insufficient_buying_power", "600 of 1,000 USDT is locked: {refused}");
    // A deposit shows on the user data stream as outboundAccountPosition.
    binance.balances.lock().unwrap().insert("USDT".into(), Decimal::from(100_000));
    let update = json!({"subscriptionId": 0, "event": {"e": "outboundAccountPosition", "E": now_ms(), "u": now_ms(),
                        "B": [{"a": "USDT", "f": "99400.00000000", "l": "600.00000000"}]}});
    binance.send(update.to_string());
    eventually("the update is used", || async {
        let body = json!({"account": "spot", "symbol": "BTCUSDT", "side": "buy", "qty": "0.01", "limit_price": "50000",
                          "client_order_id": format!("after-{}", uuid::Uuid::new_v4())});
        app.post("/api/v1/orders", body).await.1["status"] == "pending_new"
    })
    .await;
    assert!(first > 0);
    app.stop().await;
}

#[tokio::test]
async fn a_fill_or_kill_limit_order_is_sent_to_binance_as_fok() {
    let (app, binance, _db) = spawn_binance_engine().await;
    let body = json!({"account": "spot", "symbol": "BTCUSDT", "side": "buy", "qty": "0.01", "limit_price": "60000",
                      "time_in_force": "fok", "client_order_id": "fok-binance"});
    let (status, placed) = app.post("/api/v1/orders", body).await;
    assert_eq!(status, 201, "{placed}");
    eventually("the order reaches Binance", || async { !binance.requests.lock().unwrap().is_empty() }).await;
    assert_eq!(binance.requests.lock().unwrap()[0].get("timeInForce").map(String::as_str), Some("FOK"));
    app.stop().await;
}

#[tokio::test]
async fn stop_limit_and_percent_trailing_stops_go_to_binance_natively_and_an_amount_trail_is_held_by_the_engine_until_it_triggers(
) {
    let db = test_support::TestDb::new().await;
    let binance = StandIn::start().await;
    let feed = FakeFeed::start().await;
    let app = binance_engine_fed_by(&db, &binance, Duration::from_secs(60), &feed).await;
    let stop_limit = json!({"account": "spot", "symbol": "BTCUSDT", "side": "buy", "qty": "0.01", "order_type": "stop_limit",
                            "stop_price": "61000", "limit_price": "61100", "client_order_id": "stop-limit-binance"});
    let (status, placed) = app.post("/api/v1/orders", stop_limit).await;
    assert_eq!(status, 201, "{placed}");
    eventually("the stop-limit reaches Binance", || async { binance.requests.lock().unwrap().len() == 1 }).await;
    let trailing = json!({"account": "spot", "symbol": "BTCUSDT", "side": "buy", "qty": "0.01", "order_type": "trailing_stop",
                          "trail_percent": "1.25", "client_order_id": "trailing-binance"});
    app.post("/api/v1/orders", trailing).await;
    eventually("the trailing stop reaches Binance", || async { binance.requests.lock().unwrap().len() == 2 }).await;
    {
        let requests = binance.requests.lock().unwrap();
        let field = |n: usize, name: &str| requests[n].get(name).cloned();
        assert_eq!(
            [field(0, "type"), field(0, "stopPrice"), field(0, "price"), field(0, "timeInForce")],
            [Some("STOP_LOSS_LIMIT".into()), Some("61000".into()), Some("61100".into()), Some("GTC".into())]
        );
        assert_eq!(
            [field(1, "type"), field(1, "trailingDelta"), field(1, "stopPrice")],
            [Some("STOP_LOSS".into()), Some("125".into()), None]
        );
    }
    // Binance cannot trail by an amount: the engine holds the stop and trails the trades itself.
    let amount = json!({"account": "spot", "symbol": "BTCUSDT", "side": "buy", "qty": "0.01", "order_type": "trailing_stop",
                        "trail_amount": "50", "client_order_id": "trailing-amount-binance"});
    let (status, placed) = app.post("/api/v1/orders", amount).await;
    assert_eq!(
        (status, placed["status"].as_str(), placed["emulated"].as_bool()),
        (201, Some("held"), Some(true)),
        "{placed}"
    );
    let id = placed["order_id"].as_i64().unwrap();
    feed.wait_for_clients(1).await;
    tokio::time::sleep(engine::oms::triggers::RELOAD_EVERY + Duration::from_millis(200)).await;
    // The lowest trade is 60,000: the buy stop is 60,050, which 60,040 does not reach.
    for price in ["60100", "60000", "60040"] {
        feed.tick("BTCUSDT", price);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(binance.requests.lock().unwrap().len(), 2, "not sent while held");
    feed.tick("BTCUSDT", "60060");
    app.order_reaches(id, "new").await;
    let sent = binance.requests.lock().unwrap()[2].clone();
    assert_eq!((sent["type"].as_str(), sent["quantity"].as_str(), sent.get("trailingDelta")), ("MARKET", "0.01", None));
    app.stop().await;
}
