//! The orders page: orders matching the filters, newest first, a page at a time; the fills page
//! ([`FillsPage`]); traders get a "New order" link to the order ticket.

use leptos::prelude::*;

use super::{dec, unavailable};
use crate::{
    clients::{Fill, ListFilter, OrderPage},
    live::tables::OrdersTable,
};

/// Every status an order can have, in lifecycle order (the engine's codes).
pub const ORDER_STATUSES: [&str; 11] = [
    "pending_new",
    "new",
    "partially_filled",
    "filled",
    "pending_cancel",
    "cancelled",
    "rejected",
    "expired",
    "pending_replace",
    "replaced",
    "held",
];

/// `path` with the filters and `extra` pairs as its query string, empty values left out.
pub fn link(path: &str, filter: &ListFilter, extra: &[(&'static str, String)]) -> String {
    let mut url = reqwest::Url::parse("http://x/").expect("a fixed URL parses");
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in filter.pairs(true).iter().chain(extra) {
            q.append_pair(k, v);
        }
    }
    match url.query() {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

/// The filters as a GET form (it works without scripts and its values stay in the URL, so
/// paging keeps them). `with_status` adds the status choice (orders). Both lists take a date
/// range: orders by the day they were created, fills by the day they executed.
#[component]
pub fn FilterForm(action: &'static str, filter: ListFilter, with_status: bool) -> impl IntoView {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let status = with_status.then(|| {
        let current = filter.status.clone().unwrap_or_default();
        view! {
            <label for="f-status">"Status"</label>
            <select id="f-status" name="status">
                <option value="" selected=current.is_empty()>"any"</option>
                {ORDER_STATUSES.iter().map(|s| view! { <option value=*s selected=current == *s>{*s}</option> }).collect_view()}
            </select>
        }
    });
    // A text field with a pattern hint rather than type="date", so what was typed comes back
    // as typed when refused.
    let range = view! {
        <label for="f-from">"From (UTC day)"</label>
        <input id="f-from" name="from" type="text" maxlength="10" placeholder="YYYY-MM-DD" value=text(&filter.from)/>
        <label for="f-until">"Until (UTC day, included)"</label>
        <input id="f-until" name="until" type="text" maxlength="10" placeholder="YYYY-MM-DD" value=text(&filter.until)/>
    };
    view! {
        <form method="get" action=action class="filters" id="filters">
            {status}
            <label for="f-symbol">"Symbol"</label>
            <input id="f-symbol" name="symbol" type="text" maxlength="32" value=text(&filter.symbol)/>
            <label for="f-strategy">"Strategy"</label>
            <input id="f-strategy" name="strategy" type="text" maxlength="64" value=text(&filter.strategy)/>
            <label for="f-account">"Account"</label>
            <input id="f-account" name="account" type="text" maxlength="64" value=text(&filter.account)/>
            {range}
            <button type="submit" class="btn" id="apply-filters">"Filter"</button>
            <a class="btn" id="clear-filters" href=action>"Clear"</a>
        </form>
    }
}

/// A page of orders with a link to the next (older) page; `error` explains filters that could
/// not be used (then `page` is not shown).
#[component]
pub fn OrdersPage(
    page: Result<OrderPage, String>,
    filter: ListFilter,
    first: bool,
    can_trade: bool,
    error: Option<String>,
) -> impl IntoView {
    let body = match (error.is_some(), page) {
        (true, _) => ().into_any(),
        (false, Ok(p)) if p.orders.is_empty() => view! { <p class="empty" id="no-orders">"No orders."</p> }.into_any(),
        (false, Ok(p)) => {
            let older = p.next_before.map(|b| {
                view! { <a class="btn" id="older" href=link("/orders", &filter, &[("before", b.to_string())])>"Older orders"</a> }
            });
            view! {
                <OrdersTable orders=p.orders.into_iter().map(Into::into).collect()/>
                <nav class="pager" aria-label="Pages">
                    {(!first).then(|| view! { <a class="btn" id="newest" href=link("/orders", &filter, &[])>"Newest"</a> })}
                    {older}
                </nav>
            }
            .into_any()
        }
        (false, Err(e)) => unavailable("Orders", &e),
    };
    view! {
        <h1>"Orders"</h1>
        <p>
            {can_trade.then(|| view! { <a class="btn" id="new-order" href="/orders/new">"New order"</a> })}
            " "<a class="btn" id="export-csv" href=link("/orders/export.csv", &filter, &[]) download>"Export CSV"</a>
            " "<a class="btn" id="fills-link" href="/fills">"Fills"</a>
        </p>
        <FilterForm action="/orders" filter=filter with_status=true/>
        {error.map(|e| view! { <p class="error" id="filter-error" role="alert">{e}</p> })}
        {body}
    }
}

/// One page of fills, newest first; `first` when it is the newest page; `older` is the cursor
/// of the next (older) page when one exists; `error` explains filters that could not be used
/// (then `fills` is not shown).
#[component]
pub fn FillsPage(
    fills: Result<Vec<Fill>, String>,
    filter: ListFilter,
    first: bool,
    older: Option<i64>,
    error: Option<String>,
) -> impl IntoView {
    let body = match (error.is_some(), fills) {
        (true, _) => ().into_any(),
        (false, Ok(f)) if f.is_empty() => view! { <p class="empty" id="no-fills">"No fills."</p> }.into_any(),
        (false, Ok(f)) => view! {
            <table id="fills">
                <thead>
                    <tr>
                        <th scope="col" class="num">"Fill"</th><th scope="col">"Time (UTC)"</th><th scope="col" class="num">"Order"</th>
                        <th scope="col">"Account"</th><th scope="col">"Strategy"</th><th scope="col">"Symbol"</th>
                        <th scope="col">"Side"</th><th scope="col" class="num">"Qty"</th><th scope="col" class="num">"Price"</th>
                        <th scope="col" class="num">"Fee"</th><th scope="col" class="num">"Realized P&L"</th>
                    </tr>
                </thead>
                <tbody>
                    {f.into_iter().map(|f| view! {
                        <tr id=format!("fill-{}", f.fill_id)>
                            <td class="num">{f.fill_id}</td><td>{f.ts.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                            <td class="num"><a href=format!("/orders/{}", f.order_id)>{f.order_id}</a></td>
                            <td>{f.account}</td><td>{f.strategy}</td><td>{f.symbol}</td>
                            <td class=f.side.clone()>{f.side.clone()}
                                {(f.kind != "execution").then(|| view! {
                                    " "<span class="flag reconciliation" title=f.note.clone().unwrap_or_default()>{f.kind.clone()}</span>
                                })}
                            </td><td class="num">{dec(Some(f.qty))}</td>
                            <td class="num">{dec(Some(f.price))}</td><td class="num">{dec(Some(f.fee))}</td>
                            <td class="num">{dec(Some(f.realized_pnl))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            <nav class="pager" aria-label="Pages">
                {(!first).then(|| view! { <a class="btn" id="newest" href=link("/fills", &filter, &[])>"Newest fills"</a> })}
                {older.map(|b| view! { <a class="btn" id="older" href=link("/fills", &filter, &[("before", b.to_string())])>"Older fills"</a> })}
            </nav>
        }
        .into_any(),
        (false, Err(e)) => unavailable("Fills", &e),
    };
    view! {
        <h1>"Fills"</h1>
        <p>
            <a class="btn" id="orders-link" href="/orders">"Orders"</a>
            " "<a class="btn" id="export-fills-csv" href=link("/fills/export.csv", &filter, &[]) download>"Export CSV"</a>
        </p>
        <FilterForm action="/fills" filter=filter with_status=false/>
        {error.map(|e| view! { <p class="error" id="filter-error" role="alert">{e}</p> })}
        {body}
    }
}
