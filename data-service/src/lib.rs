//! Halyard's market-data service.
//!
//! Data flows one way: feeds ([`ingest::synthetic`], [`ingest::binance`], the tick endpoint and the
//! CSV importer) hand ticks to the [`ingest::Ingest`] writer, which commits them to Postgres in
//! batches, folds them into 1-minute bars, and only then publishes them to live-stream
//! subscribers. The [`api`] routers read history back and serve the stream. The [`archive`]
//! exports closed days to Parquet in S3 (or a local folder) and prunes what it verified.

pub mod api;
pub mod archive;
pub mod configuration;
pub mod import;
pub mod ingest;
pub mod market;
pub mod startup;
pub mod symbols;
pub mod timeparse;
