//! The data-service's own metrics reach CloudWatch (moto) and read back with GetMetricData.
//! A test binary of its own: the metric buffer is per process, so no other service instance
//! may flush it.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::{
    primitives::DateTime,
    types::{Dimension, Metric, MetricDataQuery, MetricStat},
};
use data_service::{configuration::Settings, startup::Application};
use platform::{
    aws::{cloudwatch_client, AwsSettings},
    config::{DatabaseSettings, DatabaseSource},
};
use test_support::TestDb;

#[tokio::test]
async fn request_counts_per_route_reach_cloudwatch() {
    let db = TestDb::new().await;
    let aws = AwsSettings::emulator(&test_support::moto().await);
    // A unique environment keeps other runs against the same emulator out of the numbers.
    let environment = format!("test-{:x}", rand::random::<u64>());
    let mut settings = Settings::minimal(
        "127.0.0.1:0".parse().unwrap(),
        DatabaseSettings { source: DatabaseSource::Url(db.url()), max_connections: 3 },
    );
    settings.aws = aws.clone();
    settings.metrics.cloudwatch = true;
    settings.metrics.namespace = "HalyardTest".to_owned();
    settings.metrics.flush_interval = Duration::from_millis(200);
    settings.metrics.environment = environment.clone();
    let app = Application::build(settings, std::sync::Arc::new(platform::db::NoSecretSource)).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    for _ in 0..3 {
        http.get(format!("{base}/api/v1/market/symbols")).send().await.unwrap();
    }
    http.get(format!("{base}/api/v1/market/quote/NOPE")).send().await.unwrap();

    let client = cloudwatch_client(&aws.load().await);
    let dims = |route: &str, status: &str| {
        vec![
            Dimension::builder().name("Service").value("data-service").build(),
            Dimension::builder().name("Environment").value(&environment).build(),
            Dimension::builder().name("Route").value(route).build(),
            Dimension::builder().name("Status").value(status).build(),
        ]
    };
    let sum = |route: &'static str, status: &'static str| {
        let client = client.clone();
        let dims = dims(route, status);
        async move {
            let query = MetricDataQuery::builder()
                .id("q")
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace("HalyardTest")
                                .metric_name("RequestCount")
                                .set_dimensions(Some(dims))
                                .build(),
                        )
                        .period(60)
                        .stat("Sum")
                        .build(),
                )
                .build();
            let now = SystemTime::now();
            let out = client
                .get_metric_data()
                .metric_data_queries(query)
                .start_time(DateTime::from(now - Duration::from_secs(600)))
                .end_time(DateTime::from(now + Duration::from_secs(600)))
                .send()
                .await
                .unwrap();
            out.metric_data_results()[0].values().iter().sum::<f64>()
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sum("/api/v1/market/symbols", "2xx").await < 3.0 {
        assert!(tokio::time::Instant::now() < deadline, "RequestCount did not reach CloudWatch");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(sum("/api/v1/market/symbols", "2xx").await, 3.0);
    assert_eq!(sum("/api/v1/market/quote/{symbol}", "4xx").await, 1.0);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
