//! The engine's custom metrics (CloudWatch in AWS, the logs elsewhere; see
//! [`platform::metrics`]). Recording only updates an in-memory aggregate: never I/O on the
//! trading path.
//!
//! Names and dimensions are a contract with the alarms and the dashboard of
//! `terraform/modules/monitoring` (`HaltActive`, `EngineHeartbeat`, `OrdersSubmitted`,
//! `RiskRejects` with only `Service` and `Environment`); the breakdowns are extra series.
//!
//! | metric | unit | dimensions | recorded when |
//! |---|---|---|---|
//! | `EngineHeartbeat` | count | | every lease round that succeeded (every `LEASE_RENEW_MILLIS`) |
//! | `OrdersSubmitted` | count | | an order is created (accepted by the checks or rejected) |
//! | `SignalsAccepted` / `SignalsDuplicate` | count | | a webhook alert is stored / is a repeat |
//! | `SignalsRefused` | count | `Reason` (error code) | a webhook alert is refused |
//! | `Orders` | count | `State` | an order is created in or moves to a state |
//! | `RiskRejects` | count | none, and `Reason` (risk check) | an order is rejected by a pre-trade check |
//! | `Fills` | count | `Account` | a fill is booked |
//! | `RealizedPnl` / `UnrealizedPnl` | none (account currency) | `Account` | every equity snapshot |
//! | `HaltActive` | none (0/1) | | every kill-switch check: 1 while any halt is active |
//! | `Halted` | none (0/1) | `Scope` (`all`, `account:<a>`, `strategy:<s>`) | every kill-switch check |
//! | `RequestCount` / `RequestLatency` | count / ms | `Route`, `Status` | every HTTP request |

use platform::metrics::{global, Unit};
use rust_decimal::{prelude::ToPrimitive, Decimal};

use crate::halt::Halt;

/// A webhook alert answered with `status` (`accepted` or `duplicate`).
pub fn signal(status: &str) {
    let name = if status == "accepted" { "SignalsAccepted" } else { "SignalsDuplicate" };
    global().count(name, 1.0, &[]);
}

/// A webhook alert refused with the error `code`.
pub fn signal_refused(code: &str) {
    global().count("SignalsRefused", 1.0, &[("Reason", code)]);
}

/// The engine completed a lease round: it is alive and can reach the database.
/// A position that differs from the venue's in two checks in a row.
pub fn reconciliation_break(symbol: &str) {
    global().count("ReconciliationBreaks", 1.0, &[("Symbol", symbol)]);
}

pub fn heartbeat() {
    global().count("EngineHeartbeat", 1.0, &[]);
}

/// An order was created (accepted by the pre-trade checks or rejected by them).
pub fn order_submitted() {
    global().count("OrdersSubmitted", 1.0, &[]);
}

/// An order entered `state`.
pub fn order_state(state: &str) {
    global().count("Orders", 1.0, &[("State", state)]);
}

/// A pre-trade check rejected an order for `reason`.
pub fn risk_reject(reason: &str) {
    let metrics = global();
    metrics.count("RiskRejects", 1.0, &[]);
    metrics.count("RiskRejects", 1.0, &[("Reason", reason)]);
}

/// A fill was booked for `account`.
pub fn fill(account: &str) {
    global().count("Fills", 1.0, &[("Account", account)]);
}

/// The P&L of `account` now. A metric value is a float by CloudWatch's definition; the exact
/// amounts stay in Postgres.
pub fn account_pnl(account: &str, realized: Decimal, unrealized: Decimal) {
    let metrics = global();
    metrics.gauge("RealizedPnl", realized.to_f64().unwrap_or_default(), Unit::None, &[("Account", account)]);
    metrics.gauge("UnrealizedPnl", unrealized.to_f64().unwrap_or_default(), Unit::None, &[("Account", account)]);
}

/// The active halts: `Halted` is 1 for `all` when anything is halted platform-wide, and 1 for
/// each halted account or strategy; 0 for `all` otherwise (so an alarm can watch one series).
pub fn halts(active: &[Halt]) {
    let metrics = global();
    metrics.gauge("HaltActive", if active.is_empty() { 0.0 } else { 1.0 }, Unit::None, &[]);
    let all = active.iter().any(|h| h.scope == "all");
    metrics.gauge("Halted", if all { 1.0 } else { 0.0 }, Unit::None, &[("Scope", "all")]);
    for halt in active {
        let target = match halt.scope.as_str() {
            "account" => halt.account.as_deref(),
            "strategy" => halt.strategy.as_deref(),
            _ => continue,
        };
        let scope = format!("{}:{}", halt.scope, target.unwrap_or_default());
        metrics.gauge("Halted", 1.0, Unit::None, &[("Scope", &scope)]);
    }
}
