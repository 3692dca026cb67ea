//! The I/O around [`domain::risk::check_order`]: loading the account's limits and state inside
//! the order's transaction, and the checks that need the database (kill switch, order rate).
//!
//! Daily P&L is today's realized P&L (fills since 00:00 UTC) plus the unrealized P&L of the
//! open positions marked to the last trade.

use domain::{
    risk::{check_order, RiskLimits, RiskReason, RiskSnapshot},
    Bps, Money, OrderIntent, Qty,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{NewOrder, OmsError};
use crate::{convert, market::MarketData, venue::BuyingPower};

/// An account's limits as stored and served by the API; absent = no limit.
#[derive(Debug, Clone, Default, Serialize, Deserialize, sqlx::FromRow, ToSchema)]
pub struct StoredLimits {
    /// Largest quantity of one order.
    #[serde(default, serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub max_order_qty: Option<Decimal>,
    /// Largest notional of one order.
    #[serde(default, serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub max_order_notional: Option<Decimal>,
    /// Largest absolute position per symbol (working orders included).
    #[serde(default, serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub max_position: Option<Decimal>,
    /// Largest gross exposure of the account.
    #[serde(default, serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub max_gross_exposure: Option<Decimal>,
    /// Largest distance of a limit price from the last trade, in basis points.
    #[serde(default, serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub price_collar_bps: Option<Decimal>,
    /// Largest daily loss (positive amount); breaching it halts the account.
    #[serde(default, serialize_with = "convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub max_daily_loss: Option<Decimal>,
    /// Most orders per rolling minute.
    pub max_orders_per_minute: Option<i32>,
}

impl StoredLimits {
    /// The domain limits.
    ///
    /// # Errors
    /// A value that does not fit the fixed-point types.
    pub fn to_domain(&self) -> Result<RiskLimits, convert::OutOfRange> {
        let collar = match self.price_collar_bps {
            Some(bps) => {
                let centi = (bps * Decimal::from(100)).trunc();
                Some(Bps::from_centi_bps(i64::try_from(centi).map_err(|_| convert::OutOfRange(bps))?))
            }
            None => None,
        };
        Ok(RiskLimits {
            max_order_qty: self.max_order_qty.map(convert::qty).transpose()?,
            max_order_notional: self.max_order_notional.map(convert::money).transpose()?,
            max_position: self.max_position.map(convert::qty).transpose()?,
            max_gross_exposure: self.max_gross_exposure.map(convert::money).transpose()?,
            price_collar: collar,
            max_daily_loss: self.max_daily_loss.map(convert::money).transpose()?,
        })
    }
}

/// Loads an account's limits.
pub async fn load_limits(conn: &mut PgConnection, account: &str) -> Result<StoredLimits, sqlx::Error> {
    Ok(sqlx::query_as(
        "select max_order_qty, max_order_notional, max_position, max_gross_exposure, price_collar_bps,
                max_daily_loss, max_orders_per_minute
           from risk_limit where account = $1",
    )
    .bind(account)
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or_default())
}

/// How the active halts covering this account or strategy treat a new order: `None` when there
/// is none, `Some(true)` when every one is reduce-only, `Some(false)` when one blocks.
pub async fn halt_mode(conn: &mut PgConnection, account: &str, strategy: &str) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar(
        "select bool_and(reduce_only) from halt where resumed_at is null and
            (scope = 'all' or (scope = 'account' and account = $1) or (scope = 'strategy' and strategy = $2))",
    )
    .bind(account)
    .bind(strategy)
    .fetch_one(&mut *conn)
    .await
}

/// True when a halt covers this account or strategy.
pub async fn is_halted(conn: &mut PgConnection, account: &str, strategy: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "select exists(select 1 from halt where resumed_at is null and
            (scope = 'all' or (scope = 'account' and account = $1) or (scope = 'strategy' and strategy = $2)))",
    )
    .bind(account)
    .bind(strategy)
    .fetch_one(&mut *conn)
    .await
}

/// Account state the checks need.
#[derive(Debug, Default)]
pub struct AccountState {
    /// Signed position per symbol (summed over strategies) with its cost basis.
    pub positions: Vec<(String, Qty, Money)>,
    /// Realized P&L since 00:00 UTC.
    pub realized_today: Money,
}

/// Loads the positions of `account` and today's realized P&L.
pub async fn account_state(conn: &mut PgConnection, account: &str) -> Result<AccountState, OmsError> {
    let rows: Vec<(String, Decimal, Decimal)> =
        sqlx::query_as("select symbol, sum(qty), sum(cost_basis) from position where account = $1 group by symbol")
            .bind(account)
            .fetch_all(&mut *conn)
            .await?;
    let realized: Option<Decimal> = sqlx::query_scalar(
        "select sum(realized_pnl) from fill where account = $1 and ts >= date_trunc('day', now() at time zone 'utc') at time zone 'utc'",
    )
    .bind(account)
    .fetch_one(&mut *conn)
    .await?;
    let mut positions = Vec::with_capacity(rows.len());
    for (symbol, qty, cost) in rows {
        positions.push((symbol, convert::qty(qty)?, convert::money(cost)?));
    }
    Ok(AccountState { positions, realized_today: convert::money(realized.unwrap_or_default())? })
}

impl AccountState {
    /// Gross exposure and unrealized P&L, marking each symbol to its last trade (or to its cost
    /// when no trade has been seen).
    pub fn marks(&self, market: &MarketData) -> (Money, Money) {
        let mut gross = Money::ZERO;
        let mut unrealized = Money::ZERO;
        for (symbol, qty, cost) in &self.positions {
            let value = market.cached_price(symbol).and_then(|p| p.checked_notional(*qty)).unwrap_or(*cost);
            gross = gross.checked_add(value.checked_abs().unwrap_or(Money::MAX)).unwrap_or(Money::MAX);
            unrealized = unrealized.checked_add(value.checked_sub(*cost).unwrap_or_default()).unwrap_or(Money::MAX);
        }
        (gross, unrealized)
    }
}

/// What the broker account behind `venue` can still spend: the venue's buying power less what
/// the engine's buy orders at that venue (every account routed there shares it) committed since
/// the venue said so (and any still on its way to the venue), an open order for its whole
/// quantity, an ended one for what filled, each at its limit price, its average fill price or
/// the last trade.
pub async fn available_buying_power(
    tx: &mut PgConnection,
    market: &MarketData,
    venue: &str,
    buying_power: BuyingPower,
) -> Result<Money, OmsError> {
    let since: Vec<(String, Decimal, Option<Decimal>)> = sqlx::query_as(
        "select symbol, case when status = any($3) then qty else filled_qty end, coalesce(limit_price, avg_fill_price)
           from \"order\" where venue = $1 and side = 'buy' and status <> 'rejected'
            and (created_at >= $2 or status = 'pending_new')",
    )
    .bind(venue)
    .bind(buying_power.as_of)
    .bind(&super::OPEN_STATUSES[..])
    .fetch_all(&mut *tx)
    .await?;
    let mut committed = Money::ZERO;
    for (symbol, qty, price) in since {
        let qty = convert::qty(qty)?;
        let price = match price {
            Some(price) => Some(convert::price(price)?),
            None => market.cached_price(&symbol),
        };
        // An order with no price to value it by (a market order before any trade) is counted
        // at nothing; the venue's own check still stands behind this one.
        let cost = price.and_then(|p| p.checked_notional(qty)).unwrap_or(Money::ZERO);
        committed = committed.checked_add(cost).unwrap_or(Money::MAX);
    }
    Ok(buying_power.amount.checked_sub(committed).unwrap_or(Money::ZERO).max(Money::ZERO))
}

/// Runs every check for `order`; the inner `Err` is the reason code stored on the rejection.
/// `buying_power` is the order's venue and what it last said the account can spend.
pub async fn evaluate(
    tx: &mut PgConnection,
    market: &MarketData,
    order: &NewOrder,
    intent: &OrderIntent,
    buying_power: Option<(&str, BuyingPower)>,
) -> Result<Result<(), &'static str>, OmsError> {
    let halt = if order.bypass_halt { None } else { halt_mode(tx, &order.account, &order.strategy).await? };
    if halt == Some(false) {
        return Ok(Err(RiskReason::Halted.code()));
    }
    let stored = load_limits(tx, &order.account).await?;
    if let Some(max) = stored.max_orders_per_minute {
        // Order writes of one account with a rate limit queue here, so the count is exact.
        sqlx::query("select pg_advisory_xact_lock(hashtext('order_rate:' || $1))")
            .bind(&order.account)
            .execute(&mut *tx)
            .await?;
        let recent: i64 = sqlx::query_scalar(
            "select count(*) from \"order\" where account = $1 and created_at > now() - interval '1 minute'",
        )
        .bind(&order.account)
        .fetch_one(&mut *tx)
        .await?;
        if recent >= i64::from(max) {
            return Ok(Err(RiskReason::OrderRateLimit.code()));
        }
    }
    let limits = stored.to_domain()?;
    let state = account_state(tx, &order.account).await?;
    let working_rows: Vec<(String, Decimal)> = sqlx::query_as(
        "select side, qty - filled_qty from \"order\"
          where account = $1 and symbol = $2 and status = any($3)",
    )
    .bind(&order.account)
    .bind(&order.symbol)
    .bind(&super::WORKING_STATUSES[..])
    .fetch_all(&mut *tx)
    .await?;
    let mut working = Qty::ZERO;
    for (side, open) in working_rows {
        let open = convert::qty(open)?;
        let signed = if side == "buy" { open } else { open.checked_neg().unwrap_or_default() };
        working = working.checked_add(signed).unwrap_or(Qty::MAX);
    }
    let position = state.positions.iter().find(|(s, ..)| *s == order.symbol).map_or(Qty::ZERO, |(_, q, _)| *q);
    let (gross_exposure, unrealized) = state.marks(market);
    let snapshot = RiskSnapshot {
        halted: false,
        reduce_only: halt == Some(true),
        position,
        working,
        last_trade: market.last_price(&order.symbol).await,
        gross_exposure,
        daily_pnl: state.realized_today.checked_add(unrealized).unwrap_or_default(),
        buying_power: match buying_power {
            Some((venue, figure)) => Some(available_buying_power(tx, market, venue, figure).await?),
            None => None,
        },
        instrument: crate::api::instruments::rules(tx, &order.symbol).await?,
    };
    Ok(check_order(intent, &snapshot, &limits).map_err(|rejection| rejection.reason.code()))
}

/// Stores an account's limits and records the change in the audit log, in one transaction.
pub async fn save_limits(
    pool: &sqlx::PgPool,
    account: &str,
    limits: &StoredLimits,
    actor: &str,
) -> Result<StoredLimits, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let before = load_limits(&mut tx, account).await?;
    sqlx::query(
        "insert into risk_limit (account, max_order_qty, max_order_notional, max_position, max_gross_exposure,
                                 price_collar_bps, max_daily_loss, max_orders_per_minute, updated_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (account) do update set
           max_order_qty = excluded.max_order_qty, max_order_notional = excluded.max_order_notional,
           max_position = excluded.max_position, max_gross_exposure = excluded.max_gross_exposure,
           price_collar_bps = excluded.price_collar_bps, max_daily_loss = excluded.max_daily_loss,
           max_orders_per_minute = excluded.max_orders_per_minute, updated_by = excluded.updated_by,
           updated_at = now()",
    )
    .bind(account)
    .bind(limits.max_order_qty)
    .bind(limits.max_order_notional)
    .bind(limits.max_position)
    .bind(limits.max_gross_exposure)
    .bind(limits.price_collar_bps)
    .bind(limits.max_daily_loss)
    .bind(limits.max_orders_per_minute)
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    crate::audit::record(
        &mut tx,
        actor,
        "risk_limits.update",
        &format!("account:{account}"),
        serde_json::json!({"before": before, "after": limits}),
    )
    .await?;
    tx.commit().await?;
    Ok(limits.clone())
}
