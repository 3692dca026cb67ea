//! Logging set-up: human-readable lines locally, one JSON object per line in production
//! (`LOG_FORMAT=json`), which CloudWatch Logs Insights can query by field.

use tracing_subscriber::{fmt, layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

/// Installs the global subscriber for `service`. `RUST_LOG` filters (default `info`);
/// `LOG_FORMAT` is `json` or `pretty` (default `pretty`, `json` when `HALYARD_ENVIRONMENT` is set
/// to anything but `local`). Safe to call more than once: later calls do nothing.
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok(_) => false,
        Err(_) => crate::config::environment_name() != "local",
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry.with(fmt::layer().json().flatten_event(true).with_current_span(true).with_span_list(false)).try_init()
    } else {
        registry.with(fmt::layer().with_target(false)).try_init()
    };
    if result.is_ok() {
        tracing::info!(service, environment = %crate::config::environment_name(), "telemetry initialised");
    }
}
