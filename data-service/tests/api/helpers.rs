use std::time::Duration;

use data_service::{configuration::Settings, startup::Application};
use platform::config::{DatabaseSettings, DatabaseSource};
use serde_json::Value;
use test_support::TestDb;
use tokio::sync::oneshot;

/// A running data-service on its own database.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// The database, shared with any peer task started with [`spawn_peer`].
    pub db: std::sync::Arc<TestDb>,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Settings for a test instance: loopback, any free port, no feeds.
pub fn test_settings(db: &TestDb) -> Settings {
    Settings::minimal(
        "127.0.0.1:0".parse().unwrap(),
        DatabaseSettings { source: DatabaseSource::Url(db.url()), max_connections: 5 },
    )
}

pub async fn spawn_app() -> TestApp {
    let db = TestDb::new().await;
    let settings = test_settings(&db);
    spawn_with(db, settings).await
}

pub async fn spawn_with(db: TestDb, settings: Settings) -> TestApp {
    spawn_on(std::sync::Arc::new(db), settings).await
}

/// A second data-service task of the same deployment: the same database, its own port.
pub async fn spawn_peer(of: &TestApp, settings: Settings) -> TestApp {
    spawn_on(of.db.clone(), settings).await
}

async fn spawn_on(db: std::sync::Arc<TestDb>, settings: Settings) -> TestApp {
    let app = Application::build(settings, std::sync::Arc::new(platform::db::NoSecretSource)).await.expect("build app");
    let port = app.port();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        db,
        client: reqwest::Client::new(),
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let res = self.client.get(format!("{}{path}", self.address)).send().await.expect("request");
        let status = res.status().as_u16();
        let body = res.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn post_ticks(&self, body: impl Into<reqwest::Body>, content_type: &str) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}/api/v1/market/ticks", self.address))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Stops the service gracefully and waits for it (feeds stopped, queue flushed).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(25), server).await.expect("stops in time").unwrap().unwrap();
        }
    }
}

pub use test_support::{error_message, eventually};
