//! The read-only pages and the live price stream.

use std::time::Duration;

use dashboard::auth::Role;

use crate::helpers::{TestApp, FILLS, PASSWORD};

async fn signed_in(app: &TestApp) -> crate::helpers::Browser {
    app.user("victor", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("victor", PASSWORD).await;
    b
}

#[tokio::test]
async fn the_overview_shows_health_open_positions_and_working_orders() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    let page = b.get("/").await;
    assert_eq!(page.status, 200);
    for service in ["engine", "data-service", "dashboard"] {
        assert!(page.body.contains(&format!("<strong>{service}</strong> ready")), "{service} health");
    }
    assert!(page.body.contains("BTCUSD"));
    assert!(!page.body.contains("ETHUSD"), "flat positions are left out");
    assert!(page.body.contains("limit 99.5"), "the working order is listed");
    assert!(page.body.contains("<leptos-island data-component=\"LiveOverview_"), "the live part is an island");
    assert!(page.body.contains("<leptos-island data-component=\"LiveTopBar_"), "so is the top bar");
    assert!(page.body.contains("<a href=\"/\" aria-current=\"page\">Overview</a>"), "the current page is marked");
    assert!(page.body.contains("id=\"overview-trading\"") && page.body.contains("Trading active"));
}

/// Reads server-sent events from `response` until `events` more events named `name` came.
async fn read_events(response: &mut reqwest::Response, name: &str, events: usize) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while text.matches(&format!("event: {name}")).count() < events {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {name} within 10 s: {text}"))
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk.expect("the stream stays open")));
    }
    text
}

#[tokio::test]
async fn the_overview_stream_sends_a_snapshot_and_another_when_something_changes() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app).await;
    let mut response = reqwest::Client::new()
        .get(format!("{}/overview/live", app.base))
        .header("cookie", b.cookie_header_for_tests())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let first = read_events(&mut response, "snapshot", 1).await;
    assert!(first.contains("\"trading\":\"Active\""), "{first}");
    assert!(first.contains("\"symbol\":\"BTCUSD\"") && first.contains("\"kind\":\"limit 99.5\""), "{first}");
    app.engine.lock().unwrap().halts.push(serde_json::json!({
        "halt_id": 1, "scope": "all", "account": null, "strategy": null, "reason": "fat finger", "flatten": false,
        "created_by": "ops", "created_at": "2026-11-24T10:00:00Z"}));
    let change = read_events(&mut response, "snapshot", 1).await;
    assert!(
        change.contains("\"Halted\"") && change.contains("Global halt by ops at 2026-11-24 10:00:00 UTC: fat finger"),
        "{change}"
    );
}

#[tokio::test]
async fn open_overview_streams_share_one_engine_poller_that_stops_when_they_close() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app).await;
    let open = || {
        reqwest::Client::new()
            .get(format!("{}/overview/live", app.base))
            .header("cookie", b.cookie_header_for_tests())
            .send()
    };
    let mut one = open().await.unwrap();
    let mut two = open().await.unwrap();
    let first = read_events(&mut one, "snapshot", 1).await;
    read_events(&mut two, "snapshot", 1).await;
    for service in ["engine", "data-service", "dashboard"] {
        let ready = format!("{{\"name\":\"{service}\",\"ready\":true,\"text\":\"ready\"}}");
        assert!(first.contains(&ready), "the services' health is in the snapshot: {first}");
    }
    let reads = || app.engine.lock().unwrap().signal_reads;
    let before = reads();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let during = reads() - before;
    // One poller reads 3 or 4 times in 3.5 s; one per stream would read 6 to 8 times.
    assert!((2..=4).contains(&during), "{during} engine reads in 3.5 s with two streams open");
    app.engine.lock().unwrap().halts.push(serde_json::json!({
        "halt_id": 1, "scope": "all", "account": null, "strategy": null, "reason": "fat finger", "flatten": false,
        "created_by": "ops", "created_at": "2026-11-24T10:00:00Z"}));
    assert!(read_events(&mut one, "snapshot", 1).await.contains("fat finger"), "the first stream follows");
    assert!(read_events(&mut two, "snapshot", 1).await.contains("fat finger"), "the second stream follows");
    // A stream opened later gets the latest snapshot at once.
    let mut three = open().await.unwrap();
    let latest = tokio::time::timeout(Duration::from_millis(500), read_events(&mut three, "snapshot", 1))
        .await
        .expect("the latest snapshot at once");
    assert!(latest.contains("fat finger"), "{latest}");
    drop((one, two, three));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let stopped = reads();
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(reads(), stopped, "no engine reads while no overview is open");
}

#[tokio::test]
async fn the_overview_stream_carries_the_accounts_and_alerts_and_follows_them() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app).await;
    let mut response = reqwest::Client::new()
        .get(format!("{}/overview/live", app.base))
        .header("cookie", b.cookie_header_for_tests())
        .send()
        .await
        .unwrap();
    let first = read_events(&mut response, "snapshot", 1).await;
    // The demo account as the page shows it: equity 10.25, 2.5 today, 1.5 realized today.
    assert!(first.contains("\"account\":\"demo\""), "{first}");
    assert!(first.contains("{\"class\":\"num gain\",\"text\":\"10.25\"}"), "{first}");
    assert!(first.contains("{\"class\":\"num gain\",\"text\":\"2.5\"}"), "{first}");
    assert!(first.contains("\"signal_id\":4") && first.contains("\"status\":\"processed (orders: 1 new)\""), "{first}");
    app.engine.lock().unwrap().signals.push(
        serde_json::json!({"signal_id": 5, "account": "demo", "strategy": "tv-follow",
        "dedupe_key": "a2", "ticker": "ETHUSD", "action": "buy", "status": "pending", "note": null,
        "received_at": "2026-11-24T10:00:01Z", "processed_at": null}),
    );
    let alert = read_events(&mut response, "snapshot", 1).await;
    let (five, four) = (alert.find("\"signal_id\":5").unwrap(), alert.find("\"signal_id\":4").unwrap());
    assert!(five < four && alert.contains("\"received\":\"2026-11-24 10:00:01\""), "the new alert first: {alert}");
    app.engine.lock().unwrap().demo_pnl = Some(serde_json::json!({"realized_pnl": "8", "unrealized_pnl": "-9.5",
        "total_pnl": "-1.5", "realized_today": "0", "fees": "0.40"}));
    let pnl = read_events(&mut response, "snapshot", 1).await;
    // -1.5 now against 7.75 before midnight: -9.25 today.
    assert!(pnl.contains("{\"class\":\"num loss\",\"text\":\"-1.5\"}"), "{pnl}");
    assert!(pnl.contains("{\"class\":\"num loss\",\"text\":\"-9.25\"}"), "{pnl}");
    assert!(pnl.contains("\"realized_today\":{\"class\":\"num\",\"text\":\"0\"}"), "{pnl}");
}

#[tokio::test]
async fn the_overview_renders_its_accounts_and_alerts_inside_the_live_island() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    let page = b.get("/").await;
    let island = page.body.find("id=\"overview-live\"").expect("the live island");
    for part in ["id=\"health\"", "id=\"accounts\"", "id=\"account-demo\"", "id=\"alerts\"", "id=\"alert-4\""] {
        assert!(page.body.find(part).is_some_and(|at| at > island), "{part} is inside the island");
    }
    app.engine.lock().unwrap().signals.push(
        serde_json::json!({"signal_id": 5, "account": "demo", "strategy": "tv-follow",
        "dedupe_key": "a2", "ticker": "ETHUSD", "action": "buy", "status": "failed", "note": "no position",
        "received_at": "2026-11-24T10:00:01Z", "processed_at": "2026-11-24T10:00:01Z"}),
    );
    // Without the wasm client a reload shows it.
    assert!(b.get("/").await.body.contains("failed (no position)"));
}

#[tokio::test]
async fn the_halt_stream_sends_the_trading_state_and_again_when_it_changes() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app).await;
    let mut response = reqwest::Client::new()
        .get(format!("{}/halts/live", app.base))
        .header("cookie", b.cookie_header_for_tests())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let first = read_events(&mut response, "trading", 1).await;
    assert!(first.contains("data: \"Active\""), "{first}");
    app.engine.lock().unwrap().halts.push(serde_json::json!({
        "halt_id": 1, "scope": "all", "account": null, "strategy": null, "reason": "fat finger", "flatten": true,
        "created_by": "ops", "created_at": "2026-11-24T10:00:00Z"}));
    let change = read_events(&mut response, "trading", 1).await;
    assert!(change.contains("\"all\":true") && change.contains("fat finger (positions flattened)"), "{change}");
}

#[tokio::test]
async fn the_live_streams_need_a_session() {
    let app = TestApp::spawn().await;
    assert_eq!(app.browser().get("/overview/live").await.status, 303);
    assert_eq!(app.browser().get("/halts/live").await.status, 303);
}

#[tokio::test]
async fn the_wasm_client_is_served_gzipped_when_accepted_and_nothing_else_is_served_from_pkg() {
    use crate::helpers::{FAKE_CLIENT_JS, FAKE_CLIENT_WASM, FAKE_CLIENT_WASM_GZ};
    let app = TestApp::spawn().await;
    let http = reqwest::Client::new();
    let get = |path: &str, gzip: bool| {
        let request = http.get(format!("{}{path}", app.base));
        if gzip { request.header("accept-encoding", "br, gzip") } else { request }.send()
    };
    let js = get("/pkg/dashboard.js", false).await.unwrap();
    assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(js.text().await.unwrap(), FAKE_CLIENT_JS);
    let wasm = get("/pkg/dashboard_bg.wasm", false).await.unwrap();
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    assert!(wasm.headers().get("content-encoding").is_none());
    assert_eq!(wasm.bytes().await.unwrap(), FAKE_CLIENT_WASM);
    let gzipped = get("/pkg/dashboard_bg.wasm", true).await.unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(gzipped.headers()["content-type"], "application/wasm");
    assert_eq!(gzipped.bytes().await.unwrap(), FAKE_CLIENT_WASM_GZ);
    for path in ["/pkg/dashboard_bg.wasm.gz", "/pkg/other.js", "/pkg/..%2Fsrc%2Flib.rs"] {
        assert_eq!(get(path, false).await.unwrap().status(), 404, "{path}");
    }
    let script = get("/assets/hydrate.js", false).await.unwrap();
    assert!(script.text().await.unwrap().contains("leptos-island"));
}

#[tokio::test]
async fn the_orders_page_pages_through_older_orders() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    let first = b.get("/orders").await;
    assert!(first.body.contains(">100<"));
    assert!(first.body.contains("href=\"/orders?before=51\""));
    let second = b.get("/orders?before=51").await;
    assert!(second.body.contains(">50<") && !second.body.contains(">51<"));
}

#[tokio::test]
async fn the_markets_page_lists_symbols_with_prices_and_the_live_panel() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    let page = b.get("/markets?symbol=btcusd").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("ETHUSD") && page.body.contains("100.25"));
    assert!(page.body.contains("data-symbol=\"BTCUSD\""));
    // The live panel is an island the wasm client hydrates, started by hydrate.js.
    assert!(page.body.contains("<leptos-island data-component=\"LivePrice_"), "{}", page.body);
    assert!(page.body.contains("<script type=\"module\" src=\"/assets/hydrate.js\"></script>"));
    assert_eq!(b.get("/markets?symbol=a%26b").await.status, 400);
}

#[tokio::test]
async fn the_live_stream_relays_ticks_as_server_sent_events() {
    let app = TestApp::spawn().await;
    let b = signed_in(&app).await;
    let cookie = b.cookie_header_for_tests();
    let mut response = reqwest::Client::new()
        .get(format!("{}/markets/live?symbol=BTCUSD", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while text.matches("event: tick").count() < 2 {
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await.expect("ticks within 5 s").unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk.expect("the stream stays open")));
    }
    assert!(text.contains("event: status") && text.contains("data: live"));
    assert!(text.contains("\"symbol\":\"BTCUSD\""));
    assert!(text.contains("\"price\":\"200.5\""));
    assert!(
        text.contains("\"size\":\"1\"") && text.contains("\"t\":1795514401000"),
        "size and time for the chart: {text}"
    );
}

#[tokio::test]
async fn the_live_stream_needs_a_session() {
    let app = TestApp::spawn().await;
    let r = app.browser().get("/markets/live?symbol=BTCUSD").await;
    assert_eq!(r.status, 303);
}

#[tokio::test]
async fn health_endpoints_answer_without_a_session_and_pages_carry_security_headers() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(http.get(format!("{}/healthz", app.base)).send().await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{}/readyz", app.base)).send().await.unwrap().status(), 200);
    let login = http.get(format!("{}/login", app.base)).send().await.unwrap();
    let csp = login.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(login.headers()["x-frame-options"], "DENY");
    assert_eq!(login.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn a_watched_symbol_gets_a_candlestick_chart_with_volume_at_the_chosen_interval() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("victor", PASSWORD).await;
    let page = b.get("/markets?symbol=BTCUSD&interval=5m").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("BTCUSD 5m bars"));
    assert_eq!(page.body.matches("class=\"candle up\"").count(), 2, "the rising and the flat bar");
    assert_eq!(page.body.matches("class=\"candle down\"").count(), 1);
    assert_eq!(page.body.matches("class=\"volume\"").count(), 3, "a volume bar per candle");
    assert!(page.body.contains("high 101.5") && page.body.contains("low 99"), "the range as exact decimals");
    assert!(page.body.contains("aria-current=\"page\">5m<"), "the interval is marked");
    assert!(page.body.contains("<leptos-island data-component=\"LiveChart"), "the chart is an island");
    assert!(page.body.contains("&quot;high&quot;:&quot;101.5&quot;"), "its props carry the bars as exact decimals");
    assert!(b.get("/markets?symbol=ETHUSD").await.body.contains("id=\"no-bars\""));
    assert_eq!(b.get("/markets?symbol=BTCUSD&interval=2m").await.status, 400);
}

#[tokio::test]
async fn the_orders_export_is_a_csv_of_every_page_of_orders() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("victor", PASSWORD).await;
    assert!(b.get("/orders").await.body.contains("href=\"/orders/export.csv\""));
    let csv = b.get("/orders/export.csv").await;
    assert_eq!(csv.status, 200);
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("order_id,created_at,account"));
    // The stand-in engine holds orders 1 to 100, served 50 a page at most.
    assert_eq!(lines.len(), 101, "a header and every order");
    assert!(lines[1].starts_with("100,2026-11-24T10:00:00+00:00,demo,demo-sma,BTCUSD,buy,limit,99.5,10,0,,filled,"));
    assert!(lines[100].starts_with("1,"));
}

#[tokio::test]
async fn the_overview_shows_each_accounts_equity_and_pnl_today_and_the_recent_alerts() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    let page = b.get("/").await;
    // The demo account (its flat ETHUSD position counts too): equity 10.25 now, 7.75 at the
    // last sample before midnight, so 2.5 today.
    assert!(page.body.contains("id=\"account-demo\""), "{}", page.body);
    for figure in ["10.25", "2.5", "1.5"] {
        assert!(page.body.contains(&format!(">{figure}<")), "{figure} shown");
    }
    assert!(page.body.contains("id=\"alert-4\""));
    assert!(page.body.contains("tv-follow") && page.body.contains("processed (orders: 1 new)"));
    assert!(page.body.contains("2026-11-24 09:59:58"));
}

#[tokio::test]
async fn orders_are_filtered_through_the_engine_and_a_bad_filter_is_explained_without_asking_it() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    let page =
        b.get("/orders?status=new&symbol=btcusd&strategy=demo-sma&account=demo&from=2026-11-20&until=2026-11-24").await;
    assert_eq!(page.status, 200);
    let asked = app.engine.lock().unwrap().order_queries.last().cloned().unwrap();
    assert_eq!(asked.get("status").map(String::as_str), Some("new"));
    // The days the orders were created, both included: the engine's `until` is exclusive.
    assert_eq!(asked.get("from").map(String::as_str), Some("2026-11-20T00:00:00Z"));
    assert_eq!(asked.get("until").map(String::as_str), Some("2026-11-25T00:00:00Z"));
    assert!(page.body.contains("value=\"2026-11-20\""), "the range stays in the form");
    assert_eq!(asked.get("symbol").map(String::as_str), Some("BTCUSD"));
    assert_eq!(asked.get("strategy").map(String::as_str), Some("demo-sma"));
    assert_eq!(asked.get("account").map(String::as_str), Some("demo"));
    assert!(page.body.contains("<option value=\"new\" selected"), "the status stays chosen");
    assert!(page
        .body
        .contains("href=\"/orders/export.csv?status=new&amp;symbol=BTCUSD&amp;strategy=demo-sma&amp;account=demo&amp;from=2026-11-20&amp;until=2026-11-24\""));
    let before = app.engine.lock().unwrap().order_queries.len();
    let reversed = b.get("/orders?from=2026-11-25&until=2026-11-24").await;
    assert_eq!(reversed.status, 400);
    assert!(reversed.body.contains("From (2026-11-25) must be on or before Until"), "{}", reversed.body);
    assert_eq!(b.get("/orders/export.csv?from=yesterday").await.status, 400);
    let bad = b.get("/orders?status=done").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"filter-error\"") && bad.body.contains("Status must be one of"));
    assert_eq!(b.get("/orders?before=x").await.status, 400);
    assert_eq!(b.get("/orders/export.csv?account=a%2Fb").await.status, 400);
    // The shell's working orders are not asked for by this page; nothing else was.
    assert_eq!(app.engine.lock().unwrap().order_queries.len(), before, "a bad filter never reaches the engine");
}

#[tokio::test]
async fn fills_are_listed_and_exported_with_their_filters() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    let page = b.get("/fills?strategy=demo-sma").await;
    assert_eq!(page.status, 200);
    let newest = format!("id=\"fill-{FILLS}\"");
    assert!(page.body.contains(&newest) && page.body.contains(">100.5<") && page.body.contains("href=\"/orders/8\""));
    let asked = app.engine.lock().unwrap().fill_queries.last().cloned().unwrap();
    assert_eq!(asked.get("strategy").map(String::as_str), Some("demo-sma"));
    assert_eq!(asked.get("limit").map(String::as_str), Some("51"), "one page and one more fill");
    assert_eq!(asked.get("before"), None, "the newest page has no cursor");
    assert!(!page.body.contains("id=\"newest\""), "already the newest page");
    assert_eq!(
        page.body.matches("class=\"flag reconciliation\"").count(),
        1,
        "the one reconciliation entry is flagged, the executions are not"
    );
    assert!(
        page.body.contains("title=\"busted by the venue\" class=\"flag reconciliation\">bust</span>"),
        "the note is its tooltip"
    );
    let csv = b.get("/fills/export.csv?strategy=demo-sma").await;
    assert!(csv
        .body
        .starts_with("fill_id,ts,order_id,account,strategy,symbol,side,qty,price,fee,realized_pnl,exec_id,kind\r\n"));
    assert!(csv.body.contains(&format!(",paper-x{FILLS},bust\r\n")), "{}", &csv.body[..300]);
}

#[tokio::test]
async fn fills_are_paged_with_the_engines_cursor_past_its_newest_thousand() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    // Follow "Older fills" from the newest page to the last: 1,100 fills, 50 a page.
    let mut url = "/fills?account=demo".to_owned();
    let mut pages = 0;
    let mut shown = Vec::new();
    loop {
        let page = b.get(&url).await;
        assert_eq!(page.status, 200, "{url}");
        pages += 1;
        shown.extend(
            page.body
                .match_indices("<tr id=\"fill-")
                .map(|(i, _)| page.body[i + "<tr id=\"fill-".len()..].split('"').next().unwrap().to_owned()),
        );
        assert_eq!(page.body.contains("id=\"newest\""), pages > 1, "a link back to the newest page once paged");
        match page.body.split("id=\"older\" href=\"").nth(1) {
            Some(rest) => url = rest.split('"').next().unwrap().replace("&amp;", "&"),
            None => break,
        }
        assert!(url.contains("account=demo"), "the filters are kept: {url}");
    }
    assert_eq!(pages, 22);
    let expected: Vec<String> = (1..=FILLS).rev().map(|i| i.to_string()).collect();
    assert_eq!(shown, expected, "every fill once, newest first");
    let asked = app.engine.lock().unwrap().fill_queries.clone();
    assert_eq!(asked[1].get("before").map(String::as_str), Some("1051"), "the last fill shown on the first page");
    assert_eq!(asked[1].get("account").map(String::as_str), Some("demo"));
}

#[tokio::test]
async fn a_bad_fills_cursor_is_explained_with_the_filters_kept_without_asking_the_engine() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    let asked = app.engine.lock().unwrap().fill_queries.len();
    for cursor in ["x", "0", "-5", "1.5"] {
        let bad = b.get(&format!("/fills?symbol=btcusd&before={cursor}")).await;
        assert_eq!(bad.status, 400, "before={cursor}");
        assert!(
            bad.body.contains("id=\"filter-error\"") && bad.body.contains("The page cursor must be a whole number")
        );
        assert!(bad.body.contains("value=\"BTCUSD\""), "the typed symbol stays in the form");
    }
    assert_eq!(app.engine.lock().unwrap().fill_queries.len(), asked, "a bad cursor never reaches the engine");
}

#[tokio::test]
async fn a_fills_date_range_reaches_the_engine_and_a_bad_one_is_explained_with_what_was_typed() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    let page = b.get("/fills?account=demo&from=2026-11-20&until=2026-11-24").await;
    assert_eq!(page.status, 200);
    let asked = app.engine.lock().unwrap().fill_queries.last().cloned().unwrap();
    assert_eq!(asked.get("from").map(String::as_str), Some("2026-11-20T00:00:00Z"));
    assert_eq!(asked.get("until").map(String::as_str), Some("2026-11-25T00:00:00Z"), "the last day is included");
    assert!(
        page.body.contains("value=\"2026-11-20\"") && page.body.contains("value=\"2026-11-24\""),
        "kept in the form"
    );
    assert!(page.body.contains("from=2026-11-20&amp;until=2026-11-24"), "the older-page and CSV links carry the range");
    let csv = b.get("/fills/export.csv?from=2026-11-20&until=2026-11-24").await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        app.engine.lock().unwrap().fill_queries.last().unwrap().get("until").map(String::as_str),
        Some("2026-11-25T00:00:00Z")
    );
    let asked = app.engine.lock().unwrap().fill_queries.len();
    for (from, until, why) in [
        ("2026-11-25", "2026-11-24", "From (2026-11-25) must be on or before Until (2026-11-24)"),
        ("2026-02-30", "", "From must be a date, YYYY-MM-DD"),
        ("", "yesterday", "Until must be a date, YYYY-MM-DD"),
    ] {
        let bad = b.get(&format!("/fills?symbol=btcusd&from={from}&until={until}")).await;
        assert_eq!(bad.status, 400, "{from} {until}");
        assert!(bad.body.contains("id=\"filter-error\"") && bad.body.contains(why), "{why}");
        for typed in [from, until].into_iter().filter(|t| !t.is_empty()) {
            assert!(bad.body.contains(&format!("value=\"{typed}\"")), "{typed} stays in the form");
        }
        assert!(bad.body.contains("value=\"BTCUSD\""), "the other filters stay too");
        let export = b.get(&format!("/fills/export.csv?from={from}&until={until}")).await;
        assert_eq!(export.status, 400, "the export refuses it too");
    }
    assert_eq!(app.engine.lock().unwrap().fill_queries.len(), asked, "a bad range never reaches the engine");
}

#[tokio::test]
async fn the_fills_export_follows_the_cursor_over_every_engine_page() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    let csv = b.get("/fills/export.csv?strategy=demo-sma").await;
    assert_eq!(csv.status, 200);
    let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("fill_id,ts,order_id,"), "{}", lines[0]);
    assert_eq!(lines.len() as i64, FILLS + 1, "a header and every fill");
    assert!(lines[1].starts_with(&format!("{FILLS},")) && lines[1].ends_with(&format!(",paper-x{FILLS},bust")));
    assert!(lines[FILLS as usize].starts_with("1,"));
    let asked = app.engine.lock().unwrap().fill_queries.clone();
    assert_eq!(asked.len(), 2, "two engine pages: 1,000 and the 100 left");
    assert!(asked.iter().all(|q| q.get("limit").map(String::as_str) == Some("1000")));
    assert_eq!(asked[1].get("before").map(String::as_str), Some("101"));
    assert_eq!(asked[1].get("strategy").map(String::as_str), Some("demo-sma"));
}

#[tokio::test]
async fn the_markets_list_shows_the_day_change_against_the_previous_close() {
    let app = TestApp::spawn().await;
    let mut b = signed_in(&app).await;
    let page = b.get("/markets").await;
    // BTCUSD: last 100.25, yesterday's close 100; ETHUSD has no bar today.
    assert!(page.body.contains("+0.25 (+0.25%)"), "{}", page.body);
    assert!(page.body.contains("title=\"no trade today\""));
}
