//! The DORA keys and incidents on the wire: the report `ferry dora --json` prints and
//! `GET /api/v1/projects/{name}/dora` answers (its shape is fixed: other tools read it),
//! incidents (`ferry incidents`, `ferry incident open|ack|resolve|show|list`) and their timelines, and the events teams send
//! from outside (`POST /api/v1/projects/{name}/dora/events`, `ferry dora import`).
//! `docs/dora.md` defines every number.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The window the keys are computed over: deployments that finished at or after `from` and
/// before `to` (RFC 3339, UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DoraWindow {
    pub from: String,
    pub to: String,
}

/// A performance tier by the 2024 Accelerate State of DevOps report's clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Elite,
    High,
    Medium,
    Low,
}

impl Tier {
    /// The tier's name as the JSON and the UI write it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Elite => "elite",
            Tier::High => "high",
            Tier::Medium => "medium",
            Tier::Low => "low",
        }
    }
}

/// Successful deployments in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentFrequency {
    pub deployments: u64,
    /// `deployments` over the window's length in days.
    pub per_day: f64,
    /// Distinct UTC days with a successful deployment over the window's length in weeks.
    pub deploy_days_per_week: f64,
    pub tier: Tier,
}

/// Commit-to-production times of the commits first brought by a successful deployment in
/// the window; `null` when there are none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeadTime {
    pub commits: u64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
    pub tier: Option<Tier>,
}

/// Failed deployments (their outcome, or an incident attributed to them) over all finished
/// deployments in the window; `rate` is `null` when there are none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeFailureRate {
    pub failed: u64,
    pub total: u64,
    pub rate: Option<f64>,
    pub tier: Option<Tier>,
}

/// How long the failed deployments of the window took to recover (those recovered by the
/// window's end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecoveryTime {
    pub failures: u64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
    pub tier: Option<Tier>,
}

/// Deployments that started while an incident of their service and environment was open,
/// over all finished deployments in the window (the 2024 report's fifth metric; it has no
/// clusters, so no tier).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReworkRate {
    pub rework: u64,
    pub total: u64,
    pub rate: Option<f64>,
}

/// `ferry dora --json`, `GET /api/v1/projects/{name}/dora`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DoraReport {
    pub window: DoraWindow,
    pub deployment_frequency: DeploymentFrequency,
    pub lead_time: LeadTime,
    pub change_failure_rate: ChangeFailureRate,
    pub recovery_time: RecoveryTime,
    pub rework_rate: ReworkRate,
}

/// How a deployment ended, as teams send it from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentOutcome {
    Succeeded,
    Failed,
    RolledBack,
}

impl DeploymentOutcome {
    /// The outcome's name in CSV files and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentOutcome::Succeeded => "succeeded",
            DeploymentOutcome::Failed => "failed",
            DeploymentOutcome::RolledBack => "rolled_back",
        }
    }
}

/// A deployment made outside Ferry (a row of `deployments.csv`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExternalDeployment {
    #[schema(value_type = crate::names::Name)]
    pub service: String,
    #[schema(value_type = crate::names::Name)]
    pub environment: String,
    /// The commit deployed (full id, or anything the project's repository resolves).
    pub commit: String,
    /// Milliseconds since the Unix epoch.
    pub finished_at: i64,
    pub outcome: DeploymentOutcome,
}

/// An incident detected outside Ferry (a row of `incidents.csv`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExternalIncident {
    #[schema(value_type = crate::names::Name)]
    pub service: String,
    #[schema(value_type = crate::names::Name)]
    pub environment: String,
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// `POST /api/v1/projects/{name}/dora/events`: what happened outside Ferry. Deployments are
/// recorded before incidents, so an incident may name a commit one of them brought.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DoraEvents {
    #[serde(default)]
    pub deployments: Vec<ExternalDeployment>,
    #[serde(default)]
    pub incidents: Vec<ExternalIncident>,
}

/// The answer to [`DoraEvents`]: how many of each were recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DoraEventsRecorded {
    pub deployments: u64,
    pub incidents: u64,
}

/// `POST /api/v1/projects/{name}/incidents` (`ferry incident open`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IncidentRequest {
    #[schema(value_type = crate::names::Name)]
    pub service: String,
    /// Default: `production`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The deployment that caused it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<i64>,
    /// When service degraded (milliseconds); default: now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
}

/// An incident as the API shows it. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IncidentView {
    pub id: i64,
    pub project: String,
    pub service: String,
    pub environment: String,
    pub title: String,
    pub started_at: i64,
    /// When service was restored; `null` while the incident is open.
    pub resolved_at: Option<i64>,
    pub caused_by_deployment: Option<i64>,
    pub caused_by_commit: Option<String>,
    /// `auto` (a rollback or a failure after reaching users), `alert` (a firing alert of
    /// page severity), `import`, or a token's name.
    pub opened_by: String,
    /// When it was acknowledged, and by whom; `null` until then.
    #[serde(default)]
    pub acked_at: Option<i64>,
    #[serde(default)]
    pub acked_by: Option<String>,
    /// Who resolved it by hand; `null` when it resolved by itself or is open.
    #[serde(default)]
    pub resolved_by: Option<String>,
    /// The receiver of the server's Alertmanager configuration told of it (deploy.yml's
    /// `services.<name>.owner`).
    #[serde(default)]
    pub owner: Option<String>,
}

/// What happened in an incident's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimelineKind {
    /// An alert started firing (`labels`, `summary`).
    AlertFiring,
    /// An alert stopped firing.
    AlertResolved,
    /// A deployment of the unit started (`deployment`).
    DeploymentStarted,
    /// A deployment of the unit finished (`deployment`, `outcome`).
    DeploymentFinished,
    /// The incident was opened (`actor`).
    Opened,
    /// It was acknowledged (`actor`).
    Acked,
    /// It was resolved (`actor`: a token's name, or `alert` when its alerts resolved).
    Resolved,
    /// An alert joined it after it had resolved.
    Reopened,
}

/// One entry of an incident's timeline. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    pub at: i64,
    pub kind: TimelineKind,
    /// What happened, in a sentence.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<i64>,
    /// The deployment's outcome: `succeeded`, `failed`, `rolled_back` or `cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The alert's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    /// The alert's `summary` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// `GET /api/v1/incidents/{id}` (`ferry incident show`): the incident and its timeline, in
/// time order: its alerts firing and resolved, the unit's deployments from an hour before it
/// started until it resolved, and what was done to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IncidentDetail {
    pub incident: IncidentView,
    pub timeline: Vec<TimelineEntry>,
}
