//! `GET /healthz` (the process is alive) and `GET /readyz` (the database answers and the schema
//! is current). ECS and the ALB use them; a 503 from `/readyz` takes a task out of rotation
//! without killing it.

use axum::{extract::State, http::StatusCode, routing::get, Json, Router};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::db::{schema_status, SchemaStatus};

/// The health routes, for a service whose state can lend out its pool.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    PgPool: axum::extract::FromRef<S>,
{
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(pool): State<PgPool>) -> (StatusCode, Json<Value>) {
    let check = tokio::time::timeout(std::time::Duration::from_secs(2), schema_status(&pool)).await;
    match check {
        Ok(Ok(SchemaStatus::Current)) => (StatusCode::OK, Json(json!({"status": "ready"}))),
        Ok(Ok(SchemaStatus::Behind(missing))) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(
                json!({"status": "not_ready", "reason": format!("schema is behind: migrations {missing:?} not applied")}),
            ),
        ),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "reason": format!("database unavailable: {e}")})),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_ready", "reason": "database did not answer within 2 s"})),
        ),
    }
}

/// The container HEALTHCHECK: GETs `/healthz` on `addr` (a wildcard address means this host)
/// and fails unless it answers 200 within 2 s. Written on a raw socket so runtime images need
/// no curl.
pub async fn probe(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut target = addr;
    if target.ip().is_unspecified() {
        target.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(target).await?;
        stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n").await?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await?;
        anyhow::Ok(head)
    };
    let head = tokio::time::timeout(std::time::Duration::from_secs(2), check)
        .await
        .map_err(|_| anyhow::anyhow!("no answer from {target} within 2 s"))??;
    anyhow::ensure!(head.ends_with(b" 200"), "unhealthy: {}", String::from_utf8_lossy(&head));
    Ok(())
}
