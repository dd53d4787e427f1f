//! The runner protocol: a runner registers, then claims jobs whose `runs-on` labels it has,
//! reports their steps and log lines in numbered batches, heartbeats to keep its lease, and
//! completes them. Runners pull; the server never dials them.
//!
//! | call | body → answer |
//! |---|---|
//! | `POST /api/v1/runners` (admin token) | [`RunnerRegistration`] → [`RegisteredRunner`] |
//! | `POST /api/v1/runner/claim` (runner token) | [`ClaimRequest`] → [`JobAssignment`], or 204 when none came in time |
//! | `POST /api/v1/runner/jobs/{id}/events` | [`EventBatch`] → [`JobControl`] |
//! | `POST /api/v1/runner/jobs/{id}/heartbeat` | → [`JobControl`] |
//! | `POST /api/v1/runner/jobs/{id}/complete` | [`JobCompletion`] → 204 |

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::Conclusion;

/// How long a claimed job's lease lasts without a heartbeat; a runner heartbeats at a third
/// of it. A job whose lease ran out is failed as "runner lost".
pub const LEASE_MS: i64 = 15_000;

/// A runner introducing itself; registering a name again replaces its token, and the jobs
/// the old one held are failed as lost (the runner restarted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunnerRegistration {
    /// Unique across the server: 1 to 100 letters, digits, `.`, `_` or `-`.
    pub name: String,
    /// The labels it offers; a job is claimable when every label of its `runs-on` is here
    /// (ignoring case).
    pub labels: Vec<String>,
}

/// A registered runner and its token, shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegisteredRunner {
    pub id: i64,
    pub name: String,
    /// `ferryr_<prefix>_<secret>`: the runner's credential for the protocol calls.
    pub token: String,
}

/// A claim: wait up to `wait_ms` (at most 30 000) for a job to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct ClaimRequest {
    #[serde(default)]
    pub wait_ms: u64,
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
    /// Where to fetch the repository from (a path or URL git can clone).
    pub repo: String,
    /// The commit to check out.
    pub sha: String,
    /// The lease runs out this many milliseconds after the last heartbeat.
    pub lease_ms: i64,
}

/// What a runner reports about a step, in order.
// Read through `FlatStepEvent`: serde reads an internally tagged enum by first buffering each
// event whole, which doubled the cost of reading a batch of log lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "FlatStepEvent")]
pub enum StepEvent {
    StepStarted {
        step_idx: i64,
        name: String,
        at: i64,
    },
    /// Masked log lines, without line ends.
    Lines {
        step_idx: i64,
        lines: Vec<String>,
    },
    StepFinished {
        step_idx: i64,
        #[schema(value_type = String)]
        outcome: Conclusion,
        #[schema(value_type = String)]
        conclusion: Conclusion,
        at: i64,
    },
}

/// A [`StepEvent`] as it is read: every field of every kind, the kind's own checked after.
#[derive(Deserialize)]
struct FlatStepEvent {
    #[serde(rename = "type")]
    kind: StepEventKind,
    step_idx: i64,
    name: Option<String>,
    at: Option<i64>,
    lines: Option<Vec<String>>,
    outcome: Option<Conclusion>,
    conclusion: Option<Conclusion>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum StepEventKind {
    StepStarted,
    Lines,
    StepFinished,
}

impl TryFrom<FlatStepEvent> for StepEvent {
    type Error = String;

    fn try_from(flat: FlatStepEvent) -> Result<StepEvent, String> {
        let FlatStepEvent { kind, step_idx, name, at, lines, outcome, conclusion } = flat;
        let missing = |field: &str, kind: &str| format!("missing field `{field}` in a `{kind}` event");
        let event = match kind {
            StepEventKind::StepStarted => StepEvent::StepStarted {
                step_idx,
                name: name.ok_or_else(|| missing("name", "step_started"))?,
                at: at.ok_or_else(|| missing("at", "step_started"))?,
            },
            StepEventKind::Lines => {
                StepEvent::Lines { step_idx, lines: lines.ok_or_else(|| missing("lines", "lines"))? }
            }
            StepEventKind::StepFinished => StepEvent::StepFinished {
                step_idx,
                outcome: outcome.ok_or_else(|| missing("outcome", "step_finished"))?,
                conclusion: conclusion.ok_or_else(|| missing("conclusion", "step_finished"))?,
                at: at.ok_or_else(|| missing("at", "step_finished"))?,
            },
        };
        Ok(event)
    }
}

/// A numbered batch of step events; numbers count up from 1 per job, and a batch whose
/// number was already applied is ignored (so a runner may resend after a lost answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventBatch {
    pub seq: i64,
    pub events: Vec<StepEvent>,
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
    #[schema(value_type = String)]
    pub conclusion: Conclusion,
    /// The job's `outputs:`, evaluated.
    #[schema(value_type = Object)]
    pub outputs: Map<String, Value>,
    /// Why it failed outside its steps (the workspace could not be made), if it did.
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests;
