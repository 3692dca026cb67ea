use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        OnceLock,
    },
    time::Duration,
};

use axum::{
    body::Body,
    http::{HeaderName, Request, Response},
    Router,
};
use tower_http::{
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
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
        .layer(SetRequestIdLayer::new(REQUEST_ID, ProcessRequestIds))
}

/// Request ids `<process>-<n>`: a random 64-bit prefix drawn once per process and a counter.
/// Unique across instances like a UUID, without a call into the kernel's random source for
/// every request (which showed up in the webhook's profile).
#[derive(Clone, Copy)]
struct ProcessRequestIds;

impl MakeRequestId for ProcessRequestIds {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        static PREFIX: OnceLock<String> = OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let prefix = PREFIX.get_or_init(|| format!("{:016x}", uuid::Uuid::new_v4().as_u64_pair().0));
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}-{n}").parse().ok().map(RequestId::new)
    }
}
