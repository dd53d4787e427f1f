//! Where a job's event batches go: [`EventSink`]. A runner on another host sends them to the
//! server's events route (the [`Client`] is a sink); `ferry server`'s embedded runner hands
//! them to the server in the same process, so a step's log is not copied through a loopback
//! request on its way to the store. [`LocalRepositories`]: where the embedded runner finds a
//! job's commit without fetching it (the server's own copy of the repository).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use ferry_client::{Client, ClientError};
use ferry_proto::runner::{EventBatch, JobControl};

/// A future a sink answers with.
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<JobControl, ClientError>> + Send + 'a>>;

/// Takes a job's numbered event batches, in order. A batch may be given again (same number)
/// after a transient error; the server applies each number once.
pub trait EventSink: Send + Sync + std::fmt::Debug {
    /// Applies `batch` of job `job_id`: the server's answer (whether to cancel), or why not —
    /// a [`ClientError`] with status 404 or 409 when the job is no longer this runner's.
    fn send_events(&self, job_id: i64, batch: Arc<EventBatch>) -> SinkFuture<'_>;
}

impl EventSink for Client {
    fn send_events(&self, job_id: i64, batch: Arc<EventBatch>) -> SinkFuture<'_> {
        Box::pin(async move { Client::send_events(self, job_id, &batch).await })
    }
}

/// Copies of repositories on this host that may already hold a job's commit.
pub trait LocalRepositories: Send + Sync + std::fmt::Debug {
    /// A repository on this host to check job `job_id`'s commit out of, if there is one; it
    /// is used only when it holds the commit.
    fn repository_of(&self, job_id: i64) -> Pin<Box<dyn Future<Output = Option<PathBuf>> + Send + '_>>;

    /// Waits for the next commit a job of which is coming (the server is planning it), so it
    /// can be checked out ahead; `None` when no more will be announced. By default none is.
    fn next_commit(&self) -> Pin<Box<dyn Future<Output = Option<UpcomingCommit>> + Send + '_>> {
        Box::pin(std::future::ready(None))
    }
}

/// A commit jobs of which are coming: see [`LocalRepositories::next_commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpcomingCommit {
    /// The repository as the jobs name it (their assignment's `repo`).
    pub repo: String,
    pub sha: String,
    /// A folder on this host that holds the commit.
    pub source: PathBuf,
}
