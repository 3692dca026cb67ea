//! Halyard's trading engine.
//!
//! Today the engine is the service shell the trading features plug into: configuration,
//! database and migrations, health and readiness, graceful shutdown, and the `backtest` command.
//! Strategies, signals, orders, risk and venues arrive with the engine issue.

pub mod configuration;
pub mod startup;
