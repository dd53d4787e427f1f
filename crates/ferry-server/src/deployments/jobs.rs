//! Workflow jobs with `environment:` (GitHub's syntax, a name or `{name, url}`), as
//! deployments. When the coordinator enqueues such a job it is recorded as a deployment of
//! the environment in the same transaction ([`enqueue_at_gate`]), held (`waiting`) unless its
//! gates pass at once: the job's id is the deployment's `service`,
//! it has no release, its strategy is `job`, its commit is the run's. The environment's gates
//! are judged by the same [`super::gates::judge`] as a service's release, from the
//! `.ferry/deploy.yml` the project's branch declares (so a branch or a fork cannot loosen
//! them), else the run's commit's (an environment it does not declare has no gates). `after:`
//! means that the run's commit succeeded in that environment, through a service's release or
//! a workflow job. The job is let go to runners when the gates pass ([`let_go`]), and fails
//! with the rule in words when one refuses it ([`refuse`]). When the job ends, [`settle`]
//! records its outcome on the deployment.

use ferry_model::Conclusion;
use ferry_store::{Deployment, DeploymentStatus, Job, JobGate, NewDeployment, NewJob, Run, Status, StoreError};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::gates::{EnvironmentRules, GateFacts, Subject, Verdict, judge};
use super::{rejudge, to_json};
use crate::pipeline::{Mirror, MirrorError, advance};
use crate::releases::DEPLOY_FILE;
use crate::{AppState, now_ms};

/// The strategy a workflow job's deployment is listed with.
pub(crate) const STRATEGY: &str = "job";

/// What a job's deployment keeps in its `target`: the gates it was judged by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JobTarget {
    pub(crate) rules: EnvironmentRules,
}

/// A job's `environment:`, evaluated when the job was expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobEnvironment {
    pub(crate) name: String,
    pub(crate) url: Option<String>,
}

/// Enqueues job `new_job` of `run`, which targets `environment`, with its deployment of that
/// environment, after judging the gates: in one transaction the job is queued (they passed),
/// held saying what it waits for, or failed with the rule that refused it, so that a crash
/// never leaves a job held without the deployment that would let it go. Returns the job as it
/// is now. Done once per job: a job already enqueued is returned as it is.
///
/// # Errors
/// When the store fails.
pub(crate) async fn enqueue_at_gate(
    state: &AppState,
    run: &Run,
    new_job: &NewJob<'_>,
    environment: &JobEnvironment,
    now: i64,
) -> Result<Job, StoreError> {
    let _guard = state.deploy.lock.lock().await;
    let branch = run.git_ref.strip_prefix("refs/heads/");
    let (rules, verdict, gates) = match declared_rules(state, run, &environment.name).await {
        Ok(rules) => {
            let missing_after = missing_after(state, run.project_id, &run.sha, &rules.after).await?;
            let facts = GateFacts {
                environment: &environment.name,
                subject: Subject::Commit(&run.sha),
                branch,
                missing_after: &missing_after,
                author: &run.trigger_actor,
                approvals: &[],
                budgets: &[],
                is_rollback: false,
                now,
            };
            let (verdict, gates) = judge(&rules, &facts, &[]);
            (rules, verdict, gates)
        }
        Err(unreadable) => (EnvironmentRules::default(), Verdict::Refuse(unreadable.to_string()), Vec::new()),
    };
    let (status, reason) = match &verdict {
        Verdict::Refuse(rule) => (DeploymentStatus::Failed, Some(format!("refused: {rule}"))),
        Verdict::Wait(what) => (DeploymentStatus::Waiting, Some(what.clone())),
        Verdict::Pass => (DeploymentStatus::Queued, None),
    };
    let new = NewDeployment {
        project_id: run.project_id,
        service: new_job.job_key,
        environment: &environment.name,
        release: None,
        strategy: STRATEGY,
        status,
        reason: reason.as_deref(),
        triggered_by: &run.trigger_actor,
        rollback_of: None,
        is_rollback: false,
        agent_id: None,
        hosts: &[],
        author: &run.trigger_actor,
        commits: "[]",
        gates: &to_json(&gates),
        target: &to_json(&JobTarget { rules }),
        job_id: None,
        run_id: Some(run.id),
        commit_sha: Some(&run.sha),
        url: environment.url.as_deref(),
    };
    let gate = match (&verdict, &reason) {
        (Verdict::Pass, _) => JobGate::Passed,
        (Verdict::Wait(what), _) => JobGate::Waiting(what),
        (Verdict::Refuse(_), reason) => JobGate::Refused(reason.as_deref().unwrap_or_default()),
    };
    let (job, deployment) = state.store.jobs().enqueue_at_gate(new_job, &new, gate, now).await?;
    state.deploy.notify();
    let Some(deployment) = deployment else { return Ok(job) };
    info!(
        deployment.id = deployment.id,
        job.id = job.id,
        run.id = run.id,
        "deployment {} of job {} (run {}) to {}: {}",
        deployment.id,
        job.name,
        run.id,
        environment.name,
        status.as_str()
    );
    match verdict {
        Verdict::Pass => {
            info!(job.id = job.id, run.id = run.id, "job {} of run {} passed its gates", job.name, run.id);
        }
        Verdict::Wait(_) => {}
        Verdict::Refuse(_) => {
            let reason = reason.unwrap_or_default();
            warn!(job.id = job.id, run.id = run.id, "job {} of run {} is refused: {reason}", job.name, run.id);
        }
    }
    Ok(job)
}

/// Why the gates of an environment cannot be known; a job is refused with it.
#[derive(Debug, thiserror::Error)]
enum RulesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the gates of {environment} cannot be read: {source}")]
    Unreadable {
        environment: String,
        #[source]
        source: MirrorError,
    },
    /// The deploy file of `at` (`branch main`, `commit abc1234`) has errors.
    #[error("the {DEPLOY_FILE} of {at} has errors ({source}); fix it and run the job again")]
    Invalid {
        at: String,
        #[source]
        source: ferry_deploy::InvalidDeployFile,
    },
}

/// The gates of `environment` for `run`: as the `.ferry/deploy.yml` of the project's branch
/// declares them, else as the run's commit's does (not for a fork's run); none when neither
/// declares it. `Err` says, as a refusal, why they cannot be known (a file with errors, a
/// repository that cannot be read): a job does not deploy past gates nobody can read.
async fn declared_rules(state: &AppState, run: &Run, environment: &str) -> Result<EnvironmentRules, RulesError> {
    let project = state.store.projects().get(run.project_id).await?;
    let unreadable = |source: MirrorError| RulesError::Unreadable { environment: environment.to_owned(), source };
    let mirror = Mirror::for_project(state, &project).await.map_err(unreadable)?;
    let mut commits = Vec::new();
    if let Ok(head) = mirror.resolve(&format!("refs/heads/{}", project.branch)).await {
        commits.push((head, format!("branch {}", project.branch)));
    }
    if !run.from_fork {
        commits.push((run.sha.clone(), format!("commit {}", run.sha.get(..7).unwrap_or(&run.sha))));
    }
    for (sha, at) in commits {
        let text = mirror.read_file(&sha, DEPLOY_FILE).await.map_err(unreadable)?;
        let Some(text) = text else { continue };
        let spec = ferry_deploy::compile_valid(&text).map_err(|source| RulesError::Invalid { at, source })?;
        if let Some(declared) = spec.environment(environment) {
            return Ok(EnvironmentRules::of(declared));
        }
    }
    Ok(EnvironmentRules::default())
}

/// The environments of `after` where commit `commit_sha` has not succeeded yet.
pub(crate) async fn missing_after(
    state: &AppState,
    project_id: i64,
    commit_sha: &str,
    after: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut missing = Vec::new();
    for environment in after {
        if !state.store.deployments().commit_succeeded_in(project_id, environment, commit_sha).await? {
            missing.push(environment.clone());
        }
    }
    Ok(missing)
}

/// Says what the held job of `deployment` waits for now, naming the deployment to approve
/// (nothing when the job is no longer held).
pub(crate) async fn still_waiting(state: &AppState, deployment: &Deployment, what: &str) -> Result<(), StoreError> {
    let Some(job_id) = deployment.job_id else { return Ok(()) };
    let what = format!("{what} (deployment {})", deployment.id);
    match state.store.jobs().set_waiting_for(job_id, &what).await {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Lets held job `job_id` go to runners: its gates passed.
pub(crate) async fn let_go(state: &AppState, job_id: i64) -> Result<(), StoreError> {
    match state.store.jobs().release_hold(job_id).await {
        Ok(job) => {
            info!(job.id = job_id, run.id = job.run_id, "job {} of run {} passed its gates", job.name, job.run_id);
            state.pipeline.jobs_queued.notify_waiters();
            Ok(())
        }
        Err(StoreError::Conflict(_)) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Fails held job `job_id` with `reason` (a gate refused it) and moves its run on.
pub(crate) async fn refuse(state: &AppState, job_id: i64, reason: &str) -> Result<(), StoreError> {
    match state.store.jobs().finish(job_id, Conclusion::Failure, "{}", Some(reason), now_ms()).await {
        Ok(job) => spawn_advance(state, job.run_id),
        Err(StoreError::Conflict(_)) => {}
        Err(error) => return Err(error),
    }
    Ok(())
}

/// Cancels job `job_id` (its deployment was cancelled) and moves its run on.
pub(crate) async fn cancel(state: &AppState, job_id: i64) -> Result<(), StoreError> {
    let job = state.store.jobs().cancel(job_id, now_ms()).await?;
    spawn_advance(state, job.run_id);
    Ok(())
}

/// Advances a run off the caller's path: the caller holds the deployments' lock, which the
/// run's advance takes after its own.
fn spawn_advance(state: &AppState, run_id: i64) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(error) = advance(&state, run_id).await {
            warn!(run.id = run_id, %error, "run {run_id} could not be advanced: {error}");
        }
    });
}

/// Judges again the jobs of project `project_id` waiting at their gates (something succeeded
/// that an `after:` may wait for). Called under the deployments' lock.
pub(crate) async fn rejudge_waiting(state: &AppState, project_id: i64) -> Result<(), crate::api::ApiError> {
    for deployment in state.store.deployments().with_status(DeploymentStatus::Waiting).await? {
        if deployment.project_id == project_id && deployment.job_id.is_some() {
            Box::pin(rejudge(state, &deployment)).await?;
        }
    }
    Ok(())
}

/// Records on the deployments of run `run_id`'s jobs what their jobs did: started, or
/// ended (success → `succeeded`, cancelled → `cancelled`, else `failed`, with the job's
/// reason). Idempotent: the coordinator calls it whenever it advances a run that has such jobs.
///
/// # Errors
/// When the store fails.
pub(crate) async fn settle(state: &AppState, run_id: i64) -> Result<(), StoreError> {
    let deployments = state.store.deployments().of_run_jobs(run_id).await?;
    if deployments.iter().all(|deployment| deployment.status.is_over()) {
        return Ok(());
    }
    let _guard = state.deploy.lock.lock().await;
    for deployment in deployments {
        let Some(job_id) = deployment.job_id.filter(|_| !deployment.status.is_over()) else { continue };
        let job = state.store.jobs().get(job_id).await?;
        let succeeded = record_job(state, &deployment, &job).await?;
        if succeeded && let Err(error) = rejudge_waiting(state, deployment.project_id).await {
            warn!(
                deployment.id = deployment.id,
                "the jobs waiting after deployment {} were not judged again: {}",
                deployment.id,
                error.message()
            );
        }
    }
    state.deploy.notify();
    Ok(())
}

/// Moves a job's deployment on with its job; whether it just succeeded.
async fn record_job(state: &AppState, deployment: &Deployment, job: &Job) -> Result<bool, StoreError> {
    let now = now_ms();
    let (to, reason) = match (job.status, job.conclusion) {
        (Status::InProgress, _) if deployment.status == DeploymentStatus::Queued => {
            (DeploymentStatus::InProgress, None)
        }
        (Status::Completed, Some(Conclusion::Success)) => {
            (DeploymentStatus::Succeeded, Some(format!("job {} succeeded", job.name)))
        }
        (Status::Completed, Some(Conclusion::Cancelled)) => (
            DeploymentStatus::Cancelled,
            Some(job.reason.clone().unwrap_or_else(|| format!("job {} was cancelled", job.name))),
        ),
        (Status::Completed, conclusion) => {
            let concluded = conclusion.map_or("failure", |conclusion| conclusion.as_str());
            let reason = job.reason.clone().unwrap_or_else(|| format!("job {} concluded {concluded}", job.name));
            (DeploymentStatus::Failed, Some(reason))
        }
        _ => return Ok(false),
    };
    let from = [DeploymentStatus::Queued, DeploymentStatus::Waiting, DeploymentStatus::InProgress];
    // A deployment refused or cancelled meanwhile keeps its own reason.
    let reason =
        if deployment.reason.as_deref().is_some_and(|reason| reason.starts_with("refused: ")) { None } else { reason };
    match state.store.deployments().transition(deployment.id, &from, to, reason.as_deref(), now).await {
        Ok(moved) => {
            info!(
                deployment.id = moved.id,
                "deployment {} of job {} to {}: {}",
                moved.id,
                job.name,
                moved.environment,
                to.as_str()
            );
            if to.is_over() {
                crate::dora::deployment_finished(state, &moved).await;
            }
            Ok(to == DeploymentStatus::Succeeded)
        }
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Records `url`, job `job_id`'s `environment.url` as its runner evaluated it after the
/// steps (it may use `steps.*`, which the server never sees), on the job's deployment.
///
/// # Errors
/// When the store fails.
pub(crate) async fn record_url(state: &AppState, job_id: i64, url: &str) -> Result<(), StoreError> {
    let Some(deployment) = state.store.deployments().for_job(job_id).await? else { return Ok(()) };
    state.store.deployments().set_url(deployment.id, url).await?;
    state.deploy.notify();
    Ok(())
}

/// The environment's variables and secrets for job `job` of `run`, split as the `vars` and
/// `secrets` contexts take them; `None` when the job targets no environment, and nothing for
/// a fork's run (whose code anyone may have written). Marks the job's deployment as started.
///
/// # Errors
/// When the store fails.
pub(crate) async fn claimed(
    state: &AppState,
    run: &Run,
    job: &Job,
) -> Result<Option<crate::releases::EnvironmentValues>, StoreError> {
    let Some(deployment) = state.store.deployments().for_job(job.id).await? else { return Ok(None) };
    if deployment.status == DeploymentStatus::Queued {
        let _guard = state.deploy.lock.lock().await;
        record_job(state, &deployment, job).await?;
        state.deploy.notify();
    }
    if run.from_fork {
        return Ok(Some(crate::releases::EnvironmentValues::default()));
    }
    Ok(Some(crate::releases::environment_values(state, run.project_id, &deployment.environment).await?))
}
