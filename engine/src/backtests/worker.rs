//! The backtest worker of one engine process: claims jobs one at a time, runs each on a
//! blocking thread (never on the async workers that serve trading), beats while it runs,
//! writes the files to the object store, then records the result.
//!
//! Failures are sorted: a request that can never run (no bars, a bad stored request) fails
//! the job with its reason; an outage (database, store) puts it back in the queue; a job
//! whose heartbeat went stale is taken over by another engine, and the old worker's late
//! result is discarded by the fencing in [`super::jobs`].

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use backtest::report::{render_outputs, RunDescription, RunOutputs};
use bytes::Bytes;
use platform::store::ObjectStore;
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    jobs::{self, Claimed},
    source::{self, BarSource},
    BacktestRequest,
};
use crate::convert::ToDecimal;

/// How a worker polls and beats.
#[derive(Debug, Clone, Copy)]
pub struct WorkerSettings {
    /// How often to look for work when not woken.
    pub poll: Duration,
    /// How often a running job records progress.
    pub heartbeat: Duration,
    /// A running job whose heartbeat is older than this is taken over.
    pub stale_after: Duration,
    /// Attempts after which a job fails instead of running again.
    pub max_attempts: i32,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(2),
            heartbeat: Duration::from_secs(1),
            stale_after: Duration::from_secs(30),
            max_attempts: 3,
        }
    }
}

/// What a worker needs.
#[derive(Clone)]
pub struct Worker {
    /// The database.
    pub pool: PgPool,
    /// Where results go (and archived bars come from).
    pub store: Arc<dyn ObjectStore>,
    /// This worker's name (fences its updates).
    pub name: String,
    /// Timing.
    pub settings: WorkerSettings,
    /// Notified when a job is queued by this process.
    pub wake: Arc<Notify>,
}

enum JobError {
    /// The job can never succeed: fail it.
    Invalid(String),
    /// An outage: queue it again.
    Transient(String),
    /// Another worker owns the job now.
    Lost,
    /// The engine is stopping: queue it again for another engine.
    Stopped,
}

/// Runs jobs until `stop`.
pub async fn run(worker: Worker, stop: CancellationToken) {
    loop {
        if stop.is_cancelled() {
            break;
        }
        match jobs::claim(&worker.pool, &worker.name, worker.settings.stale_after).await {
            Ok(Some(job)) => {
                let span = tracing::info_span!("backtest_job", job_id = %job.id, attempt = job.attempts);
                execute(&worker, job, &stop).instrument(span).await;
                continue;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot claim backtest jobs"),
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = worker.wake.notified() => {}
            () = tokio::time::sleep(worker.settings.poll) => {}
        }
    }
}

async fn execute(worker: &Worker, job: Claimed, stop: &CancellationToken) {
    let (pool, name) = (&worker.pool, worker.name.as_str());
    if job.attempts > worker.settings.max_attempts {
        let reason = format!("gave up after {} attempts", worker.settings.max_attempts);
        tracing::error!(%reason, "backtest job failed");
        if let Err(error) = jobs::fail(pool, &job.id, name, &reason).await {
            tracing::warn!(%error, "cannot record the failure");
        }
        return;
    }
    tracing::info!("backtest job started");
    let done = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    let beating = CancellationToken::new();
    let beat = tokio::spawn(heartbeat(worker.clone(), job.id.clone(), done.clone(), total.clone(), beating.clone()));
    let outcome = tokio::select! {
        outcome = run_job(worker, &job, done, total) => outcome,
        () = stop.cancelled() => Err(JobError::Stopped),
    };
    beating.cancel();
    let _ = beat.await;
    let recorded = match outcome {
        Ok(()) => {
            tracing::info!("backtest job succeeded");
            Ok(())
        }
        Err(JobError::Invalid(reason)) => {
            tracing::warn!(%reason, "backtest job failed");
            jobs::fail(pool, &job.id, name, &reason).await
        }
        Err(JobError::Transient(reason)) => {
            tracing::warn!(%reason, "backtest job interrupted by an outage; queued again");
            jobs::requeue(pool, &job.id, name, &reason).await
        }
        Err(JobError::Stopped) => {
            tracing::info!("engine stopping; backtest job queued again");
            jobs::requeue(pool, &job.id, name, "the engine running it stopped").await
        }
        Err(JobError::Lost) => {
            tracing::warn!("backtest job taken over by another worker; this result is discarded");
            Ok(())
        }
    };
    if let Err(error) = recorded {
        // The heartbeat is stale by now: another worker will take the job over.
        tracing::warn!(%error, "cannot record the backtest job's outcome");
    }
}

async fn heartbeat(
    worker: Worker,
    id: String,
    done: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(worker.settings.heartbeat);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let total = total.load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss, reason = "a progress fraction for display")]
        let progress = if total == 0 { 0.0 } else { done.load(Ordering::Relaxed) as f64 / total as f64 };
        match jobs::heartbeat(&worker.pool, &id, &worker.name, progress).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("backtest job is no longer this worker's");
                break;
            }
            Err(error) => tracing::warn!(%error, "backtest heartbeat failed"),
        }
    }
}

async fn run_job(
    worker: &Worker,
    job: &Claimed,
    done: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
) -> Result<(), JobError> {
    let request: BacktestRequest = serde_json::from_value(job.request.clone())
        .map_err(|e| JobError::Invalid(format!("stored request is invalid: {e}")))?;
    let validated = request.validate().map_err(|e| JobError::Invalid(e.to_string()))?;
    let loaded = match validated.source {
        BarSource::Postgres => source::load_postgres(&worker.pool, &validated.history).await,
        BarSource::Archive => source::load_archive(&*worker.store, &validated.history).await,
    };
    let series = loaded.map_err(|e| {
        if e.is_transient() {
            JobError::Transient(e.to_string())
        } else {
            JobError::Invalid(e.to_string())
        }
    })?;
    total.store(series.bars.len(), Ordering::Relaxed);
    let description = RunDescription {
        strategy: validated.spec.strategy.clone(),
        params: validated.spec.params.to_string(),
        data: validated.history.label(validated.source),
        fill: request.fill_name().to_owned(),
        quantity: validated.spec.quantity,
        fee_per_order: validated.spec.fill_model.fees.per_order,
        fee_bps: validated.spec.fill_model.fees.rate.to_string(),
        slippage_bps: validated.spec.fill_model.slippage.to_string(),
        price_decimals: series.price_decimals,
        first_ts_ms: series.bars.first().map(|b| b.ts.millis()),
        last_ts_ms: series.bars.last().map(|b| b.ts.millis()),
    };
    let spec = validated.spec;
    let computed = tokio::task::spawn_blocking(move || {
        let outcome = backtest::run_backtest(&spec, &series, &mut |n| done.store(n, Ordering::Relaxed))
            .map_err(|e| JobError::Invalid(e.to_string()))?;
        let bar_ts_ms: Vec<i64> = series.bars.iter().map(|b| b.ts.millis()).collect();
        let rendered = render_outputs(&RunOutputs {
            description: &description,
            result: &outcome.result,
            metrics: &outcome.metrics,
            bar_ts_ms: &bar_ts_ms,
        })
        .map_err(|e| JobError::Invalid(e.to_string()))?;
        Ok::<_, JobError>((outcome, rendered))
    })
    .await
    .map_err(|e| JobError::Invalid(format!("the backtest stopped unexpectedly: {e}")))?;
    let (outcome, rendered) = computed?;
    // The files are deterministic, so a retried attempt overwrites them with the same bytes.
    for (file, bytes) in rendered.files {
        let key = format!("{}{file}", job.result_prefix);
        worker.store.put(&key, Bytes::from(bytes)).await.map_err(|e| JobError::Transient(e.to_string()))?;
    }
    tracing::info!(
        bars = outcome.result.bars,
        round_trips = outcome.metrics.round_trips,
        realized_pnl = %outcome.metrics.realized_pnl.dec(),
        "backtest job computed"
    );
    match jobs::succeed(&worker.pool, &job.id, &worker.name, &rendered.summary, &outcome.result.round_trips).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(JobError::Lost),
        Err(error) => Err(JobError::Transient(error.to_string())),
    }
}
