//! The strategies page: every strategy with its parameters, state and P&L; admins get
//! enable/disable buttons and a link to a form that changes the parameters
//! ([`StrategyEditPage`]).

use leptos::prelude::*;

use super::{dec, unavailable};
use crate::clients::{Pnl, Strategy};

/// A strategy and its P&L (or why the P&L could not be loaded).
#[derive(Debug, Clone)]
pub struct StrategyLine {
    /// The strategy.
    pub strategy: Strategy,
    /// Its P&L.
    pub pnl: Result<Pnl, String>,
}

/// The page; `csrf` is set for users who may enable and disable strategies.
#[component]
pub fn StrategiesPage(lines: Result<Vec<StrategyLine>, String>, csrf: Option<String>) -> impl IntoView {
    let body = match lines {
        Ok(l) if l.is_empty() => view! { <p class="empty" id="no-strategies">"No strategies."</p> }.into_any(),
        Ok(l) => view! {
            <table id="strategies">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th><th scope="col">"Kind"</th><th scope="col">"Account"</th>
                        <th scope="col">"Symbols"</th><th scope="col" class="num">"Bar (s)"</th><th scope="col">"Parameters"</th>
                        <th scope="col">"Webhook"</th><th scope="col">"State"</th>
                        <th scope="col" class="num">"Realized P&L"</th><th scope="col" class="num">"Unrealized P&L"</th>
                        <th scope="col" class="num">"Total P&L"</th><th scope="col" class="num">"Realized today"</th>
                        {csrf.is_some().then(|| view! { <th scope="col">"Control"</th> })}
                    </tr>
                </thead>
                <tbody>
                    {l.into_iter().map(|line| view! { <StrategyRow line=line csrf=csrf.clone()/> }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        Err(e) => unavailable("Strategies", &e),
    };
    view! {
        <h1>"Strategies"</h1>
        {body}
    }
}

#[component]
fn StrategyRow(line: StrategyLine, csrf: Option<String>) -> impl IntoView {
    let s = line.strategy;
    let pnl = match line.pnl {
        Ok(p) => view! {
            <td class="num">{dec(Some(p.realized_pnl))}</td><td class="num">{dec(Some(p.unrealized_pnl))}</td>
            <td class="num">{dec(Some(p.total_pnl))}</td><td class="num">{dec(Some(p.realized_today))}</td>
        }
        .into_any(),
        Err(e) => view! { <td colspan="4" class="error" title=e>"P&L unavailable"</td> }.into_any(),
    };
    let control = csrf.map(|csrf| {
        let (verb, label, class) =
            if s.enabled { ("disable", "Disable", "btn danger") } else { ("enable", "Enable", "btn") };
        view! {
            <td>
                <form method="post" action=format!("/strategies/{}/{verb}", s.name) class="inline">
                    <input type="hidden" name="csrf" value=csrf/>
                    <button type="submit" class=class id=format!("{verb}-{}", s.name)>{label}</button>
                </form>
                " "<a class="btn" id=format!("edit-{}", s.name) href=format!("/strategies/{}/edit", s.name)>"Edit"</a>
            </td>
        }
    });
    view! {
        <tr id=format!("strategy-{}", s.name)>
            <td>{s.name.clone()}</td><td>{s.kind}</td><td>{s.account}</td><td>{s.symbols.join(", ")}</td>
            <td class="num">{s.bar_seconds}</td><td><code>{s.params.to_string()}</code></td>
            <td>{if s.webhook { "on" } else { "off" }}</td>
            <td class="strategy-state">{if s.enabled { "running" } else { "stopped" }}</td>
            {pnl}
            {control}
        </tr>
    }
}

/// The parameters form as posted (and as shown again after a refusal).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct StrategyForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// Parameters as a JSON object.
    #[serde(default)]
    pub params: String,
    /// Symbols, separated by commas.
    #[serde(default)]
    pub symbols: String,
    /// Bar period in seconds.
    #[serde(default)]
    pub bar_seconds: String,
}

impl StrategyForm {
    /// The form filled with the strategy as it is.
    pub fn of(s: &Strategy) -> Self {
        Self {
            csrf: String::new(),
            params: serde_json::to_string_pretty(&s.params).unwrap_or_else(|_| s.params.to_string()),
            symbols: s.symbols.join(", "),
            bar_seconds: s.bar_seconds.to_string(),
        }
    }
}

/// An admin's form to change a strategy's parameters, symbols and bar period; `error` says why
/// the last attempt was refused (by the dashboard's checks or by the engine).
#[component]
pub fn StrategyEditPage(strategy: Strategy, form: StrategyForm, csrf: String, error: Option<String>) -> impl IntoView {
    let name = strategy.name.clone();
    view! {
        <h1>{format!("Strategy {name}")}</h1>
        <p class="meta">
            {format!("Kind {}, account {}, {}. ", strategy.kind, strategy.account, if strategy.enabled { "running" } else { "stopped" })}
            "The engine checks the parameters against the kind and refuses what it cannot run; a running \
             strategy restarts with the new ones at its next lease round. Every change is in the engine's audit log."
        </p>
        {error.map(|e| view! { <p class="error" id="strategy-error" role="alert">{e}</p> })}
        <section class="form-panel" aria-labelledby="params-h">
            <h2 id="params-h">"Parameters"</h2>
            <form method="post" action=format!("/strategies/{name}") class="grid">
                <input type="hidden" name="csrf" value=csrf/>
                <label for="st-params">"Parameters (JSON object)"</label>
                <textarea id="st-params" name="params" rows="6" cols="48" spellcheck="false">{form.params}</textarea>
                <label for="st-symbols">"Symbols (comma separated)"</label>
                <input id="st-symbols" name="symbols" type="text" required value=form.symbols/>
                <label for="st-bar">"Bar period (seconds)"</label>
                <input id="st-bar" name="bar_seconds" type="text" inputmode="numeric" required value=form.bar_seconds/>
                <button type="submit" class="btn danger" id="save-strategy">"Save"</button>
            </form>
        </section>
        <p><a class="btn" href="/strategies">"Back to strategies"</a></p>
    }
}
