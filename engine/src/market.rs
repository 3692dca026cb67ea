//! Live market data from the data-service: one WebSocket subscription per process, fanned out to
//! the paper venue and the strategy runners, and the latest price of every symbol for risk
//! checks and P&L marks.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use chrono::{DateTime, Utc};
use domain::{InstrumentId, Price, Qty, Tick, Timestamp};
use futures_util::StreamExt;
use rust_decimal::Decimal;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::convert;

/// A tick with its symbol.
#[derive(Debug, Clone)]
pub struct MarketTick {
    /// The symbol, e.g. `BTCUSD`.
    pub symbol: Arc<str>,
    /// The domain tick (instrument interned by [`Instruments`]).
    pub tick: Tick,
}

/// Symbol ↔ [`InstrumentId`] for this process.
#[derive(Debug, Default)]
struct InstrumentTable {
    ids: HashMap<String, InstrumentId>,
    names: Vec<Arc<str>>,
}

/// Interns symbols to small ids, so domain events stay `Copy`.
#[derive(Debug, Clone, Default)]
pub struct Instruments(Arc<RwLock<InstrumentTable>>);

impl Instruments {
    /// The id of `symbol`, allocating one on first use.
    pub fn id(&self, symbol: &str) -> InstrumentId {
        if let Some(id) = self.0.read().unwrap_or_else(|e| e.into_inner()).ids.get(symbol) {
            return *id;
        }
        let mut table = self.0.write().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = table.ids.get(symbol) {
            return *id;
        }
        let id = InstrumentId(u32::try_from(table.names.len()).unwrap_or(u32::MAX));
        table.names.push(Arc::from(symbol));
        table.ids.insert(symbol.to_owned(), id);
        id
    }

    /// The symbol of `id`.
    pub fn symbol(&self, id: InstrumentId) -> Option<Arc<str>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).names.get(id.0 as usize).cloned()
    }
}

/// The market-data hub of a process.
#[derive(Clone)]
pub struct MarketData {
    /// Symbol interning.
    pub instruments: Instruments,
    ticks: broadcast::Sender<MarketTick>,
    last: Arc<RwLock<HashMap<InstrumentId, Price>>>,
    http: reqwest::Client,
    base_url: String,
}

/// The stream's JSON messages.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamMessage {
    Tick { symbol: String, ts: DateTime<Utc>, price: Decimal, size: Decimal },
    Lagged { skipped: u64 },
}

#[derive(Debug, Deserialize)]
struct Quote {
    price: Decimal,
}

impl MarketData {
    /// A hub for the data-service at `base_url` (`http://host:port`).
    pub fn new(base_url: &str) -> Self {
        let (ticks, _) = broadcast::channel(16_384);
        Self {
            instruments: Instruments::default(),
            ticks,
            last: Arc::default(),
            http: reqwest::Client::builder().timeout(Duration::from_secs(2)).build().unwrap_or_default(),
            base_url: base_url.to_owned(),
        }
    }

    /// Live ticks of every symbol.
    pub fn subscribe(&self) -> broadcast::Receiver<MarketTick> {
        self.ticks.subscribe()
    }

    /// Publishes a tick (from the stream, or from tests) and records its price.
    pub fn publish(&self, symbol: &str, ts: Timestamp, price: Price, size: Qty) {
        let instrument = self.instruments.id(symbol);
        self.last.write().unwrap_or_else(|e| e.into_inner()).insert(instrument, price);
        let tick = Tick { instrument, ts, price, size };
        let symbol = self.instruments.symbol(instrument).unwrap_or_else(|| Arc::from(symbol));
        let _ = self.ticks.send(MarketTick { symbol, tick });
    }

    /// The last price seen on the stream.
    pub fn cached_price(&self, symbol: &str) -> Option<Price> {
        let id = self.instruments.id(symbol);
        self.last.read().unwrap_or_else(|e| e.into_inner()).get(&id).copied()
    }

    /// The last price: from the stream, else asked of the data-service's quote endpoint.
    pub async fn last_price(&self, symbol: &str) -> Option<Price> {
        if let Some(price) = self.cached_price(symbol) {
            return Some(price);
        }
        let url = format!("{}/api/v1/market/quote/{symbol}", self.base_url);
        let quote: Quote = self.http.get(url).send().await.ok()?.error_for_status().ok()?.json().await.ok()?;
        convert::price(quote.price).ok()
    }

    /// Committed ticks of `symbol` in `[start, end)` from the data-service's history API (one
    /// page of at most 100,000), for warming strategies up. Empty when the history is unavailable.
    pub async fn history(&self, symbol: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<Tick> {
        #[derive(Deserialize)]
        struct Page {
            prices: Vec<Point>,
        }
        #[derive(Deserialize)]
        struct Point {
            ts: DateTime<Utc>,
            price: Decimal,
            size: Decimal,
        }
        let url = format!("{}/api/v1/market/prices/{symbol}", self.base_url);
        let query = [
            ("start", start.timestamp_millis().to_string()),
            ("end", end.timestamp_millis().to_string()),
            ("limit", "100000".to_owned()),
        ];
        let page: Option<Page> = async {
            let res = self.http.get(url).query(&query).timeout(Duration::from_secs(10)).send().await.ok()?;
            res.error_for_status().ok()?.json().await.ok()
        }
        .await;
        let instrument = self.instruments.id(symbol);
        page.map(|p| p.prices)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| {
                Some(Tick {
                    instrument,
                    ts: Timestamp::from_nanos(p.ts.timestamp_nanos_opt()?),
                    price: convert::price(p.price).ok()?,
                    size: convert::qty(p.size).ok()?,
                })
            })
            .collect()
    }

    /// Follows the data-service stream until `stop`, reconnecting with backoff.
    pub async fn run(self, stop: CancellationToken) {
        let url = format!("{}/api/v1/market/stream", self.base_url.replacen("http", "ws", 1));
        let mut attempt: u32 = 0;
        loop {
            let connected = tokio::select! {
                () = stop.cancelled() => return,
                c = tokio_tungstenite::connect_async(url.as_str()) => c,
            };
            match connected {
                Ok((mut socket, _)) => {
                    tracing::info!(%url, "market stream connected");
                    attempt = 0;
                    loop {
                        let message = tokio::select! {
                            () = stop.cancelled() => return,
                            m = socket.next() => m,
                        };
                        match message {
                            Some(Ok(Message::Text(text))) => self.handle(text.as_str()),
                            Some(Ok(Message::Close(_))) | None => break,
                            Some(Ok(_)) => {}
                            Some(Err(e)) => {
                                tracing::warn!(error = %e, "market stream failed");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, %url, attempt, "market stream unavailable; retrying"),
            }
            attempt += 1;
            let delay = Duration::from_millis(200u64.saturating_mul(1 << attempt.min(5)).min(5_000));
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    fn handle(&self, text: &str) {
        match serde_json::from_str::<StreamMessage>(text) {
            Ok(StreamMessage::Tick { symbol, ts, price, size }) => {
                let (Ok(price), Ok(size)) = (convert::price(price), convert::qty(size)) else {
                    tracing::warn!(%symbol, "tick out of the fixed-point range; skipped");
                    return;
                };
                let ts = Timestamp::from_nanos(ts.timestamp_nanos_opt().unwrap_or_default());
                self.publish(&symbol, ts, price, size);
            }
            Ok(StreamMessage::Lagged { skipped }) => tracing::warn!(skipped, "market stream lagged"),
            Err(e) => tracing::debug!(error = %e, "unrecognised stream message"),
        }
    }
}

/// The current time as a domain timestamp.
pub fn now() -> Timestamp {
    Timestamp::from_nanos(Utc::now().timestamp_nanos_opt().unwrap_or_default())
}

/// A domain timestamp as a chrono time.
pub fn to_datetime(ts: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ts.nanos())
}
