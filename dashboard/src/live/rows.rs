//! The data the islands show, as the server formatted it: serialized into the page for
//! hydration and sent again as server-sent events when it changes.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// One open position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionRow {
    /// Account.
    pub account: String,
    /// Strategy.
    pub strategy: String,
    /// Symbol.
    pub symbol: String,
    /// Signed quantity.
    pub qty: String,
    /// Average entry price, or a dash.
    pub avg_price: String,
    /// Last price, or a dash.
    pub last_price: String,
    /// Unrealized P&L, or a dash.
    pub unrealized_pnl: String,
    /// Realized P&L.
    pub realized_pnl: String,
}

/// One order as a table row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRow {
    /// The engine's id.
    pub order_id: i64,
    /// Creation time, UTC, `YYYY-MM-DD HH:MM:SS`.
    pub created: String,
    /// Account.
    pub account: String,
    /// Strategy.
    pub strategy: String,
    /// Symbol.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    /// The order type, with the limit price for a limit order.
    pub kind: String,
    /// Quantity.
    pub qty: String,
    /// Filled quantity.
    pub filled: String,
    /// Average fill price, or a dash.
    pub avg_fill: String,
    /// Status, with the reject reason when there is one.
    pub status: String,
}

/// Whether trading is halted, and the halts in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TradingState {
    /// No halt is active.
    Active,
    /// Halts are active.
    Halted {
        /// Each active halt in a sentence.
        halts: Vec<String>,
        /// Whether one of them halts all trading (scope `all`), which traders may resume.
        all: bool,
    },
    /// The engine could not be asked, and why.
    Unknown(String),
}

/// An amount as text with the class of its sign: `num gain` above zero, `num loss` below,
/// `num` at zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedAmount {
    /// The CSS classes.
    pub class: String,
    /// The amount.
    pub text: String,
}

/// One account's P&L figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFigures {
    /// Equity: realized plus unrealized P&L at the last prices.
    pub equity: SignedAmount,
    /// Equity now less equity at 00:00 UTC, when the engine's history reaches back that far.
    pub today: Option<SignedAmount>,
    /// Realized P&L of fills since 00:00 UTC.
    pub realized_today: SignedAmount,
    /// Realized P&L.
    pub realized: String,
    /// Unrealized P&L.
    pub unrealized: String,
}

/// One account's line on the overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRow {
    /// The account.
    pub account: String,
    /// Its figures, or why they could not be read.
    pub figures: Result<AccountFigures, String>,
}

/// One TradingView alert and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRow {
    /// The engine's id.
    pub signal_id: i64,
    /// When it arrived, UTC, `YYYY-MM-DD HH:MM:SS`.
    pub received: String,
    /// Strategy it was sent to.
    pub strategy: String,
    /// Symbol.
    pub ticker: String,
    /// Action (`buy`, `sell`, `exit`, ...).
    pub action: String,
    /// Status, with the engine's note when there is one.
    pub status: String,
}

/// One service's readiness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRow {
    /// Service name.
    pub name: String,
    /// Whether it is ready.
    pub ready: bool,
    /// `ready`, or `not ready: ` and why.
    pub text: String,
}

/// Everything the live part of the overview shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewSnapshot {
    /// The engine's, the data-service's and the dashboard's own readiness.
    pub services: Vec<ServiceRow>,
    /// Every account the engine has positions for with its P&L, or why they could not be read.
    pub accounts: Result<Vec<AccountRow>, String>,
    /// The latest TradingView alerts, newest first, or why they could not be read.
    pub alerts: Result<Vec<AlertRow>, String>,
    /// Halt state.
    pub trading: TradingState,
    /// Open positions, or why they could not be read.
    pub positions: Result<Vec<PositionRow>, String>,
    /// Working orders, or why they could not be read.
    pub working: Result<Vec<OrderRow>, String>,
}

/// One trade on the live price, as the dashboard's `/markets/live` events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveTick {
    /// Price, as a decimal in text.
    pub price: String,
    /// Trade time, RFC 3339.
    pub ts: String,
}

impl LiveTick {
    /// The tick in a `tick` event's JSON (`{"symbol","price","ts"}`, the price a string or a
    /// number), or `None` when it has no price or time.
    pub fn from_event(data: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(data).ok()?;
        let price = match value.get("price")? {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return None,
        };
        let ts = value.get("ts")?.as_str()?.to_owned();
        Some(Self { price, ts })
    }
}

/// Compares two prices written as decimals (`-12.50`, `3`, `0.001`) exactly, without floats;
/// `None` when either is not a plain decimal.
pub fn compare_decimals(a: &str, b: &str) -> Option<Ordering> {
    let (a_negative, a_int, a_frac) = split_decimal(a)?;
    let (b_negative, b_int, b_frac) = split_decimal(b)?;
    let a_zero = a_int.is_empty() && a_frac.is_empty();
    let b_zero = b_int.is_empty() && b_frac.is_empty();
    let a_negative = a_negative && !a_zero;
    let b_negative = b_negative && !b_zero;
    let magnitude = a_int.len().cmp(&b_int.len()).then_with(|| a_int.cmp(b_int)).then_with(|| {
        let width = a_frac.len().max(b_frac.len());
        let pad = |f: &str| format!("{f:0<width$}");
        pad(a_frac).cmp(&pad(b_frac))
    });
    Some(match (a_negative, b_negative) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
    })
}

/// Sign, integer digits without leading zeros, fraction digits without trailing zeros.
fn split_decimal(s: &str) -> Option<(bool, &str, &str)> {
    let s = s.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    Some((negative, int.trim_start_matches('0'), frac.trim_end_matches('0')))
}

#[cfg(feature = "ssr")]
mod from_engine {
    use rust_decimal::Decimal;

    use super::{AccountFigures, AccountRow, AlertRow, OrderRow, PositionRow, ServiceRow, SignedAmount, TradingState};
    use crate::{
        clients::{Halt, Health, Order, Pnl, Position, Signal},
        pages::{dec, halt_sentence},
    };

    impl SignedAmount {
        /// `d` with the class of its sign.
        pub fn of(d: Decimal) -> Self {
            let class = if d.is_zero() {
                "num"
            } else if d.is_sign_negative() {
                "num loss"
            } else {
                "num gain"
            };
            Self { class: class.to_owned(), text: dec(Some(d)) }
        }
    }

    impl AccountRow {
        /// The line of `account` with its P&L (or why it could not be read) and its P&L today.
        pub fn new(account: String, pnl: Result<Pnl, String>, today: Option<Decimal>) -> Self {
            let figures = pnl.map(|p| AccountFigures {
                equity: SignedAmount::of(p.total_pnl),
                today: today.map(SignedAmount::of),
                realized_today: SignedAmount::of(p.realized_today),
                realized: dec(Some(p.realized_pnl)),
                unrealized: dec(Some(p.unrealized_pnl)),
            });
            Self { account, figures }
        }
    }

    impl ServiceRow {
        /// The line of service `name` with its `health`.
        pub fn new(name: &str, health: Health) -> Self {
            let (ready, text) = match health {
                Health::Ready => (true, "ready".to_owned()),
                Health::NotReady(why) => (false, format!("not ready: {why}")),
            };
            Self { name: name.to_owned(), ready, text }
        }
    }

    impl From<Signal> for AlertRow {
        fn from(s: Signal) -> Self {
            let status = match &s.note {
                Some(n) if !n.is_empty() => format!("{} ({n})", s.status),
                _ => s.status.clone(),
            };
            Self {
                signal_id: s.signal_id,
                received: s.received_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                strategy: s.strategy,
                ticker: s.ticker,
                action: s.action,
                status,
            }
        }
    }

    impl From<Position> for PositionRow {
        fn from(p: Position) -> Self {
            Self {
                account: p.account,
                strategy: p.strategy,
                symbol: p.symbol,
                qty: dec(Some(p.qty)),
                avg_price: dec(p.avg_price),
                last_price: dec(p.last_price),
                unrealized_pnl: dec(p.unrealized_pnl),
                realized_pnl: dec(Some(p.realized_pnl)),
            }
        }
    }

    impl From<Order> for OrderRow {
        fn from(o: Order) -> Self {
            let kind = match o.limit_price {
                Some(p) => format!("{} {}", o.order_type, p.normalize()),
                None => o.order_type.clone(),
            };
            let status = match &o.reject_reason {
                Some(r) => format!("{} ({r})", o.status),
                None => o.status.clone(),
            };
            Self {
                order_id: o.order_id,
                created: o.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                account: o.account,
                strategy: o.strategy,
                symbol: o.symbol,
                side: o.side,
                kind,
                qty: dec(Some(o.qty)),
                filled: dec(Some(o.filled_qty)),
                avg_fill: dec(o.avg_fill_price),
                status,
            }
        }
    }

    impl TradingState {
        /// The state the engine's active halts (or the error reading them) amount to.
        pub fn from_halts(halts: &Result<Vec<Halt>, String>) -> Self {
            match halts {
                Ok(h) if h.is_empty() => Self::Active,
                Ok(h) => Self::Halted {
                    halts: h.iter().map(halt_sentence).collect(),
                    all: h.iter().any(|h| h.scope == "all"),
                },
                Err(e) => Self::Unknown(e.clone()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_read_from_events_with_string_or_number_prices() {
        let tick = LiveTick::from_event(r#"{"symbol":"X","price":"10.50","ts":"2026-11-24T12:00:00Z"}"#).unwrap();
        assert_eq!(tick, LiveTick { price: "10.50".into(), ts: "2026-11-24T12:00:00Z".into() });
        assert_eq!(LiveTick::from_event(r#"{"price":3.25,"ts":"t"}"#).unwrap().price, "3.25");
        assert_eq!(LiveTick::from_event(r#"{"price":null,"ts":"t"}"#), None);
        assert_eq!(LiveTick::from_event("not json"), None);
    }

    #[test]
    fn decimals_compare_exactly() {
        assert_eq!(compare_decimals("10.5", "10.50"), Some(Ordering::Equal));
        assert_eq!(compare_decimals("10.5", "9.99"), Some(Ordering::Greater));
        assert_eq!(compare_decimals("0.1", "0.10000001"), Some(Ordering::Less));
        assert_eq!(compare_decimals("-2", "-10"), Some(Ordering::Greater));
        assert_eq!(compare_decimals("-0.0", "0"), Some(Ordering::Equal));
        assert_eq!(compare_decimals("-1", "0.5"), Some(Ordering::Less));
        assert_eq!(compare_decimals("007", "7.000"), Some(Ordering::Equal));
        assert_eq!(compare_decimals("100000000000000000000.1", "99999999999999999999.9"), Some(Ordering::Greater));
        assert_eq!(compare_decimals("—", "1"), None);
        assert_eq!(compare_decimals("1e3", "1"), None);
        assert_eq!(compare_decimals(".", "1"), None);
    }
}
