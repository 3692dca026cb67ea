//! The pages: leptos components rendered to HTML on the server. Every page works without
//! WebAssembly: links and forms that post. Every page loads `/assets/hydrate.js`, which starts
//! the wasm client when it is built; the client hydrates the pages' islands ([`crate::live`]).
//!
//! [`document`] wraps a page's content in the shell every page shares: the navigation, the
//! trading state, the emergency controls (for traders), the user and the sign-out form.

pub mod backtests;
pub mod chart;
pub mod confirm;
pub mod error;
pub mod login;
pub mod markets;
pub mod order_detail;
pub mod orders;
pub mod overview;
pub mod risk;
pub mod strategies;
pub mod ticket;

use leptos::prelude::*;
use rust_decimal::Decimal;

pub use crate::live::unavailable;
use crate::{
    auth::session::CurrentUser,
    clients::Halt,
    live::{rows::TradingState, topbar::LiveTopBar},
};

/// Which navigation entry is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `/`.
    Overview,
    /// `/markets`.
    Markets,
    /// `/orders`.
    Orders,
    /// `/strategies`.
    Strategies,
    /// `/backtests`.
    Backtests,
    /// `/risk`.
    Risk,
    /// Pages outside the navigation (confirmations, errors, sign-in).
    None,
}

/// What the shell shows around a signed-in page.
pub struct Chrome {
    /// The user.
    pub user: CurrentUser,
    /// Active halts, or why they could not be read.
    pub halts: Result<Vec<Halt>, String>,
    /// The current section.
    pub section: Section,
}

/// A whole HTML document: `<!DOCTYPE html>` and the shell around `content`.
pub fn document(title: &str, chrome: Option<Chrome>, content: AnyView) -> String {
    let title = format!("{title} · Halyard");
    let header = chrome.map(|c| view! { <TopBar chrome=c/> });
    let body = view! {
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <title>{title}</title>
                <link rel="stylesheet" href="/assets/app.css"/>
                <script type="module" src="/assets/hydrate.js"></script>
            </head>
            <body>
                {header}
                <main id="main">{content}</main>
            </body>
        </html>
    };
    format!("<!DOCTYPE html>{}", body.to_html())
}

/// The bar at the top of every signed-in page: [`LiveTopBar`], which the wasm client keeps
/// current.
#[component]
fn TopBar(chrome: Chrome) -> impl IntoView {
    let Chrome { user, halts, section } = chrome;
    let current = match section {
        Section::Overview => Some("/"),
        Section::Markets => Some("/markets"),
        Section::Orders => Some("/orders"),
        Section::Strategies => Some("/strategies"),
        Section::Backtests => Some("/backtests"),
        Section::Risk => Some("/risk"),
        Section::None => None,
    };
    view! {
        <LiveTopBar user=format!("{} ({})", user.username, user.role) csrf=user.csrf
            can_trade=user.role.can_trade() current=current.map(str::to_owned)
            trading=TradingState::from_halts(&halts)/>
    }
}

/// One active halt in a sentence: scope, who, when, why, whether positions were flattened and
/// whether it is reduce-only.
pub fn halt_sentence(h: &Halt) -> String {
    let flattened = if h.flatten { " (positions flattened)" } else { "" };
    let reduce_only = if h.reduce_only { " (reduce only: closing orders pass)" } else { "" };
    format!(
        "{} halt by {} at {}: {}{flattened}{reduce_only}",
        scope_label(h),
        h.created_by,
        h.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        h.reason
    )
}

fn scope_label(h: &Halt) -> String {
    match (h.scope.as_str(), &h.account, &h.strategy) {
        ("all", _, _) => "Global".to_owned(),
        (_, Some(a), _) => format!("Account {a}"),
        (_, _, Some(s)) => format!("Strategy {s}"),
        (other, _, _) => other.to_owned(),
    }
}

/// A decimal as shown, or a dash.
pub fn dec(d: Option<Decimal>) -> String {
    d.map_or_else(|| "—".to_owned(), |d| d.normalize().to_string())
}
