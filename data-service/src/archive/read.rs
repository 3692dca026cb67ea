//! Reading archived days back: ticks of days whose partition was dropped after archiving.

use arrow_array::{
    cast::AsArray,
    types::{Decimal128Type, Int64Type, TimestampMicrosecondType},
};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use sqlx::PgPool;

use super::{format, store::ObjectStore, ArchiveError};

/// A tick as the history API pages it: id, time, price, size.
pub type TickTuple = (i64, DateTime<Utc>, Decimal, Decimal);

/// Up to `limit` ticks of `symbol_id` in `[range.0, range.1)` after the cursor `after`
/// (time, tick id), in order, from the archived objects of days whose tick partition was
/// pruned. Empty when no day of the range is pruned (no store access at all).
pub async fn pruned_ticks(
    pool: &PgPool,
    store: &dyn ObjectStore,
    symbol_id: i32,
    range: (DateTime<Utc>, DateTime<Utc>),
    after: (DateTime<Utc>, i64),
    limit: usize,
) -> Result<Vec<TickTuple>, ArchiveError> {
    let (start, end) = range;
    let first_day = start.max(after.0).date_naive();
    let last_day = (end - chrono::Duration::microseconds(1)).date_naive();
    let objects: Vec<(NaiveDate, String)> = sqlx::query_as(
        "select m.day, m.object_key from archive_manifest m join archive_day d using (day)
         where m.symbol_id = $1 and m.kind = 'ticks' and m.verified_at is not null
           and d.pruned_at is not null and m.day between $2 and $3
         order by m.day",
    )
    .bind(symbol_id)
    .bind(first_day)
    .bind(last_day)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::new();
    for (_, key) in objects {
        let batches = format::decode(store.get(&key).await?)?;
        for batch in &batches {
            let ids = batch.column(0).as_primitive::<Int64Type>();
            let ts = batch.column(1).as_primitive::<TimestampMicrosecondType>();
            let price = batch.column(2).as_primitive::<Decimal128Type>();
            let size = batch.column(3).as_primitive::<Decimal128Type>();
            for i in 0..batch.num_rows() {
                let Some(t) = Utc.timestamp_micros(ts.value(i)).single() else { continue };
                let id = ids.value(i);
                if t < start || t >= end || (t, id) <= after {
                    continue;
                }
                out.push((
                    id,
                    t,
                    Decimal::from_i128_with_scale(price.value(i), format::SCALE as u32),
                    Decimal::from_i128_with_scale(size.value(i), format::SCALE as u32),
                ));
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}
