//! Running pipelines on the server: a trigger (a webhook, a dispatch, a poll, a schedule)
//! becomes runs of the workflows it matches at its commit, and each run's jobs are planned
//! into the durable queue as the run's scheduler says they are ready.
//!
//! - `mirror.rs`: the project's repository, mirrored in the data directory; the workflow
//!   files at a commit.
//! - `plan.rs`: a trigger → one run per matching workflow (with the workflow's text, so the
//!   run is planned from what was committed, even if the branch moves on).
//! - `calls.rs`: reusable workflows: the workflows a run calls, read at its commit and kept
//!   with it, its jobs flattened (`ferry_engine::reusable`), what a runner gets for a called job.
//! - `coordinator.rs`: [`advance`] restores a run's driver (`ferry_engine::Driver`) from what
//!   the store holds (expansions, job rows) and acts on what is new: enqueues ready
//!   instances, cancels siblings, completes the run. Being a replay, it is safe to call at any
//!   time and after a restart; [`advance_finished`] applies one completed job to the driver
//!   it kept in memory since the last call, which is only a cache of the store.
//! - `supervisor.rs`: the server's background work: resuming runs after a restart, failing
//!   jobs whose runner stopped heartbeating ("runner lost"), polling repositories and firing
//!   `on.schedule`.
//! - `status.rs`: commit statuses posted to the forge a run's webhook came from, when the run
//!   starts and when it completes (with the project's `FERRY_FORGE_TOKEN`).

pub(crate) mod calls;
mod coordinator;
mod mirror;
mod plan;
mod status;
mod supervisor;

pub(crate) use calls::{called_job, flat_of};
pub(crate) use coordinator::{RunCache, add_event_payload, advance, advance_finished};
pub(crate) use mirror::{Mirror, MirrorError, WORKFLOW_DIRS, runner_repo};
pub(crate) use plan::{PlanError, Trigger, start_runs};
pub(crate) use status::StatusSender;
pub(crate) use supervisor::spawn_supervisor;
