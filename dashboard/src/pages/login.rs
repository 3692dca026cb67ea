//! The sign-in page.

use leptos::prelude::*;

/// The sign-in form, with the CSRF token of the sign-in cookie and an optional message.
#[component]
pub fn LoginPage(csrf: String, message: Option<String>, username: String) -> impl IntoView {
    view! {
        <section class="login">
            <h1>"Sign in to Halyard"</h1>
            {message.map(|m| view! { <p class="notice error" role="alert" id="login-error">{m}</p> })}
            <form method="post" action="/login">
                <input type="hidden" name="csrf" value=csrf/>
                <label for="username">"Username"</label>
                <input id="username" name="username" type="text" autocomplete="username" required value=username/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required/>
                <button type="submit" id="sign-in">"Sign in"</button>
            </form>
        </section>
    }
}
