//! Shared service plumbing for Halyard's services.
//!
//! Every service builds on the same pieces so they behave alike in operation:
//! - [`config`]: typed settings from environment variables, with errors that name the variable;
//! - [`telemetry`]: `tracing` set-up, JSON logs in production;
//! - [`db`]: the connection pool, the embedded migrations and the schema-currency check;
//! - [`http`]: the JSON error type, extractors that answer bad input with a 4xx JSON body,
//!   health routes, request ids and access logs;
//! - [`aws`]: AWS SDK configuration (emulator-aware), clients, Secrets Manager with a cache;
//! - [`metrics`]: buffered CloudWatch metrics (logs when AWS is not configured);
//! - [`store`]: objects in S3 or a local folder with the same layout (archive, reports);
//! - [`shutdown`]: the SIGTERM/Ctrl-C signal that drives graceful shutdown on ECS.

pub mod aws;
pub mod config;
pub mod db;
pub mod http;
pub mod metrics;
pub mod secrets;
pub mod shutdown;
pub mod store;
pub mod telemetry;
