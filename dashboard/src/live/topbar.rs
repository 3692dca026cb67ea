//! The bar at the top of every signed-in page, with the trading state kept live.

use leptos::prelude::*;

use super::rows::TradingState;

/// The navigation: target and label.
const NAVIGATION: [(&str, &str); 6] = [
    ("/", "Overview"),
    ("/markets", "Markets"),
    ("/orders", "Orders"),
    ("/strategies", "Strategies"),
    ("/backtests", "Backtests"),
    ("/risk", "Risk"),
];

/// The top bar (navigation, trading state, HALT ALL and resume for traders, the user, sign out)
/// and, while trading is halted, the banner saying who halted when and why. The server renders
/// the state as of the request; the wasm client marks the bar `data-client="wasm"` once it has
/// hydrated it and follows `/halts/live` (server-sent events), so a halt or a resume made
/// anywhere shows on every open page without a reload.
#[island]
pub fn LiveTopBar(
    /// `name (role)`.
    user: String,
    /// The session's CSRF token, for the sign-out form.
    csrf: String,
    /// Whether the user may halt and resume (HALT ALL and resume are shown).
    can_trade: bool,
    /// The navigation target of the current page, if it is in the navigation.
    current: Option<String>,
    /// Halt state as of the request.
    trading: TradingState,
) -> impl IntoView {
    let trading = RwSignal::new(trading);
    let hydrated = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        hydrated.set(true);
        let on_event = move |_: &str, data: String| match serde_json::from_str::<TradingState>(&data) {
            Ok(next) => trading.set(next),
            Err(e) => leptos::logging::warn!("top bar: unreadable trading state: {e}"),
        };
        super::events::subscribe("/halts/live", &["trading"], on_event, || (), || ());
    });
    let halted_all = Memo::new(move |_| trading.with(|t| matches!(t, TradingState::Halted { all: true, .. })));
    let controls = can_trade.then(|| {
        view! {
            <div class="controls">
                <a class="btn danger" id="halt-all" href="/halt/confirm">"HALT ALL"</a>
                {move || {
                    halted_all.get().then(|| view! { <a class="btn" id="resume" href="/resume/confirm">"Resume trading"</a> })
                }}
            </div>
        }
    });
    view! {
        <header class="topbar" data-client=move || hydrated.get().then_some("wasm")>
            <span class="brand">"Halyard"</span>
            <nav aria-label="Main">
                {NAVIGATION
                    .into_iter()
                    .map(|(href, label)| {
                        let here = (current.as_deref() == Some(href)).then_some("page");
                        view! { <a href=href aria-current=here>{label}</a> }
                    })
                    .collect_view()}
            </nav>
            {move || state_badge(trading.get())}
            {controls}
            <span class="user" id="user">{user}</span>
            <form method="post" action="/logout" class="inline">
                <input type="hidden" name="csrf" value=csrf/>
                <button type="submit" id="sign-out">"Sign out"</button>
            </form>
        </header>
        {move || halt_banner(trading.get())}
    }
}

fn state_badge(state: TradingState) -> AnyView {
    match state {
        TradingState::Active => view! { <span class="state ok" id="trading-state">"Trading active"</span> }.into_any(),
        TradingState::Halted { .. } => {
            view! { <span class="state halted" id="trading-state">"HALTED"</span> }.into_any()
        }
        TradingState::Unknown(why) => {
            view! { <span class="state unknown" id="trading-state" title=why>"Halt state unknown"</span> }.into_any()
        }
    }
}

fn halt_banner(state: TradingState) -> Option<AnyView> {
    let TradingState::Halted { halts, .. } = state else { return None };
    Some(
        view! {
            <div class="banner" role="alert" id="halt-banner">
                <strong>"Trading is halted. "</strong>
                {halts.into_iter().map(|h| view! { <span class="halt">{h}</span> }).collect_view()}
            </div>
        }
        .into_any(),
    )
}
