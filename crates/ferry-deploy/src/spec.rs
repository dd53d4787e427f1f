//! The model of `.ferry/deploy.yml` once read and checked ([`crate::compile`]), with every
//! default filled in, and the conversions the server and the agent need: a service of an
//! environment as an agent's [`Unit`], a deployment as a [`DeploymentOrder`], and the
//! promotion graph (`auto-deploy`, `after:`).
//!
//! Durations are milliseconds. Names are as written in the file; the order of environments
//! and services is the file's.

use std::collections::BTreeMap;

use ferry_proto::agent::{
    AnalysisSpec, DeploymentOrder, HealthSpec, MetricsSpec, Probe, ProcessSpec, ReleaseSpec, StrategySpec, TlsFiles,
    Unit, UnitKey,
};
use ferry_proto::artifacts::ArtifactFile;
use serde::{Deserialize, Serialize};

use crate::slo::Slo;

/// The address a service's proxy listens on unless its environment says `bind:`.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// How long a new release is watched after a deployment's last step (`verify:`).
pub const DEFAULT_VERIFY_MS: u64 = 30_000;
/// `health: { interval }`.
pub const DEFAULT_HEALTH_INTERVAL_MS: u64 = 1_000;
/// `health: { timeout }`.
pub const DEFAULT_HEALTH_TIMEOUT_MS: u64 = 2_000;
/// `health: { healthy-after }`.
pub const DEFAULT_HEALTHY_AFTER: u32 = 1;
/// `health: { unhealthy-after }`.
pub const DEFAULT_UNHEALTHY_AFTER: u32 = 3;
/// `health: { start-timeout }`.
pub const DEFAULT_START_TIMEOUT_MS: u64 = 60_000;
/// `deploy: { ENV: { replicas } }`.
pub const DEFAULT_REPLICAS: u32 = 1;
/// `max-surge` of a rolling deployment.
pub const DEFAULT_MAX_SURGE: u32 = 1;
/// `max-unavailable` of a rolling deployment.
pub const DEFAULT_MAX_UNAVAILABLE: u32 = 0;
/// `keep-old` of a blue-green deployment (the deployment lasts until it has passed).
pub const DEFAULT_KEEP_OLD_MS: u64 = 30_000;
/// `drain-timeout`.
pub const DEFAULT_DRAIN_TIMEOUT_MS: u64 = 30_000;
/// How long a replica may take to begin its answer to a request the proxy forwards (nginx's
/// `proxy_read_timeout`).
pub const DEFAULT_RESPONSE_TIMEOUT_MS: u64 = 60_000;
/// `stop-grace`.
pub const DEFAULT_STOP_GRACE_MS: u64 = 10_000;
/// `analysis: { min-requests }`.
pub const DEFAULT_MIN_REQUESTS: u64 = 20;
/// `metrics: { interval }`: Prometheus' default scrape interval.
pub const DEFAULT_METRICS_INTERVAL_MS: u64 = 15_000;
/// `metrics: { timeout }`: Prometheus' default scrape timeout (at most the interval).
pub const DEFAULT_METRICS_TIMEOUT_MS: u64 = 10_000;
/// Most replicas one service may ask for in one environment.
pub const MAX_REPLICAS: u32 = 1_000;

/// A whole `.ferry/deploy.yml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploySpec {
    /// In the file's order, which is also the order in which the UI shows them.
    pub environments: Vec<Environment>,
    pub services: Vec<Service>,
}

/// An environment and the rules a deployment to it must pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub name: String,
    /// Every new release of a service that deploys here is deployed here at once.
    pub auto_deploy: bool,
    /// Environments a release must have succeeded in before it may come here; when it
    /// succeeds in one of them, a deployment here is created (and waits at the gates).
    pub after: Vec<String>,
    /// Approvals needed from people with the developer role or above, not the release's
    /// author.
    pub approvals: u32,
    /// Branches (glob patterns as in workflow filters) whose commits may deploy here; empty:
    /// any.
    pub branches: Vec<String>,
    /// Agents (by name or label) that run this environment; empty: the server's local agent.
    pub hosts: Vec<String>,
    /// The address the services' proxies listen on.
    pub bind: String,
    /// How long a new release is watched after a deployment's last step.
    pub verify_ms: u64,
    /// The addresses (IPs) of the hops in front of the proxies, such as a load balancer that
    /// terminates TLS, whose `X-Forwarded-Proto` and `X-Forwarded-Host` reach the services.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// `error-budget:`: what happens to a deployment here while an SLO of its service has
    /// spent its error budget here.
    #[serde(default)]
    pub error_budget: ErrorBudgetPolicy,
}

/// `error-budget:` of an environment: whether a spent error budget holds a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorBudgetPolicy {
    /// No gate (the default).
    #[default]
    None,
    /// The deployment waits until every SLO of its service has budget left again.
    Hold,
    /// The deployment waits for one approval instead.
    Approval,
}

impl ErrorBudgetPolicy {
    /// The word deploy.yml uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorBudgetPolicy::None => "none",
            ErrorBudgetPolicy::Hold => "hold",
            ErrorBudgetPolicy::Approval => "approval",
        }
    }
}

/// A service: how its replicas run and are checked, which runs make its releases, and how it
/// is deployed to each environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    /// `run:` (a shell command in the release's folder) or `image:` (a Docker image).
    pub process: ProcessSpec,
    /// The service's `env:`; the environment's variables and secrets come on top
    /// ([`Service::release_spec`]).
    pub env: BTreeMap<String, String>,
    pub health: HealthSpec,
    /// Which successful run makes a release; `None`: releases are made by hand only.
    pub release: Option<ReleaseRule>,
    /// One entry per environment the service is deployed to, in the file's order.
    pub deploy: Vec<ServiceDeploy>,
    /// `metrics:`: how the agents scrape the replicas; `None`: they are not scraped.
    #[serde(default)]
    pub metrics: Option<MetricsSpec>,
    /// `owner:`: the receiver of the server's Alertmanager configuration told when an
    /// incident of the service opens, is acknowledged or resolves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// `slos:`, watched in every environment of `deploy` ([`crate::slo`]).
    #[serde(default)]
    pub slos: Vec<Slo>,
}

/// `release:` of a service: a successful run of `workflow` (on `branch`, with `job`) that
/// uploaded `artifact` makes a new release of its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRule {
    /// The workflow's file name (`ci.yml`), as under `.ferry/workflows/` or `.github/workflows/`.
    pub workflow: String,
    /// The job that must have succeeded; `None`: the whole run.
    pub job: Option<String>,
    /// The artifact holding the release's files; defaults to the service's name.
    pub artifact: String,
    /// The branch the run must be on; `None`: the project's default branch.
    pub branch: Option<String>,
}

/// How a service is deployed to one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceDeploy {
    pub environment: String,
    /// The public port of the service in this environment, served by Ferry's proxy.
    pub port: u16,
    pub replicas: u32,
    pub strategy: StrategySpec,
    pub analysis: Option<AnalysisSpec>,
    pub drain_timeout_ms: u64,
    pub stop_grace_ms: u64,
    /// How long a replica may take to begin its answer before the proxy answers 504.
    #[serde(default = "default_response_timeout_ms")]
    pub response_timeout_ms: u64,
    /// `tls:`: the certificates the proxy terminates TLS with on `port`; empty: plain HTTP.
    #[serde(default)]
    pub tls: Vec<TlsFiles>,
}

fn default_response_timeout_ms() -> u64 {
    DEFAULT_RESPONSE_TIMEOUT_MS
}

impl DeploySpec {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|environment| environment.name == name)
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|service| service.name == name)
    }

    /// The environments that take a release once it succeeded in `environment` (those whose
    /// `after:` names it), in the file's order.
    pub fn environments_after(&self, environment: &str) -> Vec<&Environment> {
        self.environments.iter().filter(|next| next.after.iter().any(|name| name == environment)).collect()
    }

    /// The environments every new release goes to at once (`auto-deploy: true`).
    pub fn auto_deploy_environments(&self) -> Vec<&Environment> {
        self.environments.iter().filter(|environment| environment.auto_deploy).collect()
    }

    /// The services deployed to `environment`, each with how.
    pub fn services_in<'s>(&'s self, environment: &'s str) -> impl Iterator<Item = (&'s Service, &'s ServiceDeploy)> {
        self.services.iter().filter_map(move |service| service.deploy_to(environment).map(|deploy| (service, deploy)))
    }

    /// The agent's unit for `service` in `environment`, serving `release` (`None` before the
    /// first deployment) with no deployment under way; `None` when the file does not deploy
    /// that service there.
    pub fn unit(&self, project: &str, service: &str, environment: &str, release: Option<ReleaseSpec>) -> Option<Unit> {
        let env = self.environment(environment)?;
        let svc = self.service(service)?;
        let deploy = svc.deploy_to(environment)?;
        Some(Unit {
            key: UnitKey {
                project: project.to_owned(),
                service: service.to_owned(),
                environment: environment.to_owned(),
            },
            port: deploy.port,
            bind: env.bind.clone(),
            replicas: deploy.replicas,
            health: svc.health.clone(),
            drain_timeout_ms: deploy.drain_timeout_ms,
            stop_grace_ms: deploy.stop_grace_ms,
            response_timeout_ms: deploy.response_timeout_ms,
            trusted_proxies: env.trusted_proxies.clone(),
            tls: deploy.tls.clone(),
            release,
            deployment: None,
            metrics: svc.metrics.clone(),
        })
    }

    /// The order that deploys `release` of `service` to `environment` with the strategy,
    /// analysis and verification window the file gives there; `None` when the file does not
    /// deploy that service there. A rollback (`is_rollback`) is not rolled back again.
    pub fn order(
        &self,
        id: i64,
        service: &str,
        environment: &str,
        release: ReleaseSpec,
        is_rollback: bool,
    ) -> Option<DeploymentOrder> {
        let env = self.environment(environment)?;
        let deploy = self.service(service)?.deploy_to(environment)?;
        Some(DeploymentOrder {
            id,
            release,
            strategy: deploy.strategy.clone(),
            analysis: deploy.analysis.clone(),
            verify_ms: env.verify_ms,
            is_rollback,
            cancel: None,
            verdict: None,
        })
    }
}

impl Environment {
    /// Whether a release built from `branch` (a name such as `main`, not `refs/heads/main`)
    /// may deploy here: any branch without `branches:`; else the last pattern that matches
    /// decides (`!pattern` excludes), as in workflow filters.
    pub fn allows_branch(&self, branch: &str) -> bool {
        self.branches.is_empty() || ferry_workflow::filter::list_matches(&self.branches, branch)
    }
}

impl Service {
    /// How the service is deployed to `environment`, if it is.
    pub fn deploy_to(&self, environment: &str) -> Option<&ServiceDeploy> {
        self.deploy.iter().find(|deploy| deploy.environment == environment)
    }

    /// Release `number` of this service as an agent runs it: its files, its `run:` or
    /// `image:`, and its `env:` with `overrides` (the environment's variables and secrets) on
    /// top; `secret_keys` names the keys of `overrides` that are secrets.
    pub fn release_spec(
        &self,
        number: i64,
        files: Vec<ArtifactFile>,
        overrides: &BTreeMap<String, String>,
        secret_keys: Vec<String>,
    ) -> ReleaseSpec {
        let mut env = self.env.clone();
        env.extend(overrides.iter().map(|(key, value)| (key.clone(), value.clone())));
        ReleaseSpec { number, files, process: self.process.clone(), env, secret_keys }
    }
}

/// The health check used when a service gives no `health:`: a TCP connection to `$PORT`.
pub fn default_health() -> HealthSpec {
    HealthSpec {
        probe: Probe::Tcp,
        interval_ms: DEFAULT_HEALTH_INTERVAL_MS,
        timeout_ms: DEFAULT_HEALTH_TIMEOUT_MS,
        healthy_after: DEFAULT_HEALTHY_AFTER,
        unhealthy_after: DEFAULT_UNHEALTHY_AFTER,
        start_timeout_ms: DEFAULT_START_TIMEOUT_MS,
    }
}
