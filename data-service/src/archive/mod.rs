//! The archive: closed UTC days of ticks and 1-minute bars exported to Parquet in an object
//! store (S3, or a local folder with the same layout), Hive-partitioned for Athena:
//!
//! ```text
//! market-data/historical/symbol=BTCUSD/date=2026-11-20/ticks.parquet
//! market-data/historical/symbol=BTCUSD/date=2026-11-20/bars_1m.parquet
//! ```
//!
//! Per symbol and kind, a day goes through: rows read from Postgres → Parquet (zstd) → manifest
//! row (rows, content checksum, key; unverified) → put → read back → row count and checksum
//! compared → `verified_at` set. Only when every symbol's objects of a day are verified, and the
//! day is older than `ARCHIVE_RETENTION_DAYS`, is its tick partition dropped, in a transaction
//! that locks the partition and checks once more that its row counts equal the manifest's.
//!
//! Store errors are retried with exponential backoff; when the retries run out the day stays
//! unverified and nothing is dropped, so an outage only delays archiving. A run is idempotent:
//! objects already verified whose source rows have not changed are skipped, so a second run
//! writes nothing.
//!
//! Symbols containing `/` or `:` are written with Hive's escaping (`%2F`, `%3A`).
//! Bars stay in Postgres (their partitions are monthly and small); only tick partitions are
//! dropped.

pub mod read;

/// The Parquet files and their checksum (shared with the backtester).
pub use market_archive::format;
pub use market_archive::{object_key, Kind, PREFIX};

/// The object stores, from the platform (shared with reports and backtest results).
pub mod store {
    pub use platform::store::*;
}

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use chrono::{NaiveDate, TimeZone, Utc};
use indicatif::ProgressBar;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use self::{
    format::{BarRow, FormatError, TickRow},
    store::{ObjectStore, StoreError},
};

/// Name of the tick partition of `day`.
pub fn tick_partition(day: NaiveDate) -> String {
    format!("tick_p{}", day.format("%Y%m%d"))
}

/// Why archiving a day failed. Nothing is dropped after any of these.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The day is today or later (UTC): not closed yet.
    #[error("{0} is not a closed UTC day yet")]
    NotClosed(NaiveDate),
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The store failed after every retry.
    #[error("object store (after retries): {0}")]
    Store(#[from] StoreError),
    /// Encoding or decoding Parquet failed.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The object read back differs from what was written.
    #[error("verification of {key} failed: expected {expected_rows} rows / {expected_checksum}, read {rows} rows / {checksum}")]
    Mismatch {
        /// Object key.
        key: String,
        /// Rows written.
        expected_rows: u64,
        /// Checksum written.
        expected_checksum: String,
        /// Rows read back.
        rows: u64,
        /// Checksum read back.
        checksum: String,
    },
}

/// Retries of store operations: `attempts` tries, waits doubling from `base` up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries per operation (at least 1).
    pub attempts: u32,
    /// First wait.
    pub base: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 5, base: Duration::from_millis(500), max: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    async fn run<'a, T, F>(&self, what: &str, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut() -> store::StoreFuture<'a, T>,
    {
        let mut wait = self.base;
        let mut attempt = 1;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if attempt >= self.attempts.max(1) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, attempt, what, "object store failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.max);
                    attempt += 1;
                }
            }
        }
    }
}

/// What one run over a day did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayReport {
    /// Objects written and verified by this run.
    pub written: usize,
    /// Objects already verified and unchanged.
    pub skipped: usize,
    /// Rows in the objects written.
    pub rows: u64,
    /// Whether this run dropped the day's tick partition.
    pub pruned: bool,
}

/// Exports closed days to an [`ObjectStore`] and prunes what is verified.
#[derive(Clone)]
pub struct Archiver {
    pool: PgPool,
    store: Arc<dyn ObjectStore>,
    retry: RetryPolicy,
    retention_days: Option<u32>,
}

struct Work {
    symbol_id: i32,
    symbol: String,
    kind: Kind,
}

impl Archiver {
    /// An archiver writing to `store`; with `retention_days`, tick partitions of days older
    /// than that many days are dropped once verified.
    pub fn new(pool: PgPool, store: Arc<dyn ObjectStore>, retry: RetryPolicy, retention_days: Option<u32>) -> Self {
        Self { pool, store, retry, retention_days }
    }

    /// The store's name, for messages.
    pub fn store_name(&self) -> String {
        self.store.describe()
    }

    /// Archives `day` (which must be closed: before today, UTC), then prunes it when the
    /// retention allows. `progress` counts objects.
    pub async fn archive_day(&self, day: NaiveDate, progress: &ProgressBar) -> Result<DayReport, ArchiveError> {
        let today = Utc::now().date_naive();
        if day >= today {
            return Err(ArchiveError::NotClosed(day));
        }
        let work = self.work_of(day).await?;
        progress.set_length(work.len() as u64);
        let mut report = DayReport::default();
        for w in &work {
            match self.archive_object(day, w).await? {
                Some(rows) => {
                    report.written += 1;
                    report.rows += rows;
                }
                None => report.skipped += 1,
            }
            progress.inc(1);
        }
        sqlx::query("insert into archive_day (day) values ($1) on conflict (day) do nothing")
            .bind(day)
            .execute(&self.pool)
            .await?;
        if let Some(days) = self.retention_days {
            if day <= today - chrono::Duration::days(i64::from(days)) {
                report.pruned = self.prune_day(day).await?;
            }
        }
        Ok(report)
    }

    /// Every (symbol, kind) of `day` with rows in Postgres or already in the manifest.
    async fn work_of(&self, day: NaiveDate) -> Result<Vec<Work>, ArchiveError> {
        let (from, to) = bounds(day);
        let has_ticks = partition_exists(&self.pool, day).await?;
        let tick_symbols = if has_ticks {
            format!("select distinct symbol_id, 'ticks' as kind from {}", tick_partition(day))
        } else {
            "select null::int as symbol_id, null::text as kind where false".to_owned()
        };
        let rows: Vec<(i32, String, String)> = sqlx::query_as(&format!(
            "with w as (
                 {tick_symbols}
                 union
                 select distinct symbol_id, 'bars_1m' from bar_1m where ts >= $1 and ts < $2
                 union
                 select symbol_id, kind from archive_manifest where day = $3
             )
             select w.symbol_id, s.symbol, w.kind from w join symbol s using (symbol_id)
             order by s.symbol, w.kind desc"
        ))
        .bind(from)
        .bind(to)
        .bind(day)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(symbol_id, symbol, kind)| Work {
                symbol_id,
                symbol,
                kind: if kind == "ticks" { Kind::Ticks } else { Kind::Bars1m },
            })
            .collect())
    }

    /// Writes and verifies one object; `None` when it was verified already and its source
    /// rows are unchanged in number (or gone: pruned).
    async fn archive_object(&self, day: NaiveDate, w: &Work) -> Result<Option<u64>, ArchiveError> {
        let (from, to) = bounds(day);
        let manifest: Option<(i64, Option<chrono::DateTime<Utc>>)> = sqlx::query_as(
            "select rows, verified_at from archive_manifest where symbol_id = $1 and day = $2 and kind = $3",
        )
        .bind(w.symbol_id)
        .bind(day)
        .bind(w.kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let source_present = match w.kind {
            Kind::Ticks => partition_exists(&self.pool, day).await?,
            Kind::Bars1m => true,
        };
        if let Some((rows, Some(_))) = manifest {
            if !source_present {
                return Ok(None);
            }
            if w.kind == Kind::Ticks && self.pruned(day).await? {
                // Ticks that arrived after the day was archived and pruned: the partition holds
                // only them, so writing it would replace the archived day with a fragment.
                // They stay in Postgres; the archived object is left as it is.
                tracing::warn!(symbol = %w.symbol, %day, "late ticks for an archived and pruned day stay in Postgres");
                return Ok(None);
            }
            let now_rows = self.count(w, day).await?;
            if now_rows == rows {
                return Ok(None);
            }
            tracing::warn!(symbol = %w.symbol, %day, kind = w.kind.as_str(), archived = rows, now = now_rows, "rows changed since archiving; archiving again");
        }
        if !source_present {
            // Unverified manifest row but the partition is gone: cannot happen through this
            // code (pruning requires verification); report rather than write an empty file.
            tracing::error!(symbol = %w.symbol, %day, "tick partition missing for an unverified archive object");
            return Ok(None);
        }
        let batch = match w.kind {
            Kind::Ticks => {
                let rows: Vec<TickRow> = sqlx::query_as(
                    "select tick_id, ts, price, size from tick
                     where symbol_id = $1 and ts >= $2 and ts < $3 order by ts, tick_id",
                )
                .bind(w.symbol_id)
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?;
                format::ticks_batch(&rows)?
            }
            Kind::Bars1m => {
                let rows: Vec<BarRow> = sqlx::query_as(
                    "select ts, open, high, low, close, volume, trades from bar_1m
                     where symbol_id = $1 and ts >= $2 and ts < $3 order by ts",
                )
                .bind(w.symbol_id)
                .bind(from)
                .bind(to)
                .fetch_all(&self.pool)
                .await?;
                format::bars_batch(&rows)?
            }
        };
        let (rows, checksum) = format::content_checksum(std::slice::from_ref(&batch))?;
        let body = format::encode(&batch)?;
        let key = object_key(&w.symbol, day, w.kind);
        sqlx::query(
            "insert into archive_manifest (symbol_id, day, kind, object_key, rows, checksum, bytes)
             values ($1, $2, $3, $4, $5, $6, $7)
             on conflict (symbol_id, day, kind) do update
             set object_key = excluded.object_key, rows = excluded.rows, checksum = excluded.checksum,
                 bytes = excluded.bytes, written_at = now(), verified_at = null",
        )
        .bind(w.symbol_id)
        .bind(day)
        .bind(w.kind.as_str())
        .bind(&key)
        .bind(rows as i64)
        .bind(&checksum)
        .bind(body.len() as i64)
        .execute(&self.pool)
        .await?;
        self.retry.run("put", || self.store.put(&key, body.clone())).await?;
        let back: Bytes = self.retry.run("get", || self.store.get(&key)).await?;
        let (back_rows, back_checksum) = format::content_checksum(&format::decode(back)?)?;
        if back_rows != rows || back_checksum != checksum {
            return Err(ArchiveError::Mismatch {
                key,
                expected_rows: rows,
                expected_checksum: checksum,
                rows: back_rows,
                checksum: back_checksum,
            });
        }
        sqlx::query(
            "update archive_manifest set verified_at = now()
             where symbol_id = $1 and day = $2 and kind = $3 and checksum = $4",
        )
        .bind(w.symbol_id)
        .bind(day)
        .bind(w.kind.as_str())
        .bind(&checksum)
        .execute(&self.pool)
        .await?;
        tracing::info!(symbol = %w.symbol, %day, kind = w.kind.as_str(), rows, key, "archived and verified");
        Ok(Some(rows))
    }

    async fn pruned(&self, day: NaiveDate) -> Result<bool, sqlx::Error> {
        Ok(sqlx::query_scalar::<_, bool>("select pruned_at is not null from archive_day where day = $1")
            .bind(day)
            .fetch_optional(&self.pool)
            .await?
            .unwrap_or(false))
    }

    async fn count(&self, w: &Work, day: NaiveDate) -> Result<i64, sqlx::Error> {
        let (from, to) = bounds(day);
        let table = match w.kind {
            Kind::Ticks => tick_partition(day),
            Kind::Bars1m => "bar_1m".to_owned(),
        };
        sqlx::query_scalar(&format!("select count(*) from {table} where symbol_id = $1 and ts >= $2 and ts < $3"))
            .bind(w.symbol_id)
            .bind(from)
            .bind(to)
            .fetch_one(&self.pool)
            .await
    }

    /// Drops `day`'s tick partition if every symbol in it has a verified ticks object whose
    /// row count equals the partition's. Returns whether it dropped it.
    pub async fn prune_day(&self, day: NaiveDate) -> Result<bool, ArchiveError> {
        if !partition_exists(&self.pool, day).await? {
            return Ok(false);
        }
        let table = tick_partition(day);
        let mut tx = self.pool.begin().await?;
        // No writer may add ticks between the check and the drop.
        sqlx::query(&format!("lock table {table} in access exclusive mode")).execute(&mut *tx).await?;
        let unverified: i64 = sqlx::query_scalar(&format!(
            "select count(*) from (select symbol_id, count(*) as n from {table} group by symbol_id) p
             left join archive_manifest m
               on m.symbol_id = p.symbol_id and m.day = $1 and m.kind = 'ticks'
             where m.verified_at is null or m.rows <> p.n"
        ))
        .bind(day)
        .fetch_one(&mut *tx)
        .await?;
        if unverified > 0 {
            tracing::warn!(%day, symbols = unverified, "tick partition kept: not every symbol's ticks are verified in the archive");
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(&format!("drop table {table}")).execute(&mut *tx).await?;
        sqlx::query(
            "insert into archive_day (day, pruned_at) values ($1, now())
             on conflict (day) do update set pruned_at = now()",
        )
        .bind(day)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(%day, table, "tick partition dropped after verified archive");
        Ok(true)
    }

    /// Closed days with data that no run has completed yet, oldest first: days of existing
    /// tick partitions, and days with bars in the last `lookback_days`.
    pub async fn pending_days(&self, lookback_days: u32) -> Result<Vec<NaiveDate>, sqlx::Error> {
        let today = Utc::now().date_naive();
        let (since, _) = bounds(today - chrono::Duration::days(i64::from(lookback_days)));
        let (today_start, _) = bounds(today);
        let days: Vec<NaiveDate> = sqlx::query_scalar(
            "with d as (
                 select to_date(substr(c.relname, 7), 'YYYYMMDD') as day
                 from pg_inherits i join pg_class c on c.oid = i.inhrelid
                 where i.inhparent = 'tick'::regclass and c.relname ~ '^tick_p[0-9]{8}$'
                 union
                 select distinct (ts at time zone 'UTC')::date from bar_1m where ts >= $1 and ts < $2
             )
             select day from d where day < $3 and day not in (select day from archive_day) order by day",
        )
        .bind(since)
        .bind(today_start)
        .bind(today)
        .fetch_all(&self.pool)
        .await?;
        Ok(days)
    }

    /// Retention pass for days archived earlier whose partitions are now old enough.
    async fn prune_due(&self) -> Result<(), ArchiveError> {
        let Some(days) = self.retention_days else { return Ok(()) };
        let cutoff = Utc::now().date_naive() - chrono::Duration::days(i64::from(days));
        let due: Vec<NaiveDate> =
            sqlx::query_scalar("select day from archive_day where pruned_at is null and day <= $1 order by day")
                .bind(cutoff)
                .fetch_all(&self.pool)
                .await?;
        for day in due {
            self.prune_day(day).await?;
        }
        Ok(())
    }

    /// One scheduled pass: every pending day, then the retention pass. Returns the days still
    /// pending (after failures) for the archive-lag metric.
    pub async fn run_once(&self, lookback_days: u32) -> Result<Vec<NaiveDate>, ArchiveError> {
        let hidden = ProgressBar::hidden();
        for day in self.pending_days(lookback_days).await? {
            if let Err(e) = self.archive_day(day, &hidden).await {
                tracing::warn!(%day, error = %e, "archiving failed; will retry on the next run");
            }
        }
        self.prune_due().await?;
        Ok(self.pending_days(lookback_days).await?)
    }

    /// Runs [`Archiver::run_once`] every `interval` until `stop`, publishing `ArchiveLagDays`
    /// (days from the oldest closed day not yet archived to today; 0 when none is pending).
    pub async fn run_scheduled(self, interval: Duration, lookback_days: u32, stop: CancellationToken) {
        let metrics = platform::metrics::global();
        let mut wait = Duration::from_secs(30).min(interval);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            wait = interval;
            match self.run_once(lookback_days).await {
                Ok(pending) => {
                    let lag = pending.first().map_or(0, |d| (Utc::now().date_naive() - *d).num_days());
                    metrics.gauge("ArchiveLagDays", lag as f64, platform::metrics::Unit::None, &[]);
                }
                Err(e) => {
                    // e.g. the database not reachable or not migrated yet: try again sooner.
                    tracing::warn!(error = %e, "archive run failed; will retry");
                    wait = interval.min(Duration::from_secs(60));
                }
            }
        }
    }
}

async fn partition_exists(pool: &PgPool, day: NaiveDate) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select to_regclass($1) is not null").bind(tick_partition(day)).fetch_one(pool).await
}

fn bounds(day: NaiveDate) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let from = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"));
    (from, from + chrono::Duration::days(1))
}
