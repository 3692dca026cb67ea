use std::process::Command;

use data_service::{import, symbols::Symbols};

use crate::helpers::spawn_app;

const CSV: &str = "timestamp,open,high,low,close,volume\n\
1767225600000,100.1000,100.5000,99.9000,100.2000,10\n\
2026-01-01T00:01:00Z,100.2000,100.3000,100.0000,100.0500,4\n\
1767225720000,100.0500,100.0500,99.0000,99.5000,7\n";

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("halyard-import-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn uuid_like() -> String {
    format!("{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], "")
}

#[tokio::test]
async fn importing_the_same_file_twice_leaves_the_same_bars() {
    let app = spawn_app().await;
    let bars = import::parse_bars_csv(CSV).unwrap();
    for _ in 0..2 {
        let summary =
            import::import_bars(&app.db.pool, &Symbols::default(), "IMP", &bars, &indicatif::ProgressBar::hidden())
                .await
                .unwrap();
        assert_eq!(summary.bars, 3);
    }
    let (_, page) = app.get("/api/v1/market/bars/IMP?start=2026-01-01T00:00:00Z&end=2026-01-01T00:10:00Z").await;
    let closes: Vec<&str> = page["bars"].as_array().unwrap().iter().map(|b| b["close"].as_str().unwrap()).collect();
    assert_eq!(closes, vec!["100.2", "100.05", "99.5"]);
    app.stop().await;
}

#[tokio::test]
async fn the_import_command_reports_a_summary_and_writes_every_bar() {
    let app = spawn_app().await;
    let file = write_temp("good.csv", CSV);
    let out = Command::new(env!("CARGO_BIN_EXE_data-service"))
        .args(["import", "--symbol", "cli", "--file"])
        .arg(&file)
        .env("DATABASE_URL", app.db.url())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("imported 3 bars of CLI"), "{stdout}");
    let count: i64 = sqlx::query_scalar("select count(*) from bar_1m").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(count, 3);
    app.stop().await;
}

#[tokio::test]
async fn the_import_command_names_bad_lines_exits_non_zero_and_writes_nothing() {
    let app = spawn_app().await;
    let bad = format!("{CSV}1767225780000,100,99,101,100,1\n1767225840000,100,101,99,abc,1\n");
    let file = write_temp("bad.csv", &bad);
    let out = Command::new(env!("CARGO_BIN_EXE_data-service"))
        .args(["import", "--symbol", "BAD", "--file"])
        .arg(&file)
        .env("DATABASE_URL", app.db.url())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 5") && stderr.contains("inconsistent"), "{stderr}");
    assert!(stderr.contains("line 6") && stderr.contains("close"), "{stderr}");
    let count: i64 = sqlx::query_scalar("select count(*) from bar_1m").fetch_one(&app.db.pool).await.unwrap();
    assert_eq!(count, 0);
    app.stop().await;
}

#[tokio::test]
async fn the_import_command_explains_a_missing_file_or_database_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_data-service"))
        .args(["import", "--symbol", "X", "--file", "/nonexistent/bars.csv"])
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:9/none")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading /nonexistent/bars.csv"));

    let file = write_temp("ok.csv", CSV);
    let out = Command::new(env!("CARGO_BIN_EXE_data-service"))
        .args(["import", "--symbol", "X", "--file"])
        .arg(&file)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_SECRET_ID")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}
