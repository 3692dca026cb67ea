//! Integration tests: the real dashboard on a fresh database, talking over HTTP to stand-in
//! engine and data-service servers that speak their documented APIs.

mod auth;
mod backtests;
mod cli;
mod emergency;
mod helpers;
mod orders;
mod pages;
mod risk;
mod strategies;
mod ticket;
