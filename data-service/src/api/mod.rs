//! The market-data HTTP API under `/api/v1/market`, one router per feature.

pub mod history;
pub mod stream;
pub mod ticks;

use axum::{routing::get, Json, Router};
use utoipa::OpenApi;

use crate::startup::AppState;

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Halyard market data", description = "Ticks, bars, quotes and the live stream."),
    paths(
        history::symbols,
        history::quote,
        history::prices,
        history::average,
        history::bars,
        ticks::post_ticks,
        stream::stream,
    ),
    components(schemas(
        crate::market::Tick,
        crate::market::Bar,
        history::SymbolInfo,
        history::Quote,
        history::PricesPage,
        history::PricePoint,
        history::Average,
        history::BarsPage,
        ticks::Accepted,
    ))
)]
pub struct ApiDoc;

/// All market-data routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(history::router())
        .merge(ticks::router())
        .merge(stream::router())
        .route("/api/v1/market/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
