//! Server-sent events in the wasm client: the browser's `EventSource`, which reconnects by
//! itself after the delay the server asked for.

use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{EventSource, MessageEvent};

/// Opens an `EventSource` on `url` for the page's lifetime: `on_event(name, data)` runs for
/// every event named in `names`, `on_open` when the connection is (re)established and
/// `on_error` when it drops. `None` (and a warning on the console) when the browser refuses
/// the URL.
pub fn subscribe(
    url: &str,
    names: &[&'static str],
    on_event: impl Fn(&str, String) + 'static,
    on_open: impl Fn() + 'static,
    on_error: impl Fn() + 'static,
) -> Option<EventSource> {
    let source = match EventSource::new(url) {
        Ok(source) => source,
        Err(e) => {
            leptos::logging::warn!("cannot open the event stream {url}: {e:?}");
            return None;
        }
    };
    let on_event = std::rc::Rc::new(on_event);
    for &name in names {
        let on_event = on_event.clone();
        let listener = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(data) = event.data().as_string() {
                on_event(name, data);
            }
        });
        if source.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref()).is_err() {
            leptos::logging::warn!("cannot listen to {name} events on {url}");
        }
        // The page keeps the stream for its whole life: the listener must outlive this call.
        listener.forget();
    }
    let open = Closure::<dyn Fn()>::new(on_open);
    source.set_onopen(Some(open.as_ref().unchecked_ref()));
    open.forget();
    let error = Closure::<dyn Fn()>::new(on_error);
    source.set_onerror(Some(error.as_ref().unchecked_ref()));
    error.forget();
    Some(source)
}
