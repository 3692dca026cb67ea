//! A candlestick chart with volume, drawn on the server as SVG. Prices and volumes are compared
//! and scaled as decimals; only the resulting pixel positions are floating point.

use leptos::prelude::*;
use rust_decimal::{prelude::ToPrimitive, Decimal};

use crate::clients::Bar;

/// Chart size in SVG units.
const WIDTH: f64 = 900.0;
const PRICE_HEIGHT: f64 = 260.0;
const VOLUME_HEIGHT: f64 = 70.0;
const GAP: f64 = 10.0;

/// Where `value` falls between `low` and `high`, 0.0..=1.0 (0.5 when the range is empty).
pub fn fraction(value: Decimal, low: Decimal, high: Decimal) -> f64 {
    if high <= low {
        return 0.5;
    }
    ((value - low) / (high - low)).to_f64().unwrap_or(0.5).clamp(0.0, 1.0)
}

/// The chart of `bars` (oldest first) at `interval`, or a notice when there are none.
#[component]
pub fn CandleChart(symbol: String, interval: String, bars: Vec<Bar>) -> impl IntoView {
    let intervals = ["1m", "5m", "15m", "1h", "1d"].map(|i| {
        let current = (i == interval).then_some("page");
        view! { <a href=format!("/markets?symbol={symbol}&interval={i}") aria-current=current>{i}</a> }
    });
    let (Some(low), Some(high)) = (bars.iter().map(|b| b.low).min(), bars.iter().map(|b| b.high).max()) else {
        return view! {
            <section aria-labelledby="chart-h" id="chart">
                <h2 id="chart-h">{format!("{symbol} {interval} bars")}</h2>
                <nav class="intervals" aria-label="Interval">{intervals}</nav>
                <p class="empty" id="no-bars">"No bars in the last day."</p>
            </section>
        }
        .into_any();
    };
    let max_volume = bars.iter().map(|b| b.volume).max().unwrap_or_default();
    let step = WIDTH / bars.len() as f64;
    // Wide enough to see, never a slab when there are only a few bars.
    let body = (step * 0.7).clamp(1.0, 14.0);
    let y = |p: Decimal| PRICE_HEIGHT * (1.0 - fraction(p, low, high));
    let volume_top = PRICE_HEIGHT + GAP;
    let candles = bars
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let x = step * i as f64 + step / 2.0;
            let class = if b.close >= b.open { "up" } else { "down" };
            let (top, bottom) = (y(b.open.max(b.close)), y(b.open.min(b.close)));
            let vh = VOLUME_HEIGHT * fraction(b.volume, Decimal::ZERO, max_volume);
            let title = format!(
                "{} O {} H {} L {} C {} V {}",
                b.ts.format("%Y-%m-%d %H:%M"),
                b.open.normalize(),
                b.high.normalize(),
                b.low.normalize(),
                b.close.normalize(),
                b.volume.normalize()
            );
            view! {
                <g class=format!("candle {class}")>
                    <title>{title}</title>
                    <line x1=x x2=x y1=y(b.high) y2=y(b.low)></line>
                    <rect x=x - body / 2.0 y=top width=body height=(bottom - top).max(1.0)></rect>
                    <rect class="volume" x=x - body / 2.0 y=volume_top + VOLUME_HEIGHT - vh width=body height=vh></rect>
                </g>
            }
        })
        .collect_view();
    let first = bars.first().map(|b| b.ts.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default();
    let last = bars.last().map(|b| b.ts.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default();
    let label = format!(
        "Candlestick chart of {symbol}, {} {interval} bars from {first} to {last} UTC, low {}, high {}",
        bars.len(),
        low.normalize(),
        high.normalize()
    );
    view! {
        <section aria-labelledby="chart-h" id="chart">
            <h2 id="chart-h">{format!("{symbol} {interval} bars")}</h2>
            <nav class="intervals" aria-label="Interval">{intervals}</nav>
            <p class="meta">{format!("{first} – {last} UTC · high {} · low {} · {} bars", high.normalize(), low.normalize(), bars.len())}</p>
            <svg class="candles" role="img" aria-label=label viewBox=format!("0 0 {WIDTH} {}", volume_top + VOLUME_HEIGHT)
                preserveAspectRatio="none">
                {candles}
            </svg>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn a_price_is_placed_by_its_exact_decimal_share_of_the_range() {
        let d = |s| Decimal::from_str(s).unwrap();
        assert_eq!(fraction(d("100.1"), d("100.0"), d("100.2")), 0.5);
        assert_eq!(fraction(d("100.2"), d("100.0"), d("100.2")), 1.0);
        assert_eq!(fraction(d("5"), d("5"), d("5")), 0.5, "a flat range is drawn in the middle");
    }
}
