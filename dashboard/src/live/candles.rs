//! The candles of the Markets chart as plain data, and how a trade changes them: compiled for
//! both the server (which fills them from the data-service's bars) and the wasm client (which
//! follows the trades). Prices and volumes stay decimals in text, compared and added exactly
//! digit by digit; only pixel positions are floating point.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::rows::compare_decimals;

/// One bar as the chart carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandleRow {
    /// Open time, milliseconds since the Unix epoch (UTC).
    pub start: i64,
    /// First price.
    pub open: String,
    /// Highest price.
    pub high: String,
    /// Lowest price.
    pub low: String,
    /// Last price.
    pub close: String,
    /// Volume.
    pub volume: String,
}

/// One trade as the chart needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartTrade {
    /// Price, a plain decimal.
    pub price: String,
    /// Size, a plain non-negative decimal (`0` when the feed gave none).
    pub size: String,
    /// Trade time, milliseconds since the Unix epoch.
    pub at: i64,
}

impl ChartTrade {
    /// The trade in a `tick` event's JSON (`{"price","size","t"}`, `t` in milliseconds since
    /// the epoch, price and size strings or numbers), or `None` when its price or time is
    /// missing or its price or size is not a plain decimal.
    pub fn from_event(data: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(data).ok()?;
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let price = text(value.get("price")?)?;
        let size = value.get("size").and_then(text).unwrap_or_else(|| "0".to_owned());
        let at = value.get("t")?.as_i64()?;
        compare_decimals(&price, "0")?;
        (compare_decimals(&size, "0")? != Ordering::Less).then_some(Self { price, size, at })
    }
}

/// What a trade does to the current (last) candle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandleUpdate {
    /// The trade falls in the candle's interval: the candle with its close, high, low and volume
    /// updated.
    Same(CandleRow),
    /// The trade is past the candle's interval: the new candle it opens, starting at the
    /// interval the trade falls in (intervals are aligned to the epoch, like the data-service's).
    Next(CandleRow),
    /// The trade is older than the candle (late or out of order): nothing changes.
    Stale,
}

/// The length of a chart interval (`1m`, `5m`, `15m`, `1h`, `1d`) in milliseconds.
pub fn interval_ms(interval: &str) -> Option<i64> {
    let minutes = match interval {
        "1m" => 1,
        "5m" => 5,
        "15m" => 15,
        "1h" => 60,
        "1d" => 1440,
        _ => return None,
    };
    Some(minutes * 60_000)
}

/// What `trade` does to `bar`, the current candle of an `interval_ms` chart.
pub fn candle_update(bar: &CandleRow, trade: &ChartTrade, interval_ms: i64) -> CandleUpdate {
    if trade.at < bar.start {
        return CandleUpdate::Stale;
    }
    if trade.at < bar.start + interval_ms {
        let higher = compare_decimals(&trade.price, &bar.high) == Some(Ordering::Greater);
        let lower = compare_decimals(&trade.price, &bar.low) == Some(Ordering::Less);
        return CandleUpdate::Same(CandleRow {
            start: bar.start,
            open: bar.open.clone(),
            high: if higher { trade.price.clone() } else { bar.high.clone() },
            low: if lower { trade.price.clone() } else { bar.low.clone() },
            close: trade.price.clone(),
            volume: add_decimals(&bar.volume, &trade.size).unwrap_or_else(|| bar.volume.clone()),
        });
    }
    CandleUpdate::Next(CandleRow {
        start: trade.at - trade.at.rem_euclid(interval_ms),
        open: trade.price.clone(),
        high: trade.price.clone(),
        low: trade.price.clone(),
        close: trade.price.clone(),
        volume: add_decimals("0", &trade.size).unwrap_or_else(|| "0".to_owned()),
    })
}

/// How far back the chart reaches: a day, like the data-service's default range of bars.
pub const WINDOW_MS: i64 = 86_400_000;

/// Applies `trade` to the last of `bars`: updates it, or appends the new candle and then drops
/// the oldest bars a reload would no longer show (those opening before the interval a day
/// before the new one, and any beyond `max_bars`). Once the chart spans its day, or holds
/// `max_bars`, a new candle scrolls the oldest off and the count stays the same. A chart
/// without bars is left alone (the page says there were none).
pub fn apply_trade(bars: &mut Vec<CandleRow>, trade: &ChartTrade, interval_ms: i64, max_bars: usize) {
    let Some(last) = bars.last_mut() else { return };
    match candle_update(last, trade, interval_ms) {
        CandleUpdate::Same(bar) => *last = bar,
        CandleUpdate::Next(bar) => {
            let since = trade.at - WINDOW_MS;
            let since = since - since.rem_euclid(interval_ms);
            bars.push(bar);
            let stale = bars.iter().take_while(|b| b.start < since).count();
            let excess = bars.len().saturating_sub(max_bars.max(1));
            bars.drain(..stale.max(excess));
        }
        CandleUpdate::Stale => {}
    }
}

/// The sum of two non-negative plain decimals, exact, without leading or trailing zeros; `None`
/// when either is not one.
pub fn add_decimals(a: &str, b: &str) -> Option<String> {
    let parts = |s: &str| -> Option<(String, String)> {
        let s = s.trim().strip_prefix('+').unwrap_or(s.trim());
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |p: &str| p.bytes().all(|c| c.is_ascii_digit());
        ((!int.is_empty() || !frac.is_empty()) && digits(int) && digits(frac))
            .then(|| (int.to_owned(), frac.to_owned()))
    };
    let (a_int, a_frac) = parts(a)?;
    let (b_int, b_frac) = parts(b)?;
    let frac_width = a_frac.len().max(b_frac.len());
    let int_width = a_int.len().max(b_int.len());
    let a_digits = format!("{a_int:0>int_width$}{a_frac:0<frac_width$}");
    let b_digits = format!("{b_int:0>int_width$}{b_frac:0<frac_width$}");
    let mut sum = Vec::with_capacity(a_digits.len() + 1);
    let mut carry = 0;
    for (x, y) in a_digits.bytes().rev().zip(b_digits.bytes().rev()) {
        let d = (x - b'0') + (y - b'0') + carry;
        sum.push(b'0' + d % 10);
        carry = d / 10;
    }
    if carry > 0 {
        sum.push(b'0' + carry);
    }
    sum.reverse();
    let sum = String::from_utf8(sum).ok()?;
    let (int, frac) = sum.split_at(sum.len() - frac_width);
    let int = match int.trim_start_matches('0') {
        "" => "0",
        i => i,
    };
    let frac = frac.trim_end_matches('0');
    Some(if frac.is_empty() { int.to_owned() } else { format!("{int}.{frac}") })
}

/// `ms` since the epoch as `YYYY-MM-DD HH:MM` UTC, without a date library (days to a civil
/// date as in Howard Hinnant's `civil_from_days`).
pub fn format_minute(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, in_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", in_day / 3600, in_day % 3600 / 60)
}

/// The smallest and largest of `values` compared as decimals (unreadable ones skipped).
pub fn decimal_range<'a>(values: impl Iterator<Item = &'a str>) -> Option<(&'a str, &'a str)> {
    values.fold(None, |range, v| match range {
        None => compare_decimals(v, v).map(|_| (v, v)),
        Some((low, high)) => {
            let below = compare_decimals(v, low) == Some(Ordering::Less);
            let above = compare_decimals(v, high) == Some(Ordering::Greater);
            Some((if below { v } else { low }, if above { v } else { high }))
        }
    })
}

/// Where `value` falls between `low` and `high`, 0.0..=1.0 (0.5 when the range is empty). The
/// range is decided exactly; only the resulting position is a float.
pub fn position(value: &str, low: &str, high: &str) -> f64 {
    if compare_decimals(high, low) != Some(Ordering::Greater) {
        return 0.5;
    }
    let f = |s: &str| s.trim().parse::<f64>().unwrap_or(0.0);
    let (v, l, h) = (f(value), f(low), f(high));
    ((v - l) / (h - l)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(start: i64, o: &str, h: &str, l: &str, c: &str, v: &str) -> CandleRow {
        let s = |x: &str| x.to_owned();
        CandleRow { start, open: s(o), high: s(h), low: s(l), close: s(c), volume: s(v) }
    }

    fn trade(price: &str, size: &str, at: i64) -> ChartTrade {
        ChartTrade { price: price.into(), size: size.into(), at }
    }

    /// 2026-11-24 00:00:00 UTC.
    const MIDNIGHT: i64 = 1_795_478_400_000;

    #[test]
    fn a_trade_inside_the_interval_updates_the_current_candle_at_every_interval() {
        for interval in ["1m", "5m", "15m", "1h", "1d"] {
            let step = interval_ms(interval).unwrap();
            let current = bar(MIDNIGHT, "100.5", "101", "100", "100.75", "2.5");
            let last_ms = MIDNIGHT + step - 1;
            assert_eq!(
                candle_update(&current, &trade("101.25", "0.75", last_ms), step),
                CandleUpdate::Same(bar(MIDNIGHT, "100.5", "101.25", "100", "101.25", "3.25")),
                "{interval}: a new high"
            );
            assert_eq!(
                candle_update(&current, &trade("99.990", "1", MIDNIGHT), step),
                CandleUpdate::Same(bar(MIDNIGHT, "100.5", "101", "99.990", "99.990", "3.5")),
                "{interval}: a new low"
            );
            assert_eq!(
                candle_update(&current, &trade("100.9", "0", MIDNIGHT + step / 2), step),
                CandleUpdate::Same(bar(MIDNIGHT, "100.5", "101", "100", "100.9", "2.5")),
                "{interval}: inside the range only the close moves"
            );
        }
    }

    #[test]
    fn a_trade_past_the_interval_opens_a_new_candle_aligned_to_its_interval() {
        for interval in ["1m", "5m", "15m", "1h", "1d"] {
            let step = interval_ms(interval).unwrap();
            let current = bar(MIDNIGHT, "100", "101", "99", "100", "1");
            assert_eq!(
                candle_update(&current, &trade("102", "0.5", MIDNIGHT + step), step),
                CandleUpdate::Next(bar(MIDNIGHT + step, "102", "102", "102", "102", "0.5")),
                "{interval}: at the interval's end"
            );
            assert_eq!(
                candle_update(&current, &trade("98", "2", MIDNIGHT + 3 * step + step / 3), step),
                CandleUpdate::Next(bar(MIDNIGHT + 3 * step, "98", "98", "98", "98", "2")),
                "{interval}: intervals without trades are skipped"
            );
            assert_eq!(candle_update(&current, &trade("98", "2", MIDNIGHT - 1), step), CandleUpdate::Stale);
        }
    }

    #[test]
    fn a_full_chart_keeps_its_number_of_bars_and_a_short_one_grows_like_a_reload() {
        let step = interval_ms("1m").unwrap();
        let mut bars = vec![bar(MIDNIGHT, "1", "1", "1", "1", "1"), bar(MIDNIGHT + step, "2", "2", "2", "2", "1")];
        apply_trade(&mut bars, &trade("3", "1", MIDNIGHT + step + 10), step, 2);
        assert_eq!((bars.len(), bars[1].close.as_str()), (2, "3"));
        apply_trade(&mut bars, &trade("4", "1", MIDNIGHT + 2 * step), step, 2);
        assert_eq!(bars.iter().map(|b| b.start).collect::<Vec<_>>(), [MIDNIGHT + step, MIDNIGHT + 2 * step]);
        apply_trade(&mut bars, &trade("5", "1", MIDNIGHT + 3 * step), step, 120);
        assert_eq!(bars.len(), 3, "fewer than the maximum: the chart grows");
        let mut none = Vec::new();
        apply_trade(&mut none, &trade("4", "1", MIDNIGHT), step, 120);
        assert!(none.is_empty());
    }

    #[test]
    fn bars_older_than_a_day_scroll_off_at_every_interval() {
        for interval in ["1m", "5m", "15m", "1h", "1d"] {
            let step = interval_ms(interval).unwrap();
            // What a reload just before midnight shows: the bars since the interval a day
            // before, at most 120.
            let first = MIDNIGHT - WINDOW_MS - step;
            let mut bars: Vec<_> =
                (0..=WINDOW_MS / step).map(|i| bar(first + i * step, "1", "1", "1", "1", "1")).collect();
            let beyond = bars.len().saturating_sub(120);
            bars.drain(..beyond);
            let len = bars.len();
            apply_trade(&mut bars, &trade("2", "1", MIDNIGHT), step, 120);
            assert_eq!(bars.len(), len, "{interval}: one in, one out");
            assert_eq!(bars.last().unwrap().start, MIDNIGHT, "{interval}");
            assert_eq!(
                bars[0].start,
                (MIDNIGHT - WINDOW_MS).max(MIDNIGHT - 119 * step),
                "{interval}: what a reload shows"
            );
        }
    }

    #[test]
    fn trades_are_read_from_tick_events() {
        let t = ChartTrade::from_event(r#"{"symbol":"X","price":"10.50","size":"0.25","t":1795478400000}"#);
        assert_eq!(t, Some(trade("10.50", "0.25", MIDNIGHT)));
        assert_eq!(ChartTrade::from_event(r#"{"price":3.5,"t":5}"#), Some(trade("3.5", "0", 5)));
        assert_eq!(ChartTrade::from_event(r#"{"price":"3","size":"-1","t":5}"#), None);
        assert_eq!(ChartTrade::from_event(r#"{"price":"1e3","t":5}"#), None);
        assert_eq!(ChartTrade::from_event(r#"{"price":"3"}"#), None);
    }

    #[test]
    fn decimals_add_exactly() {
        assert_eq!(add_decimals("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(add_decimals("999.999", "0.001").as_deref(), Some("1000"));
        assert_eq!(add_decimals("0", "0").as_deref(), Some("0"));
        assert_eq!(add_decimals("12345678901234567890.5", "1.50").as_deref(), Some("12345678901234567892"));
        assert_eq!(add_decimals(".5", "1.").as_deref(), Some("1.5"));
        assert_eq!(add_decimals("-1", "1"), None);
    }

    #[test]
    fn times_are_formatted_like_chrono() {
        assert_eq!(format_minute(MIDNIGHT + 13 * 3_600_000 + 7 * 60_000 + 59_999), "2026-11-24 13:07");
        assert_eq!(format_minute(0), "1970-01-01 00:00");
        assert_eq!(format_minute(951_782_400_000), "2000-02-29 00:00");
        assert_eq!(format_minute(-60_000), "1969-12-31 23:59");
    }

    #[test]
    fn ranges_and_positions_are_decided_exactly() {
        let values = ["100.10", "99.9", "100.2", "x"];
        assert_eq!(decimal_range(values.into_iter()), Some(("99.9", "100.2")));
        assert_eq!(position("100.2", "100.0", "100.2"), 1.0);
        assert_eq!(position("5", "5", "5.0"), 0.5, "a flat range is drawn in the middle");
    }
}
