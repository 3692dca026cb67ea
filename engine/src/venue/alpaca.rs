//! Alpaca's trading API: orders over REST (`POST /v2/orders`, `DELETE /v2/orders/{id}`) and
//! their lifecycle over the `trade_updates` WebSocket stream. Paper or live is only a matter of
//! the base URLs (`ALPACA_BASE_URL`, `ALPACA_STREAM_URL`); keys come from configuration.
//!
//! The engine's order id travels as Alpaca's `client_order_id` (`hly-<order_id>`), so every
//! stream event maps back to its order without a lookup table, also after a restart.
//!
//! Mapping: REST 200 → `Accepted`; REST 4xx → `Rejected` with Alpaca's message (a 422 saying
//! the client order id is taken means the order reached Alpaca before: `Accepted`);
//! stream `new` → `Accepted`, `fill`/`partial_fill` → `Fill` (qty, price),
//! `canceled` → `Cancelled`, `expired` → `Expired`, `rejected` → `Rejected`. Events the order's
//! state already reflects are refused by the state machine and change nothing.
//!
//! An execution is booked under the key `<Alpaca order id>:<cumulative filled qty after it>`
//! ([`execution_key`]), whether it arrives on the stream (the update's `order.filled_qty`) or
//! from reconciliation (the account activity's `cum_qty`): the cumulative quantity names one
//! execution of one order, so a duplicated update, one that arrives after reconciliation
//! booked its execution, and executions arriving out of order are each booked exactly once.
//! Reconciliation (at start-up, after every stream reconnect, on a schedule) asks for the
//! order by client order id and books the executions it lacks from
//! `GET /v2/account/activities/FILL`, one fill per execution at its own price and time.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use domain::{Money, OrderType, Side, Timestamp, Trail};
use futures_util::{SinkExt, StreamExt};
use platform::{
    aws::Redacted,
    secrets::{LiveSecret, SecretSetting},
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::{
    retry_after, unknown_backoff, Booked, VenueEvent, VenueEventKind, VenueOrder, MAX_RETRY_AFTER, UNKNOWN_ATTEMPTS,
};
use crate::convert::{self, ToDecimal};

/// Alpaca connection settings.
#[derive(Clone)]
pub struct AlpacaSettings {
    /// REST base URL, e.g. `https://paper-api.alpaca.markets`.
    pub base_url: String,
    /// Stream URL, e.g. `wss://paper-api.alpaca.markets/stream`.
    pub stream_url: String,
    /// The keys: a JSON object `{"key_id": "...", "secret_key": "..."}`, given directly or as
    /// a Secrets Manager secret id (see [`credentials_value`]).
    pub credentials: SecretSetting,
}

/// The credentials setting for keys given directly.
pub fn credentials_value(key_id: &str, secret_key: &str) -> SecretSetting {
    SecretSetting::Value(Redacted::new(json!({"key_id": key_id, "secret_key": secret_key}).to_string()))
}

/// Alpaca's API keys, as stored in the credentials secret.
#[derive(Deserialize, Default)]
struct Keys {
    key_id: String,
    secret_key: String,
}

impl std::fmt::Debug for AlpacaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlpacaSettings")
            .field("base_url", &self.base_url)
            .field("stream_url", &self.stream_url)
            .finish_non_exhaustive()
    }
}

/// Handle to the Alpaca venue.
#[derive(Clone)]
pub struct AlpacaVenue {
    http: reqwest::Client,
    settings: Arc<AlpacaSettings>,
    credentials: LiveSecret,
    events: mpsc::Sender<VenueEvent>,
    /// Notified each time the stream is listening again (see [`super::Venue::stream_reconnected`]).
    connected: Arc<tokio::sync::Notify>,
    /// When the stream last asked to listen: orders changed after it have their events on it.
    listen_asked_at: Arc<std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>>,
    /// Executions of orders the engine did not place (see [`super::Venue::take_foreign_executions`]).
    foreign: Arc<std::sync::Mutex<Vec<String>>>,
    /// The account's buying power as last read (see [`super::Venue::buying_power`]).
    buying_power: Arc<std::sync::Mutex<Option<super::BuyingPower>>>,
}

/// The key a fill is booked under: Alpaca's order id and the order's cumulative filled quantity
/// after the execution (normalised, so `"2"` and `"2.000"` are one key).
pub fn execution_key(alpaca_order_id: &str, cum_qty: Decimal) -> String {
    format!("{alpaca_order_id}:{}", cum_qty.normalize())
}

/// Alpaca's order `commission` as the order's running fee total (`None` when absent or out of range).
fn commission(value: Option<Decimal>) -> Option<Money> {
    value.and_then(|c| convert::money(c).ok())
}

/// The client order id sent to Alpaca for an engine order.
pub fn client_order_id(order_id: i64) -> String {
    format!("hly-{order_id}")
}

fn order_id_of(client_order_id: &str) -> Option<i64> {
    client_order_id.strip_prefix("hly-")?.parse().ok()
}

#[derive(Debug, Deserialize)]
struct AlpacaOrder {
    id: String,
    client_order_id: String,
    #[serde(default)]
    symbol: Option<String>,
    /// Cumulative filled quantity (in a trade update: after that update's execution).
    #[serde(default)]
    filled_qty: Option<Decimal>,
    /// Average fill price (in a trade update: after it).
    #[serde(default)]
    filled_avg_price: Option<Decimal>,
    /// Status after the update.
    #[serde(default)]
    status: Option<String>,
    /// The order's commission so far (present in stream and Broker samples, not in the OAS).
    #[serde(default)]
    commission: Option<Decimal>,
}

#[derive(Debug, Deserialize)]
struct AlpacaOrderState {
    id: String,
    status: String,
    filled_qty: Option<Decimal>,
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    commission: Option<Decimal>,
}

/// One execution in `GET /v2/account/activities/FILL` (Alpaca's `TradingActivities`).
#[derive(Debug, Deserialize)]
struct FillActivity {
    /// `<time>::<uuid>`, also the page token of the next page.
    id: String,
    order_id: String,
    qty: Decimal,
    price: Decimal,
    cum_qty: Decimal,
    transaction_time: DateTime<Utc>,
    /// `fill`, `trade_bust` or `trade_correct` (absent in older answers: a fill).
    #[serde(default)]
    execution_type: Option<String>,
    #[serde(default)]
    order_status: Option<String>,
}

/// Alpaca order statuses in which the order still works.
const WORKING_STATUSES: [&str; 8] = [
    "new",
    "accepted",
    "pending_new",
    "partially_filled",
    "pending_cancel",
    "pending_replace",
    "accepted_for_bidding",
    "held",
];

fn is_working(status: Option<&str>) -> bool {
    status.is_some_and(|s| WORKING_STATUSES.contains(&s))
}

/// Activities per page (Alpaca's maximum is 100).
const ACTIVITY_PAGE: usize = 100;
/// Pages read per reconciliation of one order before leaving the rest to the next one.
const ACTIVITY_PAGES: usize = 20;

/// What a submission told the engine.
enum Submitted {
    /// Alpaca's answer settles it.
    Known(VenueEventKind),
    /// The order may or may not be at Alpaca; ask again after `wait` (Alpaca's `Retry-After`).
    Unknown { wait: Option<Duration>, why: String },
}

/// What a lookup by client order id found.
enum Lookup {
    /// Alpaca has the order.
    Found(AlpacaOrderState),
    /// Alpaca has no order with that client order id.
    Missing,
    /// No usable answer (rate limit, 5xx, transport error).
    Unanswered { wait: Option<Duration> },
}

#[derive(Debug, Deserialize)]
struct AlpacaError {
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StreamMessage {
    stream: String,
    #[serde(default)]
    data: Value,
}

#[derive(Debug, Deserialize)]
struct TradeUpdate {
    event: String,
    execution_id: Option<String>,
    order: AlpacaOrder,
    price: Option<Decimal>,
    qty: Option<Decimal>,
    timestamp: Option<DateTime<Utc>>,
}

/// A `trade_bust` (the execution of `qty` at `price` is broken) or `trade_correct` (an
/// execution is now `qty` at `price`) as an event, with the order's totals after it, which
/// name the booked execution meant and make a replay harmless.
fn restatement(update: &TradeUpdate) -> Result<VenueEventKind, &'static str> {
    let (Some(qty), Some(price)) = (update.qty, update.price) else {
        return Err("without qty or price");
    };
    let order_filled = update.order.filled_qty.ok_or("without the order's filled_qty")?;
    let (Ok(qty), Ok(price), Ok(order_filled)) = (convert::qty(qty), convert::price(price), convert::qty(order_filled))
    else {
        return Err("outside the fixed-point range");
    };
    if update.event == "trade_bust" {
        let working = is_working(update.order.status.as_deref());
        return Ok(VenueEventKind::Bust { qty, price, order_filled, working });
    }
    let average = update.order.filled_avg_price.ok_or("without the order's filled_avg_price")?;
    let order_avg_price = convert::price(average).map_err(|_| "outside the fixed-point range")?;
    Ok(VenueEventKind::Correct { qty, price, order_filled, order_avg_price })
}

impl AlpacaVenue {
    /// Starts the trade-updates stream (reconnecting until `stop`) and returns the handle.
    pub fn start(
        settings: AlpacaSettings,
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
            foreign: Arc::default(),
            buying_power: Arc::default(),
        };
        let task = tokio::spawn(venue.clone().run_stream(stop));
        (venue, task)
    }

    /// Notified each time the trade-updates stream is listening (again).
    /// When the stream last asked Alpaca to listen (see [`super::Venue::stream_reconnected`]).
    pub fn listen_asked_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        *self.listen_asked_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn stream_connected(&self) -> Arc<tokio::sync::Notify> {
        self.connected.clone()
    }

    /// Executions at Alpaca of orders the engine did not place, seen since the last call.
    pub fn take_foreign_executions(&self) -> Vec<String> {
        std::mem::take(&mut *self.foreign.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn keys(&self) -> Keys {
        serde_json::from_str(self.credentials.current().expose()).unwrap_or_else(|_| {
            tracing::error!(secret_id = ?self.credentials.secret_id(), "the Alpaca credentials are not {{\"key_id\", \"secret_key\"}} JSON");
            Keys::default()
        })
    }

    /// Sends a request with the current keys. When Alpaca answers 401 (keys refused, most
    /// likely rotated), the keys are re-read and, if they changed, the request is sent once more.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        customize: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> reqwest::Result<reqwest::Response> {
        let send = || {
            let keys = self.keys();
            let request = self
                .http
                .request(method.clone(), format!("{}{path}", self.settings.base_url))
                .header("APCA-API-KEY-ID", keys.key_id)
                .header("APCA-API-SECRET-KEY", keys.secret_key);
            customize(request).send()
        };
        let first = send().await?;
        if first.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        match self.credentials.refresh().await {
            Ok(true) => {
                tracing::info!("Alpaca refused the keys; retrying with the rotated ones");
                send().await
            }
            Ok(false) => Ok(first),
            Err(error) => {
                tracing::warn!(%error, "Alpaca refused the keys and they could not be re-read");
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

    /// `POST /v2/orders`. Alpaca's answer decides: 2xx is an acknowledgement, a 4xx other than
    /// 429 a rejection (a duplicate client order id means it is there already). Anything else
    /// (429, 5xx, a timeout or a broken connection) leaves the outcome unknown: the order may
    /// have reached Alpaca. It then stays `pending_new` while a background task finds out
    /// ([`Self::resolve_unknown`]); it is never rejected locally on a guess.
    pub async fn submit(&self, order: VenueOrder) {
        match self.send_order(&order).await {
            Submitted::Known(kind) => self.emit(order.order_id, kind).await,
            Submitted::Unknown { wait, why } => {
                tracing::warn!(order_id = order.order_id, %why, "Alpaca's answer leaves the order's fate unknown; resolving");
                tokio::spawn(self.clone().resolve_unknown(order, wait));
            }
        }
    }

    async fn send_order(&self, order: &VenueOrder) -> Submitted {
        let intent = order.intent;
        let mut body = json!({
            "symbol": &*order.symbol,
            "qty": intent.qty.dec().to_string(),
            "side": match intent.side { Side::Buy => "buy", Side::Sell => "sell" },
            // Alpaca's order types have the domain's names.
            "type": intent.order_type.code(),
            "time_in_force": crate::oms::tif_code(intent.time_in_force),
            "client_order_id": client_order_id(order.order_id),
        });
        if let Some(price) = intent.order_type.limit_price() {
            body["limit_price"] = json!(price.dec().to_string());
        }
        if let Some(price) = intent.order_type.stop_price() {
            body["stop_price"] = json!(price.dec().to_string());
        }
        match intent.order_type {
            OrderType::TrailingStop(Trail::Amount(amount)) => body["trail_price"] = json!(amount.dec().to_string()),
            OrderType::TrailingStop(Trail::Percent(rate)) => {
                body["trail_percent"] = json!(crate::convert::bps_to_percent(rate).to_string());
            }
            _ => {}
        }
        match self.call(reqwest::Method::POST, "/v2/orders", |r| r.json(&body)).await {
            Ok(res) if res.status().is_success() => match res.json::<AlpacaOrder>().await {
                Ok(placed) => {
                    tracing::info!(order_id = order.order_id, alpaca_id = %placed.id, "order accepted by Alpaca");
                    Submitted::Known(VenueEventKind::Accepted)
                }
                Err(e) => Submitted::Unknown { wait: None, why: format!("unreadable acknowledgement: {e}") },
            },
            Ok(res) if res.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                let wait = retry_after(res.headers());
                Submitted::Unknown { wait, why: "429 Too Many Requests".into() }
            }
            Ok(res) if res.status().is_server_error() => {
                Submitted::Unknown { wait: retry_after(res.headers()), why: format!("{}", res.status()) }
            }
            Ok(res) => {
                let status = res.status().as_u16();
                let message = res.json::<AlpacaError>().await.ok().and_then(|e| e.message).unwrap_or_default();
                if status == 422 && message.contains("client_order_id") {
                    Submitted::Known(VenueEventKind::Accepted)
                } else {
                    Submitted::Known(VenueEventKind::Rejected { reason: format!("alpaca {status}: {message}") })
                }
            }
            Err(e) => Submitted::Unknown { wait: None, why: e.to_string() },
        }
    }

    /// Finds out what became of an order whose submission had no clear answer: asks Alpaca by
    /// client order id (after `wait`, Alpaca's `Retry-After`, or a backoff) and reconciles what
    /// it holds; if Alpaca never got it, sends it again under the same client order id (Alpaca
    /// refuses a duplicate, so it can never be placed twice). Gives up after
    /// [`UNKNOWN_ATTEMPTS`], leaving the order open for the start-up and adoption reconciliation.
    async fn resolve_unknown(self, order: VenueOrder, mut wait: Option<Duration>) {
        for attempt in 1..=UNKNOWN_ATTEMPTS {
            let pause = wait.take().unwrap_or_else(|| unknown_backoff(attempt)).min(MAX_RETRY_AFTER);
            tokio::time::sleep(pause).await;
            match self.lookup(order.order_id).await {
                Lookup::Found(state) => return self.reconcile_state(&order, Booked::NOTHING, state).await,
                Lookup::Missing => match self.send_order(&order).await {
                    Submitted::Known(kind) => return self.emit(order.order_id, kind).await,
                    Submitted::Unknown { wait: next, why } => {
                        tracing::warn!(order_id = order.order_id, attempt, %why, "resending to Alpaca gave no clear answer");
                        wait = next;
                    }
                },
                Lookup::Unanswered { wait: next } => wait = next,
            }
        }
        tracing::error!(
            order_id = order.order_id,
            "the order's fate at Alpaca is still unknown; it stays pending_new until the next reconciliation"
        );
    }

    /// `GET /v2/orders:by_client_order_id`.
    async fn lookup(&self, order_id: i64) -> Lookup {
        let answer = self
            .call(reqwest::Method::GET, "/v2/orders:by_client_order_id", |r| {
                r.query(&[("client_order_id", client_order_id(order_id))])
            })
            .await;
        match answer {
            Ok(res) if res.status() == reqwest::StatusCode::NOT_FOUND => Lookup::Missing,
            Ok(res) if res.status().is_success() => match res.json::<AlpacaOrderState>().await {
                Ok(state) => Lookup::Found(state),
                Err(e) => {
                    tracing::warn!(order_id, error = %e, "unreadable Alpaca order");
                    Lookup::Unanswered { wait: None }
                }
            },
            Ok(res) => {
                tracing::warn!(order_id, status = res.status().as_u16(), "order lookup at Alpaca refused");
                Lookup::Unanswered { wait: retry_after(res.headers()) }
            }
            Err(e) => {
                tracing::warn!(order_id, error = %e, "order lookup at Alpaca failed");
                Lookup::Unanswered { wait: None }
            }
        }
    }

    /// Brings an open order in line with Alpaca (`GET /v2/orders:by_client_order_id`): sends it
    /// if Alpaca never got it; otherwise reports its acknowledgement, the executions beyond
    /// `filled` (from the account activities, each under its [`execution_key`], so several
    /// instances and the stream book each once) and a final status.
    pub async fn reconcile(&self, order: VenueOrder, booked: Booked) {
        match self.lookup(order.order_id).await {
            Lookup::Missing => self.submit(order).await,
            Lookup::Found(state) => self.reconcile_state(&order, booked, state).await,
            Lookup::Unanswered { .. } => {}
        }
    }

    /// Reports what Alpaca holds of `order` beyond what the engine booked (`filled`).
    async fn reconcile_state(&self, order: &VenueOrder, booked: Booked, state: AlpacaOrderState) {
        let filled = booked.filled;
        if state.status != "pending_new" && !booked.acknowledged {
            self.emit_reconciled(order.order_id, VenueEventKind::Accepted).await;
        }
        let at_alpaca = state.filled_qty.unwrap_or_default();
        if at_alpaca < filled.dec() {
            // Less filled at Alpaca than booked: an execution was busted while no stream listened.
            if let Some(executions) = self.executions(&state).await {
                for bust in executions.iter().filter(|e| e.execution_type.as_deref() == Some("trade_bust")) {
                    let (Ok(qty), Ok(price), Ok(order_filled)) =
                        (convert::qty(bust.qty), convert::price(bust.price), convert::qty(bust.cum_qty))
                    else {
                        continue;
                    };
                    let working = is_working(bust.order_status.as_deref());
                    self.emit_reconciled(order.order_id, VenueEventKind::Bust { qty, price, order_filled, working })
                        .await;
                }
            }
        }
        if at_alpaca > filled.dec() {
            let Some(executions) = self.executions(&state).await else {
                // The final status must wait for the fills, or the order would end short.
                return tracing::warn!(
                    order_id = order.order_id,
                    "Alpaca's fills of the order could not be read; the next reconciliation retries"
                );
            };
            let mut found = Decimal::ZERO;
            for e in executions.into_iter().filter(|e| e.execution_type.as_deref().is_none_or(|t| t == "fill")) {
                let (Ok(qty), Ok(price)) = (convert::qty(e.qty), convert::price(e.price)) else {
                    tracing::warn!(order_id = order.order_id, activity = %e.id, "fill outside the fixed-point range");
                    continue;
                };
                found = found.max(e.cum_qty);
                let ts = Timestamp::from_nanos(e.transaction_time.timestamp_nanos_opt().unwrap_or_default());
                let exec_id = execution_key(&state.id, e.cum_qty);
                let cum_fee = commission(state.commission);
                self.emit_reconciled(
                    order.order_id,
                    VenueEventKind::Fill { exec_id, qty, price, fee: Money::ZERO, cum_fee, ts },
                )
                .await;
            }
            if found < at_alpaca {
                // Activities can trail the order's own state by moments.
                return tracing::info!(order_id = order.order_id, %found, %at_alpaca, "not every fill is in Alpaca's activities yet; the next reconciliation books the rest");
            }
        }
        let last = match state.status.as_str() {
            "canceled" => VenueEventKind::Cancelled,
            "expired" => VenueEventKind::Expired,
            "rejected" => VenueEventKind::Rejected { reason: "rejected by Alpaca".into() },
            "replaced" => VenueEventKind::Replaced,
            _ => return,
        };
        self.emit_reconciled(order.order_id, last).await;
    }

    /// The executions of Alpaca order `state` from `GET /v2/account/activities/FILL`, oldest
    /// first, paged from the order's creation; `None` when Alpaca did not answer usably.
    async fn executions(&self, state: &AlpacaOrderState) -> Option<Vec<FillActivity>> {
        let after = state.created_at.map(|t| (t - chrono::Duration::seconds(1)).to_rfc3339());
        let mut found = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..ACTIVITY_PAGES {
            let response = self
                .call(reqwest::Method::GET, "/v2/account/activities/FILL", |r| {
                    let mut query = vec![("direction", "asc".to_owned()), ("page_size", ACTIVITY_PAGE.to_string())];
                    if let Some(after) = &after {
                        query.push(("after", after.clone()));
                    }
                    if let Some(token) = &page_token {
                        query.push(("page_token", token.clone()));
                    }
                    r.query(&query)
                })
                .await
                .ok()?;
            if !response.status().is_success() {
                tracing::warn!(status = response.status().as_u16(), "Alpaca refused the account activities request");
                return None;
            }
            let page: Vec<FillActivity> = match response.json().await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "unreadable Alpaca account activities");
                    return None;
                }
            };
            let full = page.len() == ACTIVITY_PAGE;
            page_token = page.last().map(|a| a.id.clone());
            found.extend(page.into_iter().filter(|a| a.order_id == state.id));
            // Oldest first: once the order's executions reach its filled quantity, later
            // pages hold other orders' only.
            let complete = found.iter().any(|a| Some(a.cum_qty) >= state.filled_qty);
            if !full || complete {
                return Some(found);
            }
        }
        Some(found)
    }

    /// The account's positions (`GET /v2/positions`) as signed quantities by symbol (`side`
    /// `short` is negative); `None` when Alpaca did not answer usably.
    pub async fn positions(&self) -> Option<Vec<(String, Decimal)>> {
        #[derive(Deserialize)]
        struct Position {
            symbol: String,
            qty: Decimal,
            side: String,
        }
        let response = self.call(reqwest::Method::GET, "/v2/positions", |r| r).await.ok()?;
        if !response.status().is_success() {
            tracing::warn!(status = response.status().as_u16(), "Alpaca refused the positions request");
            return None;
        }
        let positions: Vec<Position> = response.json().await.ok()?;
        Some(
            positions
                .into_iter()
                .map(|p| {
                    let qty = if p.side == "short" { -p.qty.abs() } else { p.qty.abs() };
                    (p.symbol, qty)
                })
                .collect(),
        )
    }

    /// Reads `GET /v2/account` and keeps its `buying_power` (0 while `trading_blocked`,
    /// `account_blocked` or a status other than `ACTIVE` says the account cannot trade). The
    /// figure is taken as read: Alpaca has already reduced it by the account's open orders.
    pub async fn refresh_buying_power(&self) {
        #[derive(Deserialize)]
        struct Account {
            status: String,
            buying_power: Option<Decimal>,
            #[serde(default)]
            trading_blocked: bool,
            #[serde(default)]
            account_blocked: bool,
        }
        let as_of = Utc::now();
        let account = match self.call(reqwest::Method::GET, "/v2/account", |r| r).await {
            Ok(response) if response.status().is_success() => response.json::<Account>().await.ok(),
            Ok(response) => {
                tracing::warn!(status = response.status().as_u16(), "Alpaca refused the account request");
                None
            }
            Err(_) => None,
        };
        let Some(account) = account else { return };
        let blocked = account.trading_blocked || account.account_blocked || account.status != "ACTIVE";
        let amount =
            if blocked { Some(Money::ZERO) } else { account.buying_power.and_then(|b| convert::money(b).ok()) };
        let Some(amount) = amount else {
            return tracing::warn!("Alpaca's account has no readable buying_power; the last figure stands");
        };
        if blocked {
            tracing::warn!(status = %account.status, "Alpaca says the account cannot trade; its buying power counts as 0");
        }
        *self.buying_power.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(super::BuyingPower { amount, as_of });
    }

    /// The buying power as last read.
    pub fn buying_power(&self) -> Option<super::BuyingPower> {
        *self.buying_power.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `DELETE /v2/orders/{id}` (looked up by client order id); the stream confirms.
    pub async fn cancel(&self, order_id: i64) {
        let lookup = self
            .call(reqwest::Method::GET, "/v2/orders:by_client_order_id", |r| {
                r.query(&[("client_order_id", client_order_id(order_id))])
            })
            .await;
        let alpaca_id = match lookup {
            Ok(res) if res.status().is_success() => res.json::<AlpacaOrder>().await.ok().map(|o| o.id),
            Ok(res) if res.status().as_u16() == 404 => {
                // Never reached Alpaca: nothing to cancel there.
                self.emit(order_id, VenueEventKind::Cancelled).await;
                return;
            }
            _ => None,
        };
        let Some(alpaca_id) = alpaca_id else {
            tracing::warn!(order_id, "could not look the order up at Alpaca to cancel it");
            return;
        };
        match self.call(reqwest::Method::DELETE, &format!("/v2/orders/{alpaca_id}"), |r| r).await {
            Ok(res) if res.status().is_success() => {}
            Ok(res) if matches!(res.status().as_u16(), 404 | 422) => {
                self.emit(order_id, VenueEventKind::CancelRejected).await
            }
            Ok(res) => tracing::warn!(order_id, status = res.status().as_u16(), "Alpaca refused the cancel"),
            Err(e) => tracing::warn!(order_id, error = %e, "cancel request to Alpaca failed"),
        }
    }

    /// `PATCH /v2/orders/{id}` with the amendment's quantity, limit price and client order id
    /// (Alpaca's replace: the answer is the new order, and the old one becomes `replaced`).
    /// Alpaca's 4xx refuses it (the order works on); an unclear answer is settled by asking for
    /// the amendment's client order id once the moment has passed.
    pub async fn replace(&self, old: i64, amendment: VenueOrder) {
        let lookup = self
            .call(reqwest::Method::GET, "/v2/orders:by_client_order_id", |r| {
                r.query(&[("client_order_id", client_order_id(old))])
            })
            .await;
        let alpaca_id = match lookup {
            Ok(res) if res.status().is_success() => res.json::<AlpacaOrder>().await.ok().map(|o| o.id),
            _ => None,
        };
        let Some(alpaca_id) = alpaca_id else {
            let reason = "the order could not be found at Alpaca to amend it".to_owned();
            return self.emit(old, VenueEventKind::ReplaceRejected { reason }).await;
        };
        let mut body = json!({"qty": amendment.intent.qty.dec().normalize().to_string(),
                              "client_order_id": client_order_id(amendment.order_id)});
        if let domain::OrderType::Limit(price) = amendment.intent.order_type {
            body["limit_price"] = json!(price.dec().normalize().to_string());
        }
        let answer = self.call(reqwest::Method::PATCH, &format!("/v2/orders/{alpaca_id}"), |r| r.json(&body)).await;
        match answer {
            Ok(res) if res.status().is_success() => {
                self.emit(old, VenueEventKind::Replaced).await;
                self.emit(amendment.order_id, VenueEventKind::Accepted).await;
            }
            Ok(res) if res.status().is_client_error() && res.status().as_u16() != 429 => {
                let status = res.status().as_u16();
                let message = res.json::<AlpacaError>().await.ok().and_then(|e| e.message).unwrap_or_default();
                let reason = format!("alpaca {status}: {message}");
                self.emit(old, VenueEventKind::ReplaceRejected { reason }).await;
            }
            unclear => {
                tracing::warn!(old, status = ?unclear.as_ref().ok().map(reqwest::Response::status), "unclear answer to an amend; asking Alpaca");
                tokio::time::sleep(Duration::from_secs(1)).await;
                match self.lookup(amendment.order_id).await {
                    Lookup::Found(_) => {
                        self.emit(old, VenueEventKind::Replaced).await;
                        self.emit(amendment.order_id, VenueEventKind::Accepted).await;
                    }
                    Lookup::Missing => {
                        let reason = "Alpaca did not take the amend".to_owned();
                        self.emit(old, VenueEventKind::ReplaceRejected { reason }).await;
                    }
                    // Left pending: reconciliation asks about the order being replaced.
                    Lookup::Unanswered { .. } => {}
                }
            }
        }
    }

    async fn run_stream(self, stop: CancellationToken) {
        let mut attempt: u32 = 0;
        loop {
            let mut listened = false;
            match self.stream_once(&stop, &mut listened).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, attempt, "Alpaca trade_updates stream failed; reconnecting"),
            }
            // A connection that worked resets the backoff: the next drop is retried quickly.
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
            c = tokio_tungstenite::connect_async(self.settings.stream_url.as_str()) => c?,
        };
        let keys = self.keys();
        let auth = json!({"action": "authenticate", "data": {"key_id": keys.key_id, "secret_key": keys.secret_key}});
        socket.send(Message::Text(auth.to_string().into())).await?;
        loop {
            let message = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                m = socket.next() => m,
            };
            let text = match message {
                Some(Ok(Message::Text(t))) => t.as_str().to_owned(),
                // Alpaca's paper stream sends JSON in binary frames.
                Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                Some(Ok(Message::Close(_))) | None => anyhow::bail!("stream closed"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
            };
            let parsed: StreamMessage = match serde_json::from_str(&text) {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(error = %e, "unrecognised Alpaca stream message");
                    continue;
                }
            };
            match parsed.stream.as_str() {
                "authorization" => {
                    if parsed.data["status"] != "authorized" {
                        // Probably rotated: the reconnect uses the keys read now.
                        let _ = self.credentials.refresh().await;
                        anyhow::bail!("Alpaca refused the stream credentials");
                    }
                    let listen = json!({"action": "listen", "data": {"streams": ["trade_updates"]}});
                    *self.listen_asked_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(chrono::Utc::now());
                    socket.send(Message::Text(listen.to_string().into())).await?;
                }
                "listening" => {
                    tracing::info!("listening to Alpaca trade_updates");
                    *listened = true;
                    // What happened while no stream was listening is reconciled now.
                    self.connected.notify_one();
                }
                "trade_updates" => match serde_json::from_value::<TradeUpdate>(parsed.data) {
                    Ok(update) => self.apply(update).await,
                    Err(e) => tracing::warn!(error = %e, "unreadable trade update"),
                },
                _ => {}
            }
        }
    }

    async fn apply(&self, update: TradeUpdate) {
        let Some(order_id) = order_id_of(&update.order.client_order_id) else {
            if matches!(update.event.as_str(), "fill" | "partial_fill") {
                let what = format!(
                    "alpaca executed an order Halyard did not place: {} {} at {} (client order id {})",
                    update.qty.unwrap_or_default().normalize(),
                    update.order.symbol.as_deref().unwrap_or("?"),
                    update.price.unwrap_or_default().normalize(),
                    update.order.client_order_id
                );
                tracing::error!(%what, "foreign execution at Alpaca");
                self.foreign.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(what);
            }
            return;
        };
        let kind = match update.event.as_str() {
            "new" | "accepted" | "pending_new" => VenueEventKind::Accepted,
            "fill" | "partial_fill" => {
                let (Some(qty), Some(price)) = (update.qty, update.price) else {
                    tracing::warn!(order_id, "fill without qty or price");
                    return;
                };
                let (Ok(qty), Ok(price)) = (convert::qty(qty), convert::price(price)) else {
                    tracing::warn!(order_id, "fill outside the fixed-point range");
                    return;
                };
                let ts = update.timestamp.unwrap_or_else(Utc::now);
                let exec_id = match update.order.filled_qty {
                    Some(cum_qty) => execution_key(&update.order.id, cum_qty),
                    // Without the cumulative quantity only Alpaca's own id can name it.
                    None => update.execution_id.unwrap_or_else(|| {
                        format!("{}-{}", update.order.id, ts.timestamp_nanos_opt().unwrap_or_default())
                    }),
                };
                VenueEventKind::Fill {
                    exec_id,
                    qty,
                    price,
                    fee: Money::ZERO,
                    cum_fee: commission(update.order.commission),
                    ts: Timestamp::from_nanos(ts.timestamp_nanos_opt().unwrap_or_default()),
                }
            }
            "canceled" => VenueEventKind::Cancelled,
            "expired" => VenueEventKind::Expired,
            "trade_bust" | "trade_correct" => match restatement(&update) {
                Ok(kind) => kind,
                Err(problem) => {
                    tracing::error!(order_id, event = %update.event, problem, "Alpaca restatement unreadable; reconcile this order");
                    return;
                }
            },
            // Also after `new`: the state machine takes a late rejection of an unfilled order.
            "rejected" => VenueEventKind::Rejected { reason: "rejected by Alpaca".into() },
            "order_cancel_rejected" => VenueEventKind::CancelRejected,
            "replaced" => VenueEventKind::Replaced,
            "order_replace_rejected" => VenueEventKind::ReplaceRejected {
                reason: "Alpaca rejected the replace (order_replace_rejected)".into(),
            },
            // Nothing to book: the cancel request is already recorded as pending_cancel, and a
            // day order's `done_for_day` is followed by `expired` or `canceled`.
            "pending_cancel" | "done_for_day" | "calculated" | "pending_replace" => {
                tracing::debug!(order_id, event = %update.event, "trade update needs no booking");
                return;
            }
            other => {
                // `suspended`, `stopped`, `restated`: not handled; reconciliation is the remedy. Loud, since each may mean the engine's books differ from Alpaca's.
                tracing::warn!(order_id, event = other, "Alpaca trade update not handled; reconcile this order");
                return;
            }
        };
        self.emit(order_id, kind).await;
    }
}
