//! The domain types the engine receives as JSON (strategy parameters, prices) keep decimals
//! exact through serde_json.

use domain::strategy::{build_strategy, StrategyBase, StrategyConfigError, StrategyParams};
use domain::{InstrumentId, Money, Price, Qty};

#[test]
fn strategy_params_deserialize_from_json_numbers_strings_and_booleans() {
    let params: StrategyParams =
        serde_json::from_str(r#"{"period": 20, "k": 2.5, "quantity": "0.1", "flag": true}"#).unwrap();
    assert_eq!(params.get("period"), Some("20"));
    assert_eq!(params.get("k"), Some("2.5"));
    assert_eq!(params.get("quantity"), Some("0.1"));
    assert_eq!(params.get("flag"), Some("true"));
    assert!(serde_json::from_str::<StrategyParams>(r#"{"period": [1]}"#).is_err());
}

#[test]
fn json_params_build_a_strategy_or_name_the_bad_parameter() {
    let base = StrategyBase { instrument: InstrumentId(3), quantity: Qty::from_units(1) };
    let good: StrategyParams = serde_json::from_str(r#"{"period": 20, "k": 2.5}"#).unwrap();
    assert_eq!(build_strategy("bollinger_breakout", &good, base).unwrap().name(), "bollinger_breakout");
    let bad: StrategyParams = serde_json::from_str(r#"{"period": 20, "k": 0.000000001}"#).unwrap();
    let error = build_strategy("bollinger_breakout", &bad, base).err().unwrap();
    assert!(matches!(&error, StrategyConfigError::InvalidParam { param, .. } if param == "k"), "{error}");
}

#[test]
fn fixed_point_values_serialize_as_exact_decimal_strings() {
    let price: Price = "100.1793".parse().unwrap();
    assert_eq!(serde_json::to_string(&price).unwrap(), r#""100.1793""#);
    assert_eq!(serde_json::from_str::<Price>(r#""100.1793""#).unwrap(), price);
    assert_eq!(serde_json::from_str::<Qty>("100").unwrap(), Qty::from_units(100));
    assert_eq!(serde_json::from_str::<Money>(r#""-521.31""#).unwrap().to_string(), "-521.31");
    assert!(serde_json::from_str::<Price>(r#""1.2.3""#).is_err());
}
