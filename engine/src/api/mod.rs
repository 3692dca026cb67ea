//! The engine's HTTP API under `/api/v1`, one router per feature. Everything except health,
//! the OpenAPI document and the TradingView webhook needs a bearer API token.

pub mod accounts;
pub mod audit;
pub mod backtests;
pub mod halt;
pub mod instruments;
pub mod orders;
pub mod portfolio;
pub mod reconciliation;
pub mod reports;
pub mod risk;
pub mod signals;
pub mod strategies;

use axum::{routing::get, Json, Router};
use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

use crate::startup::AppState;

/// Longest account name the API takes.
pub const ACCOUNT_MAX_CHARS: usize = 64;
/// Longest symbol the API takes.
pub const SYMBOL_MAX_CHARS: usize = 32;
/// Longest strategy name (the `strategy` table's check allows `[a-z0-9][a-z0-9_-]{0,63}`).
pub const STRATEGY_NAME_MAX_CHARS: usize = 64;
/// Longest free-text reason (halts) the API takes.
pub const REASON_MAX_CHARS: usize = 500;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Halyard engine", description = "Strategies, signals, orders, risk limits, kill switch, positions and P&L."),
    modifiers(&BearerAuth),
    paths(
        crate::signals::webhook::tradingview,
        signals::list,
        orders::list, orders::get_one, orders::place, orders::cancel, orders::replace,
        portfolio::fills, portfolio::positions, portfolio::pnl, portfolio::equity,
        strategies::create, strategies::list, strategies::get_one, strategies::configure, strategies::enable, strategies::disable,
        risk::get_limits, risk::put_limits,
        instruments::list, instruments::get_one, instruments::put,
        halt::create, halt::resume, halt::list,
        backtests::create, backtests::list, backtests::get_one, backtests::trades, backtests::equity, backtests::report,
        reports::list, reports::get_one,
        audit::list,
        accounts::list,
        reconciliation::list,
    ),
    components(schemas(
        crate::signals::webhook::Alert, crate::signals::webhook::SignalReceipt, signals::SignalRow,
        crate::oms::OrderRow, orders::OrderPage, orders::OrderDetail, orders::OrderEventRow, orders::PlaceOrder, orders::ReplaceOrder,
        portfolio::FillRow, portfolio::PositionView, portfolio::Pnl, portfolio::EquityPoint,
        crate::strategies::StrategyRow, strategies::CreateStrategy, strategies::ConfigureStrategy,
        crate::oms::risk::StoredLimits, instruments::Instrument, instruments::InstrumentDefinition,
        crate::halt::Halt, crate::halt::Scope, halt::HaltRequest, halt::ResumeRequest, halt::Resumed,
        crate::backtests::BacktestRequest, crate::backtests::FillChoice, crate::backtests::source::BarSource,
        crate::backtests::jobs::JobView, crate::backtests::jobs::TradeRow,
        crate::reports::Published, crate::reports::DailyReport, crate::reports::AccountReport,
        crate::reports::TradeLine, crate::reports::PositionLine, audit::AuditEntry,
        accounts::Accounts, accounts::AccountView, accounts::VenueView, reconciliation::ReconciliationEvent,
    ))
)]
pub struct ApiDoc;

/// A `from`..`until` time range of a list query, each end optional.
type TimeRange = (Option<chrono::DateTime<chrono::Utc>>, Option<chrono::DateTime<chrono::Utc>>);

/// Checks a list query's `from`/`until`: `from` must come before `until` when both are given.
fn time_range(
    from: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<TimeRange, platform::http::ApiError> {
    match (from, until) {
        (Some(from), Some(until)) if from >= until => Err(platform::http::ApiError::bad_request(
            "invalid_range",
            format!("from {from} must be before until {until}"),
        )),
        range => Ok(range),
    }
}

/// Routes that need a bearer token.
pub fn protected() -> Router<AppState> {
    Router::new()
        .merge(orders::router())
        .merge(portfolio::router())
        .merge(strategies::router())
        .merge(risk::router())
        .merge(instruments::router())
        .merge(halt::router())
        .merge(signals::router())
        .merge(backtests::router())
        .merge(reports::router())
        .merge(audit::router())
        .merge(accounts::router())
        .merge(reconciliation::router())
}

/// Routes open to anyone: the OpenAPI document.
pub fn public() -> Router<AppState> {
    Router::new().route("/api/v1/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
