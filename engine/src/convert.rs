//! Exact conversions between the domain's fixed-point types and `rust_decimal` (the database's
//! numeric columns and the JSON API), never through `f64`.

use domain::{Bps, Money, Price, Qty};
use rust_decimal::Decimal;

/// A decimal that does not fit the domain's 8-decimal fixed point.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0} does not fit 8 decimals within ±92,233,720,368")]
pub struct OutOfRange(pub Decimal);

/// Converts a fixed-point raw value (10^-8 units) to a decimal.
pub fn raw_to_decimal(raw: i64) -> Decimal {
    Decimal::from_i128_with_scale(i128::from(raw), 8).normalize()
}

/// Converts a decimal to a raw 10^-8 count, refusing anything that would lose precision.
pub fn decimal_to_raw(value: Decimal) -> Result<i64, OutOfRange> {
    let mut scaled = value;
    scaled.rescale(8);
    if scaled != value {
        return Err(OutOfRange(value));
    }
    i64::try_from(scaled.mantissa()).map_err(|_| OutOfRange(value))
}

/// Decimal → [`Price`].
pub fn price(value: Decimal) -> Result<Price, OutOfRange> {
    decimal_to_raw(value).map(Price::from_raw)
}

/// Decimal → [`Qty`].
pub fn qty(value: Decimal) -> Result<Qty, OutOfRange> {
    decimal_to_raw(value).map(Qty::from_raw)
}

/// Decimal → [`Money`].
pub fn money(value: Decimal) -> Result<Money, OutOfRange> {
    decimal_to_raw(value).map(Money::from_raw)
}

/// A percentage (`1.5` = 1.5 %) → [`Bps`]; at most 4 decimals (0.0001 % = one hundredth of a
/// basis point).
pub fn percent(value: Decimal) -> Result<Bps, OutOfRange> {
    let mut scaled = value;
    scaled.rescale(4);
    if scaled != value {
        return Err(OutOfRange(value));
    }
    i64::try_from(scaled.mantissa()).map(Bps::from_centi_bps).map_err(|_| OutOfRange(value))
}

/// [`Bps`] → a percentage (`1.5` = 1.5 %).
pub fn bps_to_percent(rate: Bps) -> Decimal {
    Decimal::new(rate.centi_bps(), 4).normalize()
}

/// Any fixed-point value → decimal.
pub trait ToDecimal {
    /// The exact decimal value.
    fn dec(self) -> Decimal;
}

impl ToDecimal for Price {
    fn dec(self) -> Decimal {
        raw_to_decimal(self.raw())
    }
}
impl ToDecimal for Qty {
    fn dec(self) -> Decimal {
        raw_to_decimal(self.raw())
    }
}
impl ToDecimal for Money {
    fn dec(self) -> Decimal {
        raw_to_decimal(self.raw())
    }
}

/// Serializes a decimal as its shortest exact string (`"101.25"`, not `"101.25000000"`).
pub fn ser_dec<S: serde::Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&value.normalize())
}

/// [`ser_dec`] for optional values.
pub fn ser_opt_dec<S: serde::Serializer>(value: &Option<Decimal>, serializer: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => serializer.collect_str(&v.normalize()),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn decimals_round_trip_exactly_through_fixed_point() {
        for text in ["0", "101.25", "-0.00000001", "92233720368.54775807", "1.10000000"] {
            let d = Decimal::from_str(text).unwrap();
            let p = price(d).unwrap();
            assert_eq!(p.dec(), d.normalize(), "{text}");
        }
    }

    #[test]
    fn more_than_eight_decimals_or_too_large_is_refused() {
        assert!(qty(Decimal::from_str("0.000000001").unwrap()).is_err());
        assert!(money(Decimal::from_str("92233720369").unwrap()).is_err());
    }
}
