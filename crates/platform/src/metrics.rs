//! Buffered custom metrics: CloudWatch in AWS, the logs elsewhere.
//!
//! Recording ([`Metrics::count`], [`Metrics::gauge`], [`Metrics::timing`]) only folds a value
//! into an in-memory aggregate under a short lock: no I/O, never on the request path. A
//! background task ([`Metrics::spawn_flusher`]) takes the aggregates every flush interval and
//! sends them in `PutMetricData` calls of at most [`MAX_DATUMS_PER_CALL`] datums. When
//! CloudWatch fails, that batch is dropped with a warning and counted ([`Metrics::dropped`]);
//! nothing waits or retries, so an outage never slows the service.
//!
//! Every datum carries the dimensions `Service` and `Environment` (`HALYARD_ENVIRONMENT`), plus
//! the metric's own (e.g. `Route`).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `METRICS_NAMESPACE` | `Halyard` | CloudWatch namespace |
//! | `METRICS_SINK` | `cloudwatch` when `AWS_REGION`/`AWS_DEFAULT_REGION` is set, else `log` | where metrics go |
//! | `METRICS_FLUSH_SECONDS` | `60` | flush interval |

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::{Duration, Instant, SystemTime},
};

use aws_sdk_cloudwatch::{
    error::DisplayErrorContext,
    primitives::DateTime,
    types::{Dimension, MetricDatum, StandardUnit, StatisticSet},
};
use tokio_util::sync::CancellationToken;

use crate::config::{self, ConfigError};

/// Most datums in one `PutMetricData` call (the API's limit).
pub const MAX_DATUMS_PER_CALL: usize = 1000;

/// Most distinct series buffered between flushes; values for further series are dropped and
/// counted, so a runaway label cannot eat the memory.
pub const MAX_SERIES: usize = 10_000;

/// Where flushed metrics go.
#[derive(Clone)]
pub enum Sink {
    /// `PutMetricData` into `namespace`.
    CloudWatch {
        /// The client.
        client: aws_sdk_cloudwatch::Client,
        /// The namespace.
        namespace: String,
    },
    /// One log line per datum (no AWS configured).
    Log,
}

/// Metric settings from the environment (table in the module docs).
#[derive(Debug, Clone)]
pub struct MetricsSettings {
    /// `METRICS_NAMESPACE`.
    pub namespace: String,
    /// Whether to send to CloudWatch (else the logs).
    pub cloudwatch: bool,
    /// `METRICS_FLUSH_SECONDS`.
    pub flush_interval: Duration,
    /// The `Environment` dimension (`HALYARD_ENVIRONMENT`, default `local`).
    pub environment: String,
}

impl MetricsSettings {
    /// Reads the settings.
    pub fn from_env() -> Result<Self, ConfigError> {
        let cloudwatch = match config::optional("METRICS_SINK").as_deref() {
            None => crate::aws::region_configured(),
            Some("cloudwatch") => true,
            Some("log") => false,
            Some(other) => {
                return Err(ConfigError::new("METRICS_SINK", format!("{other:?}: expected cloudwatch or log")))
            }
        };
        let seconds = config::parsed_or("METRICS_FLUSH_SECONDS", 60u64)?;
        if seconds == 0 {
            return Err(ConfigError::new("METRICS_FLUSH_SECONDS", "must be at least 1"));
        }
        Ok(Self {
            namespace: config::optional("METRICS_NAMESPACE").unwrap_or_else(|| "Halyard".to_owned()),
            cloudwatch,
            flush_interval: Duration::from_secs(seconds),
            environment: config::environment_name(),
        })
    }

    /// The sink these settings name, loading the AWS configuration when CloudWatch is used.
    pub async fn sink(&self) -> Sink {
        if self.cloudwatch {
            let sdk = crate::aws::AwsSettings::default().load().await;
            Sink::CloudWatch { client: crate::aws::cloudwatch_client(&sdk), namespace: self.namespace.clone() }
        } else {
            Sink::Log
        }
    }
}

/// The unit of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    /// A count of events.
    Count,
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
    /// No unit (a plain number such as days).
    None,
}

impl Unit {
    fn standard(self) -> StandardUnit {
        match self {
            Self::Count => StandardUnit::Count,
            Self::Milliseconds => StandardUnit::Milliseconds,
            Self::Seconds => StandardUnit::Seconds,
            Self::None => StandardUnit::None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    name: String,
    dimensions: Vec<(String, String)>,
    unit: Unit,
}

#[derive(Debug, Clone, Copy)]
enum Value {
    Sum(f64),
    Last(f64),
    Stats { sum: f64, min: f64, max: f64, count: f64 },
}

struct Inner {
    service: String,
    environment: String,
    series: Mutex<HashMap<Key, Value>>,
    dropped: AtomicU64,
    sent: AtomicU64,
}

/// A handle to one process's metric buffer. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

static GLOBAL: OnceLock<Metrics> = OnceLock::new();

/// The process-wide metrics, for code that has no handle at hand. The first
/// [`Metrics::install_global`] decides which buffer this is; before that it is a buffer of a
/// service named `unknown` that nothing flushes.
pub fn global() -> Metrics {
    GLOBAL.get_or_init(|| Metrics::new("unknown", "local")).clone()
}

impl Metrics {
    /// A buffer for `service` in `environment`.
    pub fn new(service: &str, environment: &str) -> Self {
        Self {
            inner: Arc::new(Inner {
                service: service.to_owned(),
                environment: environment.to_owned(),
                series: Mutex::new(HashMap::new()),
                dropped: AtomicU64::new(0),
                sent: AtomicU64::new(0),
            }),
        }
    }

    /// Makes this buffer the one [`global`] returns, unless one was installed already; returns
    /// the global buffer either way.
    pub fn install_global(self) -> Metrics {
        GLOBAL.get_or_init(|| self).clone()
    }

    /// Adds `value` to a counter.
    pub fn count(&self, name: &str, value: f64, dimensions: &[(&str, &str)]) {
        self.record(name, dimensions, Unit::Count, |old| match old {
            Some(Value::Sum(s)) => Value::Sum(s + value),
            _ => Value::Sum(value),
        });
    }

    /// Sets a gauge (the last value before a flush is sent).
    pub fn gauge(&self, name: &str, value: f64, unit: Unit, dimensions: &[(&str, &str)]) {
        self.record(name, dimensions, unit, |_| Value::Last(value));
    }

    /// Records one observation of a distribution (sent as a statistic set: count, sum, min, max).
    pub fn observe(&self, name: &str, value: f64, unit: Unit, dimensions: &[(&str, &str)]) {
        self.record(name, dimensions, unit, |old| match old {
            Some(Value::Stats { sum, min, max, count }) => {
                Value::Stats { sum: sum + value, min: min.min(value), max: max.max(value), count: count + 1.0 }
            }
            _ => Value::Stats { sum: value, min: value, max: value, count: 1.0 },
        });
    }

    /// Records a duration in milliseconds.
    pub fn timing(&self, name: &str, elapsed: Duration, dimensions: &[(&str, &str)]) {
        self.observe(name, elapsed.as_secs_f64() * 1e3, Unit::Milliseconds, dimensions);
    }

    fn record(&self, name: &str, dimensions: &[(&str, &str)], unit: Unit, fold: impl FnOnce(Option<Value>) -> Value) {
        let key = Key {
            name: name.to_owned(),
            dimensions: dimensions.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            unit,
        };
        let mut series = self.inner.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !series.contains_key(&key) && series.len() >= MAX_SERIES {
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let old = series.get(&key).copied();
        series.insert(key, fold(old));
    }

    /// Datums dropped so far (CloudWatch failures, series over [`MAX_SERIES`]).
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Datums delivered so far.
    pub fn sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }

    /// The buffered value of one series (a counter's sum, a gauge's last value, a
    /// distribution's sum), or `None` when nothing was recorded since the last flush.
    pub fn buffered(&self, name: &str, dimensions: &[(&str, &str)]) -> Option<f64> {
        let series = self.inner.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        series
            .iter()
            .find(|(key, _)| {
                key.name == name
                    && key.dimensions.len() == dimensions.len()
                    && key.dimensions.iter().zip(dimensions).all(|((k, v), (k2, v2))| k == k2 && v == v2)
            })
            .map(|(_, value)| match value {
                Value::Sum(v) | Value::Last(v) => *v,
                Value::Stats { sum, .. } => *sum,
            })
    }

    /// Series waiting for the next flush.
    pub fn pending(&self) -> usize {
        self.inner.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }

    fn take(&self) -> Vec<(Key, Value)> {
        let mut series = self.inner.series.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        series.drain().collect()
    }

    /// Sends everything buffered now, in batches of at most [`MAX_DATUMS_PER_CALL`]. Returns the
    /// number of datums delivered; failed batches are dropped and counted, never retried.
    pub async fn flush(&self, sink: &Sink) -> usize {
        let taken = self.take();
        if taken.is_empty() {
            return 0;
        }
        let now = DateTime::from(SystemTime::now());
        match sink {
            Sink::Log => {
                for (key, value) in &taken {
                    tracing::info!(
                        target: "metrics",
                        service = %self.inner.service,
                        environment = %self.inner.environment,
                        metric = %key.name,
                        dimensions = ?key.dimensions,
                        value = ?value,
                        unit = ?key.unit,
                        "metric"
                    );
                }
                self.inner.sent.fetch_add(taken.len() as u64, Ordering::Relaxed);
                taken.len()
            }
            Sink::CloudWatch { client, namespace } => {
                let mut delivered = 0;
                for chunk in taken.chunks(MAX_DATUMS_PER_CALL) {
                    let datums: Vec<MetricDatum> = chunk.iter().map(|(k, v)| self.datum(k, *v, now)).collect();
                    let n = datums.len();
                    match client.put_metric_data().namespace(namespace).set_metric_data(Some(datums)).send().await {
                        Ok(_) => {
                            delivered += n;
                            self.inner.sent.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        Err(e) => {
                            let total = self.inner.dropped.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                            tracing::warn!(error = %DisplayErrorContext(&e), dropped = n, dropped_total = total, "CloudWatch refused metrics; dropped");
                        }
                    }
                }
                delivered
            }
        }
    }

    fn datum(&self, key: &Key, value: Value, now: DateTime) -> MetricDatum {
        let mut b = MetricDatum::builder()
            .metric_name(&key.name)
            .unit(key.unit.standard())
            .timestamp(now)
            .dimensions(Dimension::builder().name("Service").value(&self.inner.service).build())
            .dimensions(Dimension::builder().name("Environment").value(&self.inner.environment).build());
        for (name, v) in &key.dimensions {
            b = b.dimensions(Dimension::builder().name(name).value(v).build());
        }
        match value {
            Value::Sum(v) | Value::Last(v) => b.value(v).build(),
            Value::Stats { sum, min, max, count } => b
                .statistic_values(
                    StatisticSet::builder().sample_count(count).sum(sum).minimum(min).maximum(max).build(),
                )
                .build(),
        }
    }

    /// Flushes every `interval` until `stop` fires, then once more.
    pub fn spawn_flusher(
        &self,
        sink: Sink,
        interval: Duration,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let metrics = self.clone();
        tokio::spawn(async move {
            let mut next = Instant::now() + interval;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep_until(next.into()) => {}
                }
                next += interval;
                metrics.flush(&sink).await;
            }
            metrics.flush(&sink).await;
        })
    }
}

/// An axum middleware layer that records `RequestCount` and `RequestLatency` per route (the
/// matched route template, so `/bars/{symbol}` is one series) and status class.
pub fn http_layer<S: Clone + Send + Sync + 'static>(router: axum::Router<S>, metrics: Metrics) -> axum::Router<S> {
    router.layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
        let metrics = metrics.clone();
        async move {
            let route = req
                .extensions()
                .get::<axum::extract::MatchedPath>()
                .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
            let started = Instant::now();
            let res = next.run(req).await;
            let class = match res.status().as_u16() {
                500.. => "5xx",
                400.. => "4xx",
                _ => "2xx",
            };
            let dims = [("Route", route.as_str()), ("Status", class)];
            metrics.count("RequestCount", 1.0, &dims);
            metrics.timing("RequestLatency", started.elapsed(), &dims[..1]);
            res
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_up_and_gauges_keep_the_last_value() {
        let m = Metrics::new("svc", "test");
        m.count("A", 2.0, &[("Route", "/x")]);
        m.count("A", 3.0, &[("Route", "/x")]);
        m.gauge("G", 1.0, Unit::None, &[]);
        m.gauge("G", 7.0, Unit::None, &[]);
        let mut taken = m.take();
        taken.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        assert!(matches!(taken[0].1, Value::Sum(s) if s == 5.0));
        assert!(matches!(taken[1].1, Value::Last(v) if v == 7.0));
        assert_eq!(m.pending(), 0);
    }

    #[test]
    fn observations_keep_count_sum_min_and_max() {
        let m = Metrics::new("svc", "test");
        for v in [3.0, 1.0, 8.0] {
            m.observe("L", v, Unit::Milliseconds, &[]);
        }
        let taken = m.take();
        assert!(
            matches!(taken[0].1, Value::Stats { sum, min, max, count } if sum == 12.0 && min == 1.0 && max == 8.0 && count == 3.0)
        );
    }

    #[test]
    fn series_beyond_the_limit_are_dropped_and_counted() {
        let m = Metrics::new("svc", "test");
        for i in 0..MAX_SERIES + 5 {
            m.count("C", 1.0, &[("I", &i.to_string())]);
        }
        assert_eq!(m.pending(), MAX_SERIES);
        assert_eq!(m.dropped(), 5);
    }

    #[tokio::test]
    async fn the_http_layer_counts_requests_per_route_template() {
        use tower::ServiceExt;
        let m = Metrics::new("svc", "test");
        let router: axum::Router =
            http_layer(axum::Router::new().route("/items/{id}", axum::routing::get(|| async { "ok" })), m.clone());
        for uri in ["/items/1", "/items/2", "/nothing"] {
            let req = axum::http::Request::builder().uri(uri).body(axum::body::Body::empty()).unwrap();
            router.clone().oneshot(req).await.unwrap();
        }
        let taken = m.take();
        let count = |route: &str| {
            taken.iter().find_map(|(k, v)| {
                (k.name == "RequestCount" && k.dimensions.iter().any(|(_, r)| r == route)).then_some(*v)
            })
        };
        assert!(matches!(count("/items/{id}"), Some(Value::Sum(n)) if n == 2.0));
        assert!(taken
            .iter()
            .any(|(k, v)| k.name == "RequestLatency" && matches!(v, Value::Stats { count, .. } if *count == 2.0)));
    }

    #[tokio::test]
    async fn the_log_sink_delivers_everything_buffered() {
        let m = Metrics::new("svc", "test");
        m.count("C", 1.0, &[]);
        m.gauge("G", 1.0, Unit::None, &[]);
        assert_eq!(m.flush(&Sink::Log).await, 2);
        assert_eq!(m.sent(), 2);
        assert_eq!(m.flush(&Sink::Log).await, 0);
    }
}
