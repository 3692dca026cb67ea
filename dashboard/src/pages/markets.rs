//! The markets page: symbols with their last price, and one symbol's price live with its
//! candlestick chart.

use leptos::prelude::*;

use super::{dec, unavailable};
use crate::{
    clients::{Bar, Quote},
    live::price::LivePrice,
};

/// A symbol and its latest price, if it has one.
#[derive(Debug, Clone)]
pub struct SymbolRow {
    /// Symbol.
    pub symbol: String,
    /// Latest price.
    pub quote: Option<Quote>,
}

/// The markets page. `live` is the symbol whose price updates in place; `chart` is its
/// symbol, interval and bars.
#[component]
pub fn MarketsPage(
    rows: Result<Vec<SymbolRow>, String>,
    live: Option<SymbolRow>,
    chart: Option<(String, String, Result<Vec<Bar>, String>)>,
) -> impl IntoView {
    let chart = chart.map(|(symbol, interval, bars)| match bars {
        Ok(bars) => view! { <super::chart::CandleChart symbol=symbol interval=interval bars=bars/> }.into_any(),
        Err(e) => unavailable("Bars", &e),
    });
    let live = live.map(|row| {
        let price = dec(row.quote.as_ref().map(|q| q.price));
        let ts = row.quote.as_ref().map(|q| q.ts.to_rfc3339()).unwrap_or_default();
        view! { <LivePrice symbol=row.symbol price=price ts=ts/> }
    });
    let table = match rows {
        Ok(r) if r.is_empty() => view! { <p class="empty">"No symbols yet."</p> }.into_any(),
        Ok(r) => view! {
            <table id="symbols">
                <thead>
                    <tr><th scope="col">"Symbol"</th><th scope="col" class="num">"Last price"</th><th scope="col">"Time (UTC)"</th><th scope="col"></th></tr>
                </thead>
                <tbody>
                    {r.into_iter().map(|row| view! {
                        <tr>
                            <td>{row.symbol.clone()}</td>
                            <td class="num">{dec(row.quote.as_ref().map(|q| q.price))}</td>
                            <td>{row.quote.as_ref().map(|q| q.ts.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default()}</td>
                            <td><a href=format!("/markets?symbol={}", row.symbol)>"Watch live"</a></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        Err(e) => unavailable("Symbols", &e),
    };
    view! {
        <h1>"Markets"</h1>
        {live}
        {chart}
        <section aria-labelledby="symbols-h">
            <h2 id="symbols-h">"Symbols"</h2>
            {table}
        </section>
    }
}
