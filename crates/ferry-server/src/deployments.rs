//! Deployments on the server: submitting one (its gates judged, the older ones waiting for
//! the same service and environment superseded: the newest waiting wins), approving,
//! cancelling, starting the next one of a unit when the one in progress ends, recording what
//! the agent reports (steps, analysis, outcome), promoting a release that succeeded to the
//! environments `after:` it, and the desired state each agent is sent. A workflow job with
//! `environment:` is a deployment too (`jobs.rs`): held at the same gates, approved the same
//! way, carried out by a runner instead of an agent.
//!
//! Nothing lives only in memory: every decision is read from and written to the store under
//! one lock ([`DeployState::lock`]), so a restarted server goes on from what the store says,
//! and the agent, which carries a deployment out by itself, reports its outcome to whichever
//! server answers. Each change of what an agent should run bumps its generation and wakes the
//! agents' long polls ([`DeployState::desired_changed`]).

pub(crate) mod analysis;
pub(crate) mod gates;
pub(crate) mod jobs;
pub(crate) mod target;

use std::collections::BTreeMap;

use ferry_proto::agent::{
    AGENT_GONE_MS, AgentReport, AnalysisFigures, DeploymentOrder, DeploymentOutcome, DeploymentProgress,
    DeploymentStep, DesiredState, Unit, UnitKey,
};
use ferry_proto::deployments::{
    ApprovalView, DeploymentAnalysis, DeploymentHostView, DeploymentState, DeploymentView, GateView, QueryAnalysis,
    QueryPhase,
};
use ferry_store::{Agent, Deployment, DeploymentStatus, HostReport, NewDeployment, Project, StoreError, UnitRef};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::api::ApiError;
use crate::{AppState, now_ms};
use gates::{EnvironmentRules, GateFacts, Subject, Verdict, judge};
use target::{Resolved, Target};

/// What the deployment machinery shares.
pub(crate) struct DeployState {
    /// Serialises every decision about deployments, so two requests never both start one.
    pub(crate) lock: tokio::sync::Mutex<()>,
    /// Bumped whenever an agent's generation grows; desired-state polls wait on it.
    pub(crate) desired_changed: tokio::sync::watch::Sender<u64>,
    /// Bumped whenever a deployment may have changed (submitted, judged, started, reported,
    /// over); the followers of a deployment's events wait on it.
    pub(crate) changed: tokio::sync::watch::Sender<u64>,
    /// Bumped whenever an agent shipped service output; followed logs wait on it.
    pub(crate) logs_changed: tokio::sync::watch::Sender<u64>,
}

impl DeployState {
    pub(crate) fn new() -> DeployState {
        DeployState {
            lock: tokio::sync::Mutex::new(()),
            desired_changed: tokio::sync::watch::Sender::new(0),
            changed: tokio::sync::watch::Sender::new(0),
            logs_changed: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Wakes the followers of deployments' events: something may have changed.
    pub(crate) fn notify(&self) {
        self.changed.send_modify(|generation| *generation = generation.wrapping_add(1));
    }
}

/// Who or what starts a deployment.
#[derive(Debug, Clone)]
pub(crate) struct Trigger {
    /// A token's name, `auto`, `promotion` or `rollback`.
    pub(crate) by: String,
    pub(crate) rollback_of: Option<i64>,
    pub(crate) is_rollback: bool,
}

fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("deployment records always serialise")
}

/// Reads a JSON column; a value this server cannot read is taken as empty (and logged).
fn from_json<T: DeserializeOwned + Default>(col: &str, text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|error| {
        warn!(%error, "unreadable {col} of a deployment: {error}");
        T::default()
    })
}

fn target_of(deployment: &Deployment) -> Result<Target, ApiError> {
    serde_json::from_str(&deployment.target).map_err(|error| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("deployment {} has a target this server cannot read: {error}", deployment.id),
        )
    })
}

/// The gates of a deployment: the `rules` of its target (a service's [`Target`] or a job's
/// [`jobs::JobTarget`]).
fn rules_of(deployment: &Deployment) -> Result<EnvironmentRules, ApiError> {
    #[derive(Deserialize)]
    struct Rules {
        rules: EnvironmentRules,
    }
    serde_json::from_str::<Rules>(&deployment.target).map(|target| target.rules).map_err(|error| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("deployment {} has gates this server cannot read: {error}", deployment.id),
        )
    })
}

/// What a deployment brings, in words: `release 3`, or `job deploy` for a workflow job's.
fn what(deployment: &Deployment) -> String {
    match deployment.release {
        Some(release) => format!("release {release}"),
        None => format!("job {}", deployment.service),
    }
}

fn unit_of(deployment: &Deployment) -> UnitRef<'_> {
    UnitRef { project_id: deployment.project_id, service: &deployment.service, environment: &deployment.environment }
}

/// No registered agent runs an environment: the deployment fails with this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no agent runs it: hosts {} match no registered agent (register one with POST /api/v1/agents and start \
     `ferry agent`; `ferry server` starts the `local` one)",
    hosts.join(", ")
)]
struct NoAgent {
    /// The `hosts:` looked for (`local` when the environment names none).
    hosts: Vec<String>,
}

/// The agents an environment runs on: every unrevoked agent a `hosts:` entry names (by name
/// or label), by id, or the agent named `local` when there are none.
async fn choose_agents(state: &AppState, hosts: &[String]) -> Result<Result<Vec<Agent>, NoAgent>, StoreError> {
    let agents = state.store.agents().list().await?;
    let wanted: Vec<String> = if hosts.is_empty() { vec!["local".to_owned()] } else { hosts.to_vec() };
    let mut found: Vec<Agent> = agents
        .into_iter()
        .filter(|agent| {
            agent.revoked_at.is_none() && wanted.iter().any(|host| &agent.name == host || agent.labels.contains(host))
        })
        .collect();
    found.sort_by_key(|agent| agent.id);
    Ok(Some(found).filter(|found| !found.is_empty()).ok_or(NoAgent { hosts: wanted }))
}

/// Submits a deployment: judges its gates and records it as `failed` (refused), `waiting`
/// or ready, supersedes the older ones waiting for the same unit, and starts it when nothing
/// else runs there.
///
/// # Errors
/// When the store fails.
pub(crate) async fn submit(
    state: &AppState,
    project: &Project,
    resolved: &Resolved,
    trigger: &Trigger,
) -> Result<Deployment, ApiError> {
    let _guard = state.deploy.lock.lock().await;
    let res = submit_locked(state, project, resolved, trigger).await;
    state.deploy.notify();
    res
}

/// [`submit`] under the lock the caller holds.
async fn submit_locked(
    state: &AppState,
    project: &Project,
    resolved: &Resolved,
    trigger: &Trigger,
) -> Result<Deployment, ApiError> {
    let now = now_ms();
    let target = &resolved.target;
    let agents = choose_agents(state, &target.rules.hosts).await?;
    let missing_after =
        missing_after(state, project.id, &resolved.service, resolved.release, &target.rules.after).await?;
    // A rollback to a release that served here already does not wait at the gates again.
    let served_here = trigger.is_rollback
        && state
            .store
            .deployments()
            .succeeded_in(project.id, &resolved.service, &resolved.environment, resolved.release)
            .await?;
    let budgets = budgets_of(state, target, trigger.is_rollback).await;
    let facts = GateFacts {
        environment: &resolved.environment,
        subject: Subject::Release(resolved.release),
        branch: resolved.branch.as_deref(),
        missing_after: &missing_after,
        author: &resolved.author,
        approvals: &[],
        budgets: &budgets,
        is_rollback: trigger.is_rollback,
        now,
    };
    let (verdict, gates) = if served_here { (Verdict::Pass, Vec::new()) } else { judge(&target.rules, &facts, &[]) };
    let (status, reason) = match (&agents, verdict) {
        (_, Verdict::Refuse(rule)) => (DeploymentStatus::Failed, Some(format!("refused: {rule}"))),
        (Err(why), _) => (DeploymentStatus::Failed, Some(why.to_string())),
        (Ok(_), Verdict::Wait(what)) => (DeploymentStatus::Waiting, Some(what)),
        (Ok(_), Verdict::Pass) => (DeploymentStatus::Queued, None),
    };
    let new = NewDeployment {
        project_id: project.id,
        service: &resolved.service,
        environment: &resolved.environment,
        release: Some(resolved.release),
        strategy: target.strategy_name(),
        status,
        reason: reason.as_deref(),
        triggered_by: &trigger.by,
        rollback_of: trigger.rollback_of,
        is_rollback: trigger.is_rollback,
        agent_id: agents.as_ref().ok().and_then(|agents| agents.first()).map(|agent| agent.id),
        hosts: &agents
            .as_ref()
            .map(|agents| agents.iter().map(|agent| agent.id).collect::<Vec<_>>())
            .unwrap_or_default(),
        author: &resolved.author,
        commits: &to_json(&resolved.commits),
        gates: &to_json(&gates),
        target: &to_json(target),
        job_id: None,
        run_id: resolved.run_id,
        commit_sha: Some(&resolved.commit_sha),
        url: None,
    };
    let deployment = state.store.deployments().create(&new, now).await?;
    info!(
        deployment.id = deployment.id,
        "deployment {} of {} release {} to {} by {}: {}",
        deployment.id,
        deployment.service,
        resolved.release,
        deployment.environment,
        trigger.by,
        status.as_str()
    );
    if status != DeploymentStatus::Failed {
        for older in
            state.store.deployments().pending_for_unit(project.id, &resolved.service, &resolved.environment).await?
        {
            if older.id < deployment.id && matches!(older.status, DeploymentStatus::Queued | DeploymentStatus::Waiting)
            {
                let reason = format!("superseded by deployment {} (the newest waiting wins)", deployment.id);
                let from = [DeploymentStatus::Queued, DeploymentStatus::Waiting];
                state
                    .store
                    .deployments()
                    .transition(older.id, &from, DeploymentStatus::Cancelled, Some(&reason), now)
                    .await?;
            }
        }
        start_next(state, unit_of(&deployment)).await?;
    }
    Ok(state.store.deployments().get(deployment.id).await?)
}

/// The environments of `after` where release `release` of `service` has not succeeded yet.
async fn missing_after(
    state: &AppState,
    project_id: i64,
    service: &str,
    release: i64,
    after: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut missing = Vec::new();
    for environment in after {
        if !state.store.deployments().succeeded_in(project_id, service, environment, release).await? {
            missing.push(environment.clone());
        }
    }
    Ok(missing)
}

/// Starts the oldest queued deployment of a unit when none is in progress there. Called
/// under [`DeployState::lock`].
async fn start_next(state: &AppState, unit: UnitRef<'_>) -> Result<(), ApiError> {
    let pending = state.store.deployments().pending_for_unit(unit.project_id, unit.service, unit.environment).await?;
    if pending.iter().any(|deployment| deployment.status == DeploymentStatus::InProgress) {
        return Ok(());
    }
    let Some(next) = pending.into_iter().find(|deployment| deployment.status == DeploymentStatus::Queued) else {
        return Ok(());
    };
    let started = state
        .store
        .deployments()
        .transition(next.id, &[DeploymentStatus::Queued], DeploymentStatus::InProgress, None, now_ms())
        .await?;
    bump_hosts(state, started.id).await?;
    Ok(())
}

/// Counts a change of the desired state of every agent deployment `id` runs on, and wakes
/// their polls.
async fn bump_hosts(state: &AppState, id: i64) -> Result<(), StoreError> {
    for host in state.store.deployments().hosts(id).await? {
        state.store.agents().bump_generation(host.agent_id).await?;
    }
    state.deploy.desired_changed.send_modify(|generation| *generation += 1);
    Ok(())
}

/// The error budgets of the SLOs of a deployment's service in its environment, judged now
/// on the server's clock; none when its environment has no `error-budget:` gate or it is a
/// rollback (never held by one).
async fn budgets_of(state: &AppState, target: &Target, is_rollback: bool) -> Vec<ferry_proto::slos::SloView> {
    if target.rules.error_budget == ferry_deploy::ErrorBudgetPolicy::None || is_rollback || target.slos.is_empty() {
        return Vec::new();
    }
    let key = &target.unit.key;
    crate::slos::judge(state, &key.project, &key.service, &key.environment, &target.slos).await
}

/// Waiting deployments whose environment has an `error-budget:` gate, judged again: the
/// budget may have recovered. Run periodically by `slos::spawn`.
///
/// # Errors
/// When the store fails.
pub(crate) async fn rejudge_error_budgets(state: &AppState) -> Result<(), ApiError> {
    let _guard = state.deploy.lock.lock().await;
    let mut changed = false;
    for deployment in state.store.deployments().with_status(DeploymentStatus::Waiting).await? {
        let held = deployment.job_id.is_none()
            && serde_json::from_str::<Target>(&deployment.target)
                .is_ok_and(|target| target.rules.error_budget != ferry_deploy::ErrorBudgetPolicy::None);
        if held {
            rejudge(state, &deployment).await?;
            changed = true;
        }
    }
    if changed {
        state.deploy.notify();
    }
    Ok(())
}

/// Judges a waiting deployment's gates again (after an approval, or when what it waits for
/// succeeded where `after:` points); moves it on when they pass: a service's deployment is
/// queued for its agent, a workflow job's job is let go to runners. Called under the lock.
async fn rejudge(state: &AppState, deployment: &Deployment) -> Result<(), ApiError> {
    if deployment.status != DeploymentStatus::Waiting {
        return Ok(());
    }
    let rules = rules_of(deployment)?;
    let approvals: Vec<ApprovalView> = from_json("approvals", &deployment.approvals);
    let before: Vec<GateView> = from_json("gates", &deployment.gates);
    let commit = deployment.commit_sha.as_deref().unwrap_or_default();
    let (subject, missing_after) = match (deployment.job_id, deployment.release) {
        (None, Some(release)) => (
            Subject::Release(release),
            missing_after(state, deployment.project_id, &deployment.service, release, &rules.after).await?,
        ),
        _ => (Subject::Commit(commit), jobs::missing_after(state, deployment.project_id, commit, &rules.after).await?),
    };
    // `branches:` passed when it was submitted (or it would have been refused).
    let branch = before.iter().any(|gate| gate.kind == "branches").then(|| rules.branches.first().cloned()).flatten();
    let budgets = match (deployment.job_id, serde_json::from_str::<Target>(&deployment.target)) {
        (None, Ok(target)) => budgets_of(state, &target, deployment.is_rollback).await,
        _ => Vec::new(),
    };
    let facts = GateFacts {
        environment: &deployment.environment,
        subject,
        branch: branch.as_deref(),
        missing_after: &missing_after,
        author: &deployment.author,
        approvals: &approvals,
        budgets: &budgets,
        is_rollback: deployment.is_rollback,
        now: now_ms(),
    };
    let (verdict, gates) = judge(&rules, &facts, &before);
    let gates = to_json(&gates);
    let approvals = to_json(&approvals);
    match verdict {
        Verdict::Wait(what) => {
            state.store.deployments().set_gates(deployment.id, &gates, &approvals, Some(&what)).await?;
            jobs::still_waiting(state, deployment, &what).await?;
        }
        Verdict::Refuse(rule) => {
            state.store.deployments().set_gates(deployment.id, &gates, &approvals, None).await?;
            let reason = format!("refused: {rule}");
            state
                .store
                .deployments()
                .transition(
                    deployment.id,
                    &[DeploymentStatus::Waiting],
                    DeploymentStatus::Failed,
                    Some(&reason),
                    now_ms(),
                )
                .await?;
            if let Some(job_id) = deployment.job_id {
                jobs::refuse(state, job_id, &reason).await?;
            }
        }
        Verdict::Pass => {
            state.store.deployments().set_gates(deployment.id, &gates, &approvals, None).await?;
            state
                .store
                .deployments()
                .transition(
                    deployment.id,
                    &[DeploymentStatus::Waiting],
                    DeploymentStatus::Queued,
                    Some("gates passed"),
                    now_ms(),
                )
                .await?;
            match deployment.job_id {
                Some(job_id) => jobs::let_go(state, job_id).await?,
                None => start_next(state, unit_of(deployment)).await?,
            }
        }
    }
    Ok(())
}

/// Records an approval of a waiting deployment by `by` and moves it on when its gates pass.
///
/// # Errors
/// 409 when it is not waiting or does not need approvals, 403 when `by` is the release's
/// author (for a workflow job's deployment, the run's actor).
pub(crate) async fn approve(
    state: &AppState,
    id: i64,
    by: &str,
    comment: Option<&str>,
) -> Result<Deployment, ApiError> {
    let _guard = state.deploy.lock.lock().await;
    let deployment = state.store.deployments().get(id).await?;
    if deployment.status != DeploymentStatus::Waiting {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!(
                "deployment {id} is {}, not waiting at a gate: there is nothing to approve",
                deployment.status.as_str()
            ),
        ));
    }
    let rules = rules_of(&deployment)?;
    if rules.approvals == 0 && rules.error_budget != ferry_deploy::ErrorBudgetPolicy::Approval {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!(
                "deployment {id} waits for no approval (environment {} has no `approvals:` and no \
                 `error-budget: approval`)",
                deployment.environment
            ),
        ));
    }
    if by == deployment.author {
        let role = match deployment.release {
            Some(release) => format!("the author of release {release}"),
            None => format!("the actor of the run of job {}", deployment.service),
        };
        return Err(ApiError::forbidden(format!(
            "{by} is {role}, and may not approve its deployment; ask another developer"
        )));
    }
    let mut approvals: Vec<ApprovalView> = from_json("approvals", &deployment.approvals);
    approvals.push(ApprovalView { by: by.to_owned(), comment: comment.map(str::to_owned), at: now_ms() });
    state.store.deployments().set_gates(id, &deployment.gates, &to_json(&approvals), None).await?;
    let deployment = state.store.deployments().get(id).await?;
    rejudge(state, &deployment).await?;
    state.deploy.notify();
    Ok(state.store.deployments().get(id).await?)
}

/// Cancels a deployment: one that has not started ends `cancelled` at once; one in progress
/// is stopped by its agent, which puts back the release that served before and reports the
/// outcome `cancelled` (the answer is the deployment, still `in_progress`).
///
/// # Errors
/// 409 when it is over, or is a workflow job that runs (cancel its run instead).
pub(crate) async fn cancel(state: &AppState, id: i64, by: &str) -> Result<Deployment, ApiError> {
    let _guard = state.deploy.lock.lock().await;
    let res = cancel_locked(state, id, by).await;
    state.deploy.notify();
    res
}

/// [`cancel`] under the lock the caller holds.
async fn cancel_locked(state: &AppState, id: i64, by: &str) -> Result<Deployment, ApiError> {
    let deployment = state.store.deployments().get(id).await?;
    let reason = format!("cancelled by {by}");
    let over = |deployment: &Deployment| {
        ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!("deployment {id} is over ({}): there is nothing to cancel", deployment.status.as_str()),
        )
    };
    if deployment.status == DeploymentStatus::InProgress {
        if let Some(run_id) = deployment.run_id.filter(|_| deployment.job_id.is_some()) {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                format!("deployment {id} is a job that runs now; `ferry cancel {run_id}` cancels its run"),
            ));
        }
        return match state.store.deployments().request_cancel(id, &reason).await {
            Ok(deployment) => {
                bump_hosts(state, deployment.id).await?;
                Ok(deployment)
            }
            Err(StoreError::Conflict(_)) => Err(over(&state.store.deployments().get(id).await?)),
            Err(error) => Err(error.into()),
        };
    }
    let from = [DeploymentStatus::Queued, DeploymentStatus::Waiting];
    match state.store.deployments().transition(id, &from, DeploymentStatus::Cancelled, Some(&reason), now_ms()).await {
        Ok(deployment) => {
            if let Some(job_id) = deployment.job_id {
                jobs::cancel(state, job_id).await?;
            }
            Ok(deployment)
        }
        Err(StoreError::Conflict(_)) => Err(over(&deployment)),
        Err(error) => Err(error.into()),
    }
}

/// What an agent reports: its units kept for `ferry status`, its events stored as the
/// services' events, and the progress and outcome of the deployments it carries out.
///
/// # Errors
/// When the store fails.
pub(crate) async fn apply_report(state: &AppState, agent: &Agent, report: &AgentReport) -> Result<(), ApiError> {
    let now = now_ms();
    state.store.agents().record_report(agent.id, &to_json(&report.units), now).await?;
    let mut projects: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for event in &report.events {
        let project_id = match projects.get(&event.key.project) {
            Some(id) => *id,
            None => {
                let id = state.store.projects().by_name(&event.key.project).await?.map(|project| project.id);
                projects.insert(event.key.project.clone(), id);
                id
            }
        };
        let Some(project_id) = project_id else { continue };
        let unit = UnitRef { project_id, service: &event.key.service, environment: &event.key.environment };
        let kind = serde_json::to_value(event.kind).ok().and_then(|value| value.as_str().map(str::to_owned));
        state
            .store
            .service_events()
            .add(unit, Some(agent.id), event.at, kind.as_deref().unwrap_or("error"), &event.message)
            .await?;
    }
    let _guard = state.deploy.lock.lock().await;
    for unit in &report.units {
        let Some(progress) = &unit.deployment else { continue };
        let deployment = match state.store.deployments().get(progress.id).await {
            Ok(deployment) => deployment,
            Err(StoreError::NotFound { .. }) => continue,
            Err(error) => return Err(error.into()),
        };
        if deployment.status != DeploymentStatus::InProgress {
            continue;
        }
        let hosts = state.store.deployments().hosts(deployment.id).await?;
        if !hosts.iter().any(|host| host.agent_id == agent.id) {
            continue;
        }
        record_progress(state, &deployment, agent, hosts.len(), progress).await?;
    }
    state.deploy.notify();
    Ok(())
}

/// Records a deployment's progress as agent `agent` reports it; when it is over, its
/// outcome, then what follows: the next deployment of the unit, promotion, deployments that
/// waited for this one. A deployment on several hosts is over once every host is: all
/// succeeded, or, after a failure on one, all rolled back (see [`several_hosts`]).
async fn record_progress(
    state: &AppState,
    deployment: &Deployment,
    agent: &Agent,
    n_hosts: usize,
    progress: &DeploymentProgress,
) -> Result<(), ApiError> {
    let analysis = progress.analysis.as_ref().map(to_json);
    let steps = to_json(&progress.steps);
    let host_status = progress.outcome.map_or(DeploymentStatus::InProgress, status_of);
    let report = HostReport {
        status: host_status,
        reason: progress.reason.as_deref(),
        steps: &steps,
        analysis: analysis.as_deref(),
    };
    state.store.deployments().record_host(deployment.id, agent.id, &report, now_ms()).await?;
    if n_hosts > 1 {
        return several_hosts(state, deployment).await;
    }
    let Some(outcome) = progress.outcome else {
        return Ok(state.store.deployments().record_progress(deployment.id, &steps, analysis.as_deref(), None).await?);
    };
    state
        .store
        .deployments()
        .record_progress(deployment.id, &steps, analysis.as_deref(), progress.reason.as_deref())
        .await?;
    finish(state, deployment, status_of(outcome), progress.reason.as_deref()).await
}

fn status_of(outcome: DeploymentOutcome) -> DeploymentStatus {
    match outcome {
        DeploymentOutcome::Succeeded => DeploymentStatus::Succeeded,
        DeploymentOutcome::RolledBack => DeploymentStatus::RolledBack,
        DeploymentOutcome::Failed => DeploymentStatus::Failed,
        DeploymentOutcome::Cancelled => DeploymentStatus::Cancelled,
    }
}

/// A deployment on several hosts after one of them reported: its steps are every host's (each
/// named after its agent); a failure on one host asks every host to put back the release that
/// served (as a cancel does, so a host where it had succeeded already is rolled back too);
/// once every host is over, so is the deployment: `succeeded` when it succeeded everywhere,
/// else the first failure's outcome with its host named, or `cancelled`.
async fn several_hosts(state: &AppState, deployment: &Deployment) -> Result<(), ApiError> {
    let hosts = state.store.deployments().hosts(deployment.id).await?;
    let agents = state.store.agents().list().await?;
    let name_of = |agent_id: i64| {
        agents
            .iter()
            .find(|agent| agent.id == agent_id)
            .map_or_else(|| format!("#{agent_id}"), |agent| agent.name.clone())
    };
    let mut steps: Vec<DeploymentStep> = Vec::new();
    for host in &hosts {
        let name = name_of(host.agent_id);
        steps.extend(from_json::<Vec<DeploymentStep>>("steps", &host.steps).into_iter().map(|mut step| {
            step.name = format!("{name}: {}", step.name);
            step
        }));
    }
    steps.sort_by_key(|step| step.at);
    // The deployment's figures are those of the host whose new release fares worst.
    let analysis = hosts
        .iter()
        .filter_map(|host| host.analysis.as_deref())
        .filter_map(|text| serde_json::from_str::<AnalysisFigures>(text).ok())
        .max_by(|a, b| a.error_rate.total_cmp(&b.error_rate))
        .map(|figures| to_json(&figures));
    let failure =
        hosts.iter().find(|host| matches!(host.status, DeploymentStatus::RolledBack | DeploymentStatus::Failed));
    let failure_reason = failure.map(|host| {
        format!("on agent {}: {}", name_of(host.agent_id), host.reason.as_deref().unwrap_or("its release failed there"))
    });
    let undoing = failure.is_some() || deployment.cancel_requested.is_some();
    let over = hosts.iter().all(|host| {
        if undoing {
            host.status.is_over() && host.status != DeploymentStatus::Succeeded
        } else {
            host.status.is_over()
        }
    });
    if !over {
        if let Some(why) = &failure_reason
            && deployment.cancel_requested.is_none()
        {
            let why = format!("{why}; rolling back every host");
            info!(deployment.id = deployment.id, "deployment {}: {why}", deployment.id);
            state.store.deployments().request_cancel(deployment.id, &why).await?;
            bump_hosts(state, deployment.id).await?;
        }
        let reason = failure_reason.as_deref().or(deployment.reason.as_deref());
        state.store.deployments().record_progress(deployment.id, &to_json(&steps), analysis.as_deref(), reason).await?;
        return Ok(());
    }
    let (status, reason) = match (failure, &failure_reason) {
        (Some(host), Some(why)) => (host.status, why.clone()),
        _ if hosts.iter().any(|host| host.status == DeploymentStatus::Cancelled) => {
            (DeploymentStatus::Cancelled, deployment.cancel_requested.clone().unwrap_or_else(|| "cancelled".to_owned()))
        }
        _ => {
            let names: Vec<String> = hosts.iter().map(|host| name_of(host.agent_id)).collect();
            (DeploymentStatus::Succeeded, format!("release serves on agents {}", names.join(", ")))
        }
    };
    state
        .store
        .deployments()
        .record_progress(deployment.id, &to_json(&steps), analysis.as_deref(), Some(&reason))
        .await?;
    finish(state, deployment, status, Some(&reason)).await
}

/// Ends an in-progress deployment with `status`, then what follows: the next deployment of
/// the unit, promotion, deployments that waited for this one.
async fn finish(
    state: &AppState,
    deployment: &Deployment,
    status: DeploymentStatus,
    reason: Option<&str>,
) -> Result<(), ApiError> {
    let finished = state
        .store
        .deployments()
        .transition(deployment.id, &[DeploymentStatus::InProgress], status, reason, now_ms())
        .await?;
    info!(
        deployment.id = finished.id,
        "deployment {} of {} {} to {}: {}",
        finished.id,
        finished.service,
        what(&finished),
        finished.environment,
        status.as_str()
    );
    crate::dora::deployment_finished(state, &finished).await;
    bump_hosts(state, finished.id).await?;
    start_next(state, unit_of(&finished)).await?;
    if status == DeploymentStatus::Succeeded {
        promote(state, &finished).await?;
        jobs::rejudge_waiting(state, finished.project_id).await?;
    }
    Ok(())
}

/// After a success, the environments `after:` this one get the release: a deployment
/// waiting there for it is judged again, else a new one is submitted (`promotion`) and waits
/// at its gates.
async fn promote(state: &AppState, deployment: &Deployment) -> Result<(), ApiError> {
    let Some(release) = deployment.release else { return Ok(()) };
    let target = target_of(deployment)?;
    for environment in &target.promotes_to {
        let pending =
            state.store.deployments().pending_for_unit(deployment.project_id, &deployment.service, environment).await?;
        if let Some(waiting) = pending.iter().find(|pending| pending.release == Some(release)) {
            rejudge(state, waiting).await?;
            continue;
        }
        let project = state.store.projects().get(deployment.project_id).await?;
        match target::resolve(state, &project, &deployment.service, environment, Some(release)).await {
            Ok(resolved) => {
                let trigger = Trigger { by: "promotion".into(), rollback_of: None, is_rollback: false };
                // `submit` takes the lock, which the caller holds: submit without it.
                Box::pin(submit_locked(state, &project, &resolved, &trigger)).await?;
            }
            Err(error) => warn!(
                deployment.id = deployment.id,
                "release {release} of {} is not promoted to {environment}: {}",
                deployment.service,
                error.message()
            ),
        }
    }
    Ok(())
}

/// A new release goes to every `auto-deploy` environment its deploy.yml deploys the service
/// to (`auto`); what cannot be deployed is logged and recorded as a failed deployment where
/// possible.
pub(crate) async fn after_release(state: &AppState, project: &Project, release: &ferry_store::Release) {
    for environment in target::auto_deploy_environments(&release.deploy_spec, &release.service) {
        let trigger = Trigger { by: "auto".into(), rollback_of: None, is_rollback: false };
        let res = match target::resolve(state, project, &release.service, &environment, Some(release.number)).await {
            Ok(resolved) => submit(state, project, &resolved, &trigger).await.map(|_| ()),
            Err(error) => Err(error),
        };
        if let Err(error) = res {
            warn!(project = %project.name, service = %release.service, "release {} of {} is not deployed to {environment}: {}",
                release.number, release.service, error.message());
        }
    }
}

/// A unit placed on an agent: what serves there, and the deployment moving it.
#[derive(Default)]
struct Placed {
    serving: Option<Target>,
    moving: Option<(Deployment, Target)>,
}

/// An environment's variables and secrets, and which keys are secrets.
type EnvironmentEnv = (BTreeMap<String, String>, Vec<String>);

/// The desired state of agent `agent`: per unit placed on it, the release that last
/// succeeded there and the deployment in progress.
///
/// # Errors
/// When the store fails or a deployment's target cannot be read.
pub(crate) async fn desired_state(state: &AppState, agent: &Agent) -> Result<DesiredState, ApiError> {
    let mut units: BTreeMap<UnitKey, Placed> = BTreeMap::new();
    let mut project_names: BTreeMap<i64, String> = BTreeMap::new();
    for deployment in state.store.deployments().placed_on(agent.id).await? {
        let project = match project_names.get(&deployment.project_id) {
            Some(name) => name.clone(),
            None => {
                let name = state.store.projects().get(deployment.project_id).await?.name;
                project_names.insert(deployment.project_id, name.clone());
                name
            }
        };
        let key = UnitKey { project, service: deployment.service.clone(), environment: deployment.environment.clone() };
        let target = target_of(&deployment)?;
        let entry = units.entry(key).or_default();
        if deployment.status == DeploymentStatus::InProgress {
            entry.moving = Some((deployment, target));
        } else {
            entry.serving = Some(target);
        }
    }
    // Each environment's variables and secrets join the service's own `env:`.
    let mut envs: BTreeMap<(String, String), EnvironmentEnv> = BTreeMap::new();
    for key in units.keys() {
        let pair = (key.project.clone(), key.environment.clone());
        if envs.contains_key(&pair) {
            continue;
        }
        let project_id = project_names.iter().find(|(_, name)| **name == key.project).map(|(id, _)| *id);
        if let Some(project_id) = project_id {
            envs.insert(pair, crate::releases::environment_env(state, project_id, &key.environment).await?);
        }
    }
    let with_env = |key: &UnitKey, mut release: ferry_proto::agent::ReleaseSpec| {
        if let Some((env, secret_keys)) = envs.get(&(key.project.clone(), key.environment.clone())) {
            release.env.extend(env.iter().map(|(name, value)| (name.clone(), value.clone())));
            release.secret_keys.extend(secret_keys.iter().cloned());
        }
        release
    };
    let units = units
        .into_iter()
        .filter_map(|(key, Placed { serving, moving })| {
            // The unit's settings (port, replicas, health) are the newest release's.
            let mut unit: Unit = moving.as_ref().map(|(_, target)| target).or(serving.as_ref())?.unit.clone();
            unit.release = serving.and_then(|target| target.unit.release).map(|release| with_env(&key, release));
            unit.deployment = moving.and_then(|(deployment, target)| {
                Some(DeploymentOrder {
                    id: deployment.id,
                    release: with_env(&key, target.unit.release?),
                    strategy: target.strategy,
                    analysis: target.analysis,
                    verify_ms: target.verify_ms,
                    is_rollback: deployment.is_rollback,
                    cancel: deployment.cancel_requested.clone(),
                    verdict: {
                        let analyses: Vec<QueryAnalysis> =
                            analysis::analyses_of(&deployment).into_iter().map(|(_, measured)| measured).collect();
                        let measured = analyses.iter().any(|analysis| !analysis.measurements.is_empty());
                        measured.then(|| ferry_deploy::queries::verdict(&analyses))
                    },
                })
            });
            unit.key = key;
            Some(unit)
        })
        .collect();
    Ok(DesiredState { generation: agent.generation, units })
}

/// The API's view of a deployment. One in progress whose agent (one of whose agents, not
/// over there yet) has not reported for [`AGENT_GONE_MS`] says that it waits for that agent.
///
/// # Errors
/// When the store fails.
pub(crate) async fn view(state: &AppState, project: &str, deployment: Deployment) -> Result<DeploymentView, ApiError> {
    let agent = match deployment.agent_id {
        Some(id) => Some(state.store.agents().get(id).await?),
        None => None,
    };
    let mut hosts = Vec::new();
    for host in state.store.deployments().hosts(deployment.id).await? {
        let agent = state.store.agents().get(host.agent_id).await?;
        hosts.push((host, agent));
    }
    let mut reason = match &deployment.cancel_requested {
        Some(why) if deployment.status == DeploymentStatus::InProgress => {
            Some(format!("{why}; its agent puts back the release that served before"))
        }
        _ => deployment.reason.clone(),
    };
    let now = now_ms();
    let is_gone = |agent: &Agent| agent.last_seen_at.is_none_or(|seen| now - seen > AGENT_GONE_MS);
    let gone_host = hosts
        .iter()
        .find(|(host, agent)| (!host.status.is_over() || deployment.cancel_requested.is_some()) && is_gone(agent))
        .map(|(_, agent)| agent);
    if deployment.status == DeploymentStatus::InProgress
        && let Some(agent) = gone_host.or(agent.as_ref().filter(|_| hosts.is_empty()))
    {
        let gone = is_gone(agent);
        if gone {
            let seen = agent
                .last_seen_at
                .map_or_else(|| "never seen".to_owned(), |seen| format!("last seen {} s ago", (now - seen) / 1000));
            reason =
                Some(format!("waiting for agent {} ({seen}); it goes on when the agent reports again", agent.name));
        }
    }
    let outcome = state_of(deployment.status);
    let figures: Option<AnalysisFigures> =
        deployment.analysis.as_deref().and_then(|text| serde_json::from_str(text).ok());
    // A query still measured when its deployment ended never failed: it passed.
    let over = deployment.status.is_over();
    let queries: Vec<QueryAnalysis> = analysis::analyses_of(&deployment)
        .into_iter()
        .map(|(_, mut measured)| {
            if over && measured.phase == QueryPhase::Running {
                measured.phase = QueryPhase::Successful;
            }
            measured
        })
        .collect();
    let analysis = (figures.is_some() || !queries.is_empty()).then(|| DeploymentAnalysis {
        figures: figures.unwrap_or(AnalysisFigures { requests: 0, errors: 0, error_rate: 0.0, p99_latency_ms: None }),
        queries,
    });
    Ok(DeploymentView {
        id: deployment.id,
        project: project.to_owned(),
        service: deployment.service,
        environment: deployment.environment,
        release: deployment.release,
        strategy: deployment.strategy,
        outcome,
        reason,
        created_at: deployment.created_at,
        started_at: deployment.started_at,
        finished_at: deployment.finished_at,
        triggered_by: deployment.triggered_by,
        rollback_of: deployment.rollback_of,
        is_rollback: deployment.is_rollback,
        agent: agent.map(|agent| agent.name),
        commits: from_json("commits", &deployment.commits),
        gates: from_json("gates", &deployment.gates),
        approvals: from_json("approvals", &deployment.approvals),
        steps: from_json("steps", &deployment.steps),
        analysis,
        job: deployment.job_id,
        run: deployment.run_id,
        commit: deployment.commit_sha,
        url: deployment.url,
        hosts: hosts
            .into_iter()
            .map(|(host, agent)| DeploymentHostView {
                agent: agent.name,
                outcome: state_of(host.status),
                reason: host.reason,
                analysis: host.analysis.as_deref().and_then(|text| serde_json::from_str(text).ok()),
            })
            .collect(),
    })
}

fn state_of(status: DeploymentStatus) -> DeploymentState {
    match status {
        DeploymentStatus::Queued => DeploymentState::Queued,
        DeploymentStatus::Waiting => DeploymentState::Waiting,
        DeploymentStatus::InProgress => DeploymentState::InProgress,
        DeploymentStatus::Succeeded => DeploymentState::Succeeded,
        DeploymentStatus::RolledBack => DeploymentState::RolledBack,
        DeploymentStatus::Failed => DeploymentState::Failed,
        DeploymentStatus::Cancelled => DeploymentState::Cancelled,
    }
}

/// The release a rollback of a unit goes to: `to`, or the one that succeeded there before
/// the release that serves now; with the deployment it undoes.
///
/// # Errors
/// 409 when nothing succeeded there before.
pub(crate) async fn rollback_release(
    state: &AppState,
    project: &Project,
    service: &str,
    environment: &str,
    to: Option<i64>,
) -> Result<(i64, Option<i64>), ApiError> {
    let history = state.store.deployments().list(project.id, Some(service), Some(environment), 1000).await?;
    let mut succeeded = history
        .iter()
        .filter(|deployment| deployment.status == DeploymentStatus::Succeeded && deployment.job_id.is_none());
    let current = succeeded.next();
    let release = match to {
        Some(number) => Some(number),
        None => {
            let current_release = current.and_then(|deployment| deployment.release);
            succeeded.find(|deployment| deployment.release != current_release).and_then(|deployment| deployment.release)
        }
    };
    let release = release.ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!("{service} has no earlier release that succeeded in {environment} to roll back to; pass `--to N`"),
        )
    })?;
    Ok((release, current.map(|deployment| deployment.id)))
}

#[cfg(test)]
mod tests;
