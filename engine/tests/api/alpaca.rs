//! The Alpaca adapter against a local stand-in that speaks Alpaca's documented formats:
//! `POST /v2/orders`, `GET /v2/orders:by_client_order_id`, `DELETE /v2/orders/{id}`, and the
//! `trade_updates` stream (authenticate, listen, binary JSON frames).

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
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::helpers::{eventually, spawn_with, test_settings, FakeFeed, TestApp};

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
}

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
    let fault = s.create_faults.lock().unwrap().pop_front();
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
    let order = json!({
        "id": uuid::Uuid::new_v4().to_string(), "client_order_id": client_order_id,
        "created_at": "2026-11-24T10:00:00.000000Z", "updated_at": "2026-11-24T10:00:00.000000Z",
        "submitted_at": "2026-11-24T10:00:00.000000Z", "filled_at": null, "expired_at": null, "canceled_at": null,
        "failed_at": null, "replaced_at": null, "replaced_by": null, "replaces": null,
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", "symbol": body["symbol"], "asset_class": "us_equity",
        "notional": null, "qty": body["qty"], "filled_qty": "0", "filled_avg_price": null, "order_class": "",
        "order_type": body["type"], "type": body["type"], "side": body["side"], "time_in_force": body["time_in_force"],
        "limit_price": body.get("limit_price").cloned().unwrap_or(Value::Null), "stop_price": null, "status": "accepted",
        "extended_hours": false, "legs": null, "trail_percent": null, "trail_price": null, "hwm": null
    });
    s.orders.lock().unwrap().insert(client_order_id, order.clone());
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
    match s.orders.lock().unwrap().get(q.get("client_order_id").map(String::as_str).unwrap_or_default()) {
        Some(order) => (StatusCode::OK, Json(order.clone())),
        None => (StatusCode::NOT_FOUND, Json(json!({"code": 40410000, "message": "order not found"}))),
    }
}

async fn cancel_order(State(s): State<StandIn>, headers: HeaderMap, Path(id): Path<String>) -> StatusCode {
    if !s.authorized(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    let order = s.orders.lock().unwrap().values().find(|o| o["id"] == id.as_str()).cloned();
    match order {
        Some(order) if s.reject_cancels.load(Ordering::SeqCst) => {
            s.push("order_cancel_rejected", &order, None);
            StatusCode::NO_CONTENT
        }
        Some(mut order) => {
            order["status"] = json!("canceled");
            order["canceled_at"] = json!("2026-11-24T10:00:05.000000Z");
            s.push("canceled", &order, None);
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn stream(State(s): State<StandIn>, ws: WebSocketUpgrade) -> axum::response::Response {
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
        };
        let app = Router::new()
            .route("/v2/orders", post(create_order))
            .route("/v2/orders:by_client_order_id", get(by_client_order_id))
            .route("/v2/orders/{id}", delete(cancel_order))
            .route("/stream", get(stream))
            .with_state(s.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        s
    }

    /// A `trade_updates` message in Alpaca's format.
    fn push(&self, event: &str, order: &Value, execution: Option<(&str, &str)>) {
        let mut data = json!({"event": event, "order": order, "timestamp": "2026-11-24T10:00:01.024916716Z"});
        if let Some((qty, price)) = execution {
            data["execution_id"] = json!(uuid::Uuid::new_v4().to_string());
            data["qty"] = json!(qty);
            data["price"] = json!(price);
            data["position_qty"] = json!(qty);
        }
        let _ = self.stream.send(json!({"stream": "trade_updates", "data": data}).to_string());
    }

    fn order(&self, client_order_id: &str) -> Value {
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
    *alpaca.listening.lock().unwrap() = false;
    let feed = FakeFeed::start().await;
    let mut settings = test_settings(&db.url(), &feed);
    settings.venue = engine::configuration::VenueSettings::Alpaca(engine::venue::alpaca::AlpacaSettings {
        base_url: alpaca.url.clone(),
        stream_url: format!("{}/stream", alpaca.url.replace("http", "ws")),
        credentials: engine::venue::alpaca::credentials_value("key", "secret"),
    });
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
    let order = alpaca.order(&format!("hly-{id}"));
    alpaca.push("partial_fill", &order, Some(("0.5", "149.5")));
    app.order_reaches(id, "partially_filled").await;
    alpaca.push("fill", &order, Some(("1.5", "149.9")));
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
    let (_, placed) = app
        .post("/api/v1/orders", json!({"account": "live", "symbol": "AAPL", "side": "sell", "qty": "1", "limit_price": "300", "client_order_id": "c-1"}))
        .await;
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
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
    // While no engine listened, Alpaca filled the working order.
    {
        let mut orders = alpaca.orders.lock().unwrap();
        let order = orders.get_mut(&format!("hly-{working}")).unwrap();
        order["status"] = json!("filled");
        order["filled_qty"] = json!("2");
        order["filled_avg_price"] = json!("149.75");
    }
    let second = alpaca_engine_on(&db, &alpaca).await;
    let filled = second.order_reaches(working, "filled").await;
    assert_eq!(filled["avg_fill_price"], "149.75");
    let (_, fills) = second.get("/api/v1/fills?account=live").await;
    assert_eq!(fills.as_array().unwrap().len(), 1, "{fills}");
    assert!(fills[0]["exec_id"].as_str().unwrap().starts_with("reconcile-"));
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
    let order = alpaca.order(&format!("hly-{id}"));
    alpaca.push("fill", &order, Some(("3", "187.5")));
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
    alpaca.push("rejected", &order, None);
    let rejected = app.order_reaches(id, "rejected").await;
    assert_eq!(rejected["reject_reason"], "rejected by Alpaca");
    app.stop().await;
}

#[tokio::test]
async fn a_cancel_alpaca_rejects_puts_the_order_back_to_working() {
    let (app, alpaca, _db) = spawn_alpaca_engine().await;
    alpaca.reject_cancels.store(true, Ordering::SeqCst);
    let (_, placed) = app
        .post("/api/v1/orders", json!({"account": "live", "symbol": "AAPL", "side": "buy", "qty": "1", "limit_price": "100", "client_order_id": "cr-1"}))
        .await;
    let id = placed["order_id"].as_i64().unwrap();
    app.order_reaches(id, "new").await;
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
