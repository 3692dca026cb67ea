//! Halyard's traders' dashboard: leptos components rendered on the server and served by axum.
//! Every page works without WebAssembly (links and forms that post); the live price uses a
//! small script and server-sent events.
//!
//! - [`configuration`]: settings from environment variables.
//! - [`startup`]: state, router, security headers, serving until shutdown.
//! - [`auth`]: users (argon2), sessions and CSRF tokens, sign-in rate limiting.
//! - [`clients`]: the engine and data-service APIs.
//! - [`routes`]: one router per feature (sign-in, overview, markets, orders, emergency controls).
//! - [`pages`]: the leptos components.
//! - [`error`]: the error type at the HTTP edge.

pub mod auth;
pub mod clients;
pub mod configuration;
pub mod error;
pub mod pages;
pub mod routes;
pub mod startup;
