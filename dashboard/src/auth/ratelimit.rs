//! Sign-in rate limiting. Every attempt is a row in `dashboard_login_attempt`; before checking a
//! password, the failures of the last window are counted per username and per client address,
//! and sign-in is refused (429) once either reaches its limit. Stored in the database, so the
//! limit holds across dashboard instances and restarts. A success does not erase failures: the
//! window has to pass.

use sqlx::PgPool;

use crate::configuration::LoginLimits;

/// Whether a sign-in may be attempted now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Too many recent failures; retry after this many seconds.
    Limited {
        /// Seconds until the oldest counted failure leaves the window.
        retry_after_secs: u64,
    },
}

/// Counts recent failures of `username` and `client`.
pub async fn check(pool: &PgPool, limits: &LoginLimits, username: &str, client: &str) -> Result<Verdict, sqlx::Error> {
    let window = chrono::Duration::from_std(limits.window).unwrap_or(chrono::Duration::minutes(15));
    let (by_user, by_client, oldest): (i64, i64, Option<chrono::DateTime<chrono::Utc>>) = sqlx::query_as(
        "select count(*) filter (where username = $1), count(*) filter (where client = $2), min(ts)
           from dashboard_login_attempt
          where not succeeded and ts > now() - $3 and (username = $1 or client = $2)",
    )
    .bind(username)
    .bind(client)
    .bind(window)
    .fetch_one(pool)
    .await?;
    if by_user >= limits.per_user || by_client >= limits.per_client {
        let free_at = oldest.unwrap_or_else(chrono::Utc::now) + window;
        let retry_after_secs = (free_at - chrono::Utc::now()).num_seconds().max(1).unsigned_abs();
        return Ok(Verdict::Limited { retry_after_secs });
    }
    Ok(Verdict::Allowed)
}

/// Records an attempt.
pub async fn record(pool: &PgPool, username: &str, client: &str, succeeded: bool) -> Result<(), sqlx::Error> {
    sqlx::query("insert into dashboard_login_attempt (username, client, succeeded) values ($1, $2, $3)")
        .bind(username)
        .bind(client)
        .bind(succeeded)
        .execute(pool)
        .await?;
    Ok(())
}
