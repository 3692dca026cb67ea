//! The live part of the overview: trading state, open positions and working orders.

use leptos::prelude::*;

use super::{
    rows::{OverviewSnapshot, TradingState},
    tables::{OrdersTable, PositionsTable},
    unavailable,
};

/// The overview's trading state, positions and working orders. The server renders them as of
/// the request; the wasm client marks the region `data-client="wasm"` once it has hydrated it
/// and replaces them with each snapshot from `/overview/live` (server-sent events, sent when
/// something changed), so a fill, a new order or a halt shows without reloading.
#[island]
pub fn LiveOverview(
    /// What to show first.
    snapshot: OverviewSnapshot,
) -> impl IntoView {
    let snapshot = RwSignal::new(snapshot);
    let hydrated = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        hydrated.set(true);
        let on_event = move |_: &str, data: String| match serde_json::from_str::<OverviewSnapshot>(&data) {
            Ok(next) => snapshot.set(next),
            Err(e) => leptos::logging::warn!("overview: unreadable snapshot: {e}"),
        };
        super::events::subscribe("/overview/live", &["snapshot"], on_event, || (), || ());
    });
    let trading = Memo::new(move |_| snapshot.with(|s| s.trading.clone()));
    let positions = Memo::new(move |_| snapshot.with(|s| s.positions.clone()));
    let working = Memo::new(move |_| snapshot.with(|s| s.working.clone()));
    view! {
        <div id="overview-live" data-client=move || hydrated.get().then_some("wasm")>
            <section aria-labelledby="trading-h">
                <h2 id="trading-h">"Trading"</h2>
                {move || trading_view(trading.get())}
            </section>
            <section aria-labelledby="positions-h">
                <h2 id="positions-h">"Open positions"</h2>
                {move || match positions.get() {
                    Ok(p) if p.is_empty() => {
                        view! { <p class="empty" id="no-positions">"No open positions."</p> }.into_any()
                    }
                    Ok(p) => view! { <PositionsTable positions=p/> }.into_any(),
                    Err(e) => unavailable("Positions", &e),
                }}
            </section>
            <section aria-labelledby="working-h">
                <h2 id="working-h">"Working orders"</h2>
                {move || match working.get() {
                    Ok(o) if o.is_empty() => {
                        view! { <p class="empty" id="no-working-orders">"No working orders."</p> }.into_any()
                    }
                    Ok(o) => view! { <div id="working-orders"><OrdersTable orders=o/></div> }.into_any(),
                    Err(e) => unavailable("Working orders", &e),
                }}
            </section>
        </div>
    }
}

fn trading_view(state: TradingState) -> AnyView {
    match state {
        TradingState::Active => view! { <p class="trading ok" id="overview-trading">"Trading active"</p> }.into_any(),
        TradingState::Halted { halts, .. } => view! {
            <p class="trading halted" id="overview-trading">"HALTED"</p>
            <ul class="halts">{halts.into_iter().map(|h| view! { <li>{h}</li> }).collect_view()}</ul>
        }
        .into_any(),
        TradingState::Unknown(why) => {
            view! { <p class="trading unknown" id="overview-trading">{format!("Halt state unknown: {why}")}</p> }
                .into_any()
        }
    }
}
