//! SQL that writes market data: partitions, ticks by COPY, bars by multi-row upsert.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt::Write,
};

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use rust_decimal::Decimal;
use sqlx::{PgConnection, PgPool};

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

/// Writes ticks, folds them into 1-minute bars, then replaces the bars given as authoritative,
/// all in one transaction.
pub async fn write_batch(
    pool: &PgPool,
    symbols: &Symbols,
    partitions: &mut HashSet<String>,
    ticks: &[&Tick],
    closed_bars: &[&(String, Bar)],
) -> Result<(), sqlx::Error> {
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
    if !ticks.is_empty() {
        let mut sink = tx.copy_in_raw("copy tick (symbol_id, ts, price, size) from stdin").await?;
        sink.send(copy.into_bytes()).await?;
        sink.finish().await?;
        merge_tick_bars(&mut tx, &bars).await?;
    }
    for (symbol, bar) in closed_bars {
        replace_bars(&mut tx, ids[symbol.as_str()], std::slice::from_ref(bar)).await?;
    }
    tx.commit().await?;
    Ok(())
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
    fn timestamps_are_written_with_microseconds_in_utc() {
        let mut s = String::new();
        push_timestamp(&mut s, Utc.timestamp_millis_opt(1_672_515_782_136).unwrap());
        assert_eq!(s, "2022-12-31 19:43:02.136000+00");
    }
}
