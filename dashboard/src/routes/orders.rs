//! Orders and fills:
//! - `GET /orders?status=&symbol=&strategy=&account=&from=&until=&before=N`: the orders matching
//!   the filters (empty = any; the days they were created from and until, both included, sent
//!   like the fills' range; passed to the engine's `GET /api/v1/orders`), newest first, 50 a page; the
//!   paging links keep the filters. Filters that cannot be right are explained on the page
//!   (400) and never reach the engine.
//! - `GET /orders/export.csv` (same filters): those orders (newest first, at most
//!   [`EXPORT_MAX`]) as CSV.
//! - `GET /fills?symbol=&strategy=&account=&from=&until=&before=N`: fills from the engine's
//!   `GET /api/v1/fills` (`from` and `until` days, both included, sent as RFC 3339 instants),
//!   newest first, 50 a page, paged like the orders by the last fill id shown;
//!   `GET /fills/export.csv` (same filters): every page of them (at most [`FILLS_EXPORT_MAX`]) as
//!   CSV.
//! - `GET /orders/{id}`: one order with its event log.
//! - `POST /orders/{id}/amend` (`csrf`, `qty`, `limit_price`; traders and admins): asks the
//!   engine to amend it, then shows the amendment.
//! - `POST /orders/{id}/cancel` (`csrf`; traders and admins): asks the engine to cancel it, then
//!   shows it again.

use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Router,
};
use leptos::prelude::*;
use serde::Deserialize;

use crate::{
    auth::session::CurrentUser,
    clients::{ListFilter, Order},
    error::PageError,
    pages::{
        order_detail::OrderDetailPage,
        orders::{FillsPage, OrdersPage, ORDER_STATUSES},
        Section,
    },
    startup::AppState,
};

/// Orders per page.
pub const PAGE_SIZE: i64 = 50;

/// Most orders in one CSV export; the engine is read 500 at a time.
pub const EXPORT_MAX: usize = 10_000;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders", get(orders))
        .route("/orders/export.csv", get(export))
        .route("/orders/{id}", get(order))
        .route("/orders/{id}/cancel", post(cancel))
        .route("/orders/{id}/amend", post(amend))
        .route("/fills", get(fills))
        .route("/fills/export.csv", get(export_fills))
}

/// Filters and paging as typed: every field text, so a wrong one is explained on the page
/// rather than refused by the extractor.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    symbol: String,
    #[serde(default)]
    strategy: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    before: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    until: String,
}

/// A filter that cannot be right: what was typed (kept in the form) and why, naming the field.
/// Boxed, since a filter is large beside the filter it refuses.
pub type Refusal = Box<(ListFilter, String)>;

/// The filters of `q` as the engine takes them, and what was typed (kept in the form) when one
/// cannot be right, with the reason naming the field.
pub fn parse_filter(q: &ListQuery) -> Result<ListFilter, Refusal> {
    let typed = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let filter = ListFilter {
        status: typed(&q.status),
        symbol: typed(&q.symbol).map(|s| s.to_ascii_uppercase()),
        strategy: typed(&q.strategy),
        account: typed(&q.account),
        from: None,
        until: None,
    };
    let problem = if filter.status.as_deref().is_some_and(|s| !ORDER_STATUSES.contains(&s)) {
        Some(format!("Status must be one of {}.", ORDER_STATUSES.join(", ")))
    } else if filter.symbol.as_deref().is_some_and(|s| super::markets::parse_symbol(s).is_err()) {
        Some("Symbol must be up to 32 letters, digits, '.', '-' or '_'.".to_owned())
    } else if filter.strategy.as_deref().is_some_and(|s| !super::strategies::valid_name(s)) {
        Some("Strategy must be a strategy's name: lower-case letters, digits, '_' or '-', up to 64.".to_owned())
    } else if filter.account.as_deref().is_some_and(|a| !super::risk::valid_account(a)) {
        Some("Account must be 1 to 64 letters, digits, '_', '-' or '.'.".to_owned())
    } else {
        None
    };
    match problem {
        Some(p) => Err(Box::new((filter, p))),
        None => Ok(filter),
    }
}

/// The filters of `q` with the date range (`from` and `until`, days `YYYY-MM-DD` UTC, both
/// included; orders by creation, fills by execution), checked like the others: each a date,
/// `from` not after `until`, since the engine refuses an empty range.
pub fn parse_dated_filter(q: &ListQuery) -> Result<ListFilter, Refusal> {
    let typed = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let (mut filter, mut problem) = match parse_filter(q) {
        Ok(f) => (f, None),
        Err(refused) => (refused.0, Some(refused.1)),
    };
    filter.from = typed(&q.from);
    filter.until = typed(&q.until);
    let day = |field: &str, text: &Option<String>| match text {
        None => Ok(None),
        Some(t) => chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("{field} must be a date, YYYY-MM-DD (got {t:?}).")),
    };
    if problem.is_none() {
        problem = match (day("From", &filter.from), day("Until", &filter.until)) {
            (Err(e), _) | (_, Err(e)) => Some(e),
            (Ok(Some(from)), Ok(Some(until))) if from > until => {
                Some(format!("From ({from}) must be on or before Until ({until}); both days are included."))
            }
            _ => None,
        };
    }
    match problem {
        Some(p) => Err(Box::new((filter, p))),
        None => Ok(filter),
    }
}

/// A positive whole number typed in `field`, or `None` when empty.
fn positive(field: &str, text: &str) -> Result<Option<i64>, String> {
    match text.trim() {
        "" => Ok(None),
        t => match t.parse::<i64>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!("{field} must be a whole number above zero (got {t:?}).")),
        },
    }
}

/// The dated filters and the page cursor (`before`) of a list page, or why one cannot be right
/// (with what was typed kept).
fn filter_and_cursor(q: &ListQuery) -> Result<(ListFilter, Option<i64>), Refusal> {
    let filter = parse_dated_filter(q)?;
    match positive("The page cursor", &q.before) {
        Ok(before) => Ok((filter, before)),
        Err(e) => Err(Box::new((filter, e))),
    }
}

/// Turns a page rendered for a bad request into a 400.
fn bad_request(page: Response) -> Response {
    (axum::http::StatusCode::BAD_REQUEST, page).into_response()
}

async fn orders(State(state): State<AppState>, user: CurrentUser, Query(q): Query<ListQuery>) -> Response {
    let can_trade = user.role.can_trade();
    let checked = filter_and_cursor(&q);
    let (filter, before) = match checked {
        Ok(ok) => ok,
        Err(refused) => {
            let (filter, error) = *refused;
            let page = Err(String::new());
            let content =
                view! { <OrdersPage page=page filter=filter first=true can_trade=can_trade error=Some(error)/> }
                    .into_any();
            return bad_request(super::signed_in_page(&state, user, Section::Orders, "Orders", content).await);
        }
    };
    let page = state.engine.filtered_orders(&filter, before, PAGE_SIZE).await.map_err(|e| e.to_string());
    let content = view! { <OrdersPage page=page filter=filter first=before.is_none() can_trade=can_trade error=None/> }
        .into_any();
    super::signed_in_page(&state, user, Section::Orders, "Orders", content).await
}

/// Fills per page.
pub const FILLS_PAGE_SIZE: usize = 50;

/// Fills asked of the engine at a time by the CSV export (its page size limit).
pub const FILLS_EXPORT_PAGE: usize = 1000;

/// Most fills in one CSV export, so one download cannot hold the server's memory without end.
pub const FILLS_EXPORT_MAX: usize = 100_000;

async fn fills(State(state): State<AppState>, user: CurrentUser, Query(q): Query<ListQuery>) -> Response {
    let checked = filter_and_cursor(&q);
    let (filter, before) = match checked {
        Ok(ok) => ok,
        Err(refused) => {
            let (filter, error) = *refused;
            let content = view! {
                <FillsPage fills=Err(String::new()) filter=filter first=true older=None error=Some(error)/>
            }
            .into_any();
            return bad_request(super::signed_in_page(&state, user, Section::Orders, "Fills", content).await);
        }
    };
    // One fill more than a page tells whether an older page exists.
    let fetched = state.engine.fills(&filter, before, FILLS_PAGE_SIZE + 1).await.map_err(|e| e.to_string());
    let (fills, older) = match fetched {
        Ok(mut page) => {
            let older = if page.len() > FILLS_PAGE_SIZE {
                page.truncate(FILLS_PAGE_SIZE);
                page.last().map(|f| f.fill_id)
            } else {
                None
            };
            (Ok(page), older)
        }
        Err(e) => (Err(e), None),
    };
    let content =
        view! { <FillsPage fills=fills filter=filter first=before.is_none() older=older error=None/> }.into_any();
    super::signed_in_page(&state, user, Section::Orders, "Fills", content).await
}

async fn order(State(state): State<AppState>, user: CurrentUser, Path(id): Path<i64>) -> Result<Response, PageError> {
    let detail =
        state.engine.order(id).await?.ok_or_else(|| PageError::NotFound(format!("There is no order {id}.")))?;
    let csrf = user.role.can_trade().then(|| user.csrf.clone());
    let content = view! { <OrderDetailPage detail=detail csrf=csrf/> }.into_any();
    Ok(super::signed_in_page(&state, user, Section::Orders, &format!("Order {id}"), content).await)
}

async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<super::auth::CsrfForm>,
) -> Result<Response, PageError> {
    if !user.role.can_trade() {
        tracing::warn!(user = %user.username, role = %user.role, "order cancel refused: not a trader");
        return Err(PageError::Forbidden(format!("Your role ({}) may not cancel orders; ask a trader.", user.role)));
    }
    super::check_csrf(&user, &form.csrf)?;
    let order = state.engine.cancel_order(id).await?;
    tracing::info!(user = %user.username, order_id = id, status = %order.status, "order cancel requested from the dashboard");
    Ok(Redirect::to(&format!("/orders/{id}")).into_response())
}

/// The amend form as posted: empty fields are left as they are.
#[derive(Debug, serde::Deserialize)]
struct AmendForm {
    csrf: String,
    #[serde(default)]
    qty: String,
    #[serde(default)]
    limit_price: String,
}

async fn amend(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    Form(form): Form<AmendForm>,
) -> Result<Response, PageError> {
    if !user.role.can_trade() {
        tracing::warn!(user = %user.username, role = %user.role, "order amend refused: not a trader");
        return Err(PageError::Forbidden(format!("Your role ({}) may not amend orders; ask a trader.", user.role)));
    }
    super::check_csrf(&user, &form.csrf)?;
    let decimal = |label: &str, text: &str| -> Result<Option<rust_decimal::Decimal>, PageError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<rust_decimal::Decimal>() {
            Ok(value) if value > rust_decimal::Decimal::ZERO => Ok(Some(value)),
            _ => Err(PageError::BadRequest(format!("{label} must be a positive decimal, got {text:?}"))),
        }
    };
    let qty = decimal("Quantity", &form.qty)?;
    let limit_price = decimal("Limit price", &form.limit_price)?;
    let amendment = state.engine.replace_order(id, qty, limit_price).await?;
    tracing::info!(user = %user.username, order_id = id, amendment = amendment.order_id, status = %amendment.status,
                   "order amend requested from the dashboard");
    Ok(Redirect::to(&format!("/orders/{}", amendment.order_id)).into_response())
}

/// One CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-` or
/// `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
pub fn csv_field(value: &str) -> String {
    let value = match value.chars().next() {
        Some('=' | '+' | '-' | '@') if value.parse::<rust_decimal::Decimal>().is_err() => format!("'{value}"),
        _ => value.to_owned(),
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// A CSV download named `name`.
fn csv_download(name: &str, csv: String) -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        csv,
    )
        .into_response()
}

/// One CSV line of `fields`, with its line break.
fn csv_line(fields: &[String]) -> String {
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

async fn export(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let filter = parse_dated_filter(&q).map_err(|refused| PageError::BadRequest(refused.1))?;
    let mut orders: Vec<Order> = Vec::new();
    let mut before = None;
    loop {
        let page = state.engine.filtered_orders(&filter, before, 500).await?;
        orders.extend(page.orders);
        match page.next_before {
            Some(b) if orders.len() < EXPORT_MAX => before = Some(b),
            _ => break,
        }
    }
    orders.truncate(EXPORT_MAX);
    let mut csv = String::from(
        "order_id,created_at,account,strategy,symbol,side,order_type,limit_price,qty,filled_qty,avg_fill_price,status,reject_reason\r\n",
    );
    for o in &orders {
        let opt = |d: Option<rust_decimal::Decimal>| d.map(|d| d.normalize().to_string()).unwrap_or_default();
        let fields = [
            o.order_id.to_string(),
            o.created_at.to_rfc3339(),
            o.account.clone(),
            o.strategy.clone(),
            o.symbol.clone(),
            o.side.clone(),
            o.order_type.clone(),
            opt(o.limit_price),
            o.qty.normalize().to_string(),
            o.filled_qty.normalize().to_string(),
            opt(o.avg_fill_price),
            o.status.clone(),
            o.reject_reason.clone().unwrap_or_default(),
        ];
        csv.push_str(&csv_line(&fields));
    }
    tracing::info!(user = %user.username, rows = orders.len(), "orders exported as CSV");
    Ok(csv_download("orders.csv", csv))
}

async fn export_fills(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let filter = parse_dated_filter(&q).map_err(|refused| PageError::BadRequest(refused.1))?;
    let mut fills: Vec<crate::clients::Fill> = Vec::new();
    let mut before = None;
    loop {
        let page = state.engine.fills(&filter, before, FILLS_EXPORT_PAGE).await?;
        let last_page = page.len() < FILLS_EXPORT_PAGE;
        before = page.last().map(|f| f.fill_id);
        fills.extend(page);
        if last_page || fills.len() >= FILLS_EXPORT_MAX {
            break;
        }
    }
    fills.truncate(FILLS_EXPORT_MAX);
    let mut csv =
        String::from("fill_id,ts,order_id,account,strategy,symbol,side,qty,price,fee,realized_pnl,exec_id,kind\r\n");
    for f in &fills {
        let d = |d: rust_decimal::Decimal| d.normalize().to_string();
        csv.push_str(&csv_line(&[
            f.fill_id.to_string(),
            f.ts.to_rfc3339(),
            f.order_id.to_string(),
            f.account.clone(),
            f.strategy.clone(),
            f.symbol.clone(),
            f.side.clone(),
            d(f.qty),
            d(f.price),
            d(f.fee),
            d(f.realized_pnl),
            f.exec_id.clone(),
            f.kind.clone(),
        ]));
    }
    tracing::info!(user = %user.username, rows = fills.len(), "fills exported as CSV");
    Ok(csv_download("fills.csv", csv))
}

#[cfg(test)]
mod tests {
    use super::{csv_field, parse_dated_filter, parse_filter, ListQuery};

    #[test]
    fn filters_are_checked_before_they_reach_the_engine() {
        let q = |status: &str, symbol: &str, strategy: &str, account: &str| ListQuery {
            status: status.into(),
            symbol: symbol.into(),
            strategy: strategy.into(),
            account: account.into(),
            ..ListQuery::default()
        };
        let f = parse_filter(&q("filled", " ethusd ", "e2e-tv", "e2e-signals")).unwrap();
        assert_eq!(f.symbol.as_deref(), Some("ETHUSD"));
        assert_eq!(f.pairs(true).len(), 4);
        assert_eq!(parse_filter(&q("", "", "", "")).unwrap().pairs(true), vec![]);
        let (kept, why) = *parse_filter(&q("done", "", "", "")).unwrap_err();
        assert!(why.starts_with("Status") && kept.status.as_deref() == Some("done"), "{why}");
        assert!(parse_filter(&q("", "A&B", "", "")).unwrap_err().1.starts_with("Symbol"));
        assert!(parse_filter(&q("", "", "../halt", "")).unwrap_err().1.starts_with("Strategy"));
        assert!(parse_filter(&q("", "", "", "a/b")).unwrap_err().1.starts_with("Account"));
    }

    #[test]
    fn a_date_range_is_checked_and_reaches_the_engine_as_instants() {
        let q = |from: &str, until: &str| ListQuery { from: from.into(), until: until.into(), ..ListQuery::default() };
        let f = parse_dated_filter(&q("2026-11-20", " 2026-11-24 ")).unwrap();
        assert_eq!(f.pairs(false), vec![("from", "2026-11-20".to_owned()), ("until", "2026-11-24".to_owned())]);
        assert_eq!(
            f.engine_pairs(false),
            vec![("from", "2026-11-20T00:00:00Z".to_owned()), ("until", "2026-11-25T00:00:00Z".to_owned())],
            "the last day is included"
        );
        assert!(parse_dated_filter(&q("2026-11-24", "2026-11-24")).is_ok(), "one day");
        assert!(parse_dated_filter(&q("2026-11-24", "")).is_ok(), "open-ended");
        let (kept, why) = *parse_dated_filter(&q("2026-11-25", "2026-11-24")).unwrap_err();
        assert!(why.starts_with("From (2026-11-25) must be on or before Until"), "{why}");
        assert_eq!((kept.from.as_deref(), kept.until.as_deref()), (Some("2026-11-25"), Some("2026-11-24")));
        assert!(parse_dated_filter(&q("2026-02-30", "")).unwrap_err().1.starts_with("From must be a date"));
        assert!(parse_dated_filter(&q("", "24.11.2026")).unwrap_err().1.starts_with("Until must be a date"));
    }

    #[test]
    fn csv_fields_are_quoted_when_needed_and_never_start_a_formula() {
        assert_eq!(csv_field("demo"), "demo");
        assert_eq!(csv_field("-2.5"), "-2.5", "a negative number stays a number");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
