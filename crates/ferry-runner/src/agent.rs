//! The runner agent (`ferry runner`): pulls jobs from a Ferry server and runs them on this
//! host, `slots` at a time.
//!
//! Each slot is a claim loop: a long-polling claim (the server holds it up to 30 s), then the
//! job it got, start to completion ([`assignment`]), then the next claim. The server never
//! dials the runner, and the runner holds nothing the server needs: a job whose runner went
//! away is failed as lost when its lease runs out.
//!
//! The work directory holds `repos/` (one mirror per repository, see [`mirror`]), `jobs/<slot>/`
//! (the slot's job's temporary files and event payload), `work/<slot>/<repo>/<repo>` (the workspace of
//! the slot's job, laid out as on GitHub's runner: the same path for each job of a repository
//! in that slot, so caches keyed by their paths restore across runs). Both stay when a job
//! ends: the slot's next job empties the first and syncs the workspace with its commit in
//! place, or moves what it cannot use to `trash/`, deleted there in the background (see
//! [`trash`]); `artifacts/<run id>/`
//! (the run's artifacts, synced with the server by [`artifacts`]) and `cache/` (`actions/cache`
//! entries, kept on this runner across runs while jobs restore them, and shared with the
//! project's other runners through the server by [`cache`]). It belongs to one runner process
//! at a time. Job events go to an [`EventSink`]: the server's events route, or, for the
//! server's embedded runner, the server in the same process.

mod artifacts;
mod assignment;
mod batch;
mod cache;
mod mirror;
mod relay;
mod sink;
mod trash;

pub use artifacts::hash_tree;
pub use sink::{EventSink, LocalRepositories, SinkFuture, UpcomingCommit};

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferry_client::{Client, ClientError};

use crate::isolation::Isolation;
use tokio::sync::watch;
use tracing::{Instrument, info, warn};

/// How long one claim asks the server to wait for a job.
const CLAIM_WAIT_MS: u64 = 30_000;

/// How a runner runs.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The labels it registered with (shown in its log; the server matches them).
    pub labels: Vec<String>,
    /// How many jobs run at once; at least 1.
    pub slots: usize,
    /// Where mirrors, workspaces and artifacts live; created if missing.
    pub work_dir: PathBuf,
    /// Where jobs' event batches go; `None`: the server's events route, through the client.
    pub events: Option<Arc<dyn EventSink>>,
    /// Where a job's commit may be found on this host before it is fetched (the server's
    /// copy, for its embedded runner).
    pub repositories: Option<Arc<dyn LocalRepositories>>,
    /// What steps get of this host (see [`crate::isolation`]); a job's steps may also read
    /// the repositories its workspace borrows objects from.
    pub isolation: Isolation,
    /// The runner's own credentials (its token): masked in every job's log, should a step
    /// find one.
    pub credentials: Vec<String>,
    /// Where `uses: owner/repo@ref` actions are fetched from (see
    /// [`crate::actions::ActionsSource::new`]); [`crate::actions::DEFAULT_ACTIONS_URL`] by default.
    pub actions_url: String,
    /// The container engine it reached when it started (see [`crate::docker::DockerHost::start`]);
    /// with one it claims jobs that need the `docker` capability, without one it never does.
    pub docker: Option<Arc<crate::docker::DockerHost>>,
}

/// Why the agent stopped without being asked to.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("preparing the work directory {}: {source}", .path.display())]
    WorkDir { path: PathBuf, source: std::io::Error },
    /// The server does not take the runner's token (revoked, or not a runner token).
    #[error("the server refused this runner: {0}; register it again (give `ferry runner` an admin token)")]
    Refused(#[source] ClientError),
    #[error("a claim loop stopped unexpectedly: {0}")]
    Crashed(String),
    #[error(transparent)]
    Actions(#[from] crate::actions::ActionsError),
}

/// What every claim loop shares.
#[derive(Debug)]
struct Agent {
    client: Client,
    /// Where jobs' event batches go (the client, unless the options said otherwise).
    events: Arc<dyn EventSink>,
    repositories: Option<Arc<dyn LocalRepositories>>,
    /// Absolute, so workspaces have absolute paths.
    work_dir: PathBuf,
    mirrors: mirror::Mirrors,
    /// Where jobs' step scripts and runner files go: a folder on `/dev/shm` (a tmpfs) when
    /// there is one, else `work_dir/files`. They are rewritten every step; on ext4, creating
    /// and deleting them was the runner's largest cost per job in the server benchmark.
    files_root: PathBuf,
    /// Where finished jobs' folders go to be deleted off the claim loops' path.
    trash: Arc<trash::Trash>,
    /// `work_dir/cache`: copies of the server's `actions/cache` entries.
    cache: Arc<cache::CacheFolder>,
    isolation: Isolation,
    credentials: Vec<String>,
    /// Actions fetched from their repositories, kept in `work_dir/actions` across jobs.
    actions: crate::actions::ActionsSource,
    /// `work_dir/tool-cache`: `RUNNER_TOOL_CACHE` of every job.
    tool_cache: PathBuf,
    docker: Option<Arc<crate::docker::DockerHost>>,
    /// The runtime services for containers when the server's URL is loopback, started with
    /// the first job given such a URL (see [`relay`]).
    relay: tokio::sync::Mutex<Option<relay::Relay>>,
    /// What it claims jobs with beyond its labels: `docker` with an engine.
    capabilities: Vec<ferry_proto::runner::Capability>,
    /// The last workflow parsed, by run id and file: the jobs of a run share theirs (the
    /// run's, or a reusable workflow it calls), and parsing it per job made each job of a
    /// large run (a large workflow) cost more.
    last_workflow: std::sync::Mutex<Option<ParsedWorkflow>>,
}

/// A parsed workflow and the run id and file it was parsed for.
type ParsedWorkflow = ((i64, String), Arc<ferry_workflow::model::Workflow>);

/// The folder for jobs' runner files: on `/dev/shm` when it is there, named after the work
/// directory so two runners on one host keep apart.
fn files_root(work_dir: &std::path::Path) -> PathBuf {
    use sha2::Digest as _;
    let shm = std::path::Path::new("/dev/shm");
    if !shm.is_dir() {
        return work_dir.join("files");
    }
    let digest = sha2::Sha256::digest(work_dir.as_os_str().as_encoded_bytes());
    let name = hex::encode(&digest[..8]);
    shm.join(format!("ferry-runner-{name}"))
}

/// Claims and runs jobs until `shutdown` completes: then it stops claiming, cancels the jobs in
/// progress, completes them (as cancelled) and returns.
///
/// # Errors
/// [`AgentError::WorkDir`] when the work directory cannot be made, [`AgentError::Refused`]
/// when the server refuses the token (every slot stops then). An unreachable server is not an
/// error: the agent keeps trying, backing off up to 30 s.
pub async fn run_agent(
    client: Client,
    options: AgentOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), AgentError> {
    let work_dir = prepare_work_dir(&options.work_dir)?;
    let files_root = files_root(&work_dir);
    let trash = Arc::new(trash::Trash::new(work_dir.join("trash")));
    let events = options.events.clone().unwrap_or_else(|| Arc::new(client.clone()));
    let cache = Arc::new(cache::CacheFolder { dir: work_dir.join("cache"), lock: tokio::sync::Mutex::new(()) });
    let actions = crate::actions::ActionsSource::new(&options.actions_url, work_dir.join("actions"))?;
    let agent = Arc::new(Agent {
        actions,
        tool_cache: work_dir.join("tool-cache"),
        client,
        events,
        repositories: options.repositories.clone(),
        mirrors: mirror::Mirrors::new(work_dir.join("repos")),
        work_dir,
        files_root,
        trash,
        cache,
        isolation: options.isolation.clone(),
        credentials: options.credentials.clone(),
        docker: options.docker.clone(),
        relay: tokio::sync::Mutex::new(None),
        capabilities: options.docker.iter().map(|_| ferry_proto::runner::Capability::Docker).collect(),
        last_workflow: std::sync::Mutex::new(None),
    });
    let reaper = tokio::spawn(agent.trash.clone().reap());
    let pruner = tokio::spawn(cache::prune_every_hour(agent.cache.clone(), agent.trash.clone()));
    let ahead = options.repositories.clone().map(|repositories| {
        let agent = agent.clone();
        tokio::spawn(async move {
            while let Some(commit) = repositories.next_commit().await {
                agent.mirrors.prepare_ahead(&commit.repo, &commit.sha, &commit.source).await;
            }
        })
    });
    let slots = options.slots.max(1);
    info!(
        server = agent.client.base_url(),
        labels = %options.labels.join(","),
        slots,
        work_dir = %agent.work_dir.display(),
        "runner waiting for jobs from {} with labels [{}]",
        agent.client.base_url(),
        options.labels.join(", ")
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut loops = tokio::task::JoinSet::new();
    for slot in 0..slots {
        let span = tracing::info_span!("slot", slot);
        loops.spawn(claim_loop(agent.clone(), slot, stop_rx.clone()).instrument(span));
    }
    let mut shutdown = std::pin::pin!(shutdown);
    let mut stopping = false;
    let mut res = Ok(());
    loop {
        tokio::select! {
            () = &mut shutdown, if !stopping => {
                info!("stopping: no more claims; cancelling the jobs in progress");
                stopping = true;
                stop_tx.send_replace(true);
            }
            joined = loops.join_next() => {
                let error = match joined {
                    None => break,
                    Some(Ok(Ok(()))) => continue,
                    Some(Ok(Err(error))) => error,
                    Some(Err(error)) => AgentError::Crashed(error.to_string()),
                };
                if res.is_ok() {
                    res = Err(error);
                }
                stopping = true;
                stop_tx.send_replace(true);
            }
        }
    }
    reaper.abort();
    pruner.abort();
    if let Some(ahead) = ahead {
        ahead.abort();
    }
    res
}

/// Makes the work directory's folders and empties `jobs/` and `spares/` of what a stopped runner left.
fn prepare_work_dir(dir: &std::path::Path) -> Result<PathBuf, AgentError> {
    let fail = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| AgentError::WorkDir { path, source }
    };
    std::fs::create_dir_all(dir).map_err(fail(dir))?;
    let dir = dir.canonicalize().map_err(fail(dir))?;
    // Spare checkouts are made again as jobs come; one made ahead for a job that never came
    // would stay forever.
    for sub in ["jobs", "spares", "work"] {
        trash::remove_all(&dir.join(sub)).map_err(fail(&dir.join(sub)))?;
    }
    for sub in ["repos", "jobs", "work", "artifacts", "cache", "trash"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(fail(&dir.join(sub)))?;
    }
    Ok(dir)
}

impl Agent {
    /// Where actions in a job's containers reach the runtime services at `runtime`, when
    /// that is not `runtime` itself: a loopback URL is the container's own, so a runner with
    /// a container engine relays the services on the engine's bridge gateway ([`relay`]).
    /// `None`: containers use `runtime` (or get nothing that works, when the relay cannot
    /// start; a warning says why).
    async fn runtime_in_containers(&self, runtime: Option<&ferry_proto::runtime::RuntimeAccess>) -> Option<String> {
        let upstream = relay::Upstream::loopback(&runtime?.url)?;
        let docker = self.docker.as_ref()?;
        let mut relay = self.relay.lock().await;
        if let Some(running) = relay.as_ref().filter(|running| running.upstream() == &upstream) {
            return Some(running.url().to_owned());
        }
        let Some(gateway) = docker.engine.bridge_gateway().await else {
            warn!(
                "the container engine has no bridge gateway: actions in containers cannot reach the server's cache service on loopback"
            );
            return None;
        };
        match relay::Relay::start(gateway, upstream).await {
            Ok(started) => {
                info!(url = started.url(), "relaying the server's runtime services to containers at {}", started.url());
                let url = started.url().to_owned();
                *relay = Some(started);
                Some(url)
            }
            Err(error) => {
                warn!(%error, "the runtime relay cannot listen on the container engine's bridge {gateway}: {error}; actions in containers run without the cache service");
                None
            }
        }
    }
}

/// Claims a job, runs it, and again, until `stop`; its jobs work in `work/<slot>`.
async fn claim_loop(agent: Arc<Agent>, slot: usize, mut stop: watch::Receiver<bool>) -> Result<(), AgentError> {
    let mut delay = Duration::ZERO;
    loop {
        let claimed = tokio::select! {
            claimed = agent.client.claim(CLAIM_WAIT_MS, &agent.capabilities) => claimed,
            _ = stop.wait_for(|stop| *stop) => return Ok(()),
        };
        match claimed {
            Ok(Some(assignment)) => {
                delay = Duration::ZERO;
                info!(
                    job.id = assignment.job_id,
                    run.id = assignment.run_id,
                    "running job {} ({}) of run {}",
                    assignment.job_id,
                    assignment.name,
                    assignment.run_id
                );
                let span = tracing::info_span!("job", job.id = assignment.job_id, run.id = assignment.run_id);
                assignment::run_assignment(&agent, slot, assignment, stop.clone()).instrument(span).await;
            }
            Ok(None) => delay = Duration::ZERO,
            Err(error) if matches!(error.status(), Some(401 | 403)) => return Err(AgentError::Refused(error)),
            Err(error) => {
                delay = next_delay(delay);
                warn!(%error, "claiming a job failed; trying again in {} s", delay.as_secs_f64());
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|stop| *stop) => return Ok(()),
                }
            }
        }
        if *stop.borrow() {
            return Ok(());
        }
    }
}

/// Backing off: 1 s, doubling, at most 30 s.
fn next_delay(delay: Duration) -> Duration {
    (delay * 2).clamp(Duration::from_secs(1), Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_claims_back_off_from_one_to_thirty_seconds() {
        let delays: Vec<u64> = std::iter::successors(Some(Duration::ZERO), |delay| Some(next_delay(*delay)))
            .skip(1)
            .take(7)
            .map(|delay| delay.as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
    }
}
