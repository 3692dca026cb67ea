//! AWS clients and Secrets Manager.
//!
//! - [`AwsSettings::load`] builds the SDK configuration from the default chain (environment,
//!   profile, ECS task role, instance metadata). `AWS_ENDPOINT_URL` is honoured by the SDK itself,
//!   which is how the services reach a local emulator (moto); tests set the endpoint, region and
//!   dummy credentials explicitly with [`AwsSettings::emulator`] instead of touching the process
//!   environment.
//! - [`s3_client`] uses path-style addressing whenever an endpoint override is set (an emulator
//!   on `127.0.0.1` or `localhost` cannot serve virtual-hosted bucket names).
//! - [`SecretsManagerSource`] implements [`crate::db::SecretSource`] with a cache whose entries
//!   live for the refresh interval (`SECRETS_REFRESH_SECONDS`, default 300); values are held in
//!   [`Redacted`] so they never reach a log line or an error message.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::{
    config::{self, ConfigError},
    db::{NoSecretSource, SecretFuture, SecretSource},
};

/// A value that must never be printed: `Debug` and `Display` show `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value itself; the caller takes care not to log it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How to reach AWS. Empty fields fall back to the SDK's default chain (environment variables
/// such as `AWS_REGION` and `AWS_ENDPOINT_URL`, profiles, the ECS task role).
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    /// An endpoint override for every service (an emulator); `None` uses the SDK's choice.
    pub endpoint_url: Option<String>,
    /// Region; `None` uses the default chain.
    pub region: Option<String>,
    /// Static access key id and secret key; `None` uses the default credential chain.
    pub static_credentials: Option<(String, Redacted<String>)>,
}

impl AwsSettings {
    /// Settings for a local emulator at `endpoint`: region `us-east-1`, dummy credentials.
    pub fn emulator(endpoint: &str) -> Self {
        Self {
            endpoint_url: Some(endpoint.to_owned()),
            region: Some("us-east-1".to_owned()),
            static_credentials: Some(("test".to_owned(), Redacted::new("test".to_owned()))),
        }
    }

    /// Loads the SDK configuration.
    pub async fn load(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some((key, secret)) = &self.static_credentials {
            loader = loader.credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                key,
                secret.expose(),
                None,
                None,
                "halyard-static",
            ));
        }
        loader.load().await
    }
}

/// Whether the environment names an AWS region (`AWS_REGION` or `AWS_DEFAULT_REGION`), the
/// services' signal that AWS is configured at all.
pub fn region_configured() -> bool {
    config::optional("AWS_REGION").is_some() || config::optional("AWS_DEFAULT_REGION").is_some()
}

/// An S3 client; path-style addressing when the configuration overrides the endpoint.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk).force_path_style(sdk.endpoint_url().is_some()).build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// A Secrets Manager client.
pub fn secrets_client(sdk: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(sdk)
}

/// A CloudWatch client.
pub fn cloudwatch_client(sdk: &SdkConfig) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(sdk)
}

/// `SECRETS_REFRESH_SECONDS` (default 300): how long a fetched secret is trusted before it is
/// fetched again, and the period of the database credential refresh.
pub fn secrets_refresh_from_env() -> Result<Duration, ConfigError> {
    let seconds = config::parsed_or("SECRETS_REFRESH_SECONDS", 300u64)?;
    if seconds == 0 {
        return Err(ConfigError::new("SECRETS_REFRESH_SECONDS", "must be at least 1"));
    }
    Ok(Duration::from_secs(seconds))
}

/// Failures fetching a secret. The messages name the secret, never its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Secrets Manager refused or could not be reached.
    #[error("secret {secret_id}: {message}")]
    Fetch {
        /// The secret asked for.
        secret_id: String,
        /// The service's answer (no secret material).
        message: String,
    },
    /// The secret has no string value (a binary secret).
    #[error("secret {secret_id} has no string value")]
    NotAString {
        /// The secret asked for.
        secret_id: String,
    },
}

/// Secrets from AWS Secrets Manager, cached for the refresh interval.
pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Redacted<String>, Instant)>>,
}

impl SecretsManagerSource {
    /// A source using `client`; cached values are fetched again after `ttl`.
    pub fn new(client: aws_sdk_secretsmanager::Client, ttl: Duration) -> Self {
        Self { client, ttl, cache: Mutex::new(HashMap::new()) }
    }

    /// The secret string of `secret_id` (name or ARN), from the cache while it is fresh.
    pub async fn get(&self, secret_id: &str) -> Result<Redacted<String>, SecretError> {
        if let Some((value, at)) = self.lock().get(secret_id) {
            if at.elapsed() < self.ttl {
                return Ok(value.clone());
            }
        }
        let out = self.client.get_secret_value().secret_id(secret_id).send().await.map_err(|e| SecretError::Fetch {
            secret_id: secret_id.to_owned(),
            message: DisplayErrorContext(&e).to_string(),
        })?;
        let value = Redacted::new(
            out.secret_string().ok_or_else(|| SecretError::NotAString { secret_id: secret_id.to_owned() })?.to_owned(),
        );
        self.lock().insert(secret_id.to_owned(), (value.clone(), Instant::now()));
        Ok(value)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Redacted<String>, Instant)>> {
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SecretSource for SecretsManagerSource {
    fn secret_string<'a>(&'a self, secret_id: &'a str) -> SecretFuture<'a> {
        Box::pin(async move { self.get(secret_id).await.map(|v| v.expose().clone()).map_err(|e| e.to_string()) })
    }

    fn invalidate(&self, secret_id: &str) {
        self.lock().remove(secret_id);
    }
}

/// The secret source the services use: Secrets Manager when any `*_SECRET_ID` variable is set
/// (`DATABASE_SECRET_ID`, `SIGNAL_HMAC_SECRET_ID`, `ALPACA_SECRET_ID`, ...), otherwise
/// [`NoSecretSource`].
pub async fn secret_source_from_env() -> Result<Arc<dyn SecretSource>, ConfigError> {
    let any_secret_id = std::env::vars().any(|(name, value)| name.ends_with("_SECRET_ID") && !value.trim().is_empty());
    if !any_secret_id {
        return Ok(Arc::new(NoSecretSource));
    }
    let ttl = secrets_refresh_from_env()?;
    let sdk = AwsSettings::default().load().await;
    Ok(Arc::new(SecretsManagerSource::new(secrets_client(&sdk), ttl)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_values_print_as_redacted() {
        let v = Redacted::new("hunter2".to_owned());
        assert_eq!(format!("{v} {v:?}"), "<redacted> <redacted>");
        assert_eq!(v.expose(), "hunter2");
    }

    #[test]
    fn emulator_settings_do_not_print_the_secret_key() {
        let mut s = AwsSettings::emulator("http://127.0.0.1:1");
        s.static_credentials = Some(("AKIA".into(), Redacted::new("very-secret-key".into())));
        assert!(!format!("{s:?}").contains("very-secret-key"));
    }
}
