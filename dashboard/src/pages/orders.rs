//! The orders page: every order, newest first, a page at a time; traders get a "New order"
//! link to the order ticket.

use leptos::prelude::*;

use super::{dec, unavailable};
use crate::clients::{Order, OrderPage};

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
                <OrdersTable orders=p.orders/>
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

/// Orders as a table.
#[component]
pub fn OrdersTable(orders: Vec<Order>) -> impl IntoView {
    view! {
        <table class="orders">
            <thead>
                <tr>
                    <th scope="col" class="num">"Id"</th><th scope="col">"Created (UTC)"</th><th scope="col">"Account"</th>
                    <th scope="col">"Strategy"</th><th scope="col">"Symbol"</th><th scope="col">"Side"</th>
                    <th scope="col">"Type"</th><th scope="col" class="num">"Qty"</th><th scope="col" class="num">"Filled"</th>
                    <th scope="col" class="num">"Avg fill"</th><th scope="col">"Status"</th>
                </tr>
            </thead>
            <tbody>
                {orders.into_iter().map(|o| {
                    let kind = match o.limit_price {
                        Some(p) => format!("{} {}", o.order_type, p.normalize()),
                        None => o.order_type.clone(),
                    };
                    let status = match &o.reject_reason {
                        Some(r) => format!("{} ({r})", o.status),
                        None => o.status.clone(),
                    };
                    view! {
                        <tr>
                            <td class="num"><a href=format!("/orders/{}", o.order_id)>{o.order_id}</a></td><td>{o.created_at.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                            <td>{o.account}</td><td>{o.strategy}</td><td>{o.symbol}</td>
                            <td class=o.side.clone()>{o.side.clone()}</td><td>{kind}</td>
                            <td class="num">{dec(Some(o.qty))}</td><td class="num">{dec(Some(o.filled_qty))}</td>
                            <td class="num">{dec(o.avg_fill_price)}</td><td>{status}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
