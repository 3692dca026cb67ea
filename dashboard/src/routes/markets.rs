//! Markets.
//!
//! - `GET /markets?symbol=S`: every symbol with its last price and its change over the UTC day
//!   (from the data-service's daily bars of yesterday and today); with `symbol`, that symbol's
//!   price and candlestick chart (`interval`, the last 120 bars) update live on the page.
//! - `GET /markets/live?symbol=S` (server-sent events, signed-in users only): one `tick` event
//!   `{"symbol","price","size","ts","t"}` per trade (`t` is `ts` in milliseconds since the
//!   epoch), relayed from the data-service's WebSocket stream.
//!   When the upstream stream ends the event stream ends too, and the browser's `EventSource`
//!   reconnects by itself (after the `retry` delay sent first).

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::{Query, State},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::get,
    Router,
};
use chrono::Utc;
use futures_util::{Stream, StreamExt};
use leptos::prelude::*;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;

use crate::{
    auth::session::CurrentUser,
    error::PageError,
    pages::{
        markets::{day_change, MarketsPage, SymbolRow},
        Section,
    },
    startup::AppState,
};

/// At most this many symbols get a quote on the markets page.
pub const MAX_SYMBOLS: usize = 100;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/markets", get(markets)).route("/markets/live", get(live))
}

#[derive(Debug, Deserialize)]
struct SymbolQuery {
    symbol: Option<String>,
    interval: Option<String>,
}

/// Bars drawn on the chart at most.
pub const CHART_BARS: usize = 120;

/// A symbol as typed by a user, upper-cased, or a 400 when it has characters no symbol has.
pub fn parse_symbol(raw: &str) -> Result<String, PageError> {
    let s = raw.trim().to_ascii_uppercase();
    let ok =
        !s.is_empty() && s.len() <= 32 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(s)
    } else {
        Err(PageError::BadRequest(format!("{raw:?} is not a symbol")))
    }
}

async fn markets(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<SymbolQuery>,
) -> Result<Response, PageError> {
    let live_symbol = q.symbol.as_deref().filter(|s| !s.trim().is_empty()).map(parse_symbol).transpose()?;
    let rows = match state.market.symbols().await {
        Ok(mut symbols) => {
            symbols.truncate(MAX_SYMBOLS);
            let today = Utc::now().date_naive().and_hms_opt(0, 0, 0).map_or_else(Utc::now, |t| t.and_utc());
            let market = &state.market;
            let rows = futures_util::future::join_all(symbols.into_iter().map(|symbol| async move {
                let (quote, bars) =
                    tokio::join!(market.quote(&symbol), market.daily_bars(&symbol, today - chrono::Duration::days(1)));
                let quote = quote.ok().flatten();
                // A symbol whose bars cannot be read shows a dash, like one without a trade today.
                let day = match (&quote, bars) {
                    (Some(q), Ok(bars)) => day_change(q.price, &bars, today),
                    _ => None,
                };
                SymbolRow { symbol, quote, day }
            }))
            .await;
            Ok(rows)
        }
        Err(e) => Err(e.to_string()),
    };
    let live = match live_symbol {
        None => None,
        Some(symbol) => {
            let quote =
                rows.as_ref().ok().and_then(|r| r.iter().find(|r| r.symbol == symbol)).and_then(|r| r.quote.clone());
            Some(SymbolRow { symbol, quote, day: None })
        }
    };
    let chart = match &live {
        None => None,
        Some(row) => {
            let interval = q.interval.as_deref().unwrap_or("1m");
            if !["1m", "5m", "15m", "1h", "1d"].contains(&interval) {
                return Err(PageError::BadRequest(format!(
                    "Unknown interval {interval:?}; use 1m, 5m, 15m, 1h or 1d."
                )));
            }
            let bars = state.market.bars(&row.symbol, interval, CHART_BARS).await.map_err(|e| e.to_string());
            Some((row.symbol.clone(), interval.to_owned(), bars))
        }
    };
    let content = view! { <MarketsPage rows=rows live=live chart=chart/> }.into_any();
    Ok(super::signed_in_page(&state, user, Section::Markets, "Markets", content).await)
}

/// The data-service stream URL for `symbol`.
fn stream_url(base: &str, symbol: &str) -> String {
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        format!("ws://{}", base.trim_start_matches("http://"))
    };
    format!("{ws}/api/v1/market/stream?symbols={symbol}")
}

async fn live(
    State(state): State<AppState>,
    _user: CurrentUser,
    Query(q): Query<SymbolQuery>,
) -> Result<Response, PageError> {
    let symbol = parse_symbol(q.symbol.as_deref().unwrap_or_default())?;
    let url = stream_url(state.market.base(), &symbol);
    let stop = state.stop.clone();
    let upstream = match tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(&url)).await {
        Ok(Ok((socket, _))) => Some(socket),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, %url, "live stream: cannot connect to the data-service");
            None
        }
        Err(_) => {
            tracing::warn!(%url, "live stream: the data-service did not answer within 5 s");
            None
        }
    };
    let hello = futures_util::stream::iter([Ok::<_, Infallible>(
        Event::default().event("status").retry(Duration::from_secs(1)).data(if upstream.is_some() {
            "live"
        } else {
            "reconnecting"
        }),
    )]);
    let ticks = relay(upstream, stop);
    Ok(Sse::new(hello.chain(ticks)).keep_alive(KeepAlive::default()).into_response())
}

/// Tick events from the upstream socket until it closes or the server stops.
fn relay(
    upstream: Option<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>>,
    stop: tokio_util::sync::CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold((upstream, stop), |(upstream, stop)| async move {
        let mut socket = upstream?;
        loop {
            let message = tokio::select! {
                () = stop.cancelled() => return None,
                m = socket.next() => m,
            };
            match message {
                Some(Ok(Message::Text(text))) => {
                    let Ok(value) = serde_json::from_str::<serde_json::Value>(text.as_str()) else { continue };
                    if value.get("type").and_then(|t| t.as_str()) != Some("tick") {
                        continue;
                    }
                    // The trade time in milliseconds too, so the wasm chart needs no date parser.
                    let t = value
                        .get("ts")
                        .and_then(|t| t.as_str())
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.timestamp_millis());
                    let data = serde_json::json!({
                        "symbol": value.get("symbol"), "price": value.get("price"), "size": value.get("size"),
                        "ts": value.get("ts"), "t": t,
                    });
                    return Some((Ok(Event::default().event("tick").data(data.to_string())), (Some(socket), stop)));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_urls_follow_the_scheme_of_the_base_url() {
        assert_eq!(stream_url("http://h:8081", "BTCUSD"), "ws://h:8081/api/v1/market/stream?symbols=BTCUSD");
        assert_eq!(stream_url("https://md.example", "X"), "wss://md.example/api/v1/market/stream?symbols=X");
    }

    #[test]
    fn symbols_are_upper_cased_and_checked() {
        assert_eq!(parse_symbol(" btcusd ").unwrap(), "BTCUSD");
        assert!(parse_symbol("BTC USD").is_err());
        assert!(parse_symbol("a&b=c").is_err());
        assert!(parse_symbol("").is_err());
    }
}
