//! The stream relay: listens on [`store::STREAM_CHANNEL`] and hands every committed tick, from
//! whichever task's writer committed it, to this task's live-stream subscribers.
//!
//! Postgres delivers notifications in commit order, each transaction's in the order they were
//! sent, so subscribers see each symbol's ticks in the order they were stored. When the relay's
//! connection drops, notifications sent meanwhile are gone: subscribers are told with
//! [`StreamEvent::Gap`] once it listens again.

use std::{sync::Arc, time::Duration};

use sqlx::{
    postgres::{PgListener, PgPoolOptions},
    PgPool,
};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::{backoff, store, StreamEvent};

/// Relays until `stop` fires; `listening` says whether notifications are being received.
pub async fn run(
    pool: PgPool,
    stream: broadcast::Sender<StreamEvent>,
    listening: watch::Sender<bool>,
    stop: CancellationToken,
) {
    let mut attempt: u32 = 0;
    let mut connected_before = false;
    loop {
        let listener = tokio::select! {
            () = stop.cancelled() => return,
            l = listen(&pool) => l,
        };
        let mut listener = match listener {
            Ok(l) => l,
            Err(e) => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "the stream relay cannot listen yet; will retry");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(backoff(attempt).min(Duration::from_secs(2))) => {}
                }
                continue;
            }
        };
        attempt = 0;
        listening.send_replace(true);
        if connected_before {
            tracing::warn!("the stream relay listens again; ticks committed meanwhile were not relayed");
            let _ = stream.send(StreamEvent::Gap);
        }
        connected_before = true;
        loop {
            let received = tokio::select! {
                () = stop.cancelled() => return,
                r = listener.try_recv() => r,
            };
            match received {
                Ok(Some(notification)) => match store::decode_stream_payload(notification.payload()) {
                    // No subscribers is not an error.
                    Ok(ticks) => {
                        let _ = stream.send(StreamEvent::Ticks(Arc::new(ticks)));
                    }
                    Err(e) => tracing::warn!(error = %e, "skipping an undecodable stream notification"),
                },
                Ok(None) | Err(_) => {
                    tracing::warn!("the stream relay lost its database connection; reconnecting");
                    listening.send_replace(false);
                    break;
                }
            }
        }
    }
}

/// A listener on its own connection, outside the service's pool (so it does not take one of the
/// pool's connections for good), with the pool's current options (credentials included, which
/// the secret refresh may have rotated since the last connection).
async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let own = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with((*pool.connect_options()).clone());
    let mut listener = PgListener::connect_with(&own).await?;
    // Reconnecting is done here, by a new listener, so every lost connection is seen as a gap.
    listener.eager_reconnect(false);
    listener.listen(store::STREAM_CHANNEL).await?;
    Ok(listener)
}
