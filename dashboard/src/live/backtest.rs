//! The progress of a queued or running backtest on its page.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A backtest's state as its page shows it while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BacktestProgress {
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// Share done in whole percent, as text (`42`).
    pub percent: String,
    /// Why an attempt failed or was retried, if it did.
    pub error: Option<String>,
}

impl BacktestProgress {
    /// Whether the run may still change (queued or running).
    pub fn in_progress(&self) -> bool {
        self.status == "queued" || self.status == "running"
    }

    /// The status in words, with the share done while it runs.
    pub fn text(&self) -> String {
        match self.status.as_str() {
            "running" => format!("running {}%", self.percent),
            other => other.to_owned(),
        }
    }
}

/// The progress bar and status of a queued or running backtest. The server renders them as of
/// the request; the wasm client marks the region `data-client="wasm"` once it has hydrated it
/// and follows `/backtests/{id}/live` (server-sent events, sent when the progress changed).
/// When the run ends it reloads the page once, so the server renders the metrics, chart and
/// trades. Without the client, `/assets/hydrate.js` (or, without scripts, the page's
/// `<noscript>` refresh) reloads the page every two seconds instead.
#[island]
pub fn LiveBacktestProgress(
    /// The run's id (a UUID).
    id: String,
    /// Its progress as of the request.
    progress: BacktestProgress,
) -> impl IntoView {
    let progress = RwSignal::new(Ok::<_, String>(progress));
    let hydrated = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let url = format!("/backtests/{id}/live");
        Effect::new(move |_| {
            hydrated.set(true);
            let on_event = move |_: &str, data: String| {
                match serde_json::from_str::<Result<BacktestProgress, String>>(&data) {
                    Ok(Ok(next)) if !next.in_progress() => {
                        // Ended: the server renders the metrics, chart and trades.
                        progress.set(Ok(next));
                        if let Some(window) = web_sys::window() {
                            if window.location().reload().is_err() {
                                leptos::logging::warn!("backtest: cannot reload the page");
                            }
                        }
                    }
                    Ok(next) => progress.set(next),
                    Err(e) => leptos::logging::warn!("backtest: unreadable progress: {e}"),
                }
            };
            super::events::subscribe(&url, &["progress"], on_event, || (), || ());
        });
    }
    view! {
        <div id="backtest-live" data-backtest=id data-client=move || hydrated.get().then_some("wasm")>
            {move || match progress.get() {
                Ok(p) => {
                    let percent = p.percent.clone();
                    view! {
                        <p>
                            <label for="backtest-progress">"Progress "</label>
                            <progress id="backtest-progress" max="100" value=percent.clone()>{format!("{percent}%")}</progress>
                            " "<span id="backtest-live-status" class=format!("status {}", p.status)>{p.text()}</span>
                        </p>
                        {p.error.map(|e| view! { <p class="notice" id="backtest-live-error">{e}</p> })}
                    }
                    .into_any()
                }
                Err(e) => super::unavailable("Progress", &e),
            }}
        </div>
    }
}
