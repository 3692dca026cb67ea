//! Binance's exchange filters (`GET /api/v3/exchangeInfo`), checked before an order leaves so
//! an order Binance would refuse is rejected with the rule it breaks instead of a round trip.
//! Pure: the venue fetches and caches the symbol's rules, this module judges an order by them.
//!
//! Checked: the symbol's `status` (`TRADING`), `PRICE_FILTER` (`minPrice`, `maxPrice`,
//! `tickSize`), `LOT_SIZE` and, for market orders, `MARKET_LOT_SIZE` (`minQty`, `maxQty`,
//! `stepSize`), and for limit orders the notional rules `MIN_NOTIONAL` and `NOTIONAL`
//! (`minNotional`, `maxNotional`). A zero bound or step means "no rule", as Binance documents.
//! A market order's notional is left to Binance: it is judged against Binance's own average
//! price, which the engine does not have.

use rust_decimal::Decimal;
use serde::Deserialize;

/// One symbol's entry in `exchangeInfo.symbols`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolInfo {
    /// The symbol, e.g. `BTCUSDT`.
    pub symbol: String,
    /// `TRADING`, `HALT`, `BREAK`.
    pub status: String,
    /// The asset bought or sold, e.g. `BTC`.
    pub base_asset: String,
    /// The asset prices are in, e.g. `USDT`.
    pub quote_asset: String,
    /// The symbol's filters; unknown filter types are kept and ignored.
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// A filter as Binance sends it: a type and its (string) bounds.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// `PRICE_FILTER`, `LOT_SIZE`, `MARKET_LOT_SIZE`, `MIN_NOTIONAL`, `NOTIONAL`, ...
    pub filter_type: String,
    #[serde(default)]
    min_price: Option<Decimal>,
    #[serde(default)]
    max_price: Option<Decimal>,
    #[serde(default)]
    tick_size: Option<Decimal>,
    #[serde(default)]
    min_qty: Option<Decimal>,
    #[serde(default)]
    max_qty: Option<Decimal>,
    #[serde(default)]
    step_size: Option<Decimal>,
    #[serde(default)]
    min_notional: Option<Decimal>,
    #[serde(default)]
    max_notional: Option<Decimal>,
}

/// What is judged: the quantity, and the limit price of a limit order.
#[derive(Debug, Clone, Copy)]
pub struct Proposed {
    /// Quantity in the base asset.
    pub qty: Decimal,
    /// Limit price; `None` for a market order.
    pub limit_price: Option<Decimal>,
}

fn set(value: Option<Decimal>) -> Option<Decimal> {
    value.filter(|v| !v.is_zero())
}

/// Whether `value` is `start` plus a whole number of `step`s.
fn on_grid(value: Decimal, start: Decimal, step: Decimal) -> bool {
    ((value - start) % step).is_zero()
}

impl SymbolInfo {
    /// The first rule the order breaks, as a reason naming the filter and the numbers.
    pub fn check(&self, order: Proposed) -> Result<(), String> {
        let symbol = &self.symbol;
        if self.status != "TRADING" {
            return Err(format!("binance: {symbol} is not trading (status {})", self.status));
        }
        let lot = if order.limit_price.is_none() { "MARKET_LOT_SIZE" } else { "LOT_SIZE" };
        for filter in &self.filters {
            match filter.filter_type.as_str() {
                "PRICE_FILTER" => {
                    if let Some(price) = order.limit_price {
                        check_range(
                            "PRICE_FILTER",
                            "price",
                            price,
                            filter.min_price,
                            filter.max_price,
                            filter.tick_size,
                            "tickSize",
                        )?;
                    }
                }
                "LOT_SIZE" | "MARKET_LOT_SIZE" if filter.filter_type == lot || filter.filter_type == "LOT_SIZE" => {
                    check_range(
                        &filter.filter_type,
                        "quantity",
                        order.qty,
                        filter.min_qty,
                        filter.max_qty,
                        filter.step_size,
                        "stepSize",
                    )?;
                }
                "MIN_NOTIONAL" | "NOTIONAL" => {
                    if let Some(price) = order.limit_price {
                        let notional = price * order.qty;
                        if let Some(min) = set(filter.min_notional) {
                            if notional < min {
                                return Err(format!(
                                    "binance filter {}: notional {} is below minNotional {}",
                                    filter.filter_type,
                                    notional.normalize(),
                                    min.normalize()
                                ));
                            }
                        }
                        if let Some(max) = set(filter.max_notional) {
                            if notional > max {
                                return Err(format!(
                                    "binance filter {}: notional {} is above maxNotional {}",
                                    filter.filter_type,
                                    notional.normalize(),
                                    max.normalize()
                                ));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn check_range(
    filter: &str,
    what: &str,
    value: Decimal,
    min: Option<Decimal>,
    max: Option<Decimal>,
    step: Option<Decimal>,
    step_name: &str,
) -> Result<(), String> {
    let (min, max, step) = (set(min), set(max), set(step));
    let min_name = if what == "price" { "minPrice" } else { "minQty" };
    let max_name = if what == "price" { "maxPrice" } else { "maxQty" };
    if let Some(min) = min {
        if value < min {
            return Err(format!(
                "binance filter {filter}: {what} {} is below {min_name} {}",
                value.normalize(),
                min.normalize()
            ));
        }
    }
    if let Some(max) = max {
        if value > max {
            return Err(format!(
                "binance filter {filter}: {what} {} is above {max_name} {}",
                value.normalize(),
                max.normalize()
            ));
        }
    }
    if let Some(step) = step {
        if !on_grid(value, min.unwrap_or_default(), step) {
            return Err(format!(
                "binance filter {filter}: {what} {} is not a multiple of {step_name} {}",
                value.normalize(),
                step.normalize()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BTCUSDT's rules in Binance's format (values as on the exchange in 2026).
    fn btcusdt() -> SymbolInfo {
        serde_json::from_value(serde_json::json!({
            "symbol": "BTCUSDT", "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000", "tickSize": "0.01000000"},
                {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
                {"filterType": "ICEBERG_PARTS", "limit": 10},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "120.00000000", "stepSize": "0.00000000"},
                {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": true, "maxNotional": "9000000.00000000", "applyMaxToMarket": false, "avgPriceMins": 5}
            ]
        }))
        .unwrap()
    }

    fn limit(qty: &str, price: &str) -> Proposed {
        Proposed { qty: qty.parse().unwrap(), limit_price: Some(price.parse().unwrap()) }
    }

    #[test]
    fn an_order_on_the_grid_and_within_the_bounds_passes() {
        assert_eq!(btcusdt().check(limit("0.001", "64000.01")), Ok(()));
        assert_eq!(btcusdt().check(Proposed { qty: "0.5".parse().unwrap(), limit_price: None }), Ok(()));
    }

    #[test]
    fn each_broken_rule_is_named_with_its_numbers() {
        let info = btcusdt();
        assert_eq!(
            info.check(limit("0.000015", "64000")),
            Err("binance filter LOT_SIZE: quantity 0.000015 is not a multiple of stepSize 0.00001".into())
        );
        assert_eq!(
            info.check(limit("0.001", "64000.005")),
            Err("binance filter PRICE_FILTER: price 64000.005 is not a multiple of tickSize 0.01".into())
        );
        assert_eq!(
            info.check(limit("0.00001", "64000")),
            Err("binance filter NOTIONAL: notional 0.64 is below minNotional 5".into())
        );
        assert_eq!(
            info.check(limit("10000", "1")),
            Err("binance filter LOT_SIZE: quantity 10000 is above maxQty 9000".into())
        );
        assert_eq!(
            info.check(Proposed { qty: "121".parse().unwrap(), limit_price: None }),
            Err("binance filter MARKET_LOT_SIZE: quantity 121 is above maxQty 120".into())
        );
    }

    #[test]
    fn a_symbol_not_trading_refuses_every_order() {
        let mut info = btcusdt();
        info.status = "BREAK".into();
        assert_eq!(info.check(limit("0.001", "64000")), Err("binance: BTCUSDT is not trading (status BREAK)".into()));
    }
}
