//! A typed client for a Ferry server's HTTP API and runner protocol, over the wire types of
//! `ferry-proto`; the CLI's client commands and the runner speak to the server through it.
//!
//! It speaks plain HTTP/1.1 only. A server reached over a network belongs behind a reverse
//! proxy that terminates TLS; the client talks to it at its `http://` address (on loopback
//! or a private network) until Ferry speaks TLS itself.
//!
//! Every request carries `Authorization: Bearer <token>`. An answer outside 2xx becomes
//! [`ClientError::Http`] with the status and the message of the server's `{"error": …}`
//! body; connection problems and time-outs are [`ClientError::is_transient`].

mod agent;
mod alerts;
mod artifacts;
mod deployments;
mod dora;
mod error;
mod logs;
mod metrics;
mod releases;
mod slos;
pub mod sse;

use std::error::Error as _;
use std::time::Duration;

use ferry_proto::log_stream::LOG_STREAM_TYPE;
use ferry_proto::runner::{
    Capability, ClaimRequest, EVENT_BATCH_TYPE, EventBatch, JobAssignment, JobCompletion, JobControl, RegisteredRunner,
    RunnerRegistration, RunnerView,
};
use ferry_proto::runs::{RerunRequest, RunDetail, RunView, TriggerRequest, TriggeredRuns};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub use deployments::DeploymentEvents;
pub use dora::DoraQuery;
pub use error::ClientError;
pub use logs::{LogChunkRef, LogStream, RawChunk};

/// How long an ordinary call may take, answer included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long making a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How much longer than the wait it asked for a claim may take before it counts as lost.
const CLAIM_GRACE: Duration = Duration::from_secs(10);

/// A connection pool to one Ferry server, with one token. Cheap to clone; clones share the
/// pool.
#[derive(Clone)]
pub struct Client {
    /// `http://host:port` and any path prefix, without a trailing `/`.
    base: String,
    authorization: HeaderValue,
    http: HttpClient<HttpConnector, RequestBody>,
}

/// What a request carries: JSON in memory, or a file's bytes as they are read.
type RequestBody = BoxBody<Bytes, std::io::Error>;

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token stays out of logs and panics.
        f.debug_struct("Client").field("base", &self.base).finish_non_exhaustive()
    }
}

impl Client {
    /// A client for the server at `base_url` (`http://host:port`, optionally with a path
    /// prefix when a proxy serves Ferry below one) sending `token`.
    ///
    /// # Errors
    /// [`ClientError::BadUrl`] for anything but an `http://` URL with a host (`https://`
    /// included: TLS belongs to a reverse proxy for now), [`ClientError::BadToken`] for a
    /// token that cannot be a header value.
    pub fn new(base_url: &str, token: &str) -> Result<Client, ClientError> {
        let bad = |reason: &str| ClientError::BadUrl { url: base_url.to_owned(), reason: reason.to_owned() };
        let uri: hyper::Uri = base_url.parse().map_err(|_| bad("write it as http://HOST:PORT"))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(bad(
                    "Ferry's client speaks plain HTTP only; TLS belongs to a reverse proxy in front of the server, \
                     so use the server's own http:// address",
                ));
            }
            _ => return Err(bad("write it as http://HOST:PORT")),
        }
        if uri.authority().is_none() {
            return Err(bad("it names no host"));
        }
        if uri.query().is_some() {
            return Err(bad("a server address takes no `?query`"));
        }
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", token.trim())).map_err(|_| ClientError::BadToken)?;
        authorization.set_sensitive(true);
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let http = HttpClient::builder(TokioExecutor::new()).build(connector);
        Ok(Client { base: base_url.trim_end_matches('/').to_owned(), authorization, http })
    }

    /// The server's address as given, without a trailing `/`.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `POST /api/v1/runners` (admin token): registers a runner, or replaces the token of one
    /// with this name (the jobs it held fail as lost).
    ///
    /// # Errors
    /// Any [`ClientError`]; 401/403 when the token is not an admin's, 400 for a bad name.
    pub async fn register_runner(&self, registration: &RunnerRegistration) -> Result<RegisteredRunner, ClientError> {
        self.json(Method::POST, "/api/v1/runners", Some(registration)).await
    }

    /// `GET /api/v1/runners` (admin token): every runner, revoked ones included.
    ///
    /// # Errors
    /// Any [`ClientError`]; 401/403 when the token is not an admin's for all projects.
    pub async fn list_runners(&self) -> Result<Vec<RunnerView>, ClientError> {
        self.json(Method::GET, "/api/v1/runners", None::<&()>).await
    }

    /// `DELETE /api/v1/runners/{id}` (admin token): revokes the runner's token; the jobs it
    /// runs fail at once as lost.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such runner.
    pub async fn revoke_runner(&self, id: i64) -> Result<RunnerView, ClientError> {
        self.json(Method::DELETE, &format!("/api/v1/runners/{id}"), None::<&()>).await
    }

    /// `POST /api/v1/runner/claim`: waits up to `wait_ms` (the server holds a claim at most
    /// 30 s) for a job this runner's labels match; `None` when none came in time.
    ///
    /// # Errors
    /// Any [`ClientError`]; 401 when the token is not a runner's.
    pub async fn claim(&self, wait_ms: u64, capabilities: &[Capability]) -> Result<Option<JobAssignment>, ClientError> {
        let timeout = Duration::from_millis(wait_ms) + CLAIM_GRACE;
        let path = "/api/v1/runner/claim";
        let request = ClaimRequest { wait_ms, capabilities: capabilities.to_vec() };
        let (status, body) = self.call(Method::POST, path, Some(&request), timeout).await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        decode(&Method::POST, path, &body).map(Some)
    }

    /// `POST /api/v1/runner/jobs/{id}/events`: reports a numbered batch of step events; a
    /// batch whose number was applied before is ignored, so resending one is safe.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 or 409 when the job is no longer this runner's (it was failed
    /// as lost, or completed): stop it and do not complete it.
    pub async fn send_events(&self, job_id: i64, batch: &EventBatch) -> Result<JobControl, ClientError> {
        let path = format!("/api/v1/runner/jobs/{job_id}/events");
        let upload = Upload::bytes(batch.encode(), EVENT_BATCH_TYPE);
        let (_, body) = self.exchange(Method::POST, &path, Some(upload), CALL_TIMEOUT).await?;
        decode(&Method::POST, &path, &body)
    }

    /// `POST /api/v1/runner/jobs/{id}/heartbeat`: extends the job's lease.
    ///
    /// # Errors
    /// As [`Client::send_events`].
    pub async fn heartbeat(&self, job_id: i64) -> Result<JobControl, ClientError> {
        self.json(Method::POST, &format!("/api/v1/runner/jobs/{job_id}/heartbeat"), None::<&()>).await
    }

    /// `POST /api/v1/runner/jobs/{id}/complete`.
    ///
    /// # Errors
    /// As [`Client::send_events`]; 409 also when it was completed before.
    pub async fn complete(&self, job_id: i64, completion: &JobCompletion) -> Result<(), ClientError> {
        let path = format!("/api/v1/runner/jobs/{job_id}/complete");
        self.call(Method::POST, &path, Some(completion), CALL_TIMEOUT).await.map(drop)
    }

    /// `POST /api/v1/projects`: creates a project; answers it as the server shows it.
    ///
    /// # Errors
    /// Any [`ClientError`]; 409 when the name is taken, 400 for a bad name or no repository.
    pub async fn create_project(
        &self,
        name: &str,
        repo: &str,
        branch: Option<&str>,
        webhook_secret: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut body = json!({"name": name, "repo": repo});
        if let Some(branch) = branch {
            body["branch"] = Value::from(branch);
        }
        if let Some(secret) = webhook_secret {
            body["webhook_secret"] = Value::from(secret);
        }
        self.json(Method::POST, "/api/v1/projects", Some(&body)).await
    }

    /// `PUT /api/v1/projects/{name}/secrets/{key}`: sets a secret, stored encrypted.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such project, 400 for a bad key.
    pub async fn set_secret(&self, project: &str, key: &str, value: &str) -> Result<(), ClientError> {
        let path = format!("/api/v1/projects/{}/secrets/{}", segment(project), segment(key));
        self.call(Method::PUT, &path, Some(&json!({"value": value})), CALL_TIMEOUT).await.map(drop)
    }

    /// `PUT /api/v1/projects/{name}/vars/{key}`: sets a configuration variable.
    ///
    /// # Errors
    /// As [`Client::set_secret`].
    pub async fn set_var(&self, project: &str, key: &str, value: &str) -> Result<(), ClientError> {
        let path = format!("/api/v1/projects/{}/vars/{}", segment(project), segment(key));
        self.call(Method::PUT, &path, Some(&json!({"value": value})), CALL_TIMEOUT).await.map(drop)
    }

    /// `POST /api/v1/login-links`: a one-time web UI login for this client's token.
    ///
    /// # Errors
    /// Any [`ClientError`].
    pub async fn login_link(&self) -> Result<ferry_proto::access::LoginLink, ClientError> {
        self.json(Method::POST, "/api/v1/login-links", None::<&()>).await
    }

    /// `POST /api/v1/projects/{name}/trigger`: starts the workflows a dispatch triggers.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such project.
    pub async fn trigger(&self, project: &str, request: &TriggerRequest) -> Result<TriggeredRuns, ClientError> {
        self.json(Method::POST, &format!("/api/v1/projects/{}/trigger", segment(project)), Some(request)).await
    }

    /// `GET /api/v1/projects/{name}/runs`.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such project.
    pub async fn list_runs(&self, project: &str) -> Result<Vec<RunView>, ClientError> {
        self.list_runs_where(project, &RunQuery::default()).await
    }

    /// `GET /api/v1/projects/{name}/runs?…`: a page of the project's runs that match `query`,
    /// newest first.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such project, 400 for a status that is none.
    pub async fn list_runs_where(&self, project: &str, query: &RunQuery) -> Result<Vec<RunView>, ClientError> {
        let mut path = format!("/api/v1/projects/{}/runs", segment(project));
        let numbers = [("before", query.before), ("limit", query.limit)];
        let texts = [
            ("status", &query.status),
            ("branch", &query.branch),
            ("workflow", &query.workflow),
            ("event", &query.event),
        ];
        let params: Vec<String> = numbers
            .into_iter()
            .filter_map(|(key, value)| Some(format!("{key}={}", value?)))
            .chain(texts.into_iter().filter_map(|(key, value)| Some(format!("{key}={}", segment(value.as_deref()?)))))
            .collect();
        if !params.is_empty() {
            path.push('?');
            path.push_str(&params.join("&"));
        }
        self.json(Method::GET, &path, None::<&()>).await
    }

    /// `GET /api/v1/runs/{id}`: a run with its jobs and steps.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such run.
    pub async fn get_run(&self, run_id: i64) -> Result<RunDetail, ClientError> {
        self.json(Method::GET, &format!("/api/v1/runs/{run_id}"), None::<&()>).await
    }

    /// `POST /api/v1/runs/{id}/cancel`: asks for the run to stop.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such run.
    pub async fn cancel_run(&self, run_id: i64) -> Result<RunView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/runs/{run_id}/cancel"), None::<&()>).await
    }

    /// `POST /api/v1/runs/{id}/approve`: lets a run of a pull request from a fork, waiting for
    /// approval, start.
    ///
    /// # Errors
    /// Any [`ClientError`]; 403 for the pull request's author or a viewer, 404 when there is no
    /// such run, 409 when it is not waiting for approval.
    pub async fn approve_run(&self, run_id: i64) -> Result<RunView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/runs/{run_id}/approve"), None::<&()>).await
    }

    /// `PATCH /api/v1/projects/{name}`: sets whether runs of pull requests from forks wait for
    /// a developer's approval; returns the project.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such project.
    pub async fn set_require_approval(&self, project: &str, require: bool) -> Result<Value, ClientError> {
        let path = format!("/api/v1/projects/{}", segment(project));
        self.json(Method::PATCH, &path, Some(&json!({"require_approval": require}))).await
    }

    /// `POST /api/v1/runs/{id}/rerun`: starts a new run repeating this one.
    ///
    /// # Errors
    /// Any [`ClientError`]; 404 when there is no such run.
    pub async fn rerun(&self, run_id: i64, request: &RerunRequest) -> Result<RunView, ClientError> {
        self.json(Method::POST, &format!("/api/v1/runs/{run_id}/rerun"), Some(request)).await
    }

    /// `GET /api/v1/runs/{id}/logs`: the run's log chunks (of one job with `job_id`) in
    /// order, read as they come; with `follow`, the stream lasts until the run completes.
    ///
    /// # Errors
    /// Opening the stream: any [`ClientError`]; 404 when there is no such run.
    pub async fn logs(&self, run_id: i64, job_id: Option<i64>, follow: bool) -> Result<LogStream, ClientError> {
        let mut path = format!("/api/v1/runs/{run_id}/logs?follow={follow}");
        if let Some(job_id) = job_id {
            path.push_str(&format!("&job={job_id}"));
        }
        let response = self.send(Method::GET, &path, None, CALL_TIMEOUT).await?;
        let status = response.status();
        if !status.is_success() {
            let body = self.read_body(&Method::GET, &path, response.into_body(), CALL_TIMEOUT).await?;
            return Err(refusal(&Method::GET, &path, status, &body));
        }
        let framed =
            response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()) == Some(LOG_STREAM_TYPE);
        Ok(LogStream::new(self.base.clone(), path, response.into_body(), framed))
    }

    /// A call whose 2xx answer is a `T` as JSON.
    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let (_, bytes) = self.call(method.clone(), path, body, CALL_TIMEOUT).await?;
        decode(&method, path, &bytes)
    }

    /// Sends a request and reads its whole answer within `timeout`; an answer outside 2xx is
    /// [`ClientError::Http`].
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&impl Serialize>,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let body = match body {
            Some(body) => Some(Upload::bytes(
                serde_json::to_vec(body).map_err(|error| ClientError::Unexpected {
                    method: method.to_string(),
                    path: path.to_owned(),
                    message: format!("the request body cannot be written as JSON: {error}"),
                })?,
                "application/json",
            )),
            None => None,
        };
        self.exchange(method, path, body, timeout).await
    }

    /// Sends a request with an optional body and reads its whole answer within `timeout`; an
    /// answer outside 2xx is [`ClientError::Http`].
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<Upload>,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let started = tokio::time::Instant::now();
        let response = self.send(method.clone(), path, body, timeout).await?;
        let status = response.status();
        let left = timeout.saturating_sub(started.elapsed());
        let bytes = self.read_body(&method, path, response.into_body(), left).await?;
        if !status.is_success() {
            return Err(refusal(&method, path, status, &bytes));
        }
        Ok((status, bytes))
    }

    /// Sends a request and waits up to `timeout` for the answer's head.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Upload>,
        timeout: Duration,
    ) -> Result<Response<Incoming>, ClientError> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header(header::AUTHORIZATION, self.authorization.clone())
            // Log streams come framed where the server can (see `logs.rs`), else as events.
            .header(header::ACCEPT, "application/json, application/vnd.ferry.log-stream, text/event-stream");
        let body = match body {
            Some(upload) => {
                request = request.header(header::CONTENT_TYPE, upload.content_type);
                if let Some(length) = upload.length {
                    request = request.header(header::CONTENT_LENGTH, length);
                }
                upload.body
            }
            None => Full::new(Bytes::new()).map_err(|never| match never {}).boxed(),
        };
        let request = request
            .body(body)
            .map_err(|error| ClientError::BadUrl { url: format!("{}{path}", self.base), reason: error.to_string() })?;
        match tokio::time::timeout(timeout, self.http.request(request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => {
                let message = error_chain(&error);
                if error.is_connect() {
                    // hyper's own words ("client error (Connect)") say less than its causes.
                    let message = error.source().map_or(message, error_chain);
                    Err(ClientError::Unreachable { url: self.base.clone(), message })
                } else {
                    Err(ClientError::Connection { url: self.base.clone(), message })
                }
            }
            Err(_) => Err(self.timed_out(&method, path, timeout)),
        }
    }

    async fn read_body(
        &self,
        method: &Method,
        path: &str,
        body: Incoming,
        timeout: Duration,
    ) -> Result<Bytes, ClientError> {
        match tokio::time::timeout(timeout, body.collect()).await {
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(error)) => Err(ClientError::Connection { url: self.base.clone(), message: error_chain(&error) }),
            Err(_) => Err(self.timed_out(method, path, timeout)),
        }
    }

    fn timed_out(&self, method: &Method, path: &str, timeout: Duration) -> ClientError {
        ClientError::Timeout { url: self.base.clone(), method: method.to_string(), path: path.to_owned(), timeout }
    }
}

/// A request's body with its content type and, when known, its length.
struct Upload {
    body: RequestBody,
    content_type: &'static str,
    length: Option<u64>,
}

impl Upload {
    /// A body held whole in memory.
    fn bytes(bytes: Vec<u8>, content_type: &'static str) -> Self {
        let length = Some(bytes.len() as u64);
        Upload { body: Full::new(Bytes::from(bytes)).map_err(|never| match never {}).boxed(), content_type, length }
    }
}

fn decode<T: DeserializeOwned>(method: &Method, path: &str, body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|error| ClientError::Unexpected {
        method: method.to_string(),
        path: path.to_owned(),
        message: error.to_string(),
    })
}

/// The error of a refused call: the message of its `{"error": …}` body, else the body's text
/// (cut short), else the status's reason.
fn refusal(method: &Method, path: &str, status: StatusCode, body: &[u8]) -> ClientError {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
    }
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(body) => body.error,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("no reason given").to_owned()
            } else {
                text.chars().take(300).collect()
            }
        }
    };
    ClientError::Http { status: status.as_u16(), method: method.to_string(), path: path.to_owned(), message }
}

/// An error and its causes, `: `-separated; hyper's own text alone is often just "client
/// error (Connect)".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Which runs [`Client::list_runs_where`] asks for; `None` leaves a filter out.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    /// Runs numbered below this one (the next page after a run).
    pub before: Option<i64>,
    /// At most this many (the server's default is 50, its most 200).
    pub limit: Option<i64>,
    /// A status (`queued`, `in_progress`, `completed`) or conclusion (`success`, `failure`, …).
    pub status: Option<String>,
    pub branch: Option<String>,
    /// A workflow file's path or name.
    pub workflow: Option<String>,
    pub event: Option<String>,
}

/// A path segment, percent-encoded except for the characters URLs leave as they are.
fn segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

/// What a URL carries as it is (RFC 3986's unreserved characters); the rest is `%XX`.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

#[cfg(test)]
mod tests;
