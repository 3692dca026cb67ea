//! The stylesheet and the live-price script, compiled into the binary.

use axum::{http::header, response::IntoResponse, routing::get, Router};

use crate::startup::AppState;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/assets/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response() }),
        )
        .route(
            "/assets/live.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], LIVE_JS).into_response() }),
        )
}

const CSS: &str = include_str!("../../assets/app.css");
const LIVE_JS: &str = include_str!("../../assets/live.js");
