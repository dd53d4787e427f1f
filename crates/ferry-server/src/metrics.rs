//! `GET /metrics`: Ferry's own metrics in the Prometheus text format, read from the store at
//! scrape time so that every server replica reports the same numbers. A scrape scans no
//! table: the queue depth is counted on the queue's index, and runs by conclusion and the
//! duration histograms are totals the store keeps as runs and steps complete
//! (`metric_totals`).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use ferry_store::{DURATION_BUCKETS_MS, Durations};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::api::{ApiError, ErrorBody};
use crate::{AppState, now_ms};

/// A runner that sent a heartbeat within this long counts as connected.
const RUNNER_SEEN_MS: i64 = 60_000;

/// A histogram counted by the store at scrape time.
#[derive(Debug)]
struct DurationHistogram(Durations);

impl EncodeMetric for DurationHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let bounds = DURATION_BUCKETS_MS.iter().map(|bound| *bound as f64 / 1000.0).chain([f64::MAX]);
        let buckets: Vec<(f64, u64)> = bounds.zip(self.0.per_bucket.iter().copied()).collect();
        encoder.encode_histogram::<NoLabelSet>(self.0.sum_ms as f64 / 1000.0, self.0.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// The text exposition format's content type.
const CONTENT_TYPE_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "get_metrics",
    tag = "probes",
    responses(
        (status = 200, description = "Ferry's metrics: `ferry_queue_depth`, `ferry_runs_total{conclusion}`, `ferry_runners_connected`, `ferry_run_duration_seconds` and `ferry_step_duration_seconds` (histograms)",
            content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 500, description = "The database failed", body = ErrorBody),
    ),
)]
pub(crate) async fn get(State(state): State<AppState>) -> Result<Response, ApiError> {
    let n_queued = state.store.jobs().count_queued().await?;
    let runs_by_conclusion = state.store.runs().count_by_conclusion().await?;
    let runners = state.store.runners().list().await?;
    let seen_since = now_ms() - RUNNER_SEEN_MS;
    let n_connected =
        runners.iter().filter(|runner| runner.last_heartbeat_at.is_some_and(|at| at >= seen_since)).count();

    let mut registry = Registry::with_prefix("ferry");
    let queue_depth = Gauge::<i64>::default();
    queue_depth.set(n_queued);
    registry.register("queue_depth", "Jobs waiting for a runner", queue_depth);
    let runs = Family::<Vec<(String, String)>, Counter>::default();
    for (conclusion, n_runs) in runs_by_conclusion {
        runs.get_or_create(&vec![("conclusion".to_owned(), conclusion.as_str().to_owned())])
            .inc_by(u64::try_from(n_runs).unwrap_or_default());
    }
    registry.register("runs", "Completed runs by conclusion", runs);
    let runners_connected = Gauge::<i64>::default();
    runners_connected.set(i64::try_from(n_connected).unwrap_or(i64::MAX));
    registry.register("runners_connected", "Runners that sent a heartbeat in the last minute", runners_connected);

    let run_durations = state.store.run_durations().await?;
    registry.register("run_duration_seconds", "How long completed runs took", DurationHistogram(run_durations));
    let step_durations = state.store.step_durations().await?;
    registry.register("step_duration_seconds", "How long completed steps took", DurationHistogram(step_durations));

    if let Some(forwarder) = &state.forwarder {
        let (n_sent, n_dropped, n_pending) = forwarder.counts();
        let sent = Counter::<u64>::default();
        sent.inc_by(n_sent);
        registry.register("remote_write_samples_sent", "Samples forwarded to [metrics.remote_write]", sent);
        let dropped = Counter::<u64>::default();
        dropped.inc_by(n_dropped);
        registry.register(
            "remote_write_samples_dropped",
            "Samples not forwarded: the queue was full or the endpoint refused them (4xx)",
            dropped,
        );
        let pending = Gauge::<i64>::default();
        pending.set(i64::try_from(n_pending).unwrap_or(i64::MAX));
        registry.register("remote_write_samples_pending", "Samples waiting to be forwarded", pending);
    }

    let mut text = String::new();
    encode(&mut text, &registry).expect("encoding metrics into a String cannot fail");
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], text).into_response())
}
