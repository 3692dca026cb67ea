//! Fills, positions marked to market, P&L and equity history.

use axum::{extract::State, routing::get, Json, Router};
use chrono::{DateTime, Utc};
use platform::http::{ApiError, ApiQuery};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    convert::{self, ToDecimal},
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/fills", get(fills))
        .route("/api/v1/positions", get(positions))
        .route("/api/v1/pnl", get(pnl))
        .route("/api/v1/equity", get(equity))
}

/// Filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct PortfolioQuery {
    /// Account.
    pub account: Option<String>,
    /// Strategy name.
    pub strategy: Option<String>,
    /// Symbol.
    pub symbol: Option<String>,
    /// Page size (default 100, at most 1000; fills and equity).
    pub limit: Option<i64>,
    /// Fills only: those with a smaller `fill_id` (the last id of the previous page).
    pub before: Option<i64>,
    /// Fills and equity: at or after this time (RFC 3339).
    #[param(value_type = Option<String>)]
    pub from: Option<DateTime<Utc>>,
    /// Fills and equity: before this time (RFC 3339; `until=<midnight>&limit=1` is the last
    /// equity sample of the previous day).
    #[param(value_type = Option<String>)]
    pub until: Option<DateTime<Utc>>,
}

fn limit(q: &PortfolioQuery) -> Result<i64, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if (1..=1000).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request("invalid_limit", "limit must be between 1 and 1000"))
    }
}

/// A fill.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct FillRow {
    /// Id.
    pub fill_id: i64,
    /// Order.
    pub order_id: i64,
    /// Account.
    pub account: String,
    /// Strategy.
    pub strategy: String,
    /// Symbol.
    pub symbol: String,
    /// Side.
    pub side: String,
    /// Quantity.
    #[serde(serialize_with = "convert::ser_dec")]
    #[schema(value_type = String)]
    pub qty: Decimal,
    /// Price.
    #[serde(serialize_with = "convert::ser_dec")]
    #[schema(value_type = String)]
    pub price: Decimal,
    /// Fee.
    #[serde(serialize_with = "convert::ser_dec")]
    #[schema(value_type = String)]
    pub fee: Decimal,
    /// P&L realized by this fill, net of its fee.
    #[serde(serialize_with = "convert::ser_dec")]
    #[schema(value_type = String)]
    pub realized_pnl: Decimal,
    /// Venue execution id.
    pub exec_id: String,
    /// Execution time (for a bust or correction: when it was booked).
    pub ts: DateTime<Utc>,
    /// `execution`; `bust` for the reversal of a busted or corrected execution (the opposite
    /// side, fee refunded, `realized_pnl` the change it made); `correction` for a corrected
    /// execution booked in place of the one reversed.
    pub kind: String,
    /// For a `bust`: the fill it reverses.
    pub reverses: Option<i64>,
    /// Why a bust or correction was booked.
    pub note: Option<String>,
}

/// List fills, newest first; page on with `before` set to the last `fill_id` of a page.
#[utoipa::path(get, path = "/api/v1/fills", tag = "portfolio", params(PortfolioQuery), security(("bearer" = [])), responses((status = 200, body = Vec<FillRow>)))]
pub async fn fills(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PortfolioQuery>,
) -> Result<Json<Vec<FillRow>>, ApiError> {
    let (from, until) = super::time_range(q.from, q.until)?;
    let rows = sqlx::query_as(
        "select fill_id, order_id, account, strategy, symbol, side, qty, price, fee, realized_pnl, exec_id, ts, kind,
                reverses, note from fill
          where ($1::text is null or account = $1) and ($2::text is null or strategy = $2) and ($3::text is null or symbol = $3)
            and ($5::bigint is null or fill_id < $5) and ($6::timestamptz is null or ts >= $6)
            and ($7::timestamptz is null or ts < $7)
          order by fill_id desc limit $4",
    )
    .bind(&q.account)
    .bind(&q.strategy)
    .bind(q.symbol.as_ref().map(|s| s.to_ascii_uppercase()))
    .bind(limit(&q)?)
    .bind(q.before)
    .bind(from)
    .bind(until)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// A position marked to the last trade.
#[derive(Debug, Serialize, ToSchema)]
pub struct PositionView {
    /// Account.
    pub account: String,
    /// Strategy.
    pub strategy: String,
    /// Symbol.
    pub symbol: String,
    /// Signed quantity.
    #[schema(value_type = String)]
    pub qty: Decimal,
    /// Average entry price (absent when flat).
    #[schema(value_type = Option<String>)]
    pub avg_price: Option<Decimal>,
    /// Last trade price (absent when none is known).
    #[schema(value_type = Option<String>)]
    pub last_price: Option<Decimal>,
    /// Realized P&L, net of fees.
    #[schema(value_type = String)]
    pub realized_pnl: Decimal,
    /// Unrealized P&L at the last price.
    #[schema(value_type = Option<String>)]
    pub unrealized_pnl: Option<Decimal>,
    /// Fees paid.
    #[schema(value_type = String)]
    pub fees: Decimal,
}

/// Loads positions (with their marks) matching the filters.
pub async fn load_positions(state: &AppState, q: &PortfolioQuery) -> Result<Vec<PositionView>, ApiError> {
    let rows: Vec<(String, String, String, Decimal, Decimal, Decimal, Decimal)> = sqlx::query_as(
        "select account, strategy, symbol, qty, cost_basis, realized_pnl, fees from position
          where ($1::text is null or account = $1) and ($2::text is null or strategy = $2) and ($3::text is null or symbol = $3)
          order by account, strategy, symbol",
    )
    .bind(&q.account)
    .bind(&q.strategy)
    .bind(q.symbol.as_ref().map(|s| s.to_ascii_uppercase()))
    .fetch_all(&state.pool)
    .await?;
    let mut views = Vec::with_capacity(rows.len());
    for (account, strategy, symbol, qty, cost, realized, fees) in rows {
        let last = state.oms.market().last_price(&symbol).await;
        let position = domain::position::Position::from_parts(
            domain::InstrumentId(0),
            convert::qty(qty).map_err(|e| ApiError::Internal(e.into()))?,
            convert::money(cost).map_err(|e| ApiError::Internal(e.into()))?,
            convert::money(realized).map_err(|e| ApiError::Internal(e.into()))?,
            convert::money(fees).map_err(|e| ApiError::Internal(e.into()))?,
        );
        views.push(PositionView {
            account,
            strategy,
            symbol,
            qty: qty.normalize(),
            avg_price: position.average_price().map(|p| p.dec()),
            last_price: last.map(|p| p.dec()),
            realized_pnl: realized.normalize(),
            unrealized_pnl: last.and_then(|p| position.unrealized_pnl(p).ok()).map(|m| m.dec()),
            fees: fees.normalize(),
        });
    }
    Ok(views)
}

/// Positions per account, strategy and symbol.
#[utoipa::path(get, path = "/api/v1/positions", tag = "portfolio", params(PortfolioQuery), security(("bearer" = [])), responses((status = 200, body = Vec<PositionView>)))]
pub async fn positions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PortfolioQuery>,
) -> Result<Json<Vec<PositionView>>, ApiError> {
    Ok(Json(load_positions(&state, &q).await?))
}

/// P&L totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct Pnl {
    /// Realized P&L of the matching positions, net of fees.
    #[schema(value_type = String)]
    pub realized_pnl: Decimal,
    /// Unrealized P&L at the last prices (positions without a price count as zero).
    #[schema(value_type = String)]
    pub unrealized_pnl: Decimal,
    /// Realized + unrealized.
    #[schema(value_type = String)]
    pub total_pnl: Decimal,
    /// Realized P&L of fills since 00:00 UTC.
    #[schema(value_type = String)]
    pub realized_today: Decimal,
    /// Fees paid.
    #[schema(value_type = String)]
    pub fees: Decimal,
}

/// P&L of the matching positions.
#[utoipa::path(get, path = "/api/v1/pnl", tag = "portfolio", params(PortfolioQuery), security(("bearer" = [])), responses((status = 200, body = Pnl)))]
pub async fn pnl(State(state): State<AppState>, ApiQuery(q): ApiQuery<PortfolioQuery>) -> Result<Json<Pnl>, ApiError> {
    let views = load_positions(&state, &q).await?;
    let realized: Decimal = views.iter().map(|v| v.realized_pnl).sum();
    let unrealized: Decimal = views.iter().filter_map(|v| v.unrealized_pnl).sum();
    let fees: Decimal = views.iter().map(|v| v.fees).sum();
    let today: Option<Decimal> = sqlx::query_scalar(
        "select sum(realized_pnl) from fill where ($1::text is null or account = $1) and ($2::text is null or strategy = $2)
            and ($3::text is null or symbol = $3) and ts >= date_trunc('day', now() at time zone 'utc') at time zone 'utc'",
    )
    .bind(&q.account)
    .bind(&q.strategy)
    .bind(q.symbol.as_ref().map(|s| s.to_ascii_uppercase()))
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(Pnl {
        realized_pnl: realized.normalize(),
        unrealized_pnl: unrealized.normalize(),
        total_pnl: (realized + unrealized).normalize(),
        realized_today: today.unwrap_or_default().normalize(),
        fees: fees.normalize(),
    }))
}

/// An equity sample.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct EquityPoint {
    /// Account.
    pub account: String,
    /// When.
    pub ts: DateTime<Utc>,
    /// Realized P&L.
    #[serde(serialize_with = "convert::ser_dec")]
    #[schema(value_type = String)]
    pub realized_pnl: Decimal,
    /// Unrealized P&L.
    #[serde(serialize_with = "convert::ser_dec")]
    #[schema(value_type = String)]
    pub unrealized_pnl: Decimal,
    /// P&L equity (realized + unrealized).
    #[serde(serialize_with = "convert::ser_dec")]
    #[schema(value_type = String)]
    pub equity: Decimal,
}

/// Equity history, newest first.
#[utoipa::path(get, path = "/api/v1/equity", tag = "portfolio", params(PortfolioQuery), security(("bearer" = [])), responses((status = 200, body = Vec<EquityPoint>)))]
pub async fn equity(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<PortfolioQuery>,
) -> Result<Json<Vec<EquityPoint>>, ApiError> {
    let (from, until) = super::time_range(q.from, q.until)?;
    let rows = sqlx::query_as(
        "select account, ts, realized_pnl, unrealized_pnl, equity from equity_snapshot
          where ($1::text is null or account = $1) and ($3::timestamptz is null or ts >= $3)
            and ($4::timestamptz is null or ts < $4)
          order by ts desc limit $2",
    )
    .bind(&q.account)
    .bind(limit(&q)?)
    .bind(from)
    .bind(until)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(rows))
}

/// Samples every account's P&L equity every `every` until `stop` (also published as the
/// `RealizedPnl`/`UnrealizedPnl` metrics per account). Samples are keyed by the
/// interval's start, so several instances write each sample once.
pub async fn snapshot_equity(state: AppState, every: std::time::Duration, stop: tokio_util::sync::CancellationToken) {
    let mut interval = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        if let Err(e) = snapshot_once(&state, every).await {
            tracing::warn!(error = %e.to_string(), "equity snapshot failed");
        }
    }
}

async fn snapshot_once(state: &AppState, every: std::time::Duration) -> Result<(), ApiError> {
    let accounts: Vec<String> =
        sqlx::query_scalar("select distinct account from position").fetch_all(&state.pool).await?;
    let step = i64::try_from(every.as_secs().max(1)).unwrap_or(60);
    let now = Utc::now().timestamp();
    let ts = DateTime::from_timestamp(now - now.rem_euclid(step), 0).unwrap_or_else(Utc::now);
    for account in accounts {
        let q = PortfolioQuery { account: Some(account.clone()), ..PortfolioQuery::default() };
        let views = load_positions(state, &q).await?;
        let realized: Decimal = views.iter().map(|v| v.realized_pnl).sum();
        let unrealized: Decimal = views.iter().filter_map(|v| v.unrealized_pnl).sum();
        crate::metrics::account_pnl(&account, realized, unrealized);
        sqlx::query(
            "insert into equity_snapshot (account, ts, realized_pnl, unrealized_pnl, equity) values ($1, $2, $3, $4, $5)
             on conflict (account, ts) do nothing",
        )
        .bind(&account)
        .bind(ts)
        .bind(realized)
        .bind(unrealized)
        .bind(realized + unrealized)
        .execute(&state.pool)
        .await?;
    }
    Ok(())
}
