//! Black-box tests of the data-service: the real application on a real PostgreSQL, driven over
//! HTTP and WebSocket. One binary, one module per feature.

mod archive;
mod binance;
mod deployment;
mod health;
mod helpers;
mod history;
mod import;
mod lifecycle;
mod secrets;
mod stream;
mod ticks;
