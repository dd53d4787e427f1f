//! The agent protocol: a `ferry agent` runs the services of the environments placed on its
//! host. Like a runner it only dials the server: it long-polls for its desired state, reports
//! what runs (replicas, their health, the proxy's counts per release, a deployment's
//! progress), ships its replicas' output, and fetches release files by digest. It keeps the
//! desired state it last received in its directory, so it goes on serving while the server
//! is away. The agent carries out a deployment itself (the pure rollout of `ferry-deploy`,
//! fed with what it observes), so a deployment finishes even when the server restarts in the
//! middle of it; the server records the outcome the agent reports.
//!
//! | call | body → answer |
//! |---|---|
//! | `POST /api/v1/agents` (admin token) | [`AgentRegistration`] → [`RegisteredAgent`] |
//! | `GET /api/v1/agents` (admin token), `DELETE /api/v1/agents/{id}` | → [`AgentView`]s |
//! | `POST /api/v1/agent/hello` (agent token) | [`AgentHello`] → [`AgentWelcome`] |
//! | `GET /api/v1/agent/desired?after=G&wait_ms=N` | → [`DesiredState`] newer than `G`, or 204 when none came in time |
//! | `POST /api/v1/agent/report` | [`AgentReport`] → 204 (also the agent's heartbeat) |
//! | `POST /api/v1/agent/logs` | [`ServiceLogBatch`] → 204 |
//! | `GET /api/v1/agent/blobs/{sha256}` | → the blob, when a release in the agent's desired state names it |
//! | `POST /api/v1/agent/metrics` | a remote-write 1.0 body (snappy protobuf) of what the agent scraped → 204 |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::artifacts::ArtifactFile;

/// The longest a desired-state poll waits for a change (`wait_ms`).
pub const MAX_DESIRED_WAIT_MS: u64 = 30_000;

/// An agent is "gone" when it has not reported for this long; the server then says so on the
/// deployments that wait for it.
pub const AGENT_GONE_MS: i64 = 15_000;

/// The upper bounds (milliseconds) of the proxy's latency buckets, Prometheus-style: bucket
/// `i` counts the requests that took at most `LATENCY_BUCKETS_MS[i]`; a last, implicit
/// bucket counts the rest.
pub const LATENCY_BUCKETS_MS: [f64; 16] =
    [0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0];

/// An administrator making a token for an agent to come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentRegistration {
    /// Unique across the server (the host's name is a good one): 1 to 100 letters, digits,
    /// `.`, `_` or `-`.
    #[schema(value_type = crate::names::Name)]
    pub name: String,
    /// Labels an environment's `hosts:` may select it by.
    #[serde(default)]
    pub labels: Vec<String>,
}

/// A registered agent and its token (`ferrya_…`), shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegisteredAgent {
    pub id: i64,
    pub name: String,
    pub token: String,
}

/// An agent as `GET /api/v1/agents` lists it (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentView {
    pub id: i64,
    pub name: String,
    pub labels: Vec<String>,
    /// The host it last said it runs on.
    pub hostname: Option<String>,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What an agent says when it starts (and after the server came back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentHello {
    /// Its `--labels`, which replace the registered ones when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    pub hostname: String,
    /// Ferry's version.
    pub version: String,
    /// Whether it reaches a Docker Engine (it can run services with `image:`).
    #[serde(default)]
    pub docker: bool,
}

/// The server's answer to [`AgentHello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentWelcome {
    pub id: i64,
    pub name: String,
}

/// Everything an agent should run, as a whole: a service of an environment that is not here
/// any more is stopped. Generations only grow; the agent keeps the last one it received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DesiredState {
    pub generation: i64,
    pub units: Vec<Unit>,
}

/// Names a service of an environment of a project: what one proxy listener serves.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub struct UnitKey {
    pub project: String,
    pub service: String,
    pub environment: String,
}

/// One service in one environment on this agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Unit {
    pub key: UnitKey,
    /// The public port its proxy listens on.
    pub port: u16,
    /// The address the proxy binds (`127.0.0.1` unless the environment says otherwise).
    pub bind: String,
    /// How many replicas it runs once a deployment is over.
    pub replicas: u32,
    pub health: HealthSpec,
    /// How long a replica that leaves the rotation may finish its requests before it is
    /// stopped.
    pub drain_timeout_ms: u64,
    /// SIGTERM, then SIGKILL after this long.
    pub stop_grace_ms: u64,
    /// How long a replica may take to begin its answer before the proxy answers 504.
    #[serde(default = "default_response_timeout_ms")]
    pub response_timeout_ms: u64,
    /// The IP addresses of the hops in front of the proxy whose `X-Forwarded-Proto` and
    /// `X-Forwarded-Host` are passed on to the replicas (from anyone else they are replaced).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_proxies: Vec<String>,
    /// The certificates the proxy terminates TLS with (the first whose names cover the name
    /// a client asks for, else the first); empty: plain HTTP.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsFiles>,
    /// The release that should serve when no deployment is under way (the last one that
    /// succeeded here); `None` before the first deployment.
    pub release: Option<ReleaseSpec>,
    /// The deployment under way, if any: the agent rolls from what runs to its release and
    /// reports the outcome; the server keeps it here until it has recorded that outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentOrder>,
    /// How the agent scrapes the replicas' own metrics (`metrics:` of the service); `None`:
    /// they are not scraped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsSpec>,
}

/// `metrics:` of a service: the agent scrapes each healthy replica at
/// `http://127.0.0.1:$PORT{path}` every `interval_ms`, giving up after `timeout_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MetricsSpec {
    /// Starts with `/`.
    pub path: String,
    pub interval_ms: u64,
    /// At most `interval_ms`.
    pub timeout_ms: u64,
}

/// One certificate of a proxy that terminates TLS: PEM files on the agent's host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TlsFiles {
    /// The certificate, then its intermediates (a `fullchain.pem`): an absolute path.
    pub cert: String,
    /// Its private key (PKCS#8, PKCS#1 or SEC1): an absolute path.
    pub key: String,
}

/// What a desired state written before `response_timeout_ms` existed gets: 60 s.
fn default_response_timeout_ms() -> u64 {
    60_000
}

/// A health check: `http` (a 2xx or 3xx answer on the path), `tcp` (a connection), or
/// `command` (exit status 0), run against each replica every `interval_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthSpec {
    #[serde(flatten)]
    pub probe: Probe,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Passing checks in a row before a replica takes traffic.
    pub healthy_after: u32,
    /// Failing checks in a row before a replica is unhealthy.
    pub unhealthy_after: u32,
    /// A new replica that has not become healthy this long after it started fails the
    /// deployment.
    pub start_timeout_ms: u64,
}

/// What a health check does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Probe {
    Http { path: String },
    Tcp,
    Command { command: String },
}

/// A release as an agent runs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseSpec {
    /// The release's number within its service (1, 2, 3, …).
    pub number: i64,
    /// Its files, fetched by digest and unpacked into the release's own folder.
    pub files: Vec<ArtifactFile>,
    /// How a replica starts: a shell command run in the release's folder, or a Docker image.
    #[serde(flatten)]
    pub process: ProcessSpec,
    /// The service's `env:` and the environment's variables and secrets; `$PORT` is added by
    /// the agent per replica.
    pub env: BTreeMap<String, String>,
    /// Which keys of `env` are secrets: masked in the output the agent ships, encrypted in the
    /// state it keeps on disk.
    #[serde(default)]
    pub secret_keys: Vec<String>,
}

/// How a replica runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ProcessSpec {
    /// `sh -c COMMAND` in the release's folder, in its own process group.
    Run { command: String },
    /// A container of `image` (a reference, or the release's file holding a `docker save`
    /// archive, loaded first), listening on `$PORT`.
    Image {
        image: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        archive: Option<String>,
    },
}

/// A deployment for the agent to carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentOrder {
    pub id: i64,
    /// The release to roll to.
    pub release: ReleaseSpec,
    pub strategy: StrategySpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisSpec>,
    /// After the last step, the new release is watched this long; a breach then still rolls
    /// back.
    pub verify_ms: u64,
    /// Whether this deployment is itself a rollback (its release is an earlier one): it is not
    /// rolled back again.
    #[serde(default)]
    pub is_rollback: bool,
    /// Set when a person cancelled the deployment while it was in progress (why, in words):
    /// the agent stops it, the release that served before serves again, and the outcome is
    /// `cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<String>,
    /// The server's measurements of `analysis.queries` so far (absent before the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<AnalysisVerdict>,
}

/// How replicas of the new release replace the old ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum StrategySpec {
    /// Stop every old replica, then start the new ones.
    Recreate,
    /// Replace replicas a few at a time.
    Rolling { max_surge: u32, max_unavailable: u32 },
    /// Bring up the whole new set beside the old, switch traffic when all are healthy, keep
    /// the old set `keep_old_ms` for an instant rollback.
    BlueGreen { keep_old_ms: u64 },
    /// Weighted steps with pauses, then the rest.
    Canary { steps: Vec<CanaryStep> },
}

/// One step of a canary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CanaryStep {
    /// Percent of requests to the new release (1–100).
    pub weight: u32,
    pub pause_ms: u64,
}

/// Limits on the new release's traffic; breaching one rolls back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AnalysisSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p99_latency_ms: Option<f64>,
    /// Judged only once the new release served this many requests.
    pub min_requests: u64,
    /// PromQL queries the server measures while the deployment is under way
    /// (`analysis.queries`); the agent only learns their verdict (its order's `verdict`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<AnalysisQuery>,
}

/// A PromQL query judged by conditions on its result, like a metric of an Argo Rollouts
/// `AnalysisTemplate`: measured every `interval_ms`, each measurement successful, failed or
/// inconclusive; the analysis fails once more than `failure_limit` measurements failed or more
/// than `inconclusive_limit` were inconclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnalysisQuery {
    pub name: String,
    /// As written, with its `{{project}}`, `{{service}}`, `{{environment}}`, `{{release}}` and
    /// `{{stable}}` placeholders.
    pub query: String,
    pub interval_ms: u64,
    /// A condition on `result` (`result < 0.01`), as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    /// How many measurements to take; 0: until the deployment is over.
    pub count: u32,
}

/// What the server measured of a deployment's `analysis.queries`, as the agent's rollout takes
/// it: a failure rolls the deployment back; a canary step's pause waits for one more
/// successful measurement of each query.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct AnalysisVerdict {
    /// One per query measured so far.
    #[serde(default)]
    pub queries: Vec<QueryTally>,
    /// Set once a query failed the analysis: why, in words ("query error-ratio: 0.12 >= 0.05
    /// (measurement 2, …)").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// How far the server got with one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QueryTally {
    pub name: String,
    pub successes: u32,
    /// It took its `count` of measurements and passed: nothing more to wait for.
    pub done: bool,
}

/// What an agent runs now; sent every second or so, and at once on a change. It is also the
/// agent's heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentReport {
    /// The desired generation the agent works towards.
    pub generation: i64,
    pub units: Vec<UnitStatus>,
    /// What happened since the last report that was received (crashes, restarts, drift
    /// repaired, a port in use); resent until a report is answered.
    #[serde(default)]
    pub events: Vec<AgentEvent>,
}

/// One unit as the agent sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnitStatus {
    pub key: UnitKey,
    /// The release that serves all traffic, once no deployment moves it.
    pub release: Option<i64>,
    pub replicas: Vec<ReplicaStatus>,
    /// The proxy's counts per release since the agent started serving this unit.
    pub traffic: Vec<ReleaseTraffic>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<DeploymentProgress>,
}

/// One replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReplicaStatus {
    /// Stable while the replica lives (`web-production-7-2`).
    pub id: String,
    pub release: i64,
    pub state: ReplicaState,
    /// The port the replica listens on (its `$PORT`).
    pub port: u16,
    pub pid: Option<u32>,
    pub restarts: u32,
    /// Why it is not healthy, in words, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where a replica is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaState {
    /// Started, not yet healthy.
    Starting,
    /// Passed `healthy_after` checks in a row; it takes traffic.
    Healthy,
    /// Failed `unhealthy_after` checks in a row; it takes no traffic.
    Unhealthy,
    /// Out of the rotation, finishing its requests before it stops.
    Draining,
    /// Exited; restarted with backoff.
    Exited,
}

/// What the proxy counted for one release, cumulative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseTraffic {
    pub release: i64,
    pub requests: u64,
    /// Answers with a 5xx status, and requests no replica could answer.
    pub errors: u64,
    /// Counts per [`LATENCY_BUCKETS_MS`] bucket, not cumulative, with one more for the rest.
    pub latency_buckets: Vec<u64>,
    pub latency_sum_ms: f64,
}

/// A deployment as the agent carries it out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentProgress {
    pub id: i64,
    /// The strategy's steps so far, in order, each with when it began.
    pub steps: Vec<DeploymentStep>,
    /// Set once it is over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<DeploymentOutcome>,
    /// Why it ended as it did, in words ("error rate 0.31 > 0.05 over 212 requests of
    /// release 7").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The figures the analysis judged last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisFigures>,
}

/// One step of a strategy ("start 1 replica of release 7", "weight 20 %").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentStep {
    pub name: String,
    pub at: i64,
}

/// How a deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentOutcome {
    Succeeded,
    RolledBack,
    Failed,
    Cancelled,
}

/// The new release's traffic during a deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AnalysisFigures {
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub p99_latency_ms: Option<f64>,
}

/// Something that happened to a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentEvent {
    pub key: UnitKey,
    pub at: i64,
    pub kind: AgentEventKind,
    pub message: String,
}

/// What kind of thing happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentEventKind {
    /// A replica exited and is restarted.
    Crashed,
    /// A replica was not what the desired state says (wrong release, changed by hand,
    /// missing) and was replaced.
    Drift,
    /// A replica became unhealthy or healthy again.
    Health,
    /// The unit could not be served (port in use, release files missing, image absent).
    Error,
}

/// Output of replicas, masked; at most a few hundred lines per batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceLogBatch {
    pub lines: Vec<ServiceLogLine>,
}

/// One line a replica wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceLogLine {
    pub key: UnitKey,
    pub replica: String,
    pub release: i64,
    pub stream: LogStream,
    pub at: i64,
    /// Without its line end.
    pub text: String,
}

/// Which output a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    Stdout,
    Stderr,
}
