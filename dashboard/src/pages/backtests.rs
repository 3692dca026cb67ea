//! The backtests pages: the list of runs with a form to start one, and one run with its
//! progress, metrics, equity and drawdown chart and round trips.

use chrono::{DateTime, Duration, DurationRound, Utc};
use leptos::prelude::*;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::{chart::fraction, unavailable};
use crate::{
    clients::{BacktestJob, BacktestTrade},
    live::backtest::{BacktestProgress, LiveBacktestProgress},
};

/// The strategies a backtest can run, with their parameters as a hint.
pub const STRATEGIES: [(&str, &str); 3] = [
    ("sma_cross", "SMA cross: fast=10, slow=30"),
    ("rsi_reversion", "RSI reversion: period=14, oversold=30, overbought=70"),
    ("bollinger_breakout", "Bollinger breakout: period=20, k=2"),
];

/// Bar intervals the engine aggregates 1-minute bars to.
pub const INTERVALS: [&str; 5] = ["1m", "5m", "15m", "1h", "1d"];

/// Most round trips listed on a run's page.
const TRADES_SHOWN: usize = 500;

/// The start form as posted (and as shown again after a refusal).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BacktestForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// A fresh random value per form; with the CSRF token it makes the idempotency key.
    #[serde(default)]
    pub nonce: String,
    /// Strategy kind.
    #[serde(default)]
    pub strategy: String,
    /// Parameters, `name=value` pairs.
    #[serde(default)]
    pub params: String,
    /// Symbol.
    #[serde(default)]
    pub symbol: String,
    /// Bar interval.
    #[serde(default)]
    pub interval: String,
    /// Range start (UTC).
    #[serde(default)]
    pub from: String,
    /// Range end (UTC).
    #[serde(default)]
    pub to: String,
    /// Units per order.
    #[serde(default)]
    pub quantity: String,
    /// `next_open` or `close`.
    #[serde(default)]
    pub fill: String,
    /// `postgres` or `archive`.
    #[serde(default)]
    pub source: String,
    /// Fee in basis points (empty: none).
    #[serde(default)]
    pub fee_bps: String,
    /// Fee per order (empty: none).
    #[serde(default)]
    pub fee_per_order: String,
    /// Slippage in basis points (empty: none).
    #[serde(default)]
    pub slippage_bps: String,
    /// Capital at the start (empty: the engine's 100,000).
    #[serde(default)]
    pub initial_capital: String,
}

impl BacktestForm {
    /// A new form: SMA cross 10/30 over the day before `now`, 1-minute bars from the database.
    pub fn defaults(now: DateTime<Utc>) -> Self {
        let to = now.duration_trunc(Duration::minutes(1)).unwrap_or(now);
        let local = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M").to_string();
        Self {
            strategy: "sma_cross".into(),
            params: "fast=10, slow=30".into(),
            symbol: "BTCUSD".into(),
            interval: "1m".into(),
            from: local(to - Duration::days(1)),
            to: local(to),
            quantity: "1".into(),
            fill: "next_open".into(),
            source: "postgres".into(),
            ..Self::default()
        }
    }
}

/// What a succeeded run's page shows besides its summary.
pub struct BacktestResults {
    /// Its round trips.
    pub trades: Result<Vec<BacktestTrade>, String>,
    /// Its `equity.csv`.
    pub equity: Result<String, String>,
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn request_text(request: &serde_json::Value, key: &str) -> String {
    match request.get(key) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The run's progress as the live island shows it.
pub fn progress_of(job: &BacktestJob) -> BacktestProgress {
    BacktestProgress {
        status: job.status.clone(),
        percent: format!("{:.0}", job.progress.clamp(0.0, 1.0) * 100.0),
        error: job.error.clone(),
    }
}

/// The status in words, with the progress while it runs.
pub fn status_text(job: &BacktestJob) -> String {
    match job.status.as_str() {
        "running" => format!("running {:.0}%", job.progress.clamp(0.0, 1.0) * 100.0),
        other => other.to_owned(),
    }
}

/// The list page; `form` is set for users who may start runs, `error` explains a refusal.
#[component]
pub fn BacktestsPage(
    jobs: Result<Vec<BacktestJob>, String>,
    form: Option<BacktestForm>,
    error: Option<String>,
) -> impl IntoView {
    let list = match jobs {
        Ok(j) if j.is_empty() => view! { <p class="empty" id="no-backtests">"No backtests yet."</p> }.into_any(),
        Ok(j) => view! {
            <table id="backtests">
                <thead>
                    <tr>
                        <th scope="col">"Run"</th><th scope="col">"Strategy"</th><th scope="col">"Parameters"</th>
                        <th scope="col">"Symbol"</th><th scope="col">"Interval"</th><th scope="col">"From (UTC)"</th>
                        <th scope="col">"To (UTC)"</th><th scope="col">"Status"</th><th scope="col">"By"</th>
                        <th scope="col">"Queued (UTC)"</th>
                    </tr>
                </thead>
                <tbody>
                    {j.into_iter().map(|job| {
                        let r = &job.request;
                        view! {
                            <tr id=format!("backtest-{}", job.id)>
                                <td><a href=format!("/backtests/{}", job.id)>{job.id.chars().take(8).collect::<String>()}</a></td>
                                <td>{request_text(r, "strategy")}</td>
                                <td><code>{request_text(r, "params")}</code></td>
                                <td>{request_text(r, "symbol")}</td><td>{request_text(r, "interval")}</td>
                                <td>{request_text(r, "from")}</td><td>{request_text(r, "to")}</td>
                                <td class=format!("status {}", job.status)>{status_text(&job)}</td>
                                <td>{job.created_by.clone()}</td><td>{time(job.created_at)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        Err(e) => unavailable("Backtests", &e),
    };
    view! {
        <h1>"Backtests"</h1>
        {form.map(|f| view! { <StartForm form=f error=error/> })}
        <h2 id="runs-h">"Latest runs"</h2>
        {list}
    }
}

#[component]
fn StartForm(form: BacktestForm, error: Option<String>) -> impl IntoView {
    let option = |value: &'static str, label: &'static str, current: &str| {
        view! { <option value=value selected={value == current}>{label}</option> }
    };
    let strategies = STRATEGIES.map(|(name, hint)| option(name, hint, &form.strategy));
    let intervals = INTERVALS.map(|i| option(i, i, &form.interval));
    let fills =
        [("next_open", "next bar's open"), ("close", "signal bar's close")].map(|(v, l)| option(v, l, &form.fill));
    let sources = [("postgres", "database (1-minute bars)"), ("archive", "archive (Parquet)")]
        .map(|(v, l)| option(v, l, &form.source));
    let text = |id: &'static str, label: &'static str, value: String, hint: &'static str| {
        view! {
            <label for=format!("bt-{id}")>{label}</label>
            <input id=format!("bt-{id}") name=id type="text" value=value placeholder=hint/>
        }
    };
    view! {
        <section class="form-panel" aria-labelledby="start-h">
            <h2 id="start-h">"Start a backtest"</h2>
            {error.map(|e| view! { <p class="error" id="backtest-error" role="alert">{e}</p> })}
            <form method="post" action="/backtests" class="grid">
                <input type="hidden" name="csrf" value=form.csrf/>
                <input type="hidden" name="nonce" value=form.nonce/>
                <label for="bt-strategy">"Strategy"</label>
                <select id="bt-strategy" name="strategy">{strategies}</select>
                {text("params", "Parameters", form.params, "fast=10, slow=30")}
                {text("symbol", "Symbol", form.symbol, "BTCUSD")}
                <label for="bt-interval">"Interval"</label>
                <select id="bt-interval" name="interval">{intervals}</select>
                <label for="bt-from">"From (UTC)"</label>
                <input id="bt-from" name="from" type="datetime-local" value=form.from required/>
                <label for="bt-to">"To (UTC)"</label>
                <input id="bt-to" name="to" type="datetime-local" value=form.to required/>
                {text("quantity", "Quantity per order", form.quantity, "1")}
                <label for="bt-fill">"Market orders fill at"</label>
                <select id="bt-fill" name="fill">{fills}</select>
                <label for="bt-source">"Bars from"</label>
                <select id="bt-source" name="source">{sources}</select>
                {text("fee_bps", "Fee (basis points, optional)", form.fee_bps, "0")}
                {text("fee_per_order", "Fee per order (optional)", form.fee_per_order, "0")}
                {text("slippage_bps", "Slippage (basis points, optional)", form.slippage_bps, "0")}
                {text("initial_capital", "Initial capital (optional)", form.initial_capital, "100000")}
                <button type="submit" class="btn" id="start-backtest">"Start backtest"</button>
            </form>
        </section>
    }
}

/// How a summary value is shown.
#[derive(Clone, Copy)]
enum Kind {
    /// As the engine wrote it (amounts, counts).
    Plain,
    /// A ratio shown as a percentage.
    Percent,
    /// A ratio with two decimals.
    Ratio,
}

/// The summary fields shown, in order: key, label, how.
const METRICS: [(&str, &str, Kind); 19] = [
    ("bars", "Bars", Kind::Plain),
    ("round_trips", "Round trips", Kind::Plain),
    ("realized_pnl", "Realized P&L", Kind::Plain),
    ("unrealized_pnl", "Unrealized P&L", Kind::Plain),
    ("fees", "Fees", Kind::Plain),
    ("initial_capital", "Initial capital", Kind::Plain),
    ("final_equity", "Final equity", Kind::Plain),
    ("total_return", "Total return", Kind::Percent),
    ("cagr", "CAGR", Kind::Percent),
    ("sharpe", "Sharpe ratio", Kind::Ratio),
    ("sortino", "Sortino ratio", Kind::Ratio),
    ("max_drawdown", "Max drawdown", Kind::Plain),
    ("max_drawdown_pct", "Max drawdown (share of peak)", Kind::Percent),
    ("win_rate", "Win rate", Kind::Percent),
    ("profit_factor", "Profit factor", Kind::Ratio),
    ("average_trade", "Average trade", Kind::Plain),
    ("exposure", "Exposure (time in the market)", Kind::Percent),
    ("orders", "Orders", Kind::Plain),
    ("fills", "Fills", Kind::Plain),
];

/// A summary value as shown: a dash for none (e.g. a Sharpe ratio without returns).
fn metric_text(value: Option<&serde_json::Value>, kind: Kind) -> String {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return "—".to_owned();
    };
    match (kind, value.as_f64()) {
        // A share below 0.01% keeps four decimals, so it does not read as zero.
        (Kind::Percent, Some(r)) if r != 0.0 && (r * 100.0).abs() < 0.01 => format!("{:.4}%", r * 100.0),
        (Kind::Percent, Some(r)) => format!("{:.2}%", r * 100.0),
        (Kind::Ratio, Some(r)) => format!("{r:.2}"),
        _ => value.as_str().map_or_else(|| value.to_string(), str::to_owned),
    }
}

/// One run.
#[component]
pub fn BacktestPage(job: BacktestJob, results: Option<BacktestResults>) -> impl IntoView {
    let r = job.request.clone();
    let described = format!(
        "{} {} on {} {} bars, {} to {} UTC, {} per order, fill at {}, bars from {}",
        request_text(&r, "strategy"),
        request_text(&r, "params"),
        request_text(&r, "symbol"),
        request_text(&r, "interval"),
        request_text(&r, "from"),
        request_text(&r, "to"),
        request_text(&r, "quantity"),
        request_text(&r, "fill"),
        request_text(&r, "source"),
    );
    let progress = job.in_progress().then(|| {
        view! {
            <LiveBacktestProgress id=job.id.clone() progress=progress_of(&job)/>
            <p class="meta">"The progress follows the run; the page shows the results when it ends."</p>
            // Without scripts the page reloads itself until the run ends (with scripts,
            // the island above or /assets/hydrate.js does).
            <noscript><meta http-equiv="refresh" content="2"/></noscript>
        }
    });
    let error = job.error.clone().map(|e| {
        let class = if job.status == "failed" { "error" } else { "notice" };
        view! { <p class=class id="backtest-failure" role="alert">{e}</p> }
    });
    let summary = job.summary.clone().map(|s| {
        view! {
            <h2 id="metrics-h">"Metrics"</h2>
            <table id="backtest-metrics" class="metrics">
                <tbody>
                    {METRICS.into_iter().map(|(key, label, kind)| view! {
                        <tr id=format!("metric-{key}")><th scope="row">{label}</th><td class="num">{metric_text(s.get(key), kind)}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
    });
    let results = results.map(|res| {
        let chart = match res.equity {
            Ok(csv) => view! { <EquityChart csv=csv/> }.into_any(),
            Err(e) => unavailable("The equity curve", &e),
        };
        let trades = match res.trades {
            Ok(t) => view! { <TradesTable trades=t/> }.into_any(),
            Err(e) => unavailable("The round trips", &e),
        };
        view! { {chart} {trades} }
    });
    view! {
        <h1>{format!("Backtest {}", job.id)}</h1>
        <p><a href="/backtests">"All backtests"</a></p>
        <dl class="facts">
            // While it runs the island below shows the status, kept current.
            {(!job.in_progress()).then(|| view! {
                <dt>"Status"</dt><dd id="backtest-status" class=format!("status {}", job.status)>{status_text(&job)}</dd>
            })}
            <dt>"Run"</dt><dd>{described}</dd>
            <dt>"Started by"</dt><dd>{job.created_by.clone()}</dd>
            <dt>"Queued"</dt><dd>{format!("{} UTC", time(job.created_at))}</dd>
            <dt>"Finished"</dt><dd>{job.finished_at.map_or_else(|| "—".to_owned(), |t| format!("{} UTC", time(t)))}</dd>
            <dt>"Attempts"</dt><dd>{job.attempts}</dd>
        </dl>
        {progress}
        {error}
        {summary}
        {results}
    }
}

#[component]
fn TradesTable(trades: Vec<BacktestTrade>) -> impl IntoView {
    let total = trades.len();
    let note =
        (total > TRADES_SHOWN).then(|| view! { <p class="meta">{format!("The first {TRADES_SHOWN} of {total}.")}</p> });
    let body = if trades.is_empty() {
        view! { <p class="empty" id="no-trades">"No round trips."</p> }.into_any()
    } else {
        view! {
            <table id="backtest-trades">
                <thead>
                    <tr>
                        <th scope="col" class="num">"#"</th><th scope="col">"Entry (UTC)"</th><th scope="col" class="num">"Entry price"</th>
                        <th scope="col">"Exit (UTC)"</th><th scope="col" class="num">"Exit price"</th>
                        <th scope="col" class="num">"Quantity"</th><th scope="col" class="num">"P&L"</th>
                    </tr>
                </thead>
                <tbody>
                    {trades.into_iter().take(TRADES_SHOWN).map(|t| {
                        let class = if t.pnl.is_sign_negative() && !t.pnl.is_zero() { "num loss" } else { "num gain" };
                        view! {
                            <tr>
                                <td class="num">{t.seq}</td><td>{time(t.entry_ts)}</td><td class="num">{t.entry_px.normalize().to_string()}</td>
                                <td>{time(t.exit_ts)}</td><td class="num">{t.exit_px.normalize().to_string()}</td>
                                <td class="num">{t.qty.normalize().to_string()}</td><td class=class>{t.pnl.normalize().to_string()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <h2 id="trades-h">{format!("Round trips ({total})")}</h2>
        {note}
        {body}
    }
}

/// One line of `equity.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct EquityPoint {
    /// Bar open time, epoch ms.
    pub ts: i64,
    /// Equity.
    pub equity: Decimal,
    /// Drawdown from the peak (zero or negative).
    pub drawdown: Decimal,
}

/// Reads `equity.csv` (`ts,equity,drawdown`, a header first); a malformed line is an error
/// naming it.
pub fn parse_equity(csv: &str) -> Result<Vec<EquityPoint>, String> {
    csv.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let mut cells = line.split(',');
            let (Some(ts), Some(equity), Some(drawdown), None) =
                (cells.next(), cells.next(), cells.next(), cells.next())
            else {
                return Err(format!("line {}: expected ts,equity,drawdown", n + 1));
            };
            let bad = |what: &str| format!("line {}: {what} is not a number", n + 1);
            Ok(EquityPoint {
                ts: ts.trim().parse().map_err(|_| bad("ts"))?,
                equity: equity.trim().parse().map_err(|_| bad("equity"))?,
                drawdown: drawdown.trim().parse().map_err(|_| bad("drawdown"))?,
            })
        })
        .collect()
}

/// At most `columns` points of the curve: for each run of consecutive points, the last
/// equity and the deepest drawdown (so no drawdown is hidden by the thinning).
pub fn thin(points: &[EquityPoint], columns: usize) -> Vec<EquityPoint> {
    if points.len() <= columns || columns == 0 {
        return points.to_vec();
    }
    let per = points.len().div_ceil(columns);
    points
        .chunks(per)
        .filter_map(|chunk| {
            let last = chunk.last()?;
            let deepest = chunk.iter().map(|p| p.drawdown).min()?;
            Some(EquityPoint { ts: last.ts, equity: last.equity, drawdown: deepest })
        })
        .collect()
}

const CHART_WIDTH: f64 = 900.0;
const EQUITY_HEIGHT: f64 = 220.0;
const DRAWDOWN_HEIGHT: f64 = 90.0;
const CHART_GAP: f64 = 14.0;

fn ms_time(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

/// The equity curve and, below it, the drawdown, drawn on the server as SVG: values are
/// compared and scaled as decimals, only pixel positions are floats.
#[component]
pub fn EquityChart(csv: String) -> impl IntoView {
    let points = match parse_equity(&csv) {
        Ok(p) => p,
        Err(e) => return unavailable("The equity curve", &format!("equity.csv: {e}")),
    };
    let points = thin(&points, CHART_WIDTH as usize);
    let (Some(low), Some(high), Some(deepest)) = (
        points.iter().map(|p| p.equity).min(),
        points.iter().map(|p| p.equity).max(),
        points.iter().map(|p| p.drawdown).min(),
    ) else {
        return view! { <p class="empty" id="no-equity">"No equity points."</p> }.into_any();
    };
    let step = if points.len() > 1 { CHART_WIDTH / (points.len() - 1) as f64 } else { 0.0 };
    let x = |i: usize| if points.len() > 1 { step * i as f64 } else { CHART_WIDTH / 2.0 };
    let equity_line = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), EQUITY_HEIGHT * (1.0 - fraction(p.equity, low, high))))
        .collect::<Vec<_>>()
        .join(" ");
    let top = EQUITY_HEIGHT + CHART_GAP;
    // Zero drawdown on the pane's top edge, the deepest on its bottom edge.
    let depth = |d: Decimal| top + DRAWDOWN_HEIGHT * fraction(-d, Decimal::ZERO, -deepest);
    let mut area = vec![format!("{:.1},{top:.1}", x(0))];
    area.extend(points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", x(i), depth(p.drawdown))));
    area.push(format!("{:.1},{top:.1}", x(points.len() - 1)));
    let first = points.first().map(|p| ms_time(p.ts)).unwrap_or_default();
    let last = points.last().map(|p| ms_time(p.ts)).unwrap_or_default();
    let final_equity = points.last().map(|p| p.equity).unwrap_or_default();
    let meta = format!(
        "{first} – {last} UTC · equity low {} · high {} · final {} · deepest drawdown {}",
        low.normalize(),
        high.normalize(),
        final_equity.normalize(),
        deepest.normalize()
    );
    let label = format!("Equity curve and drawdown from {first} to {last} UTC: {meta}");
    let height = top + DRAWDOWN_HEIGHT;
    view! {
        <section aria-labelledby="equity-h" id="equity-chart">
            <h2 id="equity-h">"Equity and drawdown"</h2>
            <p class="meta" id="equity-meta">{meta}</p>
            <svg class="equity" role="img" aria-label=label viewBox=format!("0 0 {CHART_WIDTH} {height}") preserveAspectRatio="none">
                <polyline class="equity-line" points=equity_line></polyline>
                <line class="axis" x1="0" x2=CHART_WIDTH y1=top y2=top></line>
                <polygon class="drawdown" points=area.join(" ")></polygon>
            </svg>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "ts,equity,drawdown\n1000,100000,0\n2000,100010.5,0\n3000,99990.25,-20.25\n";

    #[test]
    fn equity_csv_is_read_as_exact_decimals() {
        let p = parse_equity(CSV).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].equity, "100010.5".parse::<Decimal>().unwrap());
        assert_eq!(p[2].drawdown, "-20.25".parse::<Decimal>().unwrap());
        assert!(parse_equity("ts,equity,drawdown\n1,x,0\n").unwrap_err().contains("line 2"));
    }

    #[test]
    fn thinning_keeps_the_last_equity_and_the_deepest_drawdown_of_each_run() {
        let p = parse_equity(CSV).unwrap();
        let t = thin(&p, 2);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].equity, p[1].equity);
        assert_eq!(t[1].drawdown, p[2].drawdown);
        assert_eq!(thin(&p, 10), p);
    }

    #[test]
    fn the_chart_draws_a_line_and_a_drawdown_area() {
        let html = view! { <EquityChart csv=CSV.to_owned()/> }.to_html();
        assert!(html.contains("equity-line") && html.contains("drawdown"), "{html}");
        assert!(html.contains("deepest drawdown -20.25"), "{html}");
    }

    #[test]
    fn ratios_are_shown_as_percentages_and_missing_values_as_a_dash() {
        let v = serde_json::json!(0.1234);
        assert_eq!(metric_text(Some(&v), Kind::Percent), "12.34%");
        assert_eq!(metric_text(Some(&serde_json::json!(0.0000123)), Kind::Percent), "0.0012%");
        assert_eq!(metric_text(Some(&serde_json::json!(0)), Kind::Percent), "0.00%");
        assert_eq!(metric_text(Some(&serde_json::Value::Null), Kind::Ratio), "—");
        assert_eq!(metric_text(Some(&serde_json::json!(-521.31)), Kind::Plain), "-521.31");
    }
}
