use platform::config::{DatabaseSettings, DatabaseSource};
use test_support::TestDb;

use crate::helpers::{spawn_app, spawn_with, test_settings};

#[tokio::test]
async fn healthz_answers_while_the_process_is_alive() {
    let app = spawn_app().await;
    let (status, body) = app.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_ready_when_the_schema_is_current() {
    let app = spawn_app().await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_503_with_a_reason_when_a_migration_is_missing() {
    let app = spawn_app().await;
    sqlx::query("delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body["reason"].as_str().unwrap().contains("schema is behind"), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn readyz_is_503_while_the_database_is_unreachable_but_healthz_stays_up() {
    let db = TestDb::new().await;
    let mut settings = test_settings(&db);
    // A port nothing listens on.
    settings.database = DatabaseSettings {
        source: DatabaseSource::Url("postgres://postgres@127.0.0.1:9/none".into()),
        max_connections: 1,
    };
    let app = spawn_with(db, settings).await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503);
    assert!(body["reason"].as_str().unwrap().contains("database"), "{body}");
    assert_eq!(app.get("/healthz").await.0, 200);
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_echoes_the_callers() {
    let app = spawn_app().await;
    let res = app.client.get(format!("{}/healthz", app.address)).send().await.unwrap();
    assert!(res.headers().get("x-request-id").is_some());
    let res =
        app.client.get(format!("{}/healthz", app.address)).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    app.stop().await;
}

#[tokio::test]
async fn openapi_document_lists_every_market_route() {
    let app = spawn_app().await;
    let (status, doc) = app.get("/api/v1/market/openapi.json").await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/market/symbols",
        "/api/v1/market/quote/{symbol}",
        "/api/v1/market/prices/{symbol}",
        "/api/v1/market/average/{symbol}",
        "/api/v1/market/bars/{symbol}",
        "/api/v1/market/ticks",
        "/api/v1/market/stream",
    ] {
        assert!(paths.contains_key(p), "missing {p}");
    }
    app.stop().await;
}

#[tokio::test]
async fn migrations_started_concurrently_apply_once() {
    let db = TestDb::empty().await;
    let runs = (0..3).map(|_| {
        let pool = db.pool.clone();
        tokio::spawn(async move { platform::db::migrate(&pool).await })
    });
    for r in futures_util::future::join_all(runs).await {
        r.unwrap().unwrap();
    }
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations").fetch_one(&db.pool).await.unwrap();
    assert_eq!(applied as usize, platform::db::MIGRATOR.iter().count());
    assert_eq!(platform::db::schema_status(&db.pool).await.unwrap(), platform::db::SchemaStatus::Current);
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/v1/market/nothing-here").await;
    assert_eq!(status, 404);
    assert!(crate::helpers::error_message(&body, "not_found").contains("/api/v1/market/nothing-here"));
    app.stop().await;
}
