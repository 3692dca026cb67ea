//! Where archive objects go: an S3 bucket, or a local folder with the same key layout.

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
        StoreError { op, key: key.to_owned(), store: self.describe(), message }
    }
}

impl ObjectStore for S3Store {
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type("application/vnd.apache.parquet")
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| self.error("put", key, DisplayErrorContext(&e).to_string()))?;
            Ok(())
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Bytes> {
        Box::pin(async move {
            let out = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| self.error("get", key, DisplayErrorContext(&e).to_string()))?;
            let data = out.body.collect().await.map_err(|e| self.error("get", key, e.to_string()))?;
            Ok(data.into_bytes())
        })
    }

    fn describe(&self) -> String {
        format!("s3://{}", self.bucket)
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
        StoreError { op, key: key.to_owned(), store: self.describe(), message: e.to_string() }
    }
}

impl ObjectStore for LocalStore {
    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> StoreFuture<'a, ()> {
        Box::pin(async move {
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
            tokio::fs::read(self.root.join(key)).await.map(Bytes::from).map_err(|e| self.error("get", key, e))
        })
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}
