//! The pages: leptos components rendered to HTML on the server. Every page works without
//! WebAssembly: links and forms that post. Every page loads `/assets/hydrate.js`, which starts
//! the wasm client when it is built; the client hydrates the pages' islands ([`crate::live`]).
//!
//! [`document`] wraps a page's content in the shell every page shares: the navigation, the
//! trading state, the emergency controls (for traders), the user and the sign-out form.

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
use crate::{auth::session::CurrentUser, clients::Halt};

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

/// The bar at the top of every signed-in page.
#[component]
fn TopBar(chrome: Chrome) -> impl IntoView {
    let Chrome { user, halts, section } = chrome;
    let current = move |s: Section| (s == section).then_some("page");
    let halted_all = halts.as_ref().map(|h| h.iter().any(|h| h.scope == "all")).unwrap_or(false);
    let state = match &halts {
        Ok(h) if h.is_empty() => view! { <span class="state ok" id="trading-state">"Trading active"</span> }.into_any(),
        Ok(_) => view! { <span class="state halted" id="trading-state">"HALTED"</span> }.into_any(),
        Err(e) => view! { <span class="state unknown" id="trading-state" title=e.clone()>"Halt state unknown"</span> }
            .into_any(),
    };
    let controls = user.role.can_trade().then(|| {
        let resume = halted_all.then(|| {
            view! { <a class="btn" id="resume" href="/resume/confirm">"Resume trading"</a> }
        });
        view! {
            <div class="controls">
                <a class="btn danger" id="halt-all" href="/halt/confirm">"HALT ALL"</a>
                {resume}
            </div>
        }
    });
    let banner = halts.ok().filter(|h| !h.is_empty()).map(|h| {
        view! {
            <div class="banner" role="alert" id="halt-banner">
                <strong>"Trading is halted. "</strong>
                {h.iter().map(|h| view! { <span class="halt">{halt_sentence(h)}</span> }).collect_view()}
            </div>
        }
    });
    view! {
        <header class="topbar">
            <span class="brand">"Halyard"</span>
            <nav aria-label="Main">
                <a href="/" aria-current=current(Section::Overview)>"Overview"</a>
                <a href="/markets" aria-current=current(Section::Markets)>"Markets"</a>
                <a href="/orders" aria-current=current(Section::Orders)>"Orders"</a>
                <a href="/strategies" aria-current=current(Section::Strategies)>"Strategies"</a>
                <a href="/risk" aria-current=current(Section::Risk)>"Risk"</a>
            </nav>
            {state}
            {controls}
            <span class="user" id="user">{format!("{} ({})", user.username, user.role)}</span>
            <form method="post" action="/logout" class="inline">
                <input type="hidden" name="csrf" value=user.csrf/>
                <button type="submit" id="sign-out">"Sign out"</button>
            </form>
        </header>
        {banner}
    }
}

/// One active halt in a sentence: scope, who, when, why, and whether positions were flattened.
pub fn halt_sentence(h: &Halt) -> String {
    let flattened = if h.flatten { " (positions flattened)" } else { "" };
    format!(
        "{} halt by {} at {}: {}{flattened}",
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
