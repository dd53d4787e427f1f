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
//!
//! A job can be split into legs by another ([`JobSpec::legs_of`]): when that job concludes
//! with [`Expansion::Legs`] (a matrix caller of a reusable workflow), the job is offered for
//! expansion once per leg, and leg `L` waits only for leg `L` of the jobs it needs that are
//! split by the same job (and for the whole of the others), as GitHub runs each combination
//! of a matrix caller as its own copy of the called workflow. The job concludes once every
//! leg has.

use std::collections::{BTreeSet, VecDeque};

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
    /// The job (one of its `needs`) whose [`Expansion::Legs`] splits this one into legs: a
    /// job of a called workflow names its call's entry. When that job concludes otherwise,
    /// this one is decided whole.
    pub legs_of: Option<String>,
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
    /// The leg to decide, for a job split into legs ([`JobSpec::legs_of`]); `None`: the job.
    pub leg: Option<usize>,
    /// What `success()`/`failure()`/`cancelled()` see in the job's `if:`: failure when a job
    /// it depends on (directly or not, in its leg) failed, cancelled when the run was cancelled.
    pub status: JobStatus,
    /// Whether every direct need concluded successfully (in the leg); a job without a status
    /// function in its `if:` runs only then.
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
    /// The job concludes successfully at once and splits the jobs split by it
    /// ([`JobSpec::legs_of`]) into this many legs (at least one): a call of a reusable
    /// workflow, once per combination of its caller's matrix.
    Legs(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    Waiting,
    Expanding,
    Expanded,
    /// Split into legs, each with its own state ([`Leg`]).
    Split,
}

/// One leg of a job split into legs.
#[derive(Debug, Clone)]
struct Leg {
    state: JobState,
    n_unfinished: usize,
    /// Its instances' conclusions so far, worst first (see [`worse`]).
    worst: Option<Conclusion>,
    conclusion: Option<Conclusion>,
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
    leg: Option<usize>,
    name: String,
    matrix: Map<String, Value>,
    state: InstanceState,
    cancel_sent: bool,
}

/// What is known of one job's instances, kept up to date as they change so that an event
/// costs the same whatever the size of the run.
#[derive(Debug, Clone, Default)]
struct JobTally {
    /// The job's instances, in the order they were created.
    instances: Vec<usize>,
    n_running: usize,
    n_unfinished: usize,
    any_failure: bool,
    any_cancelled: bool,
    any_neutral: bool,
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
    tallies: Vec<JobTally>,
    /// The job that splits each job into legs ([`JobSpec::legs_of`]), by index.
    legs_of: Vec<Option<usize>>,
    /// How many legs each job's [`Expansion::Legs`] made.
    n_legs: Vec<Option<usize>>,
    /// The legs of each job split into legs; empty for the others.
    legs: Vec<Vec<Leg>>,
    instances: Vec<Instance>,
    /// Queued instances, in the order they start.
    queued: BTreeSet<usize>,
    n_running: usize,
    /// Jobs (or legs of a split job) not yet offered for expansion.
    n_waiting: usize,
    n_unconcluded: usize,
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
        let legs_of = jobs
            .iter()
            .map(|job| job.legs_of.as_ref().and_then(|source| jobs.iter().position(|other| &other.id == source)))
            .collect();
        let mut scheduler = Scheduler {
            job_states: vec![JobState::Waiting; n_jobs],
            job_conclusions: vec![None; n_jobs],
            tallies: vec![JobTally::default(); n_jobs],
            legs_of,
            n_legs: vec![None; n_jobs],
            legs: vec![Vec::new(); n_jobs],
            jobs,
            needs,
            plannable,
            instances: Vec::new(),
            queued: BTreeSet::new(),
            n_running: 0,
            n_waiting: n_jobs,
            n_unconcluded: n_jobs,
            max_parallel: max_parallel.max(1),
            cancelled: false,
            outbox: VecDeque::new(),
        };
        for job_idx in 0..n_jobs {
            if !scheduler.plannable[job_idx] {
                scheduler.job_states[job_idx] = JobState::Expanded;
                scheduler.n_waiting -= 1;
                scheduler.conclude_job(job_idx, Conclusion::Skipped);
            }
        }
        scheduler.advance();
        scheduler
    }

    /// The jobs as given to [`Scheduler::new`].
    pub fn jobs(&self) -> &[JobSpec] {
        &self.jobs
    }

    /// The jobs `job_idx` needs that exist, by index.
    pub fn needs_of(&self, job_idx: usize) -> &[usize] {
        &self.needs[job_idx]
    }

    /// Commands to execute now, in order. Each command is returned once.
    pub fn next_commands(&mut self) -> Vec<Command> {
        self.outbox.drain(..).collect()
    }

    /// Whether job `job_idx` (its leg `leg`, for a job split into legs) was offered for
    /// expansion and not answered yet.
    pub fn is_expanding(&self, job_idx: usize, leg: Option<usize>) -> bool {
        match leg {
            None => self.job_states.get(job_idx) == Some(&JobState::Expanding),
            Some(leg) => self
                .legs
                .get(job_idx)
                .and_then(|legs| legs.get(leg))
                .is_some_and(|leg| leg.state == JobState::Expanding),
        }
    }

    /// Whether job `job_idx` was split into legs.
    pub fn is_split(&self, job_idx: usize) -> bool {
        self.job_states.get(job_idx) == Some(&JobState::Split)
    }

    /// How many legs job `job_idx` was split into; 0 when it was not.
    pub fn n_legs_of(&self, job_idx: usize) -> usize {
        self.legs.get(job_idx).map_or(0, Vec::len)
    }

    /// Whether `instance` was started and has not finished.
    pub fn is_running(&self, instance: InstanceId) -> bool {
        self.instances.get(instance.0).is_some_and(|instance| instance.state == InstanceState::Running)
    }

    /// The caller's answer to [`Command::Expand`] for `job_idx` (its leg `leg`).
    ///
    /// # Panics
    /// If it was not asked for (a bug in the caller; see [`Scheduler::is_expanding`]).
    pub fn expanded(&mut self, job_idx: usize, leg: Option<usize>, expansion: Expansion) {
        assert!(self.is_expanding(job_idx, leg), "job {job_idx} (leg {leg:?}) was not offered for expansion");
        let concluded = match expansion {
            Expansion::Skip => Some(Conclusion::Skipped),
            Expansion::Conclude(conclusion) => Some(conclusion),
            // A matrix that expands to nothing: GitHub skips the job.
            Expansion::Instances(list) if list.is_empty() => Some(Conclusion::Skipped),
            Expansion::Legs(n_legs) => {
                self.n_legs[job_idx] = Some(n_legs);
                Some(Conclusion::Success)
            }
            Expansion::Instances(list) => {
                for (name, matrix) in list {
                    // After a cancel the caller only expands jobs whose `if:` asks to run
                    // anyway (`always()`, `cancelled()`), so they are queued like any other.
                    let instance_idx = self.instances.len();
                    let state = InstanceState::Queued;
                    self.instances.push(Instance { job_idx, leg, name, matrix, state, cancel_sent: false });
                    self.queued.insert(instance_idx);
                    let tally = &mut self.tallies[job_idx];
                    tally.instances.push(instance_idx);
                    tally.n_unfinished += 1;
                    if let Some(leg) = leg {
                        self.legs[job_idx][leg].n_unfinished += 1;
                    }
                }
                None
            }
        };
        match leg {
            None => {
                self.job_states[job_idx] = JobState::Expanded;
                if let Some(conclusion) = concluded {
                    self.conclude_job(job_idx, conclusion);
                }
            }
            Some(leg) => {
                self.legs[job_idx][leg].state = JobState::Expanded;
                if let Some(conclusion) = concluded {
                    self.conclude_leg(job_idx, leg, conclusion);
                }
            }
        }
        self.advance();
    }

    /// Instance `instance` concluded. The conclusion is the job's after `continue-on-error`
    /// and allow-failure are applied: only `Failure` triggers fail-fast.
    ///
    /// # Panics
    /// If `instance` is not running (a bug in the caller; see [`Scheduler::is_running`]).
    pub fn finished(&mut self, instance: InstanceId, conclusion: Conclusion) {
        assert!(self.is_running(instance), "instance {} is not running", instance.0);
        let job_idx = self.instances[instance.0].job_idx;
        self.n_running -= 1;
        self.tallies[job_idx].n_running -= 1;
        self.set_done(instance.0, conclusion);
        if conclusion == Conclusion::Failure && self.jobs[job_idx].fail_fast {
            for position in 0..self.tallies[job_idx].instances.len() {
                let sibling_idx = self.tallies[job_idx].instances[position];
                let sibling = &mut self.instances[sibling_idx];
                match sibling.state {
                    InstanceState::Queued => {
                        self.queued.remove(&sibling_idx);
                        self.set_done(sibling_idx, Conclusion::Cancelled);
                    }
                    InstanceState::Running if !sibling.cancel_sent => {
                        sibling.cancel_sent = true;
                        self.outbox.push_back(Command::Cancel(InstanceId(sibling_idx)));
                    }
                    _ => {}
                }
            }
        }
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
                InstanceState::Queued => {
                    self.queued.remove(&instance_idx);
                    self.set_done(instance_idx, Conclusion::Cancelled);
                }
                InstanceState::Running if !instance.cancel_sent => {
                    instance.cancel_sent = true;
                    self.outbox.push_back(Command::Cancel(InstanceId(instance_idx)));
                }
                _ => {}
            }
        }
        self.advance();
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }

    /// Whether every job has concluded; no command will follow.
    pub fn is_done(&self) -> bool {
        self.n_unconcluded == 0
    }

    /// The display name and matrix of an instance.
    pub fn instance(&self, instance: InstanceId) -> (&str, &Map<String, Value>, usize) {
        let instance = &self.instances[instance.0];
        (&instance.name, &instance.matrix, instance.job_idx)
    }

    /// The instances of job `job_idx`, in the order they were created.
    pub fn instances_of(&self, job_idx: usize) -> impl ExactSizeIterator<Item = InstanceId> + '_ {
        self.tallies[job_idx].instances.iter().map(|&idx| InstanceId(idx))
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

    /// The run's conclusion once every job is done, by [`run_conclusion`].
    pub fn conclusion(&self) -> Option<Conclusion> {
        if !self.is_done() {
            return None;
        }
        Some(run_conclusion(self.cancelled, self.job_conclusions.iter().flatten().copied()))
    }

    fn set_done(&mut self, instance_idx: usize, conclusion: Conclusion) {
        let job_idx = self.instances[instance_idx].job_idx;
        self.instances[instance_idx].state = InstanceState::Done(conclusion);
        if let Some(leg_idx) = self.instances[instance_idx].leg {
            let leg = &mut self.legs[job_idx][leg_idx];
            leg.n_unfinished -= 1;
            leg.worst = Some(leg.worst.map_or(conclusion, |worst| worse(worst, conclusion)));
            if leg.n_unfinished == 0 && leg.state == JobState::Expanded {
                let combined = leg.worst.unwrap_or(Conclusion::Skipped);
                self.conclude_leg(job_idx, leg_idx, combined);
            }
        }
        let tally = &mut self.tallies[job_idx];
        tally.n_unfinished -= 1;
        match conclusion {
            Conclusion::Failure => tally.any_failure = true,
            Conclusion::Cancelled => tally.any_cancelled = true,
            Conclusion::Neutral => tally.any_neutral = true,
            Conclusion::Success | Conclusion::Skipped => {}
        }
        if tally.n_unfinished == 0 && self.job_states[job_idx] == JobState::Expanded {
            let combined = if tally.any_failure {
                Conclusion::Failure
            } else if tally.any_cancelled {
                Conclusion::Cancelled
            } else if tally.any_neutral {
                Conclusion::Neutral
            } else {
                Conclusion::Success
            };
            self.conclude_job(job_idx, combined);
        }
    }

    fn conclude_job(&mut self, job_idx: usize, conclusion: Conclusion) {
        if self.job_conclusions[job_idx].is_none() {
            self.job_conclusions[job_idx] = Some(conclusion);
            self.n_unconcluded -= 1;
        }
        // The jobs it splits are split now, before any of them is offered.
        if let Some(n_legs) = self.n_legs[job_idx].filter(|n_legs| *n_legs > 0) {
            for split_idx in 0..self.jobs.len() {
                if self.legs_of[split_idx] == Some(job_idx) && self.job_states[split_idx] == JobState::Waiting {
                    self.job_states[split_idx] = JobState::Split;
                    let leg = Leg { state: JobState::Waiting, n_unfinished: 0, worst: None, conclusion: None };
                    self.legs[split_idx] = vec![leg; n_legs];
                    self.n_waiting += n_legs;
                    self.n_waiting -= 1;
                }
            }
        }
    }

    /// Leg `leg_idx` of job `job_idx` concluded; the job does once all its legs have: skipped
    /// when every leg was, else as its worst leg.
    fn conclude_leg(&mut self, job_idx: usize, leg_idx: usize, conclusion: Conclusion) {
        self.legs[job_idx][leg_idx].conclusion = Some(conclusion);
        let legs = &self.legs[job_idx];
        if legs.iter().all(|leg| leg.conclusion.is_some()) {
            let combined = legs
                .iter()
                .filter_map(|leg| leg.conclusion)
                .filter(|conclusion| *conclusion != Conclusion::Skipped)
                .reduce(worse)
                .unwrap_or(Conclusion::Skipped);
            self.conclude_job(job_idx, combined);
        }
    }

    /// The conclusion of need `need` as leg `leg` of a job split by `source` sees it: its own
    /// leg's when it is split by the same job, else the whole job's.
    fn need_conclusion(&self, need: usize, source: Option<usize>, leg: Option<usize>) -> Option<Conclusion> {
        match leg {
            Some(leg) if source.is_some() && self.legs_of[need] == source && self.is_split(need) => {
                self.legs[need][leg].conclusion
            }
            _ => self.job_conclusions[need],
        }
    }

    /// Offers ready jobs (and legs) for expansion and starts queued instances within the bounds.
    fn advance(&mut self) {
        if self.n_waiting > 0 {
            for job_idx in 0..self.jobs.len() {
                match self.job_states[job_idx] {
                    JobState::Waiting => self.offer(job_idx, None),
                    JobState::Split => {
                        for leg in 0..self.legs[job_idx].len() {
                            if self.legs[job_idx][leg].state == JobState::Waiting {
                                self.offer(job_idx, Some(leg));
                            }
                        }
                    }
                    JobState::Expanding | JobState::Expanded => {}
                }
            }
        }
        let mut started = Vec::new();
        for &instance_idx in &self.queued {
            if self.n_running >= self.max_parallel {
                break;
            }
            let job_idx = self.instances[instance_idx].job_idx;
            if let Some(limit) = self.jobs[job_idx].max_parallel
                && self.tallies[job_idx].n_running >= limit.max(1)
            {
                continue;
            }
            self.n_running += 1;
            self.tallies[job_idx].n_running += 1;
            started.push(instance_idx);
        }
        for instance_idx in started {
            self.queued.remove(&instance_idx);
            self.instances[instance_idx].state = InstanceState::Running;
            self.outbox.push_back(Command::Start(InstanceId(instance_idx)));
        }
    }

    /// Offers job `job_idx` (its leg `leg`) for expansion when every job it needs has
    /// concluded (in that leg).
    fn offer(&mut self, job_idx: usize, leg: Option<usize>) {
        let source = self.legs_of[job_idx];
        let needs = &self.needs[job_idx];
        if !needs.iter().all(|&need| self.need_conclusion(need, source, leg).is_some()) {
            return;
        }
        let needs_succeeded =
            needs.iter().all(|&need| self.need_conclusion(need, source, leg).is_some_and(Conclusion::is_successful));
        match leg {
            None => self.job_states[job_idx] = JobState::Expanding,
            Some(leg) => self.legs[job_idx][leg].state = JobState::Expanding,
        }
        self.n_waiting -= 1;
        let status = if self.cancelled {
            JobStatus::Cancelled
        } else if self.ancestor_failed(job_idx, leg) {
            JobStatus::Failure
        } else {
            JobStatus::Success
        };
        self.outbox.push_back(Command::Expand(ExpandRequest { job_idx, leg, status, needs_succeeded }));
    }

    /// Whether a job that job `job_idx` (its leg `leg`) depends on, directly or not, failed:
    /// in the same leg for the jobs split by the same job.
    fn ancestor_failed(&self, job_idx: usize, leg: Option<usize>) -> bool {
        let mut stack = vec![(job_idx, leg)];
        let mut seen = BTreeSet::new();
        while let Some((job_idx, leg)) = stack.pop() {
            let source = self.legs_of[job_idx];
            for &need in &self.needs[job_idx] {
                let need_leg = leg.filter(|_| source.is_some() && self.legs_of[need] == source && self.is_split(need));
                if !seen.insert((need, need_leg)) {
                    continue;
                }
                if self.need_conclusion(need, source, leg) == Some(Conclusion::Failure) {
                    return true;
                }
                stack.push((need, need_leg));
            }
        }
        false
    }
}

/// The worse of two conclusions: failure, cancelled, neutral, success, skipped.
fn worse(one: Conclusion, other: Conclusion) -> Conclusion {
    let rank = |conclusion: Conclusion| match conclusion {
        Conclusion::Failure => 4,
        Conclusion::Cancelled => 3,
        Conclusion::Neutral => 2,
        Conclusion::Success => 1,
        Conclusion::Skipped => 0,
    };
    if rank(other) > rank(one) { other } else { one }
}

/// The one rule for a run's conclusion, used by `ferry run`, the server and the report:
/// cancelled when the run was cancelled; else failure when a job failed; else cancelled when
/// a job was cancelled (a runner stopped it, say); else success. Skipped and neutral jobs
/// (allow-failure) do not fail a run.
pub fn run_conclusion(cancelled: bool, jobs: impl IntoIterator<Item = Conclusion>) -> Conclusion {
    if cancelled {
        return Conclusion::Cancelled;
    }
    let mut any_cancelled = false;
    for conclusion in jobs {
        match conclusion {
            Conclusion::Failure => return Conclusion::Failure,
            Conclusion::Cancelled => any_cancelled = true,
            Conclusion::Success | Conclusion::Skipped | Conclusion::Neutral => {}
        }
    }
    if any_cancelled { Conclusion::Cancelled } else { Conclusion::Success }
}

#[cfg(test)]
mod tests;
