//! Test harness shared by every crate's integration tests (a dev-dependency only).
//!
//! [`TestDb::new`] gives each test its own freshly migrated database on a real PostgreSQL:
//! - the server is `HALYARD_TEST_DATABASE_URL` when set (CI or a developer's own server),
//!   otherwise a throwaway cluster under `.local/pg-test` that the harness starts itself through
//!   `scripts/pg-local.sh` (shared by all test processes; `make test` stops it at the end);
//! - a template database is migrated once per migration set, and each test's database is a
//!   copy of it, which takes milliseconds instead of re-running migrations;
//! - the test's database is dropped when the [`TestDb`] is dropped.
//!
//! [`moto`] gives the endpoint of a local AWS emulator (moto's server): `HALYARD_TEST_MOTO_URL`
//! when set (`make test` starts one), otherwise one the harness starts through
//! `scripts/moto-server.sh`, serialised with a file lock so concurrent test processes share it.
//! Tests point their SDK configuration at it explicitly (`platform::aws::AwsSettings::emulator`)
//! and use names of their own (a uuid) so they never see each other's buckets or secrets.

pub mod proxy;
pub use proxy::TcpProxy;

use std::{
    path::{Path, PathBuf},
    process::Command,
    str::FromStr,
};

use anyhow::{bail, Context};
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    ConnectOptions, Connection, PgConnection, PgPool,
};
use tokio::sync::OnceCell;

/// Port of the harness's own cluster; away from the default so it never meets a system server.
const TEST_PG_PORT: u16 = 54329;

static SERVER: OnceCell<(PgConnectOptions, String)> = OnceCell::const_new();

static MOTO: OnceCell<String> = OnceCell::const_new();

/// The endpoint (`http://127.0.0.1:PORT`) of the AWS emulator, starting it if needed (once per
/// process; the lock makes parallel test processes share one server).
pub async fn moto() -> String {
    MOTO.get_or_try_init(|| async {
        match std::env::var("HALYARD_TEST_MOTO_URL") {
            Ok(url) if !url.is_empty() => Ok(url.trim_end_matches('/').to_owned()),
            _ => tokio::task::spawn_blocking(start_local_moto).await?,
        }
    })
    .await
    .cloned()
    .expect("starting the AWS emulator (moto)")
}

fn start_local_moto() -> anyhow::Result<String> {
    let root = repo_root();
    std::fs::create_dir_all(root.join(".local"))?;
    // -o: the server the script starts must not inherit (and hold) the lock.
    let out = Command::new("flock")
        .arg("-o")
        .arg(root.join(".local/moto-test.lock"))
        .arg("bash")
        .arg(root.join("scripts/moto-server.sh"))
        .arg("start")
        .output()
        .context("running scripts/moto-server.sh under flock")?;
    if !out.status.success() {
        bail!("starting moto failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let url = String::from_utf8(out.stdout)?.lines().last().unwrap_or_default().trim().to_owned();
    if !url.starts_with("http://") {
        bail!("scripts/moto-server.sh start printed no URL");
    }
    Ok(url)
}

/// Members of this role must log in with a password on the test server (see
/// [`require_passwords_for`]); every other role keeps the harness's trust authentication.
pub const PASSWORD_ROLE_GROUP: &str = "halyard_password_auth";

/// Makes the test server demand a password from members of [`PASSWORD_ROLE_GROUP`], by adding
/// two lines to the front of its `pg_hba.conf` (once) and reloading it. The test server trusts
/// every connection otherwise, which would make a password rotation test meaningless. Needs the
/// server's configuration file to be writable by the test process (the harness's own cluster,
/// or a developer's server run by the same user); fails loudly otherwise.
pub async fn require_passwords_for_group(server: &PgConnectOptions) -> anyhow::Result<()> {
    let mut admin = PgConnection::connect_with(server).await?;
    sqlx::query("select pg_advisory_lock(7405148)").execute(&mut admin).await?;
    let result = async {
        let exists: bool = sqlx::query_scalar("select exists(select 1 from pg_roles where rolname = $1)")
            .bind(PASSWORD_ROLE_GROUP)
            .fetch_one(&mut admin)
            .await?;
        if !exists {
            sqlx::query(&format!("create role {PASSWORD_ROLE_GROUP} nologin")).execute(&mut admin).await?;
        }
        let hba: String = sqlx::query_scalar("show hba_file").fetch_one(&mut admin).await?;
        let text = std::fs::read_to_string(&hba).with_context(|| format!("reading {hba}"))?;
        let marker = format!("+{PASSWORD_ROLE_GROUP}");
        if !text.contains(&marker) {
            let lines = format!(
                "# added by the test harness: members of {PASSWORD_ROLE_GROUP} need a password\n\
                 host all {marker} 127.0.0.1/32 scram-sha-256\nlocal all {marker} scram-sha-256\n"
            );
            std::fs::write(&hba, lines + &text).with_context(|| format!("writing {hba}"))?;
            sqlx::query("select pg_reload_conf()").execute(&mut admin).await?;
            // The postmaster re-reads the file asynchronously.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        anyhow::Ok(())
    }
    .await;
    sqlx::query("select pg_advisory_unlock(7405148)").execute(&mut admin).await?;
    result
}

/// Creates a login role with `password` on `db` that must authenticate with it (a member of
/// [`PASSWORD_ROLE_GROUP`]) and may read and write every table; returns its name.
///
/// # Panics
/// If the server refuses (a test set-up failure).
pub async fn password_role(db: &TestDb, password: &str) -> String {
    require_passwords_for_group(&db.server_options()).await.expect("password authentication for the group");
    let role = format!("svc_{:x}", rand_suffix());
    for sql in [
        format!("create role {role} login password '{password}' in role {PASSWORD_ROLE_GROUP}"),
        format!("grant select, insert, update, delete on all tables in schema public to {role}"),
        format!("grant usage on all sequences in schema public to {role}"),
    ] {
        sqlx::query(&sql).execute(&db.pool).await.expect("role set-up");
    }
    role
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// The RDS-format secret JSON (`username, password, host, port, dbname`) for `role` on `db`.
pub fn rds_secret(db: &TestDb, role: &str, password: &str) -> String {
    let options = db.server_options();
    let url: PgConnectOptions = db.url().parse().expect("test database url");
    serde_json::json!({"username": role, "password": password, "host": options.get_host(), "port": options.get_port(),
                       "dbname": url.get_database().unwrap_or_default()})
    .to_string()
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// Connection options of the test server (its `postgres` database) and the template's name.
async fn server() -> anyhow::Result<(PgConnectOptions, String)> {
    SERVER
        .get_or_try_init(|| async {
            let url = match std::env::var("HALYARD_TEST_DATABASE_URL") {
                Ok(url) if !url.is_empty() => url,
                _ => start_local_cluster()?,
            };
            let opts =
                PgConnectOptions::from_str(&url).context("HALYARD_TEST_DATABASE_URL")?.disable_statement_logging();
            let template = ensure_template(&opts).await?;
            Ok((opts, template))
        })
        .await
        .cloned()
}

fn start_local_cluster() -> anyhow::Result<String> {
    let root = repo_root();
    let out = Command::new("bash")
        .arg(root.join("scripts/pg-local.sh"))
        .args(["start", &root.join(".local/pg-test").to_string_lossy(), &TEST_PG_PORT.to_string(), "fast"])
        .output()
        .context("running scripts/pg-local.sh")?;
    if !out.status.success() {
        bail!("starting the test PostgreSQL failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// Creates (once per migration set) a migrated template database and returns its name.
async fn ensure_template(server: &PgConnectOptions) -> anyhow::Result<String> {
    let fingerprint: u64 = platform::db::MIGRATOR.iter().fold(0xcbf2_9ce4_8422_2325, |h, m| {
        m.checksum.iter().fold(h ^ m.version as u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
    });
    let name = format!("halyard_template_{fingerprint:016x}");
    let mut admin = PgConnection::connect_with(server).await.context("connecting to the test PostgreSQL")?;
    // Several test binaries start at once: one creates the template, the others wait for it.
    sqlx::query("select pg_advisory_lock(7405147)").execute(&mut admin).await?;
    let result = async {
        let exists: bool = sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
        if !exists {
            sqlx::query(&format!("create database {name}")).execute(&mut admin).await?;
            let mut conn = PgConnection::connect_with(&server.clone().database(&name)).await?;
            platform::db::MIGRATOR.run_direct(&mut conn).await?;
            conn.close().await?;
        }
        anyhow::Ok(())
    }
    .await;
    sqlx::query("select pg_advisory_unlock(7405147)").execute(&mut admin).await?;
    result?;
    Ok(name)
}

/// A database of its own for one test, migrated, dropped on drop.
pub struct TestDb {
    /// A pool on the test's database.
    pub pool: PgPool,
    /// Connection options of the test's database, for code that builds its own pool.
    pub options: PgConnectOptions,
    name: String,
    server: PgConnectOptions,
}

impl TestDb {
    /// Creates a fresh, migrated database.
    pub async fn new() -> Self {
        Self::try_new().await.expect("creating a test database")
    }

    /// Creates a fresh database with no schema at all, for tests of the migrations themselves.
    pub async fn empty() -> Self {
        Self::try_create(false).await.expect("creating an empty test database")
    }

    async fn try_new() -> anyhow::Result<Self> {
        Self::try_create(true).await
    }

    async fn try_create(migrated: bool) -> anyhow::Result<Self> {
        let (server, template) = server().await?;
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect_with(&server).await?;
        let template = if migrated { template } else { "template0".to_owned() };
        sqlx::query(&format!("create database {name} template {template}")).execute(&mut admin).await?;
        admin.close().await?;
        let options = server.clone().database(&name);
        let pool = PgPoolOptions::new().max_connections(10).connect_with(options.clone()).await?;
        Ok(Self { pool, options, name, server })
    }

    /// Connection options of the server's `postgres` database as the superuser.
    pub fn server_options(&self) -> PgConnectOptions {
        self.server.clone()
    }

    /// The server's address, for a [`TcpProxy`] in front of it.
    pub fn server_addr(&self) -> std::net::SocketAddr {
        let host = match self.server.get_host() {
            "localhost" => "127.0.0.1",
            other => other,
        };
        format!("{host}:{}", self.server.get_port()).parse().expect("the test PostgreSQL listens on an IP address")
    }

    /// The test database's URL through a proxy listening on `port` (see [`TcpProxy`]).
    pub fn url_via(&self, port: u16) -> String {
        format!("postgres://{}@127.0.0.1:{port}/{}", self.server.get_username(), self.name)
    }

    /// A `postgres://` URL of the test's database, for child processes.
    pub fn url(&self) -> String {
        format!(
            "postgres://{}@{}:{}/{}",
            self.server.get_username(),
            self.server.get_host(),
            self.server.get_port(),
            self.name
        )
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Dropping needs async I/O; run it on a thread of its own so it works whether or not the
        // test's runtime is still alive. `with (force)` closes the test's own pool connections.
        let server = self.server.clone();
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            rt.block_on(async {
                let mut admin = PgConnection::connect_with(&server).await.ok()?;
                sqlx::query(&format!("drop database if exists {name} with (force)")).execute(&mut admin).await.ok()
            })
        })
        .join();
    }
}

/// Asserts the platform's error body `{"error": {"code", "message"}}` has `code` and returns its
/// message.
pub fn error_message(body: &serde_json::Value, code: &str) -> String {
    assert_eq!(body["error"]["code"], code, "unexpected error body {body}");
    body["error"]["message"].as_str().expect("message").to_owned()
}

/// Polls `check` every 50 ms until it is true; panics naming `what` after 15 s.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Polls `check` every 100 ms until it returns a value and returns it; panics naming `what`
/// after `timeout` (for slower work than [`eventually`] waits for, such as a backtest job).
pub async fn eventually_value<T, F, Fut>(what: &str, timeout: std::time::Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// The bytes of the example strategy module built from `modules/<dir>` (crate `crate_name`,
/// e.g. `sma-cross-module`), building the modules with `scripts/build-modules.sh` first if
/// they are not there (`make test` builds them before the tests run).
///
/// # Panics
/// If the build fails or the module is still missing after it.
#[must_use]
pub fn strategy_module(crate_name: &str) -> Vec<u8> {
    let root = repo_root();
    let dir = std::env::var_os("HALYARD_MODULES_DIR").map_or_else(|| root.join("target/wasm-modules"), PathBuf::from);
    let file = dir.join(format!("{crate_name}.wasm"));
    if !file.exists() {
        let status = std::process::Command::new("bash")
            .arg(root.join("scripts/build-modules.sh"))
            .status()
            .expect("running scripts/build-modules.sh");
        assert!(status.success(), "scripts/build-modules.sh failed ({status})");
    }
    std::fs::read(&file).unwrap_or_else(|error| panic!("reading {}: {error}", file.display()))
}
