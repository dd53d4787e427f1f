//! Sending commit status requests over HTTP or HTTPS (rustls, with the Mozilla roots that
//! webpki-roots embeds), with a short time-out and one retry, and keeping each run's reports
//! in the order they were made.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, Request};
use tokio::task::JoinHandle;

use super::request::StatusRequest;
use crate::outbound::chain;

/// How long one attempt may take, answer included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long making a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait before the one retry.
const RETRY_DELAY: Duration = Duration::from_secs(2);
/// How much of the forge's answer is read, to be logged.
const ANSWER_LIMIT: usize = 16 * 1024;
/// How much of it a log line shows.
const ANSWER_SHOWN: usize = 300;

/// The forges' HTTP client and the reports still in flight. One per server.
pub(crate) struct StatusSender {
    http: crate::outbound::Outbound,
    /// Each run's latest report until the run's conclusion is reported: the next one waits for
    /// it, so a slow or retried "pending" never lands after the run's "success".
    in_flight: Mutex<HashMap<i64, JoinHandle<()>>>,
}

/// Why a status did not reach the forge.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("the request cannot be sent: {0}")]
    BadRequest(&'static str),
    #[error("the forge answered {status}: {answer}")]
    Refused { status: u16, answer: String },
    #[error("the forge could not be reached: {0}")]
    Unreachable(String),
    #[error("the forge did not answer within {}s", ATTEMPT_TIMEOUT.as_secs())]
    TimedOut,
}

impl SendError {
    /// Whether trying again may help: the forge was down, slow or overloaded.
    fn is_transient(&self) -> bool {
        match self {
            SendError::Refused { status, .. } => *status >= 500 || *status == 429,
            SendError::Unreachable(_) | SendError::TimedOut => true,
            SendError::BadRequest(_) => false,
        }
    }
}

impl StatusSender {
    pub(crate) fn new() -> StatusSender {
        StatusSender { http: crate::outbound::client(CONNECT_TIMEOUT), in_flight: Mutex::new(HashMap::new()) }
    }

    /// Runs `report` in the background once run `run_id`'s earlier reports are done; after
    /// the `concluded` one, the run is forgotten.
    pub(crate) fn in_order(&self, run_id: i64, concluded: bool, report: impl Future<Output = ()> + Send + 'static) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = in_flight.remove(&run_id);
        let task = tokio::spawn(async move {
            if let Some(previous) = previous {
                // A report that panicked is no reason to drop the next one.
                let _ = previous.await;
            }
            report.await;
        });
        if !concluded {
            in_flight.insert(run_id, task);
        }
    }

    /// Sends `request`, once more after [`RETRY_DELAY`] when the first failure may pass.
    ///
    /// # Errors
    /// [`SendError`] for the last attempt: the forge's status and answer when it refused.
    pub(crate) async fn send(&self, request: &StatusRequest) -> Result<(), SendError> {
        match self.attempt(request).await {
            Err(error) if error.is_transient() => {
                tracing::debug!(url = %request.url, %error, "retrying a commit status in {RETRY_DELAY:?}: {error}");
                tokio::time::sleep(RETRY_DELAY).await;
                self.attempt(request).await
            }
            res => res,
        }
    }

    async fn attempt(&self, request: &StatusRequest) -> Result<(), SendError> {
        let mut http_request = Request::builder().method(Method::POST).uri(&request.url);
        for (name, value) in &request.headers {
            // The value is the token for one of these headers: it stays out of the error.
            let value = HeaderValue::from_str(value)
                .map_err(|_| SendError::BadRequest("a header value has characters HTTP does not allow"))?;
            http_request = http_request.header(*name, value);
        }
        let http_request = http_request
            .body(Full::new(Bytes::from(request.body.clone())))
            .map_err(|_| SendError::BadRequest("the URL is not one HTTP can use"))?;
        let exchange = async {
            let response =
                self.http.request(http_request).await.map_err(|error| SendError::Unreachable(chain(&error)))?;
            let status = response.status();
            let answer = Limited::new(response.into_body(), ANSWER_LIMIT)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            if status.is_success() {
                return Ok(());
            }
            let answer = String::from_utf8_lossy(&answer);
            let shown: String = answer.chars().take(ANSWER_SHOWN).collect();
            Err(SendError::Refused { status: status.as_u16(), answer: shown })
        };
        tokio::time::timeout(ATTEMPT_TIMEOUT, exchange).await.unwrap_or(Err(SendError::TimedOut))
    }
}
