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
    /// The broker account's buying power as the venue last said (Alpaca), which pre-trade
    /// risk checks buy orders against; absent for paper and Binance, or before the first read.
    #[serde(serialize_with = "crate::convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub buying_power: Option<rust_decimal::Decimal>,
    /// When the venue was asked.
    pub buying_power_as_of: Option<chrono::DateTime<chrono::Utc>>,
}

/// The accounts and their venues, by name; `default_venue` is where any other account trades.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accounts {
    /// Where an account without its own broker account trades.
    pub default_venue: String,
    /// Accounts routed to their own broker account, and accounts with orders.
    pub accounts: Vec<AccountView>,
    /// Every venue of this engine with its buying power, the default first.
    pub venues: Vec<VenueView>,
}

/// A venue and what its broker account can spend.
#[derive(Debug, Serialize, ToSchema)]
pub struct VenueView {
    /// Its name, as recorded on orders.
    pub venue: String,
    /// The buying power as the venue last said (Alpaca); absent for paper and Binance, or
    /// before the first read.
    #[serde(serialize_with = "crate::convert::ser_opt_dec")]
    #[schema(value_type = Option<String>)]
    pub buying_power: Option<rust_decimal::Decimal>,
    /// When the venue was asked.
    pub buying_power_as_of: Option<chrono::DateTime<chrono::Utc>>,
}

/// The accounts and the venue each trades at.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Accounts)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Accounts>, ApiError> {
    let venues = state.oms.venues();
    let mut accounts: Vec<AccountView> =
        venues.accounts().into_iter().map(|(account, venue)| view(venues, account, venue, true)).collect();
    let traded: Vec<String> =
        sqlx::query_scalar("select distinct account from \"order\" order by 1").fetch_all(state.oms.pool()).await?;
    for account in traded {
        if !accounts.iter().any(|a| a.account == account) {
            let venue = venues.route(&account).0.to_owned();
            accounts.push(view(venues, account, venue, false));
        }
    }
    accounts.sort();
    let venue_views = venues
        .all()
        .into_iter()
        .map(|(name, venue)| {
            let figure = venue.buying_power(None);
            VenueView {
                venue: name.to_owned(),
                buying_power: figure.map(|f| crate::convert::ToDecimal::dec(f.amount)),
                buying_power_as_of: figure.map(|f| f.as_of),
            }
        })
        .collect();
    Ok(Json(Accounts { default_venue: venues.default_name().to_owned(), accounts, venues: venue_views }))
}

fn view(venues: &crate::venue::Venues, account: String, venue: String, own_broker_account: bool) -> AccountView {
    use crate::convert::ToDecimal;
    let figure = venues.named(&venue).and_then(|v| v.buying_power(None));
    AccountView {
        kind: venue.split(':').next().unwrap_or(&venue).to_owned(),
        account,
        venue,
        own_broker_account,
        buying_power: figure.map(|f| f.amount.dec()),
        buying_power_as_of: figure.map(|f| f.as_of),
    }
}
