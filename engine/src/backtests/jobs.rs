//! The `backtest_job` table: creating jobs, claiming them (one worker at a time, `FOR UPDATE
//! SKIP LOCKED`), heartbeats, and finishing them. Every change a worker makes is fenced by
//! `worker = $me and status = 'running'`, so a worker that lost its job (its heartbeat went
//! stale and another engine took over) can never overwrite the newer attempt.

use std::time::Duration;

use backtest::simulation::RoundTrip;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{postgres::types::PgInterval, PgPool};
use utoipa::ToSchema;

use crate::convert::ToDecimal;

/// A job as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct JobView {
    /// Job id (UUID).
    pub id: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// Fraction of bars processed (0 to 1).
    pub progress: f64,
    /// What was asked for.
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// `summary.json` of a succeeded run.
    #[schema(value_type = Object)]
    pub summary: Option<serde_json::Value>,
    /// Why it failed (or, while queued again, why the last attempt stopped).
    pub error: Option<String>,
    /// Attempts started so far.
    pub attempts: i32,
    /// Who started it (the API token's name).
    pub created_by: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When the first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it succeeded or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where its files are in the object store (`backtest-results/YYYY/MM/DD/<id>/`).
    pub result_prefix: String,
}

const JOB_COLUMNS: &str = "job_id::text as id, status, progress, request, summary, error, attempts, created_by,
    created_at, started_at, finished_at, result_prefix";

/// A round trip as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct TradeRow {
    /// Order of the trip in the run, from 1.
    pub seq: i32,
    /// Time of the bar that filled the entry.
    pub entry_ts: DateTime<Utc>,
    /// Average entry price.
    pub entry_px: Decimal,
    /// Time of the bar that filled the exit.
    pub exit_ts: DateTime<Utc>,
    /// Average exit price.
    pub exit_px: Decimal,
    /// Largest quantity held, negative for a short.
    pub qty: Decimal,
    /// Realized P&L, fees included.
    pub pnl: Decimal,
}

/// The store prefix of a job created at `created_at`.
pub fn result_prefix(created_at: DateTime<Utc>, id: &uuid::Uuid) -> String {
    format!("backtest-results/{}/{id}/", created_at.format("%Y/%m/%d"))
}

/// Outcome of [`create`].
#[derive(Debug)]
pub enum Created {
    /// A new job.
    New(JobView),
    /// The job an earlier request with the same idempotency key created.
    Existing(JobView),
    /// The idempotency key was used for a different request.
    KeyReused,
}

/// Queues a job for `request` (already validated). With an idempotency key, a retry of the
/// same request returns the first job instead of queueing a second.
///
/// # Errors
/// Database errors.
pub async fn create(
    pool: &PgPool,
    request: &serde_json::Value,
    created_by: &str,
    idempotency_key: Option<&str>,
) -> Result<Created, sqlx::Error> {
    let id = uuid::Uuid::new_v4();
    let now = Utc::now();
    let inserted: Option<JobView> = sqlx::query_as(&format!(
        "insert into backtest_job (job_id, idempotency_key, created_by, request, result_prefix, created_at)
         values ($1::uuid, $2, $3, $4, $5, $6)
         on conflict (idempotency_key) do nothing
         returning {JOB_COLUMNS}"
    ))
    .bind(id.to_string())
    .bind(idempotency_key)
    .bind(created_by)
    .bind(request)
    .bind(result_prefix(now, &id))
    .bind(now)
    .fetch_optional(pool)
    .await?;
    if let Some(job) = inserted {
        return Ok(Created::New(job));
    }
    let existing: JobView =
        sqlx::query_as(&format!("select {JOB_COLUMNS} from backtest_job where idempotency_key = $1"))
            .bind(idempotency_key)
            .fetch_one(pool)
            .await?;
    Ok(if &existing.request == request { Created::Existing(existing) } else { Created::KeyReused })
}

/// One job by id.
///
/// # Errors
/// Database errors.
pub async fn get(pool: &PgPool, id: &uuid::Uuid) -> Result<Option<JobView>, sqlx::Error> {
    sqlx::query_as(&format!("select {JOB_COLUMNS} from backtest_job where job_id = $1::uuid"))
        .bind(id.to_string())
        .fetch_optional(pool)
        .await
}

/// The newest `limit` jobs, newest first.
///
/// # Errors
/// Database errors.
pub async fn list(pool: &PgPool, limit: i64) -> Result<Vec<JobView>, sqlx::Error> {
    sqlx::query_as(&format!("select {JOB_COLUMNS} from backtest_job order by created_at desc, job_id desc limit $1"))
        .bind(limit)
        .fetch_all(pool)
        .await
}

/// The round trips of a job, in order.
///
/// # Errors
/// Database errors.
pub async fn trades(pool: &PgPool, id: &uuid::Uuid) -> Result<Vec<TradeRow>, sqlx::Error> {
    sqlx::query_as(
        "select seq, entry_ts, entry_px, exit_ts, exit_px, qty, pnl from backtest_trade
         where job_id = $1::uuid order by seq",
    )
    .bind(id.to_string())
    .fetch_all(pool)
    .await
}

/// A job a worker has claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    /// Job id.
    pub id: String,
    /// The request as stored.
    pub request: serde_json::Value,
    /// Attempts including this one.
    pub attempts: i32,
    /// Where the files go.
    pub result_prefix: String,
}

/// Claims the oldest queued job, or a running one whose worker has not beaten for
/// `stale_after` (that worker stopped or lost the database).
///
/// # Errors
/// Database errors.
pub async fn claim(pool: &PgPool, worker: &str, stale_after: Duration) -> Result<Option<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "update backtest_job set status = 'running', worker = $1, attempts = attempts + 1, progress = 0,
                started_at = coalesce(started_at, now()), heartbeat_at = now()
         where job_id = (
             select job_id from backtest_job
             where status = 'queued' or (status = 'running' and heartbeat_at < now() - $2::interval)
             order by created_at for update skip locked limit 1)
         returning job_id::text as id, request, attempts, result_prefix",
    )
    .bind(worker)
    .bind(PgInterval::try_from(stale_after).unwrap_or(PgInterval { months: 0, days: 0, microseconds: 60_000_000 }))
    .fetch_optional(pool)
    .await
}

/// Records progress and that the worker is alive. Returns false when the job is no longer
/// this worker's.
///
/// # Errors
/// Database errors.
pub async fn heartbeat(pool: &PgPool, id: &str, worker: &str, progress: f64) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query(
        "update backtest_job set heartbeat_at = now(), progress = $3
         where job_id = $1::uuid and worker = $2 and status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(progress.clamp(0.0, 1.0))
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Puts the job back in the queue after a transient failure (an outage), recording why.
///
/// # Errors
/// Database errors.
pub async fn requeue(pool: &PgPool, id: &str, worker: &str, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update backtest_job set status = 'queued', worker = null, heartbeat_at = null, error = $3
         where job_id = $1::uuid and worker = $2 and status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks the job failed for good.
///
/// # Errors
/// Database errors.
pub async fn fail(pool: &PgPool, id: &str, worker: &str, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update backtest_job set status = 'failed', error = $3, finished_at = now(), heartbeat_at = null
         where job_id = $1::uuid and worker = $2 and status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(reason)
    .execute(pool)
    .await?;
    Ok(())
}

/// Stores the summary and every round trip and marks the job succeeded, in one transaction.
/// Returns false (and changes nothing) when the job is no longer this worker's.
///
/// # Errors
/// Database errors.
pub async fn succeed(
    pool: &PgPool,
    id: &str,
    worker: &str,
    summary: &serde_json::Value,
    trips: &[RoundTrip],
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query(
        "update backtest_job set status = 'succeeded', summary = $3, progress = 1, error = null,
                finished_at = now(), heartbeat_at = null
         where job_id = $1::uuid and worker = $2 and status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .bind(summary)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("delete from backtest_trade where job_id = $1::uuid").bind(id).execute(&mut *tx).await?;
    // Bound the size of one statement on long runs.
    for (chunk_index, chunk) in trips.chunks(10_000).enumerate() {
        let first_seq = i32::try_from(chunk_index * 10_000 + 1).unwrap_or(i32::MAX);
        let time = |ts: domain::Timestamp| DateTime::<Utc>::from_timestamp_nanos(ts.nanos());
        let entry_ts: Vec<DateTime<Utc>> = chunk.iter().map(|t| time(t.entry_ts)).collect();
        let exit_ts: Vec<DateTime<Utc>> = chunk.iter().map(|t| time(t.exit_ts)).collect();
        let entry_px: Vec<Decimal> = chunk.iter().map(|t| t.entry_price.dec()).collect();
        let exit_px: Vec<Decimal> = chunk.iter().map(|t| t.exit_price.dec()).collect();
        let qty: Vec<Decimal> = chunk.iter().map(|t| t.qty.dec()).collect();
        let pnl: Vec<Decimal> = chunk.iter().map(|t| t.pnl.dec()).collect();
        sqlx::query(
            "insert into backtest_trade (job_id, seq, entry_ts, entry_px, exit_ts, exit_px, qty, pnl)
             select $1::uuid, $2 + (n - 1)::int, e_ts, e_px, x_ts, x_px, q, p
             from unnest($3::timestamptz[], $4::numeric[], $5::timestamptz[], $6::numeric[], $7::numeric[], $8::numeric[])
                  with ordinality as t(e_ts, e_px, x_ts, x_px, q, p, n)",
        )
        .bind(id)
        .bind(first_seq)
        .bind(&entry_ts)
        .bind(&entry_px)
        .bind(&exit_ts)
        .bind(&exit_px)
        .bind(&qty)
        .bind(&pnl)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(true)
}
