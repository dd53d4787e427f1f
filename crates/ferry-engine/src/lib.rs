//! The run engine: expands matrices into concrete jobs, orders them by `needs`, and decides
//! which job runs, waits, is cancelled or is skipped as results come in. Events in, actions
//! out; no IO and no clock, so `ferry run` and the server drive the same [`Driver`] and tests
//! replay event sequences.
//!
//! Evaluating expressions (a job's `if:`, a matrix written as `${{ fromJSON(…) }}`, a job
//! name) needs contexts only the host has, so the driver asks for it with
//! [`Action::Expand`] once every need of a job has finished; the host answers with
//! [`decide`]'s [`ExpansionRecord`].

pub mod driver;
pub mod expand;
pub mod github;
pub mod matrix;
pub mod reusable;
pub mod scheduler;

pub use driver::{
    Action, Driver, DriverError, Event, ExpandJob, ExpansionRecord, InstanceRecord, InstanceRef, JobPlan,
    PlannedInstance, RunState, StartInstance,
};
pub use expand::{
    DispatchInputError, Scope, StrategySettings, base_name, decide, dispatch_inputs, event_inputs, expand_job,
    job_specs, runs_on_labels, strategy_settings,
};
pub use github::{GithubFacts, forge_of_repo_url, forge_web_url, github_context};
pub use matrix::{MatrixError, expand_matrix, instance_name};
pub use reusable::{CallError, CallInputError, Callee, Flat, FlatJob, Role, decide_flat, flatten, missing_calls};
pub use scheduler::{Command, ExpandRequest, Expansion, InstanceId, JobSpec, Scheduler, run_conclusion};
