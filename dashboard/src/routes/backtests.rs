//! Backtests:
//! - `GET /backtests`: the latest runs with status and progress, and for traders and admins a
//!   form to start one.
//! - `POST /backtests` (`csrf`, `nonce`, the request's fields; traders and admins): queues it on
//!   the engine (`POST /api/v1/backtests`) with an `Idempotency-Key` derived from the session's
//!   CSRF token and the form's nonce, so a double submit starts one run; then to its page. A
//!   request the engine refuses (422) is shown next to the form in plain words.
//! - `GET /backtests/{id}`: one run. While queued or running it shows its progress, kept live by
//!   the wasm client's island ([`crate::live::backtest::LiveBacktestProgress`]), which reloads
//!   the page once when the run ends (without the client the page reloads itself every two
//!   seconds); once succeeded its metrics, an equity and drawdown chart drawn here from the
//!   engine's `equity.csv`, and its round trips.
//! - `GET /backtests/{id}/live` (server-sent events, signed-in users only): a `progress` event
//!   (JSON of `Result<BacktestProgress, String>`) at once and whenever the engine's job changes;
//!   the engine is asked every [`super::LIVE_REFRESH`].

use std::str::FromStr;

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
    routing::get,
    Form, Router,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use leptos::prelude::*;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use crate::{
    auth::session::CurrentUser,
    clients::UpstreamError,
    error::PageError,
    pages::{
        backtests::{progress_of, BacktestForm, BacktestPage, BacktestResults, BacktestsPage, INTERVALS, STRATEGIES},
        Section,
    },
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/backtests", get(list).post(start))
        .route("/backtests/{id}", get(show))
        .route("/backtests/{id}/live", get(live))
}

/// How many runs the list shows.
const LIST_LIMIT: u32 = 50;

/// Whether `id` can be a backtest id (a UUID in its hyphenated form); only such ids go into the
/// engine's path, so one from the URL cannot reach another endpoint with the dashboard's token.
pub fn valid_id(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// The engine's `Idempotency-Key` for a form: derived from the session's CSRF token and the
/// form's nonce, so pressing "Start" twice on one form starts one run, and a key seen by
/// someone else is of no use in another session.
pub fn idempotency_key(csrf: &str, nonce: &str) -> String {
    let digest = Sha256::digest(format!("{csrf}:{nonce}").as_bytes());
    format!("dash-bt-{}", hex::encode(&digest[..16]))
}

fn new_nonce() -> String {
    crate::auth::random_token()[..24].to_owned()
}

/// A time as typed: RFC 3339, or `YYYY-MM-DDTHH:MM[:SS]` (what a `datetime-local` input sends)
/// or `YYYY-MM-DD`, both read as UTC.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

/// Strategy parameters as typed, `name=value` separated by commas, spaces or lines
/// (`fast=10, slow=30`): whole numbers go as JSON numbers, anything else as text (the engine
/// reads decimals from text exactly).
pub fn parse_params(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut params = serde_json::Map::new();
    for pair in text.split(|c: char| c == ',' || c == ';' || c.is_whitespace()).filter(|p| !p.is_empty()) {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(format!("Parameters are name=value pairs, like fast=10, slow=30 (got {pair:?})."));
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(format!("A parameter name is lower-case letters, digits and '_' (got {name:?})."));
        }
        if value.is_empty() {
            return Err(format!("The parameter {name} has no value."));
        }
        let value = match value.parse::<i64>() {
            Ok(n) => serde_json::Value::from(n),
            Err(_) => serde_json::Value::from(value),
        };
        params.insert(name.to_owned(), value);
    }
    Ok(params)
}

fn decimal(label: &str, text: &str, positive: bool) -> Result<Option<String>, String> {
    match text.trim() {
        "" => Ok(None),
        t => match Decimal::from_str(t) {
            Ok(d) if d > Decimal::ZERO || (!positive && d.is_zero()) => Ok(Some(d.normalize().to_string())),
            _ if positive => Err(format!("{label} must be a number above zero (got {t:?}).")),
            _ => Err(format!("{label} must be a number, zero or more (got {t:?}).")),
        },
    }
}

/// Checks the form and builds the engine's request (`POST /api/v1/backtests`); the error says
/// which field is wrong. The engine checks again (the strategy and its parameters, above all).
pub fn parse_request(f: &BacktestForm) -> Result<serde_json::Value, String> {
    let strategy = f.strategy.trim();
    if !STRATEGIES.iter().any(|(name, _)| *name == strategy) {
        return Err(format!("Choose a strategy (got {strategy:?})."));
    }
    let params = parse_params(&f.params)?;
    let symbol = f.symbol.trim().to_ascii_uppercase();
    if symbol.is_empty()
        || symbol.len() > 32
        || !symbol.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
    {
        return Err("A symbol of 1 to 32 letters, digits or . _ - / is required.".to_owned());
    }
    let interval = f.interval.trim();
    if !INTERVALS.contains(&interval) {
        return Err(format!("The interval must be one of {} (got {interval:?}).", INTERVALS.join(", ")));
    }
    let from = parse_time(&f.from).ok_or_else(|| format!("From is not a time (got {:?}).", f.from))?;
    let to = parse_time(&f.to).ok_or_else(|| format!("To is not a time (got {:?}).", f.to))?;
    if to <= from {
        return Err("To must be after From.".to_owned());
    }
    let quantity = decimal("The quantity", &f.quantity, true)?.ok_or("A quantity is required.")?;
    let fill = f.fill.trim();
    if fill != "next_open" && fill != "close" {
        return Err("Fill must be at the next bar's open or at the bar's close.".to_owned());
    }
    let source = f.source.trim();
    if source != "postgres" && source != "archive" {
        return Err("The bars come from the database (postgres) or the archive.".to_owned());
    }
    let mut request = serde_json::json!({
        "strategy": strategy, "params": params, "symbol": symbol, "interval": interval,
        "from": from.to_rfc3339(), "to": to.to_rfc3339(), "quantity": quantity, "fill": fill, "source": source,
    });
    for (key, label, text, positive) in [
        ("fee_bps", "The fee in basis points", &f.fee_bps, false),
        ("fee_per_order", "The fee per order", &f.fee_per_order, false),
        ("slippage_bps", "The slippage in basis points", &f.slippage_bps, false),
        ("initial_capital", "The initial capital", &f.initial_capital, true),
    ] {
        if let Some(value) = decimal(label, text, positive)? {
            request[key] = value.into();
        }
    }
    Ok(request)
}

async fn render_list(
    state: &AppState,
    user: CurrentUser,
    form: Option<BacktestForm>,
    error: Option<String>,
) -> Response {
    let jobs = state.engine.backtests(LIST_LIMIT).await.map_err(|e| e.to_string());
    let form = user.role.can_trade().then(|| BacktestForm {
        csrf: user.csrf.clone(),
        nonce: new_nonce(),
        ..form.unwrap_or_else(|| BacktestForm::defaults(Utc::now()))
    });
    let content = view! { <BacktestsPage jobs=jobs form=form error=error/> }.into_any();
    super::signed_in_page(state, user, Section::Backtests, "Backtests", content).await
}

async fn list(State(state): State<AppState>, user: CurrentUser) -> Response {
    render_list(&state, user, None, None).await
}

async fn start(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<BacktestForm>,
) -> Result<Response, PageError> {
    super::require_trader(&user, "start backtests")?;
    super::check_csrf(&user, &form.csrf)?;
    let nonce = form.nonce.trim();
    if nonce.is_empty() || nonce.len() > 64 || !nonce.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(PageError::BadRequest("The form has no nonce; open the backtests page again.".to_owned()));
    }
    let request = match parse_request(&form) {
        Ok(r) => r,
        Err(e) => return Ok(render_list(&state, user, Some(form), Some(e)).await),
    };
    let key = idempotency_key(&user.csrf, nonce);
    match state.engine.start_backtest(&request, &key).await {
        Ok(job) => {
            tracing::info!(user = %user.username, job_id = %job.id, strategy = %form.strategy, symbol = %form.symbol,
                "backtest started from the dashboard");
            if !valid_id(&job.id) {
                return Err(PageError::Internal(anyhow::anyhow!("the engine answered a backtest id {:?}", job.id)));
            }
            Ok(Redirect::to(&format!("/backtests/{}", job.id)).into_response())
        }
        Err(UpstreamError::Status { status: 422 | 400, message, .. }) => {
            let error = format!("The engine refused this backtest: {message}.");
            Ok(render_list(&state, user, Some(form), Some(error)).await)
        }
        Err(UpstreamError::Status { status: 409, .. }) => {
            let error = "This form was already used to start a different backtest; check the values and start \
                         again."
                .to_owned();
            Ok(render_list(&state, user, Some(form), Some(error)).await)
        }
        Err(e) => Err(e.into()),
    }
}

async fn show(State(state): State<AppState>, user: CurrentUser, Path(id): Path<String>) -> Result<Response, PageError> {
    if !valid_id(&id) {
        return Err(PageError::NotFound(format!("There is no backtest {id:?}.")));
    }
    let job =
        state.engine.backtest(&id).await?.ok_or_else(|| PageError::NotFound(format!("There is no backtest {id}.")))?;
    let results = if job.status == "succeeded" {
        let (trades, equity) = tokio::join!(state.engine.backtest_trades(&id), state.engine.backtest_equity(&id));
        Some(BacktestResults { trades: trades.map_err(|e| e.to_string()), equity: equity.map_err(|e| e.to_string()) })
    } else {
        None
    };
    let title = format!("Backtest {}", &id[..8]);
    let content = view! { <BacktestPage job=job results=results/> }.into_any();
    Ok(super::signed_in_page(&state, user, Section::Backtests, &title, content).await)
}

async fn live(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    if !valid_id(&id) {
        return Err(PageError::NotFound(format!("There is no backtest {id:?}.")));
    }
    Ok(super::changes(state, "progress", move |state| {
        let id = id.clone();
        async move {
            match state.engine.backtest(&id).await {
                Ok(Some(job)) => Ok(progress_of(&job)),
                Ok(None) => Err(format!("the engine has no backtest {id}")),
                Err(e) => Err(e.to_string()),
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> BacktestForm {
        BacktestForm {
            strategy: "sma_cross".into(),
            params: "fast=2, slow=3".into(),
            symbol: "btcusd".into(),
            interval: "1m".into(),
            from: "2026-01-05T00:00".into(),
            to: "2026-01-05T10:00:00Z".into(),
            quantity: "0.50".into(),
            fill: "next_open".into(),
            source: "postgres".into(),
            ..BacktestForm::default()
        }
    }

    #[test]
    fn a_form_becomes_the_engines_request_with_exact_decimals_and_utc_times() {
        let mut f = form();
        f.fee_bps = "1.5".into();
        let r = parse_request(&f).unwrap();
        assert_eq!(r["symbol"], "BTCUSD");
        assert_eq!(r["params"], serde_json::json!({"fast": 2, "slow": 3}));
        assert_eq!(r["from"], "2026-01-05T00:00:00+00:00");
        assert_eq!(r["quantity"], "0.5");
        assert_eq!(r["fee_bps"], "1.5");
        assert!(r.get("initial_capital").is_none(), "an empty optional field is left to the engine's default");
    }

    #[test]
    fn a_bad_field_is_refused_with_its_name() {
        let mut f = form();
        f.to = "2026-01-04".into();
        assert!(parse_request(&f).unwrap_err().contains("after From"));
        let mut f = form();
        f.quantity = "0".into();
        assert!(parse_request(&f).unwrap_err().contains("quantity"));
        let mut f = form();
        f.params = "fast".into();
        assert!(parse_request(&f).unwrap_err().contains("name=value"));
        let mut f = form();
        f.interval = "2m".into();
        assert!(parse_request(&f).unwrap_err().contains("interval"));
        let mut f = form();
        f.strategy = "martingale".into();
        assert!(parse_request(&f).unwrap_err().contains("strategy"));
    }

    #[test]
    fn text_parameters_stay_text() {
        let p = parse_params("period=14\nthreshold=2.5").unwrap();
        assert_eq!(p["period"], 14);
        assert_eq!(p["threshold"], "2.5");
    }

    #[test]
    fn the_same_form_gives_the_same_key_and_another_session_another() {
        assert_eq!(idempotency_key("a", "n1"), idempotency_key("a", "n1"));
        assert_ne!(idempotency_key("a", "n1"), idempotency_key("a", "n2"));
        assert_ne!(idempotency_key("a", "n1"), idempotency_key("b", "n1"));
    }

    #[test]
    fn only_uuids_are_passed_to_the_engine() {
        assert!(valid_id("0b6f3c7e-8a2d-4f1b-9c3e-1a2b3c4d5e6f"));
        for bad in ["", "../halt", "0b6f3c7e-8a2d-4f1b-9c3e-1a2b3c4d5e6", "0b6f3c7e/8a2d-4f1b-9c3e-1a2b3c4d5e6f"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }
}
