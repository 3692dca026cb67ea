//! The overview: service health, halt state, open positions and working orders.

use leptos::prelude::*;

use super::{dec, unavailable};
use crate::clients::{Health, Order, Position};

/// Health of one service.
#[derive(Debug, Clone)]
pub struct ServiceHealth {
    /// Service name.
    pub name: &'static str,
    /// Its readiness.
    pub health: Health,
}

/// The overview's content.
#[component]
pub fn OverviewPage(
    services: Vec<ServiceHealth>,
    positions: Result<Vec<Position>, String>,
    working: Result<Vec<Order>, String>,
) -> impl IntoView {
    let positions = match positions {
        Ok(p) if p.is_empty() => view! { <p class="empty" id="no-positions">"No open positions."</p> }.into_any(),
        Ok(p) => view! { <PositionsTable positions=p/> }.into_any(),
        Err(e) => unavailable("Positions", &e),
    };
    let working = match working {
        Ok(o) if o.is_empty() => view! { <p class="empty" id="no-working-orders">"No working orders."</p> }.into_any(),
        Ok(o) => view! { <super::orders::OrdersTable orders=o/> }.into_any(),
        Err(e) => unavailable("Working orders", &e),
    };
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
        <section aria-labelledby="positions-h">
            <h2 id="positions-h">"Open positions"</h2>
            {positions}
        </section>
        <section aria-labelledby="working-h">
            <h2 id="working-h">"Working orders"</h2>
            {working}
        </section>
    }
}

/// Positions with their marks.
#[component]
fn PositionsTable(positions: Vec<Position>) -> impl IntoView {
    view! {
        <table id="positions">
            <thead>
                <tr>
                    <th scope="col">"Account"</th><th scope="col">"Strategy"</th><th scope="col">"Symbol"</th>
                    <th scope="col" class="num">"Qty"</th><th scope="col" class="num">"Avg price"</th>
                    <th scope="col" class="num">"Last"</th><th scope="col" class="num">"Unrealized P&L"</th>
                    <th scope="col" class="num">"Realized P&L"</th>
                </tr>
            </thead>
            <tbody>
                {positions.into_iter().map(|p| view! {
                    <tr>
                        <td>{p.account}</td><td>{p.strategy}</td><td>{p.symbol}</td>
                        <td class="num">{dec(Some(p.qty))}</td><td class="num">{dec(p.avg_price)}</td>
                        <td class="num">{dec(p.last_price)}</td><td class="num">{dec(p.unrealized_pnl)}</td>
                        <td class="num">{dec(Some(p.realized_pnl))}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}
