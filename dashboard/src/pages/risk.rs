//! The risk page: one account's limits, for admins a form to change them, and the audit log of
//! their changes.

use std::str::FromStr;

use leptos::prelude::*;
use rust_decimal::Decimal;

use super::unavailable;
use crate::clients::{Accounts, AuditEntry, ReconciliationEvent, RiskLimits};

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

/// A limit's value in an audit entry as shown: "no limit" for none, decimals normalized (the
/// engine may write `10` or `"10.0"`).
fn audit_value(value: Option<&serde_json::Value>) -> Option<String> {
    let text = match value {
        None | Some(serde_json::Value::Null) => return None,
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Some(Decimal::from_str(&text).map_or(text, |d| d.normalize().to_string()))
}

/// One limit changed by an audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitChange {
    /// The limit's label.
    pub label: &'static str,
    /// Before (`None`: no limit).
    pub from: Option<String>,
    /// After (`None`: no limit).
    pub to: Option<String>,
}

/// The limits a `risk_limits.update` entry's `{"before": {...}, "after": {...}}` changed, in
/// display order (a missing or null `before` is an account that had no limits).
pub fn limit_changes(detail: &serde_json::Value) -> Vec<LimitChange> {
    let labels = fields(&RiskLimits::default()).map(|(key, label, _)| (key, label));
    labels
        .into_iter()
        .filter_map(|(key, label)| {
            let from = audit_value(detail.get("before").and_then(|b| b.get(key)));
            let to = audit_value(detail.get("after").and_then(|a| a.get(key)));
            (from != to).then_some(LimitChange { label, from, to })
        })
        .collect()
}

#[component]
fn AuditLog(entries: Result<Vec<AuditEntry>, String>) -> impl IntoView {
    let shown = |v: Option<String>| v.unwrap_or_else(|| "no limit".to_owned());
    let body = match entries {
        Ok(e) if e.is_empty() => view! { <p class="empty" id="no-audit">"No changes recorded."</p> }.into_any(),
        Ok(e) => view! {
            <table id="risk-audit">
                <thead>
                    <tr>
                        <th scope="col">"When (UTC)"</th><th scope="col">"Who"</th><th scope="col">"Limit"</th>
                        <th scope="col" class="num">"From"</th><th scope="col" class="num">"To"</th>
                    </tr>
                </thead>
                <tbody>
                    {e.into_iter().flat_map(|entry| {
                        let when = entry.ts.format("%Y-%m-%d %H:%M:%S").to_string();
                        let changes = if entry.action == "risk_limits.update" { limit_changes(&entry.detail) } else { Vec::new() };
                        let rows: Vec<AnyView> = if entry.action != "risk_limits.update" {
                            vec![view! {
                                <tr class="audit-entry">
                                    <td>{when}</td><td>{entry.actor}</td><td>{entry.action}</td>
                                    <td colspan="2"><code>{entry.detail.to_string()}</code></td>
                                </tr>
                            }.into_any()]
                        } else if changes.is_empty() {
                            vec![view! {
                                <tr class="audit-entry"><td>{when}</td><td>{entry.actor}</td><td colspan="3">"saved without a change"</td></tr>
                            }.into_any()]
                        } else {
                            changes.into_iter().map(|c| view! {
                                <tr class="audit-entry">
                                    <td>{when.clone()}</td><td>{entry.actor.clone()}</td><td>{c.label}</td>
                                    <td class="num">{shown(c.from)}</td><td class="num">{shown(c.to)}</td>
                                </tr>
                            }.into_any()).collect()
                        };
                        rows
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        Err(e) => unavailable("The audit log", &e),
    };
    view! {
        <section aria-labelledby="audit-h">
            <h2 id="audit-h">"Changes (audit log, newest first)"</h2>
            <p class="meta">"Who is the engine token that made the change; changes made here are by the dashboard's \
                token, and the dashboard's own log names the user."</p>
            {body}
        </section>
    }
}

/// The accounts, each linked to its limits, with the venue it trades at.
#[component]
fn AccountList(accounts: Result<Accounts, String>) -> impl IntoView {
    let body = match accounts {
        Ok(a) => {
            let default_venue = a.default_venue.clone();
            view! {
                <p class="meta" id="default-venue">{format!("Accounts without their own broker account trade at {default_venue}.")}</p>
                <table id="accounts">
                    <thead><tr><th scope="col">"Account"</th><th scope="col">"Venue"</th><th scope="col">"Broker account"</th><th scope="col" class="num">"Buying power"</th></tr></thead>
                    <tbody>
                        {a.accounts.into_iter().map(|acct| {
                            let href = format!("/risk?account={}", acct.account);
                            let own = if acct.own_broker_account { "its own" } else { "the default venue" };
                            // Only Alpaca reports one; pre-trade risk checks buy orders against it.
                            let buying_power = match (acct.buying_power, acct.buying_power_as_of) {
                                (Some(amount), Some(at)) => format!("{} (at {} UTC)", amount.normalize(), at.format("%H:%M:%S")),
                                (Some(amount), None) => amount.normalize().to_string(),
                                (None, _) => "not reported".to_owned(),
                            };
                            view! {
                                <tr class="account" data-account=acct.account.clone()>
                                    <td><a href=href>{acct.account.clone()}</a></td><td>{acct.venue}</td><td>{own}</td>
                                    <td class="num">{buying_power}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
        }
        Err(e) => unavailable("The accounts", &e),
    };
    view! {
        <section aria-labelledby="accounts-h">
            <h2 id="accounts-h">"Accounts"</h2>
            {body}
        </section>
    }
}

/// The page; `csrf` is set for users who may change limits; `error` explains a refused change.
#[component]
pub fn RiskPage(
    account: String,
    accounts: Result<Accounts, String>,
    limits: Result<RiskLimits, String>,
    audit: Result<Vec<AuditEntry>, String>,
    reconciliation: Result<Vec<ReconciliationEvent>, String>,
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
        <AccountList accounts=accounts/>
        <h2 id="risk-account">{format!("Account {account}")}</h2>
        {body}
        <ReconciliationLog events=reconciliation/>
        <AuditLog entries=audit/>
    }
}

/// What one reconciliation event booked, in words.
fn booked(event: &ReconciliationEvent) -> String {
    let text = |key: &str| event.detail[key].as_str().map(str::to_owned);
    match (event.event.as_str(), text("qty"), text("price")) {
        ("bust", Some(qty), Some(price)) => format!("execution of {qty} at {price} busted and reversed"),
        ("correction", Some(qty), Some(price)) => {
            let to = format!(
                "{} at {}",
                text("corrected_qty").unwrap_or_default(),
                text("corrected_price").unwrap_or_default()
            );
            format!("execution of {qty} at {price} corrected to {to}")
        }
        ("fill", Some(qty), Some(price)) => format!("execution of {qty} at {price} booked"),
        (other, ..) => format!("{other} booked"),
    }
}

/// The account's latest reconciliation events: what the engine booked because the venue said so.
#[component]
fn ReconciliationLog(events: Result<Vec<ReconciliationEvent>, String>) -> impl IntoView {
    let body = match events {
        Ok(e) if e.is_empty() => view! { <p class="empty" id="no-reconciliation">"Nothing booked by reconciliation."</p> }.into_any(),
        Ok(e) => view! {
            <table id="reconciliation">
                <thead><tr><th scope="col">"Time (UTC)"</th><th scope="col" class="num">"Order"</th><th scope="col">"Symbol"</th>
                    <th scope="col">"Venue"</th><th scope="col">"Booked"</th><th scope="col">"Status"</th></tr></thead>
                <tbody>
                    {e.into_iter().map(|event| {
                        let what = booked(&event);
                        let status = format!("{} → {}", event.from_status.clone().unwrap_or_default(), event.to_status);
                        view! {
                            <tr class=format!("reconciliation {}", event.event)>
                                <td>{event.ts.format("%Y-%m-%d %H:%M:%S").to_string()}</td>
                                <td class="num"><a href=format!("/orders/{}", event.order_id)>{event.order_id}</a></td>
                                <td>{event.symbol}</td><td>{event.venue}</td><td>{what}</td><td>{status}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        Err(e) => unavailable("The reconciliation events", &e),
    };
    view! {
        <section aria-labelledby="reconciliation-h">
            <h2 id="reconciliation-h">"Reconciliation"</h2>
            <p class="meta">"What the engine booked because the venue said so: fills and final statuses found when it asked, busts and corrections."</p>
            {body}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_audit_entry_names_each_changed_limit_with_its_values_before_and_after() {
        let detail = serde_json::json!({
            "before": {"max_order_qty": "1000", "max_daily_loss": null, "max_orders_per_minute": 30},
            "after": {"max_order_qty": "250.50", "max_daily_loss": "5", "max_orders_per_minute": 30}
        });
        let changes = limit_changes(&detail);
        assert_eq!(
            changes,
            vec![
                LimitChange { label: "Largest order quantity", from: Some("1000".into()), to: Some("250.5".into()) },
                LimitChange { label: "Largest daily loss (halts the account)", from: None, to: Some("5".into()) },
            ]
        );
    }

    #[test]
    fn an_account_without_limits_before_is_read_as_no_limit() {
        let detail = serde_json::json!({"before": null, "after": {"max_position": 10}});
        assert_eq!(limit_changes(&detail)[0].from, None);
        assert_eq!(limit_changes(&detail)[0].to.as_deref(), Some("10"));
    }
}
