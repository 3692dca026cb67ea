//! Risk limits:
//! - `GET /risk?account=A` (default `demo`): the accounts and their venues
//!   (`GET /api/v1/accounts`), the account's limits (`GET /api/v1/risk-limits/A`)
//!   and the latest changes to them from the engine's audit log
//!   (`GET /api/v1/audit?target=account:A`).
//! - `POST /risk` (`csrf`, `account`, one field per limit, empty = no limit; admins only):
//!   replaces them (`PUT /api/v1/risk-limits/A`) and shows the page again.

use std::str::FromStr;

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
    routing::get,
    Form, Router,
};
use leptos::prelude::*;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::{
    auth::session::CurrentUser,
    clients::RiskLimits,
    error::PageError,
    pages::{risk::RiskPage, Section},
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/risk", get(show).post(save))
}

/// Whether `account` may go into the engine's path: letters, digits, `_`, `-`, `.`, 1 to 64.
pub fn valid_account(account: &str) -> bool {
    !account.is_empty()
        && account.len() <= 64
        && account.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
        && account != "."
        && account != ".."
}

#[derive(Debug, Deserialize)]
struct RiskQuery {
    account: Option<String>,
}

/// How many audit entries the page shows.
const AUDIT_LIMIT: u32 = 20;

async fn render(state: &AppState, user: CurrentUser, account: String, error: Option<String>) -> Response {
    let accounts = state.engine.accounts().await.map_err(|e| e.to_string());
    let (limits, audit, reconciliation) = if valid_account(&account) {
        let target = format!("account:{account}");
        let (limits, audit, reconciliation) = tokio::join!(
            state.engine.risk_limits(&account),
            state.engine.audit(&target, AUDIT_LIMIT),
            state.engine.reconciliation_events(&account, AUDIT_LIMIT)
        );
        (limits.map_err(|e| e.to_string()), audit.map_err(|e| e.to_string()), reconciliation.map_err(|e| e.to_string()))
    } else {
        let why = "an account is 1 to 64 letters, digits, '_', '-' or '.'".to_owned();
        (Err(why.clone()), Err(why.clone()), Err(why))
    };
    let csrf = user.role.can_administer().then(|| user.csrf.clone());
    let content =
        view! { <RiskPage account=account accounts=accounts limits=limits audit=audit reconciliation=reconciliation csrf=csrf error=error/> }
            .into_any();
    super::signed_in_page(state, user, Section::Risk, "Risk limits", content).await
}

async fn show(State(state): State<AppState>, user: CurrentUser, Query(q): Query<RiskQuery>) -> Response {
    let account = q.account.map(|a| a.trim().to_owned()).unwrap_or_else(|| "demo".to_owned());
    render(&state, user, account, None).await
}

/// The limits form as posted.
#[derive(Debug, Deserialize)]
pub struct LimitsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    max_order_qty: String,
    #[serde(default)]
    max_order_notional: String,
    #[serde(default)]
    max_position: String,
    #[serde(default)]
    max_gross_exposure: String,
    #[serde(default)]
    price_collar_bps: String,
    #[serde(default)]
    max_daily_loss: String,
    #[serde(default)]
    max_orders_per_minute: String,
}

fn limit(label: &str, text: &str) -> Result<Option<Decimal>, String> {
    match text.trim() {
        "" => Ok(None),
        t => match Decimal::from_str(t) {
            Ok(d) if d > Decimal::ZERO => Ok(Some(d)),
            _ => Err(format!("{label} must be a number above zero, or empty for no limit (got {t:?}).")),
        },
    }
}

/// Reads the posted limits; the error says which field is wrong.
pub fn parse_limits(f: &LimitsForm) -> Result<RiskLimits, String> {
    let max_orders_per_minute = match f.max_orders_per_minute.trim() {
        "" => None,
        t => match t.parse::<i32>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(format!("Orders per minute must be a whole number above zero (got {t:?}).")),
        },
    };
    Ok(RiskLimits {
        max_order_qty: limit("Order quantity", &f.max_order_qty)?,
        max_order_notional: limit("Order notional", &f.max_order_notional)?,
        max_position: limit("Position", &f.max_position)?,
        max_gross_exposure: limit("Gross exposure", &f.max_gross_exposure)?,
        price_collar_bps: limit("Price collar", &f.price_collar_bps)?,
        max_daily_loss: limit("Daily loss", &f.max_daily_loss)?,
        max_orders_per_minute,
    })
}

async fn save(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<LimitsForm>,
) -> Result<Response, PageError> {
    if !user.role.can_administer() {
        tracing::warn!(user = %user.username, role = %user.role, "risk limit change refused: not an admin");
        return Err(PageError::Forbidden(format!(
            "Your role ({}) may not change risk limits; ask an admin.",
            user.role
        )));
    }
    super::check_csrf(&user, &form.csrf)?;
    let account = form.account.trim().to_owned();
    if !valid_account(&account) {
        return Err(PageError::BadRequest("An account is 1 to 64 letters, digits, '_', '-' or '.'.".to_owned()));
    }
    let limits = match parse_limits(&form) {
        Ok(l) => l,
        Err(e) => return Ok(render(&state, user, account, Some(e)).await),
    };
    state.engine.put_risk_limits(&account, &limits).await?;
    tracing::warn!(user = %user.username, account = %account, ?limits, "risk limits changed from the dashboard");
    let mut to = reqwest::Url::parse("http://x/risk").expect("a fixed URL parses");
    to.query_pairs_mut().append_pair("account", &account);
    Ok(Redirect::to(&format!("/risk?{}", to.query().unwrap_or_default())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(qty: &str, per_minute: &str) -> LimitsForm {
        LimitsForm {
            csrf: String::new(),
            account: "demo".into(),
            max_order_qty: qty.into(),
            max_order_notional: String::new(),
            max_position: String::new(),
            max_gross_exposure: String::new(),
            price_collar_bps: String::new(),
            max_daily_loss: String::new(),
            max_orders_per_minute: per_minute.into(),
        }
    }

    #[test]
    fn empty_fields_are_no_limit_and_numbers_are_read_exactly() {
        let l = parse_limits(&form("250.5", "30")).unwrap();
        assert_eq!(l.max_order_qty, Some(Decimal::from_str("250.5").unwrap()));
        assert_eq!(l.max_orders_per_minute, Some(30));
        assert_eq!(l.max_daily_loss, None);
    }

    #[test]
    fn a_zero_negative_or_non_numeric_limit_is_refused_with_the_field_named() {
        assert!(parse_limits(&form("0", "")).unwrap_err().contains("Order quantity"));
        assert!(parse_limits(&form("lots", "")).unwrap_err().contains("Order quantity"));
        assert!(parse_limits(&form("", "2.5")).unwrap_err().contains("Orders per minute"));
    }

    #[test]
    fn an_account_that_could_change_the_engines_path_is_refused() {
        assert!(valid_account("demo") && valid_account("e2e-signals"));
        for bad in ["", "..", "a/b", "a b", "a?b", "a%2f"] {
            assert!(!valid_account(bad), "{bad:?}");
        }
    }
}
