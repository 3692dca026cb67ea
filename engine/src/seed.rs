//! `engine seed-demo`: the demo's strategies and API token, idempotently.
//!
//! - `demo-sma`: SMA crossover (fast 3, slow 8) on 3-second bars of BTCUSD, ETHUSD and AAPL,
//!   trading 10 units, enabled: on the synthetic feed it trades within a minute.
//! - `demo-tv`: a signal follower on the same symbols whose webhook passphrase is `demo-passphrase`.
//! - account `demo` limits: at most 1,000 units per order.

use sqlx::PgPool;

use crate::api::strategies::{insert, CreateStrategy};

/// The demo webhook passphrase.
pub const DEMO_PASSPHRASE: &str = "demo-passphrase";

/// Creates what the demo needs (skipping what exists) and returns a fresh API token.
pub async fn seed_demo(pool: &PgPool) -> anyhow::Result<String> {
    let symbols = vec!["BTCUSD".to_owned(), "ETHUSD".to_owned(), "AAPL".to_owned()];
    let definitions = [
        CreateStrategy {
            name: "demo-sma".into(),
            kind: "sma_cross".into(),
            params: serde_json::json!({"fast": 3, "slow": 8, "quantity": "10"}),
            account: "demo".into(),
            symbols: symbols.clone(),
            bar_seconds: Some(3),
            passphrase: None,
            enabled: true,
        },
        CreateStrategy {
            name: "demo-tv".into(),
            kind: "signal_follower".into(),
            params: serde_json::json!({"quantity": "1"}),
            account: "demo".into(),
            symbols,
            bar_seconds: Some(60),
            passphrase: Some(DEMO_PASSPHRASE.into()),
            enabled: true,
        },
    ];
    for definition in &definitions {
        if crate::strategies::by_name(pool, &definition.name).await?.is_none() {
            insert(pool, definition, "seed-demo").await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from risk_limit where account = 'demo')").fetch_one(pool).await?;
    if !exists {
        let limits = crate::oms::risk::StoredLimits { max_order_qty: Some(1000.into()), ..Default::default() };
        crate::oms::risk::save_limits(pool, "demo", &limits, "seed-demo").await?;
    }
    let name = format!("demo-{}", chrono::Utc::now().format("%Y%m%d%H%M%S%3f"));
    Ok(crate::auth::create_token(pool, &name).await?)
}
