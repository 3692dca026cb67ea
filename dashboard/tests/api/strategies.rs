//! The strategies page: everyone reads it; only admins start and stop strategies.

use dashboard::auth::Role;

use crate::helpers::{TestApp, PASSWORD};

#[tokio::test]
async fn the_strategies_page_lists_parameters_state_and_the_engines_pnl_per_strategy() {
    let app = TestApp::spawn().await;
    app.user("victor", Role::Viewer).await;
    let mut b = app.browser();
    b.sign_in("victor", PASSWORD).await;
    let page = b.get("/strategies").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"strategy-demo-sma\""));
    assert!(page.body.contains("sma_cross") && page.body.contains("BTCUSD, ETHUSD"));
    assert!(page.body.contains("&quot;fast&quot;:3") || page.body.contains("\"fast\":3"), "parameters shown");
    assert!(page.body.contains("running"));
    for figure in ["12.5", "-2.25", "10.25", "3.1"] {
        assert!(page.body.contains(&format!(">{figure}<")), "P&L {figure} shown");
    }
    assert!(!page.body.contains("id=\"disable-demo-sma\""), "a viewer gets no controls");
}

#[tokio::test]
async fn an_admin_disables_and_enables_a_strategy_through_the_engine() {
    let app = TestApp::spawn().await;
    app.user("ada", Role::Admin).await;
    let mut b = app.browser();
    b.sign_in("ada", PASSWORD).await;
    let page = b.get("/strategies").await;
    assert!(page.body.contains("id=\"disable-demo-sma\""));
    let off = b.post("/strategies/demo-sma/disable", &[("csrf", &page.csrf())]).await;
    assert_eq!((off.status, off.location.as_deref()), (303, Some("/strategies")));
    let page = b.get("/strategies").await;
    assert!(page.body.contains("stopped") && page.body.contains("id=\"enable-demo-sma\""));
    assert_eq!(b.post("/strategies/demo-sma/enable", &[("csrf", &page.csrf())]).await.status, 303);
    assert_eq!(
        app.engine.lock().unwrap().strategy_switches,
        vec![("demo-sma".to_owned(), false), ("demo-sma".to_owned(), true)]
    );
}

#[tokio::test]
async fn a_trader_a_forged_form_or_a_bad_name_cannot_switch_a_strategy() {
    let app = TestApp::spawn().await;
    app.user("alice", Role::Trader).await;
    app.user("ada", Role::Admin).await;
    let mut trader = app.browser();
    trader.sign_in("alice", PASSWORD).await;
    let page = trader.get("/strategies").await;
    assert!(!page.body.contains("id=\"disable-demo-sma\""), "a trader gets no controls");
    assert_eq!(trader.post("/strategies/demo-sma/disable", &[("csrf", &page.csrf())]).await.status, 403);
    let mut admin = app.browser();
    admin.sign_in("ada", PASSWORD).await;
    let csrf = admin.get("/strategies").await.csrf();
    assert_eq!(admin.post("/strategies/demo-sma/disable", &[("csrf", "0000")]).await.status, 403);
    assert_eq!(admin.post("/strategies/Demo%20SMA/disable", &[("csrf", &csrf)]).await.status, 404);
    assert!(app.engine.lock().unwrap().strategy_switches.is_empty(), "nothing reached the engine");
}

#[tokio::test]
async fn an_admin_changes_parameters_and_a_refusal_is_shown_on_the_form_never_a_500() {
    let app = TestApp::spawn().await;
    app.user("ada", Role::Admin).await;
    let mut b = app.browser();
    b.sign_in("ada", PASSWORD).await;
    assert!(b.get("/strategies").await.body.contains("href=\"/strategies/demo-sma/edit\""));
    let form = b.get("/strategies/demo-sma/edit").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("&quot;fast&quot;: 3") || form.body.contains("\"fast\": 3"), "{}", form.body);
    let csrf = form.csrf();
    let post = |params| [("csrf", csrf.as_str()), ("params", params), ("symbols", "btcusd"), ("bar_seconds", "60")];
    let not_json = b.post("/strategies/demo-sma", &post("{fast")).await;
    assert_eq!(not_json.status, 422);
    assert!(not_json.body.contains("Parameters must be a JSON object"));
    let refused = b.post("/strategies/demo-sma", &post(r#"{"fast": "x"}"#)).await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("The engine refused these settings") && refused.body.contains("parameter `fast`"));
    assert!(refused.body.contains("&quot;x&quot;") || refused.body.contains("\"x\""), "what was typed is kept");
    assert!(app.engine.lock().unwrap().strategy_patches.is_empty());
    let saved = b.post("/strategies/demo-sma", &post(r#"{"fast": 5, "slow": 9}"#)).await;
    assert_eq!((saved.status, saved.location.as_deref()), (303, Some("/strategies")));
    let patches = app.engine.lock().unwrap().strategy_patches.clone();
    assert_eq!(patches.len(), 1);
    assert_eq!(
        patches[0].1,
        serde_json::json!({"params": {"fast": 5, "slow": 9}, "symbols": ["BTCUSD"], "bar_seconds": 60})
    );
}

#[tokio::test]
async fn a_trader_or_a_forged_form_cannot_change_parameters() {
    let app = TestApp::spawn().await;
    app.user("tess", Role::Trader).await;
    app.user("ada", Role::Admin).await;
    let mut t = app.browser();
    t.sign_in("tess", PASSWORD).await;
    assert_eq!(t.get("/strategies/demo-sma/edit").await.status, 403);
    let csrf = t.get("/strategies").await.csrf();
    let form = [("csrf", csrf.as_str()), ("params", "{\"fast\": 5}"), ("symbols", "BTCUSD"), ("bar_seconds", "60")];
    assert_eq!(t.post("/strategies/demo-sma", &form).await.status, 403);
    let mut a = app.browser();
    a.sign_in("ada", PASSWORD).await;
    let forged = [("csrf", "0000"), ("params", "{\"fast\": 5}"), ("symbols", "BTCUSD"), ("bar_seconds", "60")];
    assert_eq!(a.post("/strategies/demo-sma", &forged).await.status, 403);
    assert_eq!(a.get("/strategies/nope/edit").await.status, 404);
    assert!(app.engine.lock().unwrap().strategy_patches.is_empty());
}
