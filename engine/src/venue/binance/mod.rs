//! Binance Spot: orders over signed REST (`POST`/`GET`/`DELETE /api/v3/order`,
//! `GET /api/v3/myTrades`, `GET /api/v3/exchangeInfo`) and their lifecycle from the User Data
//! Stream on the WebSocket API (`userDataStream.subscribe.signature`, `executionReport`).
//! Production or the Spot testnet is only a matter of the two base URLs.
//!
//! Signing (HMAC-SHA256): every signed request carries `timestamp` and `recvWindow`; the
//! signature is the hex HMAC of the exact query string sent, with the secret key; the API key
//! travels as `X-MBX-APIKEY`. The stream subscription signs `apiKey=…&timestamp=…` (its params
//! sorted by name), as the WebSocket API documents.
//!
//! The engine's order id travels as `newClientOrderId` (`hly-<order_id>`). Binance refuses a
//! client order id only while an order with it is open, so a resend is made only after asking
//! by `origClientOrderId` and only once the first attempt's `recvWindow` has passed: by then
//! Binance would refuse to forward that request to its matching engine, so "does not exist"
//! is final. An execution is booked under `<symbol>:<tradeId>`, the same from the stream
//! (`t`) and from `myTrades` (`id`), so replays, duplicates and reconciliation book it once.
//!
//! Mapping: 2xx → `Accepted` (and the fills and final status in the `FULL` answer); 429/418 →
//! unknown, waited out for `Retry-After`; 5xx, `-1007` (timeout) and transport errors →
//! unknown (Binance: "execution status unknown"), resolved by query; `-1021` (outside
//! `recvWindow`) → unknown, resent after the query; `-2010 Duplicate order sent.` → the order
//! is there; any other 4xx → `Rejected` with Binance's code and message. Stream `x`: `NEW` →
//! `Accepted`, `TRADE` → `Fill`, `CANCELED` → `Cancelled` (the order is `C`, the cancel's id is
//! `c`), `REJECTED` → `Rejected` with `r`, `EXPIRED` → `Expired`; `TRADE_PREVENTION`,
//! `REPLACED` and `AMENDMENT` need no booking (the engine neither amends nor self-trades).
//! A `TRADE` of an order the engine did not place is recorded as a foreign execution
//! ([`super::Venue::take_foreign_executions`]): it halts the accounts trading at Binance.

pub mod filters;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use domain::{Money, OrderType, Side, TimeInForce, Timestamp, Trail};
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use platform::{
    aws::Redacted,
    secrets::{LiveSecret, SecretSetting},
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use self::filters::{Proposed, SymbolInfo};
use super::{
    retry_after, unknown_backoff, Booked, VenueEvent, VenueEventKind, VenueOrder, MAX_RETRY_AFTER, UNKNOWN_ATTEMPTS,
};
use crate::convert::{self, ToDecimal};

/// Binance connection settings.
#[derive(Clone)]
pub struct BinanceSettings {
    /// REST base URL: `https://api.binance.com`, or the testnet's `https://testnet.binance.vision`.
    pub base_url: String,
    /// WebSocket API URL: `wss://ws-api.binance.com:443/ws-api/v3`, or the testnet's
    /// `wss://ws-api.testnet.binance.vision/ws-api/v3`.
    pub ws_api_url: String,
    /// The keys: a JSON object `{"api_key": "...", "secret_key": "..."}` (HMAC key), given
    /// directly or as a Secrets Manager secret id.
    pub credentials: SecretSetting,
    /// How long a signed request stays valid at Binance (`recvWindow`, at most 60 s).
    pub recv_window: Duration,
}

impl std::fmt::Debug for BinanceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceSettings")
            .field("base_url", &self.base_url)
            .field("ws_api_url", &self.ws_api_url)
            .field("recv_window", &self.recv_window)
            .finish_non_exhaustive()
    }
}

/// The credentials setting for keys given directly.
pub fn credentials_value(api_key: &str, secret_key: &str) -> SecretSetting {
    SecretSetting::Value(Redacted::new(json!({"api_key": api_key, "secret_key": secret_key}).to_string()))
}

#[derive(Deserialize, Default)]
struct Keys {
    api_key: String,
    secret_key: String,
}

/// The hex HMAC-SHA256 of `payload` with `secret` (Binance's HMAC signature).
pub fn sign(secret: &str, payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The client order id sent to Binance for an engine order (the same as Alpaca's).
pub fn client_order_id(order_id: i64) -> String {
    super::alpaca::client_order_id(order_id)
}

fn order_id_of(client_order_id: &str) -> Option<i64> {
    client_order_id.strip_prefix("hly-")?.parse().ok()
}

/// The key an execution is booked under: the symbol and Binance's trade id.
pub fn execution_key(symbol: &str, trade_id: i64) -> String {
    format!("{symbol}:{trade_id}")
}

/// An order as `GET /api/v3/order` (and the order endpoints) return it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BinanceOrder {
    symbol: String,
    order_id: i64,
    status: String,
    #[serde(default)]
    executed_qty: Option<Decimal>,
    /// Present in a `FULL` answer.
    #[serde(default)]
    fills: Vec<OrderFill>,
}

/// One fill of a `FULL` order answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OrderFill {
    price: Decimal,
    qty: Decimal,
    commission: Decimal,
    commission_asset: String,
    trade_id: i64,
}

/// One trade of `GET /api/v3/myTrades`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Trade {
    id: i64,
    order_id: i64,
    price: Decimal,
    qty: Decimal,
    commission: Decimal,
    commission_asset: String,
    time: i64,
}

/// Binance's error body.
#[derive(Debug, Deserialize, Default)]
struct BinanceError {
    code: Option<i64>,
    msg: Option<String>,
}

/// `executionReport` (the fields the engine reads).
#[derive(Debug, Deserialize)]
struct ExecutionReport {
    #[serde(rename = "s")]
    symbol: String,
    #[serde(rename = "c")]
    client_order_id: String,
    /// The original client order id of a cancel (`c` is then the cancel's own id).
    #[serde(rename = "C", default)]
    original_client_order_id: Option<String>,
    #[serde(rename = "S")]
    side: String,
    #[serde(rename = "x")]
    execution_type: String,
    #[serde(rename = "r", default)]
    reject_reason: Option<String>,
    #[serde(rename = "l")]
    last_qty: Decimal,
    #[serde(rename = "L")]
    last_price: Decimal,
    #[serde(rename = "n", default)]
    commission: Option<Decimal>,
    #[serde(rename = "N", default)]
    commission_asset: Option<String>,
    #[serde(rename = "T")]
    transaction_time: i64,
    #[serde(rename = "t")]
    trade_id: i64,
}

/// Where a submission leaves the order.
enum Submitted {
    /// Binance's answer settles it (the events to report).
    Known(Vec<VenueEventKind>),
    /// The order may or may not be at Binance; ask after `wait` (`Retry-After`).
    Unknown { wait: Option<Duration>, why: String },
}

enum Lookup {
    Found(BinanceOrder),
    Missing,
    Unanswered { wait: Option<Duration> },
}

/// How long a symbol's exchange filters are trusted before they are read again.
const FILTERS_TTL: Duration = Duration::from_secs(3600);

fn timestamp_of(millis: i64) -> Timestamp {
    Timestamp::from_nanos(millis.saturating_mul(1_000_000))
}

/// Handle to the Binance venue.
#[derive(Clone)]
pub struct BinanceVenue {
    http: reqwest::Client,
    settings: Arc<BinanceSettings>,
    credentials: LiveSecret,
    events: mpsc::Sender<VenueEvent>,
    connected: Arc<tokio::sync::Notify>,
    /// When the stream last asked to subscribe: orders changed after it have their events on it.
    listen_asked_at: Arc<std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>>,
    symbols: Arc<Mutex<HashMap<String, (Instant, SymbolInfo)>>>,
    foreign: Arc<Mutex<Vec<String>>>,
    /// The account's free balances as last read (see [`Self::buying_power`]).
    balances: Arc<Mutex<Option<Balances>>>,
}

/// Free balances by asset, and when Binance said so.
#[derive(Debug, Clone)]
struct Balances {
    as_of: chrono::DateTime<chrono::Utc>,
    free: HashMap<String, Decimal>,
    /// `canTrade`: false while Binance does not let the account trade.
    can_trade: bool,
}

impl BinanceVenue {
    /// Starts the user data stream (reconnecting until `stop`) and returns the handle.
    pub fn start(
        settings: BinanceSettings,
        credentials: LiveSecret,
        events: mpsc::Sender<VenueEvent>,
        stop: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
        let venue = Self {
            http,
            settings: Arc::new(settings),
            credentials,
            events,
            connected: Arc::default(),
            listen_asked_at: Arc::default(),
            symbols: Arc::default(),
            balances: Arc::default(),
            foreign: Arc::default(),
        };
        let task = tokio::spawn(venue.clone().run_stream(stop));
        (venue, task)
    }

    /// Notified each time the user data stream is subscribed (again).
    /// When the stream last asked Binance to subscribe (see [`super::Venue::stream_reconnected`]).
    pub fn listen_asked_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        *self.listen_asked_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn stream_connected(&self) -> Arc<tokio::sync::Notify> {
        self.connected.clone()
    }

    /// Executions at Binance of orders the engine did not place, seen since the last call.
    pub fn take_foreign_executions(&self) -> Vec<String> {
        std::mem::take(&mut *self.foreign.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn keys(&self) -> Keys {
        serde_json::from_str(self.credentials.current().expose()).unwrap_or_else(|_| {
            tracing::error!(secret_id = ?self.credentials.secret_id(), "the Binance credentials are not {{\"api_key\", \"secret_key\"}} JSON");
            Keys::default()
        })
    }

    /// Sends a signed request: `params`, then `recvWindow`, `timestamp` and the signature of
    /// that exact query string. On 401 (keys refused, most likely rotated) the keys are re-read
    /// and, if they changed, the request is signed and sent once more.
    async fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        params: &[(&str, String)],
    ) -> reqwest::Result<reqwest::Response> {
        let send = || {
            let keys = self.keys();
            let now = chrono::Utc::now().timestamp_millis();
            let mut query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
            query.push(format!("recvWindow={}", self.settings.recv_window.as_millis()));
            query.push(format!("timestamp={now}"));
            let query = query.join("&");
            let signature = sign(&keys.secret_key, &query);
            self.http
                .request(method.clone(), format!("{}{path}?{query}&signature={signature}", self.settings.base_url))
                .header("X-MBX-APIKEY", keys.api_key)
                .send()
        };
        let first = send().await?;
        if first.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        match self.credentials.refresh().await {
            Ok(true) => {
                tracing::info!("Binance refused the keys; retrying with the rotated ones");
                send().await
            }
            Ok(false) => Ok(first),
            Err(error) => {
                tracing::warn!(%error, "Binance refused the keys and they could not be re-read");
                Ok(first)
            }
        }
    }

    async fn emit(&self, order_id: i64, kind: VenueEventKind) {
        let _ = self.events.send(VenueEvent { order_id, kind, reconciled: false }).await;
    }

    /// Reports what reconciliation found at the venue (flagged as such when booked).
    async fn emit_reconciled(&self, order_id: i64, kind: VenueEventKind) {
        let _ = self.events.send(VenueEvent { order_id, kind, reconciled: true }).await;
    }

    async fn emit_all(&self, order_id: i64, kinds: Vec<VenueEventKind>, reconciled: bool) {
        for kind in kinds {
            let _ = self.events.send(VenueEvent { order_id, kind, reconciled }).await;
        }
    }

    /// The symbol's rules from `GET /api/v3/exchangeInfo`, cached for [`FILTERS_TTL`];
    /// `None` when Binance did not answer usably (the order then goes unchecked: Binance
    /// applies the same filters itself).
    async fn symbol_info(&self, symbol: &str) -> Option<SymbolInfo> {
        if let Some((at, info)) = self.symbols.lock().ok()?.get(symbol) {
            if at.elapsed() < FILTERS_TTL {
                return Some(info.clone());
            }
        }
        #[derive(Deserialize)]
        struct ExchangeInfo {
            symbols: Vec<SymbolInfo>,
        }
        let response = self
            .http
            .get(format!("{}/api/v3/exchangeInfo", self.settings.base_url))
            .query(&[("symbol", symbol)])
            .send()
            .await;
        let info = match response {
            Ok(r) if r.status().is_success() => {
                r.json::<ExchangeInfo>().await.ok()?.symbols.into_iter().find(|s| s.symbol == symbol)?
            }
            Ok(r) => {
                tracing::warn!(symbol, status = r.status().as_u16(), "Binance refused exchangeInfo");
                return None;
            }
            Err(error) => {
                tracing::warn!(symbol, %error, "exchangeInfo request to Binance failed");
                return None;
            }
        };
        self.symbols.lock().ok()?.insert(symbol.to_owned(), (Instant::now(), info.clone()));
        Some(info)
    }

    /// What a fill's commission is worth in the quote asset: itself when charged in the quote
    /// asset, at the fill's price when charged in the base asset; another asset (BNB) cannot be
    /// valued here and is booked as zero, loudly.
    fn fee(info: Option<&SymbolInfo>, commission: Decimal, asset: &str, price: Decimal) -> Money {
        if commission.is_zero() {
            return Money::ZERO;
        }
        let value = match info {
            Some(i) if asset == i.quote_asset => Some(commission),
            Some(i) if asset == i.base_asset => Some((commission * price).round_dp(8)),
            _ => None,
        };
        match value.map(convert::money) {
            Some(Ok(money)) => money,
            _ => {
                tracing::warn!(%commission, asset, "Binance commission in an asset the engine cannot value; booked as 0");
                Money::ZERO
            }
        }
    }

    /// Submits an order: checked against the symbol's filters, then `POST /api/v3/order`.
    pub async fn submit(&self, order: VenueOrder) {
        let info = self.symbol_info(&order.symbol).await;
        if let Some(info) = &info {
            let intent = order.intent;
            let limit_price = intent.order_type.limit_price().map(|price| price.dec());
            if let Err(reason) = info.check(Proposed { qty: intent.qty.dec(), limit_price }) {
                tracing::info!(order_id = order.order_id, %reason, "order refused by Binance's exchange filters before sending");
                return self.emit(order.order_id, VenueEventKind::Rejected { reason }).await;
            }
        }
        let sent = Instant::now();
        match self.send_order(&order, info.as_ref()).await {
            Submitted::Known(kinds) => self.emit_all(order.order_id, kinds, false).await,
            Submitted::Unknown { wait, why } => {
                tracing::warn!(order_id = order.order_id, %why, "Binance's answer leaves the order's fate unknown; resolving");
                tokio::spawn(self.clone().resolve_unknown(order, wait, sent));
            }
        }
    }

    async fn send_order(&self, order: &VenueOrder, info: Option<&SymbolInfo>) -> Submitted {
        let intent = order.intent;
        let mut params = vec![
            ("symbol", order.symbol.to_string()),
            (
                "side",
                match intent.side {
                    Side::Buy => "BUY",
                    Side::Sell => "SELL",
                }
                .to_owned(),
            ),
        ];
        // Binance has no day orders for spot (it trades around the clock): a day order rests
        // like GTC.
        let tif = match intent.time_in_force {
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
            TimeInForce::Gtc | TimeInForce::Day => "GTC",
        };
        // STOP_LOSS is a market order once triggered, STOP_LOSS_LIMIT a limit order; a buy
        // triggers at or above the stop, a sell at or below, as in the domain. A trailing stop
        // is a STOP_LOSS with `trailingDelta` in basis points.
        match intent.order_type {
            OrderType::Market => params.push(("type", "MARKET".to_owned())),
            OrderType::Limit(price) => {
                params.push(("type", "LIMIT".to_owned()));
                params.push(("timeInForce", tif.to_owned()));
                params.push(("price", price.dec().normalize().to_string()));
            }
            OrderType::Stop(stop) => {
                params.push(("type", "STOP_LOSS".to_owned()));
                params.push(("stopPrice", stop.dec().normalize().to_string()));
            }
            OrderType::StopLimit { stop, limit } => {
                params.push(("type", "STOP_LOSS_LIMIT".to_owned()));
                params.push(("timeInForce", tif.to_owned()));
                params.push(("price", limit.dec().normalize().to_string()));
                params.push(("stopPrice", stop.dec().normalize().to_string()));
            }
            OrderType::TrailingStop(Trail::Percent(rate)) if rate.centi_bps() % 100 == 0 => {
                params.push(("type", "STOP_LOSS".to_owned()));
                params.push(("trailingDelta", (rate.centi_bps() / 100).to_string()));
            }
            OrderType::TrailingStop(_) => {
                return Submitted::Known(vec![VenueEventKind::Rejected {
                    reason: "Binance trails stops by whole basis points of price only (trailingDelta); \
                             give trail_percent in steps of 0.01"
                        .into(),
                }]);
            }
        }
        params.push(("quantity", intent.qty.dec().normalize().to_string()));
        params.push(("newClientOrderId", client_order_id(order.order_id)));
        params.push(("newOrderRespType", "FULL".to_owned()));
        let response = match self.signed(reqwest::Method::POST, "/api/v3/order", &params).await {
            Ok(response) => response,
            Err(e) => return Submitted::Unknown { wait: None, why: e.to_string() },
        };
        let status = response.status();
        if status.is_success() {
            return match response.json::<BinanceOrder>().await {
                Ok(placed) => {
                    tracing::info!(
                        order_id = order.order_id,
                        binance_id = placed.order_id,
                        "order accepted by Binance"
                    );
                    Submitted::Known(self.report(&placed, None, info, false))
                }
                Err(e) => Submitted::Unknown { wait: None, why: format!("unreadable acknowledgement: {e}") },
            };
        }
        let wait = retry_after(response.headers());
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.as_u16() == 418 || status.is_server_error() {
            return Submitted::Unknown { wait, why: format!("HTTP {status}") };
        }
        let error = response.json::<BinanceError>().await.unwrap_or_default();
        let message = error.msg.unwrap_or_default();
        match error.code {
            // -1007: "Timeout waiting for response from backend server. Send status unknown";
            // -1021: outside recvWindow, so never forwarded: the lookup finds it missing and resends.
            Some(-1007 | -1021) => {
                Submitted::Unknown { wait, why: format!("binance {}: {message}", error.code.unwrap_or_default()) }
            }
            Some(-2010) if message.contains("Duplicate order") => Submitted::Known(vec![VenueEventKind::Accepted]),
            code => Submitted::Known(vec![VenueEventKind::Rejected {
                reason: format!(
                    "binance {}: {message}",
                    code.map_or_else(|| status.as_u16().to_string(), |c| c.to_string())
                ),
            }]),
        }
    }

    /// The events an order answer (or query) carries beyond what is booked: its
    /// acknowledgement (unless `acknowledged`), the fills of a `FULL` answer or of `trades`,
    /// and a final status.
    fn report(
        &self,
        state: &BinanceOrder,
        trades: Option<&[Trade]>,
        info: Option<&SymbolInfo>,
        acknowledged: bool,
    ) -> Vec<VenueEventKind> {
        let mut events = Vec::new();
        if state.status != "PENDING_NEW" && !acknowledged {
            events.push(VenueEventKind::Accepted);
        }
        let fills: Vec<(i64, Decimal, Decimal, Decimal, String, Timestamp)> = match trades {
            Some(trades) => trades
                .iter()
                .filter(|t| t.order_id == state.order_id)
                .map(|t| (t.id, t.qty, t.price, t.commission, t.commission_asset.clone(), timestamp_of(t.time)))
                .collect(),
            None => {
                let now = Timestamp::from_nanos(chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
                state
                    .fills
                    .iter()
                    .map(|f| (f.trade_id, f.qty, f.price, f.commission, f.commission_asset.clone(), now))
                    .collect()
            }
        };
        let mut found = Decimal::ZERO;
        for (trade_id, qty, price, commission, asset, ts) in fills {
            let (Ok(q), Ok(p)) = (convert::qty(qty), convert::price(price)) else {
                tracing::warn!(trade_id, "Binance fill outside the fixed-point range");
                continue;
            };
            found += qty;
            let fee = Self::fee(info, commission, &asset, price);
            events.push(VenueEventKind::Fill {
                exec_id: execution_key(&state.symbol, trade_id),
                qty: q,
                price: p,
                fee,
                cum_fee: None,
                ts,
            });
        }
        if found < state.executed_qty.unwrap_or_default() {
            // The final status must wait for the fills, or the order would end short.
            return events;
        }
        match state.status.as_str() {
            "CANCELED" | "PENDING_CANCEL" => events.push(VenueEventKind::Cancelled),
            "EXPIRED" | "EXPIRED_IN_MATCH" => events.push(VenueEventKind::Expired),
            "REJECTED" => events.push(VenueEventKind::Rejected { reason: "rejected by Binance".into() }),
            _ => {}
        }
        events
    }

    /// Finds out what became of an order whose submission had no clear answer, as Binance
    /// advises for 5xx: by query. Found: reconciled. Missing once the last attempt's
    /// `recvWindow` has passed (Binance then no longer forwards it): sent again under the same
    /// client order id. Gives up after [`UNKNOWN_ATTEMPTS`], leaving it to reconciliation.
    async fn resolve_unknown(self, order: VenueOrder, mut wait: Option<Duration>, mut sent: Instant) {
        let settle = self.settings.recv_window + Duration::from_millis(500);
        for attempt in 1..=UNKNOWN_ATTEMPTS {
            let pause = wait.take().unwrap_or_else(|| unknown_backoff(attempt)).min(MAX_RETRY_AFTER);
            tokio::time::sleep(pause).await;
            match self.lookup(order.order_id, &order.symbol).await {
                Lookup::Found(state) => return self.reconcile_state(&order, Booked::NOTHING, state).await,
                Lookup::Missing if sent.elapsed() < settle => wait = Some(settle - sent.elapsed()),
                Lookup::Missing => {
                    let info = self.symbol_info(&order.symbol).await;
                    sent = Instant::now();
                    match self.send_order(&order, info.as_ref()).await {
                        Submitted::Known(kinds) => return self.emit_all(order.order_id, kinds, false).await,
                        Submitted::Unknown { wait: next, why } => {
                            tracing::warn!(order_id = order.order_id, attempt, %why, "resending to Binance gave no clear answer");
                            wait = next;
                        }
                    }
                }
                Lookup::Unanswered { wait: next } => wait = next,
            }
        }
        tracing::error!(
            order_id = order.order_id,
            "the order's fate at Binance is still unknown; it stays pending_new until the next reconciliation"
        );
    }

    /// `GET /api/v3/order` by `origClientOrderId`.
    async fn lookup(&self, order_id: i64, symbol: &str) -> Lookup {
        let params = [("symbol", symbol.to_owned()), ("origClientOrderId", client_order_id(order_id))];
        let response = match self.signed(reqwest::Method::GET, "/api/v3/order", &params).await {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!(order_id, error = %e, "order query at Binance failed");
                return Lookup::Unanswered { wait: None };
            }
        };
        if response.status().is_success() {
            return match response.json::<BinanceOrder>().await {
                Ok(state) => Lookup::Found(state),
                Err(e) => {
                    tracing::warn!(order_id, error = %e, "unreadable Binance order");
                    Lookup::Unanswered { wait: None }
                }
            };
        }
        let (status, wait) = (response.status(), retry_after(response.headers()));
        let error = response.json::<BinanceError>().await.unwrap_or_default();
        if error.code == Some(-2013) {
            return Lookup::Missing;
        }
        tracing::warn!(order_id, status = status.as_u16(), code = ?error.code, "order query at Binance refused");
        Lookup::Unanswered { wait }
    }

    /// Brings an open order (of which `filled` is booked) in line with Binance. An order
    /// Binance does not have is resolved like an unknown submission (it may still be on its way).
    pub async fn reconcile(&self, order: VenueOrder, booked: Booked) {
        match self.lookup(order.order_id, &order.symbol).await {
            Lookup::Missing => {
                tokio::spawn(self.clone().resolve_unknown(order, None, Instant::now()));
            }
            Lookup::Found(state) => self.reconcile_state(&order, booked, state).await,
            Lookup::Unanswered { .. } => {}
        }
    }

    async fn reconcile_state(&self, order: &VenueOrder, booked: Booked, state: BinanceOrder) {
        let filled = booked.filled;
        let info = self.symbol_info(&order.symbol).await;
        let trades = if state.executed_qty.unwrap_or_default() > filled.dec() {
            match self.trades(&state).await {
                Some(trades) => Some(trades),
                None => {
                    // Without the fills the final status must wait, or the order would end short.
                    tracing::warn!(
                        order_id = order.order_id,
                        "Binance's trades of the order could not be read; the next reconciliation retries"
                    );
                    if state.status != "PENDING_NEW" && !booked.acknowledged {
                        self.emit_reconciled(order.order_id, VenueEventKind::Accepted).await;
                    }
                    return;
                }
            }
        } else {
            Some(Vec::new())
        };
        let events = self.report(&state, trades.as_deref(), info.as_ref(), booked.acknowledged);
        self.emit_all(order.order_id, events, true).await;
    }

    /// `GET /api/v3/myTrades` for the order, oldest first; `None` when Binance did not answer usably.
    async fn trades(&self, state: &BinanceOrder) -> Option<Vec<Trade>> {
        let params = [("symbol", state.symbol.clone()), ("orderId", state.order_id.to_string())];
        let response = self.signed(reqwest::Method::GET, "/api/v3/myTrades", &params).await.ok()?;
        if !response.status().is_success() {
            tracing::warn!(status = response.status().as_u16(), "Binance refused the myTrades request");
            return None;
        }
        response.json().await.ok()
    }

    /// Reads the account's free balances (`GET /api/v3/account`, `omitZeroBalances`); a failed
    /// read keeps the last ones.
    pub async fn refresh_buying_power(&self) {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Account {
            #[serde(default = "yes")]
            can_trade: bool,
            balances: Vec<AssetBalance>,
        }
        #[derive(Deserialize)]
        struct AssetBalance {
            asset: String,
            free: Decimal,
        }
        fn yes() -> bool {
            true
        }
        let as_of = chrono::Utc::now();
        let params = [("omitZeroBalances", "true".to_owned())];
        let account = match self.signed(reqwest::Method::GET, "/api/v3/account", &params).await {
            Ok(response) if response.status().is_success() => response.json::<Account>().await.ok(),
            Ok(response) => {
                tracing::warn!(status = response.status().as_u16(), "Binance refused the account request");
                None
            }
            Err(_) => None,
        };
        let Some(account) = account else { return };
        let free = account.balances.into_iter().map(|b| (b.asset, b.free)).collect();
        if let Ok(mut balances) = self.balances.lock() {
            *balances = Some(Balances { as_of, free, can_trade: account.can_trade });
        }
    }

    /// `outboundAccountPosition`: the free balances of the assets that changed, as of `E`.
    fn apply_balances(&self, event: &serde_json::Value) {
        let as_of =
            event["E"].as_i64().and_then(chrono::DateTime::from_timestamp_millis).unwrap_or_else(chrono::Utc::now);
        let Ok(mut balances) = self.balances.lock() else { return };
        let Some(current) = balances.as_mut() else { return };
        for asset in event["B"].as_array().into_iter().flatten() {
            let (Some(name), Some(free)) = (asset["a"].as_str(), asset["f"].as_str().and_then(|f| f.parse().ok()))
            else {
                continue;
            };
            current.free.insert(name.to_owned(), free);
        }
        current.as_of = current.as_of.max(as_of);
    }

    /// What a buy of `symbol` can spend: the free balance of its quote asset (from the
    /// symbol's exchange information, or else the longest asset the symbol ends with), 0 while
    /// Binance does not let the account trade. A spot sale spends the base asset, which Binance
    /// checks; the engine checks only buys.
    pub fn buying_power(&self, symbol: &str) -> Option<super::BuyingPower> {
        let balances = self.balances.lock().ok()?.clone()?;
        let cached = self.symbols.lock().ok()?.get(symbol).map(|(_, info)| info.quote_asset.clone());
        let quote = cached.or_else(|| {
            balances
                .free
                .keys()
                .filter(|a| symbol.len() > a.len() && symbol.ends_with(a.as_str()))
                .max_by_key(|a| a.len())
                .cloned()
        })?;
        let free =
            if balances.can_trade { balances.free.get(&quote).copied().unwrap_or_default() } else { Decimal::ZERO };
        Some(super::BuyingPower { amount: convert::money(free).ok()?, as_of: balances.as_of })
    }

    /// Binance Spot has no amend in place that keeps an order's client id and state in one
    /// step the engine can follow, so an amend is refused: the order works on unchanged.
    pub async fn refuse_replace(&self, order_id: i64) {
        let reason = "Binance Spot orders are not amended; cancel the order and place a new one".to_owned();
        self.emit(order_id, VenueEventKind::ReplaceRejected { reason }).await;
    }

    /// `DELETE /api/v3/order` by `origClientOrderId`; the stream confirms. `-2011 Unknown order
    /// sent.` is a cancel rejection when Binance has the order (it is no longer open), and a
    /// cancel when it never got it.
    pub async fn cancel(&self, order_id: i64, symbol: &str) {
        let params = [("symbol", symbol.to_owned()), ("origClientOrderId", client_order_id(order_id))];
        let response = match self.signed(reqwest::Method::DELETE, "/api/v3/order", &params).await {
            Ok(response) => response,
            Err(e) => return tracing::warn!(order_id, error = %e, "cancel request to Binance failed"),
        };
        if response.status().is_success() {
            return;
        }
        let status = response.status();
        let error = response.json::<BinanceError>().await.unwrap_or_default();
        if error.code != Some(-2011) {
            return tracing::warn!(order_id, status = status.as_u16(), code = ?error.code, msg = ?error.msg, "Binance refused the cancel");
        }
        match self.lookup(order_id, symbol).await {
            Lookup::Missing => self.emit(order_id, VenueEventKind::Cancelled).await,
            _ => self.emit(order_id, VenueEventKind::CancelRejected).await,
        }
    }

    async fn run_stream(self, stop: CancellationToken) {
        let mut attempt: u32 = 0;
        loop {
            let mut listened = false;
            match self.stream_once(&stop, &mut listened).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, attempt, "Binance user data stream failed; reconnecting"),
            }
            attempt = if listened { 1 } else { attempt + 1 };
            let delay = Duration::from_millis(250u64.saturating_mul(1 << attempt.min(5)).min(10_000));
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn stream_once(&self, stop: &CancellationToken, listened: &mut bool) -> anyhow::Result<()> {
        let (mut socket, _) = tokio::select! {
            () = stop.cancelled() => return Ok(()),
            c = tokio_tungstenite::connect_async(self.settings.ws_api_url.as_str()) => c?,
        };
        let keys = self.keys();
        let timestamp = chrono::Utc::now().timestamp_millis();
        let signature = sign(&keys.secret_key, &format!("apiKey={}&timestamp={timestamp}", keys.api_key));
        let subscribe = json!({
            "id": "halyard-user-data",
            "method": "userDataStream.subscribe.signature",
            "params": {"apiKey": keys.api_key, "timestamp": timestamp, "signature": signature},
        });
        *self.listen_asked_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(chrono::Utc::now());
        socket.send(Message::Text(subscribe.to_string().into())).await?;
        loop {
            let message = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                m = socket.next() => m,
            };
            let text = match message {
                Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
                Some(Ok(Message::Close(_))) | None => anyhow::bail!("stream closed"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
            };
            let parsed: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    tracing::debug!(error = %e, "unreadable Binance stream message");
                    continue;
                }
            };
            if parsed["id"] == "halyard-user-data" {
                if parsed["status"] != 200 {
                    let _ = self.credentials.refresh().await;
                    anyhow::bail!("Binance refused the user data stream subscription: {}", parsed["error"]);
                }
                tracing::info!(subscription = %parsed["result"]["subscriptionId"], "subscribed to the Binance user data stream");
                *listened = true;
                self.connected.notify_one();
                continue;
            }
            let event = &parsed["event"];
            match event["e"].as_str() {
                Some("executionReport") => match serde_json::from_value::<ExecutionReport>(event.clone()) {
                    Ok(report) => self.apply(report).await,
                    Err(e) => tracing::warn!(error = %e, "unreadable executionReport"),
                },
                Some("eventStreamTerminated") => anyhow::bail!("Binance terminated the user data stream"),
                Some("serverShutdown") => anyhow::bail!("Binance is shutting this server down"),
                Some("outboundAccountPosition") => self.apply_balances(event),
                // Balances come whole with outboundAccountPosition; the engine books from executions.
                Some("balanceUpdate" | "listStatus" | "externalLockUpdate") => {}
                other => tracing::debug!(event = ?other, "Binance stream message needs no booking"),
            }
        }
    }

    async fn apply(&self, report: ExecutionReport) {
        let own = match report.original_client_order_id.as_deref() {
            Some(original) if !original.is_empty() => original,
            _ => report.client_order_id.as_str(),
        };
        let Some(order_id) = order_id_of(own) else {
            if report.execution_type == "TRADE" {
                let what = format!(
                    "binance executed an order Halyard did not place: {} {} {} at {} (client order id {})",
                    report.side,
                    report.last_qty.normalize(),
                    report.symbol,
                    report.last_price.normalize(),
                    report.client_order_id
                );
                tracing::error!(%what, "foreign execution at Binance");
                self.foreign.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(what);
            }
            return;
        };
        let kind = match report.execution_type.as_str() {
            "NEW" => VenueEventKind::Accepted,
            "TRADE" => {
                let (Ok(qty), Ok(price)) = (convert::qty(report.last_qty), convert::price(report.last_price)) else {
                    return tracing::warn!(order_id, "fill outside the fixed-point range");
                };
                let info = self.symbol_info(&report.symbol).await;
                let fee = Self::fee(
                    info.as_ref(),
                    report.commission.unwrap_or_default(),
                    report.commission_asset.as_deref().unwrap_or_default(),
                    report.last_price,
                );
                VenueEventKind::Fill {
                    exec_id: execution_key(&report.symbol, report.trade_id),
                    qty,
                    price,
                    fee,
                    cum_fee: None,
                    ts: timestamp_of(report.transaction_time),
                }
            }
            "CANCELED" => VenueEventKind::Cancelled,
            "EXPIRED" => VenueEventKind::Expired,
            "REJECTED" => VenueEventKind::Rejected {
                reason: format!("rejected by Binance: {}", report.reject_reason.as_deref().unwrap_or("NONE")),
            },
            other => {
                // TRADE_PREVENTION (an expiry follows), REPLACED and AMENDMENT (the engine does
                // not amend at Binance): nothing to book.
                return tracing::debug!(order_id, execution_type = other, "executionReport needs no booking");
            }
        };
        self.emit(order_id, kind).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_binances_documented_examples() {
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        assert_eq!(
            sign(secret, "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
        assert_eq!(
            sign(secret, "apiKey=vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT"),
            "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24"
        );
    }

    #[test]
    fn query_values_are_percent_encoded_as_binance_signs_them() {
        assert_eq!(encode("１２３"), "%EF%BC%91%EF%BC%92%EF%BC%93");
        assert_eq!(encode("hly-42.5_~"), "hly-42.5_~");
    }
}
