//! [`advance`]: brings a run's jobs up to date with its scheduler.
//!
//! The scheduler (`ferry_engine::Scheduler`) is rebuilt on every call and fed what the store
//! holds: how each ready job was expanded (`run_expansions`, decided once) and how each job
//! instance (`jobs`, keyed by run, job and instance) concluded. Whatever the replay asks for
//! that the store does not have yet is done now: a new expansion is decided and recorded, a
//! new instance is enqueued for runners, a fail-fast sibling is cancelled, a finished run is
//! completed. Every action is idempotent, so a crash between two of them is repaired by the
//! next call, and the server holds no run state in memory.
//!
//! A workflow's `concurrency:` group is taken before the run plans anything: while another
//! run of the project holds it, the run waits queued (a newer waiting run cancels an older
//! one, and with `cancel-in-progress` the holder is cancelled); the group is let go when the
//! run completes, and the waiting run is advanced.
//!
//! Cancelling a run cancels its jobs in the store and stamps the run; from then on new
//! expansions are decided with status `cancelled` (so only `always()`/`cancelled()` jobs
//! run), and instances of jobs expanded before the cancel that never started are dropped.

use std::collections::HashMap;

use ferry_engine::{Command, ExpandRequest, Expansion, InstanceId, JobSpec, Scheduler, Scope};
use ferry_model::{Conclusion, JobStatus};
use ferry_store::{JobState, NewJob, Run, Status, StoreError};
use ferry_workflow::Dialect;
use ferry_workflow::model::Workflow;
use serde_json::{Map, Value, json};
use tracing::{debug, info, warn};

use crate::pipeline::status::{self, Reported};
use crate::{AppState, now_ms};

/// Plans what is ready in run `run_id` and completes it when everything has concluded.
/// Calls for one server are serialised; a completed run is left as it is.
///
/// # Errors
/// The store failed; nothing is half-done that the next call does not finish.
pub(crate) async fn advance(state: &AppState, run_id: i64) -> Result<(), StoreError> {
    let follow_ups = {
        let _turn = state.pipeline.advance_lock.lock().await;
        advance_locked(state, run_id).await?
    };
    // Runs this one's concurrency group let go of, or cancelled.
    for run_id in follow_ups {
        Box::pin(advance(state, run_id)).await?;
    }
    Ok(())
}

/// [`advance`] under the lock; returns the runs to advance next.
async fn advance_locked(state: &AppState, run_id: i64) -> Result<Vec<i64>, StoreError> {
    let store = &state.store;
    let run = store.runs().get(run_id).await?;
    if run.status == Status::Completed {
        return Ok(Vec::new());
    }
    if run.status == Status::Waiting {
        // A fork's run waiting for approval plans nothing; cancelled, it ends with nothing run
        // (not even its `if: always()` jobs).
        if run.cancel_requested_at.is_some() {
            let run = store.runs().complete(run_id, Conclusion::Cancelled, now_ms()).await?;
            state.pipeline.logs_changed.send_modify(|generation| *generation += 1);
            status::report(state, &run, Reported::Concluded(Conclusion::Cancelled));
        }
        return Ok(Vec::new());
    }
    let (workflow, _) = ferry_workflow::parse_workflow(&run.workflow_src, Dialect::for_path(&run.workflow_file));
    let Some(workflow) = workflow else {
        let run =
            store.runs().fail(run_id, "the workflow file does not parse; run `ferry lint` on it", now_ms()).await?;
        status::report(state, &run, Reported::NotPlanned);
        return Ok(Vec::new());
    };
    let run_values = run_contexts(state, &run, &workflow).await?;
    let file = run.workflow_file.as_str();
    let group = match concurrency_group(&run_values, file, &workflow) {
        Ok(group) => group,
        Err(error) => {
            let run = store
                .runs()
                .fail(run_id, &format!("the workflow's `concurrency:` does not evaluate: {error}"), now_ms())
                .await?;
            status::report(state, &run, Reported::NotPlanned);
            return Ok(Vec::new());
        }
    };
    let mut follow_ups = Vec::new();
    if let Some((key, cancel_in_progress)) = &group
        && run.status == Status::Queued
        && run.cancel_requested_at.is_none()
    {
        match store.concurrency().acquire(run.project_id, key, run_id, now_ms()).await? {
            ferry_store::Acquired::Yes => {}
            ferry_store::Acquired::HeldBy(holder) => {
                // At most one run waits per group: older waiting runs give way to this one.
                for waiting in store.runs().unfinished().await? {
                    let same_group = waiting.project_id == run.project_id
                        && waiting.id != run_id
                        && waiting.id != holder
                        && waiting.status == Status::Queued
                        && group_of(state, &waiting).await?.is_some_and(|(other, _)| &other == key);
                    if same_group {
                        store.runs().request_cancel(waiting.id, now_ms()).await?;
                        follow_ups.push(waiting.id);
                    }
                }
                if *cancel_in_progress {
                    store.runs().request_cancel(holder, now_ms()).await?;
                    store.jobs().cancel_run(holder, now_ms()).await?;
                    follow_ups.push(holder);
                }
                info!(run.id = run_id, group = %key, holder, "run {run_id} waits for run {holder}, which holds concurrency group {key}");
                status::report(state, &run, Reported::Waiting);
                return Ok(follow_ups);
            }
        }
    }
    let specs: Vec<JobSpec> = workflow
        .jobs
        .iter()
        .map(|(id, job)| {
            let strategy = ferry_engine::strategy_settings(&run_values, file, job)
                .unwrap_or(ferry_engine::StrategySettings { fail_fast: true, max_parallel: None });
            JobSpec {
                id: id.clone(),
                needs: job.needs.iter().map(|need| need.value.clone()).collect(),
                fail_fast: strategy.fail_fast,
                max_parallel: strategy.max_parallel,
            }
        })
        .collect();
    // Runners' slots bound how much runs at once; the run itself does not.
    let mut scheduler = Scheduler::new(specs, usize::MAX);
    let mut rows: HashMap<(String, i64), JobState> = store
        .jobs()
        .states_for_run(run_id)
        .await?
        .into_iter()
        .map(|job| ((job.job_key.clone(), job.instance_idx), job))
        .collect();
    let mut expansions: HashMap<String, String> = store.runs().expansions(run_id).await?.into_iter().collect();
    let cancel_requested = run.cancel_requested_at.is_some();
    let mut after_cancel: HashMap<String, bool> = HashMap::new();
    let mut needs_values: Map<String, Value> = Map::new();
    // Each instance's place among the instances of its job (0 without a matrix): stable
    // across replays, unlike the scheduler's own ids, which follow the order jobs became ready.
    let mut siblings: HashMap<InstanceId, i64> = HashMap::new();
    let mut n_enqueued = 0;
    loop {
        let commands = scheduler.next_commands();
        if commands.is_empty() {
            break;
        }
        for command in commands {
            match command {
                Command::Expand(request) => {
                    let key = scheduler.jobs()[request.job_idx].id.clone();
                    let text = match expansions.get(&key) {
                        Some(text) => text.clone(),
                        None => {
                            let text =
                                decide(&run_values, file, &workflow, &key, &request, &needs_values, cancel_requested);
                            let text = store.runs().record_expansion(run_id, &key, &text, now_ms()).await?;
                            expansions.insert(key.clone(), text.clone());
                            text
                        }
                    };
                    let (expansion, decided_after_cancel) = decode(&text);
                    after_cancel.insert(key, decided_after_cancel);
                    scheduler.expanded(request.job_idx, expansion);
                    // Instances are numbered within their job once, here, not looked up per
                    // command: that lookup made a run of 1,000 instances quadratic per event.
                    let instances = scheduler.instances().filter(|(_, job_idx, _, _)| *job_idx == request.job_idx);
                    for (position, (id, ..)) in instances.enumerate() {
                        siblings.insert(id, i64::try_from(position).unwrap_or(i64::MAX));
                    }
                }
                Command::Start(instance) => {
                    let (name, matrix, job_idx) = scheduler.instance(instance);
                    let (name, matrix) = (name.to_owned(), matrix.clone());
                    let key = scheduler.jobs()[job_idx].id.clone();
                    let instance_idx = siblings.get(&instance).copied().unwrap_or(0);
                    match rows.get(&(key.clone(), instance_idx)) {
                        Some(row) if row.status == Status::Completed => {
                            finished(&mut scheduler, &mut needs_values, instance, row);
                        }
                        Some(_) => {}
                        None if cancel_requested && !after_cancel.get(&key).copied().unwrap_or(false) => {
                            scheduler.finished(instance, Conclusion::Cancelled);
                        }
                        None => {
                            let job = &workflow.jobs[&key];
                            let needs = needs_for(&workflow, &key, &needs_values);
                            let mut contexts = Scope::new(&run_values, &needs, JobStatus::Success).values;
                            if let Some(github) = contexts.get_mut("github").and_then(Value::as_object_mut) {
                                github.insert("job".to_owned(), Value::String(key.clone()));
                            }
                            contexts.insert("matrix".to_owned(), Value::Object(matrix.clone()));
                            contexts
                                .insert("strategy".to_owned(), ferry_engine::strategy_context(&scheduler, instance));
                            let scope = Scope { values: contexts.clone(), status: JobStatus::Success };
                            let runs_on = ferry_engine::runs_on_labels(&scope, file, job);
                            let labels = runs_on.clone().unwrap_or_default();
                            let new_job = NewJob {
                                run_id,
                                name: &name,
                                runs_on: &labels,
                                needs: &json!(scheduler.jobs()[job_idx].needs).to_string(),
                                matrix: &Value::Object(matrix).to_string(),
                                job_key: &key,
                                instance_idx,
                                contexts: &Value::Object(contexts).to_string(),
                            };
                            let mut row = JobState::from(store.jobs().enqueue(&new_job, now_ms()).await?);
                            debug!(run.id = run_id, job.id = row.id, "job {} ({name}) of run {run_id} queued", row.id);
                            if let Err(error) = runs_on {
                                row = store
                                    .jobs()
                                    .finish(row.id, Conclusion::Failure, "{}", Some(&error.0), now_ms())
                                    .await?
                                    .into();
                                finished(&mut scheduler, &mut needs_values, instance, &row);
                            } else {
                                n_enqueued += 1;
                            }
                            rows.insert((key, instance_idx), row);
                        }
                    }
                }
                Command::Cancel(instance) => {
                    let (_, _, job_idx) = scheduler.instance(instance);
                    let key = scheduler.jobs()[job_idx].id.clone();
                    let instance_idx = siblings.get(&instance).copied().unwrap_or(0);
                    if let Some(row) = rows.get(&(key.clone(), instance_idx))
                        && row.status != Status::Completed
                    {
                        let row = JobState::from(store.jobs().cancel(row.id, now_ms()).await?);
                        // A queued job is cancelled at once; a running one when its runner stops it.
                        if row.status == Status::Completed {
                            finished(&mut scheduler, &mut needs_values, instance, &row);
                        }
                        rows.insert((key, instance_idx), row);
                    }
                }
            }
        }
    }
    if n_enqueued > 0 {
        state.pipeline.jobs_queued.notify_waiters();
    }
    if run.status == Status::Queued && !rows.is_empty() {
        store.runs().start(run_id, now_ms()).await?;
        status::report(state, &run, Reported::Started);
    }
    if scheduler.is_done() {
        let conclusions: Vec<Conclusion> =
            (0..scheduler.jobs().len()).filter_map(|job_idx| scheduler.job_conclusion(job_idx)).collect();
        let conclusion = if cancel_requested {
            Conclusion::Cancelled
        } else if conclusions.contains(&Conclusion::Failure) {
            Conclusion::Failure
        } else if conclusions.contains(&Conclusion::Cancelled) {
            Conclusion::Cancelled
        } else {
            Conclusion::Success
        };
        if run.started_at.is_none() {
            store.runs().start(run_id, now_ms()).await?;
        }
        match store.runs().complete(run_id, conclusion, now_ms()).await {
            Ok(_) | Err(StoreError::Conflict(_)) => {}
            Err(error) => return Err(error),
        }
        info!(
            run.id = run_id,
            conclusion = conclusion.as_str(),
            "run {} of project {} concluded {}",
            run.number,
            run.project_id,
            conclusion.as_str()
        );
        state.pipeline.logs_changed.send_modify(|generation| *generation += 1);
        status::report(state, &run, Reported::Concluded(conclusion));
        if let Some((key, _)) = &group
            && store.concurrency().release(run.project_id, key, run_id).await?
        {
            // The run waiting for the group, if any, may start now.
            for waiting in store.runs().unfinished().await? {
                if waiting.project_id == run.project_id && waiting.status == Status::Queued {
                    follow_ups.push(waiting.id);
                }
            }
        }
    }
    Ok(follow_ups)
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

/// Feeds a completed instance to the scheduler and records what its dependents see.
fn finished(scheduler: &mut Scheduler, needs_values: &mut Map<String, Value>, instance: InstanceId, row: &JobState) {
    let conclusion = row.conclusion.unwrap_or(Conclusion::Failure);
    let entry = needs_values
        .entry(row.job_key.clone())
        .or_insert_with(|| json!({"result": conclusion.as_str(), "outputs": {}}));
    if let (Some(outputs), Ok(Value::Object(own))) =
        (entry.get_mut("outputs").and_then(Value::as_object_mut), serde_json::from_str::<Value>(&row.outputs))
    {
        outputs.extend(own);
    }
    scheduler.finished(instance, conclusion);
    let (_, _, job_idx) = scheduler.instance(instance);
    if let Some(job_conclusion) = scheduler.job_conclusion(job_idx)
        && let Some(entry) = needs_values.get_mut(&row.job_key).and_then(Value::as_object_mut)
    {
        entry.insert("result".to_owned(), Value::String(job_conclusion.as_str().to_owned()));
    }
}

/// Decides how a ready job runs, as JSON text for `run_expansions`.
fn decide(
    run_values: &Map<String, Value>,
    file: &str,
    workflow: &Workflow,
    key: &str,
    request: &ExpandRequest,
    needs_values: &Map<String, Value>,
    cancel_requested: bool,
) -> String {
    let status = if cancel_requested { JobStatus::Cancelled } else { request.status };
    let request = ExpandRequest { status, ..request.clone() };
    let needs = needs_for(workflow, key, needs_values);
    let scope = Scope::new(run_values, &needs, status);
    let expansion = match ferry_engine::expand_job(&scope, file, key, &workflow.jobs[key], &request) {
        Ok(Expansion::Skip) => json!({"kind": "skip"}),
        Ok(Expansion::Conclude(conclusion)) => json!({"kind": "conclude", "conclusion": conclusion.as_str()}),
        Ok(Expansion::Instances(instances)) => json!({
            "kind": "instances",
            "instances": instances.into_iter().map(|(name, matrix)| json!({"name": name, "matrix": matrix})).collect::<Vec<_>>(),
        }),
        Err(error) => {
            warn!(job = key, %error, "job {key} could not be planned: {error}");
            json!({"kind": "conclude", "conclusion": "failure", "error": error.0})
        }
    };
    let mut expansion = expansion;
    expansion["after_cancel"] = Value::Bool(cancel_requested);
    expansion.to_string()
}

/// Reads an expansion back: what the scheduler is told, and whether it was decided after the
/// run was cancelled.
fn decode(text: &str) -> (Expansion, bool) {
    let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let after_cancel = value["after_cancel"].as_bool().unwrap_or(false);
    let expansion = match value["kind"].as_str() {
        Some("skip") => Expansion::Skip,
        Some("instances") => Expansion::Instances(
            value["instances"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|instance| {
                    let name = instance["name"].as_str().unwrap_or_default().to_owned();
                    let matrix = instance["matrix"].as_object().cloned().unwrap_or_default();
                    (name, matrix)
                })
                .collect(),
        ),
        _ => {
            let conclusion =
                serde_json::from_value::<Conclusion>(value["conclusion"].clone()).unwrap_or(Conclusion::Failure);
            Expansion::Conclude(conclusion)
        }
    };
    (expansion, after_cancel)
}

/// The `needs` context of job `key`: only the jobs it needs.
fn needs_for(workflow: &Workflow, key: &str, all: &Map<String, Value>) -> Map<String, Value> {
    let Some(job) = workflow.jobs.get(key) else { return Map::new() };
    job.needs
        .iter()
        .map(|need| {
            let value = all.get(&need.value).cloned().unwrap_or_else(|| json!({"result": "skipped", "outputs": {}}));
            (need.value.clone(), value)
        })
        .collect()
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
    let event = info.get("payload").cloned().unwrap_or_else(|| json!({}));
    let inputs = info.get("inputs").cloned().unwrap_or_else(|| json!({}));
    let repository = event
        .pointer("/repository/full_name")
        .and_then(Value::as_str)
        .map_or_else(|| format!("ferry/{}", project.name), str::to_owned);
    let workflow_name = workflow.name.as_ref().map_or_else(|| run.workflow_file.clone(), |name| name.value.clone());
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
        forge: info.get("forge").and_then(Value::as_str).unwrap_or_default(),
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
