//! The live part of the overview: the services' health, each account's P&L, the recent
//! TradingView alerts, trading state, open positions and working orders.

use leptos::prelude::*;

use super::{
    rows::{AccountRow, AlertRow, OverviewSnapshot, TradingState},
    tables::{OrdersTable, PositionsTable},
    unavailable,
};

/// The overview's services' health, accounts, recent alerts, trading state, positions and
/// working orders. The
/// server renders them as of the request; the wasm client marks the region
/// `data-client="wasm"` once it has hydrated it and replaces them with each snapshot from
/// `/overview/live` (server-sent events, sent when something changed), so an alert, a fill, a
/// new order, a halt or a service going down shows without reloading.
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
    let services = Memo::new(move |_| snapshot.with(|s| s.services.clone()));
    let accounts = Memo::new(move |_| snapshot.with(|s| s.accounts.clone()));
    let alerts = Memo::new(move |_| snapshot.with(|s| s.alerts.clone()));
    let trading = Memo::new(move |_| snapshot.with(|s| s.trading.clone()));
    let positions = Memo::new(move |_| snapshot.with(|s| s.positions.clone()));
    let working = Memo::new(move |_| snapshot.with(|s| s.working.clone()));
    view! {
        <div id="overview-live" data-client=move || hydrated.get().then_some("wasm")>
            <section aria-labelledby="health-h">
                <h2 id="health-h">"Services"</h2>
                <ul class="health" id="health">
                    {move || services.get().into_iter().map(|s| {
                        let class = if s.ready { "ok" } else { "down" };
                        view! { <li class=class><strong>{s.name}</strong>{format!(" {}", s.text)}</li> }
                    }).collect_view()}
                </ul>
            </section>
            <section aria-labelledby="accounts-h">
                <h2 id="accounts-h">"Accounts"</h2>
                <p class="meta">"Equity is realized plus unrealized P&L at the last prices; P&L today is its change since \
                    00:00 UTC; realized today counts fills since then."</p>
                {move || accounts_view(accounts.get())}
            </section>
            <section aria-labelledby="alerts-h">
                <h2 id="alerts-h">"Recent alerts"</h2>
                {move || alerts_view(alerts.get())}
            </section>
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

fn accounts_view(accounts: Result<Vec<AccountRow>, String>) -> AnyView {
    match accounts {
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
                        let cells = match line.figures {
                            Ok(f) => {
                                let today = match f.today {
                                    Some(t) => view! { <td class=t.class>{t.text}</td> }.into_any(),
                                    None => view! {
                                        <td class="num" title="the engine's equity history does not reach back to 00:00 UTC">"—"</td>
                                    }.into_any(),
                                };
                                view! {
                                    <td class=f.equity.class>{f.equity.text}</td>{today}
                                    <td class=f.realized_today.class>{f.realized_today.text}</td>
                                    <td class="num">{f.realized}</td><td class="num">{f.unrealized}</td>
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
    }
}

fn alerts_view(alerts: Result<Vec<AlertRow>, String>) -> AnyView {
    match alerts {
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
                    {a.into_iter().map(|s| view! {
                        <tr id=format!("alert-{}", s.signal_id)>
                            <td>{s.received}</td><td>{s.strategy}</td>
                            <td>{s.ticker}</td><td class=s.action.clone()>{s.action.clone()}</td><td>{s.status}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        Err(e) => unavailable("Alerts", &e),
    }
}
