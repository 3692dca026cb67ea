//! Feeds run once per deployment: every data-service task supervises every configured feed, but
//! only the task holding the feed's lease (table `feed_lease`) runs it; the others retry every
//! renew interval and take over once the lease has lapsed or was released.
//!
//! The lease's `epoch` is a fencing token. The feed hands its ticks to the writer tagged with the
//! epoch it was started under ([`Fence`]); the writer stores them only if, inside the storing
//! transaction, the lease still has that holder and epoch (the row is locked `for share`, so a
//! take-over waits for the transaction). A task that lost its lease while it still had trades
//! queued (paused, cut off from the database past the TTL) therefore cannot store a trade that
//! the new holder receives as well: nothing is stored twice. The price is that trades in flight
//! during a take-over may be missed; the venue's own candles still correct the minute's bar.

use std::{future::Future, time::Duration};

use sqlx::PgPool;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::configuration::FeedLeaseSettings;

use super::{backoff, Ingest};

/// The lease a feed's ticks were received under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fence {
    /// The feed's name (`binance`, `synthetic`).
    pub feed: String,
    /// This task's holder id.
    pub holder: String,
    /// The lease's epoch when the feed was started.
    pub epoch: i64,
}

/// Takes or renews `feed`'s lease for `holder`; `None` when another task holds it. The epoch
/// stays the same while one holder renews in time, and grows on every change of hands or lapse.
pub async fn acquire(pool: &PgPool, feed: &str, holder: &str, ttl: Duration) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "insert into feed_lease as l (feed, holder, expires_at)
         values ($1, $2, now() + make_interval(secs => $3))
         on conflict (feed) do update set
            epoch = case when l.holder = excluded.holder and l.expires_at > now() then l.epoch else l.epoch + 1 end,
            acquired_at = case when l.holder = excluded.holder and l.expires_at > now() then l.acquired_at else now() end,
            holder = excluded.holder,
            expires_at = excluded.expires_at
         where l.holder = excluded.holder or l.expires_at <= now()
         returning epoch",
    )
    .bind(feed)
    .bind(holder)
    .bind(ttl.as_secs_f64())
    .fetch_optional(pool)
    .await
}

/// Gives the lease up at once (graceful shutdown), so another task takes over without waiting
/// for the TTL.
pub async fn release(pool: &PgPool, feed: &str, holder: &str, epoch: i64) -> Result<(), sqlx::Error> {
    sqlx::query("update feed_lease set expires_at = now() where feed = $1 and holder = $2 and epoch = $3")
        .bind(feed)
        .bind(holder)
        .bind(epoch)
        .execute(pool)
        .await?;
    Ok(())
}

/// Runs `feed` (given the fenced [`Ingest`] handle and a stop token) whenever this task holds
/// its lease, until `stop` fires. The feed is stopped as soon as the lease is lost, or when it
/// cannot be renewed and may have lapsed by this task's own clock.
pub async fn run_leased<F, Fut>(
    pool: PgPool,
    ingest: Ingest,
    feed: &'static str,
    holder: String,
    timings: FeedLeaseSettings,
    stop: CancellationToken,
    run: F,
) where
    F: Fn(Ingest, CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut failures: u32 = 0;
    loop {
        let asked = Instant::now();
        let wait = match acquire(&pool, feed, &holder, timings.ttl).await {
            Ok(Some(epoch)) => {
                failures = 0;
                tracing::info!(feed, %holder, epoch, "feed lease taken: running the feed here");
                let fence = Fence { feed: feed.to_owned(), holder: holder.clone(), epoch };
                let feed_stop = stop.child_token();
                let task = tokio::spawn(run(ingest.fenced(fence), feed_stop.clone()));
                hold(&pool, feed, &holder, epoch, timings, asked, &stop).await;
                feed_stop.cancel();
                let _ = task.await;
                if stop.is_cancelled() {
                    if let Err(e) = release(&pool, feed, &holder, epoch).await {
                        tracing::warn!(feed, error = %e, "releasing the feed lease failed; it lapses by itself");
                    }
                    return;
                }
                timings.renew
            }
            Ok(None) => {
                failures = 0;
                tracing::debug!(feed, "feed lease held by another task");
                timings.renew
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(feed, error = %e, "taking the feed lease failed; will retry");
                backoff(failures).max(timings.renew.min(Duration::from_secs(1)))
            }
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Renews the lease every `renew` until `stop` fires or the lease is lost: another holder, a new
/// epoch, or no successful renewal for long enough that it may have lapsed.
async fn hold(
    pool: &PgPool,
    feed: &str,
    holder: &str,
    epoch: i64,
    timings: FeedLeaseSettings,
    acquired: Instant,
    stop: &CancellationToken,
) {
    // Measured from when the last successful renewal was asked, so a slow answer counts against us.
    let mut valid_until = acquired + timings.ttl;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(timings.renew) => {}
        }
        let asked = Instant::now();
        match acquire(pool, feed, holder, timings.ttl).await {
            Ok(Some(e)) if e == epoch => valid_until = asked + timings.ttl,
            Ok(other) => {
                tracing::warn!(feed, epoch, now = ?other, "feed lease lost: stopping the feed here");
                return;
            }
            Err(e) => {
                tracing::warn!(feed, error = %e, "renewing the feed lease failed");
                // Stop before the lease could lapse, leaving a renew interval's margin.
                if Instant::now() + timings.renew >= valid_until {
                    tracing::warn!(feed, "the feed lease may lapse: stopping the feed here");
                    return;
                }
            }
        }
    }
}

/// A holder id for this process: the host name and process id, with a random suffix so a
/// restarted process on the same host is a new holder.
pub fn holder_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "data-service".to_owned());
    format!("{host}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}
