//! The manual order ticket, for traders and admins (viewers get 403 whatever they send).
//!
//! - `GET /orders/new`: the form.
//! - `POST /orders/confirm` (`csrf`, `account`, `symbol`, `side`, `qty`, optional `limit_price`,
//!   `stop_price`, and the bracket's `take_profit` and `stop_loss`):
//!   checks the order and shows it for confirmation, with a fresh `client_order_id`.
//! - `POST /orders` (the same fields and `client_order_id`): places it on the engine
//!   (`POST /api/v1/orders`, strategy `manual`) and redirects to the orders page, where a refused
//!   order shows as `rejected` with the engine's reason.

use std::str::FromStr;

use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Router,
};
use leptos::prelude::*;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::{
    auth::session::CurrentUser,
    error::PageError,
    pages::{
        ticket::{Ticket, TicketConfirmPage, TicketPage},
        Section,
    },
    startup::AppState,
};

/// Routes of this feature.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orders/new", get(new_order))
        .route("/orders/confirm", post(confirm_order))
        .route("/orders", post(place_order))
}

/// The ticket as posted.
#[derive(Debug, Deserialize)]
pub struct TicketForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    symbol: String,
    #[serde(default)]
    side: String,
    #[serde(default)]
    qty: String,
    #[serde(default)]
    limit_price: String,
    #[serde(default)]
    stop_price: String,
    #[serde(default)]
    take_profit: String,
    #[serde(default)]
    stop_loss: String,
    #[serde(default)]
    client_order_id: String,
}

impl TicketForm {
    fn ticket(&self) -> Result<Ticket, String> {
        let ticket = parse_ticket(&self.account, &self.symbol, &self.side, &self.qty, &self.limit_price)?;
        with_stops(ticket, &self.stop_price, &self.take_profit, &self.stop_loss)
    }
}

/// An optional positive price field; `name` says which in the error.
fn optional_price(name: &str, text: &str) -> Result<Option<Decimal>, String> {
    match text.trim() {
        "" => Ok(None),
        text => match Decimal::from_str(text) {
            Ok(p) if p > Decimal::ZERO => Ok(Some(p)),
            Ok(_) => Err(format!("The {name} must be more than zero.")),
            Err(_) => Err(format!("The {name} {text:?} is not a number.")),
        },
    }
}

/// Adds a stop price and bracket legs to a checked ticket; a buy bracket's take-profit must be
/// above its stop-loss (a sell's below).
pub fn with_stops(mut ticket: Ticket, stop_price: &str, take_profit: &str, stop_loss: &str) -> Result<Ticket, String> {
    ticket.stop_price = optional_price("stop price", stop_price)?;
    ticket.take_profit = optional_price("take-profit price", take_profit)?;
    ticket.stop_loss = optional_price("stop-loss price", stop_loss)?;
    if let (Some(tp), Some(sl)) = (ticket.take_profit, ticket.stop_loss) {
        let buy = ticket.side == "buy";
        if buy != (tp > sl) {
            return Err(format!(
                "A {} bracket's take profit must be {} its stop loss.",
                ticket.side,
                if buy { "above" } else { "below" }
            ));
        }
    }
    Ok(ticket)
}

/// Checks a posted ticket; the error says what to fix.
pub fn parse_ticket(account: &str, symbol: &str, side: &str, qty: &str, limit_price: &str) -> Result<Ticket, String> {
    let account = account.trim();
    if account.is_empty() || account.len() > 64 {
        return Err("An account of 1 to 64 characters is required.".to_owned());
    }
    let symbol = symbol.trim().to_ascii_uppercase();
    if symbol.is_empty()
        || symbol.len() > 32
        || !symbol.chars().all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
    {
        return Err("A symbol of 1 to 32 letters, digits or . _ - / is required.".to_owned());
    }
    if side != "buy" && side != "sell" {
        return Err("The side must be buy or sell.".to_owned());
    }
    let qty = Decimal::from_str(qty.trim()).map_err(|_| format!("The quantity {qty:?} is not a number."))?;
    if qty <= Decimal::ZERO {
        return Err("The quantity must be more than zero.".to_owned());
    }
    let limit_price = match limit_price.trim() {
        "" => None,
        text => {
            let p = Decimal::from_str(text).map_err(|_| format!("The limit price {text:?} is not a number."))?;
            if p <= Decimal::ZERO {
                return Err("The limit price must be more than zero.".to_owned());
            }
            Some(p)
        }
    };
    Ok(Ticket {
        account: account.to_owned(),
        symbol,
        side: side.to_owned(),
        qty,
        limit_price,
        stop_price: None,
        take_profit: None,
        stop_loss: None,
    })
}

async fn new_order(State(state): State<AppState>, user: CurrentUser) -> Result<Response, PageError> {
    super::require_trader(&user, "place orders")?;
    let content = view! { <TicketPage csrf=user.csrf.clone() previous=None error=None/> }.into_any();
    Ok(super::signed_in_page(&state, user, Section::Orders, "New order", content).await)
}

async fn confirm_order(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<TicketForm>,
) -> Result<Response, PageError> {
    super::require_trader(&user, "place orders")?;
    super::check_csrf(&user, &form.csrf)?;
    let content = match form.ticket() {
        Ok(ticket) => {
            // A new key per confirmation page: pressing "Confirm" twice places one order.
            let client_order_id = format!("dash-{}", &crate::auth::random_token()[..24]);
            view! { <TicketConfirmPage csrf=user.csrf.clone() ticket=ticket client_order_id=client_order_id/> }
                .into_any()
        }
        Err(e) => view! { <TicketPage csrf=user.csrf.clone() previous=None error=Some(e)/> }.into_any(),
    };
    Ok(super::signed_in_page(&state, user, Section::Orders, "Confirm order", content).await)
}

async fn place_order(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<TicketForm>,
) -> Result<Response, PageError> {
    super::require_trader(&user, "place orders")?;
    super::check_csrf(&user, &form.csrf)?;
    let ticket = form.ticket().map_err(PageError::BadRequest)?;
    let key = form.client_order_id.trim();
    if key.is_empty() || key.len() > 64 {
        return Err(PageError::BadRequest("The order has no client order id; start from the ticket again.".to_owned()));
    }
    let order = state.engine.place_order(&ticket, key).await?;
    tracing::info!(user = %user.username, order_id = order.order_id, status = %order.status,
        account = %ticket.account, symbol = %ticket.symbol, side = %ticket.side, qty = %ticket.qty,
        "manual order placed from the dashboard");
    Ok(Redirect::to("/orders").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_market_ticket_is_read_with_an_upper_case_symbol_and_exact_quantity() {
        let t = parse_ticket(" demo ", "btcusd", "buy", "0.10", "").unwrap();
        assert_eq!(t.account, "demo");
        assert_eq!(t.symbol, "BTCUSD");
        assert_eq!(t.qty, Decimal::from_str("0.10").unwrap());
        assert_eq!(t.limit_price, None);
    }

    #[test]
    fn a_limit_ticket_keeps_its_price() {
        let t = parse_ticket("demo", "AAPL", "sell", "3", "187.25").unwrap();
        assert_eq!(t.limit_price, Some(Decimal::from_str("187.25").unwrap()));
    }

    #[test]
    fn a_stop_and_a_bracket_are_read_and_a_bracket_the_wrong_way_round_is_refused() {
        let base = parse_ticket("demo", "AAPL", "buy", "3", "101").unwrap();
        let t = with_stops(base.clone(), "100", "110", "95").unwrap();
        assert_eq!(
            (t.stop_price, t.take_profit, t.stop_loss),
            (Some(Decimal::from(100)), Some(Decimal::from(110)), Some(Decimal::from(95)))
        );
        assert_eq!(t.describe(), "stop-limit, stop 100 limit 101, take profit at 110, stop loss at 95");
        assert!(with_stops(base.clone(), "", "95", "110").unwrap_err().contains("above its stop loss"));
        assert!(with_stops(base, "x", "", "").unwrap_err().contains("stop price \"x\" is not a number"));
    }

    #[test]
    fn a_ticket_with_a_bad_side_quantity_or_price_is_refused_with_the_reason() {
        assert!(parse_ticket("demo", "AAPL", "short", "1", "").unwrap_err().contains("buy or sell"));
        assert!(parse_ticket("demo", "AAPL", "buy", "0", "").unwrap_err().contains("more than zero"));
        assert!(parse_ticket("demo", "AAPL", "buy", "ten", "").unwrap_err().contains("not a number"));
        assert!(parse_ticket("demo", "AAPL", "buy", "1", "-5").unwrap_err().contains("more than zero"));
        assert!(parse_ticket("", "AAPL", "buy", "1", "").unwrap_err().contains("account"));
        assert!(parse_ticket("demo", "AA PL", "buy", "1", "").unwrap_err().contains("symbol"));
    }
}
