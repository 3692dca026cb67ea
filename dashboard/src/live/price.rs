//! The live price of one symbol on the Markets page.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use super::rows::{compare_decimals, LiveTick};

/// One symbol's last trade, updated in place from `/markets/live?symbol=S` (server-sent
/// events relayed from the data-service stream). The server renders the last known trade; the
/// wasm client marks the panel `data-client="wasm"` once it has hydrated it and shows each
/// trade as it arrives, green or red against the previous price (compared as decimals).
#[island]
pub fn LivePrice(
    /// The symbol.
    symbol: String,
    /// The last known price as a decimal, or a dash.
    price: String,
    /// The last known trade time, RFC 3339, or empty.
    ts: String,
) -> impl IntoView {
    let price = RwSignal::new(price);
    let ts = RwSignal::new(ts);
    let direction = RwSignal::new("");
    let status = RwSignal::new("connecting…".to_owned());
    let hydrated = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let url = format!("/markets/live?symbol={symbol}");
        Effect::new(move |_| {
            hydrated.set(true);
            let on_event = move |name: &str, data: String| match name {
                "tick" => match LiveTick::from_event(&data) {
                    Some(tick) => {
                        let change = price.with_untracked(|previous| compare_decimals(&tick.price, previous));
                        direction.set(match change {
                            Some(std::cmp::Ordering::Greater) => "up",
                            Some(std::cmp::Ordering::Less) => "down",
                            _ => "",
                        });
                        ts.set(tick.ts);
                        price.set(tick.price);
                        status.set("live".to_owned());
                    }
                    None => leptos::logging::warn!("live price: unreadable tick {data}"),
                },
                _ => status.set(data),
            };
            super::events::subscribe(
                &url,
                &["tick", "status"],
                on_event,
                || (),
                move || status.set("reconnecting…".to_owned()),
            );
        });
    }
    view! {
        <section class="live" aria-labelledby="live-h" id="live" data-symbol=symbol.clone()
            data-client=move || hydrated.get().then_some("wasm")>
            <h2 id="live-h">{format!("{symbol} live")}</h2>
            <p class="price">
                <span id="live-price" aria-live="polite" class=move || direction.get()>{move || price.get()}</span>
            </p>
            <p class="meta">
                "Last trade: "<time id="live-ts" datetime=move || ts.get()>{move || ts.get()}</time>" · "
                <span id="live-status">{move || status.get()}</span>
            </p>
        </section>
    }
}
