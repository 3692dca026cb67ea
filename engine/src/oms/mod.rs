//! The order manager: writes every order to Postgres before it goes to the venue (write-ahead),
//! runs the pre-trade risk checks inside the same transaction as the kill-switch and lease
//! checks, applies venue events through the domain's state machine, and keeps fills and
//! positions.
//!
//! Write path (one transaction): `kill_switch` FOR SHARE → idempotency by `(account,
//! client_order_id)` → lease fencing token → active halts → order rate → risk snapshot and
//! [`domain::risk::check_order`] → insert the order (`pending_new`, or `rejected` with its
//! reason) and its first event. Only after the commit is the order handed to the venue.

mod busts;
pub mod contingency;
pub mod risk;
pub mod triggers;

use std::sync::{
    atomic::{AtomicI64, Ordering},
    Arc,
};

use chrono::{DateTime, Utc};
use domain::{
    position::Position, InstrumentId, OrderEvent, OrderIntent, OrderState, OrderStatus, OrderType, Qty, Side,
    TimeInForce, Trail,
};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use tokio::sync::mpsc;
use utoipa::ToSchema;

use crate::{
    convert::{self, ToDecimal},
    market::MarketData,
    venue::{Venue, VenueEvent, VenueEventKind, VenueOrder, Venues},
};

/// The strategy lease an order is written under.
#[derive(Debug, Clone, Copy)]
pub struct LeaseClaim {
    /// The strategy.
    pub strategy_id: i64,
    /// The fencing token this instance got when it acquired the lease.
    pub fencing_token: i64,
}

/// An order to write.
#[derive(Debug, Clone)]
pub struct NewOrder {
    /// Account.
    pub account: String,
    /// Strategy name (`manual` for API orders).
    pub strategy: String,
    /// Idempotency key, unique per account.
    pub client_order_id: String,
    /// Symbol.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// Unsigned quantity.
    pub qty: Qty,
    /// Market or limit.
    pub order_type: OrderType,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// May only bring the position closer to flat (refused by the risk checks otherwise).
    pub reduce_only: bool,
    /// The signal that caused it.
    pub signal_id: Option<i64>,
    /// The runner's lease, checked against the database.
    pub lease: Option<LeaseClaim>,
    /// Orders that close positions for a halt (`flatten`) pass the kill switch.
    pub bypass_halt: bool,
    /// Hold a stop at the engine until it triggers even where the venue has the order type
    /// (stops the venue does not support are always held).
    pub emulate: bool,
    /// A bracket: the take-profit and stop-loss legs to work once this entry is done.
    pub bracket: Option<domain::Bracket>,
}

/// An order row locked for an update, with the epoch of the owner that took it.
#[derive(sqlx::FromRow)]
struct LockedOrder {
    #[sqlx(flatten)]
    order: OrderRow,
    owner_epoch: Option<i64>,
}

/// An order as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct OrderRow {
    /// Engine order id.
    pub order_id: i64,
    /// Account.
    pub account: String,
    /// Strategy name.
    pub strategy: String,
    /// Client order id (idempotency key).
    pub client_order_id: String,
    /// Symbol.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    /// `market`, `limit`, `stop`, `stop_limit` or `trailing_stop`.
    pub order_type: String,
    /// Limit price (limit and stop-limit orders).
    #[serde(serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub limit_price: Option<Decimal>,
    /// Trigger price (stop and stop-limit orders).
    #[serde(serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub stop_price: Option<Decimal>,
    /// A trailing stop's distance from the best price, as a price amount.
    #[serde(serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub trail_amount: Option<Decimal>,
    /// A trailing stop's distance from the best price, in percent (`1.5` = 1.5 %).
    #[serde(serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub trail_percent: Option<Decimal>,
    /// The order may only bring the position closer to flat.
    pub reduce_only: bool,
    /// The engine holds (status `held`) or held the stop's trigger: once triggered, the venue
    /// got the market or limit order the stop became.
    pub emulated: bool,
    /// A held trailing stop's best price so far.
    #[serde(serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub trigger_reference: Option<Decimal>,
    /// When a held stop's trigger was reached.
    pub triggered_at: Option<DateTime<Utc>>,
    /// The entry this bracket leg waits for.
    pub parent_order_id: Option<i64>,
    /// Orders that cancel one another when one fills (a bracket's legs: the entry's id).
    pub oco_group: Option<i64>,
    /// When the entry's end released this leg.
    pub activated_at: Option<DateTime<Utc>>,
    /// `gtc`, `ioc`, `day` or `fok`.
    pub time_in_force: String,
    /// Ordered quantity.
    #[serde(serialize_with = "convert::ser_dec")]
    #[schema(value_type = String)]
    pub qty: Decimal,
    /// Filled so far.
    #[serde(serialize_with = "convert::ser_dec")]
    #[schema(value_type = String)]
    pub filled_qty: Decimal,
    /// Average fill price.
    #[serde(serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub avg_fill_price: Option<Decimal>,
    /// Lifecycle status (`pending_new`, `new`, `partially_filled`, `filled`, `pending_cancel`,
    /// `cancelled`, `rejected`, `expired`, `pending_replace`, `replaced`, `held`).
    pub status: String,
    /// Risk or venue rejection reason code.
    pub reject_reason: Option<String>,
    /// Venue name.
    pub venue: String,
    /// Engine process the order works in.
    pub instance_id: Option<String>,
    /// Originating signal.
    pub signal_id: Option<i64>,
    /// The order this one amends (replaces), if it is an amendment.
    pub replaces: Option<i64>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl OrderRow {
    fn state(&self) -> Result<OrderState, OmsError> {
        let status = OrderStatus::from_code(&self.status)
            .ok_or_else(|| OmsError::Corrupt(format!("order {} has unknown status {}", self.order_id, self.status)))?;
        Ok(OrderState { status, qty: convert::qty(self.qty)?, filled: convert::qty(self.filled_qty)? })
    }

    /// The order's type with its prices, from the stored columns.
    pub fn order_type(&self) -> Result<OrderType, OmsError> {
        let corrupt =
            || OmsError::Corrupt(format!("order {} has an incomplete {} order", self.order_id, self.order_type));
        let price = |value: Option<Decimal>| value.map(convert::price).transpose().map_err(OmsError::from);
        Ok(match self.order_type.as_str() {
            "limit" => OrderType::Limit(price(self.limit_price)?.ok_or_else(corrupt)?),
            "stop" => OrderType::Stop(price(self.stop_price)?.ok_or_else(corrupt)?),
            "stop_limit" => OrderType::StopLimit {
                stop: price(self.stop_price)?.ok_or_else(corrupt)?,
                limit: price(self.limit_price)?.ok_or_else(corrupt)?,
            },
            "trailing_stop" => OrderType::TrailingStop(match (self.trail_amount, self.trail_percent) {
                (Some(amount), None) => Trail::Amount(convert::price(amount)?),
                (None, Some(percent)) => Trail::Percent(convert::percent(percent)?),
                _ => return Err(corrupt()),
            }),
            _ => OrderType::Market,
        })
    }

    /// The domain intent for what is still open. An emulated stop that triggered is the market
    /// or limit order it became: that is what its venue knows.
    pub fn open_intent(&self, instrument: InstrumentId) -> Result<OrderIntent, OmsError> {
        let state = self.state()?;
        let side = if self.side == "buy" { Side::Buy } else { Side::Sell };
        let order_type = match self.order_type()? {
            stop if self.emulated && state.status != OrderStatus::Held => stop.triggered(),
            order_type => order_type,
        };
        let time_in_force = match self.time_in_force.as_str() {
            "ioc" => TimeInForce::Ioc,
            "day" => TimeInForce::Day,
            "fok" => TimeInForce::Fok,
            _ => TimeInForce::Gtc,
        };
        Ok(OrderIntent {
            instrument,
            side,
            qty: state.remaining(),
            order_type,
            time_in_force,
            reduce_only: self.reduce_only,
            // The engine works a bracket's legs as orders of their own (`contingency`).
            bracket: None,
        })
    }
}

/// What a write did.
#[derive(Debug, Clone)]
pub enum WriteOutcome {
    /// A new order (possibly `rejected` by risk).
    Created(OrderRow),
    /// The client order id was already used: the original order, untouched.
    Existing(OrderRow),
}

impl WriteOutcome {
    /// The order either way.
    pub fn order(&self) -> &OrderRow {
        match self {
            Self::Created(o) | Self::Existing(o) => o,
        }
    }
}

/// Order-management failures.
#[derive(Debug, thiserror::Error)]
pub enum OmsError {
    /// A venue event of this process's own book for an order another instance owns now.
    #[error("order {0} belongs to another engine instance; its venue event is not booked here")]
    NotOwner(i64),
    /// The strategy lease is no longer ours (another instance took over).
    #[error("strategy lease lost: fencing token is stale")]
    StaleLease,
    /// The request is not valid.
    #[error("{0}")]
    Invalid(String),
    /// No such order.
    #[error("order {0} not found")]
    NotFound(i64),
    /// The order cannot be cancelled in its state.
    #[error("order {0} is {1} and cannot be cancelled")]
    NotCancellable(i64, String),
    /// The order cannot be amended in its state.
    #[error(
        "order {0} is {1}; only a working order with nothing filled can be amended (cancel it and place a new one)"
    )]
    NotAmendable(i64, String),
    /// Stored data does not fit the domain types.
    #[error("stored data: {0}")]
    Corrupt(String),
    /// A venue event not legal in the order's state.
    #[error(transparent)]
    Transition(#[from] domain::TransitionError),
    /// Database failure.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<convert::OutOfRange> for OmsError {
    fn from(e: convert::OutOfRange) -> Self {
        Self::Corrupt(e.to_string())
    }
}

impl From<OmsError> for platform::http::ApiError {
    fn from(e: OmsError) -> Self {
        use platform::http::ApiError;
        match e {
            OmsError::StaleLease => ApiError::Conflict(e.to_string()),
            OmsError::Invalid(m) => ApiError::unprocessable("invalid_order", m),
            OmsError::NotFound(_) => ApiError::NotFound(e.to_string()),
            OmsError::NotCancellable(..) | OmsError::NotAmendable(..) => ApiError::Conflict(e.to_string()),
            OmsError::Db(db) => db.into(),
            other => ApiError::Internal(anyhow::anyhow!(other)),
        }
    }
}

/// The order manager of one process.
#[derive(Clone)]
pub struct Oms {
    pool: PgPool,
    instance_id: Arc<str>,
    /// This process's fencing token for its instance id (see [`Oms::register`]); 0 until then.
    epoch: Arc<AtomicI64>,
    venues: Venues,
    market: MarketData,
    fills: tokio::sync::broadcast::Sender<BookedFill>,
    /// When this process started: its start-up reconciliation covers orders changed before.
    started_at: DateTime<Utc>,
    /// Wakes this process's trigger watcher when it wrote a held stop.
    held_changed: Arc<tokio::sync::Notify>,
}

/// A fill this process booked, for the strategy that owns the order (its `on_fill`).
#[derive(Debug, Clone)]
pub struct BookedFill {
    /// Account.
    pub account: String,
    /// Strategy name.
    pub strategy: String,
    /// Symbol.
    pub symbol: String,
    /// The execution (its instrument is this process's id of the symbol).
    pub fill: domain::Fill,
}

const ORDER_COLUMNS: &str = "order_id, account, strategy, client_order_id, symbol, side, order_type, limit_price, \
    stop_price, trail_amount, trail_percent, reduce_only, emulated, trigger_reference, triggered_at, parent_order_id, oco_group, activated_at, time_in_force, qty, filled_qty, avg_fill_price, status, reject_reason, venue, instance_id, signal_id, replaces, created_at, updated_at";

/// Statuses in which an order is working at the engine or its venue and counts towards the
/// position it may build: the open statuses and `held`.
pub const WORKING_STATUSES: [&str; 6] =
    ["pending_new", "new", "partially_filled", "pending_cancel", "pending_replace", "held"];

/// Statuses in which an order may still fill at its venue (a held stop is not there yet).
pub const OPEN_STATUSES: [&str; 5] = ["pending_new", "new", "partially_filled", "pending_cancel", "pending_replace"];

impl Oms {
    /// An order manager sending each account's orders to its venue in `venues` (a single
    /// [`Venue`] converts into a set where every account trades there).
    pub fn new(pool: PgPool, instance_id: &str, venues: impl Into<Venues>, market: MarketData) -> Self {
        let (fills, _) = tokio::sync::broadcast::channel(4096);
        let venues = venues.into();
        Self {
            pool,
            instance_id: Arc::from(instance_id),
            epoch: Arc::new(AtomicI64::new(0)),
            venues,
            market,
            fills,
            started_at: Utc::now(),
            held_changed: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Fills booked from now on (strategies' `on_fill`).
    pub fn subscribe_fills(&self) -> tokio::sync::broadcast::Receiver<BookedFill> {
        self.fills.subscribe()
    }

    /// The database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Market data.
    pub fn market(&self) -> &MarketData {
        &self.market
    }

    /// The venues orders go to.
    pub fn venues(&self) -> &Venues {
        &self.venues
    }

    /// The venue an order recorded (`None` when this engine is not configured with it).
    fn venue_of(&self, order: &OrderRow) -> Option<&Venue> {
        let venue = self.venues.named(&order.venue);
        if venue.is_none() {
            tracing::error!(order_id = order.order_id, venue = %order.venue, "the order's venue is not configured in this engine");
        }
        venue
    }

    /// This process's instance id.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// When this process's order manager was built.
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }

    /// This process's epoch (the fencing token of its instance id); 0 before [`Self::register`].
    pub fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Writes an order in its own transaction, then hands it to the venue. A repeated client
    /// order id returns the original order and sends nothing.
    pub async fn place(&self, order: NewOrder) -> Result<WriteOutcome, OmsError> {
        let mut tx = self.pool.begin().await?;
        let outcome = self.write(&mut tx, &order).await?;
        tx.commit().await?;
        self.after_commit(&outcome).await;
        Ok(outcome)
    }

    /// Runs after the transaction that wrote `outcome` committed: sends a new order to the venue,
    /// and halts the account when the order tripped the daily loss limit.
    pub async fn after_commit(&self, outcome: &WriteOutcome) {
        let WriteOutcome::Created(order) = outcome else { return };
        crate::metrics::order_submitted();
        crate::metrics::order_state(&order.status);
        if let Some(reason) = order.reject_reason.as_deref() {
            crate::metrics::risk_reject(reason);
        }
        if order.status == OrderStatus::PendingNew.code() {
            self.dispatch(order).await;
        } else if order.status == OrderStatus::Held.code() {
            self.held_changed.notify_one();
        } else if order.reject_reason.as_deref() == Some(domain::risk::RiskReason::DailyLossLimit.code()) {
            let already = match self.pool.acquire().await {
                Ok(mut conn) => risk::is_halted(&mut conn, &order.account, &order.strategy).await.unwrap_or(false),
                Err(_) => false,
            };
            if already {
                return;
            }
            let reason = format!("daily loss limit breached (order {} rejected)", order.order_id);
            if let Err(e) =
                crate::halt::halt(&self.pool, "engine", "account", Some(&order.account), None, &reason, false, false)
                    .await
            {
                tracing::error!(error = %e, account = %order.account, "could not halt the account after a daily loss breach");
            }
        }
    }

    /// The tick size of `symbol` when `venue` is the paper venue (which rounds prices to it);
    /// `None` for other venues, which round by their own rules, or when it is not defined.
    async fn paper_tick(&self, venue: &Venue, symbol: &str) -> Option<domain::Price> {
        if !venue.is_per_process() {
            return None;
        }
        let mut conn = self.pool.acquire().await.ok()?;
        match crate::api::instruments::rules(&mut conn, symbol).await {
            Ok(rules) => rules.tick_size,
            Err(e) => {
                tracing::warn!(%symbol, error = %e, "instrument not read; the paper venue rounds to 0.01");
                None
            }
        }
    }

    /// Hands a `pending_new` order to the venue.
    pub async fn dispatch(&self, order: &OrderRow) {
        let instrument = self.market.instruments.id(&order.symbol);
        match order.open_intent(instrument) {
            Ok(intent) => {
                let symbol = std::sync::Arc::from(order.symbol.as_str());
                if let Some(venue) = self.venue_of(order) {
                    let tick = self.paper_tick(venue, &order.symbol).await;
                    venue
                        .submit(VenueOrder {
                            order_id: order.order_id,
                            symbol,
                            intent,
                            tick,
                            oco_group: order.oco_group,
                        })
                        .await;
                }
            }
            Err(e) => tracing::error!(order_id = order.order_id, error = %e, "order cannot be sent"),
        }
    }

    /// Writes `order` inside `tx` (see the module docs for the steps).
    pub async fn write(&self, tx: &mut PgConnection, order: &NewOrder) -> Result<WriteOutcome, OmsError> {
        if order.client_order_id.is_empty() || order.client_order_id.len() > 128 {
            return Err(OmsError::Invalid("client_order_id must be 1 to 128 characters".into()));
        }
        // Serializes with halts: a halt committed before this point is visible below.
        sqlx::query("select version from kill_switch where id = 1 for share").execute(&mut *tx).await?;
        if let Some(existing) = find_by_client_id(tx, &order.account, &order.client_order_id).await? {
            return Ok(WriteOutcome::Existing(existing));
        }
        if let Some(lease) = order.lease {
            let current: Option<i64> = sqlx::query_scalar(
                "select fencing_token from strategy_lease
                  where strategy_id = $1 and owner = $2 and expires_at > now() for share",
            )
            .bind(lease.strategy_id)
            .bind(&*self.instance_id)
            .fetch_optional(&mut *tx)
            .await?;
            if current != Some(lease.fencing_token) {
                return Err(OmsError::StaleLease);
            }
        }
        let intent = OrderIntent {
            instrument: self.market.instruments.id(&order.symbol),
            side: order.side,
            qty: order.qty,
            order_type: order.order_type,
            time_in_force: order.time_in_force,
            reduce_only: order.reduce_only,
            bracket: None,
        };
        let (venue_name, venue) = self.venues.route(&order.account);
        let buying_power = venue.buying_power(Some(&order.symbol)).map(|figure| (venue_name, figure));
        let verdict = risk::evaluate(tx, &self.market, order, &intent, buying_power).await?;
        let emulated =
            order.order_type.is_stop() && (order.emulate || !venue.supports(order.order_type, &order.symbol));
        let (status, reason) = match verdict {
            Ok(()) if emulated => (OrderStatus::Held, None),
            Ok(()) => (OrderStatus::PendingNew, None),
            Err(reason) => (OrderStatus::Rejected, Some(reason)),
        };
        let (trail_amount, trail_percent) = match order.order_type {
            OrderType::TrailingStop(Trail::Amount(amount)) => (Some(amount.dec()), None),
            OrderType::TrailingStop(Trail::Percent(rate)) => (None, Some(convert::bps_to_percent(rate))),
            _ => (None, None),
        };
        let inserted: Option<OrderRow> = sqlx::query_as(&format!(
            "insert into \"order\" (account, strategy, client_order_id, symbol, side, order_type, limit_price,
                time_in_force, qty, status, reject_reason, venue, instance_id, fencing_token, signal_id, owner_epoch,
                stop_price, trail_amount, trail_percent, reduce_only, emulated)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
             on conflict (account, client_order_id) do nothing
             returning {ORDER_COLUMNS}"
        ))
        .bind(&order.account)
        .bind(&order.strategy)
        .bind(&order.client_order_id)
        .bind(&order.symbol)
        .bind(side_code(order.side))
        .bind(order.order_type.code())
        .bind(order.order_type.limit_price().map(ToDecimal::dec))
        .bind(tif_code(order.time_in_force))
        .bind(order.qty.dec())
        .bind(status.code())
        .bind(reason)
        .bind(self.venues.route(&order.account).0)
        .bind(&*self.instance_id)
        .bind(order.lease.map(|l| l.fencing_token))
        .bind(order.signal_id)
        .bind(self.epoch())
        .bind(order.order_type.stop_price().map(ToDecimal::dec))
        .bind(trail_amount)
        .bind(trail_percent)
        .bind(order.reduce_only)
        .bind(emulated)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = inserted else {
            // A concurrent request with the same client order id won the insert.
            let existing = find_by_client_id(tx, &order.account, &order.client_order_id)
                .await?
                .ok_or_else(|| OmsError::Corrupt("order vanished after a conflict".into()))?;
            return Ok(WriteOutcome::Existing(existing));
        };
        let event = if status == OrderStatus::Rejected { "risk_rejected" } else { "created" };
        let detail = serde_json::json!({"reason": reason});
        record_event(tx, &row, event, None, status.code(), Some(detail)).await?;
        if let (Some(bracket), false) = (order.bracket, status == OrderStatus::Rejected) {
            self.write_bracket(tx, &row, order, bracket).await?;
        }
        Ok(WriteOutcome::Created(row))
    }

    /// Cancels an order: `pending_new` orders are cancelled at once, working ones go to
    /// `pending_cancel` and the venue confirms.
    pub async fn cancel(&self, order_id: i64, by: &str) -> Result<OrderRow, OmsError> {
        let mut tx = self.pool.begin().await?;
        let row = lock_order(&mut tx, order_id).await?;
        let mut state = row.state()?;
        let unsent = matches!(state.status, OrderStatus::PendingNew | OrderStatus::Held);
        let event = if unsent { OrderEvent::Cancelled } else { OrderEvent::CancelRequested };
        if state.status == OrderStatus::PendingCancel {
            tx.rollback().await?;
            return Ok(row);
        }
        let next = state.apply(event).map_err(|_| OmsError::NotCancellable(order_id, row.status.clone()))?;
        let updated = update_status(&mut tx, &row, &state, None).await?;
        record_event(&mut tx, &row, event.code(), Some(&row.status), next.code(), Some(serde_json::json!({"by": by})))
            .await?;
        let settled = self.settle_contingent(&mut tx, &row, next, state.filled, false).await?;
        tx.commit().await?;
        self.after_settled(settled).await;
        // The venue is told unless the engine held the order: a pending_new order may be on
        // its way to it.
        if row.status == OrderStatus::Held.code() {
            return Ok(updated);
        }
        if let Some(venue) = self.venue_of(&row) {
            venue.cancel(order_id, &row.symbol).await;
        }
        Ok(updated)
    }

    /// Amends a working order with nothing filled (cancel/replace): its amendment, a new order
    /// with the new quantity and limit price (client order id `amend-<order id>`), is written
    /// through the same checks as any order (risk, halts, kill switch); the order goes to
    /// `pending_replace` and the venue replaces it, or refuses and it works on. A repeated
    /// request returns the amendment already written.
    ///
    /// # Errors
    /// [`OmsError::NotAmendable`] unless the order is `new`; [`OmsError::Invalid`] for an amend
    /// that changes nothing or gives a market order a limit price.
    pub async fn replace(
        &self,
        order_id: i64,
        qty: Option<Qty>,
        limit_price: Option<domain::Price>,
        by: &str,
    ) -> Result<WriteOutcome, OmsError> {
        let mut tx = self.pool.begin().await?;
        let row = lock_order(&mut tx, order_id).await?;
        let client_order_id = format!("amend-{order_id}");
        if let Some(existing) = find_by_client_id(&mut tx, &row.account, &client_order_id).await? {
            return Ok(WriteOutcome::Existing(existing));
        }
        let mut state = row.state()?;
        if state.status != OrderStatus::New {
            return Err(OmsError::NotAmendable(order_id, row.status.clone()));
        }
        if !matches!(row.order_type.as_str(), "market" | "limit") {
            return Err(OmsError::Invalid(format!(
                "a {} order cannot be amended; cancel it and place another",
                row.order_type
            )));
        }
        let old_limit = row.limit_price.map(convert::price).transpose()?;
        let order_type = match (old_limit, limit_price) {
            (None, Some(_)) => return Err(OmsError::Invalid("a market order has no limit price to amend".into())),
            (_, Some(price)) => OrderType::Limit(price),
            (Some(price), None) => OrderType::Limit(price),
            (None, None) => OrderType::Market,
        };
        let new_qty = qty.unwrap_or(state.qty);
        if !new_qty.is_positive() {
            return Err(OmsError::Invalid("qty must be positive".into()));
        }
        if new_qty == state.qty && limit_price.is_none_or(|p| Some(p) == old_limit) {
            return Err(OmsError::Invalid("the amend changes nothing".into()));
        }
        let instrument = self.market.instruments.id(&row.symbol);
        let time_in_force = row.open_intent(instrument)?.time_in_force;
        let amendment = NewOrder {
            account: row.account.clone(),
            strategy: row.strategy.clone(),
            client_order_id,
            symbol: row.symbol.clone(),
            side: if row.side == "buy" { Side::Buy } else { Side::Sell },
            qty: new_qty,
            order_type,
            time_in_force,
            reduce_only: row.reduce_only,
            signal_id: row.signal_id,
            lease: None,
            bypass_halt: false,
            emulate: false,
            bracket: None,
        };
        let outcome = self.write(&mut tx, &amendment).await?;
        let WriteOutcome::Created(child) = outcome else {
            tx.commit().await?;
            return Ok(outcome);
        };
        if child.status != OrderStatus::PendingNew.code() {
            // Refused by risk: recorded, and the order works on unchanged.
            tx.commit().await?;
            let outcome = WriteOutcome::Created(child);
            self.after_commit(&outcome).await;
            return Ok(outcome);
        }
        let child: OrderRow = sqlx::query_as(&format!(
            "update \"order\" set replaces = $2 where order_id = $1 returning {ORDER_COLUMNS}"
        ))
        .bind(child.order_id)
        .bind(order_id)
        .fetch_one(&mut *tx)
        .await?;
        let next = state.apply(OrderEvent::ReplaceRequested)?;
        update_status(&mut tx, &row, &state, None).await?;
        let detail = serde_json::json!({"by": by, "amendment": child.order_id, "qty": new_qty.dec().normalize(),
                                        "limit_price": limit_price.map(|p| p.dec().normalize())});
        record_event(&mut tx, &row, OrderEvent::ReplaceRequested.code(), Some(&row.status), next.code(), Some(detail))
            .await?;
        tx.commit().await?;
        crate::metrics::order_submitted();
        crate::metrics::order_state(next.code());
        if let (Some(venue), Ok(intent)) = (self.venue_of(&row), child.open_intent(instrument)) {
            let symbol = std::sync::Arc::from(child.symbol.as_str());
            let tick = self.paper_tick(venue, &child.symbol).await;
            venue
                .replace(order_id, VenueOrder { order_id: child.order_id, symbol, intent, tick, oco_group: None })
                .await;
        }
        Ok(WriteOutcome::Created(child))
    }

    /// Applies venue events until the channel closes or `stop`; at `stop` the events already
    /// queued are still applied.
    pub async fn run_events(self, mut events: mpsc::Receiver<VenueEvent>, stop: tokio_util::sync::CancellationToken) {
        loop {
            let event = tokio::select! {
                e = events.recv() => e,
                () = stop.cancelled() => events.try_recv().ok(),
            };
            let Some(event) = event else { return };
            let mut attempt = 0;
            loop {
                match self.apply(&event).await {
                    Ok(()) => break,
                    Err(OmsError::Db(e)) if attempt < 20 && !stop.is_cancelled() => {
                        attempt += 1;
                        tracing::warn!(error = %e, order_id = event.order_id, attempt, "applying a venue event failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, order_id = event.order_id, kind = ?event.kind, "venue event not applied");
                        break;
                    }
                }
            }
        }
    }

    /// Applies one venue event in a transaction: the order's state, its event log, and for fills
    /// the fill row and the position.
    pub async fn apply(&self, event: &VenueEvent) -> Result<(), OmsError> {
        let mut tx = self.pool.begin().await?;
        let LockedOrder { order: row, owner_epoch } = sqlx::query_as(&format!(
            "select {ORDER_COLUMNS}, owner_epoch from \"order\" where order_id = $1 for update"
        ))
        .bind(event.order_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(OmsError::NotFound(event.order_id))?;
        let per_process = self.venues.named(&row.venue).is_some_and(Venue::is_per_process);
        if per_process && !self.owns(&row, owner_epoch) {
            // This process's own book produced the event, but the order is no longer ours: it was
            // adopted by another instance (which re-sent it to its book) or a newer process under
            // our id resumed it. Booking it here would execute the order twice.
            tx.rollback().await?;
            return Err(OmsError::NotOwner(event.order_id));
        }
        if matches!(event.kind, VenueEventKind::Bust { .. } | VenueEventKind::Correct { .. }) {
            return self.restate(tx, row, event).await;
        }
        let mut state = row.state()?;
        // A fill or cancel can overtake the acknowledgement; the order was accepted then.
        if state.status == OrderStatus::PendingNew
            && matches!(event.kind, VenueEventKind::Fill { .. } | VenueEventKind::CancelRejected)
        {
            state.apply(OrderEvent::Accepted)?;
            record_event(&mut tx, &row, "accepted", Some(&row.status), state.status.code(), None).await?;
        }
        let (domain_event, detail) = match &event.kind {
            VenueEventKind::Accepted => (OrderEvent::Accepted, None),
            VenueEventKind::Rejected { reason } => (OrderEvent::Rejected, Some(serde_json::json!({"reason": reason}))),
            VenueEventKind::Cancelled => (OrderEvent::Cancelled, None),
            VenueEventKind::CancelRejected => (OrderEvent::CancelRejected, None),
            VenueEventKind::Expired => (OrderEvent::Expired, None),
            VenueEventKind::Fill { qty, .. } => (OrderEvent::Fill { qty: *qty }, None),
            VenueEventKind::Replaced => (OrderEvent::Replaced, None),
            VenueEventKind::ReplaceRejected { reason } => {
                (OrderEvent::ReplaceRejected, Some(serde_json::json!({"reason": reason})))
            }
            VenueEventKind::Bust { .. } | VenueEventKind::Correct { .. } => {
                return Err(OmsError::Invalid("a restatement is booked by restate".into()))
            }
        };
        let from = state.status;
        let next = state.apply(domain_event)?;
        let mut avg_price = row.avg_fill_price;
        let mut fill_detail = detail;
        let mut charged = domain::Money::ZERO;
        if let VenueEventKind::Fill { exec_id, qty, price, fee, cum_fee, ts } = &event.kind {
            charged = match cum_fee {
                // The order row is locked: no other fill of it is being booked meanwhile.
                Some(total) => {
                    let booked: Decimal =
                        sqlx::query_scalar("select coalesce(sum(fee), 0) from fill where order_id = $1")
                            .bind(row.order_id)
                            .fetch_one(&mut *tx)
                            .await?;
                    convert::money((total.dec() - booked).max(Decimal::ZERO))?
                }
                None => *fee,
            };
            let inserted = self.record_fill(&mut tx, &row, exec_id, *qty, *price, charged, *ts).await?;
            if !inserted {
                // Replayed execution: already applied.
                tx.rollback().await?;
                return Ok(());
            }
            let before = convert::qty(row.filled_qty)?;
            let notional_before = avg_price.unwrap_or_default() * before.dec();
            let total = state.filled.dec();
            avg_price = Some(((notional_before + price.dec() * qty.dec()) / total).round_dp(8));
            fill_detail = Some(serde_json::json!({"exec_id": exec_id, "qty": qty.dec(), "price": price.dec()}));
        }
        let reason = match &event.kind {
            VenueEventKind::Rejected { reason } => Some(reason.as_str()),
            _ => None,
        };
        sqlx::query(
            "update \"order\" set status = $2, filled_qty = $3, avg_fill_price = $4,
                    reject_reason = coalesce($5, reject_reason), updated_at = now()
              where order_id = $1",
        )
        .bind(row.order_id)
        .bind(next.code())
        .bind(state.filled.dec())
        .bind(avg_price)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        if event.reconciled {
            // Found by asking the venue: flagged on the order's event and audited.
            let mut detail = fill_detail.take().unwrap_or_else(|| serde_json::json!({}));
            detail["reconciliation"] = serde_json::json!(true);
            let action = format!("reconciliation.{}", domain_event.code());
            let target = format!("order/{}", row.order_id);
            crate::audit::record(&mut tx, crate::reconcile::ACTOR, &action, &target, detail.clone()).await?;
            fill_detail = Some(detail);
        }
        record_event(&mut tx, &row, domain_event.code(), Some(from.code()), next.code(), fill_detail).await?;
        settle_amendment(&mut tx, &row, from, next, &event.kind).await?;
        let filled_now = matches!(event.kind, VenueEventKind::Fill { .. });
        let settled = self.settle_contingent(&mut tx, &row, next, state.filled, filled_now).await?;
        tx.commit().await?;
        self.after_settled(settled).await;
        if next != from {
            crate::metrics::order_state(next.code());
        }
        if let VenueEventKind::Fill { qty, price, ts, .. } = &event.kind {
            crate::metrics::fill(&row.account);
            let side = if row.side == "buy" { Side::Buy } else { Side::Sell };
            let instrument = self.market.instruments.id(&row.symbol);
            let fill = domain::Fill { instrument, side, qty: *qty, price: *price, fee: charged, ts: *ts };
            let _ = self.fills.send(BookedFill {
                account: row.account.clone(),
                strategy: row.strategy.clone(),
                symbol: row.symbol.clone(),
                fill,
            });
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn record_fill(
        &self,
        tx: &mut PgConnection,
        order: &OrderRow,
        exec_id: &str,
        qty: Qty,
        price: domain::Price,
        fee: domain::Money,
        ts: domain::Timestamp,
    ) -> Result<bool, OmsError> {
        let side = if order.side == "buy" { Side::Buy } else { Side::Sell };
        // The row must exist before it is locked: `for update` on a missing row locks nothing,
        // and two first fills of a new position would both start from flat, the second write
        // overwriting the first. The insert makes a concurrent first fill wait on this
        // transaction's row, then see it. (A replayed fill rolls the whole transaction back.)
        sqlx::query(
            "insert into position (account, strategy, symbol, qty, cost_basis, realized_pnl, fees)
             values ($1, $2, $3, 0, 0, 0, 0) on conflict (account, strategy, symbol) do nothing",
        )
        .bind(&order.account)
        .bind(&order.strategy)
        .bind(&order.symbol)
        .execute(&mut *tx)
        .await?;
        let instrument = self.market.instruments.id(&order.symbol);
        let mut position = lock_position(tx, order, instrument).await?;
        let fill = domain::Fill { instrument, side, qty, price, fee, ts };
        let realized = position.apply_fill(&fill).map_err(|e| OmsError::Corrupt(e.to_string()))?;
        let inserted = sqlx::query(
            "insert into fill (order_id, account, strategy, symbol, side, qty, price, fee, realized_pnl, venue, exec_id, ts)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             on conflict (venue, exec_id) do nothing",
        )
        .bind(order.order_id)
        .bind(&order.account)
        .bind(&order.strategy)
        .bind(&order.symbol)
        .bind(&order.side)
        .bind(qty.dec())
        .bind(price.dec())
        .bind(fee.dec())
        .bind(realized.dec())
        .bind(&order.venue)
        .bind(exec_id)
        .bind(crate::market::to_datetime(ts))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        store_position(tx, order, &position).await?;
        Ok(true)
    }

    /// Whether this process owns `order`: written, resumed or adopted under this instance id,
    /// by this process or an earlier one (a later epoch means a newer process under our id).
    fn owns(&self, order: &OrderRow, owner_epoch: Option<i64>) -> bool {
        order.instance_id.as_deref() == Some(&*self.instance_id) && owner_epoch.is_none_or(|e| e <= self.epoch())
    }

    /// Registers this process under its instance id with a new epoch, superseding any earlier
    /// process under the same id (a restart within the lease TTL included), and resumes that
    /// id's open orders at once: they are re-sent to this process's book (paper) or reconciled
    /// with the broker. Returns how many orders were resumed.
    pub async fn register(&self) -> Result<usize, OmsError> {
        let epoch: i64 = sqlx::query_scalar(
            "insert into engine_instance (instance_id) values ($1)
             on conflict (instance_id) do update
               set epoch = engine_instance.epoch + 1, started_at = now(), heartbeat_at = now(),
                   alive_since = now(), stopped_at = null
             returning epoch",
        )
        .bind(&*self.instance_id)
        .fetch_one(&self.pool)
        .await?;
        self.epoch.store(epoch, Ordering::Release);
        tracing::info!(instance = %self.instance_id, epoch, "engine instance registered");
        let resumed: Vec<OrderRow> = sqlx::query_as(&format!(
            "update \"order\" set owner_epoch = $2, updated_at = now()
              where instance_id = $1 and status = any($3) and venue = any($4)
             returning {ORDER_COLUMNS}"
        ))
        .bind(&*self.instance_id)
        .bind(epoch)
        .bind(&OPEN_STATUSES[..])
        .bind(self.venues.names())
        .fetch_all(&self.pool)
        .await?;
        for order in &resumed {
            tracing::info!(order_id = order.order_id, status = %order.status, "resumed an open order of this instance id");
        }
        self.take_over(&resumed).await?;
        Ok(resumed.len())
    }

    /// Heart-beats under this process's epoch. `Ok(false)` means this process was fenced:
    /// another instance declared it gone and adopted its orders, or a newer process registered
    /// under the same id. `ttl` is the lease TTL: a heartbeat after a longer gap (an outage)
    /// starts a new unbroken run, and with it a TTL before this instance may adopt anything.
    pub async fn heartbeat(&self, ttl: std::time::Duration) -> Result<bool, OmsError> {
        let beat = sqlx::query(
            "update engine_instance
                set alive_since = case when heartbeat_at < now() - make_interval(secs => $3)
                                       then now() else alive_since end,
                    heartbeat_at = now(), stopped_at = null
              where instance_id = $1 and epoch = $2",
        )
        .bind(&*self.instance_id)
        .bind(self.epoch())
        .bind(ttl.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(beat.rows_affected() == 1)
    }

    /// Takes over the open orders of instances that are provably gone, and re-sends them to
    /// this instance's venue (the paper venue keeps its book in memory). An instance is gone
    /// when it stopped cleanly, or when it missed every heartbeat for `stale_after` (the lease
    /// TTL) inside this instance's own unbroken run of heartbeats: when the database was
    /// unreachable for everyone, nobody's run covers the gap, so nobody adopts. Declaring an
    /// instance gone increments its epoch, fencing it: should it come back, its heartbeat
    /// reports it fenced and its book's late events for these orders are refused.
    /// Orders still `pending_new` are sent for the first time: the write-ahead guarantees they
    /// were never lost, and their client order id guarantees they are not duplicated.
    pub async fn adopt_orphans(&self, stale_after: std::time::Duration) -> Result<usize, OmsError> {
        let adopted: Vec<OrderRow> = sqlx::query_as(&format!(
            "with me as (
                 select alive_since from engine_instance where instance_id = $1 and epoch = $5
             ),
             owners as (
                 select distinct o.instance_id from \"order\" o
                  where o.status = any($2) and o.venue = any($3) and o.instance_id is distinct from $1
             ),
             gone as (
                 update engine_instance i set epoch = i.epoch + 1
                   from me, owners
                  where i.instance_id = owners.instance_id
                    and (i.stopped_at is not null
                         or greatest(i.heartbeat_at, me.alive_since) < now() - make_interval(secs => $4))
                 returning i.instance_id
             )
             update \"order\" o set instance_id = $1, owner_epoch = $5, updated_at = now()
               from me
              where o.status = any($2) and o.venue = any($3) and o.instance_id is distinct from $1
                and (o.instance_id in (select instance_id from gone)
                     or o.instance_id is null
                     or not exists (select 1 from engine_instance i where i.instance_id = o.instance_id))
             returning {}",
            ORDER_COLUMNS.split(", ").map(|c| format!("o.{c}")).collect::<Vec<_>>().join(", ")
        ))
        .bind(&*self.instance_id)
        .bind(&OPEN_STATUSES[..])
        .bind(self.venues.names())
        .bind(stale_after.as_secs_f64())
        .bind(self.epoch())
        .fetch_all(&self.pool)
        .await?;
        for order in &adopted {
            tracing::info!(order_id = order.order_id, status = %order.status, "adopted an open order of a stopped instance");
        }
        self.take_over(&adopted).await?;
        Ok(adopted.len())
    }

    /// Brings orders this process just took ownership of in line with its venue.
    async fn take_over(&self, orders: &[OrderRow]) -> Result<(), OmsError> {
        for order in orders {
            let per_process = self.venues.named(&order.venue).is_some_and(Venue::is_per_process);
            if order.status == OrderStatus::PendingCancel.code() && per_process {
                self.apply(&VenueEvent { order_id: order.order_id, kind: VenueEventKind::Cancelled, reconciled: true })
                    .await?;
            } else if order.status == OrderStatus::PendingReplace.code() && per_process {
                // The lost book held it; its amendment, re-sent as pending_new, replaces it here.
                self.apply(&VenueEvent { order_id: order.order_id, kind: VenueEventKind::Replaced, reconciled: true })
                    .await?;
            } else {
                self.reconcile(order).await;
            }
        }
        Ok(())
    }

    /// Reconciles one open order with the venue (see [`Venue::reconcile`]). An amendment not
    /// yet acknowledged is never sent as a new order: while the order it replaces waits for the
    /// venue, that one is asked about instead (the venue's answer settles both).
    pub async fn reconcile(&self, order: &OrderRow) {
        if let (Some(parent), true) = (order.replaces, order.status == OrderStatus::PendingNew.code()) {
            match get_order(&self.pool, parent).await {
                Ok(Some(parent)) if parent.status == OrderStatus::PendingReplace.code() => {
                    return self.reconcile_one(&parent).await;
                }
                Ok(_) => {}
                Err(e) => return tracing::warn!(order_id = order.order_id, error = %e, "amendment not reconciled"),
            }
        }
        self.reconcile_one(order).await;
    }

    async fn reconcile_one(&self, order: &OrderRow) {
        let instrument = self.market.instruments.id(&order.symbol);
        let filled = match convert::qty(order.filled_qty) {
            Ok(filled) => filled,
            Err(e) => return tracing::error!(order_id = order.order_id, error = %e, "order cannot be reconciled"),
        };
        match order.open_intent(instrument) {
            Ok(intent) => {
                let symbol = std::sync::Arc::from(order.symbol.as_str());
                if let Some(venue) = self.venue_of(order) {
                    let acknowledged = order.status != OrderStatus::PendingNew.code();
                    let booked = crate::venue::Booked { filled, acknowledged };
                    let tick = self.paper_tick(venue, &order.symbol).await;
                    let oco_group = order.oco_group;
                    venue
                        .reconcile(VenueOrder { order_id: order.order_id, symbol, intent, tick, oco_group }, booked)
                        .await;
                }
            }
            Err(e) => tracing::error!(order_id = order.order_id, error = %e, "order cannot be reconciled"),
        }
    }

    /// Reconciles every open order at a venue shared by every instance (a broker account), so
    /// fills and cancels that happened while no engine listened are booked. Paper books are
    /// per process: adoption re-sends their orphaned orders instead. Only orders unchanged for
    /// `quiet_for` are asked about: one that just changed has its next events on the way, and
    /// asking about every busy order at each scheduled pass would cost the venue's rate limit
    /// and the engine's time exactly when it is busiest (start-up and reconnects pass zero).
    ///
    /// `changed_before` bounds it further: at start-up, the process's start (orders this process
    /// wrote since are being sent by it); after a reconnect, when the stream asked to listen
    /// (orders changed since have their events on the new stream). Without the bound, an order
    /// placed a moment after the (re)start would be looked up, and re-sent, while its own
    /// submission still waits out a `Retry-After`.
    pub async fn reconcile_all_open(
        &self,
        quiet_for: std::time::Duration,
        changed_before: Option<DateTime<Utc>>,
    ) -> Result<usize, OmsError> {
        let shared: Vec<String> = self.venues.shared().into_iter().map(|(name, _)| name.to_owned()).collect();
        if shared.is_empty() {
            return Ok(0);
        }
        let open: Vec<OrderRow> = sqlx::query_as(&format!(
            "select {ORDER_COLUMNS} from \"order\"
              where status = any($1) and venue = any($2) and updated_at <= now() - make_interval(secs => $3)
                and ($4::timestamptz is null or updated_at <= $4)
              order by order_id"
        ))
        .bind(&OPEN_STATUSES[..])
        .bind(&shared)
        .bind(quiet_for.as_secs_f64())
        .bind(changed_before)
        .fetch_all(&self.pool)
        .await?;
        for order in &open {
            self.reconcile(order).await;
        }
        Ok(open.len())
    }

    /// Orders of this instance written but never sent (e.g. the process stopped between the
    /// commit and the send) are re-sent at start-up by [`Self::adopt_orphans`] of the next owner.
    pub async fn open_orders(&self, filter_instance: bool) -> Result<Vec<OrderRow>, OmsError> {
        let rows = sqlx::query_as(&format!(
            "select {ORDER_COLUMNS} from \"order\" where status = any($1) and ($2 = false or instance_id = $3) order by order_id"
        ))
        .bind(&OPEN_STATUSES[..])
        .bind(filter_instance)
        .bind(&*self.instance_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}

/// Loads an order by id and locks its row for the rest of `tx`.
async fn lock_order(tx: &mut PgConnection, order_id: i64) -> Result<OrderRow, OmsError> {
    sqlx::query_as(&format!("select {ORDER_COLUMNS} from \"order\" where order_id = $1 for update"))
        .bind(order_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(OmsError::NotFound(order_id))
}

/// The position `order` books into, locked for the rest of `tx` (flat when it has no row).
async fn lock_position(
    tx: &mut PgConnection,
    order: &OrderRow,
    instrument: InstrumentId,
) -> Result<Position, OmsError> {
    let stored: Option<(Decimal, Decimal, Decimal, Decimal)> = sqlx::query_as(
        "select qty, cost_basis, realized_pnl, fees from position
          where account = $1 and strategy = $2 and symbol = $3 for update",
    )
    .bind(&order.account)
    .bind(&order.strategy)
    .bind(&order.symbol)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match stored {
        Some((q, cost, realized, fees)) => Position::from_parts(
            instrument,
            convert::qty(q)?,
            convert::money(cost)?,
            convert::money(realized)?,
            convert::money(fees)?,
        ),
        None => Position::flat(instrument),
    })
}

/// Stores `position` as the one `order` books into.
async fn store_position(tx: &mut PgConnection, order: &OrderRow, position: &Position) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into position (account, strategy, symbol, qty, cost_basis, realized_pnl, fees)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (account, strategy, symbol) do update
           set qty = excluded.qty, cost_basis = excluded.cost_basis, realized_pnl = excluded.realized_pnl,
               fees = excluded.fees, updated_at = now()",
    )
    .bind(&order.account)
    .bind(&order.strategy)
    .bind(&order.symbol)
    .bind(position.qty().dec())
    .bind(position.cost_basis().dec())
    .bind(position.realized_pnl().dec())
    .bind(position.fees().dec())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Loads an order by id.
pub async fn get_order(pool: &PgPool, order_id: i64) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {ORDER_COLUMNS} from \"order\" where order_id = $1"))
        .bind(order_id)
        .fetch_optional(pool)
        .await
}

/// The column list of [`OrderRow`], for queries elsewhere.
pub fn order_columns() -> &'static str {
    ORDER_COLUMNS
}

async fn find_by_client_id(
    tx: &mut PgConnection,
    account: &str,
    client_order_id: &str,
) -> Result<Option<OrderRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {ORDER_COLUMNS} from \"order\" where account = $1 and client_order_id = $2"))
        .bind(account)
        .bind(client_order_id)
        .fetch_optional(&mut *tx)
        .await
}

async fn update_status(
    tx: &mut PgConnection,
    row: &OrderRow,
    state: &OrderState,
    reason: Option<&str>,
) -> Result<OrderRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "update \"order\" set status = $2, reject_reason = coalesce($3, reject_reason), updated_at = now()
          where order_id = $1 returning {ORDER_COLUMNS}"
    ))
    .bind(row.order_id)
    .bind(state.status.code())
    .bind(reason)
    .fetch_one(&mut *tx)
    .await
}

/// Keeps an amendment and the order it replaces consistent, in the transaction that moved
/// `row` from `from` to `next`: an order that leaves `pending_replace` other than by being
/// replaced (the venue refused the amend, or it filled, was cancelled or expired first) takes
/// its unacknowledged amendment with it, rejected; an amendment the venue rejects puts the
/// order it was to replace back to working.
async fn settle_amendment(
    tx: &mut PgConnection,
    row: &OrderRow,
    from: OrderStatus,
    next: OrderStatus,
    kind: &VenueEventKind,
) -> Result<(), OmsError> {
    if from == OrderStatus::PendingReplace && !matches!(next, OrderStatus::PendingReplace | OrderStatus::Replaced) {
        let child: Option<OrderRow> = sqlx::query_as(&format!(
            "select {ORDER_COLUMNS} from \"order\" where replaces = $1 and status = 'pending_new' for update"
        ))
        .bind(row.order_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(child) = child {
            let why = match kind {
                VenueEventKind::ReplaceRejected { reason } => format!("amend refused: {reason}"),
                _ => format!("amend not applied: order {} is {}", row.order_id, next.code()),
            };
            let mut state = child.state()?;
            state.apply(OrderEvent::Rejected)?;
            update_status(tx, &child, &state, Some(&why)).await?;
            record_event(
                tx,
                &child,
                "rejected",
                Some(&child.status),
                state.status.code(),
                Some(serde_json::json!({"reason": why})),
            )
            .await?;
        }
    }
    if let (Some(parent), VenueEventKind::Rejected { reason }) = (row.replaces, kind) {
        let parent: Option<OrderRow> = sqlx::query_as(&format!(
            "select {ORDER_COLUMNS} from \"order\" where order_id = $1 and status = 'pending_replace' for update"
        ))
        .bind(parent)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(parent) = parent {
            let mut state = parent.state()?;
            state.apply(OrderEvent::ReplaceRejected)?;
            update_status(tx, &parent, &state, None).await?;
            let detail = serde_json::json!({"reason": format!("amendment {} rejected: {reason}", row.order_id)});
            record_event(tx, &parent, "replace_rejected", Some(&parent.status), state.status.code(), Some(detail))
                .await?;
        }
    }
    Ok(())
}

async fn record_event(
    tx: &mut PgConnection,
    row: &OrderRow,
    event: &str,
    from: Option<&str>,
    to: &str,
    detail: Option<serde_json::Value>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into order_event (order_id, account, strategy, event, from_status, to_status, detail)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(row.order_id)
    .bind(&row.account)
    .bind(&row.strategy)
    .bind(event)
    .bind(from)
    .bind(to)
    .bind(detail)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// `buy` / `sell`.
pub const fn side_code(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

/// `gtc` / `ioc` / `day` / `fok`.
pub const fn tif_code(tif: TimeInForce) -> &'static str {
    match tif {
        TimeInForce::Gtc => "gtc",
        TimeInForce::Ioc => "ioc",
        TimeInForce::Day => "day",
        TimeInForce::Fok => "fok",
    }
}
