//! The driver of one run, shared by `ferry run` and the server: what is known of the run and
//! an [`Event`] in, [`Action`]s out. No IO and no clock.
//!
//! It wraps the [`Scheduler`] and keeps what both hosts used to keep each on their own: the
//! `needs` context (each job's result and outputs), the place of each instance among its
//! job's instances, whether a job was planned after the run was cancelled, and the run's one
//! conclusion rule ([`run_conclusion`]).
//!
//! A host either starts a driver empty ([`Driver::new`], `ferry run`), or rebuilds it from
//! what its store holds ([`Driver::restore`] with a [`RunState`], the server after a restart
//! or on any event it did not follow): a restore replays the stored expansions and instance
//! results and returns as actions only what the store does not have yet, so executing them is
//! safe to repeat. Either way it then feeds [`Event`]s with [`Driver::apply`] and executes
//! what [`Driver::next_actions`] returns:
//! - [`Action::Expand`]: decide the job's `if:`, matrix and names (with [`crate::decide`],
//!   which needs the contexts only the host has), keep the [`ExpansionRecord`] and apply it as
//!   [`Event::Expanded`];
//! - [`Action::Start`]: run the instance (a process, or a row in the durable queue) and apply
//!   [`Event::Finished`] when it ends;
//! - [`Action::Cancel`]: stop a running instance, which still finishes;
//! - [`Action::Complete`]: the run is over, with its conclusion. Emitted once.
//!
//! A job of a reusable workflow called by a matrix caller is decided once per leg of the call
//! (see [`crate::scheduler`]): a host keeps each leg's [`ExpansionRecord`] under
//! [`ExpandJob::key`]. Legs are decided in the order their needs finish, so an instance's
//! place among its job's instances is worked out from its leg: instance `k` of leg `l` of `n`
//! is at `l + n * k`, whatever the order.
//!
//! Cancelling a run ([`Event::CancelRequested`], or a restored run whose state says so):
//! instances queued before the cancel never start, running ones get [`Action::Cancel`], and
//! jobs that become ready afterwards are offered with status `cancelled`, so only `if:
//! always()` and `if: cancelled()` jobs still run.

use std::collections::HashMap;

use ferry_model::{Conclusion, JobStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::reusable::CallLeg;
use crate::scheduler::{Command, ExpandRequest, Expansion, InstanceId, JobSpec, Scheduler, run_conclusion};

/// How a ready job was decided, as a host keeps it (the server stores it as JSON, decided
/// once, so a replay never decides again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpansionRecord {
    #[serde(flatten)]
    pub plan: JobPlan,
    /// Whether it was decided after the run was cancelled (such a job runs even though the
    /// run is cancelled: its `if:` asked for it).
    #[serde(default)]
    pub after_cancel: bool,
    /// The leg it decides, for a job split into legs ([`ExpandRequest::leg`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leg: Option<usize>,
}

impl ExpansionRecord {
    /// The record of `plan` decided for `expand`.
    pub fn of(plan: JobPlan, expand: &ExpandJob) -> ExpansionRecord {
        ExpansionRecord { plan, after_cancel: expand.after_cancel, leg: expand.request.leg }
    }
}

/// What a ready job does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobPlan {
    /// It does not run: its `if:` was false, or what it needs did not succeed.
    Skip,
    /// It concludes at once without running; `error` says why (a matrix that does not
    /// evaluate, say).
    Conclude {
        conclusion: Conclusion,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Its outputs (a reusable workflow's, for the job that called it).
        #[serde(default, skip_serializing_if = "Map::is_empty")]
        outputs: Map<String, Value>,
    },
    /// It runs once per instance.
    Instances { instances: Vec<PlannedInstance> },
    /// It calls a reusable workflow once per leg (see [`crate::reusable`]): it succeeds at
    /// once, and the called workflow's jobs run for each leg.
    Call { legs: Vec<CallLeg> },
}

/// One instance of a planned job: its display name and matrix combination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedInstance {
    pub name: String,
    #[serde(default)]
    pub matrix: Map<String, Value>,
    /// For a job of a called workflow: the `inputs` its call's leg gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Map<String, Value>>,
    /// For a job of a called workflow: the place of its call's leg among the call's legs,
    /// so the call's outputs and `needs` can be worked out per leg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leg: Option<usize>,
}

impl JobPlan {
    fn to_expansion(&self) -> Expansion {
        match self {
            JobPlan::Skip => Expansion::Skip,
            JobPlan::Conclude { conclusion, .. } => Expansion::Conclude(*conclusion),
            JobPlan::Call { legs } => Expansion::Legs(legs.len()),
            JobPlan::Instances { instances } => Expansion::Instances(
                instances.iter().map(|instance| (instance.name.clone(), instance.matrix.clone())).collect(),
            ),
        }
    }
}

/// What a host's store holds about a run, for [`Driver::restore`].
#[derive(Debug, Clone, Default)]
pub struct RunState {
    pub cancel_requested: bool,
    /// Expansions by [`ExpandJob::key`].
    pub expansions: HashMap<String, ExpansionRecord>,
    /// Instances that exist (enqueued), by job id and place among the job's instances.
    pub instances: HashMap<(String, i64), InstanceRecord>,
}

/// What is stored of an instance.
#[derive(Debug, Clone, PartialEq)]
pub enum InstanceRecord {
    /// Enqueued, claimed or running: it will finish.
    Unfinished,
    /// It finished with this conclusion and these outputs.
    Finished { conclusion: Conclusion, outputs: Map<String, Value> },
}

/// Something that happened to the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The host's answer to [`Action::Expand`].
    Expanded { job_idx: usize, record: ExpansionRecord },
    /// A started instance ended (its conclusion after `continue-on-error` and allow-failure).
    Finished { instance: InstanceId, conclusion: Conclusion, outputs: Map<String, Value> },
    /// Someone cancelled the run.
    CancelRequested,
}

/// What the host must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Expand(ExpandJob),
    Start(StartInstance),
    Cancel(InstanceRef),
    Complete(Conclusion),
}

/// A job to decide, with what its `if:` sees.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandJob {
    pub job_idx: usize,
    pub job_id: String,
    /// What the host keeps its [`ExpansionRecord`] under ([`expansion_key`]): the job's id, or
    /// for a leg of a job split into legs `job#leg` (`ci/test#1`).
    pub key: String,
    /// Its status is `cancelled` once the run is; its leg, when it is one.
    pub request: ExpandRequest,
    /// The `needs` context: the jobs it needs, with their result and outputs.
    pub needs: Map<String, Value>,
    /// Whether the run was cancelled: the host records it in [`ExpansionRecord::after_cancel`].
    pub after_cancel: bool,
}

/// The key of the expansion of job `job_id` (its leg `leg`, for a job split into legs).
pub fn expansion_key(job_id: &str, leg: Option<usize>) -> String {
    match leg {
        Some(leg) => format!("{job_id}#{leg}"),
        None => job_id.to_owned(),
    }
}

/// The job an [`expansion_key`] belongs to.
pub fn job_of_expansion_key(key: &str) -> &str {
    key.split_once('#').map_or(key, |(job_id, _)| job_id)
}

/// An instance to run.
#[derive(Debug, Clone, PartialEq)]
pub struct StartInstance {
    pub instance: InstanceId,
    pub job_idx: usize,
    pub job_id: String,
    /// Its place among its job's instances (0 without a matrix); stable across replays.
    pub instance_idx: i64,
    pub name: String,
    pub matrix: Map<String, Value>,
    /// The `needs` context.
    pub needs: Map<String, Value>,
    /// The `strategy` context.
    pub strategy: Value,
    /// For a job of a called workflow: its `inputs` (see [`crate::reusable::job_values`]);
    /// boxed, as most instances have none.
    pub inputs: Option<Box<Map<String, Value>>>,
}

/// An instance, named as the host keys it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRef {
    pub instance: InstanceId,
    pub job_id: String,
    pub instance_idx: i64,
}

/// An event the driver cannot apply: the host's bookkeeping and the driver's disagree, so the
/// host should rebuild the driver from its store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    #[error("job {0} was not waiting for its expansion")]
    NotExpanding(usize),
    #[error("instance {0} is not running")]
    NotRunning(usize),
    #[error("no instance {instance_idx} of job `{job_id}` is running")]
    UnknownInstance { job_id: String, instance_idx: i64 },
}

/// The driver of one run; see the module documentation.
#[derive(Debug, Clone)]
pub struct Driver {
    scheduler: Scheduler,
    /// `needs.<job>` of each job once an instance finished or it concluded.
    results: Vec<Option<Map<String, Value>>>,
    /// Each instance's place among its job's instances, by [`InstanceId`].
    positions: Vec<i64>,
    /// Each instance's `inputs` when it belongs to a called workflow, by [`InstanceId`].
    inputs: Vec<Option<Map<String, Value>>>,
    /// Each instance's leg of its call when it belongs to a called workflow, by [`InstanceId`].
    legs: Vec<Option<usize>>,
    /// How many instances finished so far: orders the legs of a call by when they finished.
    n_finished: u64,
    /// Whether each instance was planned after the run was cancelled, by [`InstanceId`].
    after_cancel: Vec<bool>,
    cancel_requested: bool,
    completed: bool,
    outbox: Vec<Action>,
}

impl Driver {
    /// A driver for a run of `jobs` (at most `max_parallel` instances at once) that has done
    /// nothing yet.
    pub fn new(jobs: Vec<JobSpec>, max_parallel: usize) -> Driver {
        Driver::restore(jobs, max_parallel, &RunState::default())
    }

    /// A driver rebuilt from what a store holds: stored expansions and instance results are
    /// replayed, and [`Driver::next_actions`] returns only what `state` lacks (expansions to
    /// decide, instances to enqueue, fail-fast cancels, the completion).
    pub fn restore(jobs: Vec<JobSpec>, max_parallel: usize, state: &RunState) -> Driver {
        let n_jobs = jobs.len();
        let mut driver = Driver {
            scheduler: Scheduler::new(jobs, max_parallel),
            results: vec![None; n_jobs],
            positions: Vec::new(),
            inputs: Vec::new(),
            legs: Vec::new(),
            n_finished: 0,
            after_cancel: Vec::new(),
            cancel_requested: state.cancel_requested,
            completed: false,
            outbox: Vec::new(),
        };
        driver.pump(Some(state));
        driver
    }

    /// Applies `event`; the actions it leads to come from [`Driver::next_actions`].
    ///
    /// # Errors
    /// The event does not fit the run as the driver knows it (an expansion nobody asked for,
    /// an instance that is not running); nothing changed.
    pub fn apply(&mut self, event: Event) -> Result<(), DriverError> {
        match event {
            Event::Expanded { job_idx, record } => {
                if !self.scheduler.is_expanding(job_idx, record.leg) {
                    return Err(DriverError::NotExpanding(job_idx));
                }
                self.expanded(job_idx, record.leg, &record);
            }
            Event::Finished { instance, conclusion, outputs } => {
                if !self.scheduler.is_running(instance) {
                    return Err(DriverError::NotRunning(instance.0));
                }
                self.finished(instance, conclusion, outputs);
            }
            Event::CancelRequested => {
                self.cancel_requested = true;
                self.scheduler.cancel_run();
            }
        }
        self.pump(None);
        Ok(())
    }

    /// The running instance `instance_idx` of job `job_id`, as a host that keys instances
    /// that way finds it for [`Event::Finished`].
    ///
    /// # Errors
    /// No such instance is running.
    pub fn running_instance(&self, job_id: &str, instance_idx: i64) -> Result<InstanceId, DriverError> {
        let unknown = || DriverError::UnknownInstance { job_id: job_id.to_owned(), instance_idx };
        let job_idx = self.scheduler.jobs().iter().position(|job| job.id == job_id).ok_or_else(unknown)?;
        let at = |instance: &InstanceId| self.positions[instance.0] == instance_idx;
        // Instances are created in the order of their places, except for the legs of a job
        // split into legs, which are decided in the order their needs finish.
        let instance = usize::try_from(instance_idx)
            .ok()
            .and_then(|position| self.scheduler.instances_of(job_idx).nth(position))
            .filter(at)
            .or_else(|| self.scheduler.instances_of(job_idx).find(at))
            .ok_or_else(unknown)?;
        if self.scheduler.is_running(instance) { Ok(instance) } else { Err(unknown()) }
    }

    /// Actions to execute now, in order. Each is returned once.
    pub fn next_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.outbox)
    }

    /// The scheduler underneath, for what a host reports (instances, job conclusions).
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// The place of `instance` among its job's instances, as [`StartInstance::instance_idx`]
    /// gave it.
    pub fn instance_idx(&self, instance: InstanceId) -> i64 {
        self.positions[instance.0]
    }

    /// Whether the run was cancelled.
    pub fn is_cancel_requested(&self) -> bool {
        self.cancel_requested
    }

    /// Whether every job has concluded.
    pub fn is_done(&self) -> bool {
        self.scheduler.is_done()
    }

    /// The run's conclusion once every job has concluded, by [`run_conclusion`].
    pub fn conclusion(&self) -> Option<Conclusion> {
        if !self.scheduler.is_done() {
            return None;
        }
        let jobs = (0..self.scheduler.jobs().len()).filter_map(|job_idx| self.scheduler.job_conclusion(job_idx));
        Some(run_conclusion(self.cancel_requested, jobs))
    }

    /// Runs the scheduler's commands until it has none left: a stored expansion or result in
    /// `state` is applied at once, everything else becomes an action.
    fn pump(&mut self, state: Option<&RunState>) {
        loop {
            let commands = self.scheduler.next_commands();
            if commands.is_empty() {
                break;
            }
            for command in commands {
                match command {
                    Command::Expand(request) => {
                        let job_id = self.scheduler.jobs()[request.job_idx].id.clone();
                        let key = expansion_key(&job_id, request.leg);
                        if let Some(record) = state.and_then(|state| state.expansions.get(&key)) {
                            self.expanded(request.job_idx, request.leg, record);
                            continue;
                        }
                        let status = if self.cancel_requested { JobStatus::Cancelled } else { request.status };
                        let request = ExpandRequest { status, ..request };
                        self.outbox.push(Action::Expand(ExpandJob {
                            job_idx: request.job_idx,
                            needs: self.needs_of(request.job_idx),
                            after_cancel: self.cancel_requested,
                            job_id,
                            key,
                            request,
                        }));
                    }
                    Command::Start(instance) => {
                        let (_, _, job_idx) = self.scheduler.instance(instance);
                        let job_id = self.scheduler.jobs()[job_idx].id.clone();
                        let instance_idx = self.positions[instance.0];
                        match state.and_then(|state| state.instances.get(&(job_id.clone(), instance_idx))) {
                            Some(InstanceRecord::Finished { conclusion, outputs }) => {
                                self.finished(instance, *conclusion, outputs.clone());
                            }
                            Some(InstanceRecord::Unfinished) => {}
                            // Planned before the run was cancelled and never started: dropped.
                            None if self.cancel_requested && !self.after_cancel[instance.0] => {
                                self.finished(instance, Conclusion::Cancelled, Map::new());
                            }
                            None => {
                                let action = self.start_action(instance, job_idx, job_id, instance_idx);
                                self.outbox.push(action);
                            }
                        }
                    }
                    // An instance a replay already saw finish needs no cancel.
                    Command::Cancel(instance) if !self.scheduler.is_running(instance) => {}
                    Command::Cancel(instance) => {
                        let (_, _, job_idx) = self.scheduler.instance(instance);
                        let job_id = self.scheduler.jobs()[job_idx].id.clone();
                        let instance_idx = self.positions[instance.0];
                        self.outbox.push(Action::Cancel(InstanceRef { instance, job_id, instance_idx }));
                    }
                }
            }
        }
        if !self.completed
            && let Some(conclusion) = self.conclusion()
        {
            self.completed = true;
            self.outbox.push(Action::Complete(conclusion));
        }
    }

    /// Applies `record`, the expansion of job `job_idx` (its leg `leg`).
    fn expanded(&mut self, job_idx: usize, leg: Option<usize>, record: &ExpansionRecord) {
        let n_before = self.scheduler.instances_of(job_idx).len();
        self.scheduler.expanded(job_idx, leg, record.plan.to_expansion());
        let n_instances = self.scheduler.instances().count();
        self.positions.resize(n_instances, 0);
        self.inputs.resize(n_instances, None);
        self.legs.resize(n_instances, None);
        self.after_cancel.resize(n_instances, false);
        let planned: &[PlannedInstance] = match &record.plan {
            JobPlan::Instances { instances } => instances,
            _ => &[],
        };
        let instances: Vec<InstanceId> = self.scheduler.instances_of(job_idx).skip(n_before).collect();
        let n_legs = self.scheduler.n_legs_of(job_idx);
        for (position, instance) in instances.into_iter().enumerate() {
            let place = match leg {
                Some(leg) => leg + n_legs * position,
                None => position,
            };
            self.positions[instance.0] = i64::try_from(place).unwrap_or(i64::MAX);
            self.after_cancel[instance.0] = record.after_cancel;
            self.inputs[instance.0] = planned.get(position).and_then(|planned| planned.inputs.clone());
            self.legs[instance.0] = planned.get(position).and_then(|planned| planned.leg).or(leg);
        }
        // A leg that concluded without running shows its conclusion in that leg's `needs`.
        if let (Some(leg), JobPlan::Conclude { conclusion, outputs, .. }) = (leg, &record.plan) {
            self.n_finished += 1;
            let result = self.results[job_idx].get_or_insert_with(|| job_result(*conclusion, Map::new()));
            crate::reusable::record_leg(result, leg, *conclusion, outputs.clone(), self.n_finished);
        }
        // What a concluded job or a call carries for the jobs that need it.
        let outputs = match &record.plan {
            _ if leg.is_some() => None,
            JobPlan::Conclude { outputs, .. } if !outputs.is_empty() => Some(outputs.clone()),
            JobPlan::Call { legs } => {
                let mut outputs = Map::new();
                outputs.insert("legs".to_owned(), serde_json::to_value(legs).unwrap_or_default());
                Some(outputs)
            }
            _ => None,
        };
        if let (Some(outputs), Some(conclusion)) = (outputs, self.scheduler.job_conclusion(job_idx)) {
            self.results[job_idx] = Some(job_result(conclusion, outputs));
        }
        self.record_job_result(job_idx);
    }

    fn finished(&mut self, instance: InstanceId, conclusion: Conclusion, outputs: Map<String, Value>) {
        let (_, _, job_idx) = self.scheduler.instance(instance);
        // With a matrix, the outputs of instances that finish later win, as on GitHub.
        let entry = self.results[job_idx]
            .get_or_insert_with(|| job_result(conclusion, Map::new()))
            .entry("outputs")
            .or_insert_with(|| json!({}));
        if let Some(own) = entry.as_object_mut() {
            own.extend(outputs.clone());
        }
        self.n_finished += 1;
        if let Some(leg) = self.legs.get(instance.0).copied().flatten()
            && let Some(result) = self.results[job_idx].as_mut()
        {
            crate::reusable::record_leg(result, leg, conclusion, outputs, self.n_finished);
        }
        self.scheduler.finished(instance, conclusion);
        self.record_job_result(job_idx);
    }

    /// Once job `job_idx` has concluded, its `needs.<job>.result` is its conclusion.
    fn record_job_result(&mut self, job_idx: usize) {
        let Some(conclusion) = self.scheduler.job_conclusion(job_idx) else { return };
        let result = self.results[job_idx].get_or_insert_with(|| job_result(conclusion, Map::new()));
        result.insert("result".to_owned(), Value::String(conclusion.as_str().to_owned()));
    }

    /// The `needs` context of job `job_idx`: only the jobs it needs; one that never ran is
    /// `skipped`.
    fn needs_of(&self, job_idx: usize) -> Map<String, Value> {
        self.scheduler.jobs()[job_idx]
            .needs
            .iter()
            .map(|need| {
                let found = self.scheduler.jobs().iter().position(|job| &job.id == need);
                let value = found
                    .and_then(|need_idx| self.results[need_idx].clone())
                    .unwrap_or_else(|| job_result(Conclusion::Skipped, Map::new()));
                (need.clone(), Value::Object(value))
            })
            .collect()
    }

    fn start_action(&self, instance: InstanceId, job_idx: usize, job_id: String, instance_idx: i64) -> Action {
        let (name, matrix, _) = self.scheduler.instance(instance);
        let spec = &self.scheduler.jobs()[job_idx];
        let leg = self.legs.get(instance.0).copied().flatten();
        // A leg of a job split into legs is a matrix of its own, as on GitHub.
        let (job_index, n_siblings) = if self.scheduler.is_split(job_idx) {
            let places: Vec<i64> = self
                .scheduler
                .instances_of(job_idx)
                .filter(|sibling| self.legs[sibling.0] == leg)
                .map(|sibling| self.positions[sibling.0])
                .collect();
            (places.iter().filter(|place| **place < instance_idx).count(), places.len())
        } else {
            (usize::try_from(instance_idx).unwrap_or(0), self.scheduler.instances_of(job_idx).len())
        };
        let strategy = json!({
            "fail-fast": spec.fail_fast,
            "job-index": job_index,
            "job-total": n_siblings,
            "max-parallel": spec.max_parallel.unwrap_or(n_siblings),
        });
        Action::Start(StartInstance {
            instance,
            job_idx,
            instance_idx,
            name: name.to_owned(),
            matrix: matrix.clone(),
            needs: crate::reusable::leg_needs(&self.needs_of(job_idx), leg),
            strategy,
            inputs: self.inputs.get(instance.0).cloned().flatten().map(Box::new),
            job_id,
        })
    }
}

fn job_result(conclusion: Conclusion, outputs: Map<String, Value>) -> Map<String, Value> {
    let mut result = Map::new();
    result.insert("result".to_owned(), Value::String(conclusion.as_str().to_owned()));
    result.insert("outputs".to_owned(), Value::Object(outputs));
    result
}

#[cfg(test)]
mod tests;
