use std::time::Duration;

use axum::{
    body::Body,
    http::{HeaderName, Request, Response},
    Router,
};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use tracing::Span;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Adds what every service wants around its routes: a JSON 404 for unknown paths, a request id
/// (taken from `x-request-id` or generated, echoed in the response) and one access-log line per
/// request with method, path, status and latency, inside a span that carries the request id.
pub fn with_standard_layers(router: Router) -> Router {
    router
        .fallback(|uri: axum::http::Uri| async move { super::ApiError::NotFound(format!("no route for {}", uri.path())) })
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<Body>| {
                    let request_id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
                })
                .on_request(())
                .on_response(|res: &Response<Body>, latency: Duration, _span: &Span| {
                    tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1e3, "request");
                })
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
