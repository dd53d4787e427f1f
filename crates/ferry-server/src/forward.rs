//! Forwarding to a Prometheus-compatible remote-write endpoint (`[metrics.remote_write]` of
//! `ferry.toml`: Prometheus with `--web.enable-remote-write-receiver`, Mimir,
//! VictoriaMetrics): every sample the server stores — scraped, received by remote write,
//! pushed by agents, recorded by rules — is queued here too and sent in remote-write 1.0
//! batches through the server's outbound client, as Prometheus' queue manager sends them:
//!
//! - a batch goes when it holds [`MAX_BATCH`] samples or its oldest waited [`BATCH_WAIT`];
//! - no answer, a 5xx or a 429 keeps the batch in front and retries it after a backoff that
//!   doubles from [`MIN_BACKOFF`] to [`MAX_BACKOFF`];
//! - any other 4xx drops the batch (the endpoint will never take it) and counts it;
//! - the queue holds at most `queue` samples; beyond it the oldest are dropped and counted.
//!
//! `/metrics` shows `ferry_remote_write_samples_sent_total`,
//! `ferry_remote_write_samples_dropped_total` and `ferry_remote_write_samples_pending`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::http::{HeaderValue, Request, StatusCode, header};
use ferry_promql::Labels;
use ferry_promql::remote_write::Queue;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use tokio::sync::Notify;

use crate::outbound::{Outbound, chain};

/// The most samples one request carries (Prometheus' `max_samples_per_send` is 2000).
pub const MAX_BATCH: usize = 2_000;
/// How long a sample waits for its batch to fill (Prometheus' `batch_send_deadline`, 5 s).
pub const BATCH_WAIT: Duration = Duration::from_secs(5);
/// The first pause after a failed send.
pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause between two tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long one request may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The default bound of the queue, in samples.
pub const DEFAULT_QUEUE: usize = 100_000;

/// Where and how the server forwards what it stores (`[metrics.remote_write]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteWriteConfig {
    /// The endpoint, `http://` or `https://` (`http://prometheus:9090/api/v1/write`).
    pub url: String,
    /// The credentials sent with every request, if any.
    pub auth: Option<RemoteAuth>,
    /// The most samples waiting to be sent; beyond it the oldest are dropped.
    pub queue: usize,
}

/// How the server proves who it is to the endpoint.
#[derive(Clone, PartialEq, Eq)]
pub enum RemoteAuth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// HTTP Basic.
    Basic { username: String, password: String },
}

impl std::fmt::Debug for RemoteAuth {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials stay out of logs.
        match self {
            RemoteAuth::Bearer(_) => formatter.write_str("Bearer(…)"),
            RemoteAuth::Basic { username, .. } => write!(formatter, "Basic {{ username: {username:?}, password: … }}"),
        }
    }
}

impl RemoteAuth {
    /// The `Authorization` header's value, marked sensitive; `None` when it cannot be a
    /// header (a control character in the token).
    fn header(&self) -> Option<HeaderValue> {
        use base64::Engine as _;
        let text = match self {
            RemoteAuth::Bearer(token) => format!("Bearer {}", token.trim()),
            RemoteAuth::Basic { username, password } => {
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")))
            }
        };
        let mut value = HeaderValue::from_str(&text).ok()?;
        value.set_sensitive(true);
        Some(value)
    }
}

/// The samples waiting to be forwarded and what became of the others.
#[derive(Debug)]
pub(crate) struct Forwarder {
    queue: Mutex<Queue>,
    wake: Notify,
    sent: AtomicU64,
}

impl Forwarder {
    pub(crate) fn new(capacity: usize) -> Forwarder {
        Forwarder { queue: Mutex::new(Queue::new(capacity)), wake: Notify::new(), sent: AtomicU64::new(0) }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues samples the server stored.
    pub(crate) fn offer(&self, samples: &[(Labels, i64, f64)]) {
        if samples.is_empty() {
            return;
        }
        self.queue().push(samples.iter().cloned());
        self.wake.notify_one();
    }

    /// Samples sent, dropped, and waiting.
    pub(crate) fn counts(&self) -> (u64, u64, usize) {
        let queue = self.queue();
        (self.sent.load(Ordering::Relaxed), queue.dropped(), queue.len())
    }
}

/// Why a batch was not taken.
#[derive(Debug, thiserror::Error)]
enum SendError {
    /// Worth trying again: no answer, a 5xx or a 429.
    #[error("{0}")]
    Retry(String),
    /// The endpoint will never take it.
    #[error("{0}")]
    Refused(String),
}

/// Sends what `forwarder` queues to `config.url` until `shutting_down` turns true.
pub(crate) fn spawn(
    forwarder: Arc<Forwarder>,
    config: RemoteWriteConfig,
    http: Outbound,
    mut shutting_down: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        tokio::select! {
            () = send_loop(&forwarder, &config, &http) => {}
            _ = shutting_down.wait_for(|stopping| *stopping) => {}
        }
    });
}

async fn send_loop(forwarder: &Forwarder, config: &RemoteWriteConfig, http: &Outbound) {
    let authorization = config.auth.as_ref().and_then(RemoteAuth::header);
    let mut backoff = MIN_BACKOFF;
    let mut failing = false;
    loop {
        if forwarder.queue().is_empty() {
            forwarder.wake.notified().await;
        }
        // Let the batch fill up, unless it is full already.
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while forwarder.queue().len() < MAX_BATCH {
            tokio::select! {
                () = forwarder.wake.notified() => {}
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        let batch = forwarder.queue().take(MAX_BATCH);
        let n = batch.len();
        match send(http, &config.url, authorization.as_ref(), &batch).await {
            Ok(()) => {
                forwarder.sent.fetch_add(n as u64, Ordering::Relaxed);
                backoff = MIN_BACKOFF;
                if failing {
                    tracing::info!(url = %config.url, "remote write to {} works again", config.url);
                    failing = false;
                }
            }
            Err(SendError::Retry(reason)) => {
                if !failing {
                    tracing::warn!(url = %config.url, %reason, "remote write to {} failed, retrying: {reason}", config.url);
                    failing = true;
                }
                forwarder.queue().put_back(batch);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(SendError::Refused(reason)) => {
                tracing::warn!(url = %config.url, %reason, "remote write to {} refused {n} samples, dropped: {reason}", config.url);
                forwarder.queue().drop_counted(n);
            }
        }
    }
}

/// One request with `batch`.
async fn send(
    http: &Outbound,
    url: &str,
    authorization: Option<&HeaderValue>,
    batch: &[(Labels, i64, f64)],
) -> Result<(), SendError> {
    let mut request = Request::post(url)
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .header(header::CONTENT_ENCODING, "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .header(header::USER_AGENT, concat!("ferry/", env!("CARGO_PKG_VERSION")))
        .body(Full::new(Bytes::from(ferry_promql::remote_write::encode(batch))))
        .map_err(|error| SendError::Refused(format!("the URL cannot be used: {error}")))?;
    if let Some(authorization) = authorization {
        request.headers_mut().insert(header::AUTHORIZATION, authorization.clone());
    }
    let exchange = async {
        let response = http.request(request).await.map_err(|error| SendError::Retry(chain(&error)))?;
        let status = response.status();
        // The answer's first words say why, as Prometheus logs them.
        let body = response.into_body().collect().await.map(|body| body.to_bytes()).unwrap_or_default();
        let said = String::from_utf8_lossy(&body[..body.len().min(256)]).trim().to_owned();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Err(SendError::Retry(format!("server returned HTTP status {status}: {said}")))
        } else {
            Err(SendError::Refused(format!("server returned HTTP status {status}: {said}")))
        }
    };
    tokio::time::timeout(SEND_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err(SendError::Retry(format!("no answer within {SEND_TIMEOUT:?}"))))
}
