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
