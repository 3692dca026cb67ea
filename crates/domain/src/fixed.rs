//! Fixed-point decimal value types: [`Price`], [`Qty`], [`Money`] and [`Bps`].
//!
//! Every amount that is summed or compared is an `i64` count of 10^-8 units, so arithmetic is
//! exact and reproducible on every platform; `f64` appears only in reporting ratios.
//!
//! | operation            | result  | rounding                                   |
//! |----------------------|---------|--------------------------------------------|
//! | `Price ± Price`      | `Price` | exact (checked)                            |
//! | `Qty ± Qty`          | `Qty`   | exact (checked)                            |
//! | `Money ± Money`      | `Money` | exact (checked)                            |
//! | `Price × Qty`        | `Money` | exact when representable, else half away from zero |
//! | `Money × Bps`        | `Money` | half away from zero                        |
//! | `Money × a / b`      | `Money` | half away from zero                        |
//!
//! Values parse from and print as plain decimal text (`"-12.3456"`), never through `f64`.

use std::fmt;
use std::str::FromStr;

/// Number of implied decimal places of every fixed-point type in this module.
pub const DECIMALS: u8 = 8;
/// `10^DECIMALS`: the raw value of one whole unit.
pub const SCALE: i64 = 100_000_000;

/// Why a decimal text could not be turned into a fixed-point value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseFixedError {
    /// The text was empty (or only a sign).
    #[error("empty number")]
    Empty,
    /// A character other than a digit, one leading sign and one decimal point.
    #[error("invalid character in number")]
    InvalidCharacter,
    /// More significant decimal places than the 8 the type can hold.
    #[error("more than 8 decimal places")]
    TooManyDecimals,
    /// The value does not fit in the type.
    #[error("number out of range")]
    OutOfRange,
}

/// Parses decimal text such as `-12.3456` into a raw 10^-8 count, without `f64`.
///
/// Returns the raw value and the number of decimal places written in the text (trailing zeros
/// included), which callers use to remember the precision of a data source.
///
/// # Errors
/// Any [`ParseFixedError`]: empty text, a stray character, more than 8 significant decimals,
/// or a value outside `i64`.
pub fn parse_decimal(text: &[u8]) -> Result<(i64, u8), ParseFixedError> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return Err(ParseFixedError::Empty);
    }
    // Accumulate as a negative number so that i64::MIN is reachable, and check every step.
    let mut acc: i64 = 0;
    let mut seen_point = false;
    let mut decimals: u8 = 0;
    let mut significant_decimals: u8 = 0;
    let mut any_digit = false;
    for &byte in digits {
        match byte {
            b'0'..=b'9' => {
                any_digit = true;
                let digit = i64::from(byte - b'0');
                if seen_point {
                    decimals = decimals.saturating_add(1);
                    if decimals > DECIMALS {
                        // Zeros beyond the 8th place change nothing; anything else would be lost.
                        if digit != 0 {
                            return Err(ParseFixedError::TooManyDecimals);
                        }
                        continue;
                    }
                    significant_decimals = decimals;
                }
                acc = acc.checked_mul(10).and_then(|v| v.checked_sub(digit)).ok_or(ParseFixedError::OutOfRange)?;
            }
            b'.' if !seen_point => seen_point = true,
            _ => return Err(ParseFixedError::InvalidCharacter),
        }
    }
    if !any_digit {
        return Err(ParseFixedError::Empty);
    }
    let scale = 10_i64.pow(u32::from(DECIMALS - significant_decimals));
    let scaled = acc.checked_mul(scale).ok_or(ParseFixedError::OutOfRange)?;
    let raw = if negative { scaled } else { scaled.checked_neg().ok_or(ParseFixedError::OutOfRange)? };
    Ok((raw, decimals))
}

/// Divides `numerator` by `denominator` rounding half away from zero; `None` on overflow or a
/// zero denominator.
#[inline]
pub(crate) fn div_round_half_away(numerator: i128, denominator: i128) -> Option<i128> {
    if denominator == i128::from(SCALE) {
        if let Some(quotient) = div_scale_in_64_bits(numerator) {
            return Some(quotient);
        }
    }
    if denominator == 0 {
        return None;
    }
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.checked_abs()?.checked_mul(2)? >= denominator.checked_abs()? {
        let away = if (numerator < 0) != (denominator < 0) { -1 } else { 1 };
        quotient.checked_add(away)
    } else {
        Some(quotient)
    }
}

/// `numerator / 10^8` rounded half away from zero in 64-bit arithmetic, for `|numerator| < 2^72`
/// (every notional below about 470,000 in money units): the division every notional and P&L
/// takes, which in 128 bits is a slow library call. `10^8 = 2^8 × 390,625`: shift, then divide
/// by a constant the compiler turns into a multiplication. `None` for larger numerators.
#[inline]
fn div_scale_in_64_bits(numerator: i128) -> Option<i128> {
    const ODD_PART: u64 = 390_625;
    let magnitude = numerator.unsigned_abs();
    let high = u64::try_from(magnitude >> 8).ok()?;
    let low = u64::try_from(magnitude & 0xff).ok()?;
    let quotient = high / ODD_PART;
    let remainder = (high % ODD_PART) * 256 + low; // magnitude % 10^8
    let rounded = i128::from(quotient + u64::from(remainder * 2 >= 100_000_000));
    Some(if numerator < 0 { -rounded } else { rounded })
}

/// Writes `raw` (10^-8 units) with exactly `decimals` decimal places, rounding half away from
/// zero if `decimals < 8`.
fn write_fixed(f: &mut fmt::Formatter<'_>, raw: i64, decimals: u8) -> fmt::Result {
    let decimals = decimals.min(DECIMALS);
    let divisor = 10_i128.pow(u32::from(DECIMALS - decimals));
    let value = div_round_half_away(i128::from(raw), divisor).unwrap_or(0);
    let sign = if value < 0 { "-" } else { "" };
    let magnitude = value.unsigned_abs();
    let unit = 10_u128.pow(u32::from(decimals));
    let (whole, fraction) = (magnitude / unit, magnitude % unit);
    if decimals == 0 {
        write!(f, "{sign}{whole}")
    } else {
        write!(f, "{sign}{whole}.{fraction:0width$}", width = usize::from(decimals))
    }
}

/// Number of decimal places needed to print `raw` without loss, at least `min_decimals`.
fn needed_decimals(raw: i64, min_decimals: u8) -> u8 {
    let mut decimals = DECIMALS;
    let mut rest = raw.unsigned_abs();
    while decimals > min_decimals && rest % 10 == 0 {
        rest /= 10;
        decimals -= 1;
    }
    decimals
}

/// Displays a fixed-point value with a chosen number of decimal places.
#[derive(Debug, Clone, Copy)]
pub struct FixedDisplay {
    raw: i64,
    decimals: u8,
}

impl fmt::Display for FixedDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(f, self.raw, self.decimals)
    }
}

macro_rules! fixed_point_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i64);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(0);
            /// One whole unit.
            pub const ONE: Self = Self(SCALE);
            /// The largest representable value.
            pub const MAX: Self = Self(i64::MAX);

            /// Wraps a raw count of 10^-8 units.
            #[inline]
            #[must_use]
            pub const fn from_raw(raw: i64) -> Self {
                Self(raw)
            }

            /// The raw count of 10^-8 units.
            #[inline]
            #[must_use]
            pub const fn raw(self) -> i64 {
                self.0
            }

            /// A whole number of units, or `None` if it does not fit.
            #[must_use]
            pub const fn checked_from_units(units: i64) -> Option<Self> {
                match units.checked_mul(SCALE) {
                    Some(raw) => Some(Self(raw)),
                    None => None,
                }
            }

            /// A whole number of units.
            ///
            /// # Panics
            /// If `units` is beyond ±92,233,720,368.
            #[must_use]
            pub const fn from_units(units: i64) -> Self {
                match Self::checked_from_units(units) {
                    Some(value) => value,
                    None => panic!("fixed-point value out of range"),
                }
            }

            /// `self + other`, or `None` on overflow.
            #[inline]
            #[must_use]
            pub const fn checked_add(self, other: Self) -> Option<Self> {
                match self.0.checked_add(other.0) {
                    Some(raw) => Some(Self(raw)),
                    None => None,
                }
            }

            /// `self - other`, or `None` on overflow.
            #[inline]
            #[must_use]
            pub const fn checked_sub(self, other: Self) -> Option<Self> {
                match self.0.checked_sub(other.0) {
                    Some(raw) => Some(Self(raw)),
                    None => None,
                }
            }

            /// `-self`, or `None` for the minimum value.
            #[inline]
            #[must_use]
            pub const fn checked_neg(self) -> Option<Self> {
                match self.0.checked_neg() {
                    Some(raw) => Some(Self(raw)),
                    None => None,
                }
            }

            /// The absolute value, or `None` for the minimum value.
            #[inline]
            #[must_use]
            pub const fn checked_abs(self) -> Option<Self> {
                match self.0.checked_abs() {
                    Some(raw) => Some(Self(raw)),
                    None => None,
                }
            }

            /// `self × numerator / denominator` in 128-bit arithmetic, rounded half away from
            /// zero; `None` on overflow or a zero denominator.
            #[must_use]
            pub fn checked_mul_ratio(self, numerator: i64, denominator: i64) -> Option<Self> {
                let product = i128::from(self.0).checked_mul(i128::from(numerator))?;
                let quotient = div_round_half_away(product, i128::from(denominator))?;
                i64::try_from(quotient).ok().map(Self)
            }

            /// True when the value is exactly zero.
            #[inline]
            #[must_use]
            pub const fn is_zero(self) -> bool {
                self.0 == 0
            }

            /// True when the value is above zero.
            #[inline]
            #[must_use]
            pub const fn is_positive(self) -> bool {
                self.0 > 0
            }

            /// True when the value is below zero.
            #[inline]
            #[must_use]
            pub const fn is_negative(self) -> bool {
                self.0 < 0
            }

            /// Prints the value with exactly `decimals` places (rounding half away from zero
            /// when fewer than 8), e.g. a price with the precision of its data source.
            #[must_use]
            pub const fn display_with(self, decimals: u8) -> FixedDisplay {
                FixedDisplay { raw: self.0, decimals }
            }

            /// Prints the value with as many places as it needs, but at least `min_decimals`.
            #[must_use]
            pub fn display_min(self, min_decimals: u8) -> FixedDisplay {
                FixedDisplay { raw: self.0, decimals: needed_decimals(self.0, min_decimals) }
            }

            /// The value as `f64`, for reporting ratios only: never sum or compare the result.
            #[must_use]
            #[allow(clippy::cast_precision_loss, reason = "reporting only")]
            pub fn to_f64_lossy(self) -> f64 {
                self.0 as f64 / SCALE as f64
            }
        }

        impl fmt::Display for $name {
            /// Shortest exact form: `100.1793`, `100`, `-0.5`.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_fixed(f, self.0, needed_decimals(self.0, 0))
            }
        }

        impl FromStr for $name {
            type Err = ParseFixedError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                parse_decimal(text.trim().as_bytes()).map(|(raw, _)| Self(raw))
            }
        }

        impl std::ops::Add for $name {
            type Output = Self;
            /// # Panics
            /// On overflow; use [`Self::checked_add`] where that can happen.
            fn add(self, other: Self) -> Self {
                self.checked_add(other).expect("fixed-point addition overflowed")
            }
        }

        impl std::ops::Sub for $name {
            type Output = Self;
            /// # Panics
            /// On overflow; use [`Self::checked_sub`] where that can happen.
            fn sub(self, other: Self) -> Self {
                self.checked_sub(other).expect("fixed-point subtraction overflowed")
            }
        }

        impl std::ops::Neg for $name {
            type Output = Self;
            /// # Panics
            /// For the minimum value only.
            fn neg(self) -> Self {
                self.checked_neg().expect("fixed-point negation overflowed")
            }
        }

        impl serde::Serialize for $name {
            /// Serialized as a decimal string so that no consumer goes through `f64`.
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            /// Accepts a decimal string or a JSON integer.
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct FixedVisitor;
                impl serde::de::Visitor<'_> for FixedVisitor {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a decimal number as a string or an integer")
                    }
                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$name, E> {
                        text.parse().map_err(E::custom)
                    }
                    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<$name, E> {
                        $name::checked_from_units(value)
                            .ok_or_else(|| E::custom(ParseFixedError::OutOfRange))
                    }
                    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<$name, E> {
                        i64::try_from(value)
                            .ok()
                            .and_then($name::checked_from_units)
                            .ok_or_else(|| E::custom(ParseFixedError::OutOfRange))
                    }
                }
                deserializer.deserialize_any(FixedVisitor)
            }
        }
    };
}

fixed_point_type!(
    /// A price per unit of an instrument, with 8 implied decimals.
    Price
);
fixed_point_type!(
    /// A quantity of an instrument, with 8 implied decimals (fractional units for crypto);
    /// signed where it is a position (negative = short).
    Qty
);
fixed_point_type!(
    /// An amount of money in the account currency, with 8 implied decimals.
    Money
);

impl Price {
    /// The notional `self × qty`, exact when it is representable in 8 decimals (always the case
    /// when either side has 4 decimals or fewer), else rounded half away from zero; `None` on
    /// overflow.
    #[must_use]
    #[inline]
    pub fn checked_notional(self, qty: Qty) -> Option<Money> {
        let product = i128::from(self.0).checked_mul(i128::from(qty.0))?;
        let money = div_round_half_away(product, i128::from(SCALE))?;
        i64::try_from(money).ok().map(Money)
    }

    /// The exact product `price × qty` in raw units (10^-16), for sums of notionals that are
    /// rounded once ([`Money::checked_from_raw_notional`]) instead of once per term.
    #[must_use]
    pub fn raw_notional(self, qty: Qty) -> i128 {
        i128::from(self.0) * i128::from(qty.0)
    }

    /// Rounds to a multiple of `tick`, up (`round_up`) or down; `None` if `tick` is not positive
    /// or on overflow.
    #[must_use]
    pub fn checked_round_to_tick(self, tick: Price, round_up: bool) -> Option<Price> {
        if tick.0 <= 0 {
            return None;
        }
        let floor = self.0.div_euclid(tick.0).checked_mul(tick.0)?;
        if round_up && floor != self.0 {
            floor.checked_add(tick.0).map(Price)
        } else {
            Some(Price(floor))
        }
    }

    /// The smallest price step for `decimals` decimal places (`4` → `0.0001`); `None` above 8.
    #[must_use]
    pub fn tick_for_decimals(decimals: u8) -> Option<Price> {
        if decimals > DECIMALS {
            return None;
        }
        Some(Price(10_i64.pow(u32::from(DECIMALS - decimals))))
    }
}

impl Qty {
    /// The quantity signed by side: `+self` for a buy, `-self` for a sell.
    #[must_use]
    pub fn signed(self, side: crate::Side) -> Qty {
        match side {
            crate::Side::Buy => self,
            crate::Side::Sell => Qty(-self.0),
        }
    }
}

/// A rate in basis points with 2 implied decimals (`Bps::from_centi_bps(50)` = 0.5 bp), used for
/// fees, slippage and collars. Serialized as its integer count of hundredths of a basis point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Bps(i64);

impl Money {
    /// Money from a sum of [`Price::raw_notional`] products, rounded half away from zero: a
    /// portfolio's market value with one rounding (and one division) for all its holdings.
    #[must_use]
    pub fn checked_from_raw_notional(raw_notional: i128) -> Option<Money> {
        let money = div_round_half_away(raw_notional, i128::from(SCALE))?;
        i64::try_from(money).ok().map(Money)
    }
}

impl Bps {
    /// Zero basis points.
    pub const ZERO: Self = Self(0);

    /// Wraps hundredths of a basis point.
    #[must_use]
    pub const fn from_centi_bps(centi_bps: i64) -> Self {
        Self(centi_bps)
    }

    /// A whole number of basis points.
    #[must_use]
    pub const fn from_bps(bps: i64) -> Self {
        Self(bps.saturating_mul(100))
    }

    /// Hundredths of a basis point.
    #[must_use]
    pub const fn centi_bps(self) -> i64 {
        self.0
    }

    /// `amount × self`, rounded half away from zero; `None` on overflow.
    #[must_use]
    pub fn checked_apply(self, amount: Money) -> Option<Money> {
        // 1 bp = 1/10_000; one centi-bp = 1/1_000_000.
        amount.checked_mul_ratio(self.0, 1_000_000)
    }
}

impl FromStr for Bps {
    type Err = ParseFixedError;

    /// Parses `"5"`, `"0.5"` or `"2.25"` basis points (at most 2 decimals).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (raw, _) = parse_decimal(text.trim().as_bytes())?;
        // raw is in 10^-8 bp; centi-bps are 10^-2 bp.
        let unit = 1_000_000;
        if raw % unit != 0 {
            return Err(ParseFixedError::TooManyDecimals);
        }
        Ok(Self(raw / unit))
    }
}

impl fmt::Display for Bps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fixed(f, self.0 * 1_000_000, needed_decimals(self.0 * 1_000_000, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_64_bit_division_by_the_scale_agrees_with_the_128_bit_one() {
        let slow = |n: i128| {
            let (q, r) = (n / i128::from(SCALE), n % i128::from(SCALE));
            if r.abs() * 2 >= i128::from(SCALE) {
                q + n.signum()
            } else {
                q
            }
        };
        let mut n: i128 = 1;
        let mut checked = 0;
        // A pseudo-random walk over magnitudes up to 2^72, both signs, and the rounding edges.
        for step in 0..200_000i128 {
            n = n
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407)
                .rem_euclid(1_i128 << 72);
            for candidate in
                [n, -n, n / 100_000_000 * 100_000_000 + 50_000_000, -(step * 100_000_000 + 50_000_000), step]
            {
                assert_eq!(div_scale_in_64_bits(candidate), Some(slow(candidate)), "{candidate}");
                checked += 1;
            }
        }
        assert_eq!(div_scale_in_64_bits(1_i128 << 72), None, "beyond 64 bits after the shift");
        assert_eq!(div_round_half_away(1_i128 << 100, i128::from(SCALE)), Some(slow(1_i128 << 100)));
        assert_eq!(checked, 1_000_000);
    }

    #[test]
    fn parse_decimal_reads_sign_whole_and_fraction_exactly() {
        assert_eq!(parse_decimal(b"100.1793"), Ok((10_017_930_000, 4)));
        assert_eq!(parse_decimal(b"-0.5"), Ok((-50_000_000, 1)));
        assert_eq!(parse_decimal(b"+7"), Ok((700_000_000, 0)));
        assert_eq!(parse_decimal(b"0.00000001"), Ok((1, 8)));
        assert_eq!(parse_decimal(b".25"), Ok((25_000_000, 2)));
    }

    #[test]
    fn parse_decimal_accepts_zeros_beyond_eight_places_but_not_digits() {
        assert_eq!(parse_decimal(b"1.0000000000"), Ok((SCALE, 10)));
        assert_eq!(parse_decimal(b"1.000000001"), Err(ParseFixedError::TooManyDecimals));
    }

    #[test]
    fn parse_decimal_rejects_garbage_empty_and_overflow() {
        assert_eq!(parse_decimal(b""), Err(ParseFixedError::Empty));
        assert_eq!(parse_decimal(b"-"), Err(ParseFixedError::Empty));
        assert_eq!(parse_decimal(b"."), Err(ParseFixedError::Empty));
        assert_eq!(parse_decimal(b"1.2.3"), Err(ParseFixedError::InvalidCharacter));
        assert_eq!(parse_decimal(b"1e5"), Err(ParseFixedError::InvalidCharacter));
        assert_eq!(parse_decimal(b"100000000000"), Err(ParseFixedError::OutOfRange));
    }

    #[test]
    fn display_prints_shortest_exact_form_and_roundtrips() {
        for text in ["100.1793", "0", "-0.5", "92233720368.54775807", "-3"] {
            let price: Price = text.parse().unwrap();
            assert_eq!(price.to_string(), text);
        }
    }

    #[test]
    fn display_with_pads_or_rounds_half_away_from_zero() {
        let price: Price = "100.17935".parse().unwrap();
        assert_eq!(price.display_with(4).to_string(), "100.1794");
        assert_eq!((-price).display_with(4).to_string(), "-100.1794");
        assert_eq!(Price::from_units(5).display_with(2).to_string(), "5.00");
        let pnl: Money = "-521.31".parse().unwrap();
        assert_eq!(pnl.display_min(2).to_string(), "-521.31");
        assert_eq!(Money::from_units(3).display_min(2).to_string(), "3.00");
    }

    #[test]
    fn notional_of_four_decimal_price_and_whole_qty_is_exact() {
        let price: Price = "100.1793".parse().unwrap();
        let notional = price.checked_notional(Qty::from_units(100)).unwrap();
        assert_eq!(notional, "10017.93".parse().unwrap());
    }

    #[test]
    fn notional_rounds_half_away_from_zero_when_not_representable() {
        let price = Price::from_raw(5); // 0.00000005
        let half = Qty::from_raw(SCALE / 10); // 0.1 -> 0.000000005 exactly half a raw unit
        assert_eq!(price.checked_notional(half), Some(Money::from_raw(1)));
        assert_eq!(price.checked_notional(-half), Some(Money::from_raw(-1)));
    }

    #[test]
    fn checked_arithmetic_reports_overflow_instead_of_wrapping() {
        assert_eq!(Money::MAX.checked_add(Money::from_raw(1)), None);
        assert_eq!(Price::MAX.checked_notional(Qty::from_units(2)), None, "notional beyond i64 must be refused");
    }

    #[test]
    fn rounding_to_tick_goes_the_requested_way() {
        let tick = Price::tick_for_decimals(4).unwrap();
        let price: Price = "100.12341".parse().unwrap();
        assert_eq!(price.checked_round_to_tick(tick, true), Some("100.1235".parse().unwrap()));
        assert_eq!(price.checked_round_to_tick(tick, false), Some("100.1234".parse().unwrap()));
        let on_tick: Price = "100.1234".parse().unwrap();
        assert_eq!(on_tick.checked_round_to_tick(tick, true), Some(on_tick));
    }

    #[test]
    fn bps_parse_and_apply_to_money() {
        let fee: Bps = "2.5".parse().unwrap();
        assert_eq!(fee, Bps::from_centi_bps(250));
        assert_eq!(fee.checked_apply(Money::from_units(10_000)), Some("2.5".parse().unwrap()));
        assert_eq!("0.001".parse::<Bps>(), Err(ParseFixedError::TooManyDecimals));
        assert_eq!(fee.to_string(), "2.5");
    }
}
