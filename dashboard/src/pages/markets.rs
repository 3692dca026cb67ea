//! The markets page: symbols with their last price, and one symbol's price live with its
//! candlestick chart.

use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;
use rust_decimal::{Decimal, RoundingStrategy};

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
    /// Its change over the day, when it traded today.
    pub day: Option<DayChange>,
}

/// A symbol's change over the current UTC day, in exact decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayChange {
    /// Last price less the reference.
    pub change: Decimal,
    /// The change in percent of the reference, two decimals; `None` for a zero reference.
    pub percent: Option<Decimal>,
    /// Whether the reference is the previous day's close (else today's first price).
    pub from_previous_close: bool,
}

impl DayChange {
    /// `+1.5 (+0.25%)`: signed, the percentage in brackets.
    pub fn text(&self) -> String {
        let signed = |d: Decimal| if d.is_sign_positive() && !d.is_zero() { format!("+{d}") } else { d.to_string() };
        match self.percent {
            Some(p) => format!("{} ({}%)", signed(self.change), signed(p)),
            None => signed(self.change),
        }
    }
}

/// The change of `last` over the UTC day starting at `today` (00:00), from daily bars (oldest
/// first): against the previous day's close when there is a bar for it, else against today's
/// open (its first price). `None` when there is no bar for today (no trade yet today).
pub fn day_change(last: Decimal, bars: &[Bar], today: DateTime<Utc>) -> Option<DayChange> {
    let today_bar = bars.iter().find(|b| b.ts == today)?;
    let previous = bars.iter().find(|b| b.ts == today - Duration::days(1));
    let reference = previous.map_or(today_bar.open, |b| b.close);
    let change = last.checked_sub(reference)?.normalize();
    let percent = change
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|c| c.checked_div(reference))
        .map(|p| p.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero).normalize());
    Some(DayChange { change, percent, from_previous_close: previous.is_some() })
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
                    <tr>
                        <th scope="col">"Symbol"</th><th scope="col" class="num">"Last price"</th>
                        <th scope="col" class="num">"Day change"</th><th scope="col">"Time (UTC)"</th><th scope="col"></th>
                    </tr>
                </thead>
                <tbody>
                    {r.into_iter().map(|row| view! {
                        <tr id=format!("symbol-{}", row.symbol)>
                            <td>{row.symbol.clone()}</td>
                            <td class="num">{dec(row.quote.as_ref().map(|q| q.price))}</td>
                            {day_cell(row.day.as_ref())}
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
        <p class="meta">"Day change: the last price against the previous UTC day's close, or against today's first \
            price when there is no bar for the previous day; a dash before today's first trade."</p>
        {live}
        {chart}
        <section aria-labelledby="symbols-h">
            <h2 id="symbols-h">"Symbols"</h2>
            {table}
        </section>
    }
}

fn day_cell(day: Option<&DayChange>) -> AnyView {
    match day {
        None => view! { <td class="num day-change" title="no trade today">"—"</td> }.into_any(),
        Some(d) => {
            let class = if d.change.is_zero() {
                "num day-change"
            } else if d.change.is_sign_negative() {
                "num day-change loss"
            } else {
                "num day-change gain"
            };
            let title =
                if d.from_previous_close { "since the previous day's close" } else { "since today's first price" };
            view! { <td class=class title=title>{d.text()}</td> }.into_any()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn bar(ts: &str, open: &str, close: &str) -> Bar {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        Bar { ts: ts.parse().unwrap(), open: d(open), high: d(open), low: d(close), close: d(close), volume: d("1") }
    }

    #[test]
    fn the_day_change_is_against_the_previous_close_exactly() {
        let today: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
        let bars = [bar("2026-11-23T00:00:00Z", "90", "100.10"), bar("2026-11-24T00:00:00Z", "100.2", "100.3")];
        let c = day_change(Decimal::from_str("100.4").unwrap(), &bars, today).unwrap();
        assert_eq!((c.change.to_string(), c.percent.unwrap().to_string()), ("0.3".into(), "0.3".into()));
        assert!(c.from_previous_close);
        assert_eq!(c.text(), "+0.3 (+0.3%)");
    }

    #[test]
    fn without_a_previous_day_the_change_is_against_todays_first_price() {
        let today: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
        let bars = [bar("2026-11-24T00:00:00Z", "3", "2")];
        let c = day_change(Decimal::from_str("2").unwrap(), &bars, today).unwrap();
        assert_eq!(c.text(), "-1 (-33.33%)");
        assert!(!c.from_previous_close);
        assert_eq!(day_change(Decimal::ONE, &bars[..0], today), None, "no trade today");
        let zero = [bar("2026-11-24T00:00:00Z", "0", "1")];
        assert_eq!(day_change(Decimal::ONE, &zero, today).unwrap().text(), "+1", "no percentage of zero");
    }
}
