//! Tables the server-rendered pages and the islands share.

use leptos::prelude::*;

use super::rows::{OrderRow, PositionRow};

/// Positions with their marks.
#[component]
pub fn PositionsTable(positions: Vec<PositionRow>) -> impl IntoView {
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
                        <td class="num">{p.qty}</td><td class="num">{p.avg_price}</td>
                        <td class="num">{p.last_price}</td><td class="num">{p.unrealized_pnl}</td>
                        <td class="num">{p.realized_pnl}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Orders as a table, each id linking to the order's detail page.
#[component]
pub fn OrdersTable(orders: Vec<OrderRow>) -> impl IntoView {
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
                    let side_class = o.side.clone();
                    view! {
                    <tr>
                        <td class="num"><a href=format!("/orders/{}", o.order_id)>{o.order_id}</a></td><td>{o.created}</td>
                        <td>{o.account}</td><td>{o.strategy}</td><td>{o.symbol}</td>
                        <td class=side_class>{o.side}</td><td>{o.kind}</td>
                        <td class="num">{o.qty}</td><td class="num">{o.filled}</td>
                        <td class="num">{o.avg_fill}</td><td>{o.status}</td>
                    </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
