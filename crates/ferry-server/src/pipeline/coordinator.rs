//! [`advance`]: brings a run's jobs up to date with its driver (`ferry_engine::Driver`).
//!
//! The store is the truth: how each ready job was expanded (`run_expansions`, decided once,
//! an [`ExpansionRecord`] as JSON) and how each job instance (`jobs`, keyed by run, job and
//! instance) concluded. [`advance`] rebuilds the run's driver from it (`Driver::restore`),
//! and the driver returns as actions only what the store does not have yet: a new expansion
//! is decided and recorded, a new instance is enqueued for runners, a fail-fast sibling is
//! cancelled, a finished run is completed. Every action is idempotent, so a crash between two
//! of them is repaired by the next call, and a restart continues where the store is.
//!
//! So that a job's completion does not replay the whole run (which made each job of a large
//! run cost more than the last), the driver of an unfinished run is kept in memory between
//! calls, with the run's parsed workflow (its calls of reusable workflows flattened, see
//! `calls.rs`) and contexts: [`advance_finished`] applies one
//! completed job to it. Any other change (a cancel, a lost runner, a re-run, a restart) goes
//! through [`advance`], which drops the cached driver and restores it from the store, and so
//! does a completion the cached driver does not expect.
//!
//! A workflow's `concurrency:` group is taken before the run plans anything: while another
//! run of the project holds it, the run waits queued (a newer waiting run cancels an older
//! one, and with `cancel-in-progress` the holder is cancelled); the group is let go when the
//! run completes, and the waiting run is advanced.
//!
//! A job with `environment:` is enqueued held at its environment's gates and recorded as a
//! deployment (`deployments/jobs.rs`); runners claim it once they pass. Each advance of a run
//! with such jobs records what its jobs did on their deployments.
//!
//! Cancelling a run cancels its jobs in the store and stamps the run; from then on new
//! expansions are decided with status `cancelled` (so only `always()`/`cancelled()` jobs
//! run), and instances of jobs expanded before the cancel that never started are dropped.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_engine::{Action, Driver, Event, ExpansionRecord, Flat, InstanceRecord, JobPlan, RunState, Scope};
use ferry_model::{Conclusion, JobStatus};
use ferry_store::{Job, Run, Status, StoreError};
use ferry_workflow::Dialect;
use ferry_workflow::model::Workflow;
use serde_json::{Map, Value, json};
use tracing::{Instrument as _, debug, info, info_span, warn};

use crate::AppState;
use crate::pipeline::status::{self, Reported};

/// The drivers of the unfinished runs this server has advanced, by run id; guarded by
/// `PipelineState::advance_lock`, which serialises [`advance`].
#[derive(Default)]
pub(crate) struct RunCache {
    runs: HashMap<i64, CachedRun>,
}

/// What [`advance`] keeps of a run between calls; all of it can be rebuilt from the store.
struct CachedRun {
    run: Run,
    /// The run's jobs, with the jobs of the workflows it calls flattened in.
    flat: Flat,
    /// The contexts every job sees (`github`, `inputs`, `vars`).
    run_values: Map<String, Value>,
    group: Option<(String, bool)>,
    driver: Driver,
    /// Job rows by job id and instance position.
    rows: HashMap<(String, i64), i64>,
    /// The run was failed while planning (a stored plan that does not read): nothing more to do.
    failed: bool,
}

/// Plans what is ready in run `run_id` and completes it when everything has concluded,
/// rebuilding the run's driver from the store. Calls for one server are serialised; a
/// completed run is left as it is.
///
/// # Errors
/// The store failed; nothing is half-done that the next call does not finish.
pub(crate) async fn advance(state: &AppState, run_id: i64) -> Result<(), StoreError> {
    advance_with(state, run_id, None).await
}

/// [`advance`] after `job` completed (as the store returned it): applied to the run's cached
/// driver when there is one that expects it, else as [`advance`].
///
/// # Errors
/// As [`advance`].
pub(crate) async fn advance_finished(state: &AppState, job: &Job) -> Result<(), StoreError> {
    advance_with(state, job.run_id, Some(job)).await
}

async fn advance_with(state: &AppState, run_id: i64, finished: Option<&Job>) -> Result<(), StoreError> {
    let span = info_span!("advance", run.id = run_id, job.id = finished.map(|job| job.id));
    let follow_ups = async {
        let mut cache = state.pipeline.advance_lock.lock().await;
        let res = advance_locked(state, &mut cache, run_id, finished).await;
        if res.is_err() {
            // What was done before the error is in the store; the next call restores from it.
            cache.runs.remove(&run_id);
        }
        res
    }
    .instrument(span)
    .await?;
    // Runs this one's concurrency group let go of, or cancelled.
    for run_id in follow_ups {
        Box::pin(advance(state, run_id)).await?;
    }
    Ok(())
}

/// [`advance`] under the lock; returns the runs to advance next.
async fn advance_locked(
    state: &AppState,
    cache: &mut RunCache,
    run_id: i64,
    finished: Option<&Job>,
) -> Result<Vec<i64>, StoreError> {
    let cached = cache.runs.remove(&run_id);
    let mut entry = match (cached, finished) {
        (Some(mut entry), Some(job)) if job.status == Status::Completed => {
            let applied = entry.driver.running_instance(&job.job_key, job.instance_idx).and_then(|instance| {
                let conclusion = job.conclusion.unwrap_or(Conclusion::Failure);
                entry.driver.apply(Event::Finished { instance, conclusion, outputs: outputs_of(&job.outputs) })
            });
            match applied {
                Ok(()) => entry,
                Err(error) => {
                    debug!(run.id = run_id, %error, "the cached driver of run {run_id} is behind: {error}; restoring it");
                    match load(state, run_id).await? {
                        Loaded::Ready(entry) => *entry,
                        Loaded::Done(follow_ups) => return Ok(follow_ups),
                    }
                }
            }
        }
        _ => match load(state, run_id).await? {
            Loaded::Ready(entry) => *entry,
            Loaded::Done(follow_ups) => return Ok(follow_ups),
        },
    };
    // What its jobs did goes on their deployments first, so a job enqueued now whose `after:`
    // waits for one of them sees it.
    let targets_environment = entry
        .flat
        .jobs
        .iter()
        .any(|flat_job| flat_job.role == ferry_engine::Role::Steps && flat_job.job().environment.is_some());
    if targets_environment {
        crate::deployments::jobs::settle(state, run_id).await?;
    }
    let follow_ups = execute(state, &mut entry).await?;
    if !entry.driver.is_done() && !entry.failed {
        cache.runs.insert(run_id, entry);
    }
    Ok(follow_ups)
}

/// What [`load`] found.
enum Loaded {
    /// A run to drive, its driver restored from the store.
    Ready(Box<CachedRun>),
    /// Nothing to drive now (completed, failed before planning, or waiting for its
    /// concurrency group); the runs to advance next.
    Done(Vec<i64>),
}

/// Reads run `run_id` from the store and restores its driver.
async fn load(state: &AppState, run_id: i64) -> Result<Loaded, StoreError> {
    let store = &state.store;
    let run = store.runs().get(run_id).await?;
    if run.status == Status::Completed {
        return Ok(Loaded::Done(Vec::new()));
    }
    if run.status == Status::Waiting {
        // A fork's run waiting for approval plans nothing; cancelled, it ends with nothing run
        // (not even its `if: always()` jobs).
        if run.cancel_requested_at.is_some() {
            let run = store.runs().complete(run_id, Conclusion::Cancelled, state.pipeline.clock.now_ms()).await?;
            state.pipeline.logs_changed.send_modify(|generation| *generation += 1);
            status::report(state, &run, Reported::Concluded(Conclusion::Cancelled));
        }
        return Ok(Loaded::Done(Vec::new()));
    }
    let (workflow, _) = ferry_workflow::parse_workflow(&run.workflow_src, Dialect::for_path(&run.workflow_file));
    let Some(workflow) = workflow else {
        fail(state, run_id, "the workflow file does not parse; run `ferry lint` on it").await?;
        return Ok(Loaded::Done(Vec::new()));
    };
    let run_values = run_contexts(state, &run, &workflow).await?;
    let file = run.workflow_file.as_str();
    let group = match concurrency_group(&run_values, file, &workflow) {
        Ok(group) => group,
        Err(error) => {
            fail(state, run_id, &format!("the workflow's `concurrency:` does not evaluate: {error}")).await?;
            return Ok(Loaded::Done(Vec::new()));
        }
    };
    if let Some((key, cancel_in_progress)) = &group
        && run.status == Status::Queued
        && run.cancel_requested_at.is_none()
    {
        match store.concurrency().acquire(run.project_id, key, run_id, state.pipeline.clock.now_ms()).await? {
            ferry_store::Acquired::Yes => {}
            ferry_store::Acquired::HeldBy(holder) => {
                let mut follow_ups = Vec::new();
                // At most one run waits per group: older waiting runs give way to this one.
                for waiting in store.runs().unfinished().await? {
                    let same_group = waiting.project_id == run.project_id
                        && waiting.id != run_id
                        && waiting.id != holder
                        && waiting.status == Status::Queued
                        && group_of(state, &waiting).await?.is_some_and(|(other, _)| &other == key);
                    if same_group {
                        store.runs().request_cancel(waiting.id, state.pipeline.clock.now_ms()).await?;
                        follow_ups.push(waiting.id);
                    }
                }
                if *cancel_in_progress {
                    store.runs().request_cancel(holder, state.pipeline.clock.now_ms()).await?;
                    store.jobs().cancel_run(holder, state.pipeline.clock.now_ms()).await?;
                    follow_ups.push(holder);
                }
                info!(run.id = run_id, group = %key, holder, "run {run_id} waits for run {holder}, which holds concurrency group {key}");
                status::report(state, &run, Reported::Waiting);
                return Ok(Loaded::Done(follow_ups));
            }
        }
    }
    let mut run_state = RunState { cancel_requested: run.cancel_requested_at.is_some(), ..RunState::default() };
    for (key, text) in store.runs().expansions(run_id).await? {
        match serde_json::from_str::<ExpansionRecord>(&text) {
            Ok(record) => run_state.expansions.insert(key, record),
            Err(error) => {
                let reason = format!("the stored plan of job `{key}` does not read ({error}); re-run the workflow");
                fail(state, run_id, &reason).await?;
                return Ok(Loaded::Done(Vec::new()));
            }
        };
    }
    let mut rows = HashMap::new();
    for row in store.jobs().states_for_run(run_id).await? {
        let record = match (row.status, row.conclusion) {
            (Status::Completed, conclusion) => InstanceRecord::Finished {
                conclusion: conclusion.unwrap_or(Conclusion::Failure),
                outputs: outputs_of(&row.outputs),
            },
            _ => InstanceRecord::Unfinished,
        };
        run_state.instances.insert((row.job_key.clone(), row.instance_idx), record);
        rows.insert((row.job_key, row.instance_idx), row.id);
    }
    // Runners' slots bound how much runs at once; the run itself does not.
    let flat = match crate::pipeline::calls::flat_of(&run, Arc::new(workflow)) {
        Ok(flat) => flat,
        Err(error) => {
            fail(state, run_id, &format!("the workflows it calls cannot run: {error}; re-run the workflow")).await?;
            return Ok(Loaded::Done(Vec::new()));
        }
    };
    let driver = Driver::restore(flat.job_specs(&run_values), usize::MAX, &run_state);
    Ok(Loaded::Ready(Box::new(CachedRun { run, flat, run_values, group, driver, rows, failed: false })))
}

/// Fails run `run_id` before it planned anything, saying why.
async fn fail(state: &AppState, run_id: i64, reason: &str) -> Result<(), StoreError> {
    let run = state.store.runs().fail(run_id, reason, state.pipeline.clock.now_ms()).await?;
    status::report(state, &run, Reported::NotPlanned);
    Ok(())
}

/// Executes the driver's actions until it has none left; returns the runs to advance next.
async fn execute(state: &AppState, entry: &mut CachedRun) -> Result<Vec<i64>, StoreError> {
    let store = &state.store;
    let run_id = entry.run.id;
    let mut n_enqueued = 0;
    let mut follow_ups = Vec::new();
    loop {
        let actions = entry.driver.next_actions();
        if actions.is_empty() {
            break;
        }
        for action in actions {
            match action {
                Action::Expand(expand) => {
                    let record = ferry_engine::decide_flat(&entry.run_values, &entry.flat, &expand);
                    if let JobPlan::Conclude { error: Some(error), .. } = &record.plan {
                        warn!(run.id = run_id, job = %expand.job_id, %error, "job {} could not be planned: {error}", expand.job_id);
                    }
                    let text = serde_json::to_string(&record).expect("an expansion record serializes");
                    let stored = store
                        .runs()
                        .record_expansion(run_id, &expand.key, &text, state.pipeline.clock.now_ms())
                        .await?;
                    // Another call may have decided first: what is stored wins.
                    let record = if stored == text {
                        record
                    } else {
                        match serde_json::from_str::<ExpansionRecord>(&stored) {
                            Ok(record) => record,
                            Err(error) => {
                                let key = &expand.key;
                                let reason = format!("the stored plan of job `{key}` does not read ({error})");
                                fail(state, run_id, &reason).await?;
                                entry.failed = true;
                                return Ok(follow_ups);
                            }
                        }
                    };
                    apply(&mut entry.driver, Event::Expanded { job_idx: expand.job_idx, record });
                }
                Action::Start(start) => {
                    let flat_job = &entry.flat.jobs[start.job_idx];
                    let job = flat_job.job();
                    // A called job sees its own inputs and needs (the secrets its caller
                    // passes are worked out when a runner claims it).
                    let values = ferry_engine::reusable::job_values(
                        &entry.run_values,
                        &entry.flat,
                        start.job_idx,
                        start.inputs.as_deref(),
                    )
                    .unwrap_or_else(|_| entry.run_values.clone());
                    let needs = ferry_engine::reusable::job_needs(&entry.flat, start.job_idx, &start.needs);
                    let mut contexts = Scope::new(&values, &needs, JobStatus::Success).values;
                    if let Some(github) = contexts.get_mut("github").and_then(Value::as_object_mut) {
                        github.insert("job".to_owned(), Value::String(flat_job.own_id.clone()));
                    }
                    contexts.insert("matrix".to_owned(), Value::Object(start.matrix.clone()));
                    contexts.insert("strategy".to_owned(), start.strategy.clone());
                    let mut scope = Scope { values: contexts, status: JobStatus::Success };
                    let runs_on = ferry_engine::runs_on_labels(&scope, &flat_job.file, job);
                    let environment = job_environment(&scope, &flat_job.file, job);
                    // The payload is the run's (`trigger_info`), added back when a runner
                    // claims the job: a copy in each job row cost a run of many jobs its size
                    // in every row written.
                    if let Some(github) = scope.values.get_mut("github").and_then(Value::as_object_mut) {
                        github.remove("event");
                    }
                    let labels = runs_on.clone().unwrap_or_default();
                    // Containers run only where a runner reaches a container engine.
                    let requires: Vec<String> = job
                        .needs_container_engine()
                        .then(|| ferry_proto::runner::Capability::Docker.required_label().to_owned())
                        .into_iter()
                        .collect();
                    let new_job = ferry_store::NewJob {
                        run_id,
                        name: &start.name,
                        runs_on: &labels,
                        requires: &requires,
                        // The run's ids (`build/compile`), as the run's graph keys its jobs.
                        needs: &json!(
                            flat_job.needs.iter().filter(|need| !need.ends_with("@call")).collect::<Vec<_>>()
                        )
                        .to_string(),
                        matrix: &Value::Object(start.matrix.clone()).to_string(),
                        job_key: &start.job_id,
                        instance_idx: start.instance_idx,
                        contexts: &Value::Object(scope.values).to_string(),
                    };
                    let now = state.pipeline.clock.now_ms();
                    // A job with `environment:` is held from the start: no runner may take it
                    // before its gates are judged (or its environment failed it).
                    let mut row = match (&runs_on, &environment) {
                        (Ok(_), Ok(Some(environment))) => {
                            crate::deployments::jobs::enqueue_at_gate(state, &entry.run, &new_job, environment, now)
                                .await?
                        }
                        (Ok(_), Err(_)) => store.jobs().enqueue_held(&new_job, "its environment", now).await?,
                        _ => store.jobs().enqueue(&new_job, now).await?,
                    };
                    debug!(run.id = run_id, job.id = row.id, "job {} ({}) of run {run_id} queued", row.id, start.name);
                    match (runs_on, environment) {
                        (Err(error), _) => {
                            row = store.jobs().finish(row.id, Conclusion::Failure, "{}", Some(&error.0), now).await?;
                        }
                        (Ok(_), Err(error)) => {
                            let error = error.to_string();
                            row = store.jobs().finish(row.id, Conclusion::Failure, "{}", Some(&error), now).await?;
                        }
                        (Ok(_), Ok(Some(_))) => {
                            if row.status == Status::Queued {
                                n_enqueued += 1;
                            }
                        }
                        (Ok(_), Ok(None)) => n_enqueued += 1,
                    }
                    entry.rows.insert((start.job_id, start.instance_idx), row.id);
                    if row.status == Status::Completed {
                        let conclusion = row.conclusion.unwrap_or(Conclusion::Failure);
                        let outputs = outputs_of(&row.outputs);
                        apply(&mut entry.driver, Event::Finished { instance: start.instance, conclusion, outputs });
                    }
                }
                Action::Cancel(target) => {
                    let Some(&row_id) = entry.rows.get(&(target.job_id, target.instance_idx)) else { continue };
                    let row = store.jobs().cancel(row_id, state.pipeline.clock.now_ms()).await?;
                    // A queued job is cancelled at once; a running one when its runner stops it.
                    if row.status == Status::Completed {
                        let conclusion = row.conclusion.unwrap_or(Conclusion::Cancelled);
                        let outputs = outputs_of(&row.outputs);
                        apply(&mut entry.driver, Event::Finished { instance: target.instance, conclusion, outputs });
                    }
                }
                Action::Complete(conclusion) => {
                    follow_ups.extend(complete(state, entry, conclusion).await?);
                }
            }
        }
        if entry.run.status == Status::Queued && !entry.rows.is_empty() {
            entry.run = store.runs().start(run_id, state.pipeline.clock.now_ms()).await?;
            status::report(state, &entry.run, Reported::Started);
        }
    }
    if n_enqueued > 0 {
        state.pipeline.jobs_queued.notify_waiters();
    }
    Ok(follow_ups)
}

/// Why a job's `environment:` names no environment; the job fails with it.
#[derive(Debug, thiserror::Error)]
enum EnvironmentError {
    #[error("`environment` does not evaluate: {0}")]
    Evaluate(#[source] ferry_workflow::expr::EvalFailure),
    #[error("`environment` is {0:?}, which is not an environment name (1 to 100 letters, digits, `.`, `_` or `-`)")]
    BadName(String),
}

/// A job's `environment:` evaluated with its contexts (`matrix`, `needs`, `inputs`, …); `None`
/// without one or when its name evaluates empty (as on GitHub: no environment then). A URL
/// that does not evaluate here (it may name `steps`, which only the runner knows) is left out.
fn job_environment(
    scope: &Scope,
    file: &str,
    job: &ferry_workflow::model::Job,
) -> Result<Option<crate::deployments::jobs::JobEnvironment>, EnvironmentError> {
    use ferry_workflow::expr::Evaluate as _;
    let Some(declared) = &job.environment else { return Ok(None) };
    let name = scope.render(file, &declared.name).map_err(EnvironmentError::Evaluate)?;
    if name.is_empty() {
        return Ok(None);
    }
    if !ferry_proto::names::is_name(&name) {
        return Err(EnvironmentError::BadName(name));
    }
    let url = declared.url.as_ref().and_then(|url| match scope.render(file, url) {
        Ok(url) => Some(url).filter(|url| !url.is_empty()),
        Err(error) => {
            debug!(%error, "the url of environment {name} is left out: {error}");
            None
        }
    });
    Ok(Some(crate::deployments::jobs::JobEnvironment { name, url }))
}

/// Applies an event the driver asked for (an answer to its own action), which always fits.
fn apply(driver: &mut Driver, event: Event) {
    if let Err(error) = driver.apply(event) {
        // The driver asked for this very event; a refusal would be a bug in the engine.
        warn!(%error, "the run's driver refused its own action's answer: {error}");
    }
}

/// Completes the run with `conclusion`; returns the runs waiting for its concurrency group.
async fn complete(state: &AppState, entry: &CachedRun, conclusion: Conclusion) -> Result<Vec<i64>, StoreError> {
    let store = &state.store;
    let run = &entry.run;
    if run.started_at.is_none() {
        store.runs().start(run.id, state.pipeline.clock.now_ms()).await?;
    }
    match store.runs().complete(run.id, conclusion, state.pipeline.clock.now_ms()).await {
        Ok(_) | Err(StoreError::Conflict(_)) => {}
        Err(error) => return Err(error),
    }
    info!(
        run.id = run.id,
        conclusion = conclusion.as_str(),
        "run {} of project {} concluded {}",
        run.number,
        run.project_id,
        conclusion.as_str()
    );
    state.pipeline.logs_changed.send_modify(|generation| *generation += 1);
    status::report(state, run, Reported::Concluded(conclusion));
    if conclusion == Conclusion::Success {
        // The releases a successful run makes, off the run's path: reading the repository
        // must not hold the run's advance.
        let state = state.clone();
        let mut run = run.clone();
        run.conclusion = Some(conclusion);
        tokio::spawn(async move { crate::releases::after_run(&state, &run).await });
    }
    let mut follow_ups = Vec::new();
    if let Some((key, _)) = &entry.group
        && store.concurrency().release(run.project_id, key, run.id).await?
    {
        // The run waiting for the group, if any, may start now.
        for waiting in store.runs().unfinished().await? {
            if waiting.project_id == run.project_id && waiting.status == Status::Queued {
                follow_ups.push(waiting.id);
            }
        }
    }
    Ok(follow_ups)
}

/// A job's stored outputs (JSON text); nothing when they do not read as an object.
fn outputs_of(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(outputs)) => outputs,
        _ => Map::new(),
    }
}

/// The run's concurrency group key and `cancel-in-progress`, if its workflow has a group.
fn concurrency_group(
    run_values: &Map<String, Value>,
    file: &str,
    workflow: &Workflow,
) -> Result<Option<(String, bool)>, ferry_workflow::expr::EvalFailure> {
    use ferry_workflow::expr::Evaluate as _;
    let Some(concurrency) = &workflow.concurrency else { return Ok(None) };
    let scope = Scope::new(run_values, &Map::new(), JobStatus::Success);
    let key = scope.render(file, &concurrency.group)?;
    let cancel_in_progress = scope.boolean(file, concurrency.cancel_in_progress.as_ref(), false)?;
    Ok(Some((key, cancel_in_progress)))
}

/// The concurrency group of another run.
async fn group_of(state: &AppState, run: &Run) -> Result<Option<(String, bool)>, StoreError> {
    let (workflow, _) = ferry_workflow::parse_workflow(&run.workflow_src, Dialect::for_path(&run.workflow_file));
    let Some(workflow) = workflow else { return Ok(None) };
    let run_values = run_contexts(state, run, &workflow).await?;
    Ok(concurrency_group(&run_values, &run.workflow_file, &workflow).ok().flatten())
}

/// Puts the run's event payload back into a job's stored `contexts` as `github.event`
/// (job rows leave it out; rows written before they did keep theirs).
pub(crate) fn add_event_payload(contexts: &mut Map<String, Value>, run: &Run) {
    if let Some(github) = contexts.get_mut("github").and_then(Value::as_object_mut)
        && !github.contains_key("event")
    {
        github.insert("event".to_owned(), event_payload(run));
    }
}

/// The event payload of `run`'s trigger (`{}` when it had none).
fn event_payload(run: &Run) -> Value {
    let info: Value = serde_json::from_str(&run.trigger_info).unwrap_or(Value::Null);
    match info {
        Value::Object(mut info) => info.remove("payload").unwrap_or_else(|| json!({})),
        _ => json!({}),
    }
}

/// `github.run_attempt`: 1, and one more for each run this one re-runs, back to the first (a
/// run deleted on the way ends the count).
async fn run_attempt(state: &AppState, run: &Run) -> u32 {
    let mut attempt = 1;
    let mut previous = run.rerun_of;
    // Bounded: the chain is made by re-runs, but a loop in the store must not hang a run.
    while let Some(id) = previous
        && attempt < 10_000
    {
        attempt += 1;
        previous = state.store.runs().get(id).await.ok().and_then(|run| run.rerun_of);
    }
    attempt
}

/// The contexts every job of the run sees: `github`, `inputs`, `vars` (and an empty
/// `secrets`: runners receive the secrets when they claim a job).
async fn run_contexts(state: &AppState, run: &Run, workflow: &Workflow) -> Result<Map<String, Value>, StoreError> {
    let project = state.store.projects().get(run.project_id).await?;
    let info: Value = serde_json::from_str(&run.trigger_info).unwrap_or(Value::Null);
    let event = event_payload(run);
    let inputs = info.get("inputs").cloned().unwrap_or_else(|| json!({}));
    let repository = event
        .pointer("/repository/full_name")
        .and_then(Value::as_str)
        .map_or_else(|| format!("ferry/{}", project.name), str::to_owned);
    let workflow_name = workflow.name.as_ref().map_or_else(|| run.workflow_file.clone(), |name| name.value.clone());
    // A run no webhook started takes the forge of the project's last webhook, else the one a
    // well-known host in its repository's URL names.
    let (forge, forge_url) = match info.get("forge").and_then(Value::as_str) {
        Some(forge) => (forge, if project.forge == forge { project.forge_url.as_str() } else { "" }),
        None if !project.forge.is_empty() => (project.forge.as_str(), project.forge_url.as_str()),
        None => ferry_engine::forge_of_repo_url(&project.repo).unwrap_or_default(),
    };
    let github = ferry_engine::github_context(&ferry_engine::GithubFacts {
        repository: &repository,
        actor: &run.trigger_actor,
        event_name: &run.event,
        event: &event,
        event_path: "",
        git_ref: &run.git_ref,
        sha: &run.sha,
        workflow_name: &workflow_name,
        workflow_file: &run.workflow_file,
        run_id: &run.id.to_string(),
        run_number: &run.number.to_string(),
        run_attempt: &run_attempt(state, run).await.to_string(),
        server_url: &state.pipeline.server_url,
        forge,
        forge_url,
        retention_days: &(state.pipeline.artifact_retention.as_secs() / (24 * 60 * 60)).to_string(),
    });
    let vars: Map<String, Value> = state
        .store
        .variables()
        .list(run.project_id)
        .await?
        .into_iter()
        .map(|variable| (variable.name, Value::String(variable.value)))
        .collect();
    let mut values = Map::new();
    values.insert("github".to_owned(), Value::Object(github));
    values.insert("inputs".to_owned(), inputs);
    values.insert("vars".to_owned(), Value::Object(vars));
    values.insert("secrets".to_owned(), json!({}));
    Ok(values)
}
