//! The confirmation step of the emergency controls.

use leptos::prelude::*;

/// What is to be confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// HALT ALL.
    Halt,
    /// Resume trading.
    Resume,
}

/// The confirmation form; it posts with the session's CSRF token.
#[component]
pub fn ConfirmPage(action: Action, csrf: String) -> impl IntoView {
    match action {
        Action::Halt => view! {
            <section class="confirm danger-zone">
                <h1>"Halt all trading?"</h1>
                <p>"Every new order is refused at once on every engine instance and working orders are cancelled, until someone resumes."</p>
                <form method="post" action="/halt">
                    <input type="hidden" name="csrf" value=csrf/>
                    <label for="reason">"Reason (recorded)"</label>
                    <input id="reason" name="reason" type="text" required maxlength="200" value="emergency halt from the dashboard"/>
                    <label class="check">
                        <input id="flatten" name="flatten" type="checkbox" value="true"/>
                        " Also flatten every position with market orders"
                    </label>
                    <label class="check">
                        <input id="reduce-only" name="reduce_only" type="checkbox" value="true"/>
                        " Reduce only: orders that close positions still go through (only orders that would grow one are cancelled)"
                    </label>
                    <button type="submit" class="btn danger" id="confirm-halt">"Confirm HALT ALL"</button>
                    <a href="/" class="btn">"Cancel"</a>
                </form>
            </section>
        }
        .into_any(),
        Action::Resume => view! {
            <section class="confirm">
                <h1>"Resume trading?"</h1>
                <p>"Lifts the global halt: strategies and signals may place orders again."</p>
                <form method="post" action="/resume">
                    <input type="hidden" name="csrf" value=csrf/>
                    <button type="submit" class="btn" id="confirm-resume">"Confirm resume"</button>
                    <a href="/" class="btn">"Cancel"</a>
                </form>
            </section>
        }
        .into_any(),
    }
}
