//! The kill switch. A halt is a row in `halt`; it blocks new orders at once because every order
//! write reads the active halts after taking `kill_switch` FOR SHARE, which a halt holds FOR
//! UPDATE while it commits. Halts survive restarts (they are rows) and are lifted by resume.
//!
//! Each engine instance runs [`watch`]: woken by `NOTIFY halt` and polling every
//! `HALT_POLL_MILLIS` in case a notification is missed, it cancels the working orders in the
//! scope of every active halt. With `flatten`, the instance that received the halt request
//! also places market orders closing the positions in scope.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{postgres::PgListener, PgPool};
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use crate::oms::{NewOrder, Oms};

/// A halt as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Halt {
    /// Id.
    pub halt_id: i64,
    /// `all`, `account` or `strategy`.
    pub scope: String,
    /// Halted account (scope `account`).
    pub account: Option<String>,
    /// Halted strategy (scope `strategy`).
    pub strategy: Option<String>,
    /// Why.
    pub reason: String,
    /// Whether positions were flattened.
    pub flatten: bool,
    /// Reduce-only: positions in scope may be closed, not opened or grown.
    pub reduce_only: bool,
    /// Token name (or `engine` for an automatic halt).
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What a halt or resume applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Everything.
    All,
    /// One account.
    Account,
    /// One strategy.
    Strategy,
}

impl Scope {
    /// The stored code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Account => "account",
            Self::Strategy => "strategy",
        }
    }
}

/// Records a halt (and its audit entry) and wakes every instance. A `reduce_only` halt lets
/// orders that close positions through (see [`domain::risk::check_order`]).
#[allow(clippy::too_many_arguments)]
pub async fn halt(
    pool: &PgPool,
    actor: &str,
    scope: &str,
    account: Option<&str>,
    strategy: Option<&str>,
    reason: &str,
    flatten: bool,
    reduce_only: bool,
) -> Result<Halt, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("update kill_switch set version = version + 1 where id = 1").execute(&mut *tx).await?;
    let halt: Halt = sqlx::query_as(
        "insert into halt (scope, account, strategy, reason, flatten, created_by, reduce_only)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning halt_id, scope, account, strategy, reason, flatten, reduce_only, created_by, created_at",
    )
    .bind(scope)
    .bind(account)
    .bind(strategy)
    .bind(reason)
    .bind(flatten)
    .bind(actor)
    .bind(reduce_only)
    .fetch_one(&mut *tx)
    .await?;
    crate::audit::record(&mut tx, actor, "halt", &target(scope, account, strategy), serde_json::json!(halt)).await?;
    sqlx::query("select pg_notify('halt', $1)").bind(halt.halt_id.to_string()).execute(&mut *tx).await?;
    tx.commit().await?;
    tracing::warn!(halt_id = halt.halt_id, scope, ?account, ?strategy, reason, actor, "trading halted");
    Ok(halt)
}

/// Lifts the active halts with exactly this scope and target; returns how many.
pub async fn resume(
    pool: &PgPool,
    actor: &str,
    scope: &str,
    account: Option<&str>,
    strategy: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("update kill_switch set version = version + 1 where id = 1").execute(&mut *tx).await?;
    let done = sqlx::query(
        "update halt set resumed_at = now(), resumed_by = $4
          where resumed_at is null and scope = $1 and account is not distinct from $2 and strategy is not distinct from $3",
    )
    .bind(scope)
    .bind(account)
    .bind(strategy)
    .bind(actor)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    crate::audit::record(
        &mut tx,
        actor,
        "resume",
        &target(scope, account, strategy),
        serde_json::json!({"halts_lifted": done}),
    )
    .await?;
    sqlx::query("select pg_notify('halt', 'resume')").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(done)
}

fn target(scope: &str, account: Option<&str>, strategy: Option<&str>) -> String {
    match (account, strategy) {
        (Some(a), _) => format!("{scope}:{a}"),
        (_, Some(s)) => format!("{scope}:{s}"),
        _ => scope.to_owned(),
    }
}

/// The active halts.
pub async fn active(pool: &PgPool) -> Result<Vec<Halt>, sqlx::Error> {
    sqlx::query_as(
        "select halt_id, scope, account, strategy, reason, flatten, reduce_only, created_by, created_at
           from halt where resumed_at is null order by halt_id",
    )
    .fetch_all(pool)
    .await
}

/// Cancels this instance's working orders, and the held stops of any instance, covered by an
/// active halt: every one under a halt
/// that blocks, and under reduce-only halts those that would grow the account's position in
/// their symbol (a buy while it is flat or long, a sale while it is flat or short).
pub async fn cancel_halted_orders(oms: &Oms) -> anyhow::Result<usize> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "with covering as (
             select o.order_id, bool_and(h.reduce_only) as reduce_only, o.account, o.symbol, o.side
               from \"order\" o join halt h on h.resumed_at is null and
                    (h.scope = 'all' or (h.scope = 'account' and h.account = o.account)
                     or (h.scope = 'strategy' and h.strategy = o.strategy))
              where (o.status in ('pending_new', 'new', 'partially_filled') and o.instance_id = $1
                     or o.status = 'held')
                and o.client_order_id not like 'flatten-%'
              group by o.order_id, o.account, o.symbol, o.side
         )
         select c.order_id from covering c
          where not c.reduce_only
             or (select case when c.side = 'buy' then coalesce(sum(p.qty), 0) >= 0 else coalesce(sum(p.qty), 0) <= 0 end
                   from position p where p.account = c.account and p.symbol = c.symbol)",
    )
    .bind(oms.instance_id())
    .fetch_all(oms.pool())
    .await?;
    for id in &ids {
        if let Err(e) = oms.cancel(*id, "halt").await {
            tracing::warn!(order_id = id, error = %e, "cancel on halt failed");
        }
    }
    Ok(ids.len())
}

/// Places market orders that close every position covered by `halt`.
pub async fn flatten(oms: &Oms, halt: &Halt) -> anyhow::Result<usize> {
    let positions: Vec<(String, String, String, rust_decimal::Decimal)> = sqlx::query_as(
        "select account, strategy, symbol, qty from position
          where qty <> 0 and ($1 = 'all' or ($1 = 'account' and account = $2) or ($1 = 'strategy' and strategy = $3))",
    )
    .bind(&halt.scope)
    .bind(&halt.account)
    .bind(&halt.strategy)
    .fetch_all(oms.pool())
    .await?;
    let mut placed = 0;
    for (account, strategy, symbol, qty) in positions {
        let qty = crate::convert::qty(qty)?;
        let side = if qty.is_positive() { domain::Side::Sell } else { domain::Side::Buy };
        let order = NewOrder {
            account,
            strategy: strategy.clone(),
            client_order_id: format!("flatten-{}-{strategy}-{symbol}", halt.halt_id),
            symbol,
            side,
            qty: qty.checked_abs().unwrap_or_default(),
            order_type: domain::OrderType::Market,
            time_in_force: domain::TimeInForce::Gtc,
            reduce_only: false,
            signal_id: None,
            lease: None,
            bypass_halt: true,
            emulate: false,
            bracket: None,
        };
        oms.place(order).await?;
        placed += 1;
    }
    Ok(placed)
}

/// Keeps this instance's working orders in line with the kill switch until `stop`.
pub async fn watch(oms: Oms, poll: std::time::Duration, stop: CancellationToken) {
    let mut listener = match PgListener::connect_with(oms.pool()).await {
        Ok(mut l) => match l.listen("halt").await {
            Ok(()) => Some(l),
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN halt failed; polling only");
                None
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "no LISTEN connection; polling only");
            None
        }
    };
    loop {
        match active(oms.pool()).await {
            Ok(halts) => crate::metrics::halts(&halts),
            Err(e) => tracing::warn!(error = %e, "cannot read the kill switch state"),
        }
        match cancel_halted_orders(&oms).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(cancelled = n, "working orders cancelled by the kill switch"),
            Err(e) => tracing::warn!(error = %e, "kill switch check failed"),
        }
        let notified = async {
            match listener.as_mut() {
                Some(l) => {
                    if l.recv().await.is_err() {
                        tokio::time::sleep(poll).await;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(poll) => {}
            () = notified => {}
        }
    }
}
