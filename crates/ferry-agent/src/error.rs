//! What stops an agent from starting or going on, sorted by what its user does about it.

use std::path::PathBuf;

use ferry_client::ClientError;

/// A failure of the agent as a whole (a replica's failure is an event, not an error).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// Another agent runs on this directory.
    #[error(
        "another ferry agent already runs with the directory {} (it holds {}): one agent per directory; \
         stop that one, or give this one another --dir",
        .dir.display(),
        .lock.display()
    )]
    Locked { dir: PathBuf, lock: PathBuf },
    #[error("{action} {}: {source}", .path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file the agent keeps is not what it wrote.
    #[error("{} is not the agent's own file: {message} (move it away to start afresh)", .path.display())]
    BadFile { path: PathBuf, message: String },
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl AgentError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> AgentError {
        let path = path.into();
        move |source| AgentError::Io { action, path, source }
    }
}
