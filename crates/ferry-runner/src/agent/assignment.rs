//! One claimed job, from its assignment to its completion: the workspace from the repository's
//! mirror, the run's artifacts fetched, the [`JobSetup`] built as `ferry run` builds one,
//! [`run_job`], its events sent in numbered batches, heartbeats that keep the lease, the
//! artifacts it stored uploaded (a failed upload fails the job, as on GitHub), and the
//! completion.
//!
//! Three tasks share one [`Control`]: the job, the reporter (events → batches → server) and
//! the heartbeat. The server's `cancel: true` (in an answer to either) stops the job, which
//! then completes as cancelled. A 404 or 409 (the job was failed as lost, or completed
//! elsewhere) or a refused token means the job is not this runner's any more: it is stopped
//! and not completed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferry_client::{Client, ClientError};
use ferry_model::Conclusion;
use ferry_proto::runner::{EventBatch, JobAssignment, JobCompletion, JobControl, LEASE_MS};
use ferry_workflow::Dialect;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use super::artifacts::{self, ArtifactError};
use super::batch::{Batcher, step_event};
use super::cache::ServerCache;
use super::{Agent, EventSink};
use crate::events::{self, EventReceiver};
use crate::job::{JobEvent, JobOutcome, JobSetup, run_job};
use crate::mask::Masker;
use crate::workspace::WorkspaceError;

/// How long a batch or a completion is retried while the server cannot be reached.
const RETRY_FOR: Duration = Duration::from_secs(60);

/// What the job's tasks tell each other.
#[derive(Debug)]
struct Control {
    cancel: watch::Sender<bool>,
    /// The job is no longer this runner's: do not complete it.
    lost: AtomicBool,
}

impl Control {
    fn cancel(&self) {
        self.cancel.send_replace(true);
    }

    fn lose(&self) {
        self.lost.store(true, Ordering::SeqCst);
        self.cancel();
    }

    fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Acts on the server's answer to a batch or a heartbeat; `false` when the job is gone.
    fn apply(&self, job_id: i64, res: Result<JobControl, ClientError>) -> Result<bool, ClientError> {
        match res {
            Ok(control) => {
                if control.cancel && !*self.cancel.borrow() {
                    info!(job.id = job_id, "the server cancelled job {job_id}");
                    self.cancel();
                }
                Ok(true)
            }
            Err(error) if is_gone(&error) => {
                warn!(job.id = job_id, %error, "job {job_id} is no longer this runner's; stopping it");
                self.lose();
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }
}

/// The server will not take reports for this job from this runner any more.
fn is_gone(error: &ClientError) -> bool {
    matches!(error.status(), Some(401 | 403 | 404 | 409))
}

/// Runs `assignment` in claim loop `slot`'s work folder to its completion; `stop` turning true
/// (the agent is shutting down) cancels it.
pub(super) async fn run_assignment(
    agent: &Agent,
    slot: usize,
    assignment: JobAssignment,
    mut stop: watch::Receiver<bool>,
) {
    let job_id = assignment.job_id;
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let control = Arc::new(Control { cancel: cancel_tx, lost: AtomicBool::new(false) });
    // From the start: cloning a large repository can outlast a lease.
    let heartbeat =
        tokio::spawn(heartbeats(agent.client.clone(), job_id, heartbeat_period(assignment.lease_ms), control.clone()));
    let stopper = {
        let control = control.clone();
        tokio::spawn(async move {
            if stop.wait_for(|stop| *stop).await.is_ok() {
                control.cancel();
            }
        })
    };
    let (events_tx, events_rx) = events::channel(events::DEFAULT_BUDGET);
    let (done_tx, done_rx) = oneshot::channel();
    let reporter = tokio::spawn(report(agent.events.clone(), job_id, events_rx, done_rx, control.clone()));

    // Both stay from job to job of the slot (made again, they cost new inodes; see
    // `workspace::sync_workspace`), and only this slot's jobs work there, one at a time.
    let job_dir = agent.work_dir.join("jobs").join(slot.to_string());
    let work_root = agent.work_dir.join("work").join(slot.to_string());
    let outcome = {
        let mut cancelled = cancel_rx.clone();
        let prepared = tokio::select! {
            prepared = prepare(agent, &assignment, &job_dir, &work_root) => Some(prepared),
            _ = cancelled.wait_for(|cancel| *cancel) => None,
        };
        match prepared {
            Some(Ok(setup)) => {
                let artifacts_dir = setup.artifacts.clone();
                let mut outcome = run_job(setup, 0, events_tx, cancel_rx).await;
                if !control.is_lost()
                    && let Err(reason) =
                        artifacts::upload(&agent.client, job_id, &artifacts_dir, &outcome.artifacts).await
                {
                    warn!(job.id = job_id, %reason, "job {job_id} fails: {reason}");
                    outcome.conclusion = Conclusion::Failure;
                    outcome.error = Some(reason.to_string());
                }
                outcome
            }
            Some(Err(reason)) => JobOutcome::failed(reason.to_string()),
            None => JobOutcome {
                conclusion: Conclusion::Cancelled,
                result: Conclusion::Cancelled,
                ..JobOutcome::failed("the job was cancelled before its steps ran".to_owned())
            },
        }
    };
    let _ = done_tx.send(());
    if reporter.await.is_err() {
        warn!(job.id = job_id, "the reporter of job {job_id} panicked; its last lines may be missing");
    }
    if control.is_lost() {
        info!(job.id = job_id, "not completing job {job_id}: it is no longer this runner's");
    } else {
        complete(&agent.client, job_id, &outcome, &control).await;
    }
    heartbeat.abort();
    stopper.abort();
    // What the job wrote beside its workspace goes now (as GitHub's runner empties its
    // `_temp`); the folders stay for the slot's next job, and so does the workspace, which
    // that job syncs with its commit or removes.
    let files = agent.files_root.join(job_id.to_string());
    let emptied = agent
        .trash
        .discard(&files)
        .and_then(|()| agent.trash.discard_all_but(&job_dir, Some("temp".as_ref())))
        .and_then(|()| agent.trash.discard_all_but(&job_dir.join("temp"), None));
    if let Err(error) = emptied {
        warn!(job.id = job_id, %error, "could not remove job {job_id}'s files");
    }
}

/// Why a job could not be set up on this runner; the job fails with it.
#[derive(Debug, thiserror::Error)]
enum PrepareError {
    /// The workflow has errors, each as `file:line:col: message [code]`.
    #[error("{file} has errors: {}", errors.join("; "))]
    Workflow { file: String, errors: Vec<String> },
    #[error("preparing the job's folder: {0}")]
    Folders(#[source] tokio::task::JoinError),
    #[error("creating {} and {}: {source}", temp.display(), work_root.display())]
    CreateFolders {
        temp: PathBuf,
        work_root: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("checking out {sha} of {repo}: {source}")]
    Checkout {
        sha: String,
        repo: String,
        #[source]
        source: WorkspaceError,
    },
    #[error(transparent)]
    Artifacts(#[from] ArtifactError),
    #[error("writing the event payload: {0}")]
    EventPayload(#[source] serde_json::Error),
    #[error("writing {}: {source}", path.display())]
    EventFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The job's folder, workspace (in `work_root`) and setup; the error is the reason the job failed.
async fn prepare(
    agent: &Agent,
    assignment: &JobAssignment,
    job_dir: &Path,
    work_root: &Path,
) -> Result<JobSetup, PrepareError> {
    let file = assignment.workflow_file.as_str();
    let cached = agent.last_workflow.lock().ok().and_then(|last| {
        // Keyed by file too: a run's jobs of the reusable workflows it calls come from theirs.
        last.as_ref()
            .filter(|((run_id, cached_file), _)| *run_id == assignment.run_id && cached_file == file)
            .map(|(_, workflow)| workflow.clone())
    });
    let workflow = match cached {
        Some(workflow) => workflow,
        None => {
            let (workflow, diagnostics) =
                ferry_workflow::parse_workflow(&assignment.workflow_src, Dialect::for_path(file));
            let errors: Vec<String> = diagnostics
                .iter()
                .filter(|diagnostic| diagnostic.is_error())
                .map(|diagnostic| {
                    let pos = diagnostic.span.start;
                    format!("{file}:{}:{}: {} [{}]", pos.line, pos.col, diagnostic.message, diagnostic.code)
                })
                .collect();
            let workflow = match workflow {
                Some(workflow) if errors.is_empty() => Arc::new(workflow),
                _ => return Err(PrepareError::Workflow { file: file.to_owned(), errors }),
            };
            if let Ok(mut last) = agent.last_workflow.lock() {
                *last = Some(((assignment.run_id, file.to_owned()), workflow.clone()));
            }
            workflow
        }
    };

    let repository = assignment
        .contexts
        .get("github")
        .and_then(|github| github.get("repository"))
        .and_then(Value::as_str)
        .unwrap_or(&assignment.repo);
    let workspace = crate::workspace::job_workspace(work_root, repository);
    let temp = job_dir.join("temp");
    let dir = job_dir.to_path_buf();
    let (root, temp_dir) = (work_root.to_path_buf(), temp.clone());
    let trash = agent.trash.clone();
    // The workspace the slot's last job left is kept only for a job of its repository at a
    // commit checked out here already, which syncs it; anything else in the slot goes.
    let reusable = agent.mirrors.is_checked_out(&assignment.repo, &assignment.sha);
    let kept = workspace.clone();
    tokio::task::spawn_blocking(move || {
        let runner_workspace = kept.parent().unwrap_or(&root);
        trash.discard_all_but(&dir, Some("temp".as_ref()))?;
        trash.discard_all_but(&temp_dir, None)?;
        trash.discard_all_but(&root, runner_workspace.file_name())?;
        trash.discard_all_but(runner_workspace, kept.file_name().filter(|_| reusable))?;
        std::fs::create_dir_all(runner_workspace)?;
        std::fs::create_dir_all(&temp_dir)
    })
    .await
    .map_err(PrepareError::Folders)?
    .map_err(|source| PrepareError::CreateFolders {
        temp: temp.clone(),
        work_root: work_root.to_owned(),
        source,
    })?;
    let local = agent.repositories.as_deref().map(|repositories| (repositories, assignment.job_id));
    agent
        .mirrors
        .workspace(&assignment.repo, &assignment.sha, &workspace, local, assignment.repo_credential.as_deref())
        .await
        .map_err(|source| PrepareError::Checkout {
            sha: assignment.sha.clone(),
            repo: assignment.repo.clone(),
            source,
        })?;

    let artifacts_dir = agent.work_dir.join("artifacts").join(assignment.run_id.to_string());
    // Only a job that may download artifacts waits for the server's list of them (a round
    // trip before every other job's first step).
    if workflow.jobs.get(&assignment.job_key).is_none_or(may_download_artifacts) {
        artifacts::fetch(&agent.client, assignment.job_id, &artifacts_dir, &job_dir.join("fetching")).await?;
    }

    let mut contexts = assignment.contexts.clone();
    let mut secrets = assignment.secrets.clone();
    secrets.entry("GITHUB_TOKEN").or_insert_with(|| Value::String(String::new()));
    let mut masker = Masker::new();
    let secret_texts: Vec<std::borrow::Cow<'_, str>> = secrets
        .values()
        .map(|value| match value {
            Value::String(text) => std::borrow::Cow::Borrowed(text.as_str()),
            other => std::borrow::Cow::Owned(other.to_string()),
        })
        .collect();
    masker.add_all(
        agent
            .credentials
            .iter()
            .chain(&assignment.repo_credential)
            .map(String::as_str)
            .chain(assignment.runtime.as_ref().map(|runtime| runtime.token.as_str()))
            .chain(secret_texts.iter().map(AsRef::as_ref)),
    );
    contexts.insert("secrets".to_owned(), Value::Object(secrets));
    let event_path = job_dir.join("event.json");
    if let Some(github) = contexts.get_mut("github").and_then(Value::as_object_mut) {
        github.insert("workspace".to_owned(), Value::String(workspace.display().to_string()));
        // Steps read the payload from `$GITHUB_EVENT_PATH`; the server's path means nothing here.
        let event = github.get("event").cloned().unwrap_or_else(|| Value::Object(Map::new()));
        let json = serde_json::to_vec_pretty(&event).map_err(PrepareError::EventPayload)?;
        std::fs::write(&event_path, json)
            .map_err(|source| PrepareError::EventFile { path: event_path.clone(), source })?;
        github.insert("event_path".to_owned(), Value::String(event_path.display().to_string()));
    }
    let isolation = crate::isolation::Isolation {
        pass_env: agent.isolation.pass_env.clone(),
        // git in a step reads objects from where the workspace borrows them.
        confinement: agent
            .isolation
            .confinement
            .as_ref()
            .map(|confinement| Arc::new(confinement.with_readable(crate::isolation::alternates_of(&workspace)))),
    };
    Ok(JobSetup {
        workflow,
        workflow_file: assignment.workflow_file.clone(),
        job_id: assignment.job_key.clone(),
        name: assignment.name.clone(),
        contexts,
        action_dirs: vec![workspace.join(".ferry").join("actions")],
        // Refs resolve per job, as on GitHub's runner; checkouts are shared by all jobs.
        actions: Some(agent.actions.for_run()),
        tool_cache: agent.tool_cache.clone(),
        workspace,
        temp,
        files: agent.files_root.join(assignment.job_id.to_string()),
        artifacts: artifacts_dir,
        // Shared by this runner's jobs across runs, and with the project's other runners
        // through the server.
        cache: Some(agent.cache.dir.clone()),
        cache_remote: Some(Arc::new(ServerCache {
            client: agent.client.clone(),
            job_id: assignment.job_id,
            folder: agent.cache.clone(),
        })),
        masker: Arc::new(RwLock::new(masker)),
        isolation,
        runtime: assignment.runtime.clone(),
        runtime_in_containers: agent.runtime_in_containers(assignment.runtime.as_ref()).await,
        docker: match &agent.docker {
            Some(host) => crate::docker::EngineAccess::Runner(host.clone()),
            // One job at a time works in a slot's folder.
            None => crate::docker::EngineAccess::OnDemand { owner: format!("slot:{}", work_root.display()) },
        },
    })
}

/// Sends the job's events in batches until `done` (the job ended), then what is left. The
/// next batch is gathered while one is on its way: a step that prints fast keeps being read
/// while the server stores what it printed before.
async fn report(
    sink: Arc<dyn EventSink>,
    job_id: i64,
    mut events: EventReceiver,
    mut done: oneshot::Receiver<()>,
    control: Arc<Control>,
) {
    let mut batcher = Batcher::new();
    // Events received together get one time: reading the clock per line costs more than
    // the line (a step printing fast sends thousands at once).
    let push = |batcher: &mut Batcher, received: &mut Vec<(usize, JobEvent)>| {
        let (at_ms, now) = (now_ms(), std::time::Instant::now());
        for (_, event) in received.drain(..) {
            batcher.push(step_event(event, at_ms), now);
        }
    };
    // One batch waits while one is sent; a batch the sender cannot take means the job is gone.
    let (batches, to_send) = mpsc::channel::<EventBatch>(1);
    let sender = tokio::spawn(send_all(sink, job_id, to_send, control));
    let mut received = Vec::new();
    loop {
        let deadline = batcher.deadline();
        tokio::select! {
            n_received = events.recv_many(&mut received, 4096) => {
                if n_received == 0 {
                    break;
                }
                push(&mut batcher, &mut received);
            }
            _ = &mut done => {
                // Everything the job sent was sent before it returned.
                while let Some(event) = events.try_recv() {
                    received.push(event);
                }
                push(&mut batcher, &mut received);
                break;
            }
            () = sleep_until(deadline) => {}
        }
        while batcher.is_due(std::time::Instant::now()) {
            let Some(batch) = batcher.take() else { break };
            if batches.send(batch).await.is_err() {
                return;
            }
        }
    }
    while let Some(batch) = batcher.take() {
        if batches.send(batch).await.is_err() {
            return;
        }
    }
    drop(batches);
    // The job is completed only after its last lines were sent.
    if sender.await.is_err() {
        warn!(job.id = job_id, "the sender of job {job_id}'s events panicked; its last lines may be missing");
    }
}

/// Sends the batches in order until there are no more or the job is gone.
async fn send_all(
    sink: Arc<dyn EventSink>,
    job_id: i64,
    mut batches: mpsc::Receiver<EventBatch>,
    control: Arc<Control>,
) {
    while let Some(batch) = batches.recv().await {
        if !send_batch(sink.as_ref(), job_id, Arc::new(batch), &control).await {
            return;
        }
    }
}

async fn sleep_until(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

/// Sends `batch`, the same one again (same number) while the server cannot be reached, for up
/// to [`RETRY_FOR`]; `false` when the job is gone (or the server stayed away, so its lease ran
/// out and it is gone too).
async fn send_batch(sink: &dyn EventSink, job_id: i64, batch: Arc<EventBatch>, control: &Control) -> bool {
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        match control.apply(job_id, sink.send_events(job_id, batch.clone()).await) {
            Ok(kept) => return kept,
            Err(error) if error.is_transient() && started.elapsed() < RETRY_FOR => {
                warn!(job.id = job_id, seq = batch.seq, %error, "sending events of job {job_id} failed; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) if error.is_transient() => {
                warn!(job.id = job_id, %error, "the server stayed unreachable; stopping job {job_id}");
                control.lose();
                return false;
            }
            Err(error) => {
                // A batch the server cannot take will not be taken later; the log misses it.
                warn!(job.id = job_id, seq = batch.seq, %error, "the server refused events of job {job_id}");
                return true;
            }
        }
    }
}

/// A third of the lease the server gave (of its default, when it gave none that makes sense),
/// so two heartbeats may be lost before the lease runs out.
fn heartbeat_period(lease_ms: i64) -> Duration {
    let lease_ms = if lease_ms > 0 { lease_ms } else { LEASE_MS };
    Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(5_000).max(1))
}

/// Heartbeats every `period` until aborted.
async fn heartbeats(client: Client, job_id: i64, period: Duration, control: Arc<Control>) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        ticker.tick().await;
        match control.apply(job_id, client.heartbeat(job_id).await) {
            Ok(true) => {}
            Ok(false) => return,
            Err(error) => warn!(job.id = job_id, %error, "heartbeat of job {job_id} failed"),
        }
    }
}

/// Completes the job with its outcome, retrying while the server cannot be reached.
async fn complete(client: &Client, job_id: i64, outcome: &JobOutcome, control: &Control) {
    let completion = JobCompletion {
        conclusion: outcome.conclusion,
        outputs: outcome.outputs.clone(),
        reason: outcome.error.clone(),
        environment_url: outcome.environment_url.clone(),
    };
    let started = tokio::time::Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        match client.complete(job_id, &completion).await {
            Ok(()) => {
                info!(job.id = job_id, conclusion = %outcome.conclusion, "job {job_id} completed: {}", outcome.conclusion);
                return;
            }
            Err(error) if error.is_transient() && started.elapsed() < RETRY_FOR && !control.is_lost() => {
                warn!(job.id = job_id, %error, "completing job {job_id} failed; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                warn!(job.id = job_id, %error, "could not complete job {job_id}");
                return;
            }
        }
    }
}

/// Whether a job's steps may read the run's artifacts: `actions/download-artifact`, a local
/// composite action (it may use it), or a `uses:` only known at run time.
fn may_download_artifacts(job: &ferry_workflow::model::Job) -> bool {
    job.steps.iter().any(|step| match &step.kind {
        ferry_workflow::model::StepKind::Uses { uses, .. } => {
            let reference = uses.value.to_ascii_lowercase();
            reference.starts_with("actions/download-artifact") || reference.starts_with("./") || uses.has_expression()
        }
        _ => false,
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_jobs_that_may_download_artifacts_fetch_the_list() {
        let src = "on: push\njobs:\n  plain: { runs-on: x, steps: [{ run: make }, { uses: actions/checkout@v4 }] }\n  \
                   get: { runs-on: x, steps: [{ uses: actions/download-artifact@v4, with: { name: out } }] }\n  \
                   local: { runs-on: x, steps: [{ uses: ./.github/actions/setup }] }\n";
        let (workflow, _) = ferry_workflow::parse_workflow(src, Dialect::GitHub);
        let workflow = workflow.expect("a workflow");
        let answers: Vec<(&str, bool)> =
            workflow.jobs.iter().map(|(key, job)| (key.as_str(), may_download_artifacts(job))).collect();
        assert_eq!(answers, [("plain", false), ("get", true), ("local", true)]);
    }

    #[test]
    fn heartbeats_come_every_third_of_the_lease_the_server_gives() {
        let periods: Vec<u128> =
            [60_000, 15_000, 3, 0, -5].into_iter().map(|lease_ms| heartbeat_period(lease_ms).as_millis()).collect();
        assert_eq!(periods, [20_000, 5_000, 1, 5_000, 5_000]);
    }
}
