//! Binance spot public streams: `<symbol>@trade` prints become ticks and closed
//! `<symbol>@kline_1m` candles replace the minute's bar (the exchange's candle is authoritative).
//!
//! The adapter connects to the combined-stream endpoint
//! `{base}/stream?streams=btcusdt@trade/btcusdt@kline_1m`, reconnects with exponential backoff
//! and jitter when the connection drops, and at once when Binance announces `serverShutdown`
//! (it also closes every connection after 24 h). Pings are answered by the WebSocket library.

use chrono::Duration;
use futures_util::StreamExt;
use rand::Rng;
use rust_decimal::Decimal;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::{backoff, Ingest};
use crate::{
    market::{canonical_symbol, Bar, Tick},
    timeparse::from_epoch_ms,
};

/// What one stream message means to Halyard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A trade print.
    Trade(Tick),
    /// A closed 1-minute candle.
    ClosedBar {
        /// Canonical symbol.
        symbol: String,
        /// The candle.
        bar: Bar,
    },
    /// A candle still forming: ignored, the trades carry the same information sooner.
    OpenBar,
    /// The server will close the connection: reconnect now.
    ServerShutdown,
    /// A reply to a subscription request or another message of no interest.
    Other,
}

/// A message Binance sent that does not have the documented shape.
#[derive(Debug, thiserror::Error)]
#[error("unreadable Binance message: {0}")]
pub struct DecodeError(String);

#[derive(Deserialize)]
#[serde(tag = "e")]
enum RawEvent {
    #[serde(rename = "trade")]
    Trade {
        s: String,
        p: Decimal,
        q: Decimal,
        #[serde(rename = "T")]
        trade_time: i64,
    },
    #[serde(rename = "kline")]
    Kline { s: String, k: Kline },
    #[serde(rename = "serverShutdown")]
    ServerShutdown,
}

#[derive(Deserialize)]
struct Kline {
    t: i64,
    i: String,
    o: Decimal,
    h: Decimal,
    l: Decimal,
    c: Decimal,
    v: Decimal,
    n: i64,
    x: bool,
}

/// Decodes one text frame, raw (`{"e": ...}`) or combined (`{"stream": ..., "data": {...}}`).
pub fn decode(text: &str) -> Result<Event, DecodeError> {
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| DecodeError(e.to_string()))?;
    let combined = value.get("stream").is_some() && value.get("data").is_some_and(serde_json::Value::is_object);
    let payload = if combined { value["data"].take() } else { value };
    if !matches!(payload.get("e").and_then(|e| e.as_str()), Some("trade" | "kline" | "serverShutdown")) {
        return Ok(Event::Other); // subscription replies, other event types
    }
    let raw: RawEvent = serde_json::from_value(payload).map_err(|e| DecodeError(e.to_string()))?;
    Ok(match raw {
        RawEvent::Trade { s, p, q, trade_time } => Event::Trade(Tick {
            symbol: canonical_symbol(&s).map_err(DecodeError)?,
            ts: from_epoch_ms(trade_time).map_err(DecodeError)?,
            price: p,
            size: q,
        }),
        RawEvent::Kline { s, k } if k.x && k.i == "1m" => Event::ClosedBar {
            symbol: canonical_symbol(&s).map_err(DecodeError)?,
            bar: Bar {
                ts: from_epoch_ms(k.t).map_err(DecodeError)?,
                open: k.o,
                high: k.h,
                low: k.l,
                close: k.c,
                volume: k.v,
                trades: i32::try_from(k.n).unwrap_or(i32::MAX),
            },
        },
        RawEvent::Kline { .. } => Event::OpenBar,
        RawEvent::ServerShutdown => Event::ServerShutdown,
    })
}

/// The combined-stream URL for `symbols` (any case) on `base`.
pub fn stream_url(base: &str, symbols: &[String]) -> String {
    let streams: Vec<String> = symbols
        .iter()
        .flat_map(|s| {
            let s = s.to_ascii_lowercase();
            [format!("{s}@trade"), format!("{s}@kline_1m")]
        })
        .collect();
    format!("{}/stream?streams={}", base.trim_end_matches('/'), streams.join("/"))
}

/// Runs the adapter until `stop` fires, reconnecting as needed.
pub async fn run(ingest: Ingest, base_url: String, symbols: Vec<String>, stop: CancellationToken) {
    let url = stream_url(&base_url, &symbols);
    let mut attempt: u32 = 0;
    loop {
        tracing::info!(%url, attempt, "connecting to Binance");
        let connected = tokio::select! {
            () = stop.cancelled() => return,
            r = tokio_tungstenite::connect_async(&url) => r,
        };
        match connected {
            Ok((mut ws, _)) => {
                tracing::info!("Binance stream connected");
                let mut received_any = false;
                loop {
                    let msg = tokio::select! {
                        () = stop.cancelled() => { let _ = ws.close(None).await; return; }
                        m = ws.next() => m,
                    };
                    let text = match msg {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(frame))) => {
                            tracing::warn!(?frame, "Binance closed the stream");
                            break;
                        }
                        Some(Ok(_)) => continue, // ping/pong/binary: pongs are sent by tungstenite
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "Binance stream error");
                            break;
                        }
                        None => break,
                    };
                    if !received_any {
                        received_any = true;
                        attempt = 0;
                    }
                    match decode(text.as_str()) {
                        Ok(Event::Trade(tick)) => {
                            let ts = tick.ts;
                            if ingest.feed(vec![tick]).await.is_err() {
                                return;
                            }
                            super::record_lag("binance", ts);
                        }
                        Ok(Event::ClosedBar { symbol, bar }) => {
                            if ingest.feed_bars(vec![(symbol, bar)]).await.is_err() {
                                return;
                            }
                        }
                        Ok(Event::ServerShutdown) => {
                            tracing::info!("Binance announced serverShutdown; reconnecting");
                            attempt = 0;
                            break;
                        }
                        Ok(Event::OpenBar | Event::Other) => {}
                        Err(e) => tracing::warn!(error = %e, "skipping message"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "connecting to Binance failed"),
        }
        attempt += 1;
        let jitter = Duration::milliseconds(rand::thread_rng().gen_range(0..250)).to_std().unwrap_or_default();
        let wait = if attempt <= 1 { jitter } else { backoff(attempt) + jitter };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_url_lists_trade_and_kline_streams_in_lower_case() {
        assert_eq!(
            stream_url("wss://stream.binance.com:9443/", &["BTCUSDT".into()]),
            "wss://stream.binance.com:9443/stream?streams=btcusdt@trade/btcusdt@kline_1m"
        );
    }

    #[test]
    fn subscription_replies_are_ignored() {
        assert_eq!(decode(r#"{"result":null,"id":1}"#).unwrap(), Event::Other);
    }

    #[test]
    fn unknown_event_types_are_ignored() {
        assert_eq!(decode(r#"{"e":"aggTrade","E":1,"s":"X"}"#).unwrap(), Event::Other);
    }

    #[test]
    fn a_trade_without_price_is_a_decode_error() {
        assert!(decode(r#"{"e":"trade","E":1,"s":"ETHUSDT","t":1,"q":"1","T":1}"#).is_err());
    }
}
