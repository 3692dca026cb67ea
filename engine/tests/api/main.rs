//! Black-box tests of the engine: the real application on a real PostgreSQL, fed by a stand-in
//! of the data-service's stream, driven over HTTP. One binary, one module per feature.

mod accounts;
mod alpaca;
mod backtests;
mod binance;
mod faults;
mod halt;
mod helpers;
mod instruments;
mod order_types;
mod orders;
mod ownership;
mod processes;
mod reports;
mod secrets;
mod signals;
mod soak;
mod strategies;
mod validation;
