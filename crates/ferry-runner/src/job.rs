//! Runs one job's steps on this host, as GitHub's runner does: evaluates each step's `if:`,
//! runs `run:` steps as processes with GitHub's runner files and variables, expands local
//! composite actions, applies workflow commands and masking, and collects the steps' outcomes
//! and the job's outputs.
//!
//! Everything the job sees from outside (the `github` event, inputs, secrets, the outputs of
//! the jobs it needs) comes in through [`JobSetup`]; everything it shows goes out as
//! [`JobEvent`]s, already masked.

mod action;
mod builtin;
mod containers;
mod contexts;
mod docker_action;
mod step;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferry_model::{Conclusion, JobStatus};
use ferry_workflow::expr::Value;
use ferry_workflow::model::{Defaults, Step, Workflow};
use serde_json::{Map, json};
use tokio::sync::watch;

pub use contexts::{Contexts, EvalFailure, Evaluate, HashFilesReadError, glob_match, hash_files};

use crate::commands::Annotation;
use crate::isolation::Isolation;
use crate::mask::Masker;

/// Everything one job needs to run.
#[derive(Debug, Clone)]
pub struct JobSetup {
    pub workflow: Arc<Workflow>,
    /// The workflow file as shown in messages (`.github/workflows/ci.yml`).
    pub workflow_file: String,
    pub job_id: String,
    /// The name GitHub shows (`build (linux, 3)`).
    pub name: String,
    /// Contexts fixed for the whole job: `github` (without `job`), `inputs`, `vars`,
    /// `secrets`, `needs`, `matrix`, `strategy`.
    pub contexts: Map<String, Value>,
    /// The repository at the run's commit, this job's own copy.
    pub workspace: PathBuf,
    /// An empty directory for this job's temporary files (`RUNNER_TEMP`).
    pub temp: PathBuf,
    /// A directory for the step scripts and runner files (`$GITHUB_OUTPUT`, …), made on first
    /// use. They are small and rewritten every step, so a tmpfs suits them best.
    pub files: PathBuf,
    /// Directories holding actions by `owner/repo[/path]`, searched for `uses: owner/repo@ref`
    /// before [`JobSetup::actions`] (local overrides).
    pub action_dirs: Vec<PathBuf>,
    /// Where other actions are fetched from (`None`: only local ones run). One per run (see
    /// [`crate::actions::ActionsSource::for_run`]), so a tag resolves once per run.
    pub actions: Option<crate::actions::ActionsSource>,
    /// `RUNNER_TOOL_CACHE`: a folder kept across jobs and runs, where `setup-*` actions keep
    /// the tools they download.
    pub tool_cache: PathBuf,
    /// Where `actions/upload-artifact` keeps files for the rest of the run (one folder per
    /// artifact name), shared by the run's jobs.
    pub artifacts: PathBuf,
    /// Where `actions/cache` keeps entries across runs; `None`: every lookup misses.
    pub cache: Option<PathBuf>,
    /// Where entries are looked up and saved ones stored, so runners share them (the agent's
    /// server), [`JobSetup::cache`] keeping copies; `None` (`ferry run`): that folder is the
    /// cache.
    pub cache_remote: Option<Arc<dyn CacheRemote>>,
    /// Shared by every job of the run: secrets, and values jobs mask with `::add-mask::`.
    pub masker: Arc<RwLock<Masker>>,
    /// Which host variables steps get besides the allow-list, and whether they are confined.
    pub isolation: Isolation,
    /// The runtime services (the cache service `@actions/cache` speaks) steps reach through
    /// `ACTIONS_RUNTIME_URL`, `ACTIONS_CACHE_URL`, `ACTIONS_RESULTS_URL` and
    /// `ACTIONS_RUNTIME_TOKEN` (which the masker must hold) for actions' processes; `None`:
    /// actions get none of them.
    pub runtime: Option<ferry_proto::runtime::RuntimeAccess>,
    /// The runtime services' base URL as a container on this host reaches it, when that is
    /// not [`JobSetup::runtime`]'s (`ferry run` serves them on loopback, which a container
    /// cannot reach, and on the container engine's bridge for containers; a runner given a
    /// server's loopback URL relays them there); `None`: the same.
    pub runtime_in_containers: Option<String>,
    /// The container engine for `container:`, `services:` and Docker actions: the runner's,
    /// or connected when the job first needs it, in the name of the job's work folder.
    pub docker: crate::docker::EngineAccess,
}

/// A future [`CacheRemote`] returns.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Why a [`CacheRemote`] could not look up, fetch or store an entry: what it was doing, and
/// the cause. A step shows it as a warning and goes on without the cache.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {source}")]
pub struct CacheRemoteError {
    /// What was attempted: `looking up the cache on the server`, `fetching cache entry `k``.
    pub action: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Cache entries beyond this machine, for `actions/cache`. With one, it decides what a job
/// restores (the server scopes entries by ref), and the cache folder only keeps copies of
/// its entries, so an entry this machine holds is never restored where the remote would not
/// restore it. An entry is a folder as the cache folder holds it; errors
/// ([`CacheRemoteError`]) the step shows as warnings (a cache that cannot be reached is a miss,
/// as on GitHub).
pub trait CacheRemote: Send + Sync + std::fmt::Debug {
    /// The key of the entry to restore for `key` (exactly, else as a prefix, else each of
    /// `restore_keys` in turn), without fetching anything.
    fn lookup<'a>(
        &'a self,
        key: &'a str,
        restore_keys: &'a [String],
    ) -> BoxFuture<'a, Result<Option<String>, CacheRemoteError>>;

    /// Finds the entry as [`CacheRemote::lookup`] does and makes sure a whole copy of it is
    /// in a folder of `cache`, fetching it when that folder lacks it; the matched key and the
    /// folder.
    fn fetch<'a>(
        &'a self,
        key: &'a str,
        restore_keys: &'a [String],
        cache: &'a Path,
    ) -> BoxFuture<'a, Result<Option<(String, PathBuf)>, CacheRemoteError>>;

    /// Stores the entry folder `entry` (the caller's, given up) under `key`; an entry stored
    /// under it already is kept. The folder is then moved into `cache` where
    /// [`CacheRemote::fetch`] finds it, or removed.
    fn store<'a>(
        &'a self,
        key: &'a str,
        entry: &'a Path,
        cache: &'a Path,
    ) -> BoxFuture<'a, Result<(), CacheRemoteError>>;
}

/// What a running job reports; all text is masked.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    StepStarted {
        step_idx: usize,
        name: String,
    },
    Line {
        step_idx: usize,
        text: String,
    },
    /// Lines read together from a step's output, in order, each ending in `\n`.
    Lines {
        step_idx: usize,
        text: String,
    },
    Group {
        step_idx: usize,
        title: String,
    },
    EndGroup {
        step_idx: usize,
    },
    Annotation {
        step_idx: usize,
        annotation: Annotation,
    },
    StepFinished {
        step_idx: usize,
        outcome: Conclusion,
        conclusion: Conclusion,
        elapsed: Duration,
    },
}

/// One step's result, as the report shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub id: Option<String>,
    pub name: String,
    pub outcome: Conclusion,
    pub conclusion: Conclusion,
    pub elapsed: Duration,
}

/// How the job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// After `continue-on-error` and `allow-failure` are applied.
    pub conclusion: Conclusion,
    /// What the job's own steps did: success, failure or cancelled.
    pub result: Conclusion,
    pub outputs: Map<String, Value>,
    pub steps: Vec<StepRecord>,
    /// What `$GITHUB_STEP_SUMMARY` received, in step order.
    pub summary: String,
    /// Why the job could not run its steps at all (a bad expression, no container engine).
    pub error: Option<String>,
    /// The artifacts its `actions/upload-artifact` steps stored in [`JobSetup::artifacts`], in
    /// the order first stored; the agent uploads these to the server.
    pub artifacts: Vec<StoredArtifact>,
    /// Its `environment.url` evaluated after its steps, when it has one (not empty, no secret
    /// in it).
    pub environment_url: Option<String>,
}

/// An artifact a job's `actions/upload-artifact` stored, with what its last upload asked of
/// the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArtifact {
    /// Its folder's name in [`JobSetup::artifacts`].
    pub name: String,
    /// `retention-days`, when given and not 0; at least 1.
    pub retention_days: Option<u32>,
    /// `overwrite: true`: it replaces an artifact of its name that another job stored.
    pub overwrite: bool,
}

pub use crate::events::EventSender;

/// `text` with the job's secrets masked (nothing, should a thread have panicked holding the
/// masker: better a lost line than a leaked secret).
pub(crate) fn masked(masker: &RwLock<Masker>, text: &str) -> String {
    masker.read().map(|masker| masker.mask(text).into_owned()).unwrap_or_default()
}

/// Appends `line` with the job's secrets masked, and a line end, to `out` (the line is left
/// out should a thread have panicked holding the masker).
pub(crate) fn push_masked_line(masker: &RwLock<Masker>, line: &str, out: &mut String) {
    if let Ok(masker) = masker.read() {
        out.push_str(&masker.mask(line));
        out.push('\n');
    }
}

/// Appends `text` (lines joined by `\n`, without the last one's) with the job's secrets
/// masked line by line, and a line end, to `out`: in one piece when no secret occurs in it, the
/// common case for a step that prints a lot (left out should a thread have panicked holding
/// the masker).
pub(crate) fn push_masked_lines(masker: &RwLock<Masker>, text: &str, out: &mut String) {
    let Ok(masker) = masker.read() else { return };
    if masker.is_found_in(text) {
        for line in crate::process::split_lines(text) {
            out.push_str(&masker.mask(line));
            out.push('\n');
        }
    } else {
        out.push_str(text);
        out.push('\n');
    }
}

/// GitHub's default job timeout.
const DEFAULT_JOB_TIMEOUT: Duration = Duration::from_secs(360 * 60);

/// Runs the job described by `setup`. `cancel` turning true cancels it: the running step is
/// stopped and only steps whose `if:` asks for it (`always()`, `cancelled()`) still run.
pub async fn run_job(setup: JobSetup, tag: usize, events: EventSender, cancel: watch::Receiver<bool>) -> JobOutcome {
    let workflow = setup.workflow.clone();
    let Some(job) = workflow.jobs.get(&setup.job_id) else {
        return JobOutcome::failed(format!("job `{}` is not in {}", setup.job_id, setup.workflow_file));
    };
    let mut contexts =
        Contexts { values: setup.contexts.clone(), status: JobStatus::Success, workspace: setup.workspace.clone() };
    if let Some(github) = contexts.values.get_mut("github").and_then(Value::as_object_mut) {
        github.insert("job".to_owned(), Value::String(setup.job_id.clone()));
    }
    contexts.set("job", json!({"status": "success", "container": {}, "services": {}}));
    contexts.set("steps", Value::Object(Map::new()));
    contexts.set(
        "runner",
        json!({
            "name": "ferry", "os": "Linux", "arch": runner_arch(), "environment": "self-hosted",
            "temp": setup.temp.display().to_string(),
            "tool_cache": setup.tool_cache.display().to_string(),
            "workspace": runner_workspace(&setup).display().to_string(),
            "debug": "",
        }),
    );
    let file = setup.workflow_file.as_str();
    let mut env = Map::new();
    for source in [&workflow.env, &job.env] {
        if let Err(error) = step::add_env(&mut env, &mut contexts, file, source) {
            return JobOutcome::failed(error.0);
        }
        contexts.set("env", Value::Object(env.clone()));
    }
    if job.uses.is_some() {
        return JobOutcome::failed(format!(
            "job `{}` calls a reusable workflow; `ferry run` does not run reusable workflows yet",
            setup.job_id
        ));
    }
    let timeout = match contexts.number(file, job.timeout_minutes.as_ref()) {
        Ok(minutes) => minutes.map_or(DEFAULT_JOB_TIMEOUT, minutes_to_duration),
        Err(error) => return JobOutcome::failed(error.0),
    };
    let continue_on_error = contexts.boolean(file, job.continue_on_error.as_ref(), false);
    let defaults = merged_defaults(&workflow.defaults, &job.defaults);
    // Services and the job container start before the first step; what that shows goes into
    // the first step's log (a step's log is where lines are kept).
    let mut preamble = Vec::new();
    // Connected once per job, when it first needs it (see `EngineAccess::OnDemand`).
    let mut docker = None;
    let containers = if job.container.is_some() || job.services.is_some() {
        let started =
            containers::JobContainers::start(&setup, &mut docker, job, &mut contexts, file, &mut preamble, &cancel)
                .await;
        match started {
            Ok(containers) => containers,
            Err(error) => return JobOutcome::failed(masked(&setup.masker, &error.to_string())),
        }
    } else {
        None
    };
    let container = containers.as_ref().and_then(|containers| containers.container.clone());

    // The job's own cancel signal: the caller's cancel, or the job's timeout.
    let (job_cancel_tx, job_cancel) = watch::channel(false);
    let timed_out = Arc::new(AtomicBool::new(false));
    let watchdog = tokio::spawn(cancel_on(cancel, timeout, job_cancel_tx, timed_out.clone()));

    let mut runner = step::StepRunner {
        setup: &setup,
        file: file.to_owned(),
        defaults,
        events: &events,
        tag,
        cancel: job_cancel,
        env,
        path_additions: Vec::new(),
        summary: String::new(),
        base_env: base_env(&setup, &contexts, container.as_deref()),
        container,
        docker,
        shown_downloads: std::collections::HashSet::new(),
        preamble,
        background_groups: Vec::new(),
        made_files_dir: false,
        pending_saves: Vec::new(),
        artifacts: Vec::new(),
        commands: crate::commands::Commands::new(),
        programs: std::collections::HashMap::new(),
        post_steps: Vec::new(),
        pre_states: std::collections::HashMap::new(),
        last_state: Vec::new(),
        node: None,
        node_major: None,
        action_depth: 0,
        action_path: Vec::new(),
        step_name: String::new(),
    };
    if let Err(error) = std::fs::create_dir_all(&setup.tool_cache) {
        tracing::warn!(%error, "could not make the tool cache {}", setup.tool_cache.display());
    }
    let steps: &[Step] = &job.steps;
    // The JavaScript actions' `pre` and `post` scripts are steps after the job's own (by
    // index; they run first and last).
    let (mut extra_records, pre_states) = action::run_pre_steps(&mut runner, steps, steps.len(), &mut contexts).await;
    runner.pre_states = pre_states;
    let mut records = Vec::new();
    for (step_idx, step) in steps.iter().enumerate() {
        let record = runner.run_top_level(step_idx, step, &mut contexts).await;
        records.push(record);
    }
    // As on GitHub: in reverse order, after a failure or cancel too (`post-if` decides).
    while let Some(post) = runner.post_steps.pop() {
        let step_idx = steps.len() + extra_records.len();
        let record = post.run(&mut runner, step_idx, &mut contexts).await;
        extra_records.push(record);
    }
    records.extend(extra_records);
    watchdog.abort();
    // `actions/cache` saves after the job, and only when it succeeded, as on GitHub.
    if contexts.status == JobStatus::Success {
        for save in std::mem::take(&mut runner.pending_saves) {
            if let Err(error) = builtin::save_cache(&runner, steps.len().saturating_sub(1), &save).await {
                runner.line(steps.len().saturating_sub(1), &format!("warning: {error}"));
            }
        }
    }
    // As GitHub's runner does at the end of a job: whatever steps left running goes now.
    for group in runner.background_groups.drain(..) {
        crate::process::kill_group(group);
    }
    if let Some(containers) = containers {
        let mut lines = Vec::new();
        containers.finish(&setup, &mut lines).await;
        if let Some(last) = steps.len().checked_sub(1) {
            for text in lines {
                runner.line(last, &text);
            }
        }
    }

    let mut error = None;
    let result = match contexts.status {
        // A job that ran out of time failed, whatever its steps say.
        _ if timed_out.load(Ordering::SeqCst) => {
            error = Some(format!(
                "the job exceeded its timeout of {} minutes and was stopped",
                timeout.as_secs_f64() / 60.0
            ));
            Conclusion::Failure
        }
        JobStatus::Success => Conclusion::Success,
        JobStatus::Failure => Conclusion::Failure,
        JobStatus::Cancelled => Conclusion::Cancelled,
    };
    let mut outputs = Map::new();
    let mask = |text: &str| masked(&setup.masker, text);
    for (name, text) in &job.outputs {
        match contexts.render(file, text) {
            // As on GitHub, an output that holds a secret is dropped, not passed on.
            Ok(value) if mask(&value) != value => {
                runner.emit(JobEvent::Line {
                    // After every step, `pre` and `post` ones included.
                    step_idx: records.len(),
                    text: format!("warning: skip output '{name}' since it may contain secret."),
                });
            }
            Ok(value) => {
                outputs.insert(name.clone(), Value::String(value));
            }
            Err(failure) => error = Some(mask(&failure.0)),
        }
    }
    let continue_on_error = match continue_on_error {
        Ok(value) => value,
        Err(failure) => {
            error = Some(failure.0);
            false
        }
    };
    let conclusion = match result {
        Conclusion::Failure if job.allow_failure => Conclusion::Neutral,
        other => other.with_continue_on_error(continue_on_error),
    };
    // As on GitHub, after the steps: the URL may name their outputs. One that does not
    // evaluate, is empty or holds a secret is left out.
    let environment_url = job
        .environment
        .as_ref()
        .and_then(|environment| environment.url.as_ref())
        .and_then(|url| contexts.render(file, url).ok())
        .filter(|url| !url.is_empty() && mask(url) == *url);
    let summary = mask(&runner.summary);
    JobOutcome {
        conclusion,
        result,
        outputs,
        steps: records,
        summary,
        error,
        artifacts: runner.artifacts,
        environment_url,
    }
}

impl JobOutcome {
    /// A job that failed before running any step, for `error`.
    pub fn failed(error: String) -> JobOutcome {
        JobOutcome {
            conclusion: Conclusion::Failure,
            result: Conclusion::Failure,
            outputs: Map::new(),
            steps: Vec::new(),
            summary: String::new(),
            error: Some(error),
            artifacts: Vec::new(),
            environment_url: None,
        }
    }
}

/// Flips `job_cancel` when `cancel` does or when `timeout` has passed (and then sets
/// `timed_out`).
async fn cancel_on(
    mut cancel: watch::Receiver<bool>,
    timeout: Duration,
    job_cancel: watch::Sender<bool>,
    timed_out: Arc<AtomicBool>,
) {
    let cancelled = async {
        while !*cancel.borrow_and_update() {
            if cancel.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = cancelled => {}
        () = tokio::time::sleep(timeout) => timed_out.store(true, Ordering::SeqCst),
    }
    let _ = job_cancel.send(true);
}

pub(crate) fn minutes_to_duration(minutes: f64) -> Duration {
    Duration::try_from_secs_f64(minutes * 60.0).unwrap_or(DEFAULT_JOB_TIMEOUT)
}

fn merged_defaults(workflow: &Defaults, job: &Defaults) -> Defaults {
    Defaults {
        shell: job.shell.clone().or_else(|| workflow.shell.clone()),
        working_directory: job.working_directory.clone().or_else(|| workflow.working_directory.clone()),
    }
}

fn runner_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "X64",
        "aarch64" => "ARM64",
        "x86" => "X86",
        "arm" => "ARM",
        other => other,
    }
}

/// The environment every step of a job starts from: the host's allow-listed variables (see
/// [`crate::isolation`]; in a job container, only its `PATH`), then the variables GitHub's
/// runner sets, taken from the contexts.
fn base_env(
    setup: &JobSetup,
    contexts: &Contexts,
    container: Option<&containers::JobContainer>,
) -> Vec<(String, String)> {
    let github = contexts.values.get("github").and_then(Value::as_object);
    let text = |key: &str| -> String {
        match github.and_then(|github| github.get(key)) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    };
    let mut vars = match container {
        Some(container) => vec![("PATH".to_owned(), container.path.clone())],
        None => crate::isolation::host_env(std::env::vars_os(), &setup.isolation.pass_env),
    };
    let github_vars = [
        "action_ref",
        "actor",
        "actor_id",
        "api_url",
        "base_ref",
        "event_name",
        "event_path",
        "graphql_url",
        "head_ref",
        "job",
        "ref",
        "ref_name",
        "ref_protected",
        "ref_type",
        "repository",
        "repository_id",
        "repository_owner",
        "repository_owner_id",
        "retention_days",
        "run_attempt",
        "run_id",
        "run_number",
        "server_url",
        "sha",
        "triggering_actor",
        "workflow",
        "workflow_ref",
        "workflow_sha",
        "workspace",
    ]
    .iter()
    .map(|key| (format!("GITHUB_{}", key.to_ascii_uppercase()), text(key)));
    vars.extend(github_vars);
    vars.extend([
        ("CI".to_owned(), "true".to_owned()),
        ("GITHUB_ACTIONS".to_owned(), "true".to_owned()),
        ("FERRY".to_owned(), "true".to_owned()),
        ("RUNNER_OS".to_owned(), "Linux".to_owned()),
        ("RUNNER_ARCH".to_owned(), runner_arch().to_owned()),
        ("RUNNER_NAME".to_owned(), "ferry".to_owned()),
        ("RUNNER_ENVIRONMENT".to_owned(), "self-hosted".to_owned()),
        ("RUNNER_TEMP".to_owned(), setup.temp.display().to_string()),
        ("RUNNER_TOOL_CACHE".to_owned(), setup.tool_cache.display().to_string()),
        ("AGENT_TOOLSDIRECTORY".to_owned(), setup.tool_cache.display().to_string()),
        ("RUNNER_WORKSPACE".to_owned(), runner_workspace(setup).display().to_string()),
    ]);
    vars
}

/// `RUNNER_WORKSPACE` and `runner.workspace`: the folder the workspace is in, as on GitHub's
/// runner (`<work root>/<repo>` of `<work root>/<repo>/<repo>`).
fn runner_workspace(setup: &JobSetup) -> &Path {
    setup.workspace.parent().unwrap_or(&setup.workspace)
}

/// The variables that lead `@actions/cache` (and other toolkit clients) to the runtime
/// services, given to actions' own processes only (JavaScript and Docker actions), as on
/// GitHub: a `run:` step never holds the job's runtime token. Each URL with the trailing `/` GitHub's runner gives it, and the cache service's
/// current protocol switched on as on github.com (the toolkit still speaks the legacy one
/// where `GITHUB_SERVER_URL` is not github.com's; Ferry serves both).
pub fn runtime_env(runtime: &ferry_proto::runtime::RuntimeAccess) -> [(String, String); 5] {
    runtime_env_at(runtime, &runtime.url)
}

/// [`runtime_env`] for a process of `setup`'s job, in a container (`in_container`) or on
/// the host: in a container, at [`JobSetup::runtime_in_containers`] when there is one.
pub(crate) fn job_runtime_env(setup: &JobSetup, in_container: bool) -> Option<[(String, String); 5]> {
    let runtime = setup.runtime.as_ref()?;
    let url = match &setup.runtime_in_containers {
        Some(url) if in_container => url,
        _ => &runtime.url,
    };
    Some(runtime_env_at(runtime, url))
}

fn runtime_env_at(runtime: &ferry_proto::runtime::RuntimeAccess, url: &str) -> [(String, String); 5] {
    let url = format!("{}/", url.trim_end_matches('/'));
    [
        ("ACTIONS_RUNTIME_URL".to_owned(), url.clone()),
        ("ACTIONS_RUNTIME_TOKEN".to_owned(), runtime.token.clone()),
        ("ACTIONS_CACHE_URL".to_owned(), url.clone()),
        ("ACTIONS_RESULTS_URL".to_owned(), url),
        ("ACTIONS_CACHE_SERVICE_V2".to_owned(), "True".to_owned()),
    ]
}
