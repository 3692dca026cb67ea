//! The HTTP edge shared by every service: one JSON error type, extractors that turn malformed
//! requests into 4xx JSON errors, health routes, and the request-id/access-log middleware.

mod error;
mod extract;
pub mod health;
mod middleware;
pub mod validate;

pub use error::ApiError;
pub use extract::{ApiJson, ApiPath, ApiQuery};
pub use middleware::with_standard_layers;

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
