#![allow(dead_code, reason = "shared helpers; not every test uses every one")]

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    extract::{ws::Message, Path, State, WebSocketUpgrade},
    routing::get,
    Json, Router,
};
use engine::{
    configuration::{Settings, SignalSettings},
    startup::Application,
};
use platform::config::{DatabaseSettings, DatabaseSource};
use serde_json::{json, Value};
use test_support::TestDb;
use tokio::sync::{broadcast, oneshot};

/// A stand-in for the data-service: the live stream and the quote endpoint, in its message format.
#[derive(Clone)]
pub struct FakeFeed {
    pub url: String,
    tx: broadcast::Sender<String>,
    clients: Arc<AtomicUsize>,
    last: Arc<Mutex<HashMap<String, String>>>,
    history: Arc<Mutex<Vec<Value>>>,
}

#[derive(Clone)]
struct FeedState {
    tx: broadcast::Sender<String>,
    clients: Arc<AtomicUsize>,
    last: Arc<Mutex<HashMap<String, String>>>,
    history: Arc<Mutex<Vec<Value>>>,
}

impl FakeFeed {
    pub async fn start() -> Self {
        let (tx, _) = broadcast::channel(10_000);
        let clients = Arc::new(AtomicUsize::new(0));
        let last = Arc::new(Mutex::new(HashMap::new()));
        let history = Arc::new(Mutex::new(Vec::new()));
        let state =
            FeedState { tx: tx.clone(), clients: clients.clone(), last: last.clone(), history: history.clone() };
        let app = Router::new()
            .route("/api/v1/market/stream", get(stream))
            .route("/api/v1/market/quote/{symbol}", get(quote))
            .route("/api/v1/market/prices/{symbol}", get(prices))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, tx, clients, last, history }
    }

    /// Records a tick in the history only (committed earlier, not streamed now).
    pub fn history_tick(&self, symbol: &str, price: &str, ts_ms: i64) {
        let ts = chrono::DateTime::from_timestamp_millis(ts_ms).unwrap();
        self.history.lock().unwrap().push(json!({"symbol": symbol, "ts": ts, "price": price, "size": "3"}));
    }

    /// Sends a trade of `symbol` at `price` (now) to every connected engine.
    pub fn tick(&self, symbol: &str, price: &str) {
        self.last.lock().unwrap().insert(symbol.to_owned(), price.to_owned());
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let _ =
            self.tx.send(json!({"type": "tick", "symbol": symbol, "ts": ts, "price": price, "size": "3"}).to_string());
    }

    /// Sends a trade with an explicit timestamp (ms since the epoch).
    pub fn tick_at(&self, symbol: &str, price: &str, ts_ms: i64) {
        self.history_tick(symbol, price, ts_ms);
        self.last.lock().unwrap().insert(symbol.to_owned(), price.to_owned());
        let ts = chrono::DateTime::from_timestamp_millis(ts_ms)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let _ =
            self.tx.send(json!({"type": "tick", "symbol": symbol, "ts": ts, "price": price, "size": "3"}).to_string());
    }

    /// Waits until `n` engines are subscribed.
    pub async fn wait_for_clients(&self, n: usize) {
        eventually("engines subscribed to the feed", || async { self.clients.load(Ordering::SeqCst) >= n }).await;
    }
}

async fn stream(State(state): State<FeedState>, ws: WebSocketUpgrade) -> axum::response::Response {
    ws.on_upgrade(move |mut socket| async move {
        let mut rx = state.tx.subscribe();
        state.clients.fetch_add(1, Ordering::SeqCst);
        while let Ok(text) = rx.recv().await {
            if socket.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        state.clients.fetch_sub(1, Ordering::SeqCst);
    })
}

/// `GET /api/v1/market/prices/{symbol}?start&end` (epoch ms) in the data-service's page format.
async fn prices(
    State(state): State<FeedState>,
    Path(symbol): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Json<Value> {
    let bound = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
    let (start, end) = (bound("start").unwrap_or(i64::MIN), bound("end").unwrap_or(i64::MAX));
    let prices: Vec<Value> = state
        .history
        .lock()
        .unwrap()
        .iter()
        .filter(|t| t["symbol"] == symbol.as_str())
        .filter(|t| {
            let ts = chrono::DateTime::parse_from_rfc3339(t["ts"].as_str().unwrap()).unwrap().timestamp_millis();
            ts >= start && ts < end
        })
        .map(|t| json!({"ts": t["ts"], "price": t["price"], "size": t["size"]}))
        .collect();
    Json(json!({"symbol": symbol, "start": start, "end": end, "prices": prices, "next_cursor": null}))
}

async fn quote(
    State(state): State<FeedState>,
    Path(symbol): Path<String>,
) -> Result<Json<Value>, axum::http::StatusCode> {
    let last = state.last.lock().unwrap().get(&symbol).cloned();
    match last {
        Some(price) => {
            Ok(Json(json!({"symbol": symbol, "ts": chrono::Utc::now(), "price": price, "size": "1", "source": "tick"})))
        }
        None => Err(axum::http::StatusCode::NOT_FOUND),
    }
}

/// A running engine on a test database.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub db_url: String,
    pub pool: sqlx::PgPool,
    pub client: reqwest::Client,
    pub token: String,
    pub instance_id: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a test instance: loopback, any free port, quick leases and halt polling.
pub fn test_settings(db_url: &str, feed: &FakeFeed) -> Settings {
    // Short periods, so leases, halts and equity samples happen within a test's seconds.
    Settings {
        database: DatabaseSettings { source: DatabaseSource::Url(db_url.to_owned()), max_connections: 8 },
        signals: SignalSettings { max_age: Duration::from_secs(60), hmac_secret: None, body_limit: 4096 },
        lease_ttl: Duration::from_secs(3),
        lease_renew: Duration::from_millis(200),
        halt_poll: Duration::from_millis(100),
        equity_snapshot: Duration::from_secs(1),
        reconcile_interval: Duration::from_secs(60),
        ..Settings::local(db_url, &feed.url)
    }
}

/// An engine on a fresh database, fed by a fresh stand-in feed.
pub async fn spawn_app() -> (TestApp, FakeFeed, TestDb) {
    let db = TestDb::new().await;
    let feed = FakeFeed::start().await;
    let app = spawn_with(test_settings(&db.url(), &feed)).await;
    feed.wait_for_clients(1).await;
    (app, feed, db)
}

pub async fn spawn_with(settings: Settings) -> TestApp {
    spawn_with_secrets(settings, std::sync::Arc::new(platform::db::NoSecretSource)).await
}

/// An engine reading its secrets from `secrets` (Secrets Manager on the emulator).
pub async fn spawn_with_secrets(
    settings: Settings,
    secrets: std::sync::Arc<dyn platform::db::SecretSource>,
) -> TestApp {
    let db_url = match &settings.database.source {
        DatabaseSource::Url(url) => url.clone(),
        DatabaseSource::Secret { secret_id, .. } => format!("secret:{secret_id}"),
    };
    let instance_id = settings.instance_id.clone();
    let app = Application::build(settings, secrets).await.expect("build app");
    let port = app.port();
    let pool = app.state().pool.clone();
    let token = engine::auth::create_token(&pool, &format!("test-{}", uuid::Uuid::new_v4().simple())).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        db_url,
        pool,
        client: reqwest::Client::new(),
        token,
        instance_id,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res =
            self.client.get(format!("{}{path}", self.address)).bearer_auth(&self.token).send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, body).await
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Posts a raw webhook body.
    pub async fn webhook(&self, body: impl Into<reqwest::Body>, content_type: &str) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}/api/v1/signals/tradingview", self.address))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Creates a strategy through the API (201 expected).
    pub async fn create_strategy(&self, body: Value) -> Value {
        let (status, created) = self.post("/api/v1/strategies", body).await;
        assert_eq!(status, 201, "{created}");
        created
    }

    /// A signal-follower strategy `name` on BTCUSD and ETHUSD for `account`, passphrase `pass-<name>`.
    pub async fn follower(&self, name: &str, account: &str) -> Value {
        self.create_strategy(json!({
            "name": name, "kind": "signal_follower", "params": {"quantity": "2"}, "account": account,
            "symbols": ["BTCUSD", "ETHUSD"], "passphrase": format!("pass-{name}"), "enabled": true
        }))
        .await
    }

    pub async fn place_market(
        &self,
        account: &str,
        symbol: &str,
        side: &str,
        qty: &str,
        client_order_id: &str,
    ) -> (u16, Value) {
        self.post(
            "/api/v1/orders",
            json!({"account": account, "symbol": symbol, "side": side, "qty": qty, "client_order_id": client_order_id}),
        )
        .await
    }

    /// Polls an order until `status`.
    pub async fn order_reaches(&self, order_id: i64, status: &str) -> Value {
        let mut last = Value::Null;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            let (_, order) = self.get(&format!("/api/v1/orders/{order_id}")).await;
            if order["status"] == status {
                return order;
            }
            last = order;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("order {order_id} never reached {status}: {last}");
    }

    /// Stops the engine gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(25), server).await.expect("stops in time").unwrap().unwrap();
        }
    }
}

pub use test_support::{error_message, eventually, eventually_value};

/// A TradingView alert body.
pub fn alert(strategy: &str, passphrase: &str, action: &str, alert_id: &str) -> Value {
    json!({"passphrase": passphrase, "strategy": strategy, "ticker": "BTCUSD", "action": action,
           "quantity": "2", "alert_id": alert_id})
}
