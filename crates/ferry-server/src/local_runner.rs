//! A runner inside the server's process (`ferry server`'s embedded runner). It claims,
//! heartbeats, uploads and completes over HTTP like any runner, but hands its event batches
//! to the server in memory: on loopback, a batch was encoded, written to a socket, read back
//! and collected again before it was stored — four copies of every log byte, the largest cost
//! of the 50 MB log benchmark after the step's own pipe. Here the batch is applied by the same
//! code as the events route's, and live viewers share its texts without a copy. It also
//! checks jobs out of the server's own copy of their repository, which already holds the
//! commit (the server read the workflows from it), instead of fetching it again, and hears of
//! each commit a run starts for before its jobs are planned, to check it out meanwhile.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use ferry_proto::runner::{EventBatch, JobControl, StepEvent};

use crate::AppState;
use crate::api::runner::record_batch;

/// The embedded runner's way into the server; cheap to clone.
#[derive(Clone)]
pub struct LocalRunner {
    state: AppState,
    runner_id: i64,
    token: String,
}

impl std::fmt::Debug for LocalRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("LocalRunner").field("runner_id", &self.runner_id).finish_non_exhaustive()
    }
}

/// Why the server refused a call of a [`LocalRunner`]: the status and message its route
/// would have answered with (409 for a job the runner no longer holds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub status: u16,
    pub message: String,
}

impl LocalRunner {
    pub(crate) fn new(state: AppState, runner_id: i64, token: String) -> LocalRunner {
        LocalRunner { state, runner_id, token }
    }

    /// The runner's token, for the calls it makes over HTTP.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }

    /// What `POST /api/v1/runner/jobs/{id}/events` does with `batch` of job `job_id`: applied
    /// once (a repeated number is ignored), the lease renewed, the chunks handed to live
    /// viewers.
    ///
    /// # Errors
    /// A [`Refusal`] with the route's status: 409 when the job is not in progress on this
    /// runner, 500 when the database fails.
    pub async fn record_events(&self, job_id: i64, batch: Arc<EventBatch>) -> Result<JobControl, Refusal> {
        let share = |event_idx, _: &String| Bytes::from_owner(BatchText { batch: batch.clone(), event_idx });
        record_batch(&self.state, self.runner_id, job_id, &batch, share)
            .await
            .map_err(|error| Refusal { status: error.status().as_u16(), message: error.message().to_owned() })
    }

    /// Where the server reads the repository of job `job_id`'s project: its mirror (fetched
    /// when the run was planned), or the repository itself when it is a folder on this host;
    /// `None` when there is no such job or the mirror is not there.
    pub async fn repository_of(&self, job_id: i64) -> Option<PathBuf> {
        let store = &self.state.store;
        let job = store.jobs().get(job_id).await.ok()?;
        let run = store.runs().get(job.run_id).await.ok()?;
        let project = store.projects().get(run.project_id).await.ok()?;
        let mirror = crate::pipeline::Mirror::new(&self.state.data_dir, project.id, &project.repo);
        let dir = mirror.dir();
        // A bare mirror, or a repository with a work tree.
        (dir.join("HEAD").is_file() || dir.join(".git").is_dir()).then(|| dir.to_path_buf())
    }

    /// The commits runs are started for, the last one first (`None` until there is one): a
    /// run's jobs are planned and claimed after it is told, a few milliseconds the runner can
    /// spend checking the commit out. A commit may be skipped when another follows at once.
    #[must_use]
    pub fn upcoming_commits(&self) -> tokio::sync::watch::Receiver<Option<UpcomingCommit>> {
        self.state.pipeline.upcoming.subscribe()
    }
}

/// A commit a run was started for, whose jobs are being planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpcomingCommit {
    /// The project's repository, as jobs' assignments name it.
    pub repo: String,
    pub sha: String,
    /// Where the server reads the repository (see [`LocalRunner::repository_of`]); it holds
    /// the commit.
    pub source: PathBuf,
}

/// The text of a batch's `lines` event, kept alive by the batch it is in.
struct BatchText {
    batch: Arc<EventBatch>,
    event_idx: usize,
}

impl AsRef<[u8]> for BatchText {
    fn as_ref(&self) -> &[u8] {
        match self.batch.events.get(self.event_idx) {
            Some(StepEvent::Lines { text, .. }) => text.as_bytes(),
            _ => &[],
        }
    }
}
