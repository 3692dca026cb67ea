//! One order: its fields, its event log (oldest first) and, for traders while it is working, a
//! cancel button and, while nothing of it is filled, an amend form.

use leptos::prelude::*;

use super::dec;
use crate::clients::OrderDetail;

/// Statuses in which an order can still be cancelled.
pub const WORKING: [&str; 3] = ["pending_new", "new", "partially_filled"];

/// The order detail page; `csrf` is set for users who may cancel.
#[component]
pub fn OrderDetailPage(detail: OrderDetail, csrf: Option<String>) -> impl IntoView {
    let o = detail.order;
    let cancel = csrf.clone().filter(|_| WORKING.contains(&o.status.as_str())).map(|csrf| {
        view! {
            <form method="post" action=format!("/orders/{}/cancel", o.order_id)>
                <input type="hidden" name="csrf" value=csrf/>
                <button type="submit" class="btn danger" id="cancel-order">"Cancel this order"</button>
            </form>
        }
    });
    // The engine amends only a working order with nothing filled.
    let amend = csrf.clone().filter(|_| o.status == "new").map(|csrf| {
        let price = o.limit_price.map(|p| p.normalize().to_string());
        view! {
            <form method="post" action=format!("/orders/{}/amend", o.order_id) class="inline" id="amend-order">
                <input type="hidden" name="csrf" value=csrf/>
                <label for="amend-qty">"Quantity"</label>
                <input id="amend-qty" name="qty" type="text" inputmode="decimal" value=o.qty.normalize().to_string()/>
                {price.map(|p| view! {
                    <label for="amend-price">"Limit price"</label>
                    <input id="amend-price" name="limit_price" type="text" inputmode="decimal" value=p/>
                })}
                <button type="submit" class="btn">"Amend"</button>
            </form>
        }
    });
    let kind = match o.limit_price {
        Some(p) => format!("{} {}", o.order_type, p.normalize()),
        None => o.order_type.clone(),
    };
    view! {
        <h1>{format!("Order {}", o.order_id)}</h1>
        <dl class="order-fields" id="order-fields">
            <dt>"Status"</dt><dd id="order-status">{o.status.clone()}{o.reject_reason.clone().map(|r| format!(" ({r})"))}</dd>
            <dt>"Account"</dt><dd>{o.account.clone()}</dd>
            <dt>"Strategy"</dt><dd>{o.strategy.clone()}</dd>
            <dt>"Order"</dt><dd>{format!("{} {} {} {kind}", o.side, o.qty.normalize(), o.symbol)}</dd>
            <dt>"Filled"</dt><dd>{format!("{} at {}", o.filled_qty.normalize(), dec(o.avg_fill_price))}</dd>
            <dt>"Created (UTC)"</dt><dd>{o.created_at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()}</dd>
        </dl>
        {cancel}
        {amend}
        <section aria-labelledby="events-h">
            <h2 id="events-h">"Event log"</h2>
            <table id="order-events">
                <thead>
                    <tr>
                        <th scope="col">"Time (UTC)"</th><th scope="col">"Event"</th><th scope="col">"From"</th>
                        <th scope="col">"To"</th><th scope="col">"Detail"</th>
                    </tr>
                </thead>
                <tbody>
                    {detail.events.into_iter().map(|e| view! {
                        <tr>
                            <td>{e.ts.format("%Y-%m-%d %H:%M:%S%.3f").to_string()}</td><td>{e.event}</td>
                            <td>{e.from_status.unwrap_or_default()}</td><td>{e.to_status}</td>
                            <td><code>{e.detail.map(|d| d.to_string()).unwrap_or_default()}</code></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <p><a class="btn" href="/orders">"All orders"</a></p>
    }
}
