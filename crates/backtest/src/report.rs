//! Output files of a run: `summary.json`, `trades.csv`, `equity.csv` and `report.html` (an
//! equity-curve and drawdown chart drawn as SVG with plotters).
//!
//! Files are first written under temporary names and renamed into place at the end, with
//! `summary.json` last, so a failed run never leaves a directory that looks complete.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use domain::{Money, Qty};
use serde_json::{json, Value};

use crate::metrics::{Metrics, ASSUMPTIONS};
use crate::simulation::SimulationResult;

/// Why the outputs could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or directory could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The chart could not be drawn.
    #[error("cannot draw chart: {0}")]
    Chart(String),
}

/// Describes a run for the summary (what was run on what).
#[derive(Debug, Clone)]
pub struct RunDescription {
    /// Strategy name.
    pub strategy: String,
    /// Parameters as `name=value,…`.
    pub params: String,
    /// Data file.
    pub data: String,
    /// Fill timing as given on the command line.
    pub fill: String,
    /// Order quantity.
    pub quantity: Qty,
    /// Fee per order.
    pub fee_per_order: Money,
    /// Fee rate in basis points.
    pub fee_bps: String,
    /// Slippage in basis points.
    pub slippage_bps: String,
    /// Price decimals of the data.
    pub price_decimals: u8,
    /// Epoch ms of the first bar.
    pub first_ts_ms: Option<i64>,
    /// Epoch ms of the last bar.
    pub last_ts_ms: Option<i64>,
}

/// An exact amount as a JSON number: its decimal text read as the nearest `f64`, which prints
/// back as the same text for amounts up to ~15 significant digits (e.g. `-521.31`).
#[must_use]
pub fn money_json(amount: Money) -> Value {
    number_json(&amount.to_string())
}

fn qty_json(qty: Qty) -> Value {
    number_json(&qty.to_string())
}

fn number_json(text: &str) -> Value {
    if let Ok(whole) = text.parse::<i64>() {
        return Value::from(whole);
    }
    text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
}

fn ratio_json(value: Option<f64>) -> Value {
    value.filter(|v| v.is_finite()).and_then(serde_json::Number::from_f64).map_or(Value::Null, Value::Number)
}

/// The `summary.json` document.
#[must_use]
pub fn summary_json(description: &RunDescription, result: &SimulationResult, metrics: &Metrics) -> Value {
    let elapsed_ms = result.elapsed.as_secs_f64() * 1e3;
    let bars_per_second =
        if result.elapsed.as_secs_f64() > 0.0 { result.bars as f64 / result.elapsed.as_secs_f64() } else { 0.0 };
    let rejections: serde_json::Map<String, Value> =
        result.risk_rejections.iter().map(|(reason, count)| (reason.code().to_owned(), json!(count))).collect();
    json!({
        "strategy": description.strategy,
        "params": description.params,
        "data": description.data,
        "fill": description.fill,
        "quantity": qty_json(description.quantity),
        "fee_per_order": money_json(description.fee_per_order),
        "fee_bps": number_json(&description.fee_bps),
        "slippage_bps": number_json(&description.slippage_bps),
        "price_decimals": description.price_decimals,
        "first_ts": description.first_ts_ms,
        "last_ts": description.last_ts_ms,
        "bars": result.bars,
        "round_trips": metrics.round_trips,
        "realized_pnl": money_json(metrics.realized_pnl),
        "unrealized_pnl": money_json(metrics.unrealized_pnl),
        "open_position": qty_json(metrics.open_position),
        "fees": money_json(metrics.fees),
        "initial_capital": money_json(metrics.initial_capital),
        "final_equity": money_json(metrics.final_equity),
        "total_return": ratio_json(Some(metrics.total_return)),
        "cagr": ratio_json(metrics.cagr),
        "sharpe": ratio_json(metrics.sharpe),
        "sortino": ratio_json(metrics.sortino),
        "max_drawdown": money_json(metrics.max_drawdown),
        "max_drawdown_pct": ratio_json(Some(metrics.max_drawdown_pct)),
        "max_drawdown_duration_bars": metrics.max_drawdown_duration_bars,
        "max_drawdown_duration_ms": metrics.max_drawdown_duration_ms,
        "win_rate": ratio_json(metrics.win_rate),
        "profit_factor": ratio_json(metrics.profit_factor),
        "average_trade": metrics.average_trade.map_or(Value::Null, money_json),
        "exposure": ratio_json(Some(metrics.exposure)),
        "orders": result.orders_submitted,
        "fills": result.fills,
        "unfilled_orders": result.unfilled_orders,
        "risk_rejections": rejections,
        "elapsed_ms": ratio_json(Some(elapsed_ms)),
        "bars_per_second": ratio_json(Some(bars_per_second)),
        "bars_per_year": ratio_json(Some(metrics.bars_per_year)),
        "assumptions": ASSUMPTIONS,
    })
}

/// A file being written under a temporary name in the output directory.
struct PendingFile {
    temporary: PathBuf,
    target: PathBuf,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ReportError + '_ {
    move |source| ReportError::Io { path: path.to_owned(), source }
}

fn write_pending(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<PendingFile, ReportError> {
    let target = dir.join(name);
    let temporary = dir.join(format!(".{name}.partial"));
    let written = fs::File::create(&temporary).and_then(|file| {
        let mut writer = BufWriter::with_capacity(1 << 16, file);
        write(&mut writer)?;
        writer.flush()
    });
    if let Err(source) = written {
        let _ = fs::remove_file(&temporary);
        return Err(ReportError::Io { path: temporary, source });
    }
    Ok(PendingFile { temporary, target })
}

/// Writes `trades.csv`: one round trip per line, prices with the data's precision.
///
/// # Errors
/// Any I/O error of `out`.
pub fn write_trades_csv(out: &mut dyn Write, result: &SimulationResult, price_decimals: u8) -> io::Result<()> {
    writeln!(out, "entry_ts,entry_px,exit_ts,exit_px,qty,pnl")?;
    for trip in &result.round_trips {
        writeln!(
            out,
            "{},{},{},{},{},{}",
            trip.entry_ts.millis(),
            trip.entry_price.display_with(price_decimals),
            trip.exit_ts.millis(),
            trip.exit_price.display_with(price_decimals),
            trip.qty,
            trip.pnl.display_min(2),
        )?;
    }
    Ok(())
}

/// Writes `equity.csv`: `ts,equity,drawdown` per bar (ts = the bar's open time in epoch ms).
///
/// # Errors
/// Any I/O error of `out`.
pub fn write_equity_csv(
    out: &mut dyn Write,
    result: &SimulationResult,
    bar_ts_ms: impl Iterator<Item = i64>,
    initial_capital: Money,
) -> io::Result<()> {
    writeln!(out, "ts,equity,drawdown")?;
    let mut peak = initial_capital;
    let mut line = String::with_capacity(64);
    for (ts, equity) in bar_ts_ms.zip(&result.equity) {
        peak = peak.max(*equity);
        let drawdown = equity.checked_sub(peak).unwrap_or(Money::ZERO);
        line.clear();
        let _ = writeln!(line, "{ts},{},{}", equity.display_min(2), drawdown.display_min(2));
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Largest number of points drawn per chart; longer series are reduced per bucket (last
/// equity, deepest drawdown) so the SVG stays small.
const CHART_POINTS: usize = 2_000;

/// Draws the equity curve and the drawdown below it as one SVG document.
///
/// # Errors
/// [`ReportError::Chart`] if plotters fails.
pub fn equity_chart_svg(
    result: &SimulationResult,
    bar_ts_ms: &[i64],
    initial_capital: Money,
) -> Result<String, ReportError> {
    use plotters::prelude::*;

    let first_ts = bar_ts_ms.first().copied().unwrap_or(0);
    let day = |ts: i64| (ts - first_ts) as f64 / 86_400_000.0;
    let bucket = result.equity.len().div_ceil(CHART_POINTS).max(1);
    let mut equity_points = Vec::with_capacity(CHART_POINTS + 1);
    let mut drawdown_points = Vec::with_capacity(CHART_POINTS + 1);
    let mut peak = initial_capital.to_f64_lossy();
    let mut deepest = 0.0_f64;
    for (index, (equity, ts)) in result.equity.iter().zip(bar_ts_ms).enumerate() {
        let value = equity.to_f64_lossy();
        peak = peak.max(value);
        deepest = deepest.min(value - peak);
        if (index + 1) % bucket == 0 || index + 1 == result.equity.len() {
            equity_points.push((day(*ts), value));
            drawdown_points.push((day(*ts), deepest));
            deepest = 0.0;
        }
    }
    let x_end = equity_points.last().map_or(1.0, |p| p.0.max(1e-9));
    let (low, high) =
        equity_points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let (low, high) = if low.is_finite() { (low, high) } else { (0.0, 1.0) };
    let pad = ((high - low) * 0.05).max(1e-6);
    let worst = drawdown_points.iter().fold(0.0_f64, |w, p| w.min(p.1)).min(-1e-6);

    let mut svg = String::new();
    {
        let chart_error = |e: &dyn std::fmt::Display| ReportError::Chart(e.to_string());
        let root = SVGBackend::with_string(&mut svg, (1000, 640)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| chart_error(&e))?;
        let (top, bottom) = root.split_vertically(420);
        let mut equity_chart = ChartBuilder::on(&top)
            .caption("Equity", ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..x_end, (low - pad)..(high + pad))
            .map_err(|e| chart_error(&e))?;
        equity_chart
            .configure_mesh()
            .x_desc("days since first bar")
            .y_desc("equity")
            .draw()
            .map_err(|e| chart_error(&e))?;
        equity_chart.draw_series(LineSeries::new(equity_points, &BLUE)).map_err(|e| chart_error(&e))?;
        let mut drawdown_chart = ChartBuilder::on(&bottom)
            .caption("Drawdown", ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..x_end, (worst * 1.05)..0.0)
            .map_err(|e| chart_error(&e))?;
        drawdown_chart
            .configure_mesh()
            .x_desc("days since first bar")
            .y_desc("drawdown")
            .draw()
            .map_err(|e| chart_error(&e))?;
        drawdown_chart.draw_series(LineSeries::new(drawdown_points, &RED)).map_err(|e| chart_error(&e))?;
        root.present().map_err(|e| chart_error(&e))?;
    }
    Ok(svg)
}

/// `text` safe inside HTML elements and attribute values.
#[must_use]
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The HTML report: a table of the summary and the embedded SVG chart.
#[must_use]
pub fn report_html(summary: &Value, chart_svg: &str) -> String {
    let mut rows = String::new();
    if let Value::Object(fields) = summary {
        for (name, value) in fields {
            let shown = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let _ = writeln!(rows, "<tr><th>{}</th><td>{}</td></tr>", escape_html(name), escape_html(&shown));
        }
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Halyard backtest report</title>\n\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}th,td{{text-align:left;padding:2px 12px;border-bottom:1px solid #ddd}}</style>\n\
</head>\n<body>\n<h1>Backtest report</h1>\n<figure>\n{chart_svg}\n</figure>\n<h2>Summary</h2>\n<table>\n{rows}</table>\n</body>\n</html>\n"
    )
}

/// Everything needed to write the output directory of one run.
#[derive(Debug)]
pub struct RunOutputs<'a> {
    /// What was run.
    pub description: &'a RunDescription,
    /// The loop's result.
    pub result: &'a SimulationResult,
    /// Its metrics.
    pub metrics: &'a Metrics,
    /// Open time (epoch ms) of every bar, in order.
    pub bar_ts_ms: &'a [i64],
}

/// The output files of one run, in memory: `(name, contents)` with `summary.json` last.
#[derive(Debug)]
pub struct RenderedOutputs {
    /// The summary as JSON.
    pub summary: Value,
    /// `trades.csv`, `equity.csv`, `report.html`, `summary.json`, in that order.
    pub files: Vec<(&'static str, Vec<u8>)>,
}

/// Renders the four output files in memory (for object stores).
///
/// # Errors
/// [`ReportError::Chart`] if the chart cannot be drawn.
pub fn render_outputs(outputs: &RunOutputs<'_>) -> Result<RenderedOutputs, ReportError> {
    let summary = summary_json(outputs.description, outputs.result, outputs.metrics);
    let chart = equity_chart_svg(outputs.result, outputs.bar_ts_ms, outputs.metrics.initial_capital)?;
    let in_memory = |name: &'static str, write: &dyn Fn(&mut dyn Write) -> io::Result<()>| {
        let mut bytes = Vec::new();
        write(&mut bytes).map_err(|source| ReportError::Io { path: PathBuf::from(name), source })?;
        Ok::<_, ReportError>((name, bytes))
    };
    let decimals = outputs.description.price_decimals;
    let files = vec![
        in_memory("trades.csv", &|out| write_trades_csv(out, outputs.result, decimals))?,
        in_memory("equity.csv", &|out| {
            write_equity_csv(out, outputs.result, outputs.bar_ts_ms.iter().copied(), outputs.metrics.initial_capital)
        })?,
        ("report.html", report_html(&summary, &chart).into_bytes()),
        in_memory("summary.json", &|out| {
            serde_json::to_writer_pretty(&mut *out, &summary).map_err(io::Error::other)?;
            writeln!(out)
        })?,
    ];
    Ok(RenderedOutputs { summary, files })
}

/// Writes `summary.json`, `trades.csv`, `equity.csv` and `report.html` into `dir` (created if
/// needed); the files appear only once all of them are written.
///
/// # Errors
/// [`ReportError`] if a file cannot be written or the chart cannot be drawn.
pub fn write_outputs(dir: &Path, outputs: &RunOutputs<'_>) -> Result<Value, ReportError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let rendered = render_outputs(outputs)?;
    let mut pending = Vec::with_capacity(rendered.files.len());
    let written = (|| {
        for (name, bytes) in &rendered.files {
            pending.push(write_pending(dir, name, |out| out.write_all(bytes))?);
        }
        Ok(())
    })();
    if let Err(error) = written {
        for file in &pending {
            let _ = fs::remove_file(&file.temporary);
        }
        return Err(error);
    }
    // summary.json is renamed last: its presence marks a complete output directory.
    for file in pending {
        fs::rename(&file.temporary, &file.target).map_err(io_error(&file.target))?;
    }
    Ok(rendered.summary)
}
