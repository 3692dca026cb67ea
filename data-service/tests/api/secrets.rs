//! The running service takes its database credentials from Secrets Manager (moto) and follows
//! a rotation without a restart.

use std::{sync::Arc, time::Duration};

use data_service::startup::Application;
use platform::{
    aws::{secrets_client, AwsSettings, SecretsManagerSource},
    config::{DatabaseSettings, DatabaseSource, RdsSecretDefaults},
};
use sqlx::{ConnectOptions, Connection};
use test_support::{password_role, rds_secret as secret, TestDb};

use crate::helpers::test_settings;

#[tokio::test]
async fn the_service_uses_a_rotated_database_password_within_one_refresh_period() {
    let db = TestDb::new().await;
    let role = password_role(&db, "pw-one").await;
    let client = secrets_client(&AwsSettings::emulator(&test_support::moto().await).load().await);
    let secret_id = format!("halyard/test/{role}");
    client.create_secret().name(&secret_id).secret_string(secret(&db, &role, "pw-one")).send().await.unwrap();

    let mut settings = test_settings(&db);
    settings.database = DatabaseSettings {
        source: DatabaseSource::Secret { secret_id: secret_id.clone(), defaults: RdsSecretDefaults::default() },
        max_connections: 3,
    };
    settings.secrets_refresh = Duration::from_secs(1);
    let source = Arc::new(SecretsManagerSource::new(client.clone(), Duration::from_secs(1)));
    let app = Application::build(settings, source).await.unwrap();
    let pool = app.pool();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);

    sqlx::query(&format!("alter role {role} password 'pw-two'")).execute(&db.pool).await.unwrap();
    client.put_secret_value().secret_id(&secret_id).secret_string(secret(&db, &role, "pw-two")).send().await.unwrap();
    let rotated = std::time::Instant::now();

    // Within one refresh period (1 s, plus the fetch), new connections of the running service
    // authenticate with the new password.
    let mut ok = false;
    while rotated.elapsed() < Duration::from_secs(3) {
        let options = (*pool.connect_options()).clone();
        if let Ok(conn) = options.connect().await {
            let _ = conn.close().await;
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the service's pool still uses the old password after {:?}", rotated.elapsed());
    // The pool opens new connections with it (3 at once: at least two are new).
    let conns: Vec<_> = futures_util::future::join_all((0..3).map(|_| pool.acquire())).await;
    assert!(conns.iter().all(Result::is_ok), "{:?}", conns.iter().filter_map(|c| c.as_ref().err()).collect::<Vec<_>>());
    drop(conns);
    assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    pool.close().await;
    let server_options = db.server_options();
    drop(db);
    let mut admin = sqlx::PgConnection::connect_with(&server_options).await.unwrap();
    sqlx::query(&format!("drop role {role}")).execute(&mut admin).await.unwrap();
}
