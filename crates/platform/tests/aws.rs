//! Secrets Manager, credential rotation and CloudWatch metrics against a real AWS emulator (moto)
//! and a real PostgreSQL.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use aws_sdk_cloudwatch::{
    primitives::DateTime,
    types::{Dimension, Metric, MetricDataQuery, MetricStat},
};
use platform::{
    aws::{cloudwatch_client, secrets_client, AwsSettings, SecretsManagerSource},
    config::{DatabaseSettings, DatabaseSource, RdsSecretDefaults},
    db::{self, SecretSource},
    metrics::{Metrics, Sink},
};
use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection, PgConnection};
use test_support::TestDb;

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

async fn emulator() -> aws_config::SdkConfig {
    AwsSettings::emulator(&test_support::moto().await).load().await
}

async fn dead_endpoint() -> aws_config::SdkConfig {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    AwsSettings::emulator(&format!("http://127.0.0.1:{port}")).load().await
}

#[tokio::test]
async fn secrets_are_cached_until_invalidated_then_fetched_afresh() {
    let sdk = emulator().await;
    let client = secrets_client(&sdk);
    let id = unique("halyard/test");
    client.create_secret().name(&id).secret_string("first").send().await.unwrap();
    let source = SecretsManagerSource::new(client.clone(), Duration::from_secs(3600));
    assert_eq!(source.get(&id).await.unwrap().expose(), "first");

    client.put_secret_value().secret_id(&id).secret_string("second").send().await.unwrap();
    assert_eq!(source.get(&id).await.unwrap().expose(), "first", "served from the cache");
    source.invalidate(&id);
    assert_eq!(source.get(&id).await.unwrap().expose(), "second");
}

#[tokio::test]
async fn a_missing_secret_is_an_error_naming_the_secret() {
    let source = SecretsManagerSource::new(secrets_client(&emulator().await), Duration::from_secs(60));
    let err = source.secret_string("halyard/does-not-exist").await.unwrap_err();
    assert!(err.contains("halyard/does-not-exist"), "{err}");
}

/// A login role on the test server that must authenticate with a password, a secret holding
/// it, and database settings pointing at that secret.
struct Rotating {
    db: TestDb,
    role: String,
    secret_id: String,
    client: aws_sdk_secretsmanager::Client,
    settings: DatabaseSettings,
}

impl Rotating {
    async fn new() -> Self {
        let db = TestDb::new().await;
        test_support::require_passwords_for_group(&db.server_options()).await.expect("password authentication");
        let role = unique("rot");
        for sql in [
            format!("create role {role} login password 'first-password' in role {}", test_support::PASSWORD_ROLE_GROUP),
            format!("grant all on schema public to {role}"),
        ] {
            sqlx::query(&sql).execute(&db.pool).await.unwrap();
        }
        let client = secrets_client(&emulator().await);
        let secret_id = unique("halyard/db");
        client
            .create_secret()
            .name(&secret_id)
            .secret_string(secret(&db, &role, "first-password"))
            .send()
            .await
            .unwrap();
        let settings = DatabaseSettings {
            source: DatabaseSource::Secret { secret_id: secret_id.clone(), defaults: RdsSecretDefaults::default() },
            max_connections: 4,
        };
        Self { db, role, secret_id, client, settings }
    }

    /// Rotates the password in the database and then in the secret (as a rotation Lambda does).
    async fn rotate(&self, password: &str) {
        sqlx::query(&format!("alter role {} password '{password}'", self.role)).execute(&self.db.pool).await.unwrap();
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .secret_string(secret(&self.db, &self.role, password))
            .send()
            .await
            .unwrap();
    }
}

impl Drop for Rotating {
    fn drop(&mut self) {
        // The role's privileges live in the test's database: drop them there, then the role.
        let role = self.role.clone();
        let options = self.db.options.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect_with(&options).await.ok()?;
                sqlx::query(&format!("drop owned by {role}")).execute(&mut admin).await.ok()?;
                sqlx::query(&format!("drop role if exists {role}")).execute(&mut admin).await.ok()
            })
        })
        .join();
    }
}

fn secret(db: &TestDb, role: &str, password: &str) -> String {
    let o: PgConnectOptions = db.url().parse().unwrap();
    serde_json::json!({
        "username": role, "password": password, "host": o.get_host(), "port": o.get_port(),
        "dbname": o.get_database().unwrap()
    })
    .to_string()
}

/// Opens a fresh connection with the pool's current options (what the pool's next new
/// connection would use).
async fn fresh_connection_works(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let options = (*pool.connect_options()).clone();
    let mut conn = options.connect().await?;
    sqlx::query("select 1").execute(&mut conn).await?;
    conn.close().await
}

#[tokio::test]
async fn a_rotated_database_password_is_used_by_new_connections_within_one_refresh_period() {
    let r = Rotating::new().await;
    let source: Arc<dyn SecretSource> = Arc::new(SecretsManagerSource::new(r.client.clone(), Duration::from_secs(1)));
    let options = db::connect_options(&r.settings, &*source).await.unwrap();
    let pool = db::lazy_pool(options.clone(), 4);
    sqlx::query("select 1").execute(&pool).await.expect("the first password works");
    let refresh = db::spawn_credential_refresh(
        pool.clone(),
        r.settings.clone(),
        source,
        Duration::from_secs(1),
        Duration::from_millis(50),
    )
    .expect("a secret-based pool gets a refresh task");

    r.rotate("second-password").await;
    let rotated = Instant::now();
    // The server really checks passwords: the old one is refused now.
    let old = options.connect().await.map(|_| ()).unwrap_err();
    assert!(db::is_auth_failure(&old), "{old}");

    let mut picked_up = None;
    while rotated.elapsed() < Duration::from_secs(5) {
        if fresh_connection_works(&pool).await.is_ok() {
            picked_up = Some(rotated.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let picked_up = picked_up.expect("new connections use the rotated password");
    assert!(picked_up <= Duration::from_millis(2500), "picked up after {picked_up:?}, period 1 s");
    // And the pool itself opens new connections with it (4 at once forces new ones).
    let conns = futures_join_all(&pool, 4).await;
    assert_eq!(conns, 4);
    refresh.abort();
}

async fn futures_join_all(pool: &sqlx::PgPool, n: usize) -> usize {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(pool.acquire().await.expect("a connection with the current password"));
    }
    held.len()
}

#[tokio::test]
async fn an_authentication_failure_triggers_a_refresh_before_the_period_ends() {
    let r = Rotating::new().await;
    let source: Arc<dyn SecretSource> =
        Arc::new(SecretsManagerSource::new(r.client.clone(), Duration::from_secs(3600)));
    let options = db::connect_options(&r.settings, &*source).await.unwrap();
    let pool = db::lazy_pool(options, 1);
    let refresh = db::spawn_credential_refresh(
        pool.clone(),
        r.settings.clone(),
        source,
        Duration::from_secs(3600),
        Duration::from_millis(50),
    )
    .unwrap();
    r.rotate("rotated-password").await;

    // The first query opens a connection with the old password: refused, and reported.
    let err = sqlx::query("select 1").execute(&pool).await.unwrap_err();
    assert!(db::is_auth_failure(&err), "{err}");
    assert!(!err.to_string().contains("first-password") && !err.to_string().contains("rotated-password"));
    db::report_error(&err);

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match sqlx::query("select 1").execute(&pool).await {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                db::report_error(&e);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("still failing 5 s after the authentication failure: {e}"),
        }
    }
    refresh.abort();
}

#[tokio::test]
async fn metrics_sent_to_cloudwatch_are_readable_with_get_metric_data() {
    let sdk = emulator().await;
    let client = cloudwatch_client(&sdk);
    let namespace = unique("HalyardTest");
    // moto 5.2's GetMetricData matches on metric name and dimensions but not on the namespace:
    // a route of its own keeps earlier runs against the same emulator out of the sum.
    let route = format!("/api/v1/{}", unique("x"));
    let metrics = Metrics::new("test-service", "test");
    for _ in 0..3 {
        metrics.count("RequestCount", 1.0, &[("Route", &route)]);
    }
    metrics.timing("RequestLatency", Duration::from_millis(40), &[("Route", &route)]);
    let sink = Sink::CloudWatch { client: client.clone(), namespace: namespace.clone() };
    assert_eq!(metrics.flush(&sink).await, 2);
    assert_eq!(metrics.dropped(), 0);

    let dims = |route: &str| {
        vec![
            Dimension::builder().name("Service").value("test-service").build(),
            Dimension::builder().name("Environment").value("test").build(),
            Dimension::builder().name("Route").value(route).build(),
        ]
    };
    let query = MetricDataQuery::builder()
        .id("requests")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(&namespace)
                        .metric_name("RequestCount")
                        .set_dimensions(Some(dims(&route)))
                        .build(),
                )
                .period(60)
                .stat("Sum")
                .build(),
        )
        .build();
    let now = std::time::SystemTime::now();
    let out = client
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(DateTime::from(now - Duration::from_secs(600)))
        .end_time(DateTime::from(now + Duration::from_secs(600)))
        .send()
        .await
        .unwrap();
    let values: f64 = out.metric_data_results()[0].values().iter().sum();
    assert_eq!(values, 3.0);
}

#[tokio::test]
async fn more_than_a_thousand_series_are_sent_in_batches_within_the_api_limit() {
    let client = cloudwatch_client(&emulator().await);
    let namespace = unique("HalyardTest");
    let metrics = Metrics::new("test-service", "test");
    for i in 0..1200 {
        metrics.count("Series", 1.0, &[("I", &i.to_string())]);
    }
    let sink = Sink::CloudWatch { client: client.clone(), namespace: namespace.clone() };
    assert_eq!(metrics.flush(&sink).await, 1200);
    let pages = client.list_metrics().namespace(&namespace).into_paginator().send().collect::<Vec<_>>().await;
    let listed: usize = pages.into_iter().map(|p| p.unwrap().metrics().len()).sum();
    assert_eq!(listed, 1200);
}

#[tokio::test]
async fn a_cloudwatch_outage_drops_metrics_with_a_count_and_does_not_block() {
    let metrics = Metrics::new("test-service", "test");
    metrics.count("A", 1.0, &[]);
    metrics.gauge("B", 2.0, platform::metrics::Unit::None, &[]);
    let sink = Sink::CloudWatch { client: cloudwatch_client(&dead_endpoint().await), namespace: "Nowhere".into() };
    let started = Instant::now();
    assert_eq!(metrics.flush(&sink).await, 0);
    assert_eq!(metrics.dropped(), 2);
    assert_eq!(metrics.pending(), 0, "dropped, not kept to grow without bound");
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    // Recording goes on regardless.
    metrics.count("A", 1.0, &[]);
    assert_eq!(metrics.pending(), 1);
}
