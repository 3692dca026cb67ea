//! The live parts of the pages, as leptos islands: the Markets price ([`price::LivePrice`]) and
//! candlestick chart ([`chart::LiveChart`], its candles in [`candles`]), the
//! Overview's trading state, positions and working orders ([`overview::LiveOverview`]), the
//! top bar of every page with its trading state and halt banner ([`topbar::LiveTopBar`]), and
//! a running backtest's progress ([`backtest::LiveBacktestProgress`]).
//!
//! This module is compiled twice. In the server (`ssr`) an island renders like any component,
//! with the data the handler loaded, inside a `<leptos-island>` element that carries that data
//! as JSON: the page is complete without wasm. In the wasm client (`hydrate`) leptos builds the
//! same island from that JSON, attaches it to the server's DOM (hydration), and the island
//! subscribes to the dashboard's server-sent events to stay current; `EventSource` reconnects
//! by itself. Only plain data crosses between the two: the server formats every decimal and
//! time as text ([`rows`]), so the client needs neither `rust_decimal` nor `chrono`.

pub mod backtest;
pub mod candles;
pub mod chart;
#[cfg(feature = "hydrate")]
mod events;
pub mod overview;
pub mod price;
pub mod rows;
pub mod tables;
pub mod topbar;

use leptos::prelude::*;

/// A notice that part of a page could not be loaded.
pub fn unavailable(what: &str, why: &str) -> AnyView {
    let text = format!("{what} unavailable: {why}");
    view! { <p class="notice error" role="status">{text}</p> }.into_any()
}
