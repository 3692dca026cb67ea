//! The market-data archive as other programs read it: the object keys of each symbol's days
//! and the Parquet files behind them.
//!
//! ```text
//! market-data/historical/symbol=BTCUSD/date=2026-11-20/ticks.parquet
//! market-data/historical/symbol=BTCUSD/date=2026-11-20/bars_1m.parquet
//! ```
//!
//! The data-service writes and verifies these objects; the backtester reads bars back from them
//! so that history is not limited to what is still in Postgres. Both go through this crate, so
//! the layout cannot drift between writer and reader.

#![warn(missing_docs)]

pub mod format;

use arrow_array::{
    cast::AsArray,
    types::{Decimal128Type, Int32Type, Int64Type, TimestampMicrosecondType},
    RecordBatch,
};
use arrow_schema::DataType;
use chrono::{NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;

use crate::format::{BarRow, FormatError, TickRow};

/// Prefix of every market-data object.
pub const PREFIX: &str = "market-data/historical";

/// What is archived per symbol and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ticks.parquet`.
    Ticks,
    /// `bars_1m.parquet`.
    Bars1m,
}

impl Kind {
    /// The manifest's `kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ticks => "ticks",
            Self::Bars1m => "bars_1m",
        }
    }

    /// Both kinds.
    pub const ALL: [Kind; 2] = [Kind::Ticks, Kind::Bars1m];
}

/// The object key of `symbol`'s `kind` on `day`; `/`, `:` and `%` in symbols are escaped as
/// Hive escapes them.
pub fn object_key(symbol: &str, day: NaiveDate, kind: Kind) -> String {
    let symbol = symbol.replace('%', "%25").replace('/', "%2F").replace(':', "%3A");
    format!("{PREFIX}/symbol={symbol}/date={}/{}.parquet", day.format("%Y-%m-%d"), kind.as_str())
}

/// Refuses a batch whose columns are not `expected`'s (names and types).
fn check_schema(batch: &RecordBatch, expected: &arrow_schema::Schema) -> Result<(), FormatError> {
    let schema = batch.schema();
    let same = schema.fields().len() == expected.fields().len()
        && schema
            .fields()
            .iter()
            .zip(expected.fields())
            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
    if same {
        Ok(())
    } else {
        Err(FormatError::Schema(format!("{schema:?}")))
    }
}

/// The rows of a decoded `ticks.parquet`, in file order.
///
/// # Errors
/// [`FormatError::Schema`] when the batches do not have the tick schema.
pub fn tick_rows(batches: &[RecordBatch]) -> Result<Vec<TickRow>, FormatError> {
    let expected = format::tick_schema();
    let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    let scale = format::SCALE as u32;
    for batch in batches {
        check_schema(batch, &expected)?;
        let ids = batch.column(0).as_primitive::<Int64Type>();
        let ts = batch.column(1).as_primitive::<TimestampMicrosecondType>();
        let (price, size) =
            (batch.column(2).as_primitive::<Decimal128Type>(), batch.column(3).as_primitive::<Decimal128Type>());
        for i in 0..batch.num_rows() {
            let Some(at) = Utc.timestamp_micros(ts.value(i)).single() else {
                return Err(FormatError::Column(DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None)));
            };
            rows.push(TickRow {
                tick_id: ids.value(i),
                ts: at,
                price: Decimal::from_i128_with_scale(price.value(i), scale),
                size: Decimal::from_i128_with_scale(size.value(i), scale),
            });
        }
    }
    Ok(rows)
}

/// The rows of a decoded `bars_1m.parquet`, in file order.
///
/// # Errors
/// [`FormatError::Schema`] when the batches do not have the bar schema.
pub fn bar_rows(batches: &[RecordBatch]) -> Result<Vec<BarRow>, FormatError> {
    let expected = format::bar_schema();
    let mut rows = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for batch in batches {
        check_schema(batch, &expected)?;
        let ts = batch.column(0).as_primitive::<TimestampMicrosecondType>();
        let decimal = |i: usize| batch.column(i).as_primitive::<Decimal128Type>();
        let (open, high, low, close, volume) = (decimal(1), decimal(2), decimal(3), decimal(4), decimal(5));
        let trades = batch.column(6).as_primitive::<Int32Type>();
        let scale = format::SCALE as u32;
        for i in 0..batch.num_rows() {
            let Some(ts) = Utc.timestamp_micros(ts.value(i)).single() else {
                return Err(FormatError::Column(DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None)));
            };
            rows.push(BarRow {
                ts,
                open: Decimal::from_i128_with_scale(open.value(i), scale),
                high: Decimal::from_i128_with_scale(high.value(i), scale),
                low: Decimal::from_i128_with_scale(low.value(i), scale),
                close: Decimal::from_i128_with_scale(close.value(i), scale),
                volume: Decimal::from_i128_with_scale(volume.value(i), scale),
                trades: trades.value(i),
            });
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hive_partitioned_and_escape_path_characters() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(
            object_key("BTCUSD", day, Kind::Ticks),
            "market-data/historical/symbol=BTCUSD/date=2026-11-20/ticks.parquet"
        );
        assert_eq!(
            object_key("BTC/USD:X", day, Kind::Bars1m),
            "market-data/historical/symbol=BTC%2FUSD%3AX/date=2026-11-20/bars_1m.parquet"
        );
    }

    #[test]
    fn bars_read_back_exactly_as_written() {
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let written = vec![
            BarRow {
                ts: t,
                open: d("1.5"),
                high: d("2"),
                low: d("1"),
                close: d("1.75"),
                volume: d("10.0000000001"),
                trades: 3,
            },
            BarRow {
                ts: t + chrono::Duration::minutes(1),
                open: d("1.75"),
                high: d("1.8"),
                low: d("1.7"),
                close: d("1.7"),
                volume: d("2"),
                trades: 1,
            },
        ];
        let file = format::encode(&format::bars_batch(&written).unwrap()).unwrap();
        assert_eq!(bar_rows(&format::decode(file).unwrap()).unwrap(), written);
    }

    #[test]
    fn a_tick_file_is_not_taken_for_bars() {
        let rows = vec![format::TickRow { tick_id: 1, ts: Utc::now(), price: Decimal::ONE, size: Decimal::ONE }];
        let batch = format::ticks_batch(&rows).unwrap();
        assert!(matches!(bar_rows(&[batch]), Err(FormatError::Schema(_))));
    }

    #[test]
    fn ticks_read_back_exactly_as_written() {
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        let rows = vec![
            TickRow { tick_id: 7, ts: t, price: Decimal::new(1_000_125, 4), size: Decimal::new(3, 0) },
            TickRow { tick_id: 8, ts: t, price: Decimal::new(99_999_999, 6), size: Decimal::new(15, 1) },
        ];
        let encoded = format::encode(&format::ticks_batch(&rows).unwrap()).unwrap();
        let back = tick_rows(&format::decode(encoded).unwrap()).unwrap();
        assert_eq!(back, rows);
        let one = Decimal::ONE;
        let bar = BarRow { ts: t, open: one, high: one, low: one, close: one, volume: one, trades: 1 };
        let bars = format::encode(&format::bars_batch(&[bar]).unwrap()).unwrap();
        assert!(matches!(tick_rows(&format::decode(bars).unwrap()), Err(FormatError::Schema(_))));
    }
}
