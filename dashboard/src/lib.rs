//! Halyard's traders' dashboard: leptos components rendered on the server and served by axum.
//! Every page works without WebAssembly (links and forms that post). The live parts of the
//! pages are leptos islands ([`live`]): rendered by the server with their data, then hydrated
//! by the wasm client (this crate built with `--features hydrate`, `scripts/build-wasm.sh`),
//! which keeps them current from the dashboard's server-sent events.
//!
//! - [`configuration`]: settings from environment variables.
//! - [`startup`]: state, router, security headers, serving until shutdown.
//! - [`auth`]: users (argon2), sessions and CSRF tokens, sign-in rate limiting.
//! - [`clients`]: the engine and data-service APIs.
//! - [`routes`]: one router per feature (sign-in, overview, markets, orders, order ticket,
//!   strategies, backtests, risk, emergency controls, assets).
//! - [`pages`]: the leptos components.
//! - [`live`]: the islands, compiled for both the server and the wasm client.
//! - [`error`]: the error type at the HTTP edge.
//! - [`openapi`]: the routes as an OpenAPI document (`GET /api/openapi.json`).

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod clients;
#[cfg(feature = "ssr")]
pub mod configuration;
#[cfg(feature = "ssr")]
pub mod error;
pub mod live;
#[cfg(feature = "ssr")]
pub mod openapi;
#[cfg(feature = "ssr")]
pub mod pages;
#[cfg(feature = "ssr")]
pub mod routes;
#[cfg(feature = "ssr")]
pub mod startup;

/// The wasm client's entry point, called by `/assets/hydrate.js` once the module is loaded:
/// starts the reactive system in islands mode. The script then hydrates each
/// `<leptos-island>` of the page through the function leptos exports for it.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    leptos::mount::hydrate_islands();
}
