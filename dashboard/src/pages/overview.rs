//! The overview: service health, each account's equity and P&L today, the latest TradingView
//! alerts, then the live part (halt state, open positions and working orders;
//! [`LiveOverview`]).

use leptos::prelude::*;
use rust_decimal::Decimal;

use super::{dec, unavailable};
use crate::{
    clients::{Health, Pnl, Signal},
    live::{overview::LiveOverview, rows::OverviewSnapshot},
};

/// One account's P&L.
#[derive(Debug, Clone)]
pub struct AccountLine {
    /// The account.
    pub account: String,
    /// Its P&L now, or why it could not be read.
    pub pnl: Result<Pnl, String>,
    /// Equity now less equity at 00:00 UTC, when the engine's history reaches back that far.
    pub today: Option<Decimal>,
}

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
pub fn OverviewPage(
    services: Vec<ServiceHealth>,
    accounts: Result<Vec<AccountLine>, String>,
    alerts: Result<Vec<Signal>, String>,
    live: OverviewSnapshot,
) -> impl IntoView {
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
        <Accounts accounts=accounts/>
        <Alerts alerts=alerts/>
        <LiveOverview snapshot=live/>
    }
}

/// A signed amount with its sign's class (`gain`, `loss`).
fn signed(d: Decimal) -> (&'static str, String) {
    let class = if d.is_sign_negative() && !d.is_zero() {
        "num loss"
    } else if d.is_zero() {
        "num"
    } else {
        "num gain"
    };
    (class, dec(Some(d)))
}

#[component]
fn Accounts(accounts: Result<Vec<AccountLine>, String>) -> impl IntoView {
    let body = match accounts {
        Ok(a) if a.is_empty() => view! { <p class="empty" id="no-accounts">"No account has traded yet."</p> }.into_any(),
        Ok(a) => view! {
            <table id="accounts">
                <thead>
                    <tr>
                        <th scope="col">"Account"</th><th scope="col" class="num">"Equity (P&L)"</th>
                        <th scope="col" class="num">"P&L today"</th><th scope="col" class="num">"Realized today"</th>
                        <th scope="col" class="num">"Realized"</th><th scope="col" class="num">"Unrealized"</th>
                    </tr>
                </thead>
                <tbody>
                    {a.into_iter().map(|line| {
                        let cells = match line.pnl {
                            Ok(p) => {
                                let (eq_class, equity) = signed(p.total_pnl);
                                let today = match line.today {
                                    Some(t) => {
                                        let (class, text) = signed(t);
                                        view! { <td class=class>{text}</td> }.into_any()
                                    }
                                    None => view! {
                                        <td class="num" title="the engine's equity history does not reach back to 00:00 UTC">"—"</td>
                                    }.into_any(),
                                };
                                let (rt_class, realized_today) = signed(p.realized_today);
                                view! {
                                    <td class=eq_class>{equity}</td>{today}<td class=rt_class>{realized_today}</td>
                                    <td class="num">{dec(Some(p.realized_pnl))}</td><td class="num">{dec(Some(p.unrealized_pnl))}</td>
                                }.into_any()
                            }
                            Err(e) => view! { <td colspan="5" class="error" title=e>"P&L unavailable"</td> }.into_any(),
                        };
                        view! { <tr id=format!("account-{}", line.account)><td>{line.account.clone()}</td>{cells}</tr> }
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        Err(e) => unavailable("Accounts", &e),
    };
    view! {
        <section aria-labelledby="accounts-h">
            <h2 id="accounts-h">"Accounts"</h2>
            <p class="meta">"Equity is realized plus unrealized P&L at the last prices; P&L today is its change since \
                00:00 UTC; realized today counts fills since then."</p>
            {body}
        </section>
    }
}

#[component]
fn Alerts(alerts: Result<Vec<Signal>, String>) -> impl IntoView {
    let body = match alerts {
        Ok(a) if a.is_empty() => view! { <p class="empty" id="no-alerts">"No alerts received."</p> }.into_any(),
        Ok(a) => view! {
            <table id="alerts">
                <thead>
                    <tr>
                        <th scope="col">"Received (UTC)"</th><th scope="col">"Strategy"</th><th scope="col">"Ticker"</th>
                        <th scope="col">"Action"</th><th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {a.into_iter().map(|s| {
                        let status = match &s.note {
                            Some(n) if !n.is_empty() => format!("{} ({n})", s.status),
                            _ => s.status.clone(),
                        };
                        view! {
                            <tr id=format!("alert-{}", s.signal_id)>
                                <td>{s.received_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td><td>{s.strategy}</td>
                                <td>{s.ticker}</td><td class=s.action.clone()>{s.action.clone()}</td><td>{status}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        Err(e) => unavailable("Alerts", &e),
    };
    view! {
        <section aria-labelledby="alerts-h">
            <h2 id="alerts-h">"Recent alerts"</h2>
            {body}
        </section>
    }
}
