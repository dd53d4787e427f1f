//! The container engine a runner reaches for `container:` jobs, `services:` and Docker
//! actions: the shared [`ferry_docker::Engine`] (Docker Engine's API or podman's compatible
//! socket, at `DOCKER_HOST` or `/var/run/docker.sock`), and what the runner adds to it: who owns
//! what it makes, steps run in a container like processes (`exec.rs`), and `options:`
//! (`options.rs`).
//!
//! Everything Ferry creates carries the labels [`LABEL_RUNNER`] (who owns it: a runner, or the
//! work slot of a `ferry run` job), [`LABEL_JOB`] (for which job) and [`LABEL_PID`] (which
//! process made it), so a job removes what it made, and a runner that starts again, or the next
//! `ferry run` job that takes a work slot, removes what a killed process left behind
//! ([`Engine::remove_labeled`], [`EngineAccess`]).

mod exec;
pub mod options;

use std::collections::HashMap;
use std::sync::Arc;

pub use exec::{ExecSpec, run_container, run_exec};
pub use ferry_docker::{ContainerSpec, Credentials, DockerError, Engine, Health, HealthCheck};

/// The label naming the runner that made a container or network.
pub const LABEL_RUNNER: &str = "ferry.runner";
/// The label naming the job a container or network was made for.
pub const LABEL_JOB: &str = "ferry.job";
/// The label holding the id of the process that made a container or network.
pub const LABEL_PID: &str = "ferry.pid";

/// The engine a runner uses for its jobs' containers, and the name that labels what it makes
/// ([`LABEL_RUNNER`]).
#[derive(Debug, Clone)]
pub struct DockerHost {
    pub engine: Engine,
    pub runner: String,
}

impl DockerHost {
    /// Connects to the engine for the owner `runner` (a runner, or a job's work folder) and
    /// removes what a previous holder of that name left behind (containers and networks
    /// labelled with it).
    ///
    /// # Errors
    /// [`DockerError::Unreachable`] when no engine answers (a runner then lacks the `docker`
    /// capability), or the engine refused to list or remove what was left.
    pub async fn start(docker_host: Option<&str>, runner: &str) -> Result<DockerHost, DockerError> {
        let engine = Engine::connect(docker_host).await?;
        let (n_containers, n_networks) = engine.remove_labeled(LABEL_RUNNER, runner).await?;
        if n_containers + n_networks > 0 {
            tracing::info!(
                n_containers,
                n_networks,
                "removed {n_containers} containers and {n_networks} networks a previous process left as {runner}"
            );
        }
        Ok(DockerHost { engine, runner: runner.to_owned() })
    }
}

/// How a job reaches the container engine.
#[derive(Debug, Clone)]
pub enum EngineAccess {
    /// The runner's engine, connected when it started (which removed what an earlier life of
    /// the runner left).
    Runner(Arc<DockerHost>),
    /// Connected when the job first needs a container, once per job ([`DockerHost::start`]):
    /// what the job makes is owned by `owner`, and whatever `owner` still owns then is
    /// removed first. The owner is the job's work folder, which one process at a time holds
    /// (`ferry run`'s locked work slots, a runner's slots): a process that takes it after a
    /// `kill -9` removes what the killed one left. `ferry run` also removes what was left in
    /// any free slot when it starts ([`remove_left_in`]), whatever its jobs use.
    OnDemand { owner: String },
}

/// The owner ([`LABEL_RUNNER`]) of what a `ferry run` job makes in the work slot `root`
/// (see [`crate::workspace::lock_work_slot`]).
#[must_use]
pub fn slot_owner(root: &std::path::Path) -> String {
    format!("{SLOT_OWNER}{}", root.display())
}

const SLOT_OWNER: &str = "slot:";

/// Removes what `ferry run` processes that were killed left on `engine` from the work slots
/// under `work` (every repository's): the containers and networks of each slot no process
/// holds now, holding the slot meanwhile. A slot a running job holds keeps its own. How many
/// containers and networks went.
///
/// # Errors
/// The engine refused to list or remove them.
pub async fn remove_left_in(engine: &Engine, work: &std::path::Path) -> Result<(usize, usize), DockerError> {
    let mut removed = (0, 0);
    for owner in engine.label_values(LABEL_RUNNER).await? {
        let Some(root) = owner.strip_prefix(SLOT_OWNER).map(std::path::Path::new) else { continue };
        if !root.starts_with(work) {
            continue;
        }
        // Held by a live process (or not a slot): left alone.
        let Some(_held) = crate::workspace::hold_free_slot(root) else { continue };
        let (n_containers, n_networks) = engine.remove_labeled(LABEL_RUNNER, &owner).await?;
        removed.0 += n_containers;
        removed.1 += n_networks;
    }
    Ok(removed)
}

/// The labels for what a job with `job_label` makes on `host`.
#[must_use]
pub fn labels(host: &DockerHost, job_label: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_RUNNER.to_owned(), host.runner.clone()),
        (LABEL_JOB.to_owned(), job_label.to_owned()),
        (LABEL_PID.to_owned(), std::process::id().to_string()),
    ])
}

/// A container's health check, from the `--health-*` options.
pub(crate) fn health_check(options: &options::ContainerOptions) -> Option<HealthCheck> {
    Some(HealthCheck {
        cmd: options.health_cmd.clone()?,
        interval: options.health_interval,
        timeout: options.health_timeout,
        retries: options.health_retries,
        start_period: options.health_start_period,
    })
}
