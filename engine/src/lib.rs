//! Halyard's trading engine: strategies, external signals, order management with pre-trade risk
//! and a kill switch, venues (paper), positions and P&L, and the `backtest` command.
//!
//! - [`configuration`]: settings from environment variables.
//! - [`startup`]: wiring, background tasks, serving until shutdown.
//! - [`auth`]: hashed bearer API tokens.
//! - [`market`]: live ticks from the data-service and last prices.
//! - [`oms`]: write-ahead orders, risk checks, venue events, fills and positions.
//! - [`venue`]: the paper venue.
//! - [`signals`]: the TradingView webhook, its group-commit writer and the signal worker.
//! - [`runner`]: strategy leases and the bar-driven strategy tasks.
//! - [`halt`]: the kill switch.
//! - [`strategies`]: stored strategy definitions.
//! - [`api`]: the HTTP API and its OpenAPI document.
//! - [`seed`]: the demo strategy.

pub mod api;
pub mod audit;
pub mod auth;
pub mod backtests;
pub mod configuration;
pub mod convert;
pub mod halt;
pub mod market;
pub mod metrics;
pub mod oms;
pub mod reconcile;
pub mod reports;
pub mod runner;
pub mod seed;
pub mod signals;
pub mod startup;
pub mod strategies;
pub mod venue;
