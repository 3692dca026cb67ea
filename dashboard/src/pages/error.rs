//! The error page.

use leptos::prelude::*;

/// A page saying what went wrong.
#[component]
pub fn ErrorPage(status: u16, title: String, message: String) -> impl IntoView {
    view! {
        <section class="error-page">
            <h1>{format!("{status} · {title}")}</h1>
            <p id="error-message">{message}</p>
            <p><a href="/">"Back to the overview"</a></p>
        </section>
    }
}
