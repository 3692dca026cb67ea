//! `GET /api/v1/market/stream?symbols=A,B` (WebSocket): committed ticks as JSON, live.
//!
//! Messages: `{"type":"tick","symbol","ts","price","size"}` for each tick of the requested
//! symbols (all symbols when `symbols` is absent), and `{"type":"lagged","skipped":N}`.
//!
//! Every task of the deployment streams every committed tick, whichever task ingested it, each
//! symbol's in the order stored (the ingest relay, [`crate::ingest`]). When the relay's database
//! connection was re-established, ticks committed meanwhile were not relayed: the client gets
//! `{"type":"lagged","skipped":null,"reason":…}` and can read the gap from the history API. While
//! the relay cannot listen (database unreachable), a new client is refused with 503.
//!
//! Slow-client policy: ingest never waits for a subscriber. Each subscriber has a buffer of
//! [`crate::ingest::STREAM_BUFFER_BATCHES`] committed batches; a client that falls further behind
//! skips ahead to the newest data and is told how many batches it missed (`lagged`). A client
//! whose socket accepts nothing for [`SEND_TIMEOUT`] is disconnected.

use std::{collections::HashSet, time::Duration};

use axum::{
    extract::{
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
        State,
    },
    response::Response,
    routing::get,
    Router,
};
use futures_util::SinkExt;
use platform::http::{ApiError, ApiQuery};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use crate::{ingest::StreamEvent, market::canonical_symbol, startup::AppState};

/// A client whose socket takes longer than this to accept a message is dropped.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a new client waits for the relay to listen before it is refused.
const RELAY_WAIT: Duration = Duration::from_secs(5);

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/market/stream", get(stream))
}

/// Stream parameters.
#[derive(Debug, Deserialize, IntoParams)]
pub struct StreamQuery {
    /// Comma-separated symbols; all symbols when absent.
    pub symbols: Option<String>,
}

/// Live ticks over WebSocket.
#[utoipa::path(get, path = "/api/v1/market/stream", tag = "market", params(StreamQuery),
    responses((status = 101, description = "WebSocket of JSON tick messages"), (status = 400, description = "invalid symbol list"), (status = 503, description = "the stream cannot reach the database")))]
pub async fn stream(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<StreamQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let filter = match q.symbols.as_deref() {
        None => None,
        Some(list) => {
            let symbols = list
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| canonical_symbol(s).map_err(|e| ApiError::bad_request("invalid_symbol", e)))
                .collect::<Result<HashSet<String>, _>>()?;
            if symbols.is_empty() {
                return Err(ApiError::bad_request(
                    "invalid_symbol",
                    "symbols is empty; omit it to receive every symbol",
                ));
            }
            Some(symbols)
        }
    };
    let feed = state.ingest.subscribe(RELAY_WAIT).await.ok_or_else(|| {
        ApiError::Unavailable("the live stream is unavailable: the database cannot be reached".to_owned())
    })?;
    let stop = state.shutdown.clone();
    Ok(ws.on_upgrade(move |socket| serve_client(socket, feed, filter, stop)))
}

async fn serve_client(
    mut socket: WebSocket,
    mut feed: tokio::sync::broadcast::Receiver<StreamEvent>,
    filter: Option<HashSet<String>>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let batch = tokio::select! {
            () = stop.cancelled() => {
                let _ = socket.send(Message::Close(Some(CloseFrame { code: 1001, reason: "server shutting down".into() }))).await;
                return;
            }
            incoming = socket.recv() => match incoming {
                // Clients have nothing to say; pings are answered by axum. A close or error ends it.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            b = feed.recv() => b,
        };
        let messages: Vec<String> = match batch {
            Ok(StreamEvent::Ticks(ticks)) => ticks
                .iter()
                .filter(|t| filter.as_ref().is_none_or(|f| f.contains(&t.symbol)))
                .map(|t| {
                    json!({"type": "tick", "symbol": t.symbol, "ts": t.ts, "price": t.price, "size": t.size})
                        .to_string()
                })
                .collect(),
            Ok(StreamEvent::Gap) => vec![json!({"type": "lagged", "skipped": null,
                "reason": "the stream reconnected to the database; ticks stored meanwhile are in the history API"})
            .to_string()],
            Err(RecvError::Lagged(skipped)) => vec![json!({"type": "lagged", "skipped": skipped}).to_string()],
            Err(RecvError::Closed) => return,
        };
        for m in messages {
            if socket.feed(Message::Text(m.into())).await.is_err() {
                return;
            }
        }
        match tokio::time::timeout(SEND_TIMEOUT, socket.flush()).await {
            Ok(Ok(())) => {}
            _ => {
                tracing::info!("dropping a stream client that stopped reading");
                return;
            }
        }
    }
}
