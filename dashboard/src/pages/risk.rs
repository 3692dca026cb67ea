//! The risk page: one account's limits, and for admins a form to change them.

use leptos::prelude::*;

use super::unavailable;
use crate::clients::RiskLimits;

/// The limits, their labels and their values as text (empty = no limit), in display order.
pub fn fields(l: &RiskLimits) -> [(&'static str, &'static str, String); 7] {
    let d = |v: Option<rust_decimal::Decimal>| v.map(|v| v.normalize().to_string()).unwrap_or_default();
    [
        ("max_order_qty", "Largest order quantity", d(l.max_order_qty)),
        ("max_order_notional", "Largest order notional", d(l.max_order_notional)),
        ("max_position", "Largest position per symbol", d(l.max_position)),
        ("max_gross_exposure", "Largest gross exposure", d(l.max_gross_exposure)),
        ("price_collar_bps", "Price collar (basis points from the last trade)", d(l.price_collar_bps)),
        ("max_daily_loss", "Largest daily loss (halts the account)", d(l.max_daily_loss)),
        (
            "max_orders_per_minute",
            "Most orders per minute",
            l.max_orders_per_minute.map(|v| v.to_string()).unwrap_or_default(),
        ),
    ]
}

/// The page; `csrf` is set for users who may change limits; `error` explains a refused change.
#[component]
pub fn RiskPage(
    account: String,
    limits: Result<RiskLimits, String>,
    csrf: Option<String>,
    error: Option<String>,
) -> impl IntoView {
    let body = match limits {
        Ok(l) => {
            let rows = fields(&l);
            let table = view! {
                <table id="risk-limits">
                    <thead><tr><th scope="col">"Limit"</th><th scope="col" class="num">"Value"</th></tr></thead>
                    <tbody>
                        {rows.clone().into_iter().map(|(key, label, value)| {
                            let shown = if value.is_empty() { "no limit".to_owned() } else { value };
                            view! { <tr id=format!("limit-{key}")><td>{label}</td><td class="num">{shown}</td></tr> }
                        }).collect_view()}
                    </tbody>
                </table>
            };
            let form = csrf.map(|csrf| {
                view! {
                    <section class="confirm" aria-labelledby="edit-h">
                        <h2 id="edit-h">"Change the limits"</h2>
                        <p>"Empty means no limit. Every change is recorded in the engine's audit log."</p>
                        <form method="post" action="/risk">
                            <input type="hidden" name="csrf" value=csrf/>
                            <input type="hidden" name="account" value=account.clone()/>
                            {rows.into_iter().map(|(key, label, value)| view! {
                                <label for=key>{label}</label>
                                <input id=key name=key type="text" inputmode="decimal" value=value/>
                            }).collect_view()}
                            <button type="submit" class="btn danger" id="save-limits">"Save limits"</button>
                        </form>
                    </section>
                }
            });
            view! { {table} {form} }.into_any()
        }
        Err(e) => unavailable("Risk limits", &e),
    };
    view! {
        <h1>"Risk limits"</h1>
        <form method="get" action="/risk" class="inline">
            <label for="account-pick">"Account"</label>
            <input id="account-pick" name="account" type="text" required maxlength="64" value=account.clone()/>
            <button type="submit" class="btn">"Show"</button>
        </form>
        {error.map(|e| view! { <p class="error" id="risk-error" role="alert">{e}</p> })}
        <h2 id="risk-account">{format!("Account {account}")}</h2>
        {body}
        <p class="notice">"The audit log of limit changes is not shown: the engine records it but has no API to read it yet."</p>
    }
}
