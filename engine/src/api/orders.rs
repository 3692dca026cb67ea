//! Orders: list (filters, paging), get with its event log, place manually, cancel, amend.

use axum::{
    extract::State,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use chrono::{DateTime, Utc};
use domain::{OrderType, Side, TimeInForce, Trail};
use platform::http::{validate, ApiError, ApiJson, ApiPath, ApiQuery};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    auth::Caller,
    convert,
    oms::{self, NewOrder, OrderRow, WriteOutcome},
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orders", get(list).post(place))
        .route("/api/v1/orders/{order_id}", get(get_one))
        .route("/api/v1/orders/{order_id}/cancel", post(cancel))
        .route("/api/v1/orders/{order_id}/replace", post(replace))
}

/// Order filters and paging (newest first).
#[derive(Debug, Deserialize, IntoParams)]
pub struct OrderQuery {
    /// Account.
    pub account: Option<String>,
    /// Strategy name.
    pub strategy: Option<String>,
    /// Symbol.
    pub symbol: Option<String>,
    /// Status.
    pub status: Option<String>,
    /// Orders with an id below this (the previous page's `next_before`).
    pub before: Option<i64>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<i64>,
    /// Orders created at or after this time (RFC 3339).
    #[param(value_type = Option<String>)]
    pub from: Option<DateTime<Utc>>,
    /// Orders created before this time (RFC 3339).
    #[param(value_type = Option<String>)]
    pub until: Option<DateTime<Utc>>,
}

/// A page of orders.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    /// Orders, newest first.
    pub orders: Vec<OrderRow>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<i64>,
}

/// List orders.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(OrderQuery), security(("bearer" = [])),
    responses((status = 200, body = OrderPage)))]
pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<OrderQuery>,
) -> Result<Json<OrderPage>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("invalid_limit", "limit must be between 1 and 1000"));
    }
    let (from, until) = super::time_range(q.from, q.until)?;
    let orders: Vec<OrderRow> = sqlx::query_as(&format!(
        "select {} from \"order\"
          where ($1::text is null or account = $1) and ($2::text is null or strategy = $2)
            and ($3::text is null or symbol = $3) and ($4::text is null or status = $4)
            and ($5::bigint is null or order_id < $5)
            and ($7::timestamptz is null or created_at >= $7) and ($8::timestamptz is null or created_at < $8)
          order by order_id desc limit $6",
        oms::order_columns()
    ))
    .bind(&q.account)
    .bind(&q.strategy)
    .bind(q.symbol.as_ref().map(|s| s.to_ascii_uppercase()))
    .bind(&q.status)
    .bind(q.before)
    .bind(limit)
    .bind(from)
    .bind(until)
    .fetch_all(&state.pool)
    .await?;
    let next_before = (orders.len() as i64 == limit).then(|| orders.last().map(|o| o.order_id)).flatten();
    Ok(Json(OrderPage { orders, next_before }))
}

/// One entry of an order's event log.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct OrderEventRow {
    /// Event id.
    pub event_id: i64,
    /// `created`, `risk_rejected`, `accepted`, `fill`, `cancel_requested`, `cancelled`, ...
    pub event: String,
    /// Status before.
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: String,
    /// Details (fill price and quantity, reasons).
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
    /// When.
    pub ts: DateTime<Utc>,
}

/// An order with its events.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    /// The order.
    #[serde(flatten)]
    pub order: OrderRow,
    /// Its transitions, oldest first.
    pub events: Vec<OrderEventRow>,
}

/// Get an order and its events.
#[utoipa::path(get, path = "/api/v1/orders/{order_id}", tag = "orders", params(("order_id" = i64, Path)),
    security(("bearer" = [])), responses((status = 200, body = OrderDetail), (status = 404, description = "no such order")))]
pub async fn get_one(
    State(state): State<AppState>,
    ApiPath(order_id): ApiPath<i64>,
) -> Result<Json<OrderDetail>, ApiError> {
    let order = oms::get_order(&state.pool, order_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("order {order_id} not found")))?;
    let events = sqlx::query_as(
        "select event_id, event, from_status, to_status, detail, ts from order_event where order_id = $1 order by event_id",
    )
    .bind(order_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(OrderDetail { order, events }))
}

/// A manual order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// Account.
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1f\x7f\s]([^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$")]
    pub account: String,
    /// Symbol.
    #[schema(min_length = 1, max_length = 32, pattern = r"^[^\x00-\x1f\x7f\s]([^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$")]
    pub symbol: String,
    /// `buy` or `sell`.
    #[schema(value_type = String)]
    pub side: Side,
    /// Quantity (decimal string, at most 8 decimals).
    #[schema(value_type = String, pattern = r"^[0-9]{1,11}(\.[0-9]{1,8})?$")]
    pub qty: Decimal,
    /// `market` (default, or `limit` when a limit price is given), `limit`, `stop` (a market
    /// order once a trade reaches `stop_price`), `stop_limit` (a limit order at `limit_price`
    /// once a trade reaches `stop_price`) or `trailing_stop` (a stop `trail_amount` or
    /// `trail_percent` from the best price since it was placed).
    #[serde(default)]
    pub order_type: Option<String>,
    /// Limit price, for limit and stop-limit orders.
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{1,11}(\.[0-9]{1,8})?$")]
    pub limit_price: Option<Decimal>,
    /// Trigger price, for stop and stop-limit orders: a buy stop triggers at or above it, a sell
    /// stop at or below.
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{1,11}(\.[0-9]{1,8})?$")]
    pub stop_price: Option<Decimal>,
    /// A trailing stop's distance from the best price, as a price amount.
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{1,11}(\.[0-9]{1,8})?$")]
    pub trail_amount: Option<Decimal>,
    /// A trailing stop's distance from the best price, in percent (`1.5` = 1.5 %, above 0 and
    /// below 100, at most 4 decimals).
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{1,2}(\.[0-9]{1,4})?$")]
    pub trail_percent: Option<Decimal>,
    /// The order may only bring the position closer to flat; one that would open, grow or flip
    /// it is rejected with `reduce_only`.
    #[serde(default)]
    pub reduce_only: bool,
    /// Hold a stop at the engine (status `held`) until a trade triggers it, then send the market
    /// or limit order it becomes, even where the venue takes the type natively (one it does not
    /// take is always held). A held stop is not shown to the market and survives the restart or
    /// loss of the engine that placed it: every engine watches held stops.
    #[serde(default)]
    pub emulate: bool,
    /// Bracket: a take-profit limit price for the closing leg. The legs wait at the engine
    /// (`held`) until this entry is done, then work for what it filled as a one-cancels-other
    /// pair; an entry that fills nothing cancels them.
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{1,11}(\.[0-9]{1,8})?$")]
    pub take_profit: Option<Decimal>,
    /// Bracket: a stop-loss stop price for the closing leg (see `take_profit`).
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{1,11}(\.[0-9]{1,8})?$")]
    pub stop_loss: Option<Decimal>,
    /// `gtc` (default), `ioc`, `day` or `fok` (fill whole at once or cancel).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub time_in_force: Option<TimeInForce>,
    /// Idempotency key, unique per account; a retry with the same key returns the same order.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1f\x7f\s]([^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$"
    )]
    pub client_order_id: String,
    /// Strategy to book it under (default `manual`).
    #[schema(max_length = 64)]
    pub strategy: Option<String>,
}

/// Place an order. 201 with the new order (its `status` is `rejected` with a `reject_reason`
/// when a risk check refused it); 200 with the original order when `client_order_id` was used.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", request_body = PlaceOrder, security(("bearer" = [])),
    responses((status = 201, body = OrderRow), (status = 200, body = OrderRow, description = "idempotent retry"),
              (status = 422, description = "invalid order")))]
pub async fn place(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<PlaceOrder>,
) -> Result<(StatusCode, Json<OrderRow>), ApiError> {
    let invalid = |m: String| ApiError::unprocessable("invalid_order", m);
    let qty = convert::qty(req.qty).map_err(|e| invalid(format!("qty: {e}")))?;
    if !qty.is_positive() {
        return Err(invalid("qty must be greater than zero".into()));
    }
    let order_type = order_type_of(&req).map_err(invalid)?;
    if req.emulate && !order_type.is_stop() {
        return Err(invalid(format!("only stop orders are emulated, not a {} order", order_type.code())));
    }
    let leg = |name: &str, value: Option<Decimal>| -> Result<Option<domain::Price>, ApiError> {
        match value {
            None => Ok(None),
            Some(v) if v > Decimal::ZERO => convert::price(v).map(Some).map_err(|e| invalid(format!("{name}: {e}"))),
            Some(_) => Err(invalid(format!("{name} must be greater than zero"))),
        }
    };
    let (take_profit, stop_loss) = (leg("take_profit", req.take_profit)?, leg("stop_loss", req.stop_loss)?);
    let bracket = match (take_profit, stop_loss) {
        (None, None) => None,
        _ if req.reduce_only => return Err(invalid("a reduce-only order takes no bracket".into())),
        (Some(tp), Some(sl)) if (req.side == Side::Buy) != (tp > sl) => {
            return Err(invalid(format!(
                "a {} bracket's take_profit must be {} its stop_loss",
                if req.side == Side::Buy { "buy" } else { "sell" },
                if req.side == Side::Buy { "above" } else { "below" }
            )))
        }
        (take_profit, stop_loss) => Some(domain::Bracket { take_profit, stop_loss }),
    };
    let symbol = req.symbol.trim().to_ascii_uppercase();
    if symbol.is_empty() || req.account.trim().is_empty() {
        return Err(invalid("account and symbol are required".into()));
    }
    validate::identifier("account", req.account.trim(), crate::api::ACCOUNT_MAX_CHARS)?;
    validate::identifier("symbol", &symbol, crate::api::SYMBOL_MAX_CHARS)?;
    validate::identifier("client_order_id", &req.client_order_id, 128)?;
    if let Some(strategy) = &req.strategy {
        validate::identifier("strategy", strategy, crate::api::STRATEGY_NAME_MAX_CHARS)?;
    }
    let order = NewOrder {
        account: req.account.trim().to_owned(),
        strategy: req.strategy.unwrap_or_else(|| "manual".to_owned()),
        client_order_id: req.client_order_id,
        symbol,
        side: req.side,
        qty,
        order_type,
        time_in_force: req.time_in_force.unwrap_or_default(),
        reduce_only: req.reduce_only,
        signal_id: None,
        lease: None,
        bypass_halt: false,
        emulate: req.emulate,
        bracket,
    };
    tracing::info!(actor = %caller.name, client_order_id = %order.client_order_id, "manual order");
    match state.oms.place(order).await? {
        WriteOutcome::Created(o) => Ok((StatusCode::CREATED, Json(o))),
        WriteOutcome::Existing(o) => Ok((StatusCode::OK, Json(o))),
    }
}

/// The order type a request asks for, with its prices, or what is wrong with it.
fn order_type_of(req: &PlaceOrder) -> Result<OrderType, String> {
    let positive = |name: &str, value: Option<Decimal>| -> Result<Option<domain::Price>, String> {
        match value {
            None => Ok(None),
            Some(v) if v > Decimal::ZERO => convert::price(v).map(Some).map_err(|e| format!("{name}: {e}")),
            Some(_) => Err(format!("{name} must be greater than zero")),
        }
    };
    let limit = positive("limit_price", req.limit_price)?;
    let stop = positive("stop_price", req.stop_price)?;
    let trail_amount = positive("trail_amount", req.trail_amount)?;
    let trail_percent = match req.trail_percent {
        None => None,
        Some(pct) => {
            let rate = convert::percent(pct).map_err(|_| "trail_percent: at most 4 decimals".to_owned())?;
            let trail = Trail::Percent(rate);
            if !trail.is_valid() {
                return Err("trail_percent must be above 0 and below 100".into());
            }
            Some(trail)
        }
    };
    let kind = req.order_type.as_deref().unwrap_or(if limit.is_some() { "limit" } else { "market" });
    let trail = match (trail_amount, trail_percent) {
        (Some(_), Some(_)) => return Err("give trail_amount or trail_percent, not both".into()),
        (Some(amount), None) => Some(Trail::Amount(amount)),
        (None, percent) => percent,
    };
    let unexpected = |field: &str| Err(format!("a {kind} order takes no {field}"));
    if kind != "trailing_stop" && trail.is_some() {
        return unexpected(if req.trail_amount.is_some() { "trail_amount" } else { "trail_percent" });
    }
    if !matches!(kind, "stop" | "stop_limit") && stop.is_some() {
        return unexpected("stop_price");
    }
    if !matches!(kind, "limit" | "stop_limit") && limit.is_some() {
        return unexpected("limit_price");
    }
    Ok(match (kind, limit, stop, trail) {
        ("market", ..) => OrderType::Market,
        ("limit", Some(limit), ..) => OrderType::Limit(limit),
        ("stop", _, Some(stop), _) => OrderType::Stop(stop),
        ("stop_limit", Some(limit), Some(stop), _) => OrderType::StopLimit { stop, limit },
        ("trailing_stop", _, _, Some(trail)) => OrderType::TrailingStop(trail),
        ("limit", ..) => return Err("a limit order needs a positive limit_price".into()),
        ("stop", ..) => return Err("a stop order needs a positive stop_price".into()),
        ("stop_limit", ..) => return Err("a stop_limit order needs a positive stop_price and limit_price".into()),
        ("trailing_stop", ..) => return Err("a trailing_stop order needs trail_amount or trail_percent".into()),
        (other, ..) => {
            return Err(format!("order_type must be market, limit, stop, stop_limit or trailing_stop, got {other:?}"))
        }
    })
}

/// Cancel an order: 202 with the order in `pending_cancel` (or `cancelled` if it was never sent).
#[utoipa::path(post, path = "/api/v1/orders/{order_id}/cancel", tag = "orders", params(("order_id" = i64, Path)),
    security(("bearer" = [])), responses((status = 202, body = OrderRow), (status = 404), (status = 409, description = "order already final")))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(order_id): ApiPath<i64>,
) -> Result<(StatusCode, Json<OrderRow>), ApiError> {
    let order = state.oms.cancel(order_id, &caller.name).await?;
    Ok((StatusCode::ACCEPTED, Json(order)))
}

/// An amend: the new quantity, limit price, or both.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceOrder {
    /// New total quantity (decimal string, at most 8 decimals).
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{1,11}(\.[0-9]{1,8})?$")]
    pub qty: Option<Decimal>,
    /// New limit price (limit orders only).
    #[schema(value_type = Option<String>, pattern = r"^[0-9]{1,11}(\.[0-9]{1,8})?$")]
    pub limit_price: Option<Decimal>,
}

/// Amend (cancel/replace) a working order with nothing filled. 201 with the amendment, a new
/// order (`client_order_id` `amend-<order_id>`, `replaces` the order) written through the same
/// risk checks: `pending_new` while the venue replaces the order (which is `pending_replace`
/// meanwhile, then `replaced`), or `rejected` with the risk reason (the order works on). A
/// repeated request returns the same amendment with 200. 409 when the order cannot be amended.
#[utoipa::path(post, path = "/api/v1/orders/{order_id}/replace", tag = "orders", params(("order_id" = i64, Path)),
    request_body = ReplaceOrder, security(("bearer" = [])),
    responses((status = 201, body = OrderRow), (status = 200, body = OrderRow, description = "repeated request"),
              (status = 404), (status = 409, description = "not amendable in its state"), (status = 422, description = "invalid amend")))]
pub async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(order_id): ApiPath<i64>,
    ApiJson(req): ApiJson<ReplaceOrder>,
) -> Result<(StatusCode, Json<OrderRow>), ApiError> {
    let invalid = |m: String| ApiError::unprocessable("invalid_order", m);
    let qty = match req.qty {
        Some(q) if q > Decimal::ZERO => Some(convert::qty(q).map_err(|e| invalid(format!("qty: {e}")))?),
        Some(_) => return Err(invalid("qty must be greater than zero".into())),
        None => None,
    };
    let limit_price = match req.limit_price {
        Some(p) if p > Decimal::ZERO => Some(convert::price(p).map_err(|e| invalid(format!("limit_price: {e}")))?),
        Some(_) => return Err(invalid("limit_price must be greater than zero".into())),
        None => None,
    };
    if qty.is_none() && limit_price.is_none() {
        return Err(invalid("give qty, limit_price or both".into()));
    }
    tracing::info!(actor = %caller.name, order_id, "amend");
    match state.oms.replace(order_id, qty, limit_price, &caller.name).await? {
        WriteOutcome::Created(o) => Ok((StatusCode::CREATED, Json(o))),
        WriteOutcome::Existing(o) => Ok((StatusCode::OK, Json(o))),
    }
}
