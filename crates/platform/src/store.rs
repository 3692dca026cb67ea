//! Object storage shared by the services: an S3 bucket (`ARCHIVE_BUCKET`), or a local folder
//! with the same key layout (`ARCHIVE_DIR`, default `.local/archive`). The data-service's
//! market-data archive uses it; daily reports and backtest results are meant to use the same
//! store under their own prefixes (`reports/daily/...`).

use std::{future::Future, path::PathBuf, pin::Pin};

use aws_sdk_s3::{error::DisplayErrorContext, primitives::ByteStream};
use bytes::Bytes;

/// Future returned by an [`ObjectStore`].
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store operation that failed. Transient for S3 (network, throttling, outage): the archiver
/// retries with backoff and, failing that, leaves the day for a later run.
#[derive(Debug, thiserror::Error)]
#[error("{op} {key} in {store}: {message}")]
pub struct StoreError {
    /// `put` or `get`.
    pub op: &'static str,
    /// The object key.
    pub key: String,
    /// The store, e.g. `s3://bucket` or a folder.
    pub store: String,
    /// What went wrong.
    pub message: String,
    /// The object does not exist (a definite answer, not an outage).
    pub not_found: bool,
}

/// Where the store is, from `ARCHIVE_BUCKET` / `ARCHIVE_DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreTarget {
    /// `ARCHIVE_BUCKET`.
    S3 {
        /// Bucket name.
        bucket: String,
    },
    /// `ARCHIVE_DIR` (default `.local/archive`, relative to the working directory).
    Local(PathBuf),
}

impl StoreTarget {
    /// Reads `ARCHIVE_BUCKET`, else `ARCHIVE_DIR`.
    pub fn from_env() -> Self {
        match crate::config::optional("ARCHIVE_BUCKET") {
            Some(bucket) => Self::S3 { bucket },
            None => Self::Local(PathBuf::from(
                crate::config::optional("ARCHIVE_DIR").unwrap_or_else(|| ".local/archive".to_owned()),
            )),
        }
    }

    /// Opens the store; `sdk` is needed for S3 (see [`crate::aws::AwsSettings::load`]).
    pub async fn open(&self, aws: &crate::aws::AwsSettings) -> std::sync::Arc<dyn ObjectStore> {
        match self {
            Self::S3 { bucket } => {
                let sdk = aws.load().await;
                std::sync::Arc::new(S3Store::new(crate::aws::s3_client(&sdk), bucket))
            }
            Self::Local(dir) => std::sync::Arc::new(LocalStore::new(dir)),
        }
    }
}

/// Objects by key (`a/b/c.parquet`): put whole, read whole.
pub trait ObjectStore: Send + Sync {
    /// Writes `body` under `key`, replacing any object there.
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> StoreFuture<'a, ()>;
    /// Reads the object under `key`.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Bytes>;
    /// A name for logs, e.g. `s3://bucket`.
    fn describe(&self) -> String;
}

/// An S3 bucket.
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    /// The bucket `bucket` through `client`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    fn error(&self, op: &'static str, key: &str, message: String) -> StoreError {
        StoreError { op, key: key.to_owned(), store: self.describe(), message, not_found: false }
    }
}

impl ObjectStore for S3Store {
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type(key))
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| self.error("put", key, DisplayErrorContext(&e).to_string()))?;
            Ok(())
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Bytes> {
        Box::pin(async move {
            let out = self.client.get_object().bucket(&self.bucket).key(key).send().await.map_err(|e| {
                let not_found = e.as_service_error().is_some_and(|s| s.is_no_such_key());
                StoreError { not_found, ..self.error("get", key, DisplayErrorContext(&e).to_string()) }
            })?;
            let data = out.body.collect().await.map_err(|e| self.error("get", key, e.to_string()))?;
            Ok(data.into_bytes())
        })
    }

    fn describe(&self) -> String {
        format!("s3://{}", self.bucket)
    }
}

fn content_type(key: &str) -> &'static str {
    match key.rsplit('.').next() {
        Some("parquet") => "application/vnd.apache.parquet",
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("csv") => "text/csv",
        _ => "application/octet-stream",
    }
}

/// A local folder; keys are relative paths below it.
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// The folder `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn error(&self, op: &'static str, key: &str, e: std::io::Error) -> StoreError {
        StoreError {
            op,
            key: key.to_owned(),
            store: self.describe(),
            message: e.to_string(),
            not_found: e.kind() == std::io::ErrorKind::NotFound,
        }
    }
}

impl ObjectStore for LocalStore {
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if !safe_key(key) {
                return Err(StoreError {
                    op: "put",
                    key: key.to_owned(),
                    store: self.describe(),
                    message: "key must be a relative path without '..'".to_owned(),
                    not_found: false,
                });
            }
            let path = self.root.join(key);
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await.map_err(|e| self.error("put", key, e))?;
            }
            // Write then rename: a reader never sees half an object.
            let tmp = path.with_extension("partial");
            tokio::fs::write(&tmp, &body).await.map_err(|e| self.error("put", key, e))?;
            tokio::fs::rename(&tmp, &path).await.map_err(|e| self.error("put", key, e))
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Bytes> {
        Box::pin(async move {
            if !safe_key(key) {
                return Err(StoreError {
                    op: "get",
                    key: key.to_owned(),
                    store: self.describe(),
                    message: "key must be a relative path without '..'".to_owned(),
                    not_found: false,
                });
            }
            tokio::fs::read(self.root.join(key)).await.map(Bytes::from).map_err(|e| self.error("get", key, e))
        })
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

/// A key stays inside the folder: relative, no `..` component.
fn safe_key(key: &str) -> bool {
    let path = std::path::Path::new(key);
    !key.is_empty() && path.components().all(|c| matches!(c, std::path::Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_store_round_trips_and_refuses_keys_leaving_its_folder() {
        let dir = std::env::temp_dir().join(format!("halyard-store-{}", uuid::Uuid::new_v4().simple()));
        let store = LocalStore::new(&dir);
        store.put("reports/daily/2026-11-23.json", Bytes::from_static(b"{}")).await.unwrap();
        assert_eq!(store.get("reports/daily/2026-11-23.json").await.unwrap(), Bytes::from_static(b"{}"));
        assert!(store.put("../escape.json", Bytes::new()).await.is_err());
        assert!(store.put("/abs.json", Bytes::new()).await.is_err());
        assert!(store.get("missing.json").await.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
