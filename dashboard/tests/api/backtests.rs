//! The backtests pages: the list, starting a run (traders and admins), a run's progress and
//! results.

use dashboard::auth::Role;

use crate::helpers::{TestApp, BACKTEST_DONE, BACKTEST_RUNNING, PASSWORD};

fn start_form<'a>(csrf: &'a str, nonce: &'a str, symbol: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("nonce", nonce),
        ("strategy", "sma_cross"),
        ("params", "fast=2, slow=3"),
        ("symbol", symbol),
        ("interval", "1m"),
        ("from", "2026-01-05T00:00"),
        ("to", "2026-01-05T10:00"),
        ("quantity", "1.50"),
        ("fill", "next_open"),
        ("source", "postgres"),
        ("fee_bps", ""),
        ("fee_per_order", ""),
        ("slippage_bps", "2"),
        ("initial_capital", ""),
    ]
}

fn nonce(body: &str) -> String {
    let marker = "name=\"nonce\" value=\"";
    let start = body.find(marker).expect("a nonce field") + marker.len();
    body[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_trader_starts_a_backtest_once_even_when_the_form_is_sent_twice() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let page = b.get("/backtests").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"start-backtest\""));
    assert!(page.body.contains("running 42%"), "the list shows progress");
    let (csrf, nonce) = (page.csrf(), nonce(&page.body));
    let first = b.post("/backtests", &start_form(&csrf, &nonce, "btcusd")).await;
    let again = b.post("/backtests", &start_form(&csrf, &nonce, "btcusd")).await;
    assert_eq!(first.status, 303);
    assert_eq!(first.location, again.location, "the same form leads to the same run");
    {
        let engine = app.engine.lock().unwrap();
        assert_eq!(engine.backtest_requests.len(), 1, "one run started");
        let (key, body) = &engine.backtest_requests[0];
        assert!(key.as_deref().is_some_and(|k| k.starts_with("dash-bt-")));
        assert_eq!(body["symbol"], "BTCUSD");
        assert_eq!(body["quantity"], "1.5");
        assert_eq!(body["slippage_bps"], "2");
        assert_eq!(body["params"], serde_json::json!({"fast": 2, "slow": 3}));
        assert_eq!(body["from"], "2026-01-05T00:00:00+00:00");
    }
    let queued = b.get(first.location.as_deref().unwrap()).await;
    assert_eq!(queued.status, 200);
    assert!(queued.body.contains("id=\"backtest-live-status\"") && queued.body.contains(">queued<"));
}

#[tokio::test]
async fn a_refused_backtest_is_shown_next_to_the_form_with_the_field_named() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    let mut b = app.browser();
    b.sign_in("alice", PASSWORD).await;
    let page = b.get("/backtests").await;
    let csrf = page.csrf();
    let refused = b.post("/backtests", &start_form(&csrf, &nonce(&page.body), "NOPE")).await;
    assert_eq!(refused.status, 200);
    assert!(refused.body.contains("id=\"backtest-error\""));
    assert!(refused.body.contains("symbol: no bars of NOPE"), "{}", refused.body);
    assert!(refused.body.contains("value=\"fast=2, slow=3\""), "the form keeps what was typed");
    let mut bad = start_form(&csrf, "n1", "BTCUSD");
    bad[8] = ("quantity", "-1");
    let local = b.post("/backtests", &bad).await;
    assert!(local.body.contains("quantity must be a number above zero"));
    assert!(app.engine.lock().unwrap().backtest_requests.is_empty());
}

#[tokio::test]
async fn a_viewer_sees_the_runs_without_the_form_and_cannot_start_one() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    app.user("alice", Role::Trader).await;
    let mut viewer = app.browser();
    viewer.sign_in("victor", PASSWORD).await;
    let page = viewer.get("/backtests").await;
    assert!(page.body.contains(BACKTEST_DONE) && !page.body.contains("id=\"start-backtest\""));
    let csrf = page.csrf();
    assert_eq!(viewer.post("/backtests", &start_form(&csrf, "n1", "BTCUSD")).await.status, 403);
    let mut trader = app.browser();
    trader.sign_in("alice", PASSWORD).await;
    assert_eq!(trader.post("/backtests", &start_form("0000", "n1", "BTCUSD")).await.status, 403, "forged form");
    assert!(app.engine.lock().unwrap().backtest_requests.is_empty(), "nothing reached the engine");
}

#[tokio::test]
async fn a_running_backtest_follows_its_progress_and_a_succeeded_one_shows_metrics_chart_and_trades() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("victor", PASSWORD).await;
    let running = b.get(&format!("/backtests/{BACKTEST_RUNNING}")).await;
    assert_eq!(running.status, 200);
    assert!(running.body.contains("id=\"backtest-progress\"") && running.body.contains("42%"));
    assert!(
        running.body.contains("<leptos-island data-component=\"LiveBacktestProgress_"),
        "the progress is an island"
    );
    assert!(
        running.body.contains("<noscript><meta http-equiv=\"refresh\" content=\"2\">"),
        "without scripts it reloads"
    );
    assert_eq!(running.refresh, None, "no Refresh header: the island follows the run without reloads");
    let mut events = reqwest::Client::new()
        .get(format!("{}/backtests/{BACKTEST_RUNNING}/live", app.base))
        .header("cookie", b.cookie_header_for_tests())
        .send()
        .await
        .unwrap();
    assert!(events.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), events.chunk()).await.unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk.expect("the stream stays open")));
    }
    assert!(
        text.contains("event: progress") && text.contains(r#"{"Ok":{"status":"running","percent":"42","error":null}}"#),
        "{text}"
    );
    assert_eq!(b.get("/backtests/..%2Fhalt/live").await.status, 404);
    let done = b.get(&format!("/backtests/{BACKTEST_DONE}")).await;
    assert!(done.body.contains("id=\"backtest-metrics\""));
    assert!(done.body.contains("-0.52%"), "total return as a percentage");
    assert!(done.body.contains("-521.31"));
    assert!(done.body.contains("class=\"equity-line\"") && done.body.contains("deepest drawdown -20.25"));
    assert!(
        done.body.contains("id=\"backtest-trades\"") && done.body.contains("-1.25") && done.body.contains("101.75")
    );
    assert!(!done.body.contains("id=\"backtest-progress\""));
    assert_eq!(done.refresh, None, "a finished run's page stays put");
    assert_eq!(b.get("/backtests/0b6f3c7e-8a2d-4f1b-9c3e-999999999999").await.status, 404);
    assert_eq!(b.get("/backtests/..%2Fhalt").await.status, 404);
}
