//! The overview: its live part ([`LiveOverview`]): service health, each account's equity and
//! P&L today, the latest TradingView alerts, halt state, open positions and working orders.

use crate::live::{overview::LiveOverview, rows::OverviewSnapshot};
use leptos::prelude::*;

/// The overview's content: `live`, which the wasm client keeps current.
#[component]
pub fn OverviewPage(live: OverviewSnapshot) -> impl IntoView {
    view! {
        <h1>"Overview"</h1>
        <LiveOverview snapshot=live/>
    }
}
