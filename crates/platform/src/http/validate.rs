//! Checks of client input against what the database can hold, run before any query, so that a
//! value that does not fit is answered with a 422 naming the field rather than reaching
//! PostgreSQL (which refuses NUL characters in text, `\u0000` in jsonb, and numbers beyond a
//! column's precision).

use rust_decimal::Decimal;

use super::ApiError;

/// The code of every refusal made here.
pub const INVALID_FIELD: &str = "invalid_field";

fn refuse(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::unprocessable(INVALID_FIELD, format!("{field} {why}"))
}

/// An identifier (account, symbol, strategy name, client order id): 1 to `max_chars`
/// characters, none of them a control character (NUL included) or surrounding whitespace.
pub fn identifier(field: &str, value: &str, max_chars: usize) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(refuse(field, "must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(refuse(field, format_args!("must be at most {max_chars} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(refuse(field, "must not contain control characters (NUL included)"));
    }
    if value.trim() != value {
        return Err(refuse(field, "must not start or end with whitespace"));
    }
    Ok(())
}

/// Free text for people (a halt reason, a comment): up to `max_chars` characters, line breaks
/// and tabs allowed, no other control character.
pub fn text(field: &str, value: &str, max_chars: usize) -> Result<(), ApiError> {
    if value.chars().count() > max_chars {
        return Err(refuse(field, format_args!("must be at most {max_chars} characters")));
    }
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(refuse(field, "must not contain control characters other than line breaks and tabs"));
    }
    Ok(())
}

/// A JSON document stored as `jsonb`: no NUL character in any key or string (PostgreSQL's jsonb
/// cannot hold `\u0000`).
pub fn json(field: &str, value: &serde_json::Value) -> Result<(), ApiError> {
    fn has_nul(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(has_nul),
            serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    if has_nul(value) {
        return Err(refuse(field, "must not contain NUL characters (\\u0000)"));
    }
    Ok(())
}

/// A number for a `numeric(precision, scale)` column: at most `precision - scale` digits
/// before the point and `scale` after it (more decimals are refused, not rounded: amounts are
/// exact).
pub fn numeric(field: &str, value: Decimal, precision: u32, scale: u32) -> Result<(), ApiError> {
    let integer_digits = precision - scale;
    let bound = Decimal::from_i128_with_scale(10i128.pow(integer_digits), 0);
    if value.abs().trunc() >= bound {
        return Err(refuse(field, format_args!("must be less than 1e{integer_digits} in magnitude, got {value}")));
    }
    if value.normalize().scale() > scale {
        return Err(refuse(field, format_args!("must have at most {scale} decimal places, got {value}")));
    }
    Ok(())
}

/// A `numeric(28, 8)` quantity, price or amount (the engine's columns).
pub fn amount(field: &str, value: Decimal) -> Result<(), ApiError> {
    numeric(field, value, 28, 8)
}

/// The OpenAPI pattern of a decimal string that fits `numeric(28, 8)`.
pub const AMOUNT_PATTERN: &str = r"^-?[0-9]{1,20}(\.[0-9]{1,8})?$";

/// The OpenAPI pattern of an identifier without control characters or surrounding spaces.
pub const IDENTIFIER_PATTERN: &str = r"^[^\x00-\x1f\x7f\s]([^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s])?$";

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn identifiers_refuse_nul_control_characters_emptiness_length_and_padding() {
        assert!(identifier("name", "sma-1", 64).is_ok());
        for bad in ["", "a\0b", "a\u{7}", " padded", "x".repeat(65).as_str()] {
            let err = identifier("name", bad, 64).unwrap_err();
            assert_eq!(err.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
            assert!(err.to_string().starts_with("name "), "{err}");
        }
    }

    #[test]
    fn text_allows_line_breaks_but_not_nul() {
        assert!(text("reason", "line one\nline two\ttab", 500).is_ok());
        assert!(text("reason", "nul\0", 500).is_err());
    }

    #[test]
    fn json_refuses_nul_in_nested_strings_and_keys() {
        assert!(json("params", &serde_json::json!({"a": [1, "x", {"b": null}]})).is_ok());
        assert!(json("params", &serde_json::json!({"a": ["x\u{0}"]})).is_err());
        assert!(json("params", &serde_json::json!({"k\u{0}": 1})).is_err());
    }

    #[test]
    fn numeric_28_8_holds_twenty_integer_digits_and_eight_decimals() {
        assert!(amount("qty", dec("99999999999999999999.99999999")).is_ok());
        assert!(amount("qty", dec("-99999999999999999999")).is_ok());
        assert!(amount("qty", dec("1.50000000000")).is_ok(), "trailing zeros are not precision");
        assert!(amount("qty", dec("100000000000000000000")).is_err());
        assert!(amount("qty", dec("0.000000001")).is_err());
        assert!(numeric("bps", dec("9999999999.99"), 12, 2).is_ok());
        assert!(numeric("bps", dec("10000000000"), 12, 2).is_err());
    }
}
