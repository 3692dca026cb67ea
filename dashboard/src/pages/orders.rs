//! The orders page: every order, newest first, a page at a time; traders get a "New order"
//! link to the order ticket.

use leptos::prelude::*;

use super::unavailable;
use crate::{clients::OrderPage, live::tables::OrdersTable};

/// A page of orders with a link to the next (older) page.
#[component]
pub fn OrdersPage(page: Result<OrderPage, String>, first: bool, can_trade: bool) -> impl IntoView {
    let body = match page {
        Ok(p) if p.orders.is_empty() => view! { <p class="empty" id="no-orders">"No orders."</p> }.into_any(),
        Ok(p) => {
            let older = p.next_before.map(|b| {
                view! { <a class="btn" id="older" href=format!("/orders?before={b}")>"Older orders"</a> }
            });
            view! {
                <OrdersTable orders=p.orders.into_iter().map(Into::into).collect()/>
                <nav class="pager" aria-label="Pages">
                    {(!first).then(|| view! { <a class="btn" href="/orders">"Newest"</a> })}
                    {older}
                </nav>
            }
            .into_any()
        }
        Err(e) => unavailable("Orders", &e),
    };
    view! {
        <h1>"Orders"</h1>
        <p>
            {can_trade.then(|| view! { <a class="btn" id="new-order" href="/orders/new">"New order"</a> })}
            " "<a class="btn" id="export-csv" href="/orders/export.csv" download>"Export CSV"</a>
        </p>
        {body}
    }
}
