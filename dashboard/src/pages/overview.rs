//! The overview: service health, then the live part (each account's equity and P&L today, the
//! latest TradingView alerts, halt state, open positions and working orders; [`LiveOverview`]).

use crate::{
    clients::Health,
    live::{overview::LiveOverview, rows::OverviewSnapshot},
};
use leptos::prelude::*;

/// Health of one service.
#[derive(Debug, Clone)]
pub struct ServiceHealth {
    /// Service name.
    pub name: &'static str,
    /// Its readiness.
    pub health: Health,
}

/// The overview's content: the services' health as of loading, and `live`, which the wasm
/// client keeps current.
#[component]
pub fn OverviewPage(services: Vec<ServiceHealth>, live: OverviewSnapshot) -> impl IntoView {
    view! {
        <h1>"Overview"</h1>
        <section aria-labelledby="health-h">
            <h2 id="health-h">"Services"</h2>
            <ul class="health" id="health">
                {services.into_iter().map(|s| {
                    let (class, text) = match s.health {
                        Health::Ready => ("ok", "ready".to_owned()),
                        Health::NotReady(why) => ("down", format!("not ready: {why}")),
                    };
                    view! { <li class=class><strong>{s.name}</strong>{format!(" {text}")}</li> }
                }).collect_view()}
            </ul>
        </section>
        <LiveOverview snapshot=live/>
    }
}
