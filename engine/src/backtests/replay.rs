//! Trades and signals for tick-level replays (`engine backtest --replay`): the data-service's
//! ticks in Postgres or the archive's `ticks.parquet` days, and the TradingView signals a
//! strategy received, so tick- and signal-driven strategies are backtested through the path
//! they trade live (`backtest::portfolio::run_replay`).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{ExternalSignal, InstrumentId, SignalAction, Tick, Timestamp};
use futures_util::TryStreamExt;
use market_archive::{format, Kind};
use platform::store::ObjectStore;
use rust_decimal::Decimal;
use sqlx::PgPool;

use super::source::{BarSource, HistoryRequest, SourceError};
use crate::convert;

/// Trades in time order and the largest number of decimals of their prices.
#[derive(Debug, Default)]
pub struct TradeSeries {
    /// The trades (instrument 0), in time order.
    pub ticks: Vec<Tick>,
    /// Largest number of price decimals.
    pub price_decimals: u8,
}

impl TradeSeries {
    fn push(&mut self, ts: DateTime<Utc>, price: Decimal, size: Decimal) -> Result<(), SourceError> {
        let bad = |field, value| SourceError::Price { ts, field, value };
        let at = ts.timestamp_nanos_opt().map(Timestamp::from_nanos).ok_or_else(|| bad("ts", Decimal::ZERO))?;
        let price_fixed = convert::price(price).map_err(|_| bad("price", price))?;
        let size_fixed = convert::qty(size).map_err(|_| bad("size", size))?;
        self.price_decimals = self.price_decimals.max(u8::try_from(price.normalize().scale()).unwrap_or(8));
        self.ticks.push(Tick { instrument: InstrumentId(0), ts: at, price: price_fixed, size: size_fixed });
        Ok(())
    }

    fn finish(self, request: &HistoryRequest, origin: BarSource) -> Result<Self, SourceError> {
        if self.ticks.is_empty() {
            return Err(SourceError::NoBars {
                symbol: request.symbol.clone(),
                from: request.from,
                to: request.to,
                origin,
            });
        }
        Ok(self)
    }
}

/// The trades of `request` from the data-service's `tick` table, in time order (ties in the
/// order they were stored).
///
/// # Errors
/// [`SourceError`]: an unknown symbol, an empty range, a price beyond 8 decimals, a database
/// failure.
pub async fn load_ticks_postgres(pool: &PgPool, request: &HistoryRequest) -> Result<TradeSeries, SourceError> {
    let symbol_id: Option<i32> = sqlx::query_scalar("select symbol_id from symbol where symbol = $1")
        .bind(&request.symbol)
        .fetch_optional(pool)
        .await?;
    let symbol_id = symbol_id.ok_or_else(|| SourceError::UnknownSymbol(request.symbol.clone()))?;
    let mut rows = sqlx::query_as::<_, (DateTime<Utc>, Decimal, Decimal)>(
        "select ts, price, size from tick where symbol_id = $1 and ts >= $2 and ts < $3 order by ts, tick_id",
    )
    .bind(symbol_id)
    .bind(request.from)
    .bind(request.to)
    .fetch(pool);
    let mut series = TradeSeries::default();
    while let Some((ts, price, size)) = rows.try_next().await? {
        series.push(ts, price, size)?;
    }
    series.finish(request, BarSource::Postgres)
}

/// The trades of `request` from the archive's `ticks.parquet` days; a day without an object has
/// no trades.
///
/// # Errors
/// [`SourceError`]: an empty range, an object that is not a tick file, a store failure other
/// than a missing day.
pub async fn load_ticks_archive(store: &dyn ObjectStore, request: &HistoryRequest) -> Result<TradeSeries, SourceError> {
    let last_day = (request.to - Duration::microseconds(1)).date_naive();
    let mut series = TradeSeries::default();
    let mut day: NaiveDate = request.from.date_naive();
    while day <= last_day {
        match store.get(&market_archive::object_key(&request.symbol, day, Kind::Ticks)).await {
            Ok(bytes) => {
                let mut rows = market_archive::tick_rows(&format::decode(bytes)?)?;
                rows.sort_by_key(|row| (row.ts, row.tick_id));
                for row in rows.into_iter().filter(|row| row.ts >= request.from && row.ts < request.to) {
                    series.push(row.ts, row.price, row.size)?;
                }
            }
            Err(error) if error.not_found => {}
            Err(error) => return Err(error.into()),
        }
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    series.finish(request, BarSource::Archive)
}

/// A stored signal: when it arrived, its action, quantity and price.
type StoredSignal = (DateTime<Utc>, String, Option<Decimal>, Option<Decimal>);

/// The signals strategy `strategy` received for `request.symbol` in its range, in the order
/// they arrived (instrument 0).
///
/// # Errors
/// [`SourceError`]: a database failure, or a stored quantity or price beyond 8 decimals.
pub async fn load_signals(
    pool: &PgPool,
    strategy: &str,
    request: &HistoryRequest,
) -> Result<Vec<ExternalSignal>, SourceError> {
    let rows: Vec<StoredSignal> = sqlx::query_as(
        "select received_at, action, quantity, price from signal
          where strategy = $1 and upper(ticker) = $2 and received_at >= $3 and received_at < $4
          order by received_at, signal_id",
    )
    .bind(strategy)
    .bind(request.symbol.to_ascii_uppercase())
    .bind(request.from)
    .bind(request.to)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(ts, action, quantity, price)| {
            let bad = |field, value| SourceError::Price { ts, field, value };
            Ok(ExternalSignal {
                instrument: InstrumentId(0),
                action: match action.as_str() {
                    "buy" => SignalAction::Buy,
                    "sell" => SignalAction::Sell,
                    _ => SignalAction::Exit,
                },
                qty: quantity.map(|q| convert::qty(q).map_err(|_| bad("quantity", q))).transpose()?,
                price: price.map(|p| convert::price(p).map_err(|_| bad("price", p))).transpose()?,
                ts: ts.timestamp_nanos_opt().map(Timestamp::from_nanos).ok_or_else(|| bad("ts", Decimal::ZERO))?,
            })
        })
        .collect()
}
