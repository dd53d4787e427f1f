//! The scraper: every target of the configuration (and the server's own `/metrics`, as job
//! `ferry`) is fetched on its interval and what it exposes is stored in the metrics store,
//! with `job` and `instance` labels, the report series and stale markers as Prometheus'
//! scrape loop writes them (the decisions are `ferry_promql::scrape`'s; here the fetching).
//!
//! Each target has its own task; its first scrape comes at an offset within the interval
//! derived from its labels, so targets spread over the interval instead of scraping at once.
//! A target's state (`up`, last error, last scrape) is kept for the targets page and API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, Request, header};
use ferry_promql::Labels;
use ferry_promql::exposition::Format;
use ferry_promql::scrape::{Fetched, ScrapeFailure, ScrapeState};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;

use crate::outbound::{Outbound, chain};
use crate::{AppState, now_ms};

/// The largest answer read from a target.
const BODY_LIMIT: usize = 64 * 1024 * 1024;

/// What the server scrapes, where it forwards it and which store answers queries
/// (`[metrics]` in `ferry.toml`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeConfig {
    /// The default interval between two scrapes of a target.
    pub interval: Duration,
    /// The default time a scrape may take; at most the interval.
    pub timeout: Duration,
    /// Whether the server scrapes its own `/metrics` as job `ferry`.
    pub scrape_self: bool,
    /// The configured jobs.
    pub jobs: Vec<ScrapeJob>,
    /// Where everything stored is forwarded to (`[metrics.remote_write]`), if anywhere.
    pub remote_write: Option<crate::forward::RemoteWriteConfig>,
    /// A Prometheus-compatible API (`http://prometheus:9090`) that answers the `/prometheus`
    /// queries instead of the server's own store (`query_backend`).
    pub query_backend: Option<String>,
}

impl Default for ScrapeConfig {
    fn default() -> ScrapeConfig {
        ScrapeConfig {
            interval: Duration::from_secs(15),
            timeout: Duration::from_secs(10),
            scrape_self: true,
            jobs: Vec::new(),
            remote_write: None,
            query_backend: None,
        }
    }
}

/// One job: targets that expose the same metrics (`[[metrics.scrape]]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeJob {
    /// The `job` label.
    pub job: String,
    /// `host:port` of each target, its `instance` label.
    pub targets: Vec<String>,
    /// `http` or `https`.
    pub scheme: String,
    /// The path scraped, `/metrics` by default.
    pub path: String,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    /// Labels added to every series of the job's targets.
    pub labels: BTreeMap<String, String>,
}

/// A target as the scraper sees it.
#[derive(Clone, Debug)]
struct Target {
    url: String,
    labels: Labels,
    interval: Duration,
    timeout: Duration,
}

/// The targets of a configuration, the server's own first when asked for.
fn targets(config: &ScrapeConfig, own: SocketAddr) -> Vec<Target> {
    let mut targets = Vec::new();
    if config.scrape_self {
        let reach = if own.ip().is_unspecified() { SocketAddr::new([127, 0, 0, 1].into(), own.port()) } else { own };
        targets.push(Target {
            url: format!("http://{reach}/metrics"),
            labels: Labels::new([("job", "ferry".to_owned()), ("instance", own.to_string())]),
            interval: config.interval,
            timeout: config.timeout.min(config.interval),
        });
    }
    for job in &config.jobs {
        let interval = job.interval.unwrap_or(config.interval);
        for target in &job.targets {
            let mut labels = Labels::new(job.labels.iter().map(|(name, value)| (name.clone(), value.clone())));
            labels.set("job", job.job.clone());
            labels.set("instance", target.clone());
            targets.push(Target {
                url: format!("{}://{target}{}", job.scheme, job.path),
                labels,
                interval,
                timeout: job.timeout.unwrap_or(config.timeout).min(interval),
            });
        }
    }
    targets
}

/// The last scrape of a target, for whoever shows targets.
#[derive(Clone, Debug, Default)]
pub(crate) struct TargetHealth {
    labels: Labels,
    up: bool,
    last_error: Option<String>,
    last_scrape_ms: i64,
    last_duration_s: f64,
}

/// Every target's last scrape, by URL.
pub(crate) type Health = Arc<Mutex<BTreeMap<String, TargetHealth>>>;

/// `GET /prometheus/api/v1/targets`: every target and its last scrape, in Prometheus' shape
/// (`activeTargets` with `labels`, `scrapePool`, `scrapeUrl`, `health`, `lastError`,
/// `lastScrape`, `lastScrapeDuration`; no service discovery, so `discoveredLabels` are the
/// labels and `droppedTargets` is empty). A target not scraped yet has health `unknown`.
#[utoipa::path(
    get,
    path = "/prometheus/api/v1/targets",
    operation_id = "prometheus_targets",
    tag = "metrics",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Prometheus' `{\"status\":\"success\",\"data\":{\"activeTargets\",\"droppedTargets\"}}`", content_type = "application/json", body = Object),
        crate::api::Refusals,
        (status = 403, description = "The token is scoped to projects; metrics need a token for all projects", body = crate::api::ErrorBody),
    ),
)]
pub(crate) async fn list(axum::extract::State(state): axum::extract::State<AppState>) -> axum::Json<serde_json::Value> {
    let health = state.scrape_health.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let active: Vec<serde_json::Value> = health
        .into_iter()
        .map(|(url, target)| {
            let labels: serde_json::Map<String, serde_json::Value> =
                target.labels.iter().map(|(name, value)| (name.to_owned(), value.into())).collect();
            let health = match (target.last_scrape_ms, target.up) {
                (0, _) => "unknown",
                (_, true) => "up",
                (_, false) => "down",
            };
            serde_json::json!({
                "discoveredLabels": labels.clone(),
                "labels": labels,
                "scrapePool": target.labels.get("job").unwrap_or(""),
                "scrapeUrl": url,
                "globalUrl": url,
                "lastError": target.last_error.unwrap_or_default(),
                "lastScrape": rfc3339_ms(target.last_scrape_ms),
                "lastScrapeDuration": target.last_duration_s,
                "health": health,
            })
        })
        .collect();
    axum::Json(serde_json::json!({"status": "success", "data": {"activeTargets": active, "droppedTargets": []}}))
}

/// Milliseconds since the epoch as RFC 3339 with milliseconds, as Prometheus writes times.
fn rfc3339_ms(ms: i64) -> String {
    let seconds = ferry_dora::rfc3339(ms.div_euclid(1000));
    format!("{}.{:03}Z", seconds.trim_end_matches('Z'), ms.rem_euclid(1000))
}

/// Starts one task per target; they stop when the server shuts down.
pub(crate) fn spawn(state: &AppState, config: &ScrapeConfig, own: SocketAddr) {
    let http = crate::outbound::client(Duration::from_secs(5));
    for target in targets(config, own) {
        state
            .scrape_health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(target.url.clone(), TargetHealth { labels: target.labels.clone(), ..TargetHealth::default() });
        tokio::spawn(scrape_loop(state.clone(), http.clone(), target));
    }
}

async fn scrape_loop(state: AppState, http: Outbound, target: Target) {
    let mut shutting_down = state.pipeline.shutting_down.subscribe();
    let offset = spread(&target.labels, target.interval);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, target.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut memory = ScrapeState::default();
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutting_down.wait_for(|stopping| *stopping) => return,
        }
        let started = Instant::now();
        let t_ms = now_ms();
        let answer = fetch(&http, &target).await;
        let duration = started.elapsed().as_secs_f64();
        let fetched = match &answer {
            Ok((text, format)) => Fetched::Body { text, format: *format },
            Err(error) => Fetched::Failed(error.to_string()),
        };
        let scraped = memory.scrape(&target.labels, fetched, t_ms, duration);
        let up = scraped.error.is_none();
        if let Some(error) = &scraped.error {
            tracing::debug!(target = %target.url, %error, "scrape failed");
        }
        let stored = store(&state, scraped.samples).await;
        let last_error = scraped.error.or(stored.err().map(|error| error.to_string()));
        state.scrape_health.lock().unwrap_or_else(PoisonError::into_inner).insert(
            target.url.clone(),
            TargetHealth {
                labels: target.labels.clone(),
                up,
                last_error,
                last_scrape_ms: t_ms,
                last_duration_s: duration,
            },
        );
    }
}

/// Where in its interval a target is scraped: the same place every time, from its labels.
fn spread(labels: &Labels, interval: Duration) -> Duration {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    labels.to_string().hash(&mut hasher);
    let millis = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(hasher.finish() % millis)
}

/// The target's answer and its format, or why there is none.
async fn fetch(http: &Outbound, target: &Target) -> Result<(String, Format), ScrapeFailure> {
    let request = Request::get(&target.url)
        .header(header::ACCEPT, HeaderValue::from_static(ferry_promql::scrape::ACCEPT))
        .header("X-Prometheus-Scrape-Timeout-Seconds", target.timeout.as_secs_f64().to_string())
        .body(Full::new(Bytes::new()))
        .map_err(|error| ScrapeFailure::new(format!("the target's URL cannot be used: {error}")))?;
    let exchange = async {
        let response = http.request(request).await.map_err(|error| ScrapeFailure::new(chain(&error)))?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let body = Limited::new(response.into_body(), BODY_LIMIT)
            .collect()
            .await
            .map_err(|error| ScrapeFailure::new(format!("reading the answer: {error}")))?
            .to_bytes();
        ferry_promql::scrape::read_answer(status, content_type.as_deref(), body.to_vec())
    };
    tokio::time::timeout(target.timeout, exchange).await.unwrap_or_else(|_| {
        Err(ScrapeFailure::new(format!("context deadline exceeded: no answer within {:?}", target.timeout)))
    })
}

/// Stores a scrape's samples; the error says why they were not.
async fn store(state: &AppState, samples: Vec<(Labels, i64, f64)>) -> Result<(), ScrapeFailure> {
    crate::prometheus::append(state, samples)
        .await
        .map(drop)
        .map_err(|error| ScrapeFailure::new(format!("storing the scrape: {error}")))
}
