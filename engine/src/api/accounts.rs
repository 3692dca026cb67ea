//! The accounts and the venue each trades at: those with their own broker account
//! (`ACCOUNTS`), and every other account that has orders (at the default venue, `VENUE`).

use axum::{extract::State, routing::get, Json, Router};
use platform::http::ApiError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::startup::AppState;

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/accounts", get(list))
}

/// One account.
#[derive(Debug, Serialize, ToSchema, PartialEq, Eq, PartialOrd, Ord)]
pub struct AccountView {
    /// Account name.
    pub account: String,
    /// The venue its new orders go to, as recorded on them (`paper`, `alpaca`, `binance:crypto`).
    pub venue: String,
    /// The venue's kind: `paper`, `alpaca` or `binance`.
    pub kind: String,
    /// Whether the account has its own broker account in this deployment (`ACCOUNTS`).
    pub own_broker_account: bool,
}

/// The accounts and their venues, by name; `default_venue` is where any other account trades.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accounts {
    /// Where an account without its own broker account trades.
    pub default_venue: String,
    /// Accounts routed to their own broker account, and accounts with orders.
    pub accounts: Vec<AccountView>,
}

/// The accounts and the venue each trades at.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Accounts)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Accounts>, ApiError> {
    let venues = state.oms.venues();
    let kind = |venue: &str| venue.split(':').next().unwrap_or(venue).to_owned();
    let mut accounts: Vec<AccountView> = venues
        .accounts()
        .into_iter()
        .map(|(account, venue)| AccountView { kind: kind(&venue), account, venue, own_broker_account: true })
        .collect();
    let traded: Vec<String> =
        sqlx::query_scalar("select distinct account from \"order\" order by 1").fetch_all(state.oms.pool()).await?;
    for account in traded {
        if !accounts.iter().any(|a| a.account == account) {
            let venue = venues.route(&account).0.to_owned();
            accounts.push(AccountView { kind: kind(&venue), account, venue, own_broker_account: false });
        }
    }
    accounts.sort();
    Ok(Json(Accounts { default_venue: venues.default_name().to_owned(), accounts }))
}
