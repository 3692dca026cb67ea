//! Daily reports: per account, the day's trades (fills), P&L and the positions held at the end
//! of the day, written to the object store as `reports/daily/YYYY-MM-DD.json` and `.html`
//! (S3 with `ARCHIVE_BUCKET`, else the local folder with the same layout).
//!
//! End-of-day positions are rebuilt by replaying every fill up to the day's end through the
//! domain's average-cost [`Position`], in the order the fills were booked, so the report does
//! not depend on when it is generated. They are marked at the symbol's last 1-minute close
//! before the end of the day (the data-service's bars in the same database), when there is one.
//!
//! Each engine checks hourly for closed days of the last week that have fills or positions but
//! no report, and writes them; `daily_report` records what was written. Several engines may
//! write the same day: the objects are identical, the row is upserted. `engine report --date`
//! writes one day on demand (again, idempotently).

use std::{collections::BTreeMap, fmt::Write as _, sync::Arc, time::Duration};

use backtest::report::escape_html;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use domain::{position::Position, InstrumentId, Side};
use platform::store::{ObjectStore, StoreError};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use crate::convert::{self, ToDecimal};

/// Days back the scheduler looks for days without a report.
pub const LOOKBACK_DAYS: i64 = 7;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored amount does not fit the domain's fixed point, or accounting overflowed.
    #[error("fill {fill_id}: {message}")]
    Accounting {
        /// The fill being replayed.
        fill_id: i64,
        /// What went wrong.
        message: String,
    },
}

/// One day's report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DailyReport {
    /// The UTC day.
    pub date: NaiveDate,
    /// Every account with fills that day or a position at its end.
    pub accounts: Vec<AccountReport>,
}

/// One account's day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountReport {
    /// Account.
    pub account: String,
    /// P&L realized by the day's fills, net of their fees.
    pub realized_pnl: Decimal,
    /// Unrealized P&L of the end-of-day positions at their marks (positions without a mark
    /// are left out).
    pub unrealized_pnl: Decimal,
    /// Fees paid that day.
    pub fees: Decimal,
    /// Fills that day.
    pub fill_count: usize,
    /// The fills, in booking order (a correction in the place of the execution it corrects).
    pub trades: Vec<TradeLine>,
    /// Positions held at the end of the day.
    pub positions: Vec<PositionLine>,
}

/// A fill.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TradeLine {
    /// When it executed.
    pub ts: DateTime<Utc>,
    /// Order.
    pub order_id: i64,
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
    /// P&L it realized, net of its fee.
    pub realized_pnl: Decimal,
}

/// A position at the end of the day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PositionLine {
    /// Strategy.
    pub strategy: String,
    /// Symbol.
    pub symbol: String,
    /// Signed quantity.
    pub qty: Decimal,
    /// Average entry price.
    pub avg_price: Option<Decimal>,
    /// The symbol's last 1-minute close before the end of the day.
    pub mark: Option<Decimal>,
    /// Unrealized P&L at the mark.
    pub unrealized_pnl: Option<Decimal>,
    /// Realized P&L of this account, strategy and symbol up to the end of the day, net of fees.
    pub realized_pnl_to_date: Decimal,
}

/// The object keys of `date`'s report.
pub fn object_keys(date: NaiveDate) -> (String, String) {
    let stem = format!("reports/daily/{}", date.format("%Y-%m-%d"));
    (format!("{stem}.json"), format!("{stem}.html"))
}

fn day_bounds(date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    (start, start + chrono::Duration::days(1))
}

type FillRecord = (i64, i64, String, String, String, String, Decimal, Decimal, Decimal, Decimal, DateTime<Utc>, bool);

/// Builds the report of `date` from the fills booked up to its end.
///
/// # Errors
/// [`ReportError`].
pub async fn build(pool: &PgPool, date: NaiveDate) -> Result<DailyReport, ReportError> {
    let (start, end) = day_bounds(date);
    // The end-of-day positions come from every fill up to the day's end, streamed so that the
    // memory used does not grow with the history (only the time does).
    let mut fills = sqlx::query_as::<_, FillRecord>(
        // Busts and corrections (see `oms::busts`): the position replays the executions standing
        // at the day's end in their original order; reversing rows only carry P&L and fees.
        "select f.fill_id, f.order_id, f.account, f.strategy, f.symbol, f.side, f.qty, f.price, f.fee, f.realized_pnl,
                f.ts, f.kind = 'bust' or exists (select 1 from fill b where b.reverses = f.fill_id and b.ts < $1)
           from fill f where f.ts < $1 order by coalesce(f.replay_seq, f.fill_id), f.fill_id",
    )
    .bind(end)
    .fetch(pool);
    let mut positions: BTreeMap<(String, String, String), Position> = BTreeMap::new();
    let mut accounts: BTreeMap<String, AccountReport> = BTreeMap::new();
    while let Some(record) = futures_util::TryStreamExt::try_next(&mut fills).await? {
        let (fill_id, order_id, account, strategy, symbol, side, qty, price, fee, realized, ts, reversed) = record;
        let accounting = |message: String| ReportError::Accounting { fill_id, message };
        let fill = domain::Fill {
            instrument: InstrumentId(0),
            side: if side == "buy" { Side::Buy } else { Side::Sell },
            qty: convert::qty(qty).map_err(|e| accounting(e.to_string()))?,
            price: convert::price(price).map_err(|e| accounting(e.to_string()))?,
            fee: convert::money(fee).map_err(|e| accounting(e.to_string()))?,
            ts: domain::Timestamp::from_nanos(ts.timestamp_nanos_opt().unwrap_or_default()),
        };
        let position = positions
            .entry((account.clone(), strategy.clone(), symbol.clone()))
            .or_insert_with(|| Position::flat(InstrumentId(0)));
        if !reversed {
            position.apply_fill(&fill).map_err(|e| accounting(e.to_string()))?;
        }
        if ts >= start {
            let report = accounts.entry(account.clone()).or_insert_with(|| empty_account(&account));
            report.realized_pnl += realized;
            report.fees += fee;
            report.trades.push(TradeLine {
                ts,
                order_id,
                strategy,
                symbol,
                side,
                qty: qty.normalize(),
                price: price.normalize(),
                fee: fee.normalize(),
                realized_pnl: realized.normalize(),
            });
        }
    }
    drop(fills);
    for ((account, strategy, symbol), position) in positions {
        if position.is_flat() {
            continue;
        }
        let mark = last_close(pool, &symbol, end).await?;
        let unrealized = mark
            .and_then(|m| convert::price(m).ok())
            .and_then(|m| position.unrealized_pnl(m).ok())
            .map(|pnl| pnl.dec());
        let report = accounts.entry(account.clone()).or_insert_with(|| empty_account(&account));
        report.unrealized_pnl += unrealized.unwrap_or_default();
        report.positions.push(PositionLine {
            strategy,
            symbol,
            qty: position.qty().dec(),
            avg_price: position.average_price().map(|p| p.dec()),
            mark: mark.map(|m| m.normalize()),
            unrealized_pnl: unrealized,
            realized_pnl_to_date: position.realized_pnl().dec(),
        });
    }
    let accounts = accounts
        .into_values()
        .map(|mut a| {
            a.fill_count = a.trades.len();
            a.realized_pnl = a.realized_pnl.normalize();
            a.unrealized_pnl = a.unrealized_pnl.normalize();
            a.fees = a.fees.normalize();
            a
        })
        .collect();
    Ok(DailyReport { date, accounts })
}

fn empty_account(account: &str) -> AccountReport {
    AccountReport {
        account: account.to_owned(),
        realized_pnl: Decimal::ZERO,
        unrealized_pnl: Decimal::ZERO,
        fees: Decimal::ZERO,
        fill_count: 0,
        trades: Vec::new(),
        positions: Vec::new(),
    }
}

async fn last_close(pool: &PgPool, symbol: &str, before: DateTime<Utc>) -> Result<Option<Decimal>, sqlx::Error> {
    sqlx::query_scalar(
        "select b.close from bar_1m b join symbol s using (symbol_id)
         where s.symbol = $1 and b.ts < $2 order by b.ts desc limit 1",
    )
    .bind(symbol)
    .bind(before)
    .fetch_optional(pool)
    .await
}

fn optional(value: Option<Decimal>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| v.to_string())
}

/// The report as a page a person reads in a browser.
pub fn render_html(report: &DailyReport) -> String {
    let mut body = String::new();
    if report.accounts.is_empty() {
        body.push_str("<p>No fills and no open positions.</p>\n");
    }
    for account in &report.accounts {
        let _ = write!(
            body,
            "<section>\n<h2>{}</h2>\n<table class=\"totals\"><tr><th>Realized P&amp;L</th><td>{}</td></tr>\
             <tr><th>Unrealized P&amp;L (end of day)</th><td>{}</td></tr><tr><th>Fees</th><td>{}</td></tr>\
             <tr><th>Fills</th><td>{}</td></tr></table>\n",
            escape_html(&account.account),
            account.realized_pnl,
            account.unrealized_pnl,
            account.fees,
            account.fill_count
        );
        body.push_str("<h3>Positions at the end of the day</h3>\n<table><tr><th>Strategy</th><th>Symbol</th><th>Qty</th><th>Avg price</th><th>Mark</th><th>Unrealized</th><th>Realized to date</th></tr>\n");
        for p in &account.positions {
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&p.strategy),
                escape_html(&p.symbol),
                p.qty,
                optional(p.avg_price),
                optional(p.mark),
                optional(p.unrealized_pnl),
                p.realized_pnl_to_date
            );
        }
        body.push_str("</table>\n<h3>Trades</h3>\n<table><tr><th>Time (UTC)</th><th>Order</th><th>Strategy</th><th>Symbol</th><th>Side</th><th>Qty</th><th>Price</th><th>Fee</th><th>Realized</th></tr>\n");
        for t in &account.trades {
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                t.ts.format("%H:%M:%S%.3f"),
                t.order_id,
                escape_html(&t.strategy),
                escape_html(&t.symbol),
                escape_html(&t.side),
                t.qty,
                t.price,
                t.fee,
                t.realized_pnl
            );
        }
        body.push_str("</table>\n</section>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Halyard daily report {date}</title>\n\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:1em}}th,td{{text-align:left;padding:2px 10px;border-bottom:1px solid #ddd}}</style>\n\
</head>\n<body>\n<h1>Daily report {date} (UTC)</h1>\n{body}</body>\n</html>\n",
        date = report.date
    )
}

/// What [`publish`] wrote.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Published {
    /// The day.
    pub date: NaiveDate,
    /// Accounts in the report.
    pub accounts: i32,
    /// Key of the JSON report.
    pub json_key: String,
    /// Key of the HTML report.
    pub html_key: String,
    /// When it was (last) written.
    pub written_at: DateTime<Utc>,
}

/// Builds `date`'s report and writes both objects, then records it. Writing again replaces
/// the objects with the same content.
///
/// # Errors
/// [`ReportError`]; nothing is recorded unless both objects were written.
pub async fn publish(pool: &PgPool, store: &dyn ObjectStore, date: NaiveDate) -> Result<Published, ReportError> {
    let report = build(pool, date).await?;
    let (json_key, html_key) = object_keys(date);
    let mut json = serde_json::to_vec_pretty(&report).unwrap_or_default();
    json.push(b'\n');
    store.put(&json_key, Bytes::from(json)).await?;
    store.put(&html_key, Bytes::from(render_html(&report))).await?;
    let published = sqlx::query_as(
        "insert into daily_report (day, accounts, json_key, html_key) values ($1, $2, $3, $4)
         on conflict (day) do update set accounts = excluded.accounts, written_at = now()
         returning day as date, accounts, json_key, html_key, written_at",
    )
    .bind(date)
    .bind(i32::try_from(report.accounts.len()).unwrap_or(i32::MAX))
    .bind(&json_key)
    .bind(&html_key)
    .fetch_one(pool)
    .await?;
    tracing::info!(%date, accounts = report.accounts.len(), key = %json_key, "daily report written");
    Ok(published)
}

/// Writes the reports of closed days (before `now`'s day, at most [`LOOKBACK_DAYS`] back) that
/// have fills or positions but no report yet. Returns the days written.
///
/// # Errors
/// [`ReportError`] of the first day that failed (earlier days stay written).
pub async fn publish_due(
    pool: &PgPool,
    store: &dyn ObjectStore,
    now: DateTime<Utc>,
) -> Result<Vec<NaiveDate>, ReportError> {
    let today = now.date_naive();
    let due: Vec<NaiveDate> = sqlx::query_scalar(
        "select d::date from generate_series($1::date - $2::int, $1::date - 1, interval '1 day') as d
         where not exists (select 1 from daily_report r where r.day = d::date)
           and exists (select 1 from fill f where f.ts < (d::date + 1)::timestamp at time zone 'UTC')
         order by d",
    )
    .bind(today)
    .bind(i32::try_from(LOOKBACK_DAYS).unwrap_or(7))
    .fetch_all(pool)
    .await?;
    let mut written = Vec::with_capacity(due.len());
    for day in due {
        publish(pool, store, day).await?;
        written.push(day);
    }
    Ok(written)
}

/// Runs [`publish_due`] every `every` until `stop`; failures (an S3 outage) are logged and
/// retried at the next round, so a report is delayed, never lost.
pub async fn run_scheduled(pool: PgPool, store: Arc<dyn ObjectStore>, every: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Err(error) = publish_due(&pool, &*store, Utc::now()).await {
            tracing::warn!(%error, "daily reports not written; retrying next round");
        }
    }
}

/// The reports written, newest first.
///
/// # Errors
/// Database errors.
pub async fn list(pool: &PgPool, limit: i64) -> Result<Vec<Published>, sqlx::Error> {
    sqlx::query_as(
        "select day as date, accounts, json_key, html_key, written_at from daily_report order by day desc limit $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}
