//! HTTP clients of the engine and data-service APIs, with the wire types the pages show.
//!
//! Amounts arrive as decimal strings and are read as exact decimals (`rust_decimal`); the little
//! arithmetic the dashboard does on them (a day's change, P&L since midnight) stays exact.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Why a call to another service failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The service did not answer (connection refused, timeout).
    #[error("{service} unreachable: {message}")]
    Unreachable {
        /// `engine` or `data-service`.
        service: &'static str,
        /// Why.
        message: String,
    },
    /// The service answered with an error status.
    #[error("{service} answered {status}: {message}")]
    Status {
        /// `engine` or `data-service`.
        service: &'static str,
        /// The HTTP status.
        status: u16,
        /// The error message from its JSON body, or the body.
        message: String,
    },
    /// The body was not what the API documents.
    #[error("{service} sent an unexpected body: {message}")]
    Decode {
        /// `engine` or `data-service`.
        service: &'static str,
        /// The decoding error.
        message: String,
    },
}

/// A position as the engine reports it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Position {
    /// Account.
    pub account: String,
    /// Strategy.
    pub strategy: String,
    /// Symbol.
    pub symbol: String,
    /// Signed quantity.
    pub qty: Decimal,
    /// Average entry price.
    pub avg_price: Option<Decimal>,
    /// Last price.
    pub last_price: Option<Decimal>,
    /// Realized P&L.
    pub realized_pnl: Decimal,
    /// Unrealized P&L.
    pub unrealized_pnl: Option<Decimal>,
}

/// An order as the engine reports it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Order {
    /// Id.
    pub order_id: i64,
    /// Account.
    pub account: String,
    /// Strategy.
    pub strategy: String,
    /// Symbol.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    /// `market` or `limit`.
    pub order_type: String,
    /// Limit price.
    pub limit_price: Option<Decimal>,
    /// Quantity.
    pub qty: Decimal,
    /// Filled quantity.
    pub filled_qty: Decimal,
    /// Average fill price.
    pub avg_fill_price: Option<Decimal>,
    /// Status.
    pub status: String,
    /// Rejection reason.
    pub reject_reason: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// One transition of an order.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OrderEvent {
    /// `created`, `risk_rejected`, `accepted`, `fill`, `cancel_requested`, `cancelled`, ...
    pub event: String,
    /// Status before.
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: String,
    /// Details (fill price and quantity, reasons).
    pub detail: Option<serde_json::Value>,
    /// When.
    pub ts: DateTime<Utc>,
}

/// An order with its event log, oldest first.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OrderDetail {
    /// The order.
    #[serde(flatten)]
    pub order: Order,
    /// Its transitions.
    pub events: Vec<OrderEvent>,
}

/// A strategy as the engine reports it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Strategy {
    /// Unique name.
    pub name: String,
    /// Kind (`sma_cross`, `signal_follower`, ...).
    pub kind: String,
    /// Parameters.
    pub params: serde_json::Value,
    /// Account it trades for.
    pub account: String,
    /// Symbols it trades.
    pub symbols: Vec<String>,
    /// Bar period in seconds.
    pub bar_seconds: i32,
    /// Running.
    pub enabled: bool,
    /// Whether its TradingView webhook is on (a passphrase is set).
    pub webhook: bool,
}

/// P&L of a set of positions.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Pnl {
    /// Realized, net of fees.
    pub realized_pnl: Decimal,
    /// Unrealized at the last prices.
    pub unrealized_pnl: Decimal,
    /// Realized + unrealized.
    pub total_pnl: Decimal,
    /// Realized since 00:00 UTC.
    pub realized_today: Decimal,
}

/// One sample of an account's P&L equity history.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct EquityPoint {
    /// When it was sampled.
    pub ts: DateTime<Utc>,
    /// Realized + unrealized P&L then.
    pub equity: Decimal,
}

/// A TradingView alert the engine received, and what became of it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Signal {
    /// Id.
    pub signal_id: i64,
    /// Account of its strategy.
    pub account: String,
    /// Strategy it was sent to.
    pub strategy: String,
    /// Symbol.
    pub ticker: String,
    /// Action (`buy`, `sell`, `exit`, ...).
    pub action: String,
    /// `pending`, `processed`, `ignored` or `failed`.
    pub status: String,
    /// What processing did.
    pub note: Option<String>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// One fill as the engine reports it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Fill {
    /// Id.
    pub fill_id: i64,
    /// The order it filled.
    pub order_id: i64,
    /// Account.
    pub account: String,
    /// Strategy.
    pub strategy: String,
    /// Symbol.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Quantity.
    pub qty: Decimal,
    /// Price.
    pub price: Decimal,
    /// Fee.
    pub fee: Decimal,
    /// P&L this fill realized, net of its fee.
    pub realized_pnl: Decimal,
    /// The venue's execution id.
    pub exec_id: String,
    /// Execution time.
    pub ts: DateTime<Utc>,
    /// `execution`, or a reconciliation entry: `bust` (the reversal of an execution the venue
    /// broke or corrected) or `correction` (the corrected execution booked in its place).
    #[serde(default = "execution")]
    pub kind: String,
    /// Why a bust or correction was booked.
    #[serde(default)]
    pub note: Option<String>,
}

fn execution() -> String {
    "execution".to_owned()
}

/// Filters of the engine's order and fill lists; `None` is any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Order status (orders only).
    pub status: Option<String>,
    /// Symbol.
    pub symbol: Option<String>,
    /// Strategy name.
    pub strategy: Option<String>,
    /// Account.
    pub account: Option<String>,
    /// First day, `YYYY-MM-DD` UTC, as typed (orders by creation, fills by execution).
    pub from: Option<String>,
    /// Last day (included), `YYYY-MM-DD` UTC, as typed.
    pub until: Option<String>,
}

impl ListFilter {
    /// The filters as typed, as query pairs for the dashboard's own links (`status` left out
    /// when `with_status` is false).
    pub fn pairs(&self, with_status: bool) -> Vec<(&'static str, String)> {
        let status = if with_status { self.status.clone() } else { None };
        [
            ("status", status),
            ("symbol", self.symbol.clone()),
            ("strategy", self.strategy.clone()),
            ("account", self.account.clone()),
            ("from", self.from.clone()),
            ("until", self.until.clone()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }

    /// The filters as the engine takes them: the days become RFC 3339 instants, `from` its
    /// 00:00 UTC and `until` the 00:00 UTC after it (the engine's `until` is exclusive, the
    /// form's last day inclusive). A day that is not a date is left out; the routes check them
    /// first.
    pub fn engine_pairs(&self, with_status: bool) -> Vec<(&'static str, String)> {
        let midnight = |day: &Option<String>, days_after: u64| {
            let day = chrono::NaiveDate::parse_from_str(day.as_deref()?, "%Y-%m-%d").ok()?;
            let day = day.checked_add_days(chrono::Days::new(days_after))?;
            Some(format!("{}T00:00:00Z", day.format("%Y-%m-%d")))
        };
        let mut pairs = self.pairs(with_status);
        pairs.retain(|(k, _)| !matches!(*k, "from" | "until"));
        pairs.extend(midnight(&self.from, 0).map(|t| ("from", t)));
        pairs.extend(midnight(&self.until, 1).map(|t| ("until", t)));
        pairs
    }
}

/// The engine's accounts and the venue each trades at (`GET /api/v1/accounts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Accounts {
    /// Where an account without its own broker account trades.
    pub default_venue: String,
    /// The accounts.
    pub accounts: Vec<AccountVenue>,
}

/// One account and its venue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccountVenue {
    /// Account name.
    pub account: String,
    /// The venue its orders go to (`paper`, `alpaca:us`, `binance:crypto`).
    pub venue: String,
    /// `paper`, `alpaca` or `binance`.
    pub kind: String,
    /// Whether it has its own broker account.
    pub own_broker_account: bool,
    /// Its broker account's buying power as the venue last said (Alpaca only).
    #[serde(default)]
    pub buying_power: Option<Decimal>,
    /// When the venue said it.
    #[serde(default)]
    pub buying_power_as_of: Option<DateTime<Utc>>,
}

/// Something the engine booked because the venue said so when asked (a fill, an
/// acknowledgement or a final status found by reconciliation) or restated later (a bust or a
/// correction).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReconciliationEvent {
    /// The order.
    pub order_id: i64,
    /// Symbol.
    pub symbol: String,
    /// Venue.
    pub venue: String,
    /// `fill`, `accepted`, `cancelled`, `bust`, `correction`, ...
    pub event: String,
    /// Status before.
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: String,
    /// What was booked.
    pub detail: serde_json::Value,
    /// When.
    pub ts: DateTime<Utc>,
}

/// An account's risk limits; `None` is no limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct RiskLimits {
    /// Largest quantity of one order.
    pub max_order_qty: Option<Decimal>,
    /// Largest notional of one order.
    pub max_order_notional: Option<Decimal>,
    /// Largest absolute position per symbol.
    pub max_position: Option<Decimal>,
    /// Largest gross exposure.
    pub max_gross_exposure: Option<Decimal>,
    /// Largest distance of a limit price from the last trade, in basis points.
    pub price_collar_bps: Option<Decimal>,
    /// Largest daily loss.
    pub max_daily_loss: Option<Decimal>,
    /// Most orders per rolling minute.
    pub max_orders_per_minute: Option<i32>,
}

/// A backtest job as the engine reports it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BacktestJob {
    /// Id (a UUID).
    pub id: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// Share done, 0 to 1.
    pub progress: f64,
    /// The request as the engine stored it (strategy, params, symbol, interval, range, ...).
    pub request: serde_json::Value,
    /// The metrics once succeeded (`round_trips`, `realized_pnl`, `sharpe`, ...).
    pub summary: Option<serde_json::Value>,
    /// Why it failed, or why an attempt was retried.
    pub error: Option<String>,
    /// Attempts so far.
    pub attempts: i32,
    /// Who started it (the engine token's name).
    pub created_by: String,
    /// Queued at.
    pub created_at: DateTime<Utc>,
    /// Started at.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished at.
    pub finished_at: Option<DateTime<Utc>>,
}

impl BacktestJob {
    /// Whether the job may still change (queued or running).
    pub fn in_progress(&self) -> bool {
        self.status == "queued" || self.status == "running"
    }
}

/// One round trip of a backtest.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BacktestTrade {
    /// Number, from 1.
    pub seq: i32,
    /// Entry time.
    pub entry_ts: DateTime<Utc>,
    /// Entry price.
    pub entry_px: Decimal,
    /// Exit time.
    pub exit_ts: DateTime<Utc>,
    /// Exit price.
    pub exit_px: Decimal,
    /// Signed quantity.
    pub qty: Decimal,
    /// P&L of the trip.
    pub pnl: Decimal,
}

/// One entry of the engine's audit log.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct AuditEntry {
    /// Id, increasing.
    pub audit_id: i64,
    /// When.
    pub ts: DateTime<Utc>,
    /// Who: the engine token's name, or `engine`.
    pub actor: String,
    /// What kind of change (`risk_limits.update`, ...).
    pub action: String,
    /// What was changed (`account:NAME`, ...).
    pub target: String,
    /// The change; for limits `{"before": {...}, "after": {...}}`.
    pub detail: serde_json::Value,
}

/// One OHLCV bar from the data-service.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Bar {
    /// Open time.
    pub ts: DateTime<Utc>,
    /// First price.
    pub open: Decimal,
    /// Highest price.
    pub high: Decimal,
    /// Lowest price.
    pub low: Decimal,
    /// Last price.
    pub close: Decimal,
    /// Volume.
    pub volume: Decimal,
}

/// A page of orders.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct OrderPage {
    /// Orders, newest first.
    pub orders: Vec<Order>,
    /// Cursor of the next page.
    pub next_before: Option<i64>,
}

/// An active halt.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Halt {
    /// Id.
    pub halt_id: i64,
    /// `all`, `account` or `strategy`.
    pub scope: String,
    /// Account of an account halt.
    pub account: Option<String>,
    /// Strategy of a strategy halt.
    pub strategy: Option<String>,
    /// Why.
    pub reason: String,
    /// Whether positions were flattened.
    pub flatten: bool,
    /// Reduce-only: positions may still be closed.
    #[serde(default)]
    pub reduce_only: bool,
    /// Who (the engine token's name).
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A latest price from the data-service.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Quote {
    /// Symbol.
    pub symbol: String,
    /// Time of the price.
    pub ts: DateTime<Utc>,
    /// Price.
    pub price: Decimal,
}

#[derive(Deserialize)]
struct SymbolInfo {
    symbol: String,
}

/// Whether a service answered its readiness probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// `/readyz` answered 200.
    Ready,
    /// It answered otherwise, or not at all; why.
    NotReady(String),
}

/// One upstream service.
#[derive(Clone)]
struct Service {
    name: &'static str,
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Service {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn send<T: DeserializeOwned>(&self, r: reqwest::RequestBuilder) -> Result<T, UpstreamError> {
        let service = self.name;
        let resp = r.send().await.map_err(|e| UpstreamError::Unreachable { service, message: e.to_string() })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| UpstreamError::Unreachable { service, message: e.to_string() })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.pointer("/error/message").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Err(UpstreamError::Status { service, status: status.as_u16(), message });
        }
        serde_json::from_slice(&body).map_err(|e| UpstreamError::Decode { service, message: e.to_string() })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, UpstreamError> {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    async fn get_text(&self, path: &str) -> Result<String, UpstreamError> {
        let service = self.name;
        let unreachable = |e: reqwest::Error| UpstreamError::Unreachable { service, message: e.to_string() };
        let resp = self.request(reqwest::Method::GET, path).send().await.map_err(unreachable)?;
        let status = resp.status();
        let body = resp.text().await.map_err(unreachable)?;
        if !status.is_success() {
            let message = body.chars().take(200).collect();
            return Err(UpstreamError::Status { service, status: status.as_u16(), message });
        }
        Ok(body)
    }

    async fn health(&self) -> Health {
        match self.http.get(format!("{}/readyz", self.base)).timeout(Duration::from_secs(2)).send().await {
            Ok(r) if r.status().is_success() => Health::Ready,
            Ok(r) => Health::NotReady(format!("readyz answered {}", r.status().as_u16())),
            Err(e) => Health::NotReady(format!("unreachable: {e}")),
        }
    }
}

/// The engine API, called with the dashboard's engine token.
#[derive(Clone)]
pub struct EngineClient(Service);

/// The data-service API.
#[derive(Clone)]
pub struct DataServiceClient(Service);

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap_or_default()
}

impl EngineClient {
    /// A client of the engine at `base` acting with `token`.
    pub fn new(base: &str, token: &str) -> Self {
        Self(Service { name: "engine", base: base.to_owned(), token: Some(token.to_owned()), http: http_client() })
    }

    /// Every position the engine keeps, flat ones included (their realized P&L stays).
    pub async fn all_positions(&self) -> Result<Vec<Position>, UpstreamError> {
        self.0.get("/api/v1/positions").await
    }

    /// A page of orders, newest first, optionally of one status, before order id `before`.
    pub async fn orders(
        &self,
        status: Option<&str>,
        before: Option<i64>,
        limit: i64,
    ) -> Result<OrderPage, UpstreamError> {
        let filter = ListFilter { status: status.map(str::to_owned), ..ListFilter::default() };
        self.filtered_orders(&filter, before, limit).await
    }

    /// A page of the orders matching `filter`, newest first, before order id `before`.
    pub async fn filtered_orders(
        &self,
        filter: &ListFilter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<OrderPage, UpstreamError> {
        let mut query = vec![("limit", limit.to_string())];
        query.extend(filter.engine_pairs(true));
        if let Some(b) = before {
            query.push(("before", b.to_string()));
        }
        self.0.send(self.0.request(reqwest::Method::GET, "/api/v1/orders").query(&query)).await
    }

    /// Orders still working (pending, new, partially filled, pending cancel or replace), newest
    /// first.
    pub async fn working_orders(&self) -> Result<Vec<Order>, UpstreamError> {
        let statuses = ["pending_new", "new", "partially_filled", "pending_cancel", "pending_replace"];
        let pages = futures_util::future::join_all(statuses.iter().map(|s| self.orders(Some(s), None, 200))).await;
        let mut orders = Vec::new();
        for page in pages {
            orders.extend(page?.orders);
        }
        orders.sort_by_key(|o| std::cmp::Reverse(o.order_id));
        Ok(orders)
    }

    /// Places a manual order (strategy `manual`); a risk check's refusal is an order with
    /// status `rejected`, not an error. `client_order_id` makes a retry return the same order.
    pub async fn place_order(
        &self,
        ticket: &crate::pages::ticket::Ticket,
        client_order_id: &str,
    ) -> Result<Order, UpstreamError> {
        let mut body = serde_json::json!({
            "account": ticket.account, "symbol": ticket.symbol, "side": ticket.side,
            "qty": ticket.qty.normalize().to_string(), "client_order_id": client_order_id,
        });
        let text = |d: rust_decimal::Decimal| serde_json::Value::from(d.normalize().to_string());
        body["order_type"] = match (ticket.stop_price, ticket.limit_price) {
            (Some(_), Some(_)) => "stop_limit",
            (Some(_), None) => "stop",
            (None, Some(_)) => "limit",
            (None, None) => "market",
        }
        .into();
        for (field, value) in [
            ("limit_price", ticket.limit_price),
            ("stop_price", ticket.stop_price),
            ("take_profit", ticket.take_profit),
            ("stop_loss", ticket.stop_loss),
        ] {
            if let Some(value) = value {
                body[field] = text(value);
            }
        }
        self.0.send(self.0.request(reqwest::Method::POST, "/api/v1/orders").json(&body)).await
    }

    /// One order and its events; `None` when the engine has no such order.
    pub async fn order(&self, order_id: i64) -> Result<Option<OrderDetail>, UpstreamError> {
        match self.0.get(&format!("/api/v1/orders/{order_id}")).await {
            Ok(d) => Ok(Some(d)),
            Err(UpstreamError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Asks the engine to cancel an order; answers the order as it now stands.
    pub async fn cancel_order(&self, order_id: i64) -> Result<Order, UpstreamError> {
        let path = format!("/api/v1/orders/{order_id}/cancel");
        self.0.send(self.0.request(reqwest::Method::POST, &path)).await
    }

    /// Asks the engine to amend a working order (`POST /api/v1/orders/{id}/replace`); the
    /// answer is the amendment, a new order that replaces it.
    pub async fn replace_order(
        &self,
        order_id: i64,
        qty: Option<Decimal>,
        limit_price: Option<Decimal>,
    ) -> Result<Order, UpstreamError> {
        let mut body = serde_json::Map::new();
        if let Some(qty) = qty {
            body.insert("qty".into(), serde_json::Value::String(qty.normalize().to_string()));
        }
        if let Some(price) = limit_price {
            body.insert("limit_price".into(), serde_json::Value::String(price.normalize().to_string()));
        }
        let path = format!("/api/v1/orders/{order_id}/replace");
        self.0.send(self.0.request(reqwest::Method::POST, &path).json(&body)).await
    }

    /// Every strategy.
    pub async fn strategies(&self) -> Result<Vec<Strategy>, UpstreamError> {
        self.0.get("/api/v1/strategies").await
    }

    /// Up to `limit` fills (1 to 1,000, the engine's page size limit) matching `filter` (its
    /// status is ignored), newest first, with a fill id below `before` when set (the last id of
    /// the previous page).
    pub async fn fills(
        &self,
        filter: &ListFilter,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<Fill>, UpstreamError> {
        let mut query = vec![("limit", limit.to_string())];
        query.extend(filter.engine_pairs(false));
        if let Some(b) = before {
            query.push(("before", b.to_string()));
        }
        self.0.send(self.0.request(reqwest::Method::GET, "/api/v1/fills").query(&query)).await
    }

    /// P&L of one strategy's positions.
    pub async fn strategy_pnl(&self, strategy: &str) -> Result<Pnl, UpstreamError> {
        self.0.send(self.0.request(reqwest::Method::GET, "/api/v1/pnl").query(&[("strategy", strategy)])).await
    }

    /// P&L of one account's positions.
    pub async fn account_pnl(&self, account: &str) -> Result<Pnl, UpstreamError> {
        self.0.send(self.0.request(reqwest::Method::GET, "/api/v1/pnl").query(&[("account", account)])).await
    }

    /// The last equity sample of `account` taken before `until` (at most one, as a list).
    pub async fn equity_before(&self, account: &str, until: DateTime<Utc>) -> Result<Vec<EquityPoint>, UpstreamError> {
        let query = [("account", account.to_owned()), ("until", until.to_rfc3339()), ("limit", "1".to_owned())];
        self.0.send(self.0.request(reqwest::Method::GET, "/api/v1/equity").query(&query)).await
    }

    /// The newest `limit` TradingView alerts (1 to 1,000), newest first.
    pub async fn signals(&self, limit: u32) -> Result<Vec<Signal>, UpstreamError> {
        let query = [("limit", limit.to_string())];
        self.0.send(self.0.request(reqwest::Method::GET, "/api/v1/signals").query(&query)).await
    }

    /// Changes a strategy's parameters, symbols and bar period (`PATCH
    /// /api/v1/strategies/{name}`); the engine checks them against the strategy's kind and
    /// refuses with a 422 whose message says what is wrong. `name` goes into the path as it
    /// is: callers pass only names checked with [`crate::routes::strategies::valid_name`].
    pub async fn configure_strategy(
        &self,
        name: &str,
        params: &serde_json::Value,
        symbols: &[String],
        bar_seconds: i32,
    ) -> Result<Strategy, UpstreamError> {
        let body = serde_json::json!({"params": params, "symbols": symbols, "bar_seconds": bar_seconds});
        self.0.send(self.0.request(reqwest::Method::PATCH, &format!("/api/v1/strategies/{name}")).json(&body)).await
    }

    /// One strategy; `None` when the engine has none of that name. `name` as for
    /// [`Self::configure_strategy`].
    pub async fn strategy(&self, name: &str) -> Result<Option<Strategy>, UpstreamError> {
        match self.0.get(&format!("/api/v1/strategies/{name}")).await {
            Ok(s) => Ok(Some(s)),
            Err(UpstreamError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts (`enabled`) or stops a strategy. `name` goes into the path as it is: callers pass
    /// only names checked with [`crate::routes::strategies::valid_name`].
    pub async fn set_strategy_enabled(&self, name: &str, enabled: bool) -> Result<(), UpstreamError> {
        let verb = if enabled { "enable" } else { "disable" };
        let request = self.0.request(reqwest::Method::POST, &format!("/api/v1/strategies/{name}/{verb}"));
        let _: serde_json::Value = self.0.send(request).await?;
        Ok(())
    }

    /// The accounts and their venues.
    pub async fn accounts(&self) -> Result<Accounts, UpstreamError> {
        self.0.get("/api/v1/accounts").await
    }

    /// The account's latest reconciliation events (`GET /api/v1/reconciliation-events`).
    pub async fn reconciliation_events(
        &self,
        account: &str,
        limit: u32,
    ) -> Result<Vec<ReconciliationEvent>, UpstreamError> {
        let query = [("account", account.to_owned()), ("limit", limit.to_string())];
        self.0.send(self.0.request(reqwest::Method::GET, "/api/v1/reconciliation-events").query(&query)).await
    }

    /// An account's limits. `account` goes into the path as it is: callers pass only names
    /// checked with [`crate::routes::risk::valid_account`].
    pub async fn risk_limits(&self, account: &str) -> Result<RiskLimits, UpstreamError> {
        self.0.get(&format!("/api/v1/risk-limits/{account}")).await
    }

    /// Replaces an account's limits.
    pub async fn put_risk_limits(&self, account: &str, limits: &RiskLimits) -> Result<RiskLimits, UpstreamError> {
        let path = format!("/api/v1/risk-limits/{account}");
        self.0.send(self.0.request(reqwest::Method::PUT, &path).json(limits)).await
    }

    /// Audit entries about `target` (e.g. `account:demo`), newest first, at most `limit`.
    pub async fn audit(&self, target: &str, limit: u32) -> Result<Vec<AuditEntry>, UpstreamError> {
        let query = [("target", target.to_owned()), ("limit", limit.to_string())];
        self.0.send(self.0.request(reqwest::Method::GET, "/api/v1/audit").query(&query)).await
    }

    /// Queues a backtest (`request` as `POST /api/v1/backtests` documents it). The same
    /// `idempotency_key` returns the job the first request created; a refused request is
    /// [`UpstreamError::Status`] 422 with the engine's message naming the field.
    pub async fn start_backtest(
        &self,
        request: &serde_json::Value,
        idempotency_key: &str,
    ) -> Result<BacktestJob, UpstreamError> {
        let r = self.0.request(reqwest::Method::POST, "/api/v1/backtests").header("Idempotency-Key", idempotency_key);
        self.0.send(r.json(request)).await
    }

    /// The latest `limit` backtests, newest first.
    pub async fn backtests(&self, limit: u32) -> Result<Vec<BacktestJob>, UpstreamError> {
        let query = [("limit", limit.to_string())];
        self.0.send(self.0.request(reqwest::Method::GET, "/api/v1/backtests").query(&query)).await
    }

    /// One backtest; `None` when the engine has none with this id. `id` goes into the path as
    /// it is: callers pass only ids checked with [`crate::routes::backtests::valid_id`].
    pub async fn backtest(&self, id: &str) -> Result<Option<BacktestJob>, UpstreamError> {
        match self.0.get(&format!("/api/v1/backtests/{id}")).await {
            Ok(job) => Ok(Some(job)),
            Err(UpstreamError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every round trip of a succeeded backtest, in order.
    pub async fn backtest_trades(&self, id: &str) -> Result<Vec<BacktestTrade>, UpstreamError> {
        self.0.get(&format!("/api/v1/backtests/{id}/trades")).await
    }

    /// `equity.csv` of a succeeded backtest (`ts,equity,drawdown`, ts in epoch ms).
    pub async fn backtest_equity(&self, id: &str) -> Result<String, UpstreamError> {
        self.0.get_text(&format!("/api/v1/backtests/{id}/equity")).await
    }

    /// Active halts.
    pub async fn halts(&self) -> Result<Vec<Halt>, UpstreamError> {
        self.0.get("/api/v1/halt").await
    }

    /// Halts all trading.
    pub async fn halt_all(&self, reason: &str, flatten: bool, reduce_only: bool) -> Result<Halt, UpstreamError> {
        let body =
            serde_json::json!({"scope": "all", "reason": reason, "flatten": flatten, "reduce_only": reduce_only});
        self.0.send(self.0.request(reqwest::Method::POST, "/api/v1/halt").json(&body)).await
    }

    /// Lifts the halts of scope `all`; returns how many were lifted.
    pub async fn resume_all(&self) -> Result<u64, UpstreamError> {
        #[derive(Deserialize)]
        struct Resumed {
            lifted: u64,
        }
        let body = serde_json::json!({"scope": "all"});
        let r: Resumed = self.0.send(self.0.request(reqwest::Method::POST, "/api/v1/resume").json(&body)).await?;
        Ok(r.lifted)
    }

    /// Readiness.
    pub async fn health(&self) -> Health {
        self.0.health().await
    }
}

impl DataServiceClient {
    /// A client of the data-service at `base`.
    pub fn new(base: &str) -> Self {
        Self(Service { name: "data-service", base: base.to_owned(), token: None, http: http_client() })
    }

    /// The base URL (the live stream connects to it).
    pub fn base(&self) -> &str {
        &self.0.base
    }

    /// Symbols with data.
    pub async fn symbols(&self) -> Result<Vec<String>, UpstreamError> {
        let list: Vec<SymbolInfo> = self.0.get("/api/v1/market/symbols").await?;
        Ok(list.into_iter().map(|s| s.symbol).collect())
    }

    /// The last day's bars of `symbol` at `interval` (`1m`, `5m`, `15m`, `1h`, `1d`), oldest
    /// first, at most `limit` (the latest ones).
    pub async fn bars(&self, symbol: &str, interval: &str, limit: usize) -> Result<Vec<Bar>, UpstreamError> {
        #[derive(Deserialize)]
        struct Page {
            bars: Vec<Bar>,
        }
        // The data-service's default range is the last day; one page holds its 1-minute bars.
        let request = self
            .0
            .request(reqwest::Method::GET, &format!("/api/v1/market/bars/{symbol}"))
            .query(&[("interval", interval), ("limit", "5000")]);
        let mut bars = self.0.send::<Page>(request).await?.bars;
        let skip = bars.len().saturating_sub(limit);
        bars.drain(..skip);
        Ok(bars)
    }

    /// Daily bars of `symbol` opening at or after `start` (UTC days), oldest first.
    pub async fn daily_bars(&self, symbol: &str, start: DateTime<Utc>) -> Result<Vec<Bar>, UpstreamError> {
        #[derive(Deserialize)]
        struct Page {
            bars: Vec<Bar>,
        }
        let request = self
            .0
            .request(reqwest::Method::GET, &format!("/api/v1/market/bars/{symbol}"))
            .query(&[("interval", "1d".to_owned()), ("start", start.to_rfc3339())]);
        Ok(self.0.send::<Page>(request).await?.bars)
    }

    /// The latest price of `symbol`; `None` when it has no data yet.
    pub async fn quote(&self, symbol: &str) -> Result<Option<Quote>, UpstreamError> {
        match self.0.get(&format!("/api/v1/market/quote/{symbol}")).await {
            Ok(q) => Ok(Some(q)),
            Err(UpstreamError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Readiness.
    pub async fn health(&self) -> Health {
        self.0.health().await
    }
}
