//! The agent's directory and what it keeps there:
//!
//! ```text
//! <dir>/agent.lock        held (flock) while an agent runs on the directory
//! <dir>/token             the agent token it registered for (0600), when given an admin's
//! <dir>/desired.json      the last desired state received, secrets sealed (0600)
//! <dir>/state.json        its replicas (id, release, pid, port, started_at, …) and rollouts (0600)
//! <dir>/releases/<project>/<service>/<number>/   a release's files, unpacked once
//! <dir>/logs/<replica>.out, .err                 a replica's output, shipped from an offset
//! ```
//!
//! Every file is written whole to a temporary file and renamed over the old one, so a crash
//! leaves the old or the new file, never half of one.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use ferry_proto::agent::{DesiredState, UnitKey};
use serde::{Deserialize, Serialize};

use crate::AgentError;
use crate::seal::Sealer;

/// The agent's directory, locked for this process while the value lives.
#[derive(Debug)]
pub struct AgentDir {
    root: PathBuf,
    /// Holds the lock on `agent.lock`; closing it releases the lock.
    _lock: File,
}

impl AgentDir {
    /// Creates the directory (owner-only) when missing and takes its lock.
    ///
    /// # Errors
    /// [`AgentError::Locked`] when another agent holds it; [`AgentError::Io`] when it cannot
    /// be made or opened.
    pub fn open(root: &Path) -> Result<AgentDir, AgentError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(AgentError::io("creating the agent directory", root))?;
        let lock_path = root.join("agent.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(AgentError::io("opening", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(AgentError::Locked { dir: root.to_owned(), lock: lock_path });
            }
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(AgentError::io("locking", &lock_path)(error));
            }
        }
        for sub in ["releases", "logs"] {
            let path = root.join(sub);
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&path)
                .map_err(AgentError::io("creating", &path))?;
        }
        Ok(AgentDir { root: root.to_owned(), _lock: lock })
    }

    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the token an agent registered for is kept.
    #[must_use]
    pub fn token_path(&self) -> PathBuf {
        self.root.join("token")
    }

    #[must_use]
    pub fn desired_path(&self) -> PathBuf {
        self.root.join("desired.json")
    }

    #[must_use]
    pub fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// The folder a release's files are unpacked into.
    #[must_use]
    pub fn release_dir(&self, key: &UnitKey, number: i64) -> PathBuf {
        self.root.join("releases").join(&key.project).join(&key.service).join(number.to_string())
    }

    /// The file a replica's `stream` (`out` or `err`) goes to.
    #[must_use]
    pub fn log_path(&self, replica: &str, stream: &str) -> PathBuf {
        self.root.join("logs").join(format!("{replica}.{stream}"))
    }

    /// The desired state kept, its secrets opened; `None` when there is none yet, or when it
    /// was sealed under another token (the agent then waits for the server's).
    ///
    /// # Errors
    /// [`AgentError::BadFile`] when the file is not a desired state.
    pub fn load_desired(&self, sealer: &Sealer) -> Result<Option<DesiredState>, AgentError> {
        let path = self.desired_path();
        let Some(desired) = read_json::<DesiredState>(&path)? else { return Ok(None) };
        match sealer.open_desired(desired) {
            Ok(desired) => Ok(Some(desired)),
            Err(key) => {
                tracing::warn!(
                    path = %path.display(),
                    "{} holds secrets sealed under another agent token (at {key}); waiting for the server's desired state",
                    path.display()
                );
                Ok(None)
            }
        }
    }

    /// Keeps `desired`, its secrets sealed.
    ///
    /// # Errors
    /// [`AgentError::Io`] when it cannot be written.
    pub fn save_desired(&self, sealer: &Sealer, desired: &DesiredState) -> Result<(), AgentError> {
        write_json(&self.desired_path(), &sealer.seal_desired(desired))
    }

    /// The runtime state kept, or an empty one.
    ///
    /// # Errors
    /// [`AgentError::BadFile`] when the file is not the agent's state.
    pub fn load_state(&self) -> Result<RuntimeState, AgentError> {
        Ok(read_json(&self.state_path())?.unwrap_or_default())
    }

    /// # Errors
    /// [`AgentError::Io`] when it cannot be written.
    pub fn save_state(&self, state: &RuntimeState) -> Result<(), AgentError> {
        write_json(&self.state_path(), state)
    }
}

/// What the agent runs, kept in `state.json` so a restarted agent can adopt its replicas.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuntimeState {
    pub replicas: Vec<ReplicaRecord>,
    #[serde(default)]
    pub units: Vec<UnitRecord>,
}

/// One replica as kept on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicaRecord {
    pub id: String,
    pub key: UnitKey,
    pub release: i64,
    /// The replica's pid, which is also its process group (0 for a container).
    pub pid: u32,
    /// The id of the replica's container, for an `image:` release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub port: u16,
    pub started_at: i64,
    pub restarts: u32,
    /// How far its output files were shipped.
    #[serde(default)]
    pub stdout_offset: u64,
    #[serde(default)]
    pub stderr_offset: u64,
}

/// One unit as kept on disk: the release serving it, and the deployment under way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    pub key: UnitKey,
    pub serving: Option<i64>,
    /// The last replica number given, so ids stay unique across restarts.
    #[serde(default)]
    pub next_replica: u32,
    /// The deployment under way, where it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<ferry_deploy::Rollout>,
}

/// Reads a JSON file; `None` when it does not exist.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, AgentError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(AgentError::io("reading", path)(error)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| AgentError::BadFile { path: path.to_owned(), message: error.to_string() })
}

/// Writes `value` as JSON to `path` (0600) through a temporary file and a rename.
fn write_json(path: &Path, value: &impl Serialize) -> Result<(), AgentError> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|error| AgentError::BadFile { path: path.to_owned(), message: error.to_string() })?;
    write_private(path, &bytes)
}

/// Writes `bytes` to `path`, readable by the owner only, through a temporary file beside it
/// and a rename.
///
/// # Errors
/// [`AgentError::Io`] when the file cannot be written or renamed.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AgentError> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&temp)
        .map_err(AgentError::io("writing", &temp))?;
    file.write_all(bytes).map_err(AgentError::io("writing", &temp))?;
    file.sync_all().map_err(AgentError::io("writing", &temp))?;
    std::fs::rename(&temp, path).map_err(AgentError::io("renaming over", path))
}

#[cfg(test)]
mod tests;
