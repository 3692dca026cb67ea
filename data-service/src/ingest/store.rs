//! SQL that writes market data: partitions, ticks by COPY, bars by multi-row upsert.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt::Write,
};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};

use super::lease::Fence;
use crate::{
    market::{Bar, Tick},
    symbols::Symbols,
};

/// Makes sure the tick partitions of the given days and the bar partitions of their months
/// exist. `known` remembers what this process already ensured.
pub async fn ensure_partitions(
    pool: &PgPool,
    known: &mut HashSet<String>,
    days: impl IntoIterator<Item = NaiveDate>,
    with_ticks: bool,
) -> Result<(), sqlx::Error> {
    for day in days {
        if with_ticks {
            let name = format!("tick_p{}", day.format("%Y%m%d"));
            if !known.contains(&name) {
                let from = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"));
                ensure_one(pool, "tick", &name[5..], from, from + Duration::days(1)).await?;
                known.insert(name);
            }
        }
        let month = NaiveDate::from_ymd_opt(day.year(), day.month(), 1).expect("first of month");
        let name = format!("bar_1m_p{}", month.format("%Y%m"));
        if !known.contains(&name) {
            let next = if month.month() == 12 {
                NaiveDate::from_ymd_opt(month.year() + 1, 1, 1)
            } else {
                NaiveDate::from_ymd_opt(month.year(), month.month() + 1, 1)
            }
            .expect("first of next month");
            let midnight = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"));
            ensure_one(pool, "bar_1m", &name[7..], midnight(month), midnight(next)).await?;
            known.insert(name);
        }
    }
    Ok(())
}

async fn ensure_one(
    pool: &PgPool,
    parent: &str,
    suffix: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("select halyard_ensure_partition($1, $2, $3, $4)")
        .bind(parent)
        .bind(suffix)
        .bind(from)
        .bind(to)
        .execute(pool)
        .await?;
    Ok(())
}

/// Why a batch was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The database refused or is unreachable.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// These feeds' leases changed hands since their ticks were received: those ticks must not
    /// be stored (the new holder stores its own). Nothing was written.
    #[error("feed leases superseded: {0:?}")]
    Fenced(Vec<Fence>),
}

/// Writes ticks, folds them into 1-minute bars, then replaces the bars given as authoritative,
/// and publishes the ticks on [`STREAM_CHANNEL`], all in one transaction: every data-service task
/// listening sees exactly the committed ticks, in commit order. `fences` are the feed leases the
/// ticks were received under; all must still hold (checked under a share lock in the same
/// transaction), else nothing is written and the stale ones are returned. `tag` makes this
/// batch's notifications unique (Postgres folds identical ones within a transaction).
pub async fn write_batch(
    pool: &PgPool,
    symbols: &Symbols,
    partitions: &mut HashSet<String>,
    ticks: &[&Tick],
    closed_bars: &[&(String, Bar)],
    fences: &[&Fence],
    tag: &str,
) -> Result<(), WriteError> {
    let mut ids: HashMap<&str, i32> = HashMap::new();
    for name in ticks.iter().map(|t| t.symbol.as_str()).chain(closed_bars.iter().map(|(s, _)| s.as_str())) {
        if !ids.contains_key(name) {
            ids.insert(name, symbols.id_or_create(pool, name).await?);
        }
    }
    let days: HashSet<NaiveDate> = ticks.iter().map(|t| t.ts.date_naive()).collect();
    let bar_days: HashSet<NaiveDate> = closed_bars.iter().map(|(_, b)| b.ts.date_naive()).collect();
    ensure_partitions(pool, partitions, bar_days, false).await?;
    ensure_partitions(pool, partitions, days, true).await?;

    let mut copy = String::with_capacity(ticks.len() * 64);
    let mut bars: BTreeMap<(i32, i64), BarAgg> = BTreeMap::new();
    for t in ticks {
        let id = ids[t.symbol.as_str()];
        let _ = write!(copy, "{id}\t");
        push_timestamp(&mut copy, t.ts);
        let _ = writeln!(copy, "\t{}\t{}", t.price, t.size);
        let minute = t.ts.timestamp().div_euclid(60) * 60;
        bars.entry((id, minute)).and_modify(|b| b.add(t)).or_insert_with(|| BarAgg::new(t));
    }

    let mut tx = pool.begin().await?;
    if !fences.is_empty() {
        let stale = stale_fences(&mut tx, fences).await?;
        if !stale.is_empty() {
            tx.rollback().await?;
            return Err(WriteError::Fenced(stale));
        }
    }
    if !ticks.is_empty() {
        let mut sink = tx.copy_in_raw("copy tick (symbol_id, ts, price, size) from stdin").await?;
        sink.send(copy.into_bytes()).await?;
        sink.finish().await?;
        merge_tick_bars(&mut tx, &bars).await?;
        sqlx::query("select pg_notify($1, payload) from unnest($2::text[]) as payload")
            .bind(STREAM_CHANNEL)
            .bind(stream_payloads(tag, ticks))
            .execute(&mut *tx)
            .await?;
    }
    for (symbol, bar) in closed_bars {
        replace_bars(&mut tx, ids[symbol.as_str()], std::slice::from_ref(bar)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The fences whose lease no longer has their holder and epoch. Locks the others' rows `for
/// share` until the transaction ends, so no take-over can slip in before the ticks commit.
async fn stale_fences(conn: &mut PgConnection, fences: &[&Fence]) -> Result<Vec<Fence>, sqlx::Error> {
    let feeds: Vec<&str> = fences.iter().map(|f| f.feed.as_str()).collect();
    let current: Vec<(String, String, i64)> =
        sqlx::query_as("select feed, holder, epoch from feed_lease where feed = any($1) for share")
            .bind(&feeds)
            .fetch_all(conn)
            .await?;
    Ok(fences
        .iter()
        .filter(|f| {
            !current.iter().any(|(feed, holder, epoch)| *feed == f.feed && *holder == f.holder && *epoch == f.epoch)
        })
        .map(|f| (*f).clone())
        .collect())
}

/// The `LISTEN`/`NOTIFY` channel committed ticks are published on.
pub const STREAM_CHANNEL: &str = "halyard_ticks";

/// Largest notification payload written: Postgres allows just under 8,000 bytes.
const MAX_PAYLOAD_BYTES: usize = 7_900;

/// Encodes `ticks` as notification payloads: a first line `tag:chunk`, then one line per tick,
/// `symbol TAB unix-microseconds TAB price TAB size`, at most [`MAX_PAYLOAD_BYTES`] each.
pub fn stream_payloads(tag: &str, ticks: &[&Tick]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = String::new();
    let mut line = String::new();
    for t in ticks {
        line.clear();
        let _ = write!(line, "\n{}\t{}\t{}\t{}", t.symbol, t.ts.timestamp_micros(), t.price, t.size);
        if !current.is_empty() && current.len() + line.len() > MAX_PAYLOAD_BYTES {
            payloads.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            let _ = write!(current, "{tag}:{}", payloads.len());
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        payloads.push(current);
    }
    payloads
}

/// Decodes one payload of [`stream_payloads`] back into ticks.
pub fn decode_stream_payload(payload: &str) -> Result<Vec<Tick>, String> {
    let mut lines = payload.split('\n');
    lines.next().ok_or("empty payload")?;
    lines
        .map(|line| {
            let mut fields = line.split('\t');
            let mut next = |what: &str| fields.next().ok_or_else(|| format!("no {what} in {line:?}"));
            let symbol = next("symbol")?.to_owned();
            let micros: i64 = next("time")?.parse().map_err(|e| format!("time in {line:?}: {e}"))?;
            let ts = DateTime::from_timestamp_micros(micros).ok_or_else(|| format!("time out of range in {line:?}"))?;
            let price: Decimal = next("price")?.parse().map_err(|e| format!("price in {line:?}: {e}"))?;
            let size: Decimal = next("size")?.parse().map_err(|e| format!("size in {line:?}: {e}"))?;
            Ok(Tick { symbol, ts, price, size })
        })
        .collect()
}

/// Postgres text form of a UTC timestamp with microseconds; hand-written because it runs for
/// every tick and chrono's formatter parses its pattern each time.
fn push_timestamp(out: &mut String, ts: DateTime<Utc>) {
    let d = ts.naive_utc();
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second(),
        d.nanosecond() / 1_000 % 1_000_000
    );
}

/// A partial 1-minute bar from the ticks of one batch.
struct BarAgg {
    open: Decimal,
    high: Decimal,
    low: Decimal,
    close: Decimal,
    volume: Decimal,
    trades: i32,
    first_ts: DateTime<Utc>,
    last_ts: DateTime<Utc>,
}

impl BarAgg {
    fn new(t: &Tick) -> Self {
        Self {
            open: t.price,
            high: t.price,
            low: t.price,
            close: t.price,
            volume: t.size,
            trades: 1,
            first_ts: t.ts,
            last_ts: t.ts,
        }
    }

    fn add(&mut self, t: &Tick) {
        if t.ts < self.first_ts {
            self.first_ts = t.ts;
            self.open = t.price;
        }
        if t.ts >= self.last_ts {
            self.last_ts = t.ts;
            self.close = t.price;
        }
        self.high = self.high.max(t.price);
        self.low = self.low.min(t.price);
        self.volume += t.size;
        self.trades += 1;
    }
}

/// Merges partial bars into `bar_1m`: the earliest tick's price stays the open and the latest
/// tick's price the close, whatever order batches arrive in.
async fn merge_tick_bars(conn: &mut PgConnection, bars: &BTreeMap<(i32, i64), BarAgg>) -> Result<(), sqlx::Error> {
    let mut cols = BarColumns::default();
    for (&(id, minute), b) in bars {
        cols.push(id, Utc.timestamp_opt(minute, 0).single().expect("minute in range"), b);
    }
    sqlx::query(
        "insert into bar_1m as b (symbol_id, ts, open, high, low, close, volume, trades, first_ts, last_ts)
         select * from unnest($1::int4[], $2::timestamptz[], $3::numeric[], $4::numeric[], $5::numeric[],
                              $6::numeric[], $7::numeric[], $8::int4[], $9::timestamptz[], $10::timestamptz[])
         on conflict (symbol_id, ts) do update set
            open = case when excluded.first_ts < b.first_ts then excluded.open else b.open end,
            first_ts = least(b.first_ts, excluded.first_ts),
            close = case when excluded.last_ts >= b.last_ts then excluded.close else b.close end,
            last_ts = greatest(b.last_ts, excluded.last_ts),
            high = greatest(b.high, excluded.high),
            low = least(b.low, excluded.low),
            volume = b.volume + excluded.volume,
            trades = b.trades + excluded.trades",
    )
    .bind(&cols.symbol_id)
    .bind(&cols.ts)
    .bind(&cols.open)
    .bind(&cols.high)
    .bind(&cols.low)
    .bind(&cols.close)
    .bind(&cols.volume)
    .bind(&cols.trades)
    .bind(&cols.first_ts)
    .bind(&cols.last_ts)
    .execute(&mut *conn)
    .await?;
    invalidate_day_stats(conn, &cols.symbol_id, &cols.ts).await
}

/// Replaces whole bars (imports): a re-import of the same file leaves the same rows.
pub async fn replace_bars(conn: &mut PgConnection, symbol_id: i32, bars: &[Bar]) -> Result<(), sqlx::Error> {
    for chunk in bars.chunks(10_000) {
        let mut cols = BarColumns::default();
        for b in chunk {
            let agg = BarAgg {
                open: b.open,
                high: b.high,
                low: b.low,
                close: b.close,
                volume: b.volume,
                trades: b.trades,
                first_ts: b.ts,
                last_ts: b.ts + Duration::milliseconds(59_999),
            };
            cols.push(symbol_id, b.ts, &agg);
        }
        sqlx::query(
            "insert into bar_1m (symbol_id, ts, open, high, low, close, volume, trades, first_ts, last_ts)
             select * from unnest($1::int4[], $2::timestamptz[], $3::numeric[], $4::numeric[], $5::numeric[],
                                  $6::numeric[], $7::numeric[], $8::int4[], $9::timestamptz[], $10::timestamptz[])
             on conflict (symbol_id, ts) do update set
                open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
                volume = excluded.volume, trades = excluded.trades,
                first_ts = excluded.first_ts, last_ts = excluded.last_ts",
        )
        .bind(&cols.symbol_id)
        .bind(&cols.ts)
        .bind(&cols.open)
        .bind(&cols.high)
        .bind(&cols.low)
        .bind(&cols.close)
        .bind(&cols.volume)
        .bind(&cols.trades)
        .bind(&cols.first_ts)
        .bind(&cols.last_ts)
        .execute(&mut *conn)
        .await?;
        invalidate_day_stats(conn, &cols.symbol_id, &cols.ts).await?;
    }
    Ok(())
}

/// Forgets the cached daily close sums of every day a write touched.
async fn invalidate_day_stats(
    conn: &mut PgConnection,
    symbol_ids: &[i32],
    ts: &[DateTime<Utc>],
) -> Result<(), sqlx::Error> {
    let today = Utc::now().date_naive();
    let touched: HashSet<(i32, NaiveDate)> =
        symbol_ids.iter().zip(ts).map(|(id, t)| (*id, t.date_naive())).filter(|(_, d)| *d < today).collect();
    if touched.is_empty() {
        return Ok(());
    }
    let (ids, days): (Vec<i32>, Vec<NaiveDate>) = touched.into_iter().unzip();
    sqlx::query("delete from bar_day_stats s using unnest($1::int4[], $2::date[]) as t(symbol_id, day) where s.symbol_id = t.symbol_id and s.day = t.day")
        .bind(&ids)
        .bind(&days)
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Default)]
struct BarColumns {
    symbol_id: Vec<i32>,
    ts: Vec<DateTime<Utc>>,
    open: Vec<Decimal>,
    high: Vec<Decimal>,
    low: Vec<Decimal>,
    close: Vec<Decimal>,
    volume: Vec<Decimal>,
    trades: Vec<i32>,
    first_ts: Vec<DateTime<Utc>>,
    last_ts: Vec<DateTime<Utc>>,
}

impl BarColumns {
    fn push(&mut self, symbol_id: i32, ts: DateTime<Utc>, b: &BarAgg) {
        self.symbol_id.push(symbol_id);
        self.ts.push(ts);
        self.open.push(b.open);
        self.high.push(b.high);
        self.low.push(b.low);
        self.close.push(b.close);
        self.volume.push(b.volume);
        self.trades.push(b.trades);
        self.first_ts.push(b.first_ts);
        self.last_ts.push(b.last_ts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_payloads_stay_under_the_notify_limit_and_decode_to_the_same_ticks_in_order() {
        let ticks: Vec<Tick> = (0..1_000)
            .map(|i| Tick {
                symbol: if i % 2 == 0 { "BTCUSDT".into() } else { "ETHUSDT".into() },
                ts: Utc.timestamp_micros(1_767_225_600_000_000 + i).unwrap(),
                price: Decimal::new(8_700_001_000 + i, 5),
                size: Decimal::new(12_345, 8),
            })
            .collect();
        let refs: Vec<&Tick> = ticks.iter().collect();
        let payloads = stream_payloads("task-1:7", &refs);
        assert!(payloads.len() > 1, "1,000 ticks need several notifications");
        assert!(payloads.iter().all(|p| p.len() < 8_000));
        let unique: HashSet<&String> = payloads.iter().collect();
        assert_eq!(unique.len(), payloads.len(), "no two payloads alike, or Postgres would fold them");
        let decoded: Vec<Tick> = payloads.iter().flat_map(|p| decode_stream_payload(p).unwrap()).collect();
        assert_eq!(decoded, ticks);
    }

    #[test]
    fn timestamps_are_written_with_microseconds_in_utc() {
        let mut s = String::new();
        push_timestamp(&mut s, Utc.timestamp_millis_opt(1_672_515_782_136).unwrap());
        assert_eq!(s, "2022-12-31 19:43:02.136000+00");
    }
}
