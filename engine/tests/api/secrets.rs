//! Named secrets from Secrets Manager (moto's server): the webhook signing secret and the
//! Alpaca keys, followed across a rotation without a restart and without failed requests.

use std::{sync::Arc, time::Duration};

use engine::signals::webhook::sign;
use platform::{
    aws::{secrets_client, AwsSettings, SecretsManagerSource},
    secrets::SecretSetting,
};

use crate::{
    alpaca::StandIn,
    helpers::{alert, eventually, spawn_with_secrets, test_settings, FakeFeed},
};

fn unique(name: &str) -> String {
    format!("halyard/test/{name}-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_rotated_webhook_signing_secret_is_used_at_once_and_the_old_one_is_refused() {
    let client = secrets_client(&AwsSettings::emulator(&test_support::moto().await).load().await);
    let secret_id = unique("webhook-hmac");
    client.create_secret().name(&secret_id).secret_string("signing-v1").send().await.unwrap();
    let db = test_support::TestDb::new().await;
    let feed = FakeFeed::start().await;
    let mut settings = test_settings(&db.url(), &feed);
    settings.signals.hmac_secret = Some(SecretSetting::SecretId(secret_id.clone()));
    settings.secrets_refresh = Duration::from_secs(1);
    let source = Arc::new(SecretsManagerSource::new(client.clone(), Duration::from_secs(1)));
    let app = spawn_with_secrets(settings, source).await;
    app.follower("signed", "acct-s").await;
    feed.tick("BTCUSD", "100");
    let post = |body: String, key: &'static str| {
        let signature = sign(key.as_bytes(), body.as_bytes());
        app.client
            .post(format!("{}/api/v1/signals/tradingview", app.address))
            .header("content-type", "application/json")
            .header("x-halyard-signature", signature)
            .body(body)
            .send()
    };
    let body = |id: &str| alert("signed", "pass-signed", "buy", id).to_string();
    assert_eq!(post(body("s-1"), "signing-v1").await.unwrap().status(), 202);

    client.put_secret_value().secret_id(&secret_id).secret_string("signing-v2").send().await.unwrap();
    // The first alert signed with the new secret makes the engine re-read it: accepted.
    assert_eq!(post(body("s-2"), "signing-v2").await.unwrap().status(), 202);
    assert_eq!(post(body("s-3"), "signing-v1").await.unwrap().status(), 401, "the old secret no longer signs");
    assert_eq!(post(body("s-4"), "signing-v2").await.unwrap().status(), 202);
    let logged = format!("{:?}", app.get("/api/v1/signals?strategy=signed").await.1);
    assert!(!logged.contains("signing-v"), "secret values never appear in answers");
}

#[tokio::test]
async fn the_engine_uses_a_rotated_database_password_within_one_refresh_period() {
    use sqlx::{ConnectOptions, Connection};
    let client = secrets_client(&AwsSettings::emulator(&test_support::moto().await).load().await);
    let db = test_support::TestDb::new().await;
    let role = test_support::password_role(&db, "pw-one").await;
    let secret_id = unique("database");
    client
        .create_secret()
        .name(&secret_id)
        .secret_string(test_support::rds_secret(&db, &role, "pw-one"))
        .send()
        .await
        .unwrap();
    let feed = FakeFeed::start().await;
    let mut settings = test_settings(&db.url(), &feed);
    settings.database = platform::config::DatabaseSettings {
        source: platform::config::DatabaseSource::Secret {
            secret_id: secret_id.clone(),
            defaults: platform::config::RdsSecretDefaults::default(),
        },
        max_connections: 8,
    };
    settings.secrets_refresh = Duration::from_secs(1);
    let source = Arc::new(SecretsManagerSource::new(client.clone(), Duration::from_secs(1)));
    let app = spawn_with_secrets(settings, source).await;
    assert_eq!(app.get("/api/v1/orders").await.0, 200);

    sqlx::query(&format!("alter role {role} password 'pw-two'")).execute(&db.pool).await.unwrap();
    client
        .put_secret_value()
        .secret_id(&secret_id)
        .secret_string(test_support::rds_secret(&db, &role, "pw-two"))
        .send()
        .await
        .unwrap();
    let rotated = std::time::Instant::now();
    // Within one refresh period (1 s, plus the fetch), new connections of the running engine
    // authenticate with the new password.
    let mut ok = false;
    while rotated.elapsed() < Duration::from_secs(3) {
        if let Ok(conn) = (*app.pool.connect_options()).clone().connect().await {
            let _ = conn.close().await;
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the engine's pool still uses the old password after {:?}", rotated.elapsed());
    // The pool opens new connections with it (more at once than it held before the rotation).
    let conns: Vec<_> = futures_util::future::join_all((0..4).map(|_| app.pool.acquire())).await;
    let failed: Vec<String> = conns.iter().filter_map(|c| c.as_ref().err().map(ToString::to_string)).collect();
    assert!(failed.is_empty(), "new connections with the rotated password: {failed:?}");
    drop(conns);
    let (status, placed) = app.place_market("acct-db", "BTCUSD", "buy", "1", "after-db-rotation").await;
    assert_eq!(status, 201, "{placed}");
    app.stop().await;
}

#[tokio::test]
async fn rotated_alpaca_keys_are_picked_up_when_alpaca_refuses_the_old_ones() {
    let client = secrets_client(&AwsSettings::emulator(&test_support::moto().await).load().await);
    let secret_id = unique("alpaca");
    let keys = |id: &str, secret: &str| serde_json::json!({"key_id": id, "secret_key": secret}).to_string();
    client.create_secret().name(&secret_id).secret_string(keys("key", "secret")).send().await.unwrap();
    let alpaca = StandIn::start().await;
    let db = test_support::TestDb::new().await;
    let feed = FakeFeed::start().await;
    let mut settings = test_settings(&db.url(), &feed);
    settings.venue = engine::configuration::VenueSettings::Alpaca(engine::venue::alpaca::AlpacaSettings {
        base_url: alpaca.url.clone(),
        stream_url: format!("{}/stream", alpaca.url.replace("http", "ws")),
        credentials: SecretSetting::SecretId(secret_id.clone()),
    });
    let source = Arc::new(SecretsManagerSource::new(client.clone(), Duration::from_secs(300)));
    let app = spawn_with_secrets(settings, source).await;
    eventually("the engine listens to trade_updates", || async { *alpaca.listening.lock().unwrap() }).await;
    // The start-up read of the account is done: a request refused while the secret still holds
    // the old keys would re-read it, and a re-read within a second of another is skipped.
    eventually("the engine read Alpaca's account", || async {
        !app.get("/api/v1/accounts").await.1["venues"][0]["buying_power"].is_null()
    })
    .await;

    // Alpaca rotates the keys; the new ones are stored in Secrets Manager.
    *alpaca.keys.lock().unwrap() = ("key-2".into(), "secret-2".into());
    client.put_secret_value().secret_id(&secret_id).secret_string(keys("key-2", "secret-2")).send().await.unwrap();
    let (status, placed) = app.place_market("live", "AAPL", "buy", "1", "after-rotation").await;
    assert_eq!(status, 201, "{placed}");
    let id = placed["order_id"].as_i64().unwrap();
    let accepted = app.order_reaches(id, "new").await;
    assert_eq!(accepted["status"], "new", "the order was sent with the rotated keys: {accepted}");
    assert_eq!(alpaca.requests.lock().unwrap().len(), 1, "accepted once by Alpaca");
    app.stop().await;
}
