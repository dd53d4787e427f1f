//! What the agent scrapes and pushes to the server: each replica of a service with
//! `metrics:` at `http://127.0.0.1:$PORT{path}` on its interval, within its timeout, and the
//! agent's own metrics (its proxies' `ferry_proxy_*` counts per release, which SLOs and canary
//! analysis read, and its push queue) every [`SELF_INTERVAL`].
//!
//! A replica's series get the labels `project`, `service`, `environment`, `release`,
//! `instance` (`<agent name>:<port>`) and `job` (the service); the agent's own get `job`
//! `ferry-agent` and `instance` its name. `up`, the scrape report series and stale markers
//! are `ferry_promql::scrape`'s, the logic the server's scraper follows too; a replica that
//! leaves (replaced by a new release, scaled down, its unit gone) gets stale markers for
//! everything it exposed.
//!
//! Samples wait in an [`Outbox`] bounded at [`MAX_QUEUED`] samples (the oldest are dropped
//! beyond it and counted in `ferry_agent_metrics_dropped_samples_total`) and are pushed by
//! remote write to `POST /api/v1/agent/metrics`, retried with backoff while the server is
//! away or answers 5xx, dropped (and counted) when it refuses them with a 4xx.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ferry_client::{Client, ClientError};
use ferry_promql::Labels;
use ferry_promql::exposition::Format;
use ferry_promql::remote_write::Queue;
use ferry_promql::scrape::{Fetched, ScrapeFailure, ScrapeState};
use ferry_proto::agent::{MetricsSpec, ReplicaState, UnitKey, UnitStatus};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::agent::Absence;

/// How often the agent scrapes its own metrics.
pub const SELF_INTERVAL: Duration = Duration::from_secs(15);
/// The most samples waiting to be pushed; beyond it the oldest are dropped.
pub const MAX_QUEUED: usize = 20_000;
/// The most samples one push carries.
const BATCH: usize = 2_000;
/// How long a push waits for more samples once the queue was empty.
const GATHER: Duration = Duration::from_millis(500);
/// The largest answer read from a replica.
const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// One sample: labels, milliseconds since the epoch, value.
type Sample = (Labels, i64, f64);

/// A replica to scrape, as the supervisor reports it and its unit's `metrics:` asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub key: UnitKey,
    pub replica: String,
    pub release: i64,
    pub port: u16,
    pub spec: MetricsSpec,
}

impl Target {
    /// The labels every series of this replica gets.
    fn labels(&self, agent: &str) -> Labels {
        Labels::new([
            ("project", self.key.project.clone()),
            ("service", self.key.service.clone()),
            ("environment", self.key.environment.clone()),
            ("release", self.release.to_string()),
            ("instance", format!("{agent}:{}", self.port)),
            ("job", self.key.service.clone()),
        ])
    }
}

/// The replicas to scrape: those of units with `metrics:` that take part in serving
/// (healthy, unhealthy, or exited and being restarted: a failing one shows `up` 0); a
/// replica still starting is not scraped yet, a draining one no longer.
#[must_use]
pub fn targets(specs: &BTreeMap<UnitKey, MetricsSpec>, statuses: &[UnitStatus]) -> Vec<Target> {
    let mut targets = Vec::new();
    for status in statuses {
        let Some(spec) = specs.get(&status.key) else { continue };
        for replica in &status.replicas {
            if matches!(replica.state, ReplicaState::Starting | ReplicaState::Draining) {
                continue;
            }
            targets.push(Target {
                key: status.key.clone(),
                replica: replica.id.clone(),
                release: replica.release,
                port: replica.port,
                spec: spec.clone(),
            });
        }
    }
    targets
}

/// Samples waiting to be pushed, bounded at [`MAX_QUEUED`]; shared by the scraper and the
/// pusher.
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    wake: Notify,
}

impl Default for Outbox {
    fn default() -> Outbox {
        Outbox { queue: Mutex::new(Queue::new(MAX_QUEUED)), wake: Notify::new() }
    }
}

impl Outbox {
    fn queue(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `samples`, dropping the oldest beyond [`MAX_QUEUED`].
    pub fn put(&self, samples: Vec<Sample>) {
        if samples.is_empty() {
            return;
        }
        self.queue().push(samples);
        self.wake.notify_one();
    }

    /// The queue's own metrics, in the text format.
    #[must_use]
    pub fn render(&self) -> String {
        let (queued, dropped) = {
            let queue = self.queue();
            (queue.len(), queue.dropped())
        };
        let mut out = String::new();
        out.push_str("# HELP ferry_agent_metrics_queued_samples Scraped samples waiting to be pushed to the server.\n");
        out.push_str("# TYPE ferry_agent_metrics_queued_samples gauge\n");
        let _ = writeln!(out, "ferry_agent_metrics_queued_samples {queued}");
        out.push_str(
            "# HELP ferry_agent_metrics_dropped_samples_total Scraped samples dropped: the queue was full or the server refused them.\n",
        );
        out.push_str("# TYPE ferry_agent_metrics_dropped_samples_total counter\n");
        let _ = writeln!(out, "ferry_agent_metrics_dropped_samples_total {dropped}");
        out
    }
}

/// What the agent's own `/metrics` says: its proxies' counts and its push queue.
pub fn own_metrics(proxies: &[(UnitKey, ferry_proxy::Proxy)], outbox: &Outbox) -> String {
    let units: Vec<(&UnitKey, &ferry_proxy::Proxy)> = proxies.iter().map(|(key, proxy)| (key, proxy)).collect();
    let mut text = ferry_proxy::render_metrics(&units);
    text.push_str(&outbox.render());
    text
}

/// A replica being scraped: its memory between scrapes and when it is next due.
struct Scraping {
    target: Target,
    labels: Labels,
    state: ScrapeState,
    next: Instant,
    in_flight: bool,
}

/// One scrape's fetch: the replica, its answer, when it began and how long it took.
struct Fetch {
    id: (UnitKey, String),
    res: Result<(String, Format), ScrapeFailure>,
    t_ms: i64,
    duration_s: f64,
}

/// Scrapes the targets `targets_rx` holds (and the agent itself) into `outbox` once the
/// agent knows its name (`name_rx`, from the server's welcome); runs until aborted.
pub async fn scrape(
    mut name_rx: watch::Receiver<Option<String>>,
    mut targets_rx: watch::Receiver<Vec<Target>>,
    proxies: Arc<Mutex<Vec<(UnitKey, ferry_proxy::Proxy)>>>,
    outbox: Arc<Outbox>,
) {
    let Ok(name) = name_rx.wait_for(Option::is_some).await.map(|name| name.clone().unwrap_or_default()) else {
        return;
    };
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    let http: HttpClient<HttpConnector, Empty<Bytes>> =
        HttpClient::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(60)).build(connector);
    let own_labels = Labels::new([("job", "ferry-agent".to_owned()), ("instance", name.clone())]);
    let mut own_state = ScrapeState::default();
    let mut own_next = Instant::now();
    let mut replicas: BTreeMap<(UnitKey, String), Scraping> = BTreeMap::new();
    let mut fetches: JoinSet<Fetch> = JoinSet::new();
    loop {
        // The targets now: a replica that left gets its stale markers.
        let wanted: BTreeMap<(UnitKey, String), Target> = targets_rx
            .borrow_and_update()
            .iter()
            .map(|target| ((target.key.clone(), target.replica.clone()), target.clone()))
            .collect();
        let now_ms = crate::now_ms();
        replicas.retain(|id, replica| {
            let keep = wanted.get(id).is_some_and(|target| *target == replica.target);
            if !keep {
                outbox.put(replica.state.forget(&replica.labels, now_ms));
            }
            keep
        });
        for (id, target) in wanted {
            replicas.entry(id).or_insert_with(|| Scraping {
                labels: target.labels(&name),
                target,
                state: ScrapeState::default(),
                next: Instant::now(),
                in_flight: false,
            });
        }
        let now = Instant::now();
        if own_next <= now {
            let text = own_metrics(&proxies.lock().unwrap_or_else(PoisonError::into_inner), &outbox);
            let started = std::time::Instant::now();
            let fetched = Fetched::Body { text: &text, format: Format::Text };
            let scraped = own_state.scrape(&own_labels, fetched, crate::now_ms(), started.elapsed().as_secs_f64());
            outbox.put(scraped.samples);
            own_next = now + SELF_INTERVAL;
        }
        for (id, replica) in replicas.iter_mut().filter(|(_, replica)| !replica.in_flight && replica.next <= now) {
            replica.in_flight = true;
            let interval = Duration::from_millis(replica.target.spec.interval_ms.max(1));
            replica.next += interval;
            if replica.next <= now {
                replica.next = now + interval;
            }
            let url = format!("http://127.0.0.1:{}{}", replica.target.port, replica.target.spec.path);
            let timeout = Duration::from_millis(replica.target.spec.timeout_ms.max(1));
            let (http, id) = (http.clone(), id.clone());
            fetches.spawn(async move {
                let (t_ms, started) = (crate::now_ms(), std::time::Instant::now());
                let res = fetch(&http, &url, timeout).await;
                Fetch { id, res, t_ms, duration_s: started.elapsed().as_secs_f64() }
            });
        }
        let next = replicas
            .values()
            .filter(|replica| !replica.in_flight)
            .map(|replica| replica.next)
            .fold(own_next, Instant::min);
        tokio::select! {
            Some(Ok(Fetch { id, res, t_ms, duration_s })) = fetches.join_next() => {
                let Some(replica) = replicas.get_mut(&id) else { continue };
                replica.in_flight = false;
                let fetched = match &res {
                    Ok((text, format)) => Fetched::Body { text, format: *format },
                    Err(error) => Fetched::Failed(error.0.clone()),
                };
                let scraped = replica.state.scrape(&replica.labels, fetched, t_ms, duration_s);
                if let Some(error) = &scraped.error {
                    tracing::debug!(replica = %id.1, %error, "scraping replica {}: {error}", id.1);
                }
                outbox.put(scraped.samples);
            }
            changed = targets_rx.changed() => if changed.is_err() { return },
            () = tokio::time::sleep_until(next) => {}
        }
    }
}

/// A replica's answer and its format, or why there is none (as a target's `lastError` says).
async fn fetch(
    http: &HttpClient<HttpConnector, Empty<Bytes>>,
    url: &str,
    timeout: Duration,
) -> Result<(String, Format), ScrapeFailure> {
    let exchange = async {
        let mut request = hyper::Request::get(url)
            .body(Empty::new())
            .map_err(|error| ScrapeFailure(format!("the replica's URL {url} cannot be used: {error}")))?;
        request.headers_mut().insert(ACCEPT, HeaderValue::from_static(ferry_promql::scrape::ACCEPT));
        let response =
            http.request(request).await.map_err(|error| ScrapeFailure(format!("GET {url}: {}", chain(&error))))?;
        let status = response.status().as_u16();
        let content_type =
            response.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let body = Limited::new(response.into_body(), BODY_LIMIT)
            .collect()
            .await
            .map_err(|error| ScrapeFailure(format!("reading the answer of {url}: {error}")))?
            .to_bytes();
        ferry_promql::scrape::read_answer(status, content_type.as_deref(), body.to_vec())
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| Err(ScrapeFailure(format!("context deadline exceeded: no answer within {timeout:?}"))))
}

/// An error with its sources, as one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

/// Pushes what `outbox` holds to the server in batches of at most [`BATCH`] samples; a batch
/// the server could not take is retried with backoff, one it refused is dropped and counted.
pub async fn push(client: Client, outbox: Arc<Outbox>) {
    let mut absence = Absence::new();
    loop {
        let batch = outbox.queue().take(BATCH);
        if batch.is_empty() {
            outbox.wake.notified().await;
            // What other replicas' scrapes bring meanwhile goes in the same request.
            tokio::time::sleep(GATHER).await;
            continue;
        }
        let body = ferry_promql::remote_write::encode(&batch);
        match client.agent_metrics(body).await {
            Ok(()) => {
                absence.succeeded();
            }
            Err(error) if retried(&error) => {
                outbox.queue().put_back(batch);
                let wait = absence.failed("pushing scraped metrics", &error);
                tokio::time::sleep(wait).await;
            }
            Err(error) => {
                tracing::warn!(%error, "the server refused {} scraped samples: {error}", batch.len());
                outbox.queue().drop_counted(batch.len());
            }
        }
    }
}

/// Whether a failed push is sent again: the server was not reached or answered 5xx (as
/// Prometheus' remote write retries).
fn retried(error: &ClientError) -> bool {
    error.is_transient() || error.status().is_some_and(|status| status >= 500)
}

#[cfg(test)]
mod tests;
