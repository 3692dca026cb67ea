//! Bars for backtests from the platform's own history: the data-service's 1-minute bars in
//! Postgres, or the Parquet archive (S3 or the local folder), aggregated to the requested
//! interval.
//!
//! Live feed data has gaps (quiet minutes have no bar), so these series allow them; the order
//! is always strictly increasing. Prices go from `numeric` straight to fixed point, never
//! through `f64`, and the largest number of decimals seen becomes the series' precision.

use std::{fmt, str::FromStr};

use backtest::data::BarSeries;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{Bar, InstrumentId, Price, Qty, Timestamp};
use futures_util::TryStreamExt;
use market_archive::{format, Kind};
use platform::store::{ObjectStore, StoreError};
use rust_decimal::Decimal;
use sqlx::PgPool;

use crate::convert;

/// Where a backtest's bars come from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum BarSource {
    /// The data-service's `bar_1m` table.
    Postgres,
    /// The Parquet archive (`market-data/historical/...`).
    Archive,
}

impl fmt::Display for BarSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres => "postgres",
            Self::Archive => "archive",
        })
    }
}

/// A bar interval the history can be aggregated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    minutes: i64,
}

impl Interval {
    /// The names accepted, as in the data-service's bars API.
    pub const NAMES: [&'static str; 5] = ["1m", "5m", "15m", "1h", "1d"];

    /// Its length.
    pub fn duration(self) -> Duration {
        Duration::minutes(self.minutes)
    }

    fn millis(self) -> i64 {
        self.minutes * 60_000
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.minutes {
            1440 => f.write_str("1d"),
            60 => f.write_str("1h"),
            m => write!(f, "{m}m"),
        }
    }
}

impl FromStr for Interval {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let minutes = match s {
            "1m" => 1,
            "5m" => 5,
            "15m" => 15,
            "1h" => 60,
            "1d" => 1440,
            other => return Err(format!("unknown interval {other:?}; expected 1m, 5m, 15m, 1h or 1d")),
        };
        Ok(Self { minutes })
    }
}

/// Which bars: a symbol, an interval and the half-open range `[from, to)`.
#[derive(Debug, Clone)]
pub struct HistoryRequest {
    /// The symbol, e.g. `BTCUSD`.
    pub symbol: String,
    /// Bar interval.
    pub interval: Interval,
    /// Range start (inclusive).
    pub from: DateTime<Utc>,
    /// Range end (exclusive).
    pub to: DateTime<Utc>,
}

impl HistoryRequest {
    /// How a run names its data: `postgres:BTCUSD 5m [from, to)`.
    pub fn label(&self, source: BarSource) -> String {
        format!("{source}:{} {} [{}, {})", self.symbol, self.interval, self.from.to_rfc3339(), self.to.to_rfc3339())
    }
}

/// Why bars could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The symbol has never been recorded.
    #[error("unknown symbol {0:?}")]
    UnknownSymbol(String),
    /// The range holds no bar.
    #[error("no bars for {symbol} in [{from}, {to}) in the {origin}")]
    NoBars {
        /// Symbol.
        symbol: String,
        /// Range start.
        from: DateTime<Utc>,
        /// Range end.
        to: DateTime<Utc>,
        /// Where we looked.
        origin: BarSource,
    },
    /// A stored price does not fit the engine's fixed point (more than 8 decimals).
    #[error("bar at {ts}, field `{field}`: {value} has more than 8 decimals or is out of range")]
    Price {
        /// The bar's open time.
        ts: DateTime<Utc>,
        /// The column.
        field: &'static str,
        /// The stored value.
        value: Decimal,
    },
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The store failed (other than a missing day).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An archived object is not in the archive's format.
    #[error("archived bars: {0}")]
    Format(#[from] format::FormatError),
}

impl SourceError {
    /// Whether retrying later may succeed (an outage), as opposed to a request that can never
    /// be served.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Database(_) | Self::Store(_))
    }
}

/// One stored 1-minute bar.
struct MinuteBar {
    ts: DateTime<Utc>,
    ohlcv: [Decimal; 5],
}

const FIELDS: [&str; 5] = ["open", "high", "low", "close", "volume"];

/// Loads the bars of `request` from the data-service's `bar_1m` table, streaming the rows so
/// that only the aggregated bars are held in memory.
///
/// # Errors
/// [`SourceError`]: an unknown symbol, an empty range, an unrepresentable price, a database
/// failure.
pub async fn load_postgres(pool: &PgPool, request: &HistoryRequest) -> Result<BarSeries, SourceError> {
    let symbol_id: Option<i32> = sqlx::query_scalar("select symbol_id from symbol where symbol = $1")
        .bind(&request.symbol)
        .fetch_optional(pool)
        .await?;
    let symbol_id = symbol_id.ok_or_else(|| SourceError::UnknownSymbol(request.symbol.clone()))?;
    let mut rows = sqlx::query_as::<_, (DateTime<Utc>, Decimal, Decimal, Decimal, Decimal, Decimal)>(
        "select ts, open, high, low, close, volume from bar_1m
         where symbol_id = $1 and ts >= $2 and ts < $3 order by ts",
    )
    .bind(symbol_id)
    .bind(request.from)
    .bind(request.to)
    .fetch(pool);
    let mut series = SeriesBuilder::new(request.interval);
    while let Some((ts, o, h, l, c, v)) = rows.try_next().await? {
        series.push(&MinuteBar { ts, ohlcv: [o, h, l, c, v] })?;
    }
    series.finish(request, BarSource::Postgres)
}

/// Loads the bars of `request` from the archive: each UTC day's `bars_1m.parquet` in the
/// range; a day without an object has no bars.
///
/// # Errors
/// [`SourceError`]: an empty range, an object that is not a bar file, a store failure other
/// than a missing day.
pub async fn load_archive(store: &dyn ObjectStore, request: &HistoryRequest) -> Result<BarSeries, SourceError> {
    let last_day = (request.to - Duration::microseconds(1)).date_naive();
    let mut series = SeriesBuilder::new(request.interval);
    let mut day: NaiveDate = request.from.date_naive();
    while day <= last_day {
        let key = market_archive::object_key(&request.symbol, day, Kind::Bars1m);
        match store.get(&key).await {
            Ok(bytes) => {
                let mut rows = market_archive::bar_rows(&format::decode(bytes)?)?;
                rows.sort_by_key(|row| row.ts);
                for row in rows.into_iter().filter(|row| row.ts >= request.from && row.ts < request.to) {
                    series
                        .push(&MinuteBar { ts: row.ts, ohlcv: [row.open, row.high, row.low, row.close, row.volume] })?;
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

/// Folds ordered 1-minute bars into bars of one interval (aligned to the Unix epoch, so days
/// start at 00:00 UTC): first open, highest high, lowest low, last close, summed volume.
struct SeriesBuilder {
    step_ms: i64,
    bars: Vec<Bar>,
    decimals: u32,
}

impl SeriesBuilder {
    fn new(interval: Interval) -> Self {
        Self { step_ms: interval.millis(), bars: Vec::new(), decimals: 0 }
    }

    fn push(&mut self, minute: &MinuteBar) -> Result<(), SourceError> {
        let mut fixed = [0i64; 5];
        for (i, value) in minute.ohlcv.iter().enumerate() {
            fixed[i] = convert::decimal_to_raw(*value).map_err(|_| SourceError::Price {
                ts: minute.ts,
                field: FIELDS[i],
                value: *value,
            })?;
            if i < 4 {
                self.decimals = self.decimals.max(value.normalize().scale());
            }
        }
        let bucket = minute.ts.timestamp_millis().div_euclid(self.step_ms) * self.step_ms;
        let ts = Timestamp::checked_from_millis(bucket).ok_or(SourceError::Price {
            ts: minute.ts,
            field: "ts",
            value: Decimal::ZERO,
        })?;
        let [open, high, low, close] = [fixed[0], fixed[1], fixed[2], fixed[3]].map(Price::from_raw);
        let volume = Qty::from_raw(fixed[4]);
        match self.bars.last_mut() {
            Some(bar) if bar.ts == ts => {
                bar.high = bar.high.max(high);
                bar.low = bar.low.min(low);
                bar.close = close;
                bar.volume = bar.volume + volume;
            }
            _ => self.bars.push(Bar { instrument: InstrumentId(0), ts, open, high, low, close, volume }),
        }
        Ok(())
    }

    fn finish(self, request: &HistoryRequest, source: BarSource) -> Result<BarSeries, SourceError> {
        if self.bars.is_empty() {
            return Err(SourceError::NoBars {
                symbol: request.symbol.clone(),
                from: request.from,
                to: request.to,
                origin: source,
            });
        }
        Ok(BarSeries {
            bars: self.bars,
            price_decimals: u8::try_from(self.decimals.min(8)).unwrap_or(8),
            interval_nanos: Some(self.step_ms * 1_000_000),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(ts_ms: i64, ohlcv: [&str; 5]) -> MinuteBar {
        MinuteBar { ts: DateTime::from_timestamp_millis(ts_ms).unwrap(), ohlcv: ohlcv.map(|v| v.parse().unwrap()) }
    }

    fn build_series(
        minutes: impl Iterator<Item = MinuteBar>,
        request: &HistoryRequest,
        source: BarSource,
    ) -> Result<BarSeries, SourceError> {
        let mut series = SeriesBuilder::new(request.interval);
        for minute in minutes {
            series.push(&minute)?;
        }
        series.finish(request, source)
    }

    fn request(interval: &str) -> HistoryRequest {
        HistoryRequest {
            symbol: "BTCUSD".into(),
            interval: interval.parse().unwrap(),
            from: DateTime::from_timestamp_millis(0).unwrap(),
            to: DateTime::from_timestamp_millis(86_400_000).unwrap(),
        }
    }

    #[test]
    fn five_minute_bars_fold_open_high_low_close_and_volume() {
        let minutes = vec![
            minute(0, ["10", "12", "9", "11", "1"]),
            minute(60_000, ["11", "15", "10.5", "14", "2.5"]),
            minute(240_000, ["14", "14", "8", "9.25", "1"]),
            minute(300_000, ["9", "9", "9", "9", "0"]),
        ];
        let series = build_series(minutes.into_iter(), &request("5m"), BarSource::Postgres).unwrap();
        assert_eq!(series.bars.len(), 2);
        let first = &series.bars[0];
        assert_eq!(first.ts.millis(), 0);
        assert_eq!(first.open.to_string(), "10");
        assert_eq!(first.high.to_string(), "15");
        assert_eq!(first.low.to_string(), "8");
        assert_eq!(first.close.to_string(), "9.25");
        assert_eq!(first.volume.to_string(), "4.5");
        assert_eq!(series.bars[1].ts.millis(), 300_000);
        assert_eq!(series.price_decimals, 2);
        assert_eq!(series.interval_nanos, Some(300_000_000_000));
    }

    #[test]
    fn a_price_with_more_than_eight_decimals_is_refused_naming_the_field() {
        let minutes = vec![minute(0, ["10", "12.123456789", "9", "11", "1"])];
        let error = build_series(minutes.into_iter(), &request("1m"), BarSource::Postgres).unwrap_err();
        assert!(error.to_string().contains("field `high`"), "{error}");
    }

    #[test]
    fn an_empty_range_is_an_error_not_an_empty_run() {
        let error = build_series(std::iter::empty(), &request("1h"), BarSource::Archive).unwrap_err();
        assert!(matches!(error, SourceError::NoBars { .. }), "{error}");
    }

    #[test]
    fn unknown_intervals_are_refused() {
        assert!("2m".parse::<Interval>().unwrap_err().contains("expected 1m, 5m, 15m, 1h or 1d"));
    }
}
