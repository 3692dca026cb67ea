//! Loading bars from CSV: `timestamp,open,high,low,close,volume`, one bar per line, timestamps in
//! epoch milliseconds or RFC 3339, strictly increasing at a regular interval.
//!
//! The parser works on raw bytes in large chunks and never goes through `f64`: prices are read
//! straight into fixed-point values, and the largest number of decimals seen is kept as the
//! data's price precision so that outputs print prices the way the data did.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use domain::fixed::{parse_decimal, ParseFixedError};
use domain::{Bar, InstrumentId, Price, Qty, Timestamp};

/// The header every bar file starts with.
pub const EXPECTED_HEADER: &str = "timestamp,open,high,low,close,volume";
const FIELD_NAMES: [&str; 6] = ["timestamp", "open", "high", "low", "close", "volume"];
const CHUNK_BYTES: usize = 1 << 20;

/// Why a bar file could not be loaded. Line numbers count from 1, the header being line 1.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file has no header or no bars.
    #[error("no bars: the data is empty")]
    Empty,
    /// The first line is not the expected header.
    #[error("line 1: expected header `{EXPECTED_HEADER}`, found `{found}`")]
    Header {
        /// What the first line said.
        found: String,
    },
    /// A line has the wrong number of fields.
    #[error("line {line}: expected 6 fields ({EXPECTED_HEADER}), found {found}")]
    FieldCount {
        /// Line number.
        line: u64,
        /// Fields found.
        found: usize,
    },
    /// A field could not be parsed.
    #[error("line {line}, field `{field}`: `{value}` is not {expected}")]
    Field {
        /// Line number.
        line: u64,
        /// Column name.
        field: &'static str,
        /// The text found.
        value: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// The prices of a bar contradict each other (e.g. high below low).
    #[error("line {line}, field `{field}`: {problem}")]
    InconsistentBar {
        /// Line number.
        line: u64,
        /// Column at fault.
        field: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// A timestamp is not after the previous one.
    #[error("line {line}, field `timestamp`: data not sorted: {found_ms} ms is not after the previous bar's {previous_ms} ms")]
    Unsorted {
        /// Line number.
        line: u64,
        /// This bar's time (epoch ms).
        found_ms: i64,
        /// The previous bar's time (epoch ms).
        previous_ms: i64,
    },
    /// The spacing of two bars differs from the data's interval (missing bars).
    #[error("line {line}, field `timestamp`: gap in data: expected {expected_ms} ms (interval {interval_ms} ms), found {found_ms} ms")]
    Gap {
        /// Line number.
        line: u64,
        /// Time the bar should have had (epoch ms).
        expected_ms: i64,
        /// Time it has (epoch ms).
        found_ms: i64,
        /// The data's interval, from its first two bars.
        interval_ms: i64,
    },
}

/// Options for [`read_bars`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// The instrument the bars are attributed to.
    pub instrument: InstrumentId,
    /// Accept missing bars (irregular spacing); the order is still checked.
    pub allow_gaps: bool,
}

/// Bars loaded from a file, with what was learned about them.
#[derive(Debug, Clone)]
pub struct BarSeries {
    /// The bars, strictly increasing in time.
    pub bars: Vec<Bar>,
    /// Largest number of decimals written in any price: the precision outputs print with.
    pub price_decimals: u8,
    /// Spacing of the first two bars in nanoseconds (`None` for a single bar).
    pub interval_nanos: Option<i64>,
}

/// Loads bars from `path`; a name ending in `.gz` is decompressed on the fly.
///
/// # Errors
/// [`DataError`] naming the line and field of the first problem.
pub fn load_bars(path: &Path, options: &LoadOptions) -> Result<BarSeries, DataError> {
    let io_error = |source| DataError::Io { path: path.to_owned(), source };
    let file = File::open(path).map_err(io_error)?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let is_gzip = path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("gz"));
    // Reserve for the shortest plausible lines: reserved but untouched capacity costs no
    // resident memory, while growing a full vector would briefly hold two copies.
    let expected_bytes = if is_gzip { file_len.saturating_mul(4) } else { file_len };
    let capacity_hint = usize::try_from(expected_bytes / 24).unwrap_or(0);
    let result = if is_gzip {
        read_bars_with_hint(flate2::read::GzDecoder::new(file), options, capacity_hint)
    } else {
        read_bars_with_hint(file, options, capacity_hint)
    };
    result.map_err(|error| match error {
        DataError::Io { source, .. } => io_error(source),
        other => other,
    })
}

/// Reads bars from any byte stream in the CSV format.
///
/// # Errors
/// [`DataError`] naming the line and field of the first problem.
pub fn read_bars<R: Read>(reader: R, options: &LoadOptions) -> Result<BarSeries, DataError> {
    read_bars_with_hint(reader, options, 0)
}

fn read_bars_with_hint<R: Read>(
    mut reader: R,
    options: &LoadOptions,
    capacity_hint: usize,
) -> Result<BarSeries, DataError> {
    let mut parser = LineParser::new(*options, capacity_hint);
    let mut buffer = vec![0_u8; CHUNK_BYTES];
    let mut filled = 0;
    loop {
        if filled == buffer.len() {
            // A single line longer than the buffer: grow rather than fail.
            buffer.resize(buffer.len() * 2, 0);
        }
        let read = match reader.read(&mut buffer[filled..]) {
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(DataError::Io { path: PathBuf::new(), source }),
        };
        filled += read;
        let mut start = 0;
        while let Some(offset) = buffer[start..filled].iter().position(|&b| b == b'\n') {
            parser.line(&buffer[start..start + offset])?;
            start += offset + 1;
        }
        if read == 0 {
            if start < filled {
                parser.line(&buffer[start..filled])?;
            }
            return parser.finish();
        }
        buffer.copy_within(start..filled, 0);
        filled -= start;
    }
}

struct LineParser {
    options: LoadOptions,
    line_number: u64,
    bars: Vec<Bar>,
    price_decimals: u8,
    interval_nanos: Option<i64>,
    /// A blank line was seen; only more blank lines may follow it.
    blank_line_at: Option<u64>,
}

impl LineParser {
    fn new(options: LoadOptions, capacity_hint: usize) -> Self {
        Self {
            options,
            line_number: 0,
            bars: Vec::with_capacity(capacity_hint),
            price_decimals: 0,
            interval_nanos: None,
            blank_line_at: None,
        }
    }

    fn line(&mut self, raw: &[u8]) -> Result<(), DataError> {
        self.line_number += 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if self.line_number == 1 {
            let header = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
            if header != EXPECTED_HEADER.as_bytes() {
                return Err(DataError::Header { found: String::from_utf8_lossy(header).into_owned() });
            }
            return Ok(());
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            self.blank_line_at.get_or_insert(self.line_number);
            return Ok(());
        }
        if let Some(blank) = self.blank_line_at {
            return Err(DataError::FieldCount { line: blank, found: 0 });
        }
        let bar = self.parse_bar(line)?;
        self.check_spacing(&bar)?;
        self.bars.push(bar);
        Ok(())
    }

    fn parse_bar(&mut self, line: &[u8]) -> Result<Bar, DataError> {
        let mut fields = [&line[..0]; 6];
        let mut count = 0;
        for field in line.split(|&b| b == b',') {
            if count < 6 {
                fields[count] = field;
            }
            count += 1;
        }
        if count != 6 {
            return Err(DataError::FieldCount { line: self.line_number, found: count });
        }
        let ts = self.timestamp(fields[0])?;
        let open = self.price(fields[1], 1)?;
        let high = self.price(fields[2], 2)?;
        let low = self.price(fields[3], 3)?;
        let close = self.price(fields[4], 4)?;
        let volume = match parse_decimal(fields[5]) {
            Ok((raw, _)) if raw >= 0 => Qty::from_raw(raw),
            _ => return Err(self.field_error(5, fields[5], "a non-negative decimal volume")),
        };
        let inconsistent = |field, problem| DataError::InconsistentBar { line: self.line_number, field, problem };
        if high < low {
            return Err(inconsistent("high", "high is below low"));
        }
        if open > high || open < low {
            return Err(inconsistent("open", "open is outside the high-low range"));
        }
        if close > high || close < low {
            return Err(inconsistent("close", "close is outside the high-low range"));
        }
        Ok(Bar { instrument: self.options.instrument, ts, open, high, low, close, volume })
    }

    fn field_error(&self, index: usize, value: &[u8], expected: &'static str) -> DataError {
        DataError::Field {
            line: self.line_number,
            field: FIELD_NAMES[index],
            value: String::from_utf8_lossy(value).into_owned(),
            expected,
        }
    }

    #[inline]
    fn price(&mut self, text: &[u8], index: usize) -> Result<Price, DataError> {
        match parse_decimal(text) {
            Ok((raw, decimals)) if raw > 0 => {
                self.price_decimals = self.price_decimals.max(decimals.min(domain::fixed::DECIMALS));
                Ok(Price::from_raw(raw))
            }
            Ok(_) => Err(self.field_error(index, text, "a positive price")),
            Err(ParseFixedError::TooManyDecimals) => {
                Err(self.field_error(index, text, "a price with at most 8 decimals"))
            }
            Err(_) => Err(self.field_error(index, text, "a decimal price")),
        }
    }

    fn timestamp(&self, text: &[u8]) -> Result<Timestamp, DataError> {
        let parsed = if !text.is_empty() && text.iter().all(u8::is_ascii_digit) {
            parse_epoch_millis(text)
        } else {
            parse_rfc3339(text)
        };
        parsed.ok_or_else(|| self.field_error(0, text, "epoch milliseconds or an RFC 3339 time"))
    }

    fn check_spacing(&mut self, bar: &Bar) -> Result<(), DataError> {
        let Some(previous) = self.bars.last() else {
            return Ok(());
        };
        let delta = bar.ts.nanos() - previous.ts.nanos();
        if delta <= 0 {
            return Err(DataError::Unsorted {
                line: self.line_number,
                found_ms: bar.ts.millis(),
                previous_ms: previous.ts.millis(),
            });
        }
        match self.interval_nanos {
            None => self.interval_nanos = Some(delta),
            Some(interval) if delta != interval && !self.options.allow_gaps => {
                return Err(DataError::Gap {
                    line: self.line_number,
                    expected_ms: Timestamp::from_nanos(previous.ts.nanos() + interval).millis(),
                    found_ms: bar.ts.millis(),
                    interval_ms: interval / 1_000_000,
                });
            }
            Some(_) => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<BarSeries, DataError> {
        if self.bars.is_empty() {
            return Err(DataError::Empty);
        }
        Ok(BarSeries { bars: self.bars, price_decimals: self.price_decimals, interval_nanos: self.interval_nanos })
    }
}

fn parse_epoch_millis(text: &[u8]) -> Option<Timestamp> {
    if text.len() > 18 {
        return None;
    }
    let millis = text.iter().fold(0_i64, |acc, &b| acc * 10 + i64::from(b - b'0'));
    Timestamp::checked_from_millis(millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (a space may replace the `T`).
fn parse_rfc3339(text: &[u8]) -> Option<Timestamp> {
    fn digits(text: &[u8], range: std::ops::Range<usize>) -> Option<i64> {
        let slice = text.get(range)?;
        slice.iter().all(u8::is_ascii_digit).then(|| slice.iter().fold(0, |acc, &b| acc * 10 + i64::from(b - b'0')))
    }
    if text.len() < 20 || text[4] != b'-' || text[7] != b'-' || text[13] != b':' || text[16] != b':' {
        return None;
    }
    if !matches!(text[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (digits(text, 0..4)?, digits(text, 5..7)?, digits(text, 8..10)?);
    let (hour, minute, second) = (digits(text, 11..13)?, digits(text, 14..16)?, digits(text, 17..19)?);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0_i64;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let length = fraction.iter().take_while(|b| b.is_ascii_digit()).count();
        if length == 0 {
            return None;
        }
        for (index, &b) in fraction[..length].iter().enumerate() {
            if index < 9 {
                nanos += i64::from(b - b'0') * 10_i64.pow(8 - index as u32);
            }
        }
        rest = &fraction[length..];
    }
    let offset_seconds = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2], 0..2)?;
            let minutes = digits(&[*m1, *m2], 0..2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'+' {
                seconds
            } else {
                -seconds
            }
        }
        _ => return None,
    };
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos).map(Timestamp::from_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<BarSeries, DataError> {
        read_bars(text.as_bytes(), &LoadOptions::default())
    }

    const HEADER: &str = "timestamp,open,high,low,close,volume\n";

    #[test]
    fn reads_epoch_millis_bars_and_remembers_price_precision() {
        let series = parse(&format!(
            "{HEADER}1577836800000,100.0125,100.0704,100.0095,100.0209,1036\n1577836860000,100.0270,100.0934,99.9832,100.0512,1051\n"
        ))
        .unwrap();
        assert_eq!(series.bars.len(), 2);
        assert_eq!(series.price_decimals, 4);
        assert_eq!(series.interval_nanos, Some(60_000_000_000));
        assert_eq!(series.bars[1].ts.millis(), 1_577_836_860_000);
        assert_eq!(series.bars[1].low, "99.9832".parse().unwrap());
        assert_eq!(series.bars[0].volume, Qty::from_units(1036));
    }

    #[test]
    fn reads_rfc3339_timestamps_with_offsets_and_fractions() {
        assert_eq!(parse_rfc3339(b"2020-01-01T00:00:00Z").unwrap().millis(), 1_577_836_800_000);
        assert_eq!(parse_rfc3339(b"2020-01-01T01:00:00.250+01:00").unwrap().millis(), 1_577_836_800_250);
        assert_eq!(parse_rfc3339(b"2019-12-31 19:00:00-05:00").unwrap().millis(), 1_577_836_800_000);
        assert_eq!(parse_rfc3339(b"2024-02-29T00:00:00Z").unwrap().utc_day(), 19_782);
        assert!(parse_rfc3339(b"2023-02-29T00:00:00Z").is_none());
        assert!(parse_rfc3339(b"2020-01-01T00:00:00").is_none(), "an offset is required");
    }

    #[test]
    fn accepts_crlf_and_a_missing_final_newline() {
        let text = "timestamp,open,high,low,close,volume\r\n0,1,1,1,1,0\r\n60000,1.5,2,1,2,3";
        let series = parse(text).unwrap();
        assert_eq!(series.bars.len(), 2);
        assert_eq!(series.price_decimals, 1);
    }

    #[test]
    fn malformed_price_is_reported_with_line_and_field() {
        let error = parse(&format!("{HEADER}0,1,1,1,1,0\n60000,1,1x,1,1,0\n")).unwrap_err();
        assert!(matches!(error, DataError::Field { line: 3, field: "high", .. }), "{error}");
        assert_eq!(error.to_string(), "line 3, field `high`: `1x` is not a decimal price");
    }

    #[test]
    fn wrong_field_count_is_reported_with_line() {
        let error = parse(&format!("{HEADER}0,1,1,1,1\n")).unwrap_err();
        assert!(matches!(error, DataError::FieldCount { line: 2, found: 5 }), "{error}");
    }

    #[test]
    fn wrong_header_is_refused() {
        let error = parse("ts,o,h,l,c,v\n0,1,1,1,1,0\n").unwrap_err();
        assert!(matches!(error, DataError::Header { .. }), "{error}");
    }

    #[test]
    fn empty_data_is_refused() {
        assert!(matches!(parse(""), Err(DataError::Empty)));
        assert!(matches!(parse(HEADER), Err(DataError::Empty)));
    }

    #[test]
    fn unsorted_or_duplicate_timestamps_are_refused() {
        let error = parse(&format!("{HEADER}60000,1,1,1,1,0\n0,1,1,1,1,0\n")).unwrap_err();
        assert!(matches!(error, DataError::Unsorted { line: 3, .. }), "{error}");
        let error = parse(&format!("{HEADER}0,1,1,1,1,0\n0,1,1,1,1,0\n")).unwrap_err();
        assert!(matches!(error, DataError::Unsorted { line: 3, .. }), "{error}");
    }

    #[test]
    fn gaps_are_refused_unless_allowed() {
        let text = format!("{HEADER}0,1,1,1,1,0\n60000,1,1,1,1,0\n180000,1,1,1,1,0\n");
        let error = parse(&text).unwrap_err();
        assert!(matches!(error, DataError::Gap { line: 4, expected_ms: 120_000, found_ms: 180_000, .. }), "{error}");
        let options = LoadOptions { allow_gaps: true, ..LoadOptions::default() };
        assert_eq!(read_bars(text.as_bytes(), &options).unwrap().bars.len(), 3);
    }

    #[test]
    fn inconsistent_bar_names_the_field() {
        let error = parse(&format!("{HEADER}0,1,1,2,1,0\n")).unwrap_err();
        assert!(matches!(error, DataError::InconsistentBar { line: 2, field: "high", .. }), "{error}");
        let error = parse(&format!("{HEADER}0,1,2,1,3,0\n")).unwrap_err();
        assert!(matches!(error, DataError::InconsistentBar { line: 2, field: "close", .. }), "{error}");
    }

    #[test]
    fn non_positive_price_and_negative_volume_are_refused() {
        let error = parse(&format!("{HEADER}0,0,1,0,1,0\n")).unwrap_err();
        assert!(matches!(error, DataError::Field { field: "open", .. }), "{error}");
        let error = parse(&format!("{HEADER}0,1,1,1,1,-5\n")).unwrap_err();
        assert!(matches!(error, DataError::Field { field: "volume", .. }), "{error}");
    }

    #[test]
    fn blank_line_in_the_middle_is_refused_but_trailing_blanks_are_fine() {
        assert_eq!(parse(&format!("{HEADER}0,1,1,1,1,0\n\n\n")).unwrap().bars.len(), 1);
        let error = parse(&format!("{HEADER}0,1,1,1,1,0\n\n60000,1,1,1,1,0\n")).unwrap_err();
        assert!(matches!(error, DataError::FieldCount { line: 3, found: 0 }), "{error}");
    }

    #[test]
    fn lines_spanning_chunk_boundaries_are_joined() {
        let mut text = String::from(HEADER);
        for index in 0..40_000_i64 {
            text.push_str(&format!("{},100.0001,100.0002,100.0000,100.0001,1\n", index * 60_000));
        }
        assert!(text.len() > CHUNK_BYTES);
        let series = parse(&text).unwrap();
        assert_eq!(series.bars.len(), 40_000);
        assert_eq!(series.bars[39_999].ts.millis(), 39_999 * 60_000);
    }
}
