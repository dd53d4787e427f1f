//! The deployments API's bodies: starting a deployment (`ferry deploy`), a deployment as the
//! API shows it (`ferry deployments`, `--wait --json`), approving one, rolling back, the
//! status of a project's environments (`ferry status`), what converging would change
//! (`ferry plan`) and a service's output (`ferry logs --project …`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::agent::{AgentEventKind, AnalysisFigures, DeploymentStep, LogStream};

/// `POST /api/v1/projects/{name}/deployments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentRequest {
    #[schema(value_type = crate::names::Name)]
    pub service: String,
    #[schema(value_type = crate::names::Name)]
    pub environment: String,
    /// The release's number; default: the newest that may go there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<i64>,
}

/// `POST /api/v1/projects/{name}/rollback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RollbackRequest {
    #[schema(value_type = crate::names::Name)]
    pub service: String,
    #[schema(value_type = crate::names::Name)]
    pub environment: String,
    /// The release to go back to; default: the one that succeeded there before the current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i64>,
}

/// `POST /api/v1/deployments/{id}/approve`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct ApprovalRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// Where a deployment is: `queued`, `waiting` (at a gate), `in_progress`, then `succeeded`,
/// `rolled_back`, `failed` or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentState {
    Queued,
    Waiting,
    InProgress,
    Succeeded,
    RolledBack,
    Failed,
    Cancelled,
}

impl DeploymentState {
    /// Whether nothing moves it any more.
    pub fn is_over(self) -> bool {
        !matches!(self, DeploymentState::Queued | DeploymentState::Waiting | DeploymentState::InProgress)
    }
}

/// A deployment. `outcome` is its state (the name `ferry deploy --json` prints). A workflow
/// job with `environment:` is one too: `service` is the job's id, `release` is null,
/// `strategy` is `job`, and `job`, `run`, `commit` and `url` say which job shipped what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentView {
    pub id: i64,
    pub project: String,
    pub service: String,
    pub environment: String,
    /// The release's number within its service; null for a workflow job's deployment.
    pub release: Option<i64>,
    pub strategy: String,
    pub outcome: DeploymentState,
    /// Why it waits or ended as it did, in words.
    pub reason: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// A token's name, `auto`, `promotion` or `rollback`; for a workflow job's, the run's actor.
    pub triggered_by: String,
    pub rollback_of: Option<i64>,
    pub is_rollback: bool,
    /// The agent that carries it out.
    pub agent: Option<String>,
    /// The commits the release brings (subjects with their short hashes).
    #[serde(default)]
    pub commits: Vec<String>,
    #[serde(default)]
    pub gates: Vec<GateView>,
    #[serde(default)]
    pub approvals: Vec<ApprovalView>,
    #[serde(default)]
    pub steps: Vec<DeploymentStep>,
    /// The new release's traffic and the measurements of `analysis.queries`, once there is
    /// either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<DeploymentAnalysis>,
    /// The workflow job that is this deployment (`environment:`), if it is one.
    #[serde(default)]
    pub job: Option<i64>,
    /// The run it came from: the job's, or the one that built the release.
    #[serde(default)]
    pub run: Option<i64>,
    /// The commit it ships.
    #[serde(default)]
    pub commit: Option<String>,
    /// Where the deployed thing can be seen (a job's `environment.url`).
    #[serde(default)]
    pub url: Option<String>,
    /// Every agent that carries it out (an environment whose `hosts:` match several), with
    /// its outcome there; empty for a workflow job's.
    #[serde(default)]
    pub hosts: Vec<DeploymentHostView>,
}

/// One agent's part of a deployment. It is `succeeded` there once its release passed its
/// verification on that host; a failure on another host then rolls it back (`cancelled`
/// there, the deployment `rolled_back`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentHostView {
    /// The agent's name.
    pub agent: String,
    pub outcome: DeploymentState,
    /// Why it ended as it did there, in words.
    pub reason: Option<String>,
    /// The agent's analysis figures, once the new release served a request there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisFigures>,
}

/// A deployment's analysis: the figures of the new release's traffic (zero until it served a
/// request) and, per query of `analysis.queries`, the server's measurements.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentAnalysis {
    #[serde(flatten)]
    pub figures: AnalysisFigures,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<QueryAnalysis>,
}

/// One query of `analysis.queries` while, and after, the server measures it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QueryAnalysis {
    pub name: String,
    pub phase: QueryPhase,
    /// The latest measurements, oldest first (at most 100; the counts below hold every one).
    pub measurements: Vec<Measurement>,
    pub successes: u32,
    pub failures: u32,
    pub inconclusives: u32,
    /// Why it failed, in words, once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The most measurements of one query a deployment keeps.
pub const MAX_MEASUREMENTS: usize = 100;

/// Where the measuring of a query is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueryPhase {
    /// Measured every interval while the deployment is under way.
    Running,
    /// It took its `count` of measurements within its limits.
    Successful,
    /// More measurements failed than its `failure-limit`: the deployment rolls back.
    Failed,
    /// More measurements were inconclusive than its `inconclusive-limit`: the deployment
    /// rolls back.
    Inconclusive,
}

/// One evaluation of a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Measurement {
    /// When it was evaluated (ms since the epoch, the server's clock).
    pub at: i64,
    /// The value that decided (of a vector, the first sample that failed, else the first);
    /// null without a sample or for NaN.
    pub value: Option<f64>,
    pub phase: MeasurementPhase,
    /// Why, in words (`0.12 >= 0.05`, `no samples`, the query's error).
    pub message: String,
}

/// How one measurement was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MeasurementPhase {
    Successful,
    Failed,
    Inconclusive,
}

/// A gate of a deployment: the rule, and whether and when it passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GateView {
    /// `branches`, `after` or `approvals`.
    pub kind: String,
    /// The rule, in words (`approvals: 1 by a developer who is not the release's author`).
    pub rule: String,
    pub passed: bool,
    /// Who passed it (approvers), when it took people.
    #[serde(default)]
    pub passed_by: Vec<String>,
    pub passed_at: Option<i64>,
}

/// An approval of a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalView {
    /// The approving token's name.
    pub by: String,
    pub comment: Option<String>,
    pub at: i64,
}

/// `GET /api/v1/projects/{name}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatusView {
    pub environments: Vec<EnvironmentStatus>,
}

/// One environment of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentStatus {
    pub name: String,
    pub services: Vec<ServiceStatus>,
}

/// One service in an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ServiceStatus {
    pub name: String,
    /// Where its proxy answers.
    pub url: String,
    /// The release that serves (the last that succeeded there).
    pub release: Option<i64>,
    pub replicas: Vec<ReplicaHealth>,
    /// The agent it runs on, and whether that agent reported lately.
    pub agent: Option<String>,
    pub agent_gone: bool,
    /// The deployment under way or waiting, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<DeploymentView>,
    /// The latest events (crashes, drift, health, errors), newest first.
    #[serde(default)]
    pub events: Vec<ServiceEventView>,
}

/// One replica, as its agent last reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplicaHealth {
    pub release: i64,
    pub healthy: bool,
}

/// Something that happened to a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceEventView {
    pub at: i64,
    pub kind: AgentEventKind,
    pub message: String,
}

/// `GET /api/v1/projects/{name}/plan`: what converging an environment would change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlanView {
    pub environment: String,
    pub changes: Vec<PlanChange>,
}

/// One change, in words (`web: release 3 → 4`, `web: start 1 replica`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanChange {
    pub service: String,
    pub change: String,
}

/// `GET /api/v1/projects/{name}/services/{service}/{environment}/logs`: lines after `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceLogPage {
    pub lines: Vec<ServiceLogEntry>,
    /// Pass as `after` to read on.
    pub next: i64,
}

/// One line a replica wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceLogEntry {
    pub replica: String,
    pub release: i64,
    pub stream: LogStream,
    pub at: i64,
    pub text: String,
}
