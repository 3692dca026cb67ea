//! Configuration from environment variables (12-factor).
//!
//! Each service declares a typed settings struct and fills it with the helpers here. Errors name
//! the variable and say what is wrong with it, so a mistyped task definition fails at start-up
//! with a message an operator can act on.

use std::{fmt::Display, str::FromStr};

use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;

/// A configuration variable that is missing or malformed.
#[derive(Debug, thiserror::Error)]
#[error("configuration variable {var}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// An error about `var`.
    pub fn new(var: &str, message: impl Into<String>) -> Self {
        Self { var: var.to_owned(), message: message.into() }
    }
}

/// The value of `var`, or `None` when it is unset or empty.
pub fn optional(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

/// The value of `var` parsed as `T`, or `default` when unset.
pub fn parsed_or<T>(var: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match optional(var) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|e| ConfigError::new(var, format!("cannot parse {raw:?}: {e}"))),
    }
}

/// A comma-separated list from `var`, or `default` when unset. Empty items are dropped.
pub fn list_or(var: &str, default: &[&str]) -> Vec<String> {
    match optional(var) {
        None => default.iter().map(|s| (*s).to_owned()).collect(),
        Some(raw) => raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
    }
}

/// The deployment environment name (`HALYARD_ENVIRONMENT`), used in logs and metric dimensions.
pub fn environment_name() -> String {
    optional("HALYARD_ENVIRONMENT").unwrap_or_else(|| "local".to_owned())
}

/// Where the database credentials come from.
#[derive(Clone)]
pub enum DatabaseSource {
    /// `DATABASE_URL`: a full `postgres://` URL.
    Url(String),
    /// `DATABASE_SECRET_ID`: a Secrets Manager secret in the RDS JSON format, completed by
    /// `DATABASE_HOST`, `DATABASE_PORT` and `DATABASE_NAME` when the secret lacks those fields
    /// (an RDS-managed master secret carries only the username and password).
    Secret {
        /// Name or ARN of the secret.
        secret_id: String,
        /// Fallbacks for fields the secret does not carry.
        defaults: RdsSecretDefaults,
    },
}

impl std::fmt::Debug for DatabaseSource {
    // The URL may embed a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(_) => f.write_str("Url(<redacted>)"),
            Self::Secret { secret_id, .. } => write!(f, "Secret({secret_id})"),
        }
    }
}

/// Fallback connection fields for an RDS secret that does not carry them.
#[derive(Debug, Clone, Default)]
pub struct RdsSecretDefaults {
    /// `DATABASE_HOST`.
    pub host: Option<String>,
    /// `DATABASE_PORT`.
    pub port: Option<u16>,
    /// `DATABASE_NAME`.
    pub dbname: Option<String>,
}

/// Database settings shared by every service.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// Where the credentials come from.
    pub source: DatabaseSource,
    /// `DATABASE_MAX_CONNECTIONS` (default 10): kept small because several tasks of three
    /// services share one RDS instance whose `max_connections` is bounded by its memory.
    pub max_connections: u32,
}

impl DatabaseSettings {
    /// Reads `DATABASE_URL` or `DATABASE_SECRET_ID` (one is required) and the pool size.
    pub fn from_env() -> Result<Self, ConfigError> {
        let source =
            match (optional("DATABASE_URL"), optional("DATABASE_SECRET_ID")) {
                (Some(url), _) => {
                    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                        return Err(ConfigError::new("DATABASE_URL", "must start with postgres:// or postgresql://"));
                    }
                    url.parse::<PgConnectOptions>()
                        .map_err(|e| ConfigError::new("DATABASE_URL", format!("not a valid postgres URL: {e}")))?;
                    DatabaseSource::Url(url)
                }
                (None, Some(secret_id)) => DatabaseSource::Secret {
                    secret_id,
                    defaults: RdsSecretDefaults {
                        host: optional("DATABASE_HOST"),
                        port: optional("DATABASE_PORT")
                            .map(|p| p.parse().map_err(|e| ConfigError::new("DATABASE_PORT", format!("{e}"))))
                            .transpose()?,
                        dbname: optional("DATABASE_NAME"),
                    },
                },
                (None, None) => return Err(ConfigError::new(
                    "DATABASE_URL",
                    "set DATABASE_URL (postgres://...) or DATABASE_SECRET_ID (a Secrets Manager secret in RDS format)",
                )),
            };
        let max_connections = parsed_or("DATABASE_MAX_CONNECTIONS", 10u32)?;
        if max_connections == 0 {
            return Err(ConfigError::new("DATABASE_MAX_CONNECTIONS", "must be at least 1"));
        }
        Ok(Self { source, max_connections })
    }
}

/// The RDS secret JSON format: `{"username","password","host","port","dbname"}`.
#[derive(Deserialize)]
pub struct RdsSecret {
    /// Database user.
    pub username: String,
    /// Database password.
    pub password: String,
    /// Host name; may be absent in an RDS-managed master secret.
    pub host: Option<String>,
    /// Port; RDS writes it as a number, some tools as a string.
    #[serde(default, deserialize_with = "port_from_number_or_string")]
    pub port: Option<u16>,
    /// Database name.
    pub dbname: Option<String>,
}

impl std::fmt::Debug for RdsSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RdsSecret").field("username", &self.username).field("host", &self.host).finish_non_exhaustive()
    }
}

fn port_from_number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Port {
        Number(u16),
        Text(String),
    }
    match Option::<Port>::deserialize(d)? {
        None => Ok(None),
        Some(Port::Number(n)) => Ok(Some(n)),
        Some(Port::Text(s)) => s.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

impl RdsSecret {
    /// Parses the secret string. The error never contains the secret's text.
    pub fn parse(secret_string: &str) -> Result<Self, ConfigError> {
        serde_json::from_str(secret_string).map_err(|e| {
            ConfigError::new(
                "DATABASE_SECRET_ID",
                format!(
                    "secret is not RDS JSON {{username,password,host,port,dbname}} (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })
    }

    /// Connection options, filling absent fields from `defaults`.
    pub fn connect_options(&self, defaults: &RdsSecretDefaults) -> Result<PgConnectOptions, ConfigError> {
        let host = self
            .host
            .clone()
            .or_else(|| defaults.host.clone())
            .ok_or_else(|| ConfigError::new("DATABASE_HOST", "the secret has no host; set DATABASE_HOST"))?;
        Ok(PgConnectOptions::new()
            .host(&host)
            .port(self.port.or(defaults.port).unwrap_or(5432))
            .username(&self.username)
            .password(&self.password)
            .database(self.dbname.as_deref().or(defaults.dbname.as_deref()).unwrap_or("postgres")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_secret_with_all_fields_builds_connect_options() {
        let secret =
            RdsSecret::parse(r#"{"username":"u","password":"p","host":"db.example","port":6543,"dbname":"halyard"}"#)
                .unwrap();
        let opts = secret.connect_options(&RdsSecretDefaults::default()).unwrap();
        assert_eq!(opts.get_host(), "db.example");
        assert_eq!(opts.get_port(), 6543);
        assert_eq!(opts.get_database(), Some("halyard"));
    }

    #[test]
    fn rds_managed_secret_takes_host_and_name_from_defaults() {
        let secret = RdsSecret::parse(r#"{"username":"u","password":"p"}"#).unwrap();
        let defaults = RdsSecretDefaults { host: Some("h".into()), port: Some(5433), dbname: Some("d".into()) };
        let opts = secret.connect_options(&defaults).unwrap();
        assert_eq!((opts.get_host(), opts.get_port(), opts.get_database()), ("h", 5433, Some("d")));
    }

    #[test]
    fn rds_secret_without_host_names_the_missing_variable() {
        let secret = RdsSecret::parse(r#"{"username":"u","password":"p"}"#).unwrap();
        let err = secret.connect_options(&RdsSecretDefaults::default()).unwrap_err();
        assert_eq!(err.var, "DATABASE_HOST");
    }

    #[test]
    fn malformed_secret_error_does_not_leak_the_secret() {
        let err = RdsSecret::parse(r#"{"username":"u","password":"hunter2""#).unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn port_written_as_a_string_is_accepted() {
        let secret = RdsSecret::parse(r#"{"username":"u","password":"p","host":"h","port":"5432"}"#).unwrap();
        assert_eq!(secret.port, Some(5432));
    }
}
