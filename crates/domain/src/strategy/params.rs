//! Strategy parameters: a flat name → value map, read into typed settings with errors that name
//! the offending parameter.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::fixed::{Price, Qty};

/// Why a strategy could not be built from its name and parameters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyConfigError {
    /// No strategy is registered under this name.
    #[error("unknown strategy `{name}` (known: {known})")]
    UnknownStrategy {
        /// The name asked for.
        name: String,
        /// Comma-separated registered names.
        known: String,
    },
    /// A required parameter is absent.
    #[error("strategy `{strategy}`: missing parameter `{param}`")]
    MissingParam {
        /// The strategy being built.
        strategy: &'static str,
        /// The parameter's name.
        param: &'static str,
    },
    /// A parameter is present but its value cannot be used.
    #[error("strategy `{strategy}`: parameter `{param}` = `{value}` is invalid: expected {expected}")]
    InvalidParam {
        /// The strategy being built.
        strategy: &'static str,
        /// The parameter's name.
        param: String,
        /// The value given.
        value: String,
        /// What a valid value looks like.
        expected: String,
    },
    /// A parameter the strategy does not know (often a typo).
    #[error("strategy `{strategy}`: unknown parameter `{param}` (allowed: {allowed})")]
    UnknownParam {
        /// The strategy being built.
        strategy: &'static str,
        /// The unexpected name.
        param: String,
        /// Comma-separated allowed names.
        allowed: String,
    },
    /// A strategy that is not a built-in (a sandboxed module) refused to start.
    #[error("strategy `{strategy}`: {reason}")]
    Rejected {
        /// The strategy being built (a module's reference).
        strategy: String,
        /// Why, in the module's or the host's words.
        reason: String,
    },
}

/// Parameters of a strategy as given by the user: names to decimal, integer or boolean text.
///
/// Deserializes from a flat JSON object (`{"fast": 10, "slow": 30}`, numbers, strings or
/// booleans) and parses from `fast=10,slow=30`. Values are kept as text so that decimals are
/// never routed through `f64`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrategyParams {
    values: BTreeMap<String, String>,
}

/// A `name=value` list could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad parameter list entry `{entry}`: expected name=value")]
pub struct ParamListError {
    /// The offending entry.
    pub entry: String,
}

impl StrategyParams {
    /// No parameters.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`, replacing an earlier value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    /// The text of `name`, if given.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Name/value pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True when there are no parameters.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl FromStr for StrategyParams {
    type Err = ParamListError;

    /// Parses `fast=10,slow=30` (spaces around names and values are ignored; empty is allowed).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut params = Self::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, value) = entry.split_once('=').ok_or_else(|| ParamListError { entry: entry.to_owned() })?;
            let (name, value) = (name.trim(), value.trim());
            if name.is_empty() || value.is_empty() {
                return Err(ParamListError { entry: entry.to_owned() });
            }
            params.set(name, value);
        }
        Ok(params)
    }
}

impl fmt::Display for StrategyParams {
    /// Prints `fast=10,slow=30`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (name, value)) in self.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for StrategyParams {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl<'de> serde::Deserialize<'de> for StrategyParams {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueText(String);
        impl<'de> serde::Deserialize<'de> for ValueText {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct TextVisitor;
                impl serde::de::Visitor<'_> for TextVisitor {
                    type Value = ValueText;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a number, string or boolean")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ValueText, E> {
                        Ok(ValueText(v.to_owned()))
                    }
                    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ValueText, E> {
                        Ok(ValueText(v.to_string()))
                    }
                    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ValueText, E> {
                        Ok(ValueText(v.to_string()))
                    }
                    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ValueText, E> {
                        Ok(ValueText(v.to_string()))
                    }
                    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ValueText, E> {
                        // Rust prints the shortest text that reads back to the same f64, so
                        // `0.1` in the JSON becomes the text "0.1" and then an exact decimal.
                        Ok(ValueText(v.to_string()))
                    }
                }
                d.deserialize_any(TextVisitor)
            }
        }
        let values = BTreeMap::<String, ValueText>::deserialize(deserializer)?;
        Ok(Self { values: values.into_iter().map(|(k, v)| (k, v.0)).collect() })
    }
}

/// Reads typed values out of [`StrategyParams`] for one strategy, remembering which names were
/// read so that [`ParamReader::finish`] can refuse the unknown rest.
#[derive(Debug)]
pub struct ParamReader<'a> {
    strategy: &'static str,
    params: &'a StrategyParams,
    allowed: Vec<&'static str>,
}

impl<'a> ParamReader<'a> {
    /// Starts reading the parameters of `strategy`.
    #[must_use]
    pub fn new(strategy: &'static str, params: &'a StrategyParams) -> Self {
        Self { strategy, params, allowed: Vec::new() }
    }

    fn parse<T: FromStr>(&mut self, name: &'static str, expected: &str) -> Result<Option<T>, StrategyConfigError> {
        self.allowed.push(name);
        let Some(text) = self.params.get(name) else {
            return Ok(None);
        };
        text.parse().map(Some).map_err(|_| self.invalid(name, text, expected))
    }

    /// An [`StrategyConfigError::InvalidParam`] for `name`, for constraints checked by the caller.
    #[must_use]
    pub fn invalid(&self, name: &str, value: &str, expected: &str) -> StrategyConfigError {
        StrategyConfigError::InvalidParam {
            strategy: self.strategy,
            param: name.to_owned(),
            value: value.to_owned(),
            expected: expected.to_owned(),
        }
    }

    /// A whole number in `min..=max`, or `default` when absent.
    ///
    /// # Errors
    /// [`StrategyConfigError::InvalidParam`] if the text is not such a number.
    pub fn usize_in(
        &mut self,
        name: &'static str,
        default: Option<usize>,
        min: usize,
        max: usize,
    ) -> Result<usize, StrategyConfigError> {
        let expected = format!("a whole number from {min} to {max}");
        match self.parse::<usize>(name, &expected)? {
            Some(value) if (min..=max).contains(&value) => Ok(value),
            Some(value) => Err(self.invalid(name, &value.to_string(), &expected)),
            None => default.ok_or(StrategyConfigError::MissingParam { strategy: self.strategy, param: name }),
        }
    }

    /// A decimal in `min..=max` (as a [`Price`]-typed fixed-point number), or `default`.
    ///
    /// # Errors
    /// [`StrategyConfigError::InvalidParam`] if the text is not such a decimal.
    pub fn decimal_in(
        &mut self,
        name: &'static str,
        default: Option<Price>,
        min: Price,
        max: Price,
    ) -> Result<Price, StrategyConfigError> {
        let expected = format!("a decimal from {min} to {max}");
        match self.parse::<Price>(name, &expected)? {
            Some(value) if (min..=max).contains(&value) => Ok(value),
            Some(value) => Err(self.invalid(name, &value.to_string(), &expected)),
            None => default.ok_or(StrategyConfigError::MissingParam { strategy: self.strategy, param: name }),
        }
    }

    /// A positive quantity, or `default` when absent.
    ///
    /// # Errors
    /// [`StrategyConfigError::InvalidParam`] if the text is not a positive decimal.
    pub fn positive_qty(&mut self, name: &'static str, default: Qty) -> Result<Qty, StrategyConfigError> {
        let expected = "a positive decimal quantity";
        match self.parse::<Qty>(name, expected)? {
            Some(value) if value.is_positive() => Ok(value),
            Some(value) => Err(self.invalid(name, &value.to_string(), expected)),
            None if default.is_positive() => Ok(default),
            None => Err(self.invalid(name, &default.to_string(), expected)),
        }
    }

    /// `true` or `false`, or `default` when absent.
    ///
    /// # Errors
    /// [`StrategyConfigError::InvalidParam`] for any other text.
    pub fn flag(&mut self, name: &'static str, default: bool) -> Result<bool, StrategyConfigError> {
        Ok(self.parse::<bool>(name, "true or false")?.unwrap_or(default))
    }

    /// The text of `name` as given, or `default` when absent, for values the caller checks.
    pub fn text(&mut self, name: &'static str, default: &'a str) -> &'a str {
        self.allowed.push(name);
        self.params.get(name).unwrap_or(default)
    }

    /// Refuses any parameter that was not read.
    ///
    /// # Errors
    /// [`StrategyConfigError::UnknownParam`] naming the first unknown parameter.
    pub fn finish(self) -> Result<(), StrategyConfigError> {
        match self.params.iter().find(|(name, _)| !self.allowed.contains(name)) {
            Some((name, _)) => Err(StrategyConfigError::UnknownParam {
                strategy: self.strategy,
                param: name.to_owned(),
                allowed: self.allowed.join(", "),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_list_parses_name_value_pairs() {
        let params: StrategyParams = " fast=10, slow = 30 ".parse().unwrap();
        assert_eq!(params.get("fast"), Some("10"));
        assert_eq!(params.get("slow"), Some("30"));
        assert_eq!(params.to_string(), "fast=10,slow=30");
    }

    #[test]
    fn param_list_rejects_entries_without_equals() {
        assert_eq!("fast=10,slow".parse::<StrategyParams>(), Err(ParamListError { entry: "slow".into() }));
    }

    #[test]
    fn reader_names_the_invalid_parameter() {
        let params: StrategyParams = "fast=ten".parse().unwrap();
        let mut reader = ParamReader::new("sma_cross", &params);
        let error = reader.usize_in("fast", Some(10), 1, 100).unwrap_err();
        assert!(matches!(&error, StrategyConfigError::InvalidParam { param, .. } if param == "fast"));
        assert!(error.to_string().contains("`fast` = `ten`"), "{error}");
    }

    #[test]
    fn reader_reports_missing_required_and_unknown_extra_parameters() {
        let params: StrategyParams = "fsat=10".parse().unwrap();
        let mut reader = ParamReader::new("sma_cross", &params);
        assert_eq!(
            reader.usize_in("fast", None, 1, 100),
            Err(StrategyConfigError::MissingParam { strategy: "sma_cross", param: "fast" })
        );
        let error = reader.finish().unwrap_err();
        assert!(matches!(&error, StrategyConfigError::UnknownParam { param, .. } if param == "fsat"));
    }

    #[test]
    fn reader_enforces_ranges_and_reads_flags_and_decimals() {
        let params: StrategyParams = "period=0,k=2.5,short=true".parse().unwrap();
        let mut reader = ParamReader::new("x", &params);
        assert!(reader.usize_in("period", Some(14), 1, 1000).is_err());
        assert_eq!(reader.decimal_in("k", None, Price::ZERO, Price::from_units(10)), Ok("2.5".parse().unwrap()));
        assert_eq!(reader.flag("short", false), Ok(true));
        assert_eq!(reader.flag("absent", false), Ok(false));
        assert_eq!(reader.finish(), Ok(()));
    }
}
