//! The strategies page: every strategy with its parameters, state and P&L; admins get
//! enable/disable buttons.

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
                <form method="post" action=format!("/strategies/{}/{verb}", s.name)>
                    <input type="hidden" name="csrf" value=csrf/>
                    <button type="submit" class=class id=format!("{verb}-{}", s.name)>{label}</button>
                </form>
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
