//! The run scheduler: expands matrices into concrete jobs, orders them by `needs`, and decides
//! which job runs, waits, is cancelled or is skipped as results come in. Events in, commands
//! out; no IO and no clock, so `ferry run` and (later) the server drive the same logic and
//! tests replay event sequences.
//!
//! Evaluating expressions (a job's `if:`, a matrix written as `${{ fromJSON(…) }}`, a job
//! name) needs contexts only the caller has, so the scheduler asks for it with
//! [`Command::Expand`] once every need of a job has finished, and the caller answers with
//! [`Scheduler::expanded`].

pub mod expand;
pub mod github;
pub mod matrix;
pub mod scheduler;

pub use expand::{
    Scope, StrategySettings, base_name, dispatch_inputs, event_inputs, expand_job, runs_on_labels, strategy_context,
    strategy_settings,
};
pub use github::{GithubFacts, github_context};
pub use matrix::{MatrixError, expand_matrix, instance_name};
pub use scheduler::{Command, ExpandRequest, Expansion, InstanceId, JobSpec, Scheduler};
