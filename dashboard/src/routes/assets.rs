//! Static files: the stylesheet and the scripts, compiled into the binary, and the wasm
//! client, read from [`Settings::pkg_dir`](crate::configuration::Settings::pkg_dir).

use axum::{
    body::Body,
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

use crate::startup::AppState;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/app.css", get(|| async { text("text/css; charset=utf-8", CSS) }))
        .route("/assets/live.js", get(|| async { text("text/javascript; charset=utf-8", LIVE_JS) }))
        .route("/assets/hydrate.js", get(|| async { text("text/javascript; charset=utf-8", HYDRATE_JS) }))
        .route("/pkg/{file}", get(wasm_client))
}

const CSS: &str = include_str!("../../assets/app.css");
const LIVE_JS: &str = include_str!("../../assets/live.js");
const HYDRATE_JS: &str = include_str!("../../assets/hydrate.js");

fn text(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The files wasm-bindgen writes for the client, with their content types.
const CLIENT_FILES: [(&str, &str); 2] =
    [("dashboard.js", "text/javascript; charset=utf-8"), ("dashboard_bg.wasm", "application/wasm")];

/// One of the wasm client's files; gzipped when the build left a `.gz` beside it and the browser
/// accepts gzip. 404 for any other name, and when the client is not built.
async fn wasm_client(State(state): State<AppState>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some((name, content_type)) = CLIENT_FILES.iter().find(|(name, _)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let path = state.settings.pkg_dir.join(name);
    let accepts_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let gzipped =
        if accepts_gzip { tokio::fs::read(state.settings.pkg_dir.join(format!("{name}.gz"))).await.ok() } else { None };
    let (body, encoding) = match gzipped {
        Some(body) => (body, Some("gzip")),
        None => match tokio::fs::read(&path).await {
            Ok(body) => (body, None),
            Err(_) => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    let mut response = Response::new(Body::from(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Rebuilt in place by scripts/build-wasm.sh: revalidate rather than cache.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Some(encoding) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    response
}
