//! The job scheduler of one run, as a state machine.
//!
//! The caller feeds it events ([`Scheduler::expanded`], [`Scheduler::finished`],
//! [`Scheduler::cancel_run`]) and executes the [`Command`]s [`Scheduler::next_commands`]
//! returns. Every command is emitted once; executing them is the caller's business.
//!
//! Rules, as on GitHub Actions:
//! - a job becomes ready when every job it `needs` has finished (any conclusion);
//! - the caller then decides (its `if:`, its matrix) whether it is skipped or which instances
//!   it has; a job with an unsatisfiable need (unknown or part of a cycle) is never expanded
//!   and ends skipped;
//! - at most `max_parallel` instances run at once in the whole run, and at most the job's
//!   `strategy.max-parallel` instances of one matrix job;
//! - with `fail-fast` (the default) a failed matrix instance cancels its siblings that are
//!   still queued or running;
//! - cancelling the run cancels running instances and drops queued ones; jobs that become
//!   ready afterwards are still offered for expansion with status cancelled, so `if:
//!   always()` and `if: cancelled()` jobs run.

use std::collections::VecDeque;

use ferry_model::{Conclusion, JobStatus};
use serde_json::{Map, Value};

/// A job as written in the workflow, before its matrix is expanded.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub id: String,
    pub needs: Vec<String>,
    pub fail_fast: bool,
    /// `strategy.max-parallel`: at most this many instances of this job at once.
    pub max_parallel: Option<usize>,
}

/// One concrete job: a job, or one combination of a matrix job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub usize);

/// What the caller must do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Every need of job `job_idx` has finished: evaluate its `if:` and matrix and answer
    /// with [`Scheduler::expanded`].
    Expand(ExpandRequest),
    /// Run this instance; answer with [`Scheduler::finished`] when it concludes.
    Start(InstanceId),
    /// Cancel this running instance; it still answers with [`Scheduler::finished`].
    Cancel(InstanceId),
}

/// What the caller needs to decide whether a ready job runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandRequest {
    pub job_idx: usize,
    /// What `success()`/`failure()`/`cancelled()` see in the job's `if:`: failure when a job
    /// it depends on (directly or not) failed, cancelled when the run was cancelled.
    pub status: JobStatus,
    /// Whether every direct need concluded successfully; a job without a status function in
    /// its `if:` runs only then.
    pub needs_succeeded: bool,
}

/// The caller's answer to [`Command::Expand`].
#[derive(Debug, Clone, PartialEq)]
pub enum Expansion {
    /// The job does not run (its `if:` was false, or it could not be planned).
    Skip,
    /// The job concludes at once with this conclusion, without running (a planning error, for
    /// example a matrix that is not a mapping, concludes failure).
    Conclude(Conclusion),
    /// The job runs once per entry: its display name and matrix combination.
    Instances(Vec<(String, Map<String, Value>)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    Waiting,
    Expanding,
    Expanded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InstanceState {
    Queued,
    Running,
    Done(Conclusion),
}

#[derive(Debug, Clone)]
struct Instance {
    job_idx: usize,
    name: String,
    matrix: Map<String, Value>,
    state: InstanceState,
    cancel_sent: bool,
}

/// The scheduler of one run. See the module documentation for its rules.
#[derive(Debug, Clone)]
pub struct Scheduler {
    jobs: Vec<JobSpec>,
    needs: Vec<Vec<usize>>,
    /// Whether the job can ever become ready (all needs known and not in a cycle).
    plannable: Vec<bool>,
    job_states: Vec<JobState>,
    /// Conclusion of a whole job once all its instances are done (or it was skipped).
    job_conclusions: Vec<Option<Conclusion>>,
    instances: Vec<Instance>,
    max_parallel: usize,
    cancelled: bool,
    outbox: VecDeque<Command>,
}

impl Scheduler {
    /// A scheduler for `jobs` that runs at most `max_parallel` instances at once (at least 1).
    pub fn new(jobs: Vec<JobSpec>, max_parallel: usize) -> Scheduler {
        let needs: Vec<Vec<usize>> = jobs
            .iter()
            .map(|job| job.needs.iter().filter_map(|need| jobs.iter().position(|other| &other.id == need)).collect())
            .collect();
        let n_jobs = jobs.len();
        let mut plannable: Vec<bool> =
            jobs.iter().zip(&needs).map(|(job, resolved)| resolved.len() == job.needs.len()).collect();
        // A job is plannable only if all of its needs are; iterate to a fixed point, which
        // also rules out cycles (a job in a cycle never gets all its needs plannable first).
        let mut settled = vec![false; n_jobs];
        loop {
            let mut progress = false;
            for job_idx in 0..n_jobs {
                if settled[job_idx] || !plannable[job_idx] {
                    continue;
                }
                if needs[job_idx].iter().all(|&need| settled[need] && plannable[need]) {
                    settled[job_idx] = true;
                    progress = true;
                } else if needs[job_idx].iter().any(|&need| settled[need] && !plannable[need]) {
                    plannable[job_idx] = false;
                    progress = true;
                }
            }
            if !progress {
                break;
            }
        }
        for job_idx in 0..n_jobs {
            plannable[job_idx] &= settled[job_idx];
        }
        let mut scheduler = Scheduler {
            job_states: vec![JobState::Waiting; n_jobs],
            job_conclusions: vec![None; n_jobs],
            jobs,
            needs,
            plannable,
            instances: Vec::new(),
            max_parallel: max_parallel.max(1),
            cancelled: false,
            outbox: VecDeque::new(),
        };
        for job_idx in 0..n_jobs {
            if !scheduler.plannable[job_idx] {
                scheduler.job_states[job_idx] = JobState::Expanded;
                scheduler.job_conclusions[job_idx] = Some(Conclusion::Skipped);
            }
        }
        scheduler.advance();
        scheduler
    }

    /// The jobs as given to [`Scheduler::new`].
    pub fn jobs(&self) -> &[JobSpec] {
        &self.jobs
    }

    /// Commands to execute now, in order. Each command is returned once.
    pub fn next_commands(&mut self) -> Vec<Command> {
        self.outbox.drain(..).collect()
    }

    /// The caller's answer to [`Command::Expand`] for `job_idx`.
    ///
    /// # Panics
    /// If `job_idx` was not asked for (a bug in the caller).
    pub fn expanded(&mut self, job_idx: usize, expansion: Expansion) {
        assert_eq!(self.job_states[job_idx], JobState::Expanding, "job {job_idx} was not offered for expansion");
        self.job_states[job_idx] = JobState::Expanded;
        match expansion {
            Expansion::Skip => self.job_conclusions[job_idx] = Some(Conclusion::Skipped),
            Expansion::Conclude(conclusion) => self.job_conclusions[job_idx] = Some(conclusion),
            Expansion::Instances(list) if list.is_empty() => {
                // A matrix that expands to nothing: GitHub skips the job.
                self.job_conclusions[job_idx] = Some(Conclusion::Skipped);
            }
            Expansion::Instances(list) => {
                for (name, matrix) in list {
                    // After a cancel the caller only expands jobs whose `if:` asks to run
                    // anyway (`always()`, `cancelled()`), so they are queued like any other.
                    let state = InstanceState::Queued;
                    self.instances.push(Instance { job_idx, name, matrix, state, cancel_sent: false });
                }
                self.update_job_conclusion(job_idx);
            }
        }
        self.advance();
    }

    /// Instance `instance` concluded. The conclusion is the job's after `continue-on-error`
    /// and allow-failure are applied: only `Failure` triggers fail-fast.
    pub fn finished(&mut self, instance: InstanceId, conclusion: Conclusion) {
        let job_idx = self.instances[instance.0].job_idx;
        self.instances[instance.0].state = InstanceState::Done(conclusion);
        if conclusion == Conclusion::Failure && self.jobs[job_idx].fail_fast {
            for sibling_idx in 0..self.instances.len() {
                let sibling = &mut self.instances[sibling_idx];
                if sibling.job_idx != job_idx {
                    continue;
                }
                match sibling.state {
                    InstanceState::Queued => sibling.state = InstanceState::Done(Conclusion::Cancelled),
                    InstanceState::Running if !sibling.cancel_sent => {
                        sibling.cancel_sent = true;
                        self.outbox.push_back(Command::Cancel(InstanceId(sibling_idx)));
                    }
                    _ => {}
                }
            }
        }
        self.update_job_conclusion(job_idx);
        self.advance();
    }

    /// Cancels the run: running instances get [`Command::Cancel`], queued ones conclude
    /// cancelled, and jobs that become ready later see status cancelled.
    pub fn cancel_run(&mut self) {
        if self.cancelled {
            return;
        }
        self.cancelled = true;
        for instance_idx in 0..self.instances.len() {
            let instance = &mut self.instances[instance_idx];
            match instance.state {
                InstanceState::Queued => instance.state = InstanceState::Done(Conclusion::Cancelled),
                InstanceState::Running if !instance.cancel_sent => {
                    instance.cancel_sent = true;
                    self.outbox.push_back(Command::Cancel(InstanceId(instance_idx)));
                }
                _ => {}
            }
        }
        for job_idx in 0..self.jobs.len() {
            self.update_job_conclusion(job_idx);
        }
        self.advance();
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// Whether every job has concluded; no command will follow.
    pub fn is_done(&self) -> bool {
        self.job_conclusions.iter().all(Option::is_some)
    }

    /// The display name and matrix of an instance.
    pub fn instance(&self, instance: InstanceId) -> (&str, &Map<String, Value>, usize) {
        let instance = &self.instances[instance.0];
        (&instance.name, &instance.matrix, instance.job_idx)
    }

    /// Every instance so far with its conclusion, in the order they were created.
    pub fn instances(&self) -> impl Iterator<Item = (InstanceId, usize, &str, Option<Conclusion>)> {
        self.instances.iter().enumerate().map(|(idx, instance)| {
            let conclusion = match instance.state {
                InstanceState::Done(conclusion) => Some(conclusion),
                _ => None,
            };
            (InstanceId(idx), instance.job_idx, instance.name.as_str(), conclusion)
        })
    }

    /// The conclusion of job `job_idx` once known: failure if any instance failed, else
    /// cancelled if any was cancelled, else neutral if any was neutral, else success.
    pub fn job_conclusion(&self, job_idx: usize) -> Option<Conclusion> {
        self.job_conclusions[job_idx]
    }

    /// The run's conclusion once every job is done: cancelled if the run was cancelled,
    /// failure if any job failed, success otherwise.
    pub fn conclusion(&self) -> Option<Conclusion> {
        if !self.is_done() {
            return None;
        }
        if self.cancelled {
            return Some(Conclusion::Cancelled);
        }
        let failed = self.job_conclusions.iter().flatten().any(|conclusion| *conclusion == Conclusion::Failure);
        Some(if failed { Conclusion::Failure } else { Conclusion::Success })
    }

    fn update_job_conclusion(&mut self, job_idx: usize) {
        if self.job_states[job_idx] != JobState::Expanded || self.job_conclusions[job_idx].is_some() {
            return;
        }
        let mut conclusions = Vec::new();
        for instance in self.instances.iter().filter(|instance| instance.job_idx == job_idx) {
            match instance.state {
                InstanceState::Done(conclusion) => conclusions.push(conclusion),
                _ => return,
            }
        }
        let combined = [Conclusion::Failure, Conclusion::Cancelled, Conclusion::Neutral]
            .into_iter()
            .find(|wanted| conclusions.contains(wanted))
            .unwrap_or(Conclusion::Success);
        self.job_conclusions[job_idx] = Some(combined);
    }

    /// Offers ready jobs for expansion and starts queued instances within the bounds.
    fn advance(&mut self) {
        for job_idx in 0..self.jobs.len() {
            if self.job_states[job_idx] != JobState::Waiting {
                continue;
            }
            if !self.needs[job_idx].iter().all(|&need| self.job_conclusions[need].is_some()) {
                continue;
            }
            self.job_states[job_idx] = JobState::Expanding;
            let needs_succeeded = self.needs[job_idx]
                .iter()
                .all(|&need| self.job_conclusions[need].is_some_and(Conclusion::is_successful));
            let status = if self.cancelled {
                JobStatus::Cancelled
            } else if self.ancestor_failed(job_idx) {
                JobStatus::Failure
            } else {
                JobStatus::Success
            };
            self.outbox.push_back(Command::Expand(ExpandRequest { job_idx, status, needs_succeeded }));
        }
        let mut n_running = self.instances.iter().filter(|instance| instance.state == InstanceState::Running).count();
        for instance_idx in 0..self.instances.len() {
            if n_running >= self.max_parallel {
                break;
            }
            let instance = &self.instances[instance_idx];
            if instance.state != InstanceState::Queued {
                continue;
            }
            let job_idx = instance.job_idx;
            if let Some(limit) = self.jobs[job_idx].max_parallel {
                let n_job_running = self
                    .instances
                    .iter()
                    .filter(|other| other.job_idx == job_idx && other.state == InstanceState::Running)
                    .count();
                if n_job_running >= limit.max(1) {
                    continue;
                }
            }
            self.instances[instance_idx].state = InstanceState::Running;
            n_running += 1;
            self.outbox.push_back(Command::Start(InstanceId(instance_idx)));
        }
    }

    fn ancestor_failed(&self, job_idx: usize) -> bool {
        let mut stack = self.needs[job_idx].clone();
        let mut seen = vec![false; self.jobs.len()];
        while let Some(need) = stack.pop() {
            if std::mem::replace(&mut seen[need], true) {
                continue;
            }
            if self.job_conclusions[need] == Some(Conclusion::Failure) {
                return true;
            }
            stack.extend(&self.needs[need]);
        }
        false
    }
}

#[cfg(test)]
mod tests;
