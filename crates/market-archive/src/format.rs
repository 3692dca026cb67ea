//! The Parquet files of the archive and their content checksum.
//!
//! Prices, sizes and volumes are written as `decimal128(28, 10)`, exactly the database's
//! `numeric(28, 10)`: no value is rounded, and Athena, pyarrow and duckdb read them as decimals.
//! Times are `timestamp(microsecond, UTC)`, the database's precision. Compression is zstd.
//!
//! The checksum is SHA-256 over the rows' canonical content (row by row: each column's value
//! as little-endian bytes; decimals as their unscaled 128-bit integer at scale 10), computed
//! from the Arrow data, so the same function checks what was written and what is read back,
//! independent of how the file is laid out in row groups or pages.

use std::sync::Arc;

use arrow_array::{
    cast::AsArray,
    types::{Decimal128Type, Int32Type, Int64Type, TimestampMicrosecondType},
    ArrayRef, Decimal128Array, Int32Array, Int64Array, RecordBatch, TimestampMicrosecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use parquet::{
    arrow::{arrow_reader::ParquetRecordBatchReaderBuilder, ArrowWriter},
    basic::{Compression, ZstdLevel},
    errors::ParquetError,
    file::properties::WriterProperties,
};
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

/// Decimal precision of prices, sizes and volumes (as in the database).
pub const PRECISION: u8 = 28;
/// Decimal scale of prices, sizes and volumes (as in the database).
pub const SCALE: i8 = 10;

/// A failure encoding or decoding an archive file.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// Arrow refused the data.
    #[error("arrow: {0}")]
    Arrow(#[from] ArrowError),
    /// Parquet refused the data.
    #[error("parquet: {0}")]
    Parquet(#[from] ParquetError),
    /// A value does not fit `decimal(28, 10)`.
    #[error("value {0} does not fit decimal(28, 10)")]
    Decimal(Decimal),
    /// A column has a type the checksum does not know.
    #[error("unexpected column type {0}")]
    Column(DataType),
    /// A file does not have the schema its name promises.
    #[error("unexpected schema {0}")]
    Schema(String),
}

/// One tick row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TickRow {
    /// The database's tick id (tie-breaker of equal timestamps).
    pub tick_id: i64,
    /// Trade time.
    pub ts: DateTime<Utc>,
    /// Price.
    pub price: Decimal,
    /// Size.
    pub size: Decimal,
}

/// One 1-minute bar row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct BarRow {
    /// Open time (whole minute).
    pub ts: DateTime<Utc>,
    /// Open.
    pub open: Decimal,
    /// High.
    pub high: Decimal,
    /// Low.
    pub low: Decimal,
    /// Close.
    pub close: Decimal,
    /// Volume.
    pub volume: Decimal,
    /// Number of trades.
    pub trades: i32,
}

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn decimal_field(name: &str) -> Field {
    Field::new(name, DataType::Decimal128(PRECISION, SCALE), false)
}

/// Schema of `ticks.parquet`.
pub fn tick_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("tick_id", DataType::Int64, false),
        Field::new("ts", ts_type(), false),
        decimal_field("price"),
        decimal_field("size"),
    ]))
}

/// Schema of `bars_1m.parquet`.
pub fn bar_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ts", ts_type(), false),
        decimal_field("open"),
        decimal_field("high"),
        decimal_field("low"),
        decimal_field("close"),
        decimal_field("volume"),
        Field::new("trades", DataType::Int32, false),
    ]))
}

/// The unscaled value of `d` at scale 10.
pub fn unscaled(d: Decimal) -> Result<i128, FormatError> {
    if d.normalize().scale() > SCALE as u32 {
        return Err(FormatError::Decimal(d));
    }
    let mut x = d;
    x.rescale(SCALE as u32);
    // rescale cannot always reach scale 10 (96-bit mantissa); refuse rather than round.
    if x.scale() != SCALE as u32 || x != d {
        return Err(FormatError::Decimal(d));
    }
    let m = x.mantissa();
    if m.unsigned_abs() >= 10u128.pow(u32::from(PRECISION)) {
        return Err(FormatError::Decimal(d));
    }
    Ok(m)
}

fn decimals(values: impl Iterator<Item = Decimal>) -> Result<ArrayRef, FormatError> {
    let v: Vec<i128> = values.map(unscaled).collect::<Result<_, _>>()?;
    Ok(Arc::new(Decimal128Array::from(v).with_precision_and_scale(PRECISION, SCALE)?))
}

fn timestamps(values: impl Iterator<Item = DateTime<Utc>>) -> ArrayRef {
    Arc::new(
        TimestampMicrosecondArray::from(values.map(|t| t.timestamp_micros()).collect::<Vec<_>>()).with_timezone("UTC"),
    )
}

/// The ticks as one record batch.
pub fn ticks_batch(rows: &[TickRow]) -> Result<RecordBatch, FormatError> {
    Ok(RecordBatch::try_new(
        tick_schema(),
        vec![
            Arc::new(Int64Array::from(rows.iter().map(|r| r.tick_id).collect::<Vec<_>>())),
            timestamps(rows.iter().map(|r| r.ts)),
            decimals(rows.iter().map(|r| r.price))?,
            decimals(rows.iter().map(|r| r.size))?,
        ],
    )?)
}

/// The bars as one record batch.
pub fn bars_batch(rows: &[BarRow]) -> Result<RecordBatch, FormatError> {
    Ok(RecordBatch::try_new(
        bar_schema(),
        vec![
            timestamps(rows.iter().map(|r| r.ts)),
            decimals(rows.iter().map(|r| r.open))?,
            decimals(rows.iter().map(|r| r.high))?,
            decimals(rows.iter().map(|r| r.low))?,
            decimals(rows.iter().map(|r| r.close))?,
            decimals(rows.iter().map(|r| r.volume))?,
            Arc::new(Int32Array::from(rows.iter().map(|r| r.trades).collect::<Vec<_>>())),
        ],
    )?)
}

/// A zstd-compressed Parquet file of `batch`.
pub fn encode(batch: &RecordBatch) -> Result<Bytes, FormatError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_created_by("halyard market-data archive".to_owned())
        .build();
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(Bytes::from(out))
}

/// Every batch of a Parquet file.
pub fn decode(data: Bytes) -> Result<Vec<RecordBatch>, FormatError> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(data)?.build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

/// Row count and content checksum (hex SHA-256) of `batches` (see the module docs).
pub fn content_checksum(batches: &[RecordBatch]) -> Result<(u64, String), FormatError> {
    let mut hash = Sha256::new();
    let mut rows = 0u64;
    for batch in batches {
        for col in batch.columns() {
            match col.data_type() {
                DataType::Int64 | DataType::Int32 | DataType::Timestamp(TimeUnit::Microsecond, _) => {}
                DataType::Decimal128(p, s) if *p == PRECISION && *s == SCALE => {}
                other => return Err(FormatError::Column(other.clone())),
            }
        }
        for i in 0..batch.num_rows() {
            for col in batch.columns() {
                match col.data_type() {
                    DataType::Int64 => hash.update(col.as_primitive::<Int64Type>().value(i).to_le_bytes()),
                    DataType::Int32 => hash.update(col.as_primitive::<Int32Type>().value(i).to_le_bytes()),
                    DataType::Timestamp(..) => {
                        hash.update(col.as_primitive::<TimestampMicrosecondType>().value(i).to_le_bytes());
                    }
                    _ => hash.update(col.as_primitive::<Decimal128Type>().value(i).to_le_bytes()),
                }
            }
            rows += 1;
        }
    }
    Ok((rows, hex::encode(hash.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn ticks() -> Vec<TickRow> {
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
        vec![
            TickRow { tick_id: 1, ts: t, price: d("101.25"), size: d("0.0000000001") },
            TickRow { tick_id: 2, ts: t, price: d("123456789012345678.9876543210"), size: d("3") },
        ]
    }

    #[test]
    fn ticks_survive_a_round_trip_through_parquet_exactly() {
        let batch = ticks_batch(&ticks()).unwrap();
        let before = content_checksum(std::slice::from_ref(&batch)).unwrap();
        let back = decode(encode(&batch).unwrap()).unwrap();
        assert_eq!(content_checksum(&back).unwrap(), before);
        let prices = back[0].column(2).as_primitive::<Decimal128Type>();
        assert_eq!(prices.value(1), 1_234_567_890_123_456_789_876_543_210);
        assert_eq!(before.0, 2);
    }

    #[test]
    fn the_checksum_changes_when_one_value_changes() {
        let mut rows = ticks();
        let a = content_checksum(&[ticks_batch(&rows).unwrap()]).unwrap().1;
        rows[0].price = d("101.2500000001");
        let b = content_checksum(&[ticks_batch(&rows).unwrap()]).unwrap().1;
        assert_ne!(a, b);
    }

    #[test]
    fn values_with_more_than_ten_decimals_are_refused_not_rounded() {
        assert!(unscaled(d("1.00000000001")).is_err());
        assert_eq!(unscaled(d("1.5")).unwrap(), 15_000_000_000);
    }

    #[test]
    fn files_are_zstd_compressed() {
        let data = encode(&ticks_batch(&ticks()).unwrap()).unwrap();
        let meta = ParquetRecordBatchReaderBuilder::try_new(data).unwrap().metadata().clone();
        let col = meta.row_group(0).column(0);
        assert!(matches!(col.compression(), Compression::ZSTD(_)));
    }
}
