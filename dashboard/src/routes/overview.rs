//! The overview.
//!
//! - `GET /`: the page: the live part as of the request.
//! - `GET /overview/live` (server-sent events, signed-in users only): a `snapshot` event with
//!   the overview's live part (JSON of [`OverviewSnapshot`]) at once, then again whenever it
//!   changes. One poller per dashboard process ([`OverviewFeed`]) asks the engine every
//!   [`super::LIVE_REFRESH`] while at least one stream is open, for all of them. The wasm
//!   client's overview island listens to it.
//!
//! The live part: the engine's, the data-service's and the dashboard's readiness (their
//! `/readyz`, the dashboard's its database schema), per account its P&L equity and P&L today (`GET /api/v1/pnl?account=A`, and
//! `GET /api/v1/equity?account=A&until=…` for the equity at 00:00 UTC), the latest
//! [`RECENT_ALERTS`] TradingView alerts (`GET /api/v1/signals`), the trading state, open
//! positions and working orders.

use std::{
    convert::Infallible,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use axum::{
    extract::State,
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::get,
    Router,
};
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use rust_decimal::Decimal;
use tokio::sync::watch;

use crate::{
    auth::session::CurrentUser,
    clients::{EquityPoint, Health, Position},
    live::rows::{AccountRow, OverviewSnapshot, ServiceRow, TradingState},
    pages::{overview::OverviewPage, Section},
    startup::AppState,
};

/// How many TradingView alerts the overview lists.
pub const RECENT_ALERTS: u32 = 10;

/// The P&L since 00:00 UTC: `equity_now` less the equity of the newest sample taken before
/// `midnight`; `None` when `samples` (newest first) do not reach back that far.
pub fn pnl_today(equity_now: Decimal, samples: &[EquityPoint], midnight: DateTime<Utc>) -> Option<Decimal> {
    samples.iter().find(|p| p.ts < midnight).map(|p| (equity_now - p.equity).normalize())
}

/// Every account of `positions` (every position the engine keeps, flat ones too), with its P&L.
async fn accounts(state: &AppState, positions: &[Position]) -> Vec<AccountRow> {
    let mut names: Vec<String> = positions.iter().map(|p| p.account.clone()).collect();
    names.sort();
    names.dedup();
    let midnight = Utc::now().date_naive().and_hms_opt(0, 0, 0).map_or_else(Utc::now, |t| t.and_utc());
    futures_util::future::join_all(names.into_iter().map(|account| async move {
        let (pnl, equity) =
            tokio::join!(state.engine.account_pnl(&account), state.engine.equity_before(&account, midnight));
        let today = match (&pnl, &equity) {
            (Ok(p), Ok(samples)) => pnl_today(p.total_pnl, samples, midnight),
            _ => None,
        };
        AccountRow::new(account, pnl.map_err(|e| e.to_string()), today)
    }))
    .await
}

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(overview)).route("/overview/live", get(live))
}

async fn dashboard_health(state: &AppState) -> Health {
    let check = tokio::time::timeout(std::time::Duration::from_secs(2), platform::db::schema_status(&state.pool)).await;
    match check {
        Ok(Ok(platform::db::SchemaStatus::Current)) => Health::Ready,
        Ok(Ok(platform::db::SchemaStatus::Behind(m))) => Health::NotReady(format!("migrations {m:?} not applied")),
        Ok(Err(e)) => Health::NotReady(format!("database: {e}")),
        Err(_) => Health::NotReady("database did not answer within 2 s".to_owned()),
    }
}

/// The overview's live part as the engine reports it now.
async fn snapshot(state: &AppState) -> OverviewSnapshot {
    // One read of every position serves both the accounts and the open positions: the poller
    // repeats this every second while an overview is open.
    let positions_and_accounts = async {
        match state.engine.all_positions().await {
            Ok(all) => {
                let accounts = accounts(state, &all).await;
                (Ok(all), Ok(accounts))
            }
            Err(e) => (Err(e.to_string()), Err(e.to_string())),
        }
    };
    let ((positions, accounts), alerts, halts, working, (engine, market, own)) = tokio::join!(
        positions_and_accounts,
        state.engine.signals(RECENT_ALERTS),
        state.engine.halts(),
        state.engine.working_orders(),
        async { tokio::join!(state.engine.health(), state.market.health(), dashboard_health(state)) }
    );
    OverviewSnapshot {
        services: vec![
            ServiceRow::new("engine", engine),
            ServiceRow::new("data-service", market),
            ServiceRow::new("dashboard", own),
        ],
        accounts,
        alerts: alerts.map(|a| a.into_iter().map(Into::into).collect()).map_err(|e| e.to_string()),
        trading: TradingState::from_halts(&halts.map_err(|e| e.to_string())),
        positions: positions
            .map(|p: Vec<Position>| p.into_iter().filter(|p| !p.qty.is_zero()).map(Into::into).collect()),
        working: working.map(|o| o.into_iter().map(Into::into).collect()).map_err(|e| e.to_string()),
    }
}

async fn overview(State(state): State<AppState>, user: CurrentUser) -> Response {
    let live = snapshot(&state).await;
    let content = view! { <OverviewPage live=live/> }.into_any();
    super::signed_in_page(&state, user, Section::Overview, "Overview", content).await
}

/// The latest overview snapshot as JSON; `None` until the poller's first read.
type Latest = Option<Arc<str>>;

/// The overview's live part, read by one poller per dashboard process for every open overview
/// stream: the engine is asked once a second however many pages are open, and not at all while
/// none is. The poller starts with the first stream and stops within a second of the last one
/// closing; every stream gets the latest snapshot at once, then each change.
#[derive(Clone, Default)]
pub struct OverviewFeed {
    /// The running poller's channel, `None` while no poller runs.
    running: Arc<Mutex<Option<Arc<watch::Sender<Latest>>>>>,
}

impl OverviewFeed {
    /// A receiver of the snapshots, starting the poller when none runs.
    fn subscribe(&self, state: &AppState) -> watch::Receiver<Latest> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = running.as_ref() {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(None);
        let sender = Arc::new(sender);
        *running = Some(sender.clone());
        tokio::spawn(poll(state.clone(), sender));
        receiver
    }
}

/// Reads the snapshot every [`super::LIVE_REFRESH`] and publishes it when it changed, until no
/// stream listens or the server stops.
async fn poll(state: AppState, sender: Arc<watch::Sender<Latest>>) {
    tracing::debug!("overview poller started");
    loop {
        match serde_json::to_string(&snapshot(&state).await) {
            Ok(json) => {
                sender.send_if_modified(|latest| {
                    let changed = latest.as_deref() != Some(json.as_str());
                    if changed {
                        *latest = Some(json.into());
                    }
                    changed
                });
            }
            Err(e) => tracing::error!(error = %e, "overview snapshot not serializable"),
        }
        let stopping = tokio::select! {
            () = state.stop.cancelled() => true,
            () = tokio::time::sleep(super::LIVE_REFRESH) => false,
        };
        // Decided under the lock `subscribe` takes: a stream opening now either is counted here
        // or finds no poller and starts one.
        let mut running = state.overview.running.lock().unwrap_or_else(PoisonError::into_inner);
        if stopping || sender.receiver_count() == 0 {
            *running = None;
            break;
        }
    }
    tracing::debug!("overview poller stopped");
}

async fn live(State(state): State<AppState>, _user: CurrentUser) -> Response {
    let mut receiver = state.overview.subscribe(&state);
    let first = receiver.borrow_and_update().clone();
    let events = futures_util::stream::unfold(
        (receiver, state.stop.clone(), first),
        |(mut receiver, stop, pending)| async move {
            let json = match pending {
                Some(json) => json,
                None => loop {
                    // An error means the poller ended: the server is stopping.
                    tokio::select! {
                        () = stop.cancelled() => return None,
                        changed = receiver.changed() => changed.ok()?,
                    }
                    if let Some(json) = receiver.borrow_and_update().clone() {
                        break json;
                    }
                },
            };
            let event = Event::default().event("snapshot").retry(Duration::from_secs(2)).data(json.as_ref());
            Some((Ok::<_, Infallible>(event), (receiver, stop, None)))
        },
    );
    Sse::new(events).keep_alive(KeepAlive::default()).into_response()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn point(ts: &str, equity: &str) -> EquityPoint {
        EquityPoint { ts: ts.parse().unwrap(), equity: Decimal::from_str(equity).unwrap() }
    }

    #[test]
    fn todays_pnl_is_measured_from_the_last_sample_before_midnight_exactly() {
        let midnight: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
        let samples = [
            point("2026-11-24T09:00:00Z", "12.5"),
            point("2026-11-23T23:59:00Z", "10.1"),
            point("2026-11-23T23:58:00Z", "3"),
        ];
        let now = Decimal::from_str("10.3").unwrap();
        assert_eq!(pnl_today(now, &samples, midnight), Some(Decimal::from_str("0.2").unwrap()));
        assert_eq!(pnl_today(now, &samples[..1], midnight), None, "no sample before midnight");
    }
}
