//! `ferry run`: runs the workflows of a git checkout on this machine.
//!
//! It finds and checks the workflows, builds the run's contexts (`github`, `inputs`, `vars`,
//! `secrets`), and executes the actions of [`ferry_engine::Driver`], the server's driver too,
//! its state kept in memory: each ready job is decided with [`ferry_engine::decide_flat`] in
//! the run's contexts (the jobs of the reusable workflows a job calls flattened into the run's,
//! see `run/reusable.rs`), each started instance runs in its own copy of the repository through
//! [`ferry_runner::job::run_job`], and their events are shown as they come.
//!
//! A job's copy is in a work root of the user's cache folder that it holds while it runs
//! ([`ferry_runner::workspace::lock_work_slot`]), so its path is the same from run to run
//! (caches keyed by their paths restore) and never that of a job running at the same time.

mod contexts;
mod output;
mod report;
pub(crate) mod reusable;
mod runtime;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, RwLock};

use anyhow::{Context as _, bail};
use ferry_engine::{Action, Driver, Event, InstanceId, JobPlan, JobSpec, Role};
use ferry_model::Conclusion;
use ferry_runner::job::{JobOutcome, JobSetup, run_job};
use ferry_runner::mask::Masker;
use ferry_workflow::Dialect;
use ferry_workflow::model::Workflow;
use tokio::sync::watch;

use crate::cli::RunArgs;
use crate::lint::{self, Kind};
use crate::render;

pub use report::Report;

/// One workflow chosen to run.
struct Selected {
    /// As shown to people: relative to DIR.
    file: String,
    workflow: Arc<Workflow>,
}

pub fn main(args: RunArgs) -> anyhow::Result<ExitCode> {
    let dir = args.dir.canonicalize().with_context(|| format!("opening {}", args.dir.display()))?;
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let repo = runtime.block_on(contexts::Repo::open(&dir))?;
    let selected = select_workflows(&dir, &args, &repo)?;
    if selected.is_empty() {
        bail!(
            "no workflow in {} runs on `{}` for {}; pick one with -W <file>, or another event with --event",
            dir.display(),
            args.event,
            repo.git_ref
        );
    }
    let mut report = Report::default();
    let mut printer = output::Printer::new(args.json);
    for workflow in &selected {
        let res = runtime.block_on(run_workflow(&args, &repo, workflow, &mut printer))?;
        report.merge(res);
    }
    let conclusion = report.conclusion();
    printer.summary(&report);
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report.to_json()).context("serializing the report")?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing the report to {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json()).context("serializing the report")?);
    }
    Ok(if conclusion == Conclusion::Success { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The workflows `args` asks for: `-W`, or every workflow `--event` triggers on this ref.
/// Any workflow with errors stops the run before anything starts.
fn select_workflows(dir: &Path, args: &RunArgs, repo: &contexts::Repo) -> anyhow::Result<Vec<Selected>> {
    let files: Vec<(PathBuf, Dialect)> = match &args.workflow {
        Some(file) => {
            let path = if file.is_absolute() || file.exists() { file.clone() } else { dir.join(file) };
            if !path.is_file() {
                bail!("workflow file {} does not exist", path.display());
            }
            match lint::discover(&path)?.pop() {
                Some((path, Kind::Workflow(dialect))) => vec![(path, dialect)],
                Some((path, Kind::Deploy)) => bail!("{} is a deploy file, not a workflow", path.display()),
                _ => bail!("{} is an action, not a workflow", path.display()),
            }
        }
        None => lint::discover(dir)?
            .into_iter()
            .filter_map(|(path, kind)| match kind {
                Kind::Workflow(dialect) => Some((path, dialect)),
                Kind::Action | Kind::Deploy => None,
            })
            .collect(),
    };
    // The payload's activity (`opened`, `labeled`…) selects by `on.<event>.types`, as a
    // webhook's does on the server.
    let activity = match &args.event_path {
        Some(path) => std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|payload| payload.get("action").and_then(serde_json::Value::as_str).map(str::to_owned)),
        None => None,
    };
    let mut selected = Vec::new();
    let mut n_errors = 0;
    for (path, dialect) in files {
        let src = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let shown = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
        let (workflow, diagnostics) = ferry_workflow::parse_workflow(&src, dialect);
        let errors: Vec<_> = diagnostics.iter().filter(|diagnostic| diagnostic.is_error()).collect();
        if !errors.is_empty() {
            for diagnostic in &errors {
                eprintln!("{}\n", render::diagnostic(&shown, &src, diagnostic));
            }
            n_errors += errors.len();
            continue;
        }
        let Some(workflow) = workflow else { continue };
        let triggered = args.workflow.is_some()
            || (ferry_workflow::filter::event_matches(&workflow.on, &args.event, &repo.git_ref, None)
                && ferry_workflow::filter::activity_matches(&workflow.on, &args.event, activity.as_deref()));
        if triggered {
            selected.push(Selected { file: shown, workflow: Arc::new(workflow) });
        }
    }
    if n_errors > 0 {
        bail!("the workflows have {n_errors} error(s); fix them (see above, or run `ferry lint`) and run again");
    }
    Ok(selected)
}

/// What a job instance needs once it is started.
struct Running {
    cancel: watch::Sender<bool>,
}

async fn run_workflow(
    args: &RunArgs,
    repo: &contexts::Repo,
    selected: &Selected,
    printer: &mut output::Printer,
) -> anyhow::Result<Report> {
    let workflow = &selected.workflow;
    let scratch = tempfile::Builder::new().prefix("ferry-run-").tempdir().context("creating a temporary directory")?;
    let run = contexts::RunContexts::build(args, repo, selected.file.as_str(), workflow, scratch.path())?;
    let subdir = std::fs::canonicalize(&args.dir)
        .ok()
        .and_then(|dir| dir.strip_prefix(&repo.root).ok().map(Path::to_path_buf))
        .unwrap_or_default();
    // Step scripts and runner files go on a tmpfs when there is one (see `files_scratch`).
    let files_scratch = files_scratch()?;
    let files_root =
        files_scratch.as_ref().map_or_else(|| scratch.path().join("files"), |dir| dir.path().to_path_buf());
    // One checkout per run; each job works in its own copy of it.
    let checkout = scratch.path().join("checkout");
    ferry_runner::workspace::prepare_workspace(&repo.root, &repo.sha, &checkout)
        .await
        .context("preparing the run's checkout")?;
    let masker = Arc::new(RwLock::new(Masker::new()));
    if let Ok(mut masker) = masker.write() {
        for (_, secret) in &args.secrets {
            masker.add(secret);
        }
    }

    // What killed runs left on the container engine goes first, whatever this run uses; the
    // engine's bridge is where containers reach the cache service.
    let user_cache = user_cache_dir().unwrap_or_else(|| scratch.path().join("cache"));
    let gateway = runtime::prepare_engine(&user_cache.join("work")).await;
    // Kept until the run ends: dropping it stops the service.
    let runtime = runtime::start(cache_dir().as_deref(), gateway, &masker).await;

    let only_job = args.job.as_deref();
    if let Some(job) = only_job
        && !workflow.jobs.contains_key(job)
    {
        let known: Vec<&str> = workflow.jobs.keys().map(String::as_str).collect();
        bail!("{} has no job `{job}`; its jobs are: {}", selected.file, known.join(", "));
    }
    for (id, job) in &workflow.jobs {
        ferry_engine::strategy_settings(&run.values(), &selected.file, job).with_context(|| format!("job `{id}`"))?;
    }
    // One per run: a tag or branch resolves once for all its jobs (and the workflows it
    // calls); the checkouts and the tool cache stay for later runs.
    let actions_url = args.actions_url.as_deref().unwrap_or(ferry_runner::actions::DEFAULT_ACTIONS_URL);
    let actions = ferry_runner::actions::ActionsSource::new(actions_url, user_cache.join("actions"))
        .context("--actions-url (FERRY_ACTIONS_URL)")?;
    let flat = reusable::flatten(&repo.root, &actions, &selected.file, workflow.clone()).await?;
    // With --job, only that job runs (with the whole workflow it calls), and the jobs it needs
    // do not: their results are empty.
    let picked = |id: &str| {
        only_job.is_none_or(|only| id == only || id == format!("{only}@call") || id.starts_with(&format!("{only}/")))
    };
    let mut job_indices = Vec::new();
    let mut specs: Vec<JobSpec> = Vec::new();
    for (job_idx, mut spec) in flat.job_specs(&run.values()).into_iter().enumerate() {
        if picked(&spec.id) {
            spec.needs.retain(|need| picked(need));
            job_indices.push(job_idx);
            specs.push(spec);
        }
    }
    let parallel = args.parallel.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    ferry_runner::isolation::check_pass_env(&args.pass_env)?;
    let pass_env: std::sync::Arc<[String]> = args.pass_env.clone().into();
    let tool_cache = user_cache.join("tool-cache");
    let work_slots = ferry_runner::workspace::work_slots_of(&user_cache.join("work"), &repo.root);
    let mut driver = Driver::new(specs, parallel);
    let (events_tx, mut events_rx) = ferry_runner::events::channel(ferry_runner::events::DEFAULT_BUDGET);
    let mut tasks: tokio::task::JoinSet<(InstanceId, JobOutcome)> = tokio::task::JoinSet::new();
    let mut running: HashMap<InstanceId, Running> = HashMap::new();
    let mut outcomes: HashMap<InstanceId, JobOutcome> = HashMap::new();
    let mut ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
    let mut interrupted = false;
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(250));
    let run_values = run.values();

    loop {
        for action in driver.next_actions() {
            match action {
                Action::Expand(expand) => {
                    let job_idx = job_indices[expand.job_idx];
                    let expand_flat = ferry_engine::ExpandJob { job_idx, ..expand.clone() };
                    let record = ferry_engine::decide_flat(&run_values, &flat, &expand_flat);
                    let name = flat.expansion_name(&expand_flat);
                    match (&record.plan, flat.jobs[job_idx].role) {
                        (JobPlan::Conclude { error: Some(error), .. }, _) => {
                            printer.job_error(&name, &anyhow::anyhow!("{error}"));
                        }
                        (JobPlan::Skip, Role::Steps) => printer.job_skipped(&name),
                        _ => {}
                    }
                    driver
                        .apply(Event::Expanded { job_idx: expand.job_idx, record })
                        .context("answering the run's driver")?;
                }
                Action::Start(start) => {
                    let instance = start.instance;
                    let (cancel_tx, cancel_rx) = watch::channel(false);
                    let job_dir = scratch.path().join(format!("job-{}", instance.0));
                    // The same path in every run (a cache's version is a hash of its paths),
                    // one a job: the first work root no job holds now, of this run or another.
                    let slot = ferry_runner::workspace::lock_work_slot(&work_slots)
                        .with_context(|| format!("taking a work folder in {}", work_slots.display()))?;
                    let clone_dir = ferry_runner::workspace::job_workspace(slot.root(), &repo.name);
                    // DIR may be a folder inside the repository (like examples/hello): the job
                    // works there, in its copy of the whole repository.
                    let workspace =
                        if subdir.as_os_str().is_empty() { clone_dir.clone() } else { clone_dir.join(&subdir) };
                    let flat_job = &flat.jobs[job_indices[start.job_idx]];
                    let values = ferry_engine::reusable::job_values(
                        &run_values,
                        &flat,
                        job_indices[start.job_idx],
                        start.inputs.as_deref(),
                    )
                    .with_context(|| format!("job `{}`: the secrets its caller passes", start.name))?;
                    let needs = ferry_engine::reusable::job_needs(&flat, job_indices[start.job_idx], &start.needs);
                    let setup = JobSetup {
                        workflow: flat_job.workflow.clone(),
                        workflow_file: flat_job.file.clone(),
                        job_id: flat_job.own_id.clone(),
                        name: start.name.clone(),
                        contexts: contexts::job_contexts(
                            values,
                            &flat_job.own_id,
                            &start.matrix,
                            &needs,
                            &workspace,
                            &start.strategy,
                        ),
                        workspace,
                        temp: job_dir.join("temp"),
                        files: files_root.join(format!("job-{}", instance.0)),
                        action_dirs: run.action_dirs.clone(),
                        actions: Some(actions.clone()),
                        tool_cache: tool_cache.clone(),
                        artifacts: scratch.path().join("artifacts"),
                        cache: cache_dir(),
                        cache_remote: None,
                        masker: masker.clone(),
                        isolation: ferry_runner::isolation::Isolation { pass_env: pass_env.clone(), confinement: None },
                        runtime: runtime.as_ref().map(|runtime| runtime.access.clone()),
                        runtime_in_containers: runtime.as_ref().and_then(|runtime| runtime.in_containers.clone()),
                        // This process holds the slot now: what a killed run left in its name
                        // went when this run started (`runtime::prepare_engine`), or goes when
                        // the job first uses the container engine.
                        docker: ferry_runner::docker::EngineAccess::OnDemand {
                            owner: ferry_runner::docker::slot_owner(slot.root()),
                        },
                    };
                    printer.job_started(instance.0, &start.name);
                    let checkout = checkout.clone();
                    let events = events_tx.clone();
                    tasks.spawn(async move {
                        let outcome = match prepare(checkout, clone_dir, &setup).await {
                            Ok(()) => run_job(setup, instance.0, events, cancel_rx).await,
                            Err(error) => JobOutcome::failed(format!("{error:#}")),
                        };
                        // The workspace's content goes, as the run's temporary folder does;
                        // the slot's folder stays for the next job that takes it.
                        let root = slot.root().to_path_buf();
                        let emptied = tokio::task::spawn_blocking(move || empty_dir(&root)).await;
                        if let Ok(Err(error)) = emptied {
                            tracing::warn!(%error, "could not empty {}", slot.root().display());
                        }
                        (instance, outcome)
                    });
                    running.insert(instance, Running { cancel: cancel_tx });
                }
                Action::Cancel(target) => {
                    if let Some(running) = running.get(&target.instance) {
                        let _ = running.cancel.send(true);
                    }
                }
                // The report below says how the run concluded.
                Action::Complete(_) => {}
            }
        }
        if driver.is_done() && tasks.is_empty() {
            break;
        }
        tokio::select! {
            Some((tag, event)) = events_rx.recv() => printer.event(tag, &event),
            Some(joined) = tasks.join_next() => {
                let (instance, outcome) = joined.context("a job task panicked")?;
                // Show whatever the job printed before its end.
                while let Some((tag, event)) = events_rx.try_recv() {
                    printer.event(tag, &event);
                }
                running.remove(&instance);
                printer.job_finished(instance.0, &outcome);
                let finished =
                    Event::Finished { instance, conclusion: outcome.conclusion, outputs: outcome.outputs.clone() };
                outcomes.insert(instance, outcome);
                driver.apply(finished).context("telling the run's driver a job finished")?;
            }
            res = &mut ctrl_c => {
                res.context("listening for Ctrl-C")?;
                if interrupted {
                    // Dropping a running step kills its process group.
                    tasks.shutdown().await;
                    printer.note("killed");
                    std::process::exit(130);
                }
                interrupted = true;
                printer.note("cancelling: stopping running steps (Ctrl-C again to kill at once)");
                driver.apply(Event::CancelRequested).context("cancelling the run")?;
                ctrl_c.set(tokio::signal::ctrl_c());
            }
            _ = ticker.tick() => printer.tick(),
        }
    }
    Ok(Report::from_run(&flat, &job_indices, &driver, &mut outcomes))
}

/// A temporary folder on `/dev/shm` (a tmpfs on Linux) for step scripts and runner files:
/// creating and truncating them per step on a disk file system was the largest cost per step
/// in the benchmark's profile. `None` (use the run's scratch folder) where there is none.
fn files_scratch() -> anyhow::Result<Option<tempfile::TempDir>> {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        return Ok(None);
    }
    Ok(tempfile::Builder::new().prefix("ferry-run-files-").tempdir_in(shm).ok())
}

/// Where `actions/cache` entries live across runs: `$FERRY_CACHE_DIR`, else the user's cache
/// folder under `actions-cache`.
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("FERRY_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    Some(user_cache_dir()?.join("actions-cache"))
}

/// Ferry's folder in the user's cache folder (`$XDG_CACHE_HOME` or `~/.cache`): what runs
/// keep for later runs (`actions-cache`, the fetched `actions`, the `tool-cache`).
fn user_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("ferry"))
}

/// Removes everything inside `dir`, keeping `dir`.
fn empty_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Copies the run's checkout into the job's `clone_dir` (`<work root>/<name>/<name>`), and
/// makes its temporary directory.
async fn prepare(checkout: PathBuf, clone_dir: PathBuf, setup: &JobSetup) -> anyhow::Result<()> {
    std::fs::create_dir_all(&setup.temp).with_context(|| format!("creating {}", setup.temp.display()))?;
    if let Some(parent) = clone_dir.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    tokio::task::spawn_blocking(move || ferry_runner::workspace::copy_workspace(&checkout, &clone_dir))
        .await
        .context("copying the workspace")?
        .context("copying the run's checkout into the job's workspace")?;
    Ok(())
}
