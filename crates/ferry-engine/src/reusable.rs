//! Reusable workflows (`jobs.<id>.uses:`): a calling job is replaced by the jobs of the
//! workflow it calls, so both hosts run one flat list of jobs with the driver they already
//! have. Pure: the host reads the called workflows (`ferry run` from its working tree, the
//! server from its mirror at the run's commit) and passes them in ([`missing_calls`] says
//! which it still has to read).
//!
//! A call by job `c` becomes three kinds of jobs ([`flatten`]):
//! - `c@call`, the entry ([`Role::Enter`]): it needs what `c` needs, decides `c`'s `if:`, its
//!   matrix and, for each matrix leg, the inputs `with:` gives (checked and typed against the
//!   callee's `on.workflow_call.inputs`), recorded as [`JobPlan::Call`]. It runs nothing.
//! - `c/<job>` for each job of the called workflow: it needs `c@call` and its own needs (as
//!   `c/<need>`). Each leg of the call runs it once (times its own matrix), named as GitHub
//!   names it: `c / job`, `c (linux) / job`, with the caller's `name:` when it has one.
//! - `c` itself, the exit ([`Role::Exit`]): it needs every job of the call, concludes as the
//!   called workflow did (failure when one of its jobs failed, skipped when `c` was) and
//!   carries the callee's `on.workflow_call.outputs`, so `needs.c.result` and
//!   `needs.c.outputs.*` of the caller's other jobs mean what they mean on GitHub, and a job
//!   that needs `c` waits for the whole called workflow.
//!
//! Calls nest (a called job that calls again becomes `c/inner@call`, `c/inner/job`,
//! `c/inner`) up to GitHub's ten levels of workflows ([`MAX_LEVELS`]); deeper, or a workflow
//! that calls itself, is a [`CallError`]. A called job sees the contexts GitHub gives it: the
//! caller's `github` (its event, its `github.workflow`), `inputs` from its leg, the secrets
//! its caller passed ([`job_values`]), and `needs` of its own workflow under their own ids
//! ([`job_needs`]).
//!
//! With a matrix caller, each leg runs its own copy of the called workflow, as on GitHub: the
//! jobs of a call are split into legs by its entry ([`crate::JobSpec::legs_of`]), so each
//! is decided once per leg, and in leg `L` it waits only for leg `L` of the called jobs it
//! needs; a job that fails in one leg skips what needs it in that leg only. Each instance of
//! a called job knows its leg ([`PlannedInstance::leg`]), and the driver keeps each called
//! job's result and outputs per leg as well as for the whole job. So a called job's
//! `needs.<job>` is its own leg's ([`leg_needs`]), and the exit evaluates the callee's outputs
//! once per leg and keeps, for each, the value of the last leg to finish successfully that
//! sets it, as GitHub does; the caller fails when any leg failed.
//!
//! Where Ferry differs: a call nested in a matrix caller's callee is one call for all legs
//! (its entry and exit are not split): it waits for the jobs it needs in every leg, the jobs
//! that need it wait for it in every leg, and its outputs are merged over all legs.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_model::{Conclusion, JobStatus};
use ferry_workflow::expr::{EvalFailure, Evaluate, Value, to_display_string};
use ferry_workflow::model::{CallInputType, Job, JobSecrets, Text, TriggerKind, Workflow, WorkflowCall};
use serde::{Deserialize, Serialize};
use serde_json::Map;

use crate::driver::{ExpandJob, ExpansionRecord, JobPlan, PlannedInstance};
use crate::{Expansion, JobSpec, Scope, StrategySettings, expand_job, run_conclusion, strategy_settings};

/// GitHub's limit: the top-level caller and up to nine levels of reusable workflows.
pub const MAX_LEVELS: usize = 10;

/// A called workflow as the host read it.
#[derive(Debug, Clone)]
pub struct Callee {
    /// Where it was read from, as shown to people (`.github/workflows/build.yml`,
    /// `octo/ci/.github/workflows/build.yml@v1`).
    pub file: String,
    pub workflow: Arc<Workflow>,
}

/// Why a workflow's calls cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("job `{job}` calls `{uses}`, which the host could not read")]
    Missing { job: String, uses: String },
    #[error(
        "job `{job}` calls {file}, which has no `on: workflow_call`; add `on: workflow_call` to {file} to make it reusable"
    )]
    NotCallable { job: String, file: String },
    #[error(
        "job `{job}` nests reusable workflows too deep ({chain}): at most {MAX_LEVELS} levels of workflows are allowed"
    )]
    TooDeep { job: String, chain: String },
    #[error("job `{job}` calls {file}, which is already calling it ({chain}): a reusable workflow cannot call itself")]
    Cycle { job: String, file: String, chain: String },
}

/// The `uses:` of every calling job of `workflow`, as written.
pub fn calls_of(workflow: &Workflow) -> impl Iterator<Item = &str> {
    workflow.jobs.values().filter_map(|job| job.uses.as_ref().map(|uses| uses.value.as_str()))
}

/// The calls reachable from `root` (through the callees already in `found`) that `found`
/// lacks: the host reads them and asks again until none is missing. Bounded by
/// [`MAX_LEVELS`], so a cycle ends (and [`flatten`] reports it).
pub fn missing_calls(root: &Workflow, found: &HashMap<String, Callee>) -> Vec<String> {
    let mut missing = Vec::new();
    let mut level: Vec<&Workflow> = vec![root];
    for _ in 0..MAX_LEVELS {
        let mut next = Vec::new();
        for workflow in level {
            for uses in calls_of(workflow) {
                match found.get(uses) {
                    Some(callee) => next.push(callee.workflow.as_ref()),
                    None if !missing.iter().any(|known: &String| known == uses) => missing.push(uses.to_owned()),
                    None => {}
                }
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    missing
}

/// What a job of the flat list does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A job with steps.
    Steps,
    /// The entry of call `calls[idx]`.
    Enter(usize),
    /// The exit of call `calls[idx]`, under the calling job's id.
    Exit(usize),
}

/// One job of a run with its calls flattened.
#[derive(Debug, Clone)]
pub struct FlatJob {
    /// Its id in the run: `build`, `c/build`, `c@call`.
    pub id: String,
    pub needs: Vec<String>,
    /// The workflow it is written in, that workflow's file, and its id there (`github.job`).
    pub workflow: Arc<Workflow>,
    pub file: String,
    pub own_id: String,
    /// The call it belongs to; `None` for the run's own jobs.
    pub call: Option<usize>,
    pub role: Role,
}

impl FlatJob {
    /// The job as written.
    pub fn job(&self) -> &Job {
        &self.workflow.jobs[&self.own_id]
    }
}

/// One call of a reusable workflow.
#[derive(Debug, Clone)]
pub struct Call {
    /// The calling job's id in the run (`c`, `outer/c`).
    pub id: String,
    /// The call the calling job belongs to.
    pub parent: Option<usize>,
    /// The calling job's index in [`Flat::jobs`] (its entry).
    pub enter: usize,
    pub callee: Callee,
}

impl Call {
    fn enter_id(&self) -> String {
        format!("{}@call", self.id)
    }

    fn interface(&self) -> Option<&WorkflowCall> {
        self.callee.workflow.trigger("workflow_call").and_then(|trigger| match &trigger.kind {
            TriggerKind::Call(call) => Some(call),
            _ => None,
        })
    }
}

/// A run's jobs with every call replaced by the called workflow's jobs.
#[derive(Debug, Clone)]
pub struct Flat {
    pub jobs: Vec<FlatJob>,
    pub calls: Vec<Call>,
}

impl Flat {
    /// The job with id `id`.
    pub fn job(&self, id: &str) -> Option<&FlatJob> {
        self.jobs.iter().find(|job| job.id == id)
    }

    /// The name of job `job_idx` before matrix values are added, as GitHub shows it: its
    /// `name:` or id, after the names of the jobs that called it (`build / test`); for an
    /// entry or an exit, the calling job's.
    pub fn display_name(&self, job_idx: usize) -> String {
        let flat_job = &self.jobs[job_idx];
        let own = crate::base_name(&flat_job.own_id, flat_job.job());
        match flat_job.call {
            Some(call) => format!("{} / {own}", self.display_name(self.calls[call].enter)),
            None => own,
        }
    }

    /// The name of what `expand` decides, as GitHub shows it: [`Flat::display_name`], or
    /// for a leg of a called job the leg's (`ci (linux) / test`).
    pub fn expansion_name(&self, expand: &ExpandJob) -> String {
        let flat_job = &self.jobs[expand.job_idx];
        let leg = flat_job.call.zip(expand.request.leg).and_then(|(call, leg_idx)| {
            call_legs(&self.calls[call], &expand.needs).and_then(|legs| legs.into_iter().nth(leg_idx))
        });
        match leg {
            Some(leg) => format!("{} / {}", leg.name, crate::base_name(&flat_job.own_id, flat_job.job())),
            None => self.display_name(expand.job_idx),
        }
    }

    /// The driver's view of the jobs, strategy settings evaluated in the run's contexts
    /// (`run`) as [`crate::job_specs`] does. A called job is split into legs by its call's
    /// entry, so each leg waits for its own leg of what it needs; its instances in every leg
    /// are one job's, and a failure cancels the others only when the calling jobs'
    /// `fail-fast` allows it too (GitHub cancels the other legs of a failing call unless the
    /// caller says `fail-fast: false`).
    pub fn job_specs(&self, run: &Map<String, Value>) -> Vec<JobSpec> {
        let settings = |flat: &FlatJob| {
            strategy_settings(run, &flat.file, flat.job())
                .unwrap_or(StrategySettings { fail_fast: true, max_parallel: None })
        };
        self.jobs
            .iter()
            .map(|flat| {
                let mut strategy = match flat.role {
                    Role::Steps => settings(flat),
                    Role::Enter(_) | Role::Exit(_) => StrategySettings { fail_fast: true, max_parallel: None },
                };
                if let Role::Steps = flat.role {
                    let mut call = flat.call;
                    while let Some(idx) = call {
                        strategy.fail_fast &= settings(&self.jobs[self.calls[idx].enter]).fail_fast;
                        call = self.calls[idx].parent;
                    }
                }
                // Each leg of a call runs its own copy of the called workflow's jobs; its entry
                // and exit stand for the whole call.
                let legs_of = match (flat.role, flat.call) {
                    (Role::Steps, Some(call)) => Some(self.calls[call].enter_id()),
                    _ => None,
                };
                JobSpec {
                    id: flat.id.clone(),
                    needs: flat.needs.clone(),
                    fail_fast: strategy.fail_fast,
                    max_parallel: strategy.max_parallel,
                    legs_of,
                }
            })
            .collect()
    }
}

/// The jobs of `workflow` (read from `file`) with every call replaced by the jobs of the
/// workflow it calls, found in `callees` by its `uses:` as written.
///
/// # Errors
/// A callee missing from `callees`, one without `on: workflow_call`, nesting deeper than
/// [`MAX_LEVELS`], or a workflow that calls itself.
pub fn flatten(file: &str, workflow: Arc<Workflow>, callees: &HashMap<String, Callee>) -> Result<Flat, CallError> {
    let mut flat = Flat { jobs: Vec::new(), calls: Vec::new() };
    let level = Level { file, workflow: &workflow, prefix: "", call: None, chain: &[file.to_owned()] };
    add_jobs(&mut flat, &level, callees)?;
    Ok(flat)
}

/// A workflow being flattened, and where it sits.
struct Level<'a> {
    file: &'a str,
    workflow: &'a Arc<Workflow>,
    /// `""` for the run's workflow, `c/` inside call `c`.
    prefix: &'a str,
    call: Option<usize>,
    /// The files from the run's workflow down to this one.
    chain: &'a [String],
}

fn add_jobs(flat: &mut Flat, level: &Level<'_>, callees: &HashMap<String, Callee>) -> Result<(), CallError> {
    let enter = level.call.map(|call| flat.calls[call].enter_id());
    for (own_id, job) in &level.workflow.jobs {
        let id = format!("{}{own_id}", level.prefix);
        let mut needs: Vec<String> = job.needs.iter().map(|need| format!("{}{}", level.prefix, need.value)).collect();
        needs.extend(enter.clone());
        let flat_job = |id: String, needs: Vec<String>, role: Role| FlatJob {
            id,
            needs,
            workflow: level.workflow.clone(),
            file: level.file.to_owned(),
            own_id: own_id.clone(),
            call: level.call,
            role,
        };
        let Some(uses) = &job.uses else {
            flat.jobs.push(flat_job(id, needs, Role::Steps));
            continue;
        };
        let callee =
            callees.get(&uses.value).ok_or_else(|| CallError::Missing { job: id.clone(), uses: uses.value.clone() })?;
        if callee.workflow.trigger("workflow_call").is_none() {
            return Err(CallError::NotCallable { job: id, file: callee.file.clone() });
        }
        let mut chain = level.chain.to_vec();
        let is_cycle = chain.contains(&callee.file);
        chain.push(callee.file.clone());
        if is_cycle {
            return Err(CallError::Cycle { job: id, file: callee.file.clone(), chain: chain.join(" → ") });
        }
        if chain.len() > MAX_LEVELS {
            return Err(CallError::TooDeep { job: id, chain: chain.join(" → ") });
        }
        let call_idx = flat.calls.len();
        flat.calls.push(Call { id: id.clone(), parent: level.call, enter: flat.jobs.len(), callee: callee.clone() });
        flat.jobs.push(flat_job(format!("{id}@call"), needs, Role::Enter(call_idx)));
        let prefix = format!("{id}/");
        let inner = Level {
            file: &callee.file,
            workflow: &callee.workflow,
            prefix: &prefix,
            call: Some(call_idx),
            chain: &chain,
        };
        add_jobs(flat, &inner, callees)?;
        let mut exit_needs: Vec<String> = callee.workflow.jobs.keys().map(|inner| format!("{prefix}{inner}")).collect();
        exit_needs.push(format!("{id}@call"));
        flat.jobs.push(flat_job(id, exit_needs, Role::Exit(call_idx)));
    }
    Ok(())
}

/// One leg of a call: a matrix combination of the calling job (the only one without a
/// matrix), the name its jobs are shown under and the inputs they see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallLeg {
    /// `c`, `c (linux)`, `outer / c (linux)`.
    pub name: String,
    pub inputs: Map<String, Value>,
}

/// Decides how ready job `expand` of `flat` runs (what [`crate::decide`] does for a run
/// without calls): a job with steps gets its instances (one set per leg of its call), an
/// entry its legs, an exit the callee's conclusion and outputs.
pub fn decide_flat(run: &Map<String, Value>, flat: &Flat, expand: &ExpandJob) -> ExpansionRecord {
    let flat_job = &flat.jobs[expand.job_idx];
    let record = |plan| ExpansionRecord::of(plan, expand);
    if let (Role::Steps, None) = (flat_job.role, flat_job.call) {
        return crate::decide(run, &flat_job.file, flat_job.job(), expand);
    }
    if let Role::Exit(call) = flat_job.role {
        return record(exit_plan(run, &flat.calls[call], &expand.needs));
    }
    // The legs of its call it is decided for: the one asked for when the job is split into
    // legs, else every leg.
    let legs: Vec<(Option<usize>, Option<CallLeg>)> = match flat_job.call {
        None => vec![(None, None)],
        Some(call) => match call_legs(&flat.calls[call], &expand.needs) {
            Some(legs) => legs
                .into_iter()
                .enumerate()
                .filter(|(leg_idx, _)| expand.request.leg.is_none_or(|asked| asked == *leg_idx))
                .map(|(leg_idx, leg)| (Some(leg_idx), Some(leg)))
                .collect(),
            // The caller was skipped or could not be planned: nothing of the call runs.
            None => return record(JobPlan::Skip),
        },
    };
    let job = flat_job.job();
    let mut instances = Vec::new();
    let mut call_legs = Vec::new();
    for (leg_idx, leg) in &legs {
        let leg_idx = *leg_idx;
        let needs = job_needs(flat, expand.job_idx, &leg_needs(&expand.needs, leg_idx));
        let mut values = run.clone();
        if let Some(leg) = leg {
            values.insert("inputs".to_owned(), Value::Object(leg.inputs.clone()));
        }
        let scope = Scope::new(&values, &needs, expand.request.status);
        let expansion = match expand_job(&scope, &flat_job.file, &flat_job.own_id, job, &expand.request) {
            Ok(expansion) => expansion,
            Err(error) => {
                return record(JobPlan::Conclude {
                    conclusion: Conclusion::Failure,
                    error: Some(error.0),
                    outputs: Map::new(),
                });
            }
        };
        let Expansion::Instances(combinations) = expansion else { continue };
        for (name, matrix) in combinations {
            let name = match leg {
                Some(leg) => format!("{} / {name}", leg.name),
                None => name,
            };
            match flat_job.role {
                Role::Enter(call) => {
                    let mut scope = scope.clone();
                    scope.values.insert("matrix".to_owned(), Value::Object(matrix.clone()));
                    match call_inputs(&scope, &flat_job.file, &flat.calls[call].id, job, &flat.calls[call]) {
                        Ok(inputs) => call_legs.push(CallLeg { name, inputs }),
                        Err(error) => {
                            return record(JobPlan::Conclude {
                                conclusion: Conclusion::Failure,
                                error: Some(error.to_string()),
                                outputs: Map::new(),
                            });
                        }
                    }
                }
                _ => {
                    instances.push(PlannedInstance {
                        name,
                        matrix,
                        inputs: leg.as_ref().map(|leg| leg.inputs.clone()),
                        leg: leg_idx,
                    });
                }
            }
        }
    }
    let plan = match flat_job.role {
        Role::Enter(_) if call_legs.is_empty() => JobPlan::Skip,
        Role::Enter(_) => JobPlan::Call { legs: call_legs },
        _ if instances.is_empty() => JobPlan::Skip,
        _ => JobPlan::Instances { instances },
    };
    record(plan)
}

/// The legs of `call` its entry recorded (in `needs`, the driver's `needs` context of a job
/// of the call), or `None` when the entry did not succeed.
fn call_legs(call: &Call, needs: &Map<String, Value>) -> Option<Vec<CallLeg>> {
    let enter = needs.get(&call.enter_id())?;
    if enter.get("result").and_then(Value::as_str) != Some(Conclusion::Success.as_str()) {
        return None;
    }
    serde_json::from_value(enter.pointer("/outputs/legs")?.clone()).ok()
}

/// The `needs` context job `job_idx` of `flat` sees, from the driver's (`needs`, keyed by
/// the run's ids): its own workflow's jobs under their own ids, without its call's entry and
/// without the results per leg the driver keeps (see [`leg_needs`]).
pub fn job_needs(flat: &Flat, job_idx: usize, needs: &Map<String, Value>) -> Map<String, Value> {
    let flat_job = &flat.jobs[job_idx];
    let Some(call) = flat_job.call.map(|call| &flat.calls[call]) else { return needs.clone() };
    let prefix = format!("{}/", call.id);
    let enter = call.enter_id();
    needs
        .iter()
        .filter(|(id, _)| **id != enter)
        .map(|(id, value)| {
            let mut value = value.clone();
            if let Some(value) = value.as_object_mut() {
                value.remove(LEGS);
            }
            (id.strip_prefix(&prefix).unwrap_or(id).to_owned(), value)
        })
        .collect()
}

/// The key under which the driver keeps a called job's results per leg in its `needs.<job>`:
/// `{"0": {"result", "outputs", "order"}, …}`, by the leg's place among its call's legs;
/// `order` says how many instances of the run had finished when the leg's last one did.
const LEGS: &str = "legs";

/// Records in `result` (a called job's `needs.<job>`) that one of its instances in leg `leg`
/// concluded with `conclusion` and `outputs`, as the `order`th instance of the run to finish.
/// A leg's result is its worst instance's (failure, cancelled, neutral, success, skipped) and
/// the outputs of instances that finish later win, as for the whole job.
pub fn record_leg(
    result: &mut Map<String, Value>,
    leg: usize,
    conclusion: Conclusion,
    outputs: Map<String, Value>,
    order: u64,
) {
    fn rank(conclusion: Option<&str>) -> u8 {
        match conclusion {
            Some("failure") => 4,
            Some("cancelled") => 3,
            Some("neutral") => 2,
            Some("success") => 1,
            _ => 0,
        }
    }
    let legs = result.entry(LEGS).or_insert_with(|| Value::Object(Map::new()));
    let Some(legs) = legs.as_object_mut() else { return };
    let entry = legs.entry(leg.to_string()).or_insert_with(|| serde_json::json!({"outputs": {}}));
    let Some(entry) = entry.as_object_mut() else { return };
    if rank(Some(conclusion.as_str())) >= rank(entry.get("result").and_then(Value::as_str)) {
        entry.insert("result".to_owned(), Value::String(conclusion.as_str().to_owned()));
    }
    if let Some(own) = entry.get_mut("outputs").and_then(Value::as_object_mut) {
        own.extend(outputs);
    }
    entry.insert("order".to_owned(), Value::from(order));
}

/// The driver's `needs` context (keyed by the run's ids) as an instance of leg `leg` of its
/// call sees it: a called job it needs is shown with its result and outputs in that leg only
/// (skipped when it did not run there). Without a leg, the results per leg are dropped.
pub fn leg_needs(needs: &Map<String, Value>, leg: Option<usize>) -> Map<String, Value> {
    needs
        .iter()
        .map(|(id, value)| {
            let mut value = value.clone();
            if let Some(own) = value.as_object_mut()
                && let Some(legs) = own.remove(LEGS)
                && let Some(leg) = leg
            {
                let mut one = legs
                    .get(leg.to_string())
                    .cloned()
                    .unwrap_or_else(|| serde_json::json!({"result": Conclusion::Skipped.as_str(), "outputs": {}}));
                if let Some(one) = one.as_object_mut() {
                    one.remove("order");
                }
                value = one;
            }
            (id.clone(), value)
        })
        .collect()
}

/// Why a calling job's `with:` or `secrets:` do not fit the workflow it calls; `id` is the
/// calling job, `callee` the called file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallInputError {
    #[error("job `{id}` passes input `{name}`, which {callee} does not declare under `on.workflow_call.inputs`")]
    UndeclaredInput { id: String, name: String, callee: String },
    #[error("job `{id}`: input `{name}` of {callee} must be {expected}; `with: {name}:` gives `{given}`")]
    WrongType { id: String, name: String, callee: String, expected: &'static str, given: String },
    #[error("{callee}: the default of input `{name}` must be {expected}")]
    WrongDefault { name: String, callee: String, expected: &'static str },
    #[error("job `{id}` does not pass input `{name}`, which {callee} requires; add it under `with:`")]
    MissingInput { id: String, name: String, callee: String },
    #[error(
        "job `{id}` does not pass secret `{name}`, which {callee} requires; add it under `secrets:` or use `secrets: inherit`"
    )]
    MissingSecret { id: String, name: String, callee: String },
    #[error("job `{id}` passes secret `{name}`, which {callee} does not declare under `on.workflow_call.secrets`")]
    UndeclaredSecret { id: String, name: String, callee: String },
    /// An expression in `with:` or in a default failed.
    #[error(transparent)]
    Expression(#[from] EvalFailure),
}

/// The inputs `with:` of calling job `job` (`id` in the run) gives `call`, evaluated in
/// `scope` (with the leg's `matrix`) and checked against the callee's declared inputs.
fn call_inputs(
    scope: &Scope,
    file: &str,
    id: &str,
    job: &Job,
    call: &Call,
) -> Result<Map<String, Value>, CallInputError> {
    let declared = call.interface().map(|interface| &interface.inputs);
    let callee = &call.callee.file;
    let mut inputs = Map::new();
    for (name, text) in &job.with {
        let Some(input) = declared.and_then(|declared| declared.get(name)) else {
            return Err(CallInputError::UndeclaredInput {
                id: id.to_owned(),
                name: name.clone(),
                callee: callee.clone(),
            });
        };
        let value = scope.value(file, text)?;
        let typed = typed_input(input.kind, value, text).map_err(|expected| CallInputError::WrongType {
            id: id.to_owned(),
            name: name.clone(),
            callee: callee.clone(),
            expected,
            given: text.value.clone(),
        })?;
        inputs.insert(name.clone(), typed);
    }
    for (name, input) in declared.into_iter().flatten() {
        if inputs.contains_key(name) {
            continue;
        }
        match &input.default {
            Some(default) => {
                let value = match &default.value {
                    Value::String(text) if text.contains("${{") => {
                        let text = Text { value: text.clone(), span: default.span };
                        scope.value(callee, &text)?
                    }
                    other => other.clone(),
                };
                let text = Text { value: to_display_string(&value), span: default.span };
                let typed = typed_input(input.kind, value, &text).map_err(|expected| CallInputError::WrongDefault {
                    name: name.clone(),
                    callee: callee.clone(),
                    expected,
                })?;
                inputs.insert(name.clone(), typed);
            }
            None if input.required => {
                return Err(CallInputError::MissingInput {
                    id: id.to_owned(),
                    name: name.clone(),
                    callee: callee.clone(),
                });
            }
            // GitHub gives an input without a value its type's empty value.
            None => {
                let empty = match input.kind {
                    CallInputType::Boolean => Value::Bool(false),
                    CallInputType::Number => Value::from(0),
                    CallInputType::String => Value::String(String::new()),
                };
                inputs.insert(name.clone(), empty);
            }
        }
    }
    if let (Some(JobSecrets::Map(given)), Some(interface)) = (&job.secrets, call.interface()) {
        for (name, secret) in &interface.secrets {
            if secret.required && !given.contains_key(name) {
                return Err(CallInputError::MissingSecret {
                    id: id.to_owned(),
                    name: name.clone(),
                    callee: callee.clone(),
                });
            }
        }
        if let Some(name) = given.keys().find(|name| !interface.secrets.contains_key(*name)) {
            return Err(CallInputError::UndeclaredSecret {
                id: id.to_owned(),
                name: name.clone(),
                callee: callee.clone(),
            });
        }
    }
    Ok(inputs)
}

/// `value` as an input of type `kind`; the error names the type expected. A `with:` value
/// written as YAML `true` or `3` reaches here as text and is read as its type.
fn typed_input(kind: CallInputType, value: Value, text: &Text) -> Result<Value, &'static str> {
    match kind {
        CallInputType::String => Ok(match value {
            Value::String(_) => value,
            other => Value::String(to_display_string(&other)),
        }),
        CallInputType::Boolean => match &value {
            Value::Bool(_) => Ok(value),
            Value::String(text) if text == "true" || text == "false" => Ok(Value::Bool(text == "true")),
            _ => Err("a boolean (true or false)"),
        },
        CallInputType::Number => match &value {
            Value::Number(_) => Ok(value),
            Value::String(written) => written
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(|number| {
                    // Whole numbers stay integers, as GitHub shows them.
                    if number.as_f64().is_some_and(|float| float.fract() == 0.0 && float.abs() < 1e15) {
                        Value::from(number.as_f64().unwrap_or_default() as i64)
                    } else {
                        Value::Number(number)
                    }
                })
                .ok_or(if text.has_expression() { "a number" } else { "a number (like 3 or 1.5)" }),
            _ => Err("a number"),
        },
    }
}

/// How the calling job of `call` concludes: skipped when it was, failure when its entry
/// failed, else as the called workflow's jobs did (failure when they failed in any leg),
/// with the callee's outputs evaluated over them (`jobs.<id>.outputs`) once per leg: each
/// output is the value of the last leg to finish successfully that sets it, as on GitHub.
fn exit_plan(run: &Map<String, Value>, call: &Call, needs: &Map<String, Value>) -> JobPlan {
    let result =
        |id: &str| needs.get(id).and_then(|need| need.get("result")).and_then(Value::as_str).map(str::to_owned);
    match result(&call.enter_id()).as_deref() {
        Some("success") => {}
        Some("failure") => {
            return JobPlan::Conclude { conclusion: Conclusion::Failure, error: None, outputs: Map::new() };
        }
        Some("cancelled") => {
            return JobPlan::Conclude { conclusion: Conclusion::Cancelled, error: None, outputs: Map::new() };
        }
        _ => return JobPlan::Skip,
    }
    let prefix = format!("{}/", call.id);
    let inner_needs: Vec<(&String, Value)> = call
        .callee
        .workflow
        .jobs
        .keys()
        .map(|inner| (inner, needs.get(&format!("{prefix}{inner}")).cloned().unwrap_or(Value::Null)))
        .collect();
    let legs = call_legs(call, needs).unwrap_or_default();
    // Records from before results were kept per leg have none: the call is then one leg.
    let per_leg = inner_needs.iter().any(|(_, need)| need.get(LEGS).is_some());
    let n_legs = if per_leg { legs.len() } else { 1 };
    let mut finished = Vec::new();
    for leg_idx in 0..n_legs {
        let mut jobs = Map::new();
        let mut conclusions = Vec::new();
        let mut order = 0;
        for (inner, need) in &inner_needs {
            let need = if per_leg {
                let one = need.get(LEGS).and_then(|legs| legs.get(leg_idx.to_string()));
                order = order.max(one.and_then(|one| one.get("order")).and_then(Value::as_u64).unwrap_or(0));
                let mut single = Map::new();
                single.insert(String::new(), need.clone());
                leg_needs(&single, Some(leg_idx)).remove("").unwrap_or(Value::Null)
            } else {
                need.clone()
            };
            conclusions.push(match need.get("result").and_then(Value::as_str) {
                Some("failure") => Conclusion::Failure,
                Some("cancelled") => Conclusion::Cancelled,
                _ => Conclusion::Success,
            });
            jobs.insert((*inner).clone(), need);
        }
        let conclusion = run_conclusion(false, conclusions);
        let mut values = run.clone();
        if let Some(leg) = legs.get(leg_idx) {
            values.insert("inputs".to_owned(), Value::Object(leg.inputs.clone()));
        }
        values.insert("jobs".to_owned(), Value::Object(jobs));
        let scope = Scope { values, status: JobStatus::Success };
        let mut outputs: Vec<(String, String)> = Vec::new();
        for (name, output) in call.interface().map(|interface| &interface.outputs).into_iter().flatten() {
            let Some(text) = &output.value else { continue };
            // An output that does not evaluate is empty, as a job output is.
            outputs.push((name.clone(), scope.render(&call.callee.file, text).unwrap_or_default()));
        }
        finished.push((order, conclusion, outputs));
    }
    let conclusion = run_conclusion(false, finished.iter().map(|(_, conclusion, _)| *conclusion));
    // Stable: legs that finished together keep their order.
    finished.sort_by_key(|(order, _, _)| *order);
    let mut outputs = Map::new();
    for (name, output) in call.interface().map(|interface| &interface.outputs).into_iter().flatten() {
        if output.value.is_some() {
            outputs.insert(name.clone(), Value::String(String::new()));
        }
    }
    for (_, leg_conclusion, leg_outputs) in finished {
        if leg_conclusion != Conclusion::Success && n_legs > 1 {
            continue;
        }
        for (name, value) in leg_outputs {
            if !value.is_empty() || n_legs == 1 {
                outputs.insert(name, Value::String(value));
            }
        }
    }
    JobPlan::Conclude { conclusion, error: None, outputs }
}

/// The run's contexts (`run`) as job `job_idx` of `flat` sees them: for a job of a call, the
/// `inputs` of its instance and the secrets its caller passed (`secrets: inherit` passes all
/// of them, a mapping only those it names, nothing passes none; `GITHUB_TOKEN` always).
///
/// # Errors
/// A secret's expression in a `secrets:` mapping that does not evaluate.
pub fn job_values(
    run: &Map<String, Value>,
    flat: &Flat,
    job_idx: usize,
    inputs: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, EvalFailure> {
    let mut values = run.clone();
    let Some(call) = flat.jobs[job_idx].call else { return Ok(values) };
    if let Some(inputs) = inputs {
        values.insert("inputs".to_owned(), Value::Object(inputs.clone()));
    }
    // The calls from the outermost down to this job's.
    let mut chain = vec![call];
    while let Some(parent) = flat.calls[chain[chain.len() - 1]].parent {
        chain.push(parent);
    }
    let mut secrets = run.get("secrets").and_then(Value::as_object).cloned().unwrap_or_default();
    for call in chain.into_iter().rev() {
        let caller = &flat.jobs[flat.calls[call].enter];
        secrets = match &caller.job().secrets {
            Some(JobSecrets::Inherit) => secrets,
            given => {
                let mut passed = Map::new();
                if let Some(token) = secrets.get("GITHUB_TOKEN") {
                    passed.insert("GITHUB_TOKEN".to_owned(), token.clone());
                }
                if let Some(JobSecrets::Map(given)) = given {
                    let mut scope_values = values.clone();
                    scope_values.insert("secrets".to_owned(), Value::Object(secrets.clone()));
                    let scope = Scope { values: scope_values, status: JobStatus::Success };
                    for (name, text) in given {
                        passed.insert(name.clone(), Value::String(scope.render(&caller.file, text)?));
                    }
                }
                passed
            }
        };
    }
    values.insert("secrets".to_owned(), Value::Object(secrets));
    Ok(values)
}

#[cfg(test)]
mod tests;
