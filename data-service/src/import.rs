//! `data-service import --symbol SYM --file bars.csv`: OHLCV 1-minute bars from CSV.
//!
//! Format: header `timestamp,open,high,low,close,volume`; `timestamp` is the bar's open time in
//! epoch milliseconds or RFC 3339, on a whole minute, strictly increasing. The whole file is
//! checked before anything is written, every bad line is reported by number, and the rows are
//! written in one transaction: a file is imported entirely or not at all. Importing the same
//! file again replaces the same bars (idempotent).

use std::{collections::HashSet, time::Instant};

use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use rust_decimal::Decimal;
use sqlx::PgPool;

use crate::{ingest::store, market::Bar, symbols::Symbols, timeparse::parse_timestamp};

/// The expected header.
pub const HEADER: [&str; 6] = ["timestamp", "open", "high", "low", "close", "volume"];
/// At most this many bad lines are listed in one error.
const MAX_REPORTED: usize = 20;

/// Why a file was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Lines that do not parse or make no sense; nothing was written.
    #[error("{} bad line(s), nothing imported:\n{}", .total, .lines.iter().map(|(n, m)| format!("  line {n}: {m}")).collect::<Vec<_>>().join("\n"))]
    BadLines {
        /// Line number and problem, up to the first 20.
        lines: Vec<(usize, String)>,
        /// How many lines were bad in all.
        total: usize,
    },
    /// The file has no data rows.
    #[error("the file has no bars")]
    Empty,
    /// The database failed; the transaction was rolled back and nothing was written.
    #[error("database error, nothing imported: {0}")]
    Database(#[from] sqlx::Error),
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    /// Bars written.
    pub bars: usize,
    /// First bar's open time.
    pub first: DateTime<Utc>,
    /// Last bar's open time.
    pub last: DateTime<Utc>,
}

/// Parses and checks a whole CSV text.
pub fn parse_bars_csv(text: &str) -> Result<Vec<Bar>, ImportError> {
    let mut bars = Vec::new();
    let mut bad: Vec<(usize, String)> = Vec::new();
    let mut total_bad = 0;
    let mut report = |n: usize, m: String, bad: &mut Vec<(usize, String)>| {
        total_bad += 1;
        if bad.len() < MAX_REPORTED {
            bad.push((n, m));
        }
    };
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    match lines.next() {
        Some((_, header)) if header.split(',').map(str::trim).eq(HEADER) => {}
        Some((n, header)) => {
            report(n, format!("expected the header {:?}, found {header:?}", HEADER.join(",")), &mut bad)
        }
        None => return Err(ImportError::Empty),
    }
    let mut previous: Option<DateTime<Utc>> = None;
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(bar) => {
                if let Some(p) = previous {
                    if bar.ts <= p {
                        report(
                            n,
                            format!(
                                "timestamp {} is not after the previous bar's {}",
                                bar.ts.to_rfc3339(),
                                p.to_rfc3339()
                            ),
                            &mut bad,
                        );
                    }
                }
                previous = Some(bar.ts);
                bars.push(bar);
            }
            Err(m) => report(n, m, &mut bad),
        }
    }
    if !bad.is_empty() {
        return Err(ImportError::BadLines { lines: bad, total: total_bad });
    }
    if bars.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(bars)
}

fn parse_line(line: &str) -> Result<Bar, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    if fields.len() != HEADER.len() {
        return Err(format!("expected {} fields, found {}", HEADER.len(), fields.len()));
    }
    let ts = parse_timestamp(fields[0]).map_err(|e| format!("timestamp: {e}"))?;
    if ts.timestamp_subsec_nanos() != 0 || ts.timestamp() % 60 != 0 {
        return Err(format!(
            "timestamp {} is not on a whole minute (1-minute bars are stamped with their open time)",
            fields[0]
        ));
    }
    let number = |i: usize| -> Result<Decimal, String> {
        fields[i].parse::<Decimal>().map_err(|_| format!("{}: {:?} is not a decimal number", HEADER[i], fields[i]))
    };
    let (open, high, low, close, volume) = (number(1)?, number(2)?, number(3)?, number(4)?, number(5)?);
    if low <= Decimal::ZERO {
        return Err(format!("low: prices must be positive, got {low}"));
    }
    if high < open.max(close).max(low) || low > open.min(close) {
        return Err(format!("inconsistent bar: high {high} and low {low} must bound open {open} and close {close}"));
    }
    if volume < Decimal::ZERO {
        return Err(format!("volume: must not be negative, got {volume}"));
    }
    Ok(Bar { ts, open, high, low, close, volume, trades: 0 })
}

/// Writes parsed bars for `symbol` in one transaction, advancing `progress` by bars written.
pub async fn import_bars(
    pool: &PgPool,
    symbols: &Symbols,
    symbol: &str,
    bars: &[Bar],
    progress: &ProgressBar,
) -> Result<ImportSummary, ImportError> {
    let (Some(first), Some(last)) = (bars.first(), bars.last()) else {
        return Err(ImportError::Empty);
    };
    let started = Instant::now();
    let id = symbols.id_or_create(pool, symbol).await?;
    // Partitions are DDL and commit on their own; an empty partition left by a failed import is harmless.
    let days: HashSet<_> = bars.iter().map(|b| b.ts.date_naive()).collect();
    store::ensure_partitions(pool, &mut HashSet::new(), days, false).await?;
    let mut tx = pool.begin().await?;
    for chunk in bars.chunks(10_000) {
        store::replace_bars(&mut tx, id, chunk).await?;
        progress.inc(chunk.len() as u64);
    }
    tx.commit().await?;
    tracing::info!(symbol, bars = bars.len(), elapsed_ms = started.elapsed().as_millis() as u64, "bars imported");
    Ok(ImportSummary { bars: bars.len(), first: first.ts, last: last.ts })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "timestamp,open,high,low,close,volume\n1704067200000,100.0000,100.5000,99.5000,100.2500,12\n2024-01-01T00:01:00Z,100.25,101,100,100.75,3.5\n";

    #[test]
    fn epoch_ms_and_rfc3339_rows_parse_exactly() {
        let bars = parse_bars_csv(GOOD).unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[0].close.to_string(), "100.2500");
        assert_eq!(bars[1].ts.timestamp(), 1_704_067_260);
    }

    #[test]
    fn every_bad_line_is_reported_by_number() {
        let text = "timestamp,open,high,low,close,volume\n1704067200000,1,2,0.5,1.5,1\n1704067260000,1,x,0.5,1.5,1\n1704067320000,1,2,0.5\n1704067380000,3,2,0.5,1.5,1\n";
        match parse_bars_csv(text).unwrap_err() {
            ImportError::BadLines { lines, total } => {
                assert_eq!(total, 3);
                assert_eq!(lines.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![3, 4, 5]);
                assert!(lines[0].1.contains("high"), "{:?}", lines[0]);
                assert!(lines[2].1.contains("inconsistent"), "{:?}", lines[2]);
            }
            other => panic!("expected bad lines, got {other:?}"),
        }
    }

    #[test]
    fn out_of_order_and_off_minute_timestamps_are_refused() {
        let text = "timestamp,open,high,low,close,volume\n1704067260000,1,2,0.5,1.5,1\n1704067200000,1,2,0.5,1.5,1\n1704067201000,1,2,0.5,1.5,1\n";
        let err = parse_bars_csv(text).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("not after"), "{err}");
        assert!(err.contains("line 4") && err.contains("whole minute"), "{err}");
    }

    #[test]
    fn a_wrong_header_is_refused() {
        assert!(parse_bars_csv("time,o,h,l,c,v\n").unwrap_err().to_string().contains("line 1"));
    }

    #[test]
    fn a_header_only_file_is_empty() {
        assert!(matches!(parse_bars_csv("timestamp,open,high,low,close,volume\n"), Err(ImportError::Empty)));
    }
}
