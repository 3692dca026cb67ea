//! The binary as ECS runs it: configuration errors name the variable, SIGTERM stops it cleanly.

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use test_support::TestDb;

#[test]
fn a_bad_configuration_variable_is_named_at_start_up() {
    let out = Command::new(env!("CARGO_BIN_EXE_data-service"))
        .env("DATABASE_URL", "postgres://localhost/x")
        .env("FEEDS", "synthetic,carrier-pigeon")
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("FEEDS") && stderr.contains("carrier-pigeon"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_data-service"))
        .env("DATABASE_URL", "mysql://x")
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

#[tokio::test]
async fn sigterm_stops_the_service_flushing_the_feed_within_the_ecs_timeout() {
    let db = TestDb::new().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut child = Command::new(env!("CARGO_BIN_EXE_data-service"))
        .env("DATABASE_URL", db.url())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("FEEDS", "synthetic")
        .env("SYNTHETIC_SYMBOLS", "SIG")
        .env("SYNTHETIC_TICKS_PER_SECOND", "50")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/api/v1/market/quote/SIG");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(r) = client.get(&url).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "no synthetic ticks within 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let signalled = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(signalled.elapsed() < Duration::from_secs(30), "still running 30 s after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
    // Nothing is left listening.
    assert!(client.get(&url).send().await.is_err());
}
