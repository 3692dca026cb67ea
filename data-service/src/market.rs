//! Market-data values as the service stores and serves them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One trade print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tick {
    /// Symbol, upper case.
    pub symbol: String,
    /// Trade time, UTC.
    pub ts: DateTime<Utc>,
    /// Trade price (exact decimal, serialised as a string).
    #[schema(value_type = String, example = "101.25")]
    pub price: Decimal,
    /// Trade size.
    #[schema(value_type = String, example = "3")]
    pub size: Decimal,
}

/// A tick resolved to its symbol id, ready to store.
#[derive(Debug, Clone)]
pub struct StoredTick {
    /// Key into the `symbol` table.
    pub symbol_id: i32,
    /// Trade time.
    pub ts: DateTime<Utc>,
    /// Price.
    pub price: Decimal,
    /// Size.
    pub size: Decimal,
}

/// An OHLCV bar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Bar {
    /// Bar open time, UTC.
    pub ts: DateTime<Utc>,
    /// First price.
    #[schema(value_type = String)]
    pub open: Decimal,
    /// Highest price.
    #[schema(value_type = String)]
    pub high: Decimal,
    /// Lowest price.
    #[schema(value_type = String)]
    pub low: Decimal,
    /// Last price.
    #[schema(value_type = String)]
    pub close: Decimal,
    /// Traded volume.
    #[schema(value_type = String)]
    pub volume: Decimal,
    /// Number of trades folded in (0 for imported bars that do not say).
    pub trades: i32,
}

/// Checks a symbol and returns it in canonical (upper-case) form.
pub fn canonical_symbol(raw: &str) -> Result<String, String> {
    let s = raw.trim().to_ascii_uppercase();
    let valid = !s.is_empty()
        && s.len() <= 32
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
    if valid {
        Ok(s)
    } else {
        Err(format!(
            "invalid symbol {raw:?}: 1-32 characters, letters, digits and . _ : / -, starting with a letter or digit"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_upper_cased() {
        assert_eq!(canonical_symbol(" btcusdt ").unwrap(), "BTCUSDT");
    }

    #[test]
    fn symbols_with_spaces_or_empty_are_refused() {
        assert!(canonical_symbol("BTC USD").is_err());
        assert!(canonical_symbol("").is_err());
        assert!(canonical_symbol(&"A".repeat(33)).is_err());
    }
}
