//! A candlestick chart with volume (the [`LiveChart`] island, drawn on the server as SVG), and
//! the placing of a decimal on a scale that the backtest charts share. Prices and volumes are
//! compared and scaled as decimals; only the resulting pixel positions are floating point.

use leptos::prelude::*;
use rust_decimal::{prelude::ToPrimitive, Decimal};

use crate::{
    clients::Bar,
    live::{candles::CandleRow, chart::LiveChart},
    routes::markets::CHART_BARS,
};

/// Where `value` falls between `low` and `high`, 0.0..=1.0 (0.5 when the range is empty).
pub fn fraction(value: Decimal, low: Decimal, high: Decimal) -> f64 {
    if high <= low {
        return 0.5;
    }
    ((value - low) / (high - low)).to_f64().unwrap_or(0.5).clamp(0.0, 1.0)
}

/// The chart of `bars` (oldest first) at `interval`, or a notice when there are none. The chart
/// is the [`LiveChart`] island, which follows the symbol's trades with the wasm client.
#[component]
pub fn CandleChart(symbol: String, interval: String, bars: Vec<Bar>) -> impl IntoView {
    if bars.is_empty() {
        let intervals = ["1m", "5m", "15m", "1h", "1d"].map(|i| {
            let current = (i == interval).then_some("page");
            view! { <a href=format!("/markets?symbol={symbol}&interval={i}") aria-current=current>{i}</a> }
        });
        return view! {
            <section aria-labelledby="chart-h" id="chart">
                <h2 id="chart-h">{format!("{symbol} {interval} bars")}</h2>
                <nav class="intervals" aria-label="Interval">{intervals}</nav>
                <p class="empty" id="no-bars">"No bars in the last day."</p>
            </section>
        }
        .into_any();
    }
    let bars = bars.iter().map(candle_row).collect::<Vec<_>>();
    view! { <LiveChart symbol=symbol interval=interval bars=bars max_bars=CHART_BARS/> }.into_any()
}

/// A bar as the chart island carries it: decimals as text without trailing zeros.
pub fn candle_row(b: &Bar) -> CandleRow {
    CandleRow {
        start: b.ts.timestamp_millis(),
        open: b.open.normalize().to_string(),
        high: b.high.normalize().to_string(),
        low: b.low.normalize().to_string(),
        close: b.close.normalize().to_string(),
        volume: b.volume.normalize().to_string(),
    }
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
