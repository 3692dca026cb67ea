//! Named secrets the services keep current: broker keys, webhook signing secrets, API keys.
//!
//! A [`LiveSecret`] is read once at start-up, re-read every refresh period in the background,
//! and re-read at once when a caller reports that the value was refused (an authentication
//! failure: the secret was probably rotated), at most once per [`MIN_REFETCH`] so a flood of
//! bad requests cannot hammer Secrets Manager. Readers get the cached value without waiting.
//! Values are [`Redacted`]: they never print in logs or errors.
//!
//! Where no secret id is configured, a fixed value (from an environment variable) behaves the
//! same to its readers and never changes.

use std::{
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use tokio_util::sync::CancellationToken;

use crate::{aws::Redacted, db::SecretSource};

/// How a secret is configured: its value directly (an environment variable, e.g. in local
/// runs), or the id of a secret in Secrets Manager (in AWS).
#[derive(Clone)]
pub enum SecretSetting {
    /// The value itself.
    Value(Redacted<String>),
    /// A secret id (name or ARN).
    SecretId(String),
}

impl std::fmt::Debug for SecretSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(_) => f.write_str("Value(<redacted>)"),
            Self::SecretId(id) => f.debug_tuple("SecretId").field(id).finish(),
        }
    }
}

impl SecretSetting {
    /// `id_var` (a secret id) if set, else `value_var` (the value), else `None`.
    pub fn from_env(value_var: &str, id_var: &str) -> Option<Self> {
        crate::config::optional(id_var)
            .map(Self::SecretId)
            .or_else(|| crate::config::optional(value_var).map(|v| Self::Value(Redacted::new(v))))
    }

    /// The live value: fixed, or fetched from `source` now.
    ///
    /// # Errors
    /// The source's error for a secret id.
    pub async fn resolve(&self, source: Arc<dyn SecretSource>) -> Result<LiveSecret, String> {
        match self {
            Self::Value(value) => Ok(LiveSecret::fixed(value.expose().clone())),
            Self::SecretId(id) => LiveSecret::fetch(id, source).await,
        }
    }
}

/// Shortest time between two fetches caused by refused values.
pub const MIN_REFETCH: Duration = Duration::from_secs(5);

/// A secret value kept current (see the module docs). Cheap to clone; clones share the value.
#[derive(Clone)]
pub struct LiveSecret {
    inner: Arc<Inner>,
}

struct Inner {
    secret_id: Option<String>,
    source: Option<Arc<dyn SecretSource>>,
    value: RwLock<Redacted<String>>,
    last_fetch: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for LiveSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSecret").field("secret_id", &self.inner.secret_id).finish_non_exhaustive()
    }
}

impl LiveSecret {
    /// A value that never changes (configured directly, e.g. from an environment variable).
    pub fn fixed(value: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                secret_id: None,
                source: None,
                value: RwLock::new(Redacted::new(value.into())),
                last_fetch: Mutex::new(None),
            }),
        }
    }

    /// Reads `secret_id` from `source` now.
    ///
    /// # Errors
    /// The source's error (it names the secret, never a value).
    pub async fn fetch(secret_id: &str, source: Arc<dyn SecretSource>) -> Result<Self, String> {
        let value = source.secret_string(secret_id).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                secret_id: Some(secret_id.to_owned()),
                source: Some(source),
                value: RwLock::new(Redacted::new(value)),
                // The start-up read does not count: a value refused right after start-up
                // (rotated meanwhile) is re-read at once.
                last_fetch: Mutex::new(None),
            }),
        })
    }

    /// The current value.
    pub fn current(&self) -> Redacted<String> {
        self.inner.value.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The secret id, when the value comes from a secret store.
    pub fn secret_id(&self) -> Option<&str> {
        self.inner.secret_id.as_deref()
    }

    /// Re-reads the secret, bypassing any cache. Returns whether the value changed. A fixed
    /// value never changes; a fetch within [`MIN_REFETCH`] of the last one is skipped.
    ///
    /// # Errors
    /// The source's error; the current value is kept.
    pub async fn refresh(&self) -> Result<bool, String> {
        let (Some(secret_id), Some(source)) = (&self.inner.secret_id, &self.inner.source) else { return Ok(false) };
        {
            let mut last = self.inner.last_fetch.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < MIN_REFETCH) {
                return Ok(false);
            }
            *last = Some(Instant::now());
        }
        self.reload(secret_id, source.as_ref()).await
    }

    async fn reload(&self, secret_id: &str, source: &dyn SecretSource) -> Result<bool, String> {
        source.invalidate(secret_id);
        let fresh = source.secret_string(secret_id).await?;
        let mut value = self.inner.value.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = value.expose() != &fresh;
        if changed {
            *value = Redacted::new(fresh);
            tracing::info!(secret_id, "secret value changed (rotated); using the new one");
        }
        Ok(changed)
    }

    /// Re-reads the secret every `every` until `stop` (nothing for a fixed value).
    pub fn spawn_refresh(&self, every: Duration, stop: CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
        let (Some(secret_id), Some(source)) = (self.inner.secret_id.clone(), self.inner.source.clone()) else {
            return None;
        };
        let secret = self.clone();
        Some(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                *secret.inner.last_fetch.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(Instant::now());
                if let Err(error) = secret.reload(&secret_id, source.as_ref()).await {
                    tracing::warn!(%error, "secret refresh failed; keeping the current value");
                }
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::db::SecretFuture;

    struct Rotating {
        value: Mutex<String>,
        fetches: AtomicUsize,
    }

    impl SecretSource for Rotating {
        fn secret_string<'a>(&'a self, _secret_id: &'a str) -> SecretFuture<'a> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let value = self.value.lock().unwrap().clone();
            Box::pin(async move { Ok(value) })
        }
    }

    #[tokio::test]
    async fn a_refused_value_is_refetched_at_most_once_per_interval() {
        let source = Arc::new(Rotating { value: Mutex::new("one".into()), fetches: AtomicUsize::new(0) });
        let secret = LiveSecret::fetch("broker", source.clone()).await.unwrap();
        assert_eq!(secret.current().expose(), "one");
        *source.value.lock().unwrap() = "two".into();
        assert!(secret.refresh().await.unwrap(), "refused after a rotation: re-read at once");
        assert_eq!(secret.current().expose(), "two");
        *source.value.lock().unwrap() = "three".into();
        assert!(!secret.refresh().await.unwrap(), "a second refusal within the interval does not fetch");
        assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
        *secret.inner.last_fetch.lock().unwrap() = Some(Instant::now() - MIN_REFETCH);
        assert!(secret.refresh().await.unwrap());
        assert_eq!(secret.current().expose(), "three");
        assert!(!format!("{secret:?} {}", secret.current()).contains("three"));
    }

    #[tokio::test]
    async fn a_fixed_value_never_changes() {
        let secret = LiveSecret::fixed("env-value");
        assert!(!secret.refresh().await.unwrap());
        assert!(secret.spawn_refresh(Duration::from_millis(1), CancellationToken::new()).is_none());
        assert_eq!(secret.current().expose(), "env-value");
    }
}
