//! History: symbols, latest quote, ticks, averages and bars.
//!
//! Ranges are half-open `[start, end)`, given as RFC 3339 or epoch milliseconds. Every list is
//! paged: a response carries at most `limit` items and a cursor for the next page, so no request
//! holds an unbounded result in memory.

use axum::{extract::State, routing::get, Json, Router};
use chrono::{DateTime, Duration, DurationRound, NaiveDate, TimeZone, Utc};
use platform::http::{ApiError, ApiPath, ApiQuery};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    market::{canonical_symbol, Bar},
    startup::AppState,
    timeparse::parse_timestamp,
};

/// Longest range of one `prices` request.
pub const MAX_PRICES_SPAN_DAYS: i64 = 31;
/// Longest range of a `bars` or `average` request.
pub const MAX_HISTORY_SPAN_DAYS: i64 = 3_660;
/// Ticks per page by default and at most.
pub const PRICES_LIMIT: (i64, i64) = (10_000, 100_000);
/// Bars per page by default and at most.
pub const BARS_LIMIT: (i64, i64) = (1_000, 10_000);

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/market/symbols", get(symbols))
        .route("/api/v1/market/quote/{symbol}", get(quote))
        .route("/api/v1/market/prices/{symbol}", get(prices))
        .route("/api/v1/market/average/{symbol}", get(average))
        .route("/api/v1/market/bars/{symbol}", get(bars))
}

/// A symbol with data.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SymbolInfo {
    /// The symbol.
    pub symbol: String,
}

/// List symbols.
#[utoipa::path(get, path = "/api/v1/market/symbols", tag = "market", responses((status = 200, body = Vec<SymbolInfo>)))]
pub async fn symbols(State(state): State<AppState>) -> Result<Json<Vec<SymbolInfo>>, ApiError> {
    let rows: Vec<String> =
        sqlx::query_scalar("select symbol from symbol order by symbol").fetch_all(&state.pool).await?;
    Ok(Json(rows.into_iter().map(|symbol| SymbolInfo { symbol }).collect()))
}

/// The latest trade, or the latest bar's close for symbols that only have bars.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Quote {
    /// The symbol.
    pub symbol: String,
    /// Time of the price.
    pub ts: DateTime<Utc>,
    /// Latest price.
    #[schema(value_type = String)]
    pub price: Decimal,
    /// Size of the latest trade (absent when the price is a bar's close).
    #[schema(value_type = Option<String>)]
    pub size: Option<Decimal>,
    /// `tick` or `bar`.
    pub source: String,
}

/// Latest price of a symbol.
#[utoipa::path(get, path = "/api/v1/market/quote/{symbol}", tag = "market",
    params(("symbol" = String, Path)), responses((status = 200, body = Quote), (status = 404, description = "unknown symbol or no data")))]
pub async fn quote(State(state): State<AppState>, ApiPath(symbol): ApiPath<String>) -> Result<Json<Quote>, ApiError> {
    let (symbol, id) = known_symbol(&state, &symbol).await?;
    let tick: Option<(DateTime<Utc>, Decimal, Decimal)> =
        sqlx::query_as("select ts, price, size from tick where symbol_id = $1 order by ts desc, tick_id desc limit 1")
            .bind(id)
            .fetch_optional(&state.pool)
            .await?;
    let bar: Option<(DateTime<Utc>, Decimal)> =
        sqlx::query_as("select last_ts, close from bar_1m where symbol_id = $1 order by ts desc limit 1")
            .bind(id)
            .fetch_optional(&state.pool)
            .await?;
    let quote = match (tick, bar) {
        (Some((ts, price, size)), bar) if bar.as_ref().is_none_or(|(bts, _)| *bts <= ts) => {
            Quote { symbol, ts, price: price.normalize(), size: Some(size.normalize()), source: "tick".into() }
        }
        (_, Some((ts, price))) => Quote { symbol, ts, price: price.normalize(), size: None, source: "bar".into() },
        (None, None) => return Err(ApiError::NotFound(format!("no prices for {symbol} yet"))),
        (Some(_), None) => unreachable!("handled by the first arm"),
    };
    Ok(Json(quote))
}

/// Range and paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RangeQuery {
    /// Start (inclusive), RFC 3339 or epoch ms. Default: one hour (prices) or one day (bars, average) before `end`.
    pub start: Option<String>,
    /// End (exclusive), RFC 3339 or epoch ms. Default: now.
    pub end: Option<String>,
    /// Page size.
    pub limit: Option<i64>,
    /// Cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Bar interval: 1m, 5m, 15m, 1h, 1d (bars only).
    pub interval: Option<String>,
}

impl RangeQuery {
    fn range(&self, default_span: Duration, max_span_days: i64) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
        let parse = |name: &'static str, v: &str| {
            parse_timestamp(v).map_err(|e| ApiError::bad_request("invalid_timestamp", format!("{name}: {e}")))
        };
        let end = self.end.as_deref().map(|v| parse("end", v)).transpose()?.unwrap_or_else(Utc::now);
        let start = self.start.as_deref().map(|v| parse("start", v)).transpose()?.unwrap_or(end - default_span);
        if start >= end {
            return Err(ApiError::bad_request(
                "invalid_range",
                format!("start {} must be before end {}", start.to_rfc3339(), end.to_rfc3339()),
            ));
        }
        if end - start > Duration::days(max_span_days) {
            return Err(ApiError::bad_request(
                "range_too_long",
                format!("the range may span at most {max_span_days} days"),
            ));
        }
        Ok((start, end))
    }

    fn limit(&self, (default, max): (i64, i64)) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(default),
            Some(l) if (1..=max).contains(&l) => Ok(l),
            Some(l) => {
                Err(ApiError::bad_request("invalid_limit", format!("limit must be between 1 and {max}, got {l}")))
            }
        }
    }
}

async fn known_symbol(state: &AppState, raw: &str) -> Result<(String, i32), ApiError> {
    let symbol = canonical_symbol(raw).map_err(|e| ApiError::bad_request("invalid_symbol", e))?;
    match state.symbols.id(&state.pool, &symbol).await? {
        Some(id) => Ok((symbol, id)),
        None => Err(ApiError::NotFound(format!("unknown symbol {symbol}"))),
    }
}

/// One tick in a price history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PricePoint {
    /// Trade time.
    pub ts: DateTime<Utc>,
    /// Price.
    #[schema(value_type = String)]
    pub price: Decimal,
    /// Size.
    #[schema(value_type = String)]
    pub size: Decimal,
}

/// A page of ticks.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PricesPage {
    /// The symbol.
    pub symbol: String,
    /// Range start.
    pub start: DateTime<Utc>,
    /// Range end.
    pub end: DateTime<Utc>,
    /// Ticks in time order.
    pub prices: Vec<PricePoint>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Ticks of a symbol in a range, paged.
#[utoipa::path(get, path = "/api/v1/market/prices/{symbol}", tag = "market",
    params(("symbol" = String, Path), RangeQuery), responses((status = 200, body = PricesPage), (status = 400, description = "bad range, limit or cursor"), (status = 404, description = "unknown symbol")))]
pub async fn prices(
    State(state): State<AppState>,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<PricesPage>, ApiError> {
    let (start, end) = q.range(Duration::hours(1), MAX_PRICES_SPAN_DAYS)?;
    let limit = q.limit(PRICES_LIMIT)?;
    let (after_ts, after_id) = match q.cursor.as_deref() {
        None => (start, -1),
        Some(c) => parse_cursor(c)?,
    };
    let (symbol, id) = known_symbol(&state, &symbol).await?;
    let archived = crate::archive::read::pruned_ticks(
        &state.pool,
        &*state.archive,
        id,
        (start, end),
        (after_ts, after_id),
        limit as usize,
    )
    .await
    .map_err(|e| {
        tracing::warn!(error = %e, "reading archived ticks failed");
        ApiError::Unavailable("archived ticks of this range cannot be read right now; retry shortly".to_owned())
    })?;
    let mut rows: Vec<(i64, DateTime<Utc>, Decimal, Decimal)> = sqlx::query_as(
        "select tick_id, ts, price, size from tick
         where symbol_id = $1 and ts >= $2 and ts < $3 and (ts, tick_id) > ($4, $5)
         order by ts, tick_id limit $6",
    )
    .bind(id)
    .bind(start)
    .bind(end)
    .bind(after_ts)
    .bind(after_id)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    if !archived.is_empty() {
        // Days dropped from Postgres after archiving come from their Parquet objects.
        rows.extend(archived);
        rows.sort_by_key(|(id, ts, _, _)| (*ts, *id));
        rows.truncate(limit as usize);
    }
    let next_cursor = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|(id, ts, _, _)| format!("{}:{id}", ts.timestamp_micros())))
        .flatten();
    let prices = rows
        .into_iter()
        .map(|(_, ts, price, size)| PricePoint { ts, price: price.normalize(), size: size.normalize() })
        .collect();
    Ok(Json(PricesPage { symbol, start, end, prices, next_cursor }))
}

fn parse_cursor(c: &str) -> Result<(DateTime<Utc>, i64), ApiError> {
    let bad = || ApiError::bad_request("invalid_cursor", "cursor must be the next_cursor of a previous page");
    let (micros, id) = c.split_once(':').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let id: i64 = id.parse().map_err(|_| bad())?;
    Ok((Utc.timestamp_micros(micros).single().ok_or_else(bad)?, id))
}

/// Mean of the 1-minute closes in a range.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Average {
    /// The symbol.
    pub symbol: String,
    /// Range start.
    pub start: DateTime<Utc>,
    /// Range end.
    pub end: DateTime<Utc>,
    /// Arithmetic mean of the closes of the 1-minute bars that open in the range, rounded to
    /// 10 decimals; null when there are none.
    #[schema(value_type = Option<String>)]
    pub average: Option<Decimal>,
    /// Number of 1-minute bars averaged.
    pub count: i64,
}

/// Average price over a range.
///
/// Whole closed UTC days come from a per-day sum/count table filled on first use, so a year takes
/// a few hundred rows; the partial days at the edges and today come from the bars themselves.
#[utoipa::path(get, path = "/api/v1/market/average/{symbol}", tag = "market",
    params(("symbol" = String, Path), RangeQuery), responses((status = 200, body = Average), (status = 400, description = "bad range"), (status = 404, description = "unknown symbol")))]
pub async fn average(
    State(state): State<AppState>,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Average>, ApiError> {
    let (start, end) = q.range(Duration::days(1), MAX_HISTORY_SPAN_DAYS)?;
    let (symbol, id) = known_symbol(&state, &symbol).await?;
    let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"));
    let first_full_day = {
        let d = start.date_naive();
        if midnight(d) == start {
            d
        } else {
            d.succ_opt().unwrap_or(d)
        }
    };
    // Days strictly before today are closed: their bars no longer change except by late writes,
    // which delete the day's cached row.
    let days_end = end.date_naive().min(Utc::now().date_naive());
    let (sum, count): (Option<Decimal>, i64) = if first_full_day < days_end {
        let (full_from, full_to) = (midnight(first_full_day), midnight(days_end));
        let mut tx = state.pool.begin().await?;
        // Only days without a cached row are scanned; days without bars are cached as zero so
        // they are not scanned again.
        sqlx::query(
            "insert into bar_day_stats (symbol_id, day, close_sum, bar_count)
             select $1, d.day::date, coalesce(s.close_sum, 0), s.bar_count
             from (
                 select day from generate_series($2::timestamp, $3::timestamp - interval '1 day', interval '1 day') as g(day)
                 where not exists (select 1 from bar_day_stats c where c.symbol_id = $1 and c.day = g.day::date)
                 offset 0 -- evaluate the filter before the per-day scans below
             ) as d(day)
             cross join lateral (
                 select sum(close) as close_sum, count(*) as bar_count from bar_1m
                 where symbol_id = $1 and ts >= d.day at time zone 'UTC' and ts < (d.day + interval '1 day') at time zone 'UTC'
             ) s
             on conflict do nothing",
        )
        .bind(id)
        .bind(first_full_day)
        .bind(days_end)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query_as(
            "select sum(s), coalesce(sum(n), 0)::int8 from (
                 select sum(close_sum) as s, sum(bar_count) as n from bar_day_stats where symbol_id = $1 and day >= $2 and day < $3
                 union all
                 select sum(close), count(*) from bar_1m where symbol_id = $1 and ts >= $4 and ts < $5
                 union all
                 select sum(close), count(*) from bar_1m where symbol_id = $1 and ts >= $6 and ts < $7
             ) parts",
        )
        .bind(id)
        .bind(first_full_day)
        .bind(days_end)
        .bind(start)
        .bind(full_from)
        .bind(full_to)
        .bind(end)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row
    } else {
        sqlx::query_as("select sum(close), count(*) from bar_1m where symbol_id = $1 and ts >= $2 and ts < $3")
            .bind(id)
            .bind(start)
            .bind(end)
            .fetch_one(&state.pool)
            .await?
    };
    let average = match (sum, count) {
        (Some(sum), n) if n > 0 => Some((sum / Decimal::from(n)).round_dp(10).normalize()),
        _ => None,
    };
    Ok(Json(Average { symbol, start, end, average, count }))
}

/// A page of bars.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BarsPage {
    /// The symbol.
    pub symbol: String,
    /// The interval.
    pub interval: String,
    /// Range start, aligned down to the interval.
    pub start: DateTime<Utc>,
    /// Range end.
    pub end: DateTime<Utc>,
    /// Bars in time order.
    pub bars: Vec<Bar>,
    /// Pass as `start` (keeping `end`) for the next page; absent on the last page.
    pub next_start: Option<DateTime<Utc>>,
}

/// Supported bar intervals and their lengths.
pub fn interval_duration(interval: &str) -> Option<Duration> {
    Some(match interval {
        "1m" => Duration::minutes(1),
        "5m" => Duration::minutes(5),
        "15m" => Duration::minutes(15),
        "1h" => Duration::hours(1),
        "1d" => Duration::days(1),
        _ => return None,
    })
}

/// A bar as read from SQL: open time, open, high, low, close, volume, trades.
type BarTuple = (DateTime<Utc>, Decimal, Decimal, Decimal, Decimal, Decimal, i64);

/// OHLCV bars of a symbol, paged; 5m, 15m, 1h and 1d bars are derived from 1-minute bars.
#[utoipa::path(get, path = "/api/v1/market/bars/{symbol}", tag = "market",
    params(("symbol" = String, Path), RangeQuery), responses((status = 200, body = BarsPage), (status = 400, description = "bad range, limit or interval"), (status = 404, description = "unknown symbol")))]
pub async fn bars(
    State(state): State<AppState>,
    ApiPath(symbol): ApiPath<String>,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<BarsPage>, ApiError> {
    let interval = q.interval.clone().unwrap_or_else(|| "1m".to_owned());
    let step = interval_duration(&interval).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_interval",
            format!("unknown interval {interval:?}; expected 1m, 5m, 15m, 1h or 1d"),
        )
    })?;
    let (start, end) = q.range(Duration::days(1), MAX_HISTORY_SPAN_DAYS)?;
    let start = start.duration_trunc(step).map_err(|e| ApiError::bad_request("invalid_range", e.to_string()))?;
    let limit = q.limit(BARS_LIMIT)?;
    let (symbol, id) = known_symbol(&state, &symbol).await?;
    let rows: Vec<BarTuple> = if interval == "1m" {
        sqlx::query_as(
            "select ts, open, high, low, close, volume, trades::int8 from bar_1m
             where symbol_id = $1 and ts >= $2 and ts < $3 order by ts limit $4",
        )
        .bind(id)
        .bind(start)
        .bind(end)
        .bind(limit)
        .fetch_all(&state.pool)
        .await?
    } else {
        sqlx::query_as(
            "select date_bin($5::interval, ts, timestamptz '2000-01-01 00:00:00+00') as bucket,
                    (array_agg(open order by ts))[1], max(high), min(low), (array_agg(close order by ts desc))[1],
                    sum(volume), sum(trades)::int8
             from bar_1m where symbol_id = $1 and ts >= $2 and ts < $3
             group by bucket order by bucket limit $4",
        )
        .bind(id)
        .bind(start)
        .bind(end)
        .bind(limit)
        .bind(sqlx::postgres::types::PgInterval::try_from(step.to_std().expect("positive")).expect("interval"))
        .fetch_all(&state.pool)
        .await?
    };
    let next_start =
        (rows.len() as i64 == limit).then(|| rows.last().map(|r| r.0 + step)).flatten().filter(|n| *n < end);
    let bars = rows
        .into_iter()
        .map(|(ts, open, high, low, close, volume, trades)| Bar {
            ts,
            open: open.normalize(),
            high: high.normalize(),
            low: low.normalize(),
            close: close.normalize(),
            volume: volume.normalize(),
            trades: i32::try_from(trades).unwrap_or(i32::MAX),
        })
        .collect();
    Ok(Json(BarsPage { symbol, interval, start, end, bars, next_start }))
}
