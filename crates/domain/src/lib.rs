//! Halyard's trading domain, free of I/O so that live trading, paper trading and the
//! backtester drive exactly the same code.
//!
//! - [`fixed`]: exact fixed-point [`Price`], [`Qty`], [`Money`] and [`Bps`].
//! - [`market`]: bars, ticks, order intents, fills, external signals.
//! - [`strategy`]: the event-driven [`Strategy`] trait, parameters and built-in strategies.
//! - [`risk`]: pre-trade checks with reason codes.
//! - [`fill`]: the fill model and a simulated venue for backtests and paper trading.
//! - [`order`]: the order lifecycle state machine.
//! - [`bars`]: bars of a fixed period built from live ticks.
//! - [`position`]: average-cost positions with realized and unrealized P&L.
//! - [`trigger`]: when stop, stop-limit and trailing stop orders trigger.

#![warn(missing_docs, clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod bars;
pub mod fill;
pub mod fixed;
pub mod market;
pub mod order;
pub mod position;
pub mod risk;
pub mod strategy;
pub mod trigger;

pub use fixed::{Bps, Money, Price, Qty};
pub use market::{
    Bar, Bracket, ExternalSignal, Fill, InstrumentId, OrderIntent, OrderType, Side, SignalAction, Tick, TimeInForce,
    Timestamp, Trail,
};
pub use order::{OrderEvent, OrderState, OrderStatus, TransitionError};
pub use strategy::{build_strategy, Strategy, StrategyBase, StrategyContext, StrategyParams};
