//! The dashboard's OpenAPI document (`GET /api/openapi.json`) lists exactly the routes its router
//! has, so neither can drift:
//! 1. every `.route(path, method(..).method(..))` in the dashboard's sources (and the platform's
//!    health router it merges) is in the document with the same methods, and nothing else is;
//! 2. the running router serves the same document and routes every documented operation (no
//!    405, and no 404 for a path without parameters).

use std::{
    collections::BTreeSet,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use dashboard::{
    clients::{DataServiceClient, EngineClient},
    configuration::{LoginLimits, Settings},
    startup::AppState,
};
use platform::config::{DatabaseSettings, DatabaseSource};

type Routes = BTreeSet<(String, String)>;

/// The Rust files below `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text from `start` (just after an opening parenthesis) to its matching closing one.
fn balanced(text: &str, start: usize) -> &str {
    let mut depth = 1;
    for (i, c) in text[start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[start..start + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses after byte {start}");
}

/// `(method, path)` of every `.route(..)` call in `source`; `consts` resolves a path given as a
/// constant (`PATH`).
fn routes_in(source: &str, consts: &[(&str, &str)], file: &Path) -> Routes {
    let mut routes = Routes::new();
    for (at, _) in source.match_indices(".route(") {
        let args = balanced(source, at + ".route(".len());
        let (path, methods) = args.split_once(',').unwrap_or_else(|| panic!("{}: .route({args})", file.display()));
        let path = path.trim();
        let path = match path.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
            Some(literal) => literal.to_owned(),
            None => consts
                .iter()
                .find(|(name, _)| *name == path)
                .unwrap_or_else(|| {
                    panic!("{}: route path {path} is neither a literal nor a known constant", file.display())
                })
                .1
                .to_owned(),
        };
        // The method router: `get(handler)`, `get(h).post(h2)`, … Only its top-level calls name
        // methods; what is inside their parentheses is a handler.
        let methods = methods.trim();
        let mut depth = 0;
        let mut word = String::new();
        let mut found = 0;
        for c in methods.chars() {
            match c {
                '(' => {
                    if depth == 0
                        && matches!(word.as_str(), "get" | "post" | "put" | "patch" | "delete" | "head" | "options")
                    {
                        routes.insert((word.clone(), path.clone()));
                        found += 1;
                    }
                    depth += 1;
                    word.clear();
                }
                ')' => depth -= 1,
                c if depth == 0 && (c.is_alphanumeric() || c == '_') => word.push(c),
                _ if depth == 0 => word.clear(),
                _ => {}
            }
        }
        assert!(found > 0, "{}: no method in .route({args})", file.display());
    }
    routes
}

/// Every route the router is built from, read from the sources.
fn routes_in_sources() -> Routes {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let startup = std::fs::read_to_string(crate_dir.join("src/startup.rs")).expect("startup.rs");
    // The router merges the platform's health routes; anything else it merged from outside this
    // crate would be invisible to this scan, so refuse it.
    for (at, _) in startup.match_indices(".merge(") {
        let merged = balanced(&startup, at + ".merge(".len()).trim();
        assert!(
            merged.starts_with("crate::") || merged == "platform::http::health::router()",
            "startup.rs merges {merged}: teach this test where its routes are"
        );
    }
    let mut files = vec![crate_dir.join("../crates/platform/src/http/health.rs")];
    rust_files(&crate_dir.join("src"), &mut files);
    let consts = [("PATH", dashboard::openapi::PATH)];
    let mut routes = Routes::new();
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for construct in [".nest(", ".nest_service(", ".route_service(", ".fallback("] {
            assert!(!source.contains(construct), "{}: {construct} is not understood by this test", file.display());
        }
        routes.extend(routes_in(&source, &consts, &file));
    }
    routes
}

fn routes_in_document(document: &serde_json::Value) -> Routes {
    let mut routes = Routes::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            routes.insert((method.clone(), path.clone()));
        }
    }
    routes
}

#[test]
fn the_document_lists_every_route_of_the_router_and_no_other() {
    let from_sources = routes_in_sources();
    // The scan itself must see the router: a parser that found nothing would agree with nothing.
    assert!(from_sources.len() >= 35, "only {} routes found in the sources", from_sources.len());
    assert!(from_sources.contains(&("post".into(), "/login".into())));
    assert!(from_sources.contains(&("get".into(), "/orders/{id}".into())));
    let document = serde_json::to_value(dashboard::openapi::document()).expect("serializable");
    let documented = routes_in_document(&document);
    let missing: Vec<_> = from_sources.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&from_sources).collect();
    assert!(missing.is_empty(), "routes the document lacks: {missing:?}");
    assert!(extra.is_empty(), "documented routes the router does not have: {extra:?}");
}

#[test]
fn the_document_describes_sign_in_forms_and_path_parameters() {
    let document = serde_json::to_value(dashboard::openapi::document()).expect("serializable");
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert_eq!(document["components"]["securitySchemes"]["session"]["in"], "cookie");
    assert_eq!(document["components"]["securitySchemes"]["session"]["name"], "halyard_session");
    let login = &document["paths"]["/login"]["post"];
    let form = &login["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"];
    for field in ["csrf", "username", "password"] {
        assert_eq!(form[field]["type"], "string", "POST /login field {field}");
    }
    assert!(login.get("security").is_none(), "signing in needs no session");
    let cancel = &document["paths"]["/orders/{id}/cancel"]["post"];
    assert_eq!(cancel["security"][0]["session"], serde_json::json!([]));
    assert_eq!(cancel["parameters"][0]["in"], "path");
    assert_eq!(cancel["parameters"][0]["schema"]["type"], "integer");
    // Every form post of a signed-in user carries the CSRF token.
    for (path, item) in document["paths"].as_object().expect("paths") {
        if let Some(post) = item.get("post") {
            let fields = &post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"];
            assert!(fields.get("csrf").is_some(), "POST {path} has no csrf field");
        }
    }
}

#[tokio::test]
async fn the_running_router_serves_the_document_and_every_documented_operation() {
    // No database is reached: without a session every signed-in route answers 303 before it
    // asks one, and the pool is lazy. `/readyz` would wait for it, so it is only routed.
    let settings = Settings {
        listen_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        database: DatabaseSettings {
            source: DatabaseSource::Url("postgres://nobody@127.0.0.1:9/none".into()),
            max_connections: 1,
        },
        migrate_on_start: false,
        engine_url: "http://127.0.0.1:9".into(),
        engine_token: "unused".into(),
        data_service_url: "http://127.0.0.1:9".into(),
        session_ttl: Duration::from_secs(3600),
        cookie_secure: false,
        login_limits: LoginLimits { per_user: 5, per_client: 20, window: Duration::from_secs(900) },
        pkg_dir: std::env::temp_dir().join("halyard-openapi-test-no-pkg"),
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(200))
        .connect_lazy("postgres://nobody@127.0.0.1:9/none")
        .expect("lazy pool");
    let state = AppState {
        pool,
        engine: EngineClient::new(&settings.engine_url, &settings.engine_token),
        market: DataServiceClient::new(&settings.data_service_url),
        settings: Arc::new(settings),
        stop: Default::default(),
        overview: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let app = dashboard::startup::router(state).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let base = format!("http://{addr}");

    let served: serde_json::Value = client
        .get(format!("{base}{}", dashboard::openapi::PATH))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    assert_eq!(served, serde_json::to_value(dashboard::openapi::document()).expect("serializable"));

    // The router's own answer to a route it does not have, for comparison.
    let unknown = client.get(format!("{base}/no-such-route")).send().await.expect("unknown route");
    assert_eq!(unknown.status(), 404);
    for (method, path) in routes_in_document(&served) {
        if path == "/readyz" || path.ends_with("/live") {
            continue; // waits for the database, or streams until the server stops
        }
        let url = format!("{base}{}", path.replace("{id}", "1").replace("{name}", "x").replace("{file}", "x"));
        let request = match method.as_str() {
            "get" => client.get(&url),
            "post" => client.post(&url).header("content-type", "application/x-www-form-urlencoded").body("csrf=x"),
            other => panic!("unexpected method {other}"),
        };
        let status = request.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}")).status();
        assert_ne!(status, 405, "{method} {path} is documented but the router has another method there");
        if !path.contains('{') {
            assert_ne!(status, 404, "{method} {path} is documented but the router does not have it");
        }
        assert!(status.as_u16() < 500, "{method} {path} answered {status} without a session");
    }
}
