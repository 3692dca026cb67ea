//! The manual order ticket: a form, then a confirmation page that repeats the order before it is
//! sent. Both post with the session's CSRF token.

use leptos::prelude::*;
use rust_decimal::Decimal;

/// An order as typed into the ticket, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Account.
    pub account: String,
    /// Symbol, upper case.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Quantity, positive.
    pub qty: Decimal,
    /// Limit price; `None` for a market (or stop) order.
    pub limit_price: Option<Decimal>,
    /// Stop price: a stop order (a stop-limit with a limit price) that works once a trade
    /// reaches it.
    pub stop_price: Option<Decimal>,
    /// Bracket take-profit: the limit price of the leg that closes what the order fills.
    pub take_profit: Option<Decimal>,
    /// Bracket stop-loss: the stop price of the leg that closes what the order fills.
    pub stop_loss: Option<Decimal>,
}

impl Ticket {
    /// The order in words, e.g. `stop-limit, stop 99 limit 98.5, take profit at 110`.
    #[must_use]
    pub fn describe(&self) -> String {
        let n = |d: Decimal| d.normalize().to_string();
        let mut kind = match (self.stop_price, self.limit_price) {
            (Some(stop), Some(limit)) => format!("stop-limit, stop {} limit {}", n(stop), n(limit)),
            (Some(stop), None) => format!("stop at {}", n(stop)),
            (None, Some(limit)) => format!("limit at {}", n(limit)),
            (None, None) => "market".to_owned(),
        };
        if let Some(tp) = self.take_profit {
            kind.push_str(&format!(", take profit at {}", n(tp)));
        }
        if let Some(sl) = self.stop_loss {
            kind.push_str(&format!(", stop loss at {}", n(sl)));
        }
        kind
    }
}

fn text(value: Option<Decimal>) -> String {
    value.map(|v| v.normalize().to_string()).unwrap_or_default()
}

/// The ticket form, filled with `previous` when it is shown again.
#[component]
pub fn TicketPage(csrf: String, previous: Option<Ticket>, error: Option<String>) -> impl IntoView {
    let p = previous.as_ref();
    let account = p.map_or_else(|| "demo".to_owned(), |t| t.account.clone());
    let symbol = p.map(|t| t.symbol.clone()).unwrap_or_default();
    let sell = p.is_some_and(|t| t.side == "sell");
    let qty = p.map(|t| t.qty.normalize().to_string()).unwrap_or_default();
    let limit = text(p.and_then(|t| t.limit_price));
    let stop = text(p.and_then(|t| t.stop_price));
    let take_profit = text(p.and_then(|t| t.take_profit));
    let stop_loss = text(p.and_then(|t| t.stop_loss));
    view! {
        <section class="confirm">
            <h1>"New order"</h1>
            {error.map(|e| view! { <p class="error" id="ticket-error" role="alert">{e}</p> })}
            <form method="post" action="/orders/confirm">
                <input type="hidden" name="csrf" value=csrf/>
                <label for="account">"Account"</label>
                <input id="account" name="account" type="text" required maxlength="64" value=account/>
                <label for="symbol">"Symbol"</label>
                <input id="symbol" name="symbol" type="text" required maxlength="32" value=symbol/>
                <label for="side">"Side"</label>
                <select id="side" name="side">
                    <option value="buy" selected=!sell>"buy"</option>
                    <option value="sell" selected=sell>"sell"</option>
                </select>
                <label for="qty">"Quantity"</label>
                <input id="qty" name="qty" type="text" inputmode="decimal" required value=qty/>
                <label for="limit_price">"Limit price (empty for a market order)"</label>
                <input id="limit_price" name="limit_price" type="text" inputmode="decimal" value=limit/>
                <label for="stop_price">"Stop price (a stop order; with a limit price, a stop-limit)"</label>
                <input id="stop_price" name="stop_price" type="text" inputmode="decimal" value=stop/>
                <label for="take_profit">"Bracket: take profit at (optional)"</label>
                <input id="take_profit" name="take_profit" type="text" inputmode="decimal" value=take_profit/>
                <label for="stop_loss">"Bracket: stop loss at (optional)"</label>
                <input id="stop_loss" name="stop_loss" type="text" inputmode="decimal" value=stop_loss/>
                <button type="submit" class="btn" id="review-order">"Review order"</button>
                <a href="/orders" class="btn">"Cancel"</a>
            </form>
        </section>
    }
}

/// The confirmation: the order spelled out, sent only when confirmed. `client_order_id` makes a
/// double submission place one order.
#[component]
pub fn TicketConfirmPage(csrf: String, ticket: Ticket, client_order_id: String) -> impl IntoView {
    let summary = format!(
        "{} {} {} on account {}, {}",
        ticket.side,
        ticket.qty.normalize(),
        ticket.symbol,
        ticket.account,
        ticket.describe()
    );
    let limit = text(ticket.limit_price);
    let stop = text(ticket.stop_price);
    let take_profit = text(ticket.take_profit);
    let stop_loss = text(ticket.stop_loss);
    view! {
        <section class="confirm">
            <h1>"Place this order?"</h1>
            <p id="order-summary">{summary}</p>
            <form method="post" action="/orders">
                <input type="hidden" name="csrf" value=csrf/>
                <input type="hidden" name="account" value=ticket.account/>
                <input type="hidden" name="symbol" value=ticket.symbol/>
                <input type="hidden" name="side" value=ticket.side/>
                <input type="hidden" name="qty" value=ticket.qty.normalize().to_string()/>
                <input type="hidden" name="limit_price" value=limit/>
                <input type="hidden" name="stop_price" value=stop/>
                <input type="hidden" name="take_profit" value=take_profit/>
                <input type="hidden" name="stop_loss" value=stop_loss/>
                <input type="hidden" name="client_order_id" value=client_order_id/>
                <button type="submit" class="btn danger" id="confirm-order">"Confirm order"</button>
                <a href="/orders/new" class="btn">"Change"</a>
            </form>
        </section>
    }
}
