//! Strategies:
//! - `GET /strategies`: every strategy with its parameters, state and P&L
//!   (`GET /api/v1/pnl?strategy=NAME`, loaded concurrently).
//! - `POST /strategies/{name}/enable`, `POST /strategies/{name}/disable` (`csrf`; admins only):
//!   start or stop it through the engine, then back to the list.
//! - `GET /strategies/{name}/edit` (admins only): a form with its parameters (JSON), symbols
//!   and bar period.
//! - `POST /strategies/{name}` (`csrf`, `params`, `symbols`, `bar_seconds`; admins only):
//!   checks the form, then `PATCH /api/v1/strategies/{name}`; what the dashboard or the engine
//!   (422, its message naming the parameter) refuses is shown above the form with what was
//!   typed kept; then back to the list.

use axum::{
    extract::{Path, State},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Router,
};
use leptos::prelude::*;

use crate::{
    auth::session::CurrentUser,
    clients::UpstreamError,
    error::PageError,
    pages::{
        strategies::{StrategiesPage, StrategyEditPage, StrategyForm, StrategyLine},
        Section,
    },
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/strategies", get(strategies))
        .route("/strategies/{name}/enable", post(enable))
        .route("/strategies/{name}/disable", post(disable))
        .route("/strategies/{name}/edit", get(edit))
        .route("/strategies/{name}", post(configure))
}

async fn strategies(State(state): State<AppState>, user: CurrentUser) -> Response {
    let lines = match state.engine.strategies().await {
        Ok(list) => {
            let pnls = futures_util::future::join_all(list.iter().map(|s| state.engine.strategy_pnl(&s.name))).await;
            Ok(list
                .into_iter()
                .zip(pnls)
                .map(|(strategy, pnl)| StrategyLine { strategy, pnl: pnl.map_err(|e| e.to_string()) })
                .collect())
        }
        Err(e) => Err(e.to_string()),
    };
    let csrf = user.role.can_administer().then(|| user.csrf.clone());
    let content = view! { <StrategiesPage lines=lines csrf=csrf/> }.into_any();
    super::signed_in_page(&state, user, Section::Strategies, "Strategies", content).await
}

/// Whether `name` can be a strategy's name (the engine's rule, `[a-z0-9][a-z0-9_-]{0,63}`); a
/// name from the URL goes into the engine's path only if it is, so it cannot reach another
/// endpoint with the dashboard's token.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Fails with 403 unless the user may change strategies (admins); `action` completes "may not
/// …".
fn require_admin(user: &CurrentUser, action: &str) -> Result<(), PageError> {
    if user.role.can_administer() {
        Ok(())
    } else {
        tracing::warn!(user = %user.username, role = %user.role, action, "strategy change refused: not an admin");
        Err(PageError::Forbidden(format!("Your role ({}) may not {action}; ask an admin.", user.role)))
    }
}

/// What the parameters form asks the engine to set.
#[derive(Debug, Clone, PartialEq)]
pub struct Configuration {
    /// Parameters (a JSON object).
    pub params: serde_json::Value,
    /// Symbols, upper-cased.
    pub symbols: Vec<String>,
    /// Bar period in seconds.
    pub bar_seconds: i32,
}

/// Reads the parameters form; the error names the field. Whether the parameters suit the
/// strategy's kind is the engine's to say.
pub fn parse_configuration(form: &StrategyForm) -> Result<Configuration, String> {
    let params: serde_json::Value = serde_json::from_str(form.params.trim())
        .map_err(|e| format!("Parameters must be a JSON object, e.g. {{\"fast\": 10}}: {e}."))?;
    if !params.is_object() {
        return Err("Parameters must be a JSON object, e.g. {\"fast\": 10}.".to_owned());
    }
    let symbols: Vec<String> =
        form.symbols.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_ascii_uppercase).collect();
    if symbols.is_empty() {
        return Err("Symbols: give at least one.".to_owned());
    }
    if let Some(bad) = symbols.iter().find(|s| super::markets::parse_symbol(s).is_err()) {
        return Err(format!("Symbols: {bad:?} is not a symbol (up to 32 letters, digits, '.', '-' or '_')."));
    }
    let bar_seconds = match form.bar_seconds.trim().parse::<i32>() {
        Ok(n) if (1..=86_400).contains(&n) => n,
        _ => {
            return Err(format!(
                "Bar period must be a whole number of seconds from 1 to 86400 (got {:?}).",
                form.bar_seconds.trim()
            ))
        }
    };
    Ok(Configuration { params, symbols, bar_seconds })
}

async fn render_edit(
    state: &AppState,
    user: CurrentUser,
    name: &str,
    form: Option<StrategyForm>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let strategy = state
        .engine
        .strategy(name)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("There is no strategy {name:?}.")))?;
    let form = form.unwrap_or_else(|| StrategyForm::of(&strategy));
    let refused = error.is_some();
    let csrf = user.csrf.clone();
    let content = view! { <StrategyEditPage strategy=strategy form=form csrf=csrf error=error/> }.into_any();
    let page = super::signed_in_page(state, user, Section::Strategies, &format!("Strategy {name}"), content).await;
    Ok(if refused { (axum::http::StatusCode::UNPROCESSABLE_ENTITY, page).into_response() } else { page })
}

async fn edit(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    require_admin(&user, "change strategies")?;
    if !valid_name(&name) {
        return Err(PageError::NotFound(format!("There is no strategy {name:?}.")));
    }
    render_edit(&state, user, &name, None, None).await
}

async fn configure(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    Form(form): Form<StrategyForm>,
) -> Result<Response, PageError> {
    require_admin(&user, "change strategies")?;
    super::check_csrf(&user, &form.csrf)?;
    if !valid_name(&name) {
        return Err(PageError::NotFound(format!("There is no strategy {name:?}.")));
    }
    let config = match parse_configuration(&form) {
        Ok(c) => c,
        Err(e) => return render_edit(&state, user, &name, Some(form), Some(e)).await,
    };
    match state.engine.configure_strategy(&name, &config.params, &config.symbols, config.bar_seconds).await {
        Ok(s) => {
            tracing::warn!(user = %user.username, strategy = %name, params = %s.params, symbols = ?s.symbols,
                bar_seconds = s.bar_seconds, "strategy reconfigured from the dashboard");
            Ok(Redirect::to("/strategies").into_response())
        }
        Err(UpstreamError::Status { status: 404, .. }) => {
            Err(PageError::NotFound(format!("There is no strategy {name:?}.")))
        }
        Err(UpstreamError::Status { status: 400 | 409 | 422, message, .. }) => {
            let error = format!("The engine refused these settings: {message}.");
            render_edit(&state, user, &name, Some(form), Some(error)).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn set_enabled(
    state: AppState,
    user: CurrentUser,
    name: String,
    csrf: String,
    enabled: bool,
) -> Result<Response, PageError> {
    require_admin(&user, "start or stop strategies")?;
    super::check_csrf(&user, &csrf)?;
    if !valid_name(&name) {
        return Err(PageError::NotFound(format!("There is no strategy {name:?}.")));
    }
    state.engine.set_strategy_enabled(&name, enabled).await?;
    tracing::warn!(user = %user.username, strategy = %name, enabled, "strategy state changed from the dashboard");
    Ok(Redirect::to("/strategies").into_response())
}

async fn enable(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    Form(form): Form<super::auth::CsrfForm>,
) -> Result<Response, PageError> {
    set_enabled(state, user, name, form.csrf, true).await
}

async fn disable(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
    Form(form): Form<super::auth::CsrfForm>,
) -> Result<Response, PageError> {
    set_enabled(state, user, name, form.csrf, false).await
}

#[cfg(test)]
mod tests {
    use super::{parse_configuration, valid_name, StrategyForm};

    fn form(params: &str, symbols: &str, bar: &str) -> StrategyForm {
        StrategyForm { csrf: String::new(), params: params.into(), symbols: symbols.into(), bar_seconds: bar.into() }
    }

    #[test]
    fn the_parameters_form_is_read_as_a_json_object_symbols_and_a_bar_period() {
        let c = parse_configuration(&form(r#"{"fast": 5, "quantity": "0.5"}"#, " btcusd, ETHUSD ,", "60")).unwrap();
        assert_eq!(c.params, serde_json::json!({"fast": 5, "quantity": "0.5"}));
        assert_eq!(c.symbols, ["BTCUSD", "ETHUSD"]);
        assert_eq!(c.bar_seconds, 60);
    }

    #[test]
    fn a_bad_form_is_refused_with_the_field_named() {
        assert!(parse_configuration(&form("{fast: 5", "X", "60")).unwrap_err().starts_with("Parameters"));
        assert!(parse_configuration(&form("[1]", "X", "60")).unwrap_err().starts_with("Parameters"));
        assert!(parse_configuration(&form("{}", " , ", "60")).unwrap_err().starts_with("Symbols"));
        assert!(parse_configuration(&form("{}", "A B", "60")).unwrap_err().starts_with("Symbols"));
        assert!(parse_configuration(&form("{}", "X", "0")).unwrap_err().starts_with("Bar period"));
        assert!(parse_configuration(&form("{}", "X", "1.5")).unwrap_err().starts_with("Bar period"));
    }

    #[test]
    fn only_names_the_engine_allows_are_passed_on_so_a_path_cannot_escape() {
        assert!(valid_name("demo-sma"));
        assert!(valid_name("e2e_tv2"));
        for bad in ["", "../halt", "a/b", "Demo", "-x", "a b", "a%2fb", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
