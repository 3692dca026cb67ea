//! The PostgreSQL pool, the embedded migrations and the readiness check of the schema.
//!
//! All services share one database and one `migrations/` folder. Migrations run from the
//! `migrate` subcommand (a one-shot ECS task before a deploy) and again at service start-up;
//! sqlx's migrator holds a Postgres advisory lock while it runs, so several tasks starting at
//! once apply each migration exactly once and the others wait, then find nothing to do.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use tokio::sync::Notify;

use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    PgPool,
};

use crate::config::{DatabaseSettings, DatabaseSource, RdsSecret};

/// The project's migrations, embedded in every binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// Failures setting up or checking the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The credentials could not be resolved.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A secret could not be fetched.
    #[error("fetching database secret {secret_id}: {message}")]
    Secret {
        /// The secret asked for.
        secret_id: String,
        /// Why it failed (never the secret's value).
        message: String,
    },
    /// The database did not answer or refused.
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Future returned by a [`SecretSource`].
pub type SecretFuture<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// Where secret strings come from (AWS Secrets Manager in production). A seam so the services
/// do not depend on how secrets are fetched.
pub trait SecretSource: Send + Sync {
    /// The secret string of `secret_id`; the error text must not contain secret material.
    fn secret_string<'a>(&'a self, secret_id: &'a str) -> SecretFuture<'a>;

    /// Forgets any cached value of `secret_id`, so the next read fetches it afresh (after a
    /// rotation). Sources without a cache need do nothing.
    fn invalidate(&self, _secret_id: &str) {}
}

/// A source for deployments that configure `DATABASE_URL` directly: asking it for a secret
/// is a configuration error that says so.
pub struct NoSecretSource;

impl SecretSource for NoSecretSource {
    fn secret_string<'a>(&'a self, _secret_id: &'a str) -> SecretFuture<'a> {
        Box::pin(async {
            Err("secret ids (DATABASE_SECRET_ID, ...) resolve only through AWS Secrets Manager, which is not configured; set the value directly (e.g. DATABASE_URL)".to_owned())
        })
    }
}

/// Resolves the connection options, fetching the secret when configured by secret id.
pub async fn connect_options(
    settings: &DatabaseSettings,
    secrets: &dyn SecretSource,
) -> Result<PgConnectOptions, DbError> {
    match &settings.source {
        DatabaseSource::Url(url) => Ok(url.parse()?),
        DatabaseSource::Secret { secret_id, defaults } => {
            let raw = secrets
                .secret_string(secret_id)
                .await
                .map_err(|message| DbError::Secret { secret_id: secret_id.clone(), message })?;
            Ok(RdsSecret::parse(&raw)?.connect_options(defaults)?)
        }
    }
}

/// A pool that connects lazily, so a service starts (and answers `/healthz`) while the database
/// is still coming up; `/readyz` reports whether it answers.
///
/// JIT compilation is switched off: the services run short queries whose cost estimates over
/// partitioned tables can look large, and compiling them took longer (200+ ms) than running them.
///
/// A connection is pinged before use only when it sat idle for [`PING_AFTER_IDLE`] or longer:
/// pinging every acquire (sqlx's default) doubled the round trips of a busy service, while a
/// connection in steady use proves itself alive. One that died meanwhile (a database restart)
/// fails its query, is dropped, and the caller's retry gets a fresh one.
pub fn lazy_pool(options: PgConnectOptions, max_connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                use sqlx::Connection;
                Ok(meta.idle_for < PING_AFTER_IDLE || connection.ping().await.is_ok())
            })
        })
        .connect_lazy_with(session_options(options))
}

/// How long a pooled connection may sit idle before it is pinged on its next use.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The session settings every pooled connection gets (see [`lazy_pool`]).
pub fn session_options(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("jit", "off")])
}

/// Whether `e` is the server refusing the credentials (SQLSTATE class 28: wrong password, or
/// an unknown or disallowed role), the sign that the password was rotated under us.
pub fn is_auth_failure(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("28")))
}

static AUTH_FAILURE: Notify = Notify::const_new();

/// Reports a database error seen anywhere in the process: an authentication failure wakes the
/// credential refresh ([`spawn_credential_refresh`]) at once instead of at its next period.
/// Cheap; every other error is ignored.
pub fn report_error(e: &sqlx::Error) {
    if is_auth_failure(e) {
        tracing::warn!("database refused the credentials; re-reading the database secret");
        AUTH_FAILURE.notify_waiters();
    }
}

/// Keeps a pool's credentials current when they come from a secret: re-reads the secret every
/// `period` and whenever [`report_error`] saw an authentication failure (at most once every
/// `min_gap`), and when the value changed calls [`PgPool::set_connect_options`], so new
/// connections use the rotated password without a restart. Connections already open stay
/// (PostgreSQL checks the password only when connecting). Does nothing for `DATABASE_URL`.
pub fn spawn_credential_refresh(
    pool: PgPool,
    settings: DatabaseSettings,
    secrets: Arc<dyn SecretSource>,
    period: Duration,
    min_gap: Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    let DatabaseSource::Secret { secret_id, defaults } = settings.source else {
        return None;
    };
    Some(tokio::spawn(async move {
        let mut last: Option<u64> = None;
        loop {
            let woke = tokio::select! {
                () = tokio::time::sleep(period) => "period",
                () = AUTH_FAILURE.notified() => "authentication failure",
            };
            if pool.is_closed() {
                return;
            }
            secrets.invalidate(&secret_id);
            match secrets.secret_string(&secret_id).await {
                Err(message) => tracing::warn!(secret_id, error = %message, "refreshing the database secret failed"),
                Ok(raw) => {
                    let fingerprint = fingerprint(&raw);
                    if last != Some(fingerprint) {
                        match RdsSecret::parse(&raw).and_then(|s| s.connect_options(&defaults)) {
                            Ok(options) => {
                                pool.set_connect_options(session_options(options));
                                if last.is_some() {
                                    tracing::info!(
                                        secret_id,
                                        reason = woke,
                                        "database credentials changed; new connections use them"
                                    );
                                }
                                last = Some(fingerprint);
                            }
                            Err(e) => {
                                tracing::warn!(secret_id, error = %e, "the refreshed database secret is unusable")
                            }
                        }
                    }
                }
            }
            tokio::time::sleep(min_gap).await;
        }
    }))
}

/// A non-cryptographic fingerprint, only to notice that a secret changed without keeping it.
fn fingerprint(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// A two-connection pool from `DATABASE_URL` or `DATABASE_SECRET_ID`, for the binaries' one-shot
/// commands (migrate, import, archive, user and token administration).
pub async fn pool_from_env() -> Result<PgPool, DbError> {
    let settings = DatabaseSettings::from_env()?;
    let secrets = crate::aws::secret_source_from_env().await?;
    Ok(lazy_pool(connect_options(&settings, &*secrets).await?, 2))
}

/// Applies every pending migration under the migrator's advisory lock.
pub async fn migrate(pool: &PgPool) -> Result<(), DbError> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Whether the database schema matches the migrations this binary carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaStatus {
    /// Every embedded migration is applied.
    Current,
    /// These embedded migration versions are not applied yet.
    Behind(Vec<i64>),
}

/// Compares applied migrations with the embedded ones.
pub async fn schema_status(pool: &PgPool) -> Result<SchemaStatus, DbError> {
    let table_exists: bool =
        sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null").fetch_one(pool).await?;
    let applied: Vec<i64> = if table_exists {
        sqlx::query_scalar("select version from _sqlx_migrations where success").fetch_all(pool).await?
    } else {
        Vec::new()
    };
    let missing: Vec<i64> = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect();
    Ok(if missing.is_empty() { SchemaStatus::Current } else { SchemaStatus::Behind(missing) })
}
