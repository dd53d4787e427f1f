//! The runner protocol: a runner registers, then claims jobs whose `runs-on` labels it has,
//! reports their steps and log lines in numbered batches, heartbeats to keep its lease, and
//! completes them. Runners pull; the server never dials them.
//!
//! | call | body → answer |
//! |---|---|
//! | `POST /api/v1/runners` (admin token) | [`RunnerRegistration`] → [`RegisteredRunner`] |
//! | `GET /api/v1/runners`, `DELETE /api/v1/runners/{id}` (admin token) | → [`RunnerView`]s, the revoked [`RunnerView`] |
//! | `POST /api/v1/runner/claim` (runner token) | [`ClaimRequest`] → [`JobAssignment`], or 204 when none came in time |
//! | `POST /api/v1/runner/jobs/{id}/events` | [`EventBatch`] ([`EVENT_BATCH_TYPE`]) → [`JobControl`] |
//! | `POST /api/v1/runner/jobs/{id}/heartbeat` | → [`JobControl`] |
//! | `POST /api/v1/runner/jobs/{id}/complete` | [`JobCompletion`] → 204 |

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::Conclusion;

/// How long a claimed job's lease lasts without a heartbeat; a runner heartbeats at a third
/// of it. A job whose lease ran out is failed as "runner lost".
pub const LEASE_MS: i64 = 15_000;

/// The longest a claim waits for a job (`ClaimRequest::wait_ms`); the document's `maximum`
/// says the same, and a test checks it.
pub const MAX_CLAIM_WAIT_MS: u64 = 30_000;

/// A runner introducing itself; registering a name again replaces its token, and the jobs
/// the old one held are failed as lost (the runner restarted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunnerRegistration {
    /// Unique across the server: 1 to 100 letters, digits, `.`, `_` or `-`.
    #[schema(value_type = crate::names::Name)]
    pub name: String,
    /// The labels it offers; a job is claimable when every label of its `runs-on` is here
    /// (ignoring case).
    pub labels: Vec<String>,
    /// The projects whose jobs it may claim, by name; left out or `null`: every project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1)]
    pub projects: Option<Vec<String>>,
}

/// A registered runner and its token, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegisteredRunner {
    pub id: i64,
    pub name: String,
    /// `ferryr_<prefix>_<secret>`: the runner's credential for the protocol calls.
    pub token: String,
}

/// A runner as `GET /api/v1/runners` lists it (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunnerView {
    pub id: i64,
    pub name: String,
    pub labels: Vec<String>,
    /// The projects whose jobs it may claim, by name; `null`: every project.
    pub projects: Option<Vec<String>>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it last claimed or sent a heartbeat (milliseconds since the Unix epoch), if ever.
    pub last_seen_at: Option<i64>,
    /// When its token was revoked (milliseconds since the Unix epoch); `null` while it works.
    pub revoked_at: Option<i64>,
    /// The jobs it runs now.
    pub busy: Vec<RunnerJob>,
}

/// A job a runner runs now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunnerJob {
    pub job_id: i64,
    pub run_id: i64,
    /// The job's name (`build (linux)`).
    pub name: String,
}

/// A claim: wait up to `wait_ms` for a job to arrive.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct ClaimRequest {
    /// At most [`MAX_CLAIM_WAIT_MS`]; 0 answers at once.
    #[serde(default)]
    #[schema(maximum = 30_000)]
    pub wait_ms: u64,
    /// What the runner can do now beyond its labels; a job that needs a capability goes only
    /// to a runner that claims with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<Capability>,
}

/// Something a runner can do that depends on its host at the time it claims, not on labels
/// an administrator gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// It reaches a container engine: it runs `container:` jobs and `services:`.
    Docker,
}

impl Capability {
    /// How a job row requires it among its labels: a label no runner can register (it holds
    /// `:`), matched only by a claim with the capability.
    #[must_use]
    pub fn required_label(self) -> &'static str {
        match self {
            Capability::Docker => "capability:docker",
        }
    }
}

/// A job handed to a runner: everything it needs to run it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobAssignment {
    pub job_id: i64,
    pub run_id: i64,
    /// The job's id in the workflow.
    pub job_key: String,
    /// The name shown for this instance (`test (linux, 3)`).
    pub name: String,
    /// The workflow file as shown in messages.
    pub workflow_file: String,
    /// The workflow's text at the run's commit.
    pub workflow_src: String,
    /// The fixed contexts the job sees (`github`, `inputs`, `vars`, `needs`, `matrix`,
    /// `strategy`), without `secrets`.
    #[schema(value_type = Object)]
    pub contexts: Map<String, Value>,
    /// The project's secrets, decrypted, for `secrets.*`; the runner masks them.
    pub secrets: Map<String, Value>,
    /// Where to fetch the repository from (a path or URL git can clone), never with a
    /// credential in it.
    pub repo: String,
    /// The credential git fetches `repo` with, when the project has one (its
    /// `FERRY_REPO_TOKEN` secret: `TOKEN` or `USER:PASSWORD`). The runner gives it to git as a
    /// header ([`git_auth_env`]), never in a URL, an argument or a step's environment, and
    /// masks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_credential: Option<String>,
    /// The commit to check out.
    pub sha: String,
    /// The lease runs out this many milliseconds after the last heartbeat.
    pub lease_ms: i64,
    /// Where the job's steps reach the runtime services (the cache service `@actions/cache`
    /// speaks) and their token, valid while this job runs; absent from older servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<crate::runtime::RuntimeAccess>,
}

/// The environment that gives git `credential` (a [`JobAssignment::repo_credential`]: `TOKEN`,
/// sent as the password of the user `x-access-token`, which GitHub, Gitea, Forgejo and GitLab
/// accept for an access token, or `USER:PASSWORD`) for requests to `url` only, as an HTTP
/// Basic `Authorization` header: git reads it from its environment, so it is never in an
/// argument `ps` shows nor in a repository's config.
pub fn git_auth_env(url: &str, credential: &str) -> [(&'static str, String); 3] {
    use base64::Engine as _;
    let credential = credential.trim();
    let user_password =
        if credential.contains(':') { credential.to_owned() } else { format!("x-access-token:{credential}") };
    let basic = base64::engine::general_purpose::STANDARD.encode(user_password);
    [
        ("GIT_CONFIG_COUNT", "1".to_owned()),
        ("GIT_CONFIG_KEY_0", format!("http.{url}.extraHeader")),
        ("GIT_CONFIG_VALUE_0", format!("Authorization: Basic {basic}")),
    ]
}

/// What a runner reports about a step, in order. `T` is a `lines` event's text: owned
/// (`String`) where a batch is made, borrowed from the request body (`&str`) where it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepEvent<T = String> {
    StepStarted {
        step_idx: i64,
        name: String,
        at: i64,
    },
    /// Masked log lines, each ending in `\n`.
    Lines {
        step_idx: i64,
        text: T,
    },
    StepFinished {
        step_idx: i64,
        outcome: Conclusion,
        conclusion: Conclusion,
        at: i64,
    },
}

/// A numbered batch of step events; numbers count up from 1 per job, and a batch whose
/// number was already applied is ignored (so a runner may resend after a lost answer).
///
/// On the wire ([`EVENT_BATCH_TYPE`]) a batch is its [`EventBatchHead`] as one line of JSON,
/// then the text of each `lines` event, back to back: log text travels as it was written,
/// without being quoted and unquoted line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBatch<T = String> {
    pub seq: i64,
    pub events: Vec<StepEvent<T>>,
}

/// The content type of an encoded [`EventBatch`].
pub const EVENT_BATCH_TYPE: &str = "application/vnd.ferry.event-batch";

/// The first line of an encoded [`EventBatch`]: the batch with each `lines` event's text
/// replaced by its length, the text following the line in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventBatchHead {
    /// Counts up from 1 per job; a batch whose number was already applied is ignored, so a
    /// runner may resend after a lost answer.
    pub seq: i64,
    pub events: Vec<EventHead>,
}

/// A [`StepEvent`] in an [`EventBatchHead`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventHead {
    StepStarted {
        step_idx: i64,
        name: String,
        at: i64,
    },
    /// `bytes` of log text follow the head: UTF-8, lines each ending in `\n`.
    Lines {
        step_idx: i64,
        /// At most 2 MiB, the limit of a whole request body.
        #[schema(maximum = 2_097_152)]
        bytes: u64,
    },
    StepFinished {
        step_idx: i64,
        #[schema(value_type = crate::names::ConclusionWord)]
        outcome: Conclusion,
        #[schema(value_type = crate::names::ConclusionWord)]
        conclusion: Conclusion,
        at: i64,
    },
}

impl<T: AsRef<str>> EventBatch<T> {
    /// The batch as [`EVENT_BATCH_TYPE`] bytes.
    pub fn encode(&self) -> Vec<u8> {
        let events = self
            .events
            .iter()
            .map(|event| match event {
                StepEvent::StepStarted { step_idx, name, at } => {
                    EventHead::StepStarted { step_idx: *step_idx, name: name.clone(), at: *at }
                }
                StepEvent::Lines { step_idx, text } => EventHead::Lines {
                    step_idx: *step_idx,
                    bytes: u64::try_from(text.as_ref().len()).unwrap_or(u64::MAX),
                },
                StepEvent::StepFinished { step_idx, outcome, conclusion, at } => {
                    EventHead::StepFinished { step_idx: *step_idx, outcome: *outcome, conclusion: *conclusion, at: *at }
                }
            })
            .collect();
        let head = EventBatchHead { seq: self.seq, events };
        let mut body = serde_json::to_vec(&head).expect("a batch head is plain JSON");
        body.push(b'\n');
        for event in &self.events {
            if let StepEvent::Lines { text, .. } = event {
                body.extend_from_slice(text.as_ref().as_bytes());
            }
        }
        body
    }
}

impl<'a> EventBatch<&'a str> {
    /// Reads an [`EVENT_BATCH_TYPE`] body; the texts borrow from it.
    ///
    /// # Errors
    /// What is wrong with the body, for a 400: no head line, a head that is not an
    /// [`EventBatchHead`], texts that are not UTF-8, do not end a line or do not add up to
    /// what follows the head.
    pub fn decode(body: &'a [u8]) -> Result<EventBatch<&'a str>, BatchError> {
        let head_end = body.iter().position(|&byte| byte == b'\n').ok_or(BatchError::NoHeadLine)?;
        let head: EventBatchHead =
            serde_json::from_slice(&body[..head_end]).map_err(|error| BatchError::Head(error.to_string()))?;
        let mut rest = &body[head_end + 1..];
        let mut events = Vec::with_capacity(head.events.len());
        for (idx, event) in head.events.into_iter().enumerate() {
            events.push(match event {
                EventHead::StepStarted { step_idx, name, at } => StepEvent::StepStarted { step_idx, name, at },
                EventHead::Lines { step_idx, bytes } => {
                    let len = usize::try_from(bytes)
                        .ok()
                        .filter(|&len| len <= rest.len())
                        .ok_or(BatchError::TextMissing { idx, bytes, left: rest.len() })?;
                    let (text, after) = rest.split_at(len);
                    rest = after;
                    let text = std::str::from_utf8(text).map_err(|error| BatchError::NotUtf8 { idx, error })?;
                    if !text.is_empty() && !text.ends_with('\n') {
                        return Err(BatchError::NoLineEnd { idx });
                    }
                    StepEvent::Lines { step_idx, text }
                }
                EventHead::StepFinished { step_idx, outcome, conclusion, at } => {
                    StepEvent::StepFinished { step_idx, outcome, conclusion, at }
                }
            });
        }
        if !rest.is_empty() {
            return Err(BatchError::Trailing(rest.len()));
        }
        Ok(EventBatch { seq: head.seq, events })
    }
}

/// What is wrong with an [`EVENT_BATCH_TYPE`] body ([`EventBatch::decode`]); the message is
/// the server's 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("an event batch starts with a line of JSON (its head), and this body has no line end")]
    NoHeadLine,
    #[error("the event batch's head (its first line): {0}")]
    Head(String),
    #[error("event {idx} of the head says {bytes} bytes of lines follow, but only {left} bytes are left")]
    TextMissing { idx: usize, bytes: u64, left: usize },
    #[error("the lines of event {idx} are not UTF-8: {error}")]
    NotUtf8 { idx: usize, error: std::str::Utf8Error },
    #[error("the lines of event {idx} do not end with a line end (`\\n`)")]
    NoLineEnd { idx: usize },
    #[error("{0} bytes follow the texts the head announces")]
    Trailing(usize),
}

/// The server's word to a runner working on a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JobControl {
    /// Stop the job (it was cancelled) and complete it as `cancelled`.
    pub cancel: bool,
}

/// How a job ended on the runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobCompletion {
    #[schema(value_type = crate::names::ConclusionWord)]
    pub conclusion: Conclusion,
    /// The job's `outputs:`, evaluated.
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    /// Why it failed outside its steps (the workspace could not be made), if it did.
    pub reason: Option<String>,
    /// The job's `environment.url`, evaluated after its steps (as GitHub does, so it may use
    /// `steps.*`); absent when the job has none, it evaluates empty, or it holds a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_url: Option<String>,
}

#[cfg(test)]
mod tests;
