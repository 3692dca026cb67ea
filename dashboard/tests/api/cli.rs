//! The `dashboard` binary's user commands, as scripts call them.

use dashboard::auth::users;

#[tokio::test]
async fn user_create_prints_only_the_password_and_reset_replaces_it() {
    let db = test_support::TestDb::new().await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dashboard"))
            .args(args)
            .env("DATABASE_URL", db.url())
            .env_remove("DASHBOARD_PASSWORD")
            .output()
            .expect("running the dashboard binary");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let stdout = run(&["user", "create", "--username", "carol", "--role", "trader"]);
    let password = stdout.trim();
    assert_eq!(stdout.lines().count(), 1, "stdout is the password alone: {stdout:?}");
    assert!(users::authenticate(&db.pool, "carol", password).await.unwrap().is_some());
    let new_password = run(&["user", "reset-password", "--username", "carol"]).trim().to_owned();
    assert_ne!(new_password, password);
    assert!(users::authenticate(&db.pool, "carol", password).await.unwrap().is_none());
    assert!(users::authenticate(&db.pool, "carol", &new_password).await.unwrap().is_some());
}
