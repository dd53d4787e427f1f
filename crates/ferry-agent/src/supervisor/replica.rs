//! One replica, of one of two kinds ([`Instance`]): a process started as `sh -c COMMAND` in
//! the release's folder, in its own process group, with a cleared environment (PATH, HOME,
//! LANG, TZ and USER from the agent's, then the release's `env`, then `PORT`), its output
//! appended to files in the agent's directory, stopped with SIGTERM to the group, then
//! SIGKILL after the grace period; or a container of the release's image
//! (`crate::containers`: the release's `env` and `PORT`, on the host's network, its output
//! followed into the same files, stopped with `docker stop` and the same grace period). Both
//! kinds listen on `127.0.0.1:$PORT` and are watched by the same health checks, so the rest of
//! the supervisor does not tell them apart.
//!
//! The port is picked by binding `127.0.0.1:0` and releasing it before the replica starts:
//! another process may take it in between. The replica then fails to listen and exits, and
//! its restart picks a new port, so the race costs a restart, never a wrong answer.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use ferry_proto::agent::{HealthSpec, ReplicaState};
use rustix::process::{Pid, Signal};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::containers::Engine;
use crate::health::{self, Health};
use crate::logs::Tailer;

/// The agent's variables a replica gets, when the agent has them.
const PASSED_ENV: [&str; 5] = ["PATH", "HOME", "LANG", "TZ", "USER"];

/// A replica the agent supervises, started by it or adopted from an earlier agent.
#[derive(Debug)]
pub(crate) struct Replica {
    pub(crate) id: String,
    pub(crate) release: i64,
    pub(crate) port: u16,
    pub(crate) instance: Instance,
    pub(crate) started_at: i64,
    pub(crate) restarts: u32,
    /// Crashes since it was last healthy for a while: the exponent of its backoff.
    pub(crate) crashes_in_row: u32,
    /// When it exited, when it is to be started again.
    pub(crate) restart_at: Option<Instant>,
    pub(crate) exit_message: Option<String>,
    pub(crate) healthy_since: Option<Instant>,
    /// The state the last report gave, to tell changes.
    pub(crate) reported: ReplicaState,
    pub(crate) health: watch::Receiver<Health>,
    pub(crate) checks: JoinHandle<()>,
    pub(crate) stdout: Tailer,
    pub(crate) stderr: Tailer,
}

/// What runs a replica.
#[derive(Debug)]
pub(crate) enum Instance {
    /// A process group led by `pid`; `child` is `None` for a replica adopted from an earlier
    /// agent (not this process's child).
    Process { pid: u32, child: Option<std::process::Child> },
    /// A container; `exit` says why it stopped, once it did; `watcher` follows its output.
    Container { id: String, engine: Engine, exit: oneshot::Receiver<String>, watcher: JoinHandle<()> },
}

impl Instance {
    /// The pid of a process replica.
    pub(crate) fn pid(&self) -> Option<u32> {
        match self {
            Instance::Process { pid, .. } => Some(*pid),
            Instance::Container { .. } => None,
        }
    }

    /// The id of a container replica.
    pub(crate) fn container(&self) -> Option<&str> {
        match self {
            Instance::Process { .. } => None,
            Instance::Container { id, .. } => Some(id),
        }
    }

    /// Lets go of it without stopping it (another agent adopts it).
    pub(crate) fn detach(&self) {
        if let Instance::Container { watcher, .. } = self {
            watcher.abort();
        }
    }
}

impl Replica {
    /// Its state as reported.
    pub(crate) fn state(&self) -> ReplicaState {
        if self.restart_at.is_some() { ReplicaState::Exited } else { self.health.borrow().state }
    }

    pub(crate) fn message(&self) -> Option<String> {
        if self.restart_at.is_some() {
            return self.exit_message.clone();
        }
        let health = self.health.borrow();
        (health.state != ReplicaState::Healthy).then(|| health.message.clone()).flatten()
    }

    /// Whether it has exited since the last call; reaps a child. An adopted process replica
    /// has exited when its process group is gone. Whatever an exited process left behind in
    /// its group is killed, so its port is free again.
    pub(crate) fn poll_exit(&mut self) -> Option<String> {
        if self.restart_at.is_some() {
            return None;
        }
        let why = match &mut self.instance {
            Instance::Process { child: Some(child), .. } => match child.try_wait() {
                Ok(Some(status)) => Some(format!("exited with {status}")),
                Ok(None) => None,
                Err(error) => Some(format!("cannot be waited for: {error}")),
            },
            Instance::Process { pid, child: None } => (!group_alive(*pid)).then(|| "is gone".to_owned()),
            Instance::Container { exit, .. } => match exit.try_recv() {
                Ok(why) => Some(why),
                Err(oneshot::error::TryRecvError::Empty) => None,
                Err(oneshot::error::TryRecvError::Closed) => Some("is no longer watched".to_owned()),
            },
        };
        if why.is_some()
            && let Instance::Process { pid, .. } = &self.instance
            && let Some(group) = Pid::from_raw(pid.cast_signed())
        {
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
        }
        why
    }
}

/// What starting a replica needs.
pub(crate) struct Launch<'a> {
    pub(crate) folder: &'a Path,
    pub(crate) command: &'a str,
    pub(crate) env: &'a std::collections::BTreeMap<String, String>,
    pub(crate) out: &'a Path,
    pub(crate) err: &'a Path,
}

/// Why a replica's process could not be started.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpawnError {
    #[error("finding a free port on 127.0.0.1: {0}")]
    NoPort(#[source] std::io::Error),
    #[error("opening {}: {source}", path.display())]
    Output {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("starting `sh -c {command}` in {}: {source}", folder.display())]
    Start {
        command: String,
        folder: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Starts a replica's process on a free port; its pid and port.
pub(crate) fn spawn(launch: &Launch<'_>) -> Result<(std::process::Child, u16), SpawnError> {
    let port = free_port()?;
    let append = |path: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| SpawnError::Output { path: path.to_owned(), source })
    };
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg(launch.command)
        .current_dir(launch.folder)
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(append(launch.out)?)
        .stderr(append(launch.err)?)
        // Its own group: signals reach what it starts, and a terminal's Ctrl-C meant for the
        // agent does not reach it.
        .process_group(0);
    for name in PASSED_ENV {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command.envs(launch.env).env("PORT", port.to_string());
    let child = command.spawn().map_err(|source| SpawnError::Start {
        command: launch.command.to_owned(),
        folder: launch.folder.to_owned(),
        source,
    })?;
    Ok((child, port))
}

/// A port on 127.0.0.1 that was free a moment ago (see the module's doc for the race).
pub(crate) fn free_port() -> Result<u16, SpawnError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(SpawnError::NoPort)
}

/// Starts the health checks of a replica on `port`.
pub(crate) fn watch_health(spec: &HealthSpec, port: u16) -> (watch::Receiver<Health>, JoinHandle<()>) {
    let (sender, receiver) = watch::channel(Health::default());
    let checks = tokio::spawn(health::watch_replica(spec.clone(), port, sender));
    (receiver, checks)
}

/// Whether the process group `pid` leads still exists.
pub(crate) fn group_alive(pid: u32) -> bool {
    let Some(pid) = Pid::from_raw(pid.cast_signed()) else { return false };
    // Signal 0 to the group: whether any process of it is left.
    match rustix::process::test_kill_process_group(pid) {
        Ok(()) => true,
        Err(error) => error != rustix::io::Errno::SRCH,
    }
}

/// Whether `pid` is a live process leading its own group (the way the agent starts
/// replicas), so a recycled pid is not taken for a replica.
pub(crate) fn leads_group(pid: u32) -> bool {
    let Some(pid) = Pid::from_raw(pid.cast_signed()) else { return false };
    rustix::process::getpgid(Some(pid)).is_ok_and(|group| group == pid)
}

/// Stops a replica: a process as [`stop`] does, a container with `docker stop` (the same
/// grace) and then removes it.
pub(crate) async fn stop_instance(instance: Instance, grace: Duration) {
    match instance {
        Instance::Process { pid, child } => stop(pid, child, grace).await,
        Instance::Container { id, engine, watcher, .. } => {
            engine.stop(&id, grace).await;
            watcher.abort();
        }
    }
}

/// Stops a replica's process group: SIGTERM, then SIGKILL once `grace` passed; reaps the
/// child when it is one. Runs to its end whatever happens to the agent's other work.
pub(crate) async fn stop(pid: u32, mut child: Option<std::process::Child>, grace: Duration) {
    let Some(group) = Pid::from_raw(pid.cast_signed()) else { return };
    let _ = rustix::process::kill_process_group(group, Signal::TERM);
    let deadline = Instant::now() + grace;
    let mut killed = false;
    loop {
        let reaped = match &mut child {
            Some(child) => child.try_wait().map_or(true, |status| status.is_some()),
            None => true,
        };
        if reaped && !group_alive(pid) {
            return;
        }
        if !killed && Instant::now() >= deadline {
            let _ = rustix::process::kill_process_group(group, Signal::KILL);
            killed = true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The delay before restarting a replica that crashed `crashes` times in a row: 1 s doubling
/// to 30 s.
pub(crate) fn backoff(crashes: u32) -> Duration {
    Duration::from_secs(1u64 << crashes.min(5)).min(Duration::from_secs(30))
}
