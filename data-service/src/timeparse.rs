//! Timestamps as users write them: RFC 3339 (`2026-11-24T12:00:00Z`) or epoch milliseconds.

use chrono::{DateTime, TimeZone, Utc};

/// Parses RFC 3339 or integer epoch milliseconds.
pub fn parse_timestamp(raw: &str) -> Result<DateTime<Utc>, String> {
    let raw = raw.trim();
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        let ms: i64 = raw.parse().map_err(|_| format!("epoch milliseconds out of range: {raw}"))?;
        return from_epoch_ms(ms);
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("invalid timestamp {raw:?}: expected RFC 3339 or epoch milliseconds ({e})"))
}

/// Epoch milliseconds to a UTC time.
pub fn from_epoch_ms(ms: i64) -> Result<DateTime<Utc>, String> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| format!("epoch milliseconds out of range: {ms}"))
}

/// Deserialises a timestamp written as an RFC 3339 string, an epoch-ms number or an epoch-ms string.
pub fn deserialize_timestamp<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    use serde::de::Error;
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = DateTime<Utc>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an RFC 3339 timestamp or epoch milliseconds")
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
            parse_timestamp(v).map_err(E::custom)
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
            from_epoch_ms(v).map_err(E::custom)
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v).map_err(E::custom).and_then(|v| from_epoch_ms(v).map_err(E::custom))
        }
    }
    d.deserialize_any(Visitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_ms_and_rfc3339_denote_the_same_instant() {
        assert_eq!(parse_timestamp("1672515782136").unwrap(), parse_timestamp("2022-12-31T19:43:02.136Z").unwrap());
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        assert_eq!(
            parse_timestamp("2026-01-01T01:00:00+01:00").unwrap(),
            parse_timestamp("2026-01-01T00:00:00Z").unwrap()
        );
    }

    #[test]
    fn garbage_is_refused_with_the_expected_formats() {
        let err = parse_timestamp("yesterday").unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
