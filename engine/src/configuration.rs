//! The engine's settings, from environment variables.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LISTEN_ADDR` | `0.0.0.0:8080` | HTTP address |
//! | `DATABASE_URL` / `DATABASE_SECRET_ID` | — (one required) | see [`platform::config::DatabaseSettings`] |
//! | `DATABASE_MAX_CONNECTIONS` | `10` | pool size |
//! | `MIGRATE_ON_START` | `true` | apply pending migrations at start-up |

use std::net::SocketAddr;

use platform::config::{self, ConfigError, DatabaseSettings};

/// Everything the engine needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen_addr: SocketAddr,
    /// Database connection.
    pub database: DatabaseSettings,
    /// Apply migrations at start-up.
    pub migrate_on_start: bool,
}

impl Settings {
    /// Reads and validates the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            listen_addr: config::parsed_or("LISTEN_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)))?,
            database: DatabaseSettings::from_env()?,
            migrate_on_start: config::parsed_or("MIGRATE_ON_START", true)?,
        })
    }
}
