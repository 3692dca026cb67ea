//! The candlestick chart of one symbol on the Markets page, following its trades.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use super::candles::{apply_trade, interval_ms, ChartTrade};
use super::candles::{decimal_range, format_minute, position, CandleRow};

/// Chart size in SVG units.
const WIDTH: f64 = 900.0;
const PRICE_HEIGHT: f64 = 260.0;
const VOLUME_HEIGHT: f64 = 70.0;
const GAP: f64 = 10.0;

/// A candlestick chart with volume of `bars` (oldest first, at least one) at `interval`. The
/// server draws it as SVG; the wasm client marks the section `data-client="wasm"` once it has
/// hydrated it and follows `/markets/live?symbol=S`: each trade updates the last candle, a
/// trade past its interval opens a new one and the oldest scrolls off once the chart spans its
/// day or holds `max_bars` ([`super::candles::apply_trade`]), and the price and volume scales
/// follow. Without wasm the chart stays as the page was loaded.
#[island]
pub fn LiveChart(
    /// The symbol.
    symbol: String,
    /// The interval (`1m`, `5m`, `15m`, `1h` or `1d`).
    interval: String,
    /// The bars, oldest first.
    bars: Vec<CandleRow>,
    /// The most bars the chart shows.
    max_bars: usize,
) -> impl IntoView {
    let bars = RwSignal::new(bars);
    let hydrated = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let url = format!("/markets/live?symbol={symbol}");
        let step = interval_ms(&interval).unwrap_or(60_000);
        Effect::new(move |_| {
            hydrated.set(true);
            let on_event = move |_: &str, data: String| match ChartTrade::from_event(&data) {
                Some(trade) => bars.update(|b| apply_trade(b, &trade, step, max_bars)),
                None => leptos::logging::warn!("chart: unreadable tick {data}"),
            };
            super::events::subscribe(&url, &["tick"], on_event, || (), || ());
        });
    }
    // Only the wasm client adds candles; the server draws the bars it was given.
    #[cfg(not(feature = "hydrate"))]
    let _ = max_bars;
    let intervals = ["1m", "5m", "15m", "1h", "1d"].map(|i| {
        let current = (i == interval).then_some("page");
        view! { <a href=format!("/markets?symbol={symbol}&interval={i}") aria-current=current>{i}</a> }
    });
    let title = format!("{symbol} {interval} bars");
    let drawing = move || bars.with(|b| draw(&symbol, &interval, b));
    view! {
        <section aria-labelledby="chart-h" id="chart" data-client=move || hydrated.get().then_some("wasm")>
            <h2 id="chart-h">{title}</h2>
            <nav class="intervals" aria-label="Interval">{intervals}</nav>
            <div class="chart-body">{drawing}</div>
        </section>
    }
}

/// The range line and the SVG of `bars`.
fn draw(symbol: &str, interval: &str, bars: &[CandleRow]) -> AnyView {
    let Some((low, high)) = decimal_range(bars.iter().flat_map(|b| [b.low.as_str(), b.high.as_str()])) else {
        return view! { <p class="empty" id="no-bars">"No bars in the last day."</p> }.into_any();
    };
    let max_volume = decimal_range(bars.iter().map(|b| b.volume.as_str())).map_or("0", |(_, max)| max);
    let step = WIDTH / bars.len() as f64;
    // Wide enough to see, never a slab when there are only a few bars.
    let body = (step * 0.7).clamp(1.0, 14.0);
    let y = |p: &str| PRICE_HEIGHT * (1.0 - position(p, low, high));
    let volume_top = PRICE_HEIGHT + GAP;
    let candles = bars
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let x = step * i as f64 + step / 2.0;
            let up = super::rows::compare_decimals(&b.close, &b.open) != Some(std::cmp::Ordering::Less);
            let class = if up { "candle up" } else { "candle down" };
            let (top, bottom) = if up { (y(&b.close), y(&b.open)) } else { (y(&b.open), y(&b.close)) };
            let vh = VOLUME_HEIGHT * position(&b.volume, "0", max_volume);
            let title = format!(
                "{} O {} H {} L {} C {} V {}",
                format_minute(b.start),
                b.open,
                b.high,
                b.low,
                b.close,
                b.volume
            );
            view! {
                <g class=class>
                    <title>{title}</title>
                    <line x1=x x2=x y1=y(&b.high) y2=y(&b.low)></line>
                    <rect x=x - body / 2.0 y=top width=body height=(bottom - top).max(1.0)></rect>
                    <rect class="volume" x=x - body / 2.0 y=volume_top + VOLUME_HEIGHT - vh width=body height=vh></rect>
                </g>
            }
        })
        .collect_view();
    let first = bars.first().map(|b| format_minute(b.start)).unwrap_or_default();
    let last = bars.last().map(|b| format_minute(b.start)).unwrap_or_default();
    let label = format!(
        "Candlestick chart of {symbol}, {} {interval} bars from {first} to {last} UTC, low {low}, high {high}",
        bars.len()
    );
    view! {
        <p class="meta">{format!("{first} – {last} UTC · high {high} · low {low} · {} bars", bars.len())}</p>
        <svg class="candles" role="img" aria-label=label viewBox=format!("0 0 {WIDTH} {}", volume_top + VOLUME_HEIGHT)
            preserveAspectRatio="none">
            {candles}
        </svg>
    }
    .into_any()
}
