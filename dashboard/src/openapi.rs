//! `GET /api/openapi.json`: the dashboard's routes as an OpenAPI 3.1 document.
//!
//! The dashboard has no JSON API: its routes are server-rendered pages, HTML forms posted as
//! `application/x-www-form-urlencoded`, server-sent event streams and static assets. The
//! document describes exactly those, so that clients and the fuzzer (`scripts/fuzz.sh`) know
//! every route, its form fields and how it authenticates:
//! - `GET /login` sets the `halyard_login_csrf` cookie and renders the form with the same token;
//!   `POST /login` (`csrf`, `username`, `password`) sets the `halyard_session` cookie;
//! - every other page needs that session cookie (without it: 303 to `/login`), and every form
//!   post also carries the session's CSRF token as the field `csrf` (wrong or missing: 403).
//!
//! It is written by hand from [`OPERATIONS`], one entry per route and method, because the
//! handlers take typed forms rather than utoipa schemas; `dashboard/tests/openapi.rs` fails when
//! the router and this table disagree, so neither can drift.

use axum::{routing::get, Json, Router};
use utoipa::openapi::{
    content::ContentBuilder,
    path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem},
    request_body::RequestBodyBuilder,
    response::{ResponseBuilder, ResponsesBuilder},
    schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type},
    security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme},
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Required,
};

use crate::startup::AppState;

/// Where the document is served.
pub const PATH: &str = "/api/openapi.json";

/// The security scheme's name in the document: the `halyard_session` cookie.
const SESSION_SCHEME: &str = "session";

/// How an operation authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, sign-in, assets, this document).
    Public,
    /// The session cookie; without it the answer is 303 to `/login`.
    Session,
}

/// What an operation answers with on success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// An HTML page.
    Page,
    /// A 303 redirect (a form that did something), or the form again with its error.
    Redirect,
    /// A stream of server-sent events (`text/event-stream`).
    Events,
    /// A CSV file.
    Csv,
    /// JSON (health, this document).
    Json,
    /// A static file (CSS, JavaScript, the wasm client).
    Asset,
    /// A WebSocket upgrade or, without one, an HTML page.
    Socket,
}

/// One route and method of the dashboard.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// `get` or `post`.
    pub method: &'static str,
    /// The route as axum writes it (`{id}` for a path parameter, as OpenAPI does).
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// How it authenticates.
    pub access: Access,
    /// Its success answer.
    pub answer: Answer,
    /// Query parameters (all optional text: the page explains a wrong one).
    pub query: &'static [&'static str],
    /// Form fields of a post (all optional text; `csrf` is the session's CSRF token).
    pub form: &'static [&'static str],
}

const LIST_FILTERS: &[&str] = &["status", "symbol", "strategy", "account", "before", "from", "until"];
const TICKET: &[&str] = &[
    "csrf",
    "account",
    "symbol",
    "side",
    "qty",
    "limit_price",
    "stop_price",
    "take_profit",
    "stop_loss",
    "client_order_id",
];
const CSRF_ONLY: &[&str] = &["csrf"];

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    access: Access,
    answer: Answer,
) -> Operation {
    Operation { method, path, summary, access, answer, query: &[], form: &[] }
}

const fn with_query(mut o: Operation, query: &'static [&'static str]) -> Operation {
    o.query = query;
    o
}

const fn with_form(mut o: Operation, form: &'static [&'static str]) -> Operation {
    o.form = form;
    o
}

use Access::{Public, Session};
use Answer::{Asset, Csv, Events, Json as JsonAnswer, Page, Redirect, Socket};

/// Every route and method the dashboard's router serves.
pub const OPERATIONS: &[Operation] = &[
    op("get", "/healthz", "Liveness: the process answers", Public, JsonAnswer),
    op("get", "/readyz", "Readiness: the database answers", Public, JsonAnswer),
    op("get", PATH, "This document", Public, JsonAnswer),
    op("get", "/login", "The sign-in form; sets the halyard_login_csrf cookie", Public, Page),
    with_form(
        op("post", "/login", "Sign in: sets the halyard_session cookie and redirects to /", Public, Redirect),
        &["csrf", "username", "password"],
    ),
    with_form(op("post", "/logout", "Sign out", Session, Redirect), CSRF_ONLY),
    op("get", "/", "Overview: accounts, positions, P&L, services' health", Session, Page),
    op("get", "/overview/live", "The overview's live part", Session, Events),
    with_query(op("get", "/markets", "Prices and a candlestick chart", Session, Page), &["symbol", "interval"]),
    with_query(op("get", "/markets/live", "Live trades of one symbol", Session, Socket), &["symbol", "interval"]),
    with_query(op("get", "/orders", "Orders, filtered, newest first", Session, Page), LIST_FILTERS),
    with_form(op("post", "/orders", "Place the confirmed order (traders)", Session, Redirect), TICKET),
    with_query(op("get", "/orders/export.csv", "The filtered orders as CSV", Session, Csv), LIST_FILTERS),
    op("get", "/orders/new", "The order ticket", Session, Page),
    with_form(op("post", "/orders/confirm", "Confirm an order before it is placed", Session, Page), TICKET),
    op("get", "/orders/{id}", "One order with its fills", Session, Page),
    with_form(op("post", "/orders/{id}/cancel", "Cancel an open order (traders)", Session, Redirect), CSRF_ONLY),
    with_form(
        op(
            "post",
            "/orders/{id}/amend",
            "Amend a working unfilled order (traders): to its amendment",
            Session,
            Redirect,
        ),
        &["csrf", "qty", "limit_price"],
    ),
    with_query(op("get", "/fills", "Fills, filtered, newest first", Session, Page), LIST_FILTERS),
    with_query(op("get", "/fills/export.csv", "The filtered fills as CSV", Session, Csv), LIST_FILTERS),
    op("get", "/strategies", "Strategies with their state", Session, Page),
    with_form(
        op(
            "post",
            "/strategies/{name}",
            "Change a strategy's parameters, symbols, bar period (traders)",
            Session,
            Redirect,
        ),
        &["csrf", "params", "symbols", "bar_seconds"],
    ),
    op("get", "/strategies/{name}/edit", "A strategy's configuration form", Session, Page),
    with_form(op("post", "/strategies/{name}/enable", "Enable a strategy (traders)", Session, Redirect), CSRF_ONLY),
    with_form(op("post", "/strategies/{name}/disable", "Disable a strategy (traders)", Session, Redirect), CSRF_ONLY),
    with_query(op("get", "/risk", "An account's risk limits and their history", Session, Page), &["account"]),
    with_form(
        op("post", "/risk", "Replace an account's risk limits (traders)", Session, Redirect),
        &[
            "csrf",
            "account",
            "max_order_qty",
            "max_order_notional",
            "max_position",
            "max_gross_exposure",
            "price_collar_bps",
            "max_daily_loss",
            "max_orders_per_minute",
        ],
    ),
    op("get", "/backtests", "Backtest runs and the form to start one", Session, Page),
    with_form(
        op("post", "/backtests", "Start a backtest (traders)", Session, Redirect),
        &[
            "csrf",
            "nonce",
            "strategy",
            "params",
            "symbol",
            "interval",
            "from",
            "to",
            "quantity",
            "fill",
            "source",
            "fee_bps",
            "fee_per_order",
            "slippage_bps",
            "initial_capital",
        ],
    ),
    op("get", "/backtests/{id}", "One backtest's report", Session, Page),
    op("get", "/backtests/{id}/live", "A running backtest's progress", Session, Events),
    op("get", "/halt/confirm", "Confirm the emergency halt", Session, Page),
    op("get", "/resume/confirm", "Confirm resuming trading", Session, Page),
    with_form(
        op("post", "/halt", "Halt all trading (traders)", Session, Redirect),
        &["csrf", "reason", "flatten", "reduce_only"],
    ),
    with_form(op("post", "/resume", "Resume trading (traders)", Session, Redirect), CSRF_ONLY),
    op("get", "/halts/live", "The current halts", Session, Events),
    op("get", "/assets/app.css", "The style sheet", Public, Asset),
    op("get", "/assets/live.js", "The live-update script", Public, Asset),
    op("get", "/assets/hydrate.js", "The wasm client's loader", Public, Asset),
    op("get", "/pkg/{file}", "The wasm client's files (404 when not built)", Public, Asset),
];

fn text() -> Schema {
    Schema::Object(ObjectBuilder::new().schema_type(Type::String).build())
}

fn path_parameter(path: &str, name: &str) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(parameter_schema(path, name)))
}

/// The schema of a path parameter: orders are numbered (`i64`), everything else is text.
fn parameter_schema(path: &str, name: &str) -> Schema {
    if path.starts_with("/orders/") && name == "id" {
        Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .build(),
        )
    } else {
        text()
    }
}

fn responses(o: &Operation) -> utoipa::openapi::Responses {
    let content = || ContentBuilder::new().schema(Some(text())).build();
    let (ok_status, ok) = match o.answer {
        Page => ("200", ResponseBuilder::new().description("the page").content("text/html", content())),
        Redirect => (
            "303",
            ResponseBuilder::new().description(if o.access == Session {
                "done: redirect to the page that shows it (not signed in: redirect to /login)"
            } else {
                "done: redirect to the page that shows it"
            }),
        ),
        Events => {
            ("200", ResponseBuilder::new().description("server-sent events").content("text/event-stream", content()))
        }
        Csv => ("200", ResponseBuilder::new().description("CSV").content("text/csv", content())),
        JsonAnswer => ("200", ResponseBuilder::new().description("JSON").content("application/json", content())),
        Asset => ("200", ResponseBuilder::new().description("the file")),
        Socket => ("101", ResponseBuilder::new().description("WebSocket of trades (200 page without an upgrade)")),
    };
    let mut builder = ResponsesBuilder::new().response(ok_status, ok.build());
    if o.answer == Redirect {
        builder =
            builder.response("200", ResponseBuilder::new().description("the form again, with what was wrong").build());
    }
    if !o.form.is_empty() {
        builder = builder
            .response("400", ResponseBuilder::new().description("a field is not valid (the page says which)").build());
    }
    if !o.form.is_empty() {
        builder = builder
            .response("403", ResponseBuilder::new().description("CSRF token wrong, or the role may not").build());
    }
    if o.access == Session && o.answer != Redirect {
        builder =
            builder.response("303", ResponseBuilder::new().description("not signed in: redirect to /login").build());
    }
    if o.access == Session {
        builder = builder
            .response("502", ResponseBuilder::new().description("the engine or data-service did not answer").build());
    }
    if o.access == Session && o.method == "post" {
        builder = builder
            .response(
                "409",
                ResponseBuilder::new().description("the engine refused: conflicts with the item's state").build(),
            )
            .response(
                "422",
                ResponseBuilder::new().description("the engine refused a value (its reason shown)").build(),
            );
    }
    if o.path.contains('{') || o.query.contains(&"account") {
        builder = builder.response("404", ResponseBuilder::new().description("no such item").build());
    }
    if o.path == "/login" && o.method == "post" {
        builder = builder
            .response("401", ResponseBuilder::new().description("wrong username or password").build())
            .response("429", ResponseBuilder::new().description("too many failed sign-ins (Retry-After)").build());
    }
    builder.build()
}

fn operation(o: &Operation) -> utoipa::openapi::path::Operation {
    let id = format!(
        "{}_{}",
        o.method,
        o.path.trim_matches('/').replace(['/', '.', '{', '}'], "_").trim_matches('_').to_owned()
    );
    let mut builder = OperationBuilder::new()
        .summary(Some(o.summary))
        .operation_id(Some(if o.path == "/" { format!("{}_overview", o.method) } else { id }))
        .tag(o.path.trim_start_matches('/').split('/').next().filter(|s| !s.is_empty()).unwrap_or("overview"))
        .responses(responses(o));
    for name in o.path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
        builder = builder.parameter(path_parameter(o.path, name));
    }
    for name in o.query {
        builder = builder.parameter(
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .schema(Some(text())),
        );
    }
    if !o.form.is_empty() {
        let mut object = ObjectBuilder::new().schema_type(Type::Object);
        for field in o.form {
            object = object.property(*field, text());
        }
        builder = builder.request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/x-www-form-urlencoded",
                    ContentBuilder::new().schema(Some(Schema::Object(object.build()))).build(),
                )
                .build(),
        ));
    }
    if o.access == Session {
        builder = builder.security(SecurityRequirement::new::<_, _, &str>(SESSION_SCHEME, []));
    }
    builder.build()
}

/// The document.
pub fn document() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for o in OPERATIONS {
        let method = match o.method {
            "get" => HttpMethod::Get,
            "post" => HttpMethod::Post,
            other => unreachable!("OPERATIONS holds only get and post, not {other}"),
        };
        paths = paths.path(o.path, PathItem::new(method, operation(o)));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Halyard dashboard")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Server-rendered pages and HTML form posts (application/x-www-form-urlencoded). \
                     Sign in: GET /login (sets the halyard_login_csrf cookie, the form carries the same \
                     token), then POST /login with csrf, username, password (sets halyard_session). \
                     Every form post also carries the session's CSRF token (a hidden field csrf in each page).",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(
                    SESSION_SCHEME,
                    SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("halyard_session"))),
                )
                .build(),
        ))
        .build()
}

/// The route serving the document.
pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(|| async { Json(document()) }))
}
