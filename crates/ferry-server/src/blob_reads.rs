//! Which blobs a runner may read (`GET /api/v1/runner/blobs/{sha256}`): only the files of
//! what the jobs it holds may read, the artifacts of each job's run and the cache entries of
//! its project in the scopes the job restores from (`api/cache.rs`). Blobs are shared by
//! digest across projects, so without this a runner of one project could read another's
//! artifacts and caches by asking for a digest it learnt elsewhere.
//!
//! Reading every manifest for every blob would cost a restore of N files N times the
//! manifests, so the digests each held job may read are kept here: the artifact list and a
//! cache lookup add what they show the job, and the first blob a job asks for that is not
//! known yet computes everything the job may read from the store (after a restart the
//! memory is empty). What is kept for a runner shrinks to its held jobs at each read.
//!
//! The same rule decides what a manifest (an artifact, a cache entry) may name: a blob the
//! runner uploaded for a job it holds (an upload proves it has the bytes) or one the job may
//! read. Otherwise a runner that learnt another project's digest could name it in its own
//! artifact and download it from there; `POST …/blobs/missing` answers "missing" for such a
//! blob too, so it neither learns that the blob exists nor skips uploading it.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use tracing::warn;

use crate::AppState;
use crate::api::ApiError;
use crate::api::artifacts::{artifacts_of, manifest_at};
use crate::api::cache::readable_entries;

/// What a job may read, as known so far.
#[derive(Debug, Default)]
struct JobReads {
    digests: HashSet<String>,
    /// Everything the job may read was computed from the store (not only what was shown).
    complete: bool,
}

/// The blob digests each runner's held jobs may read: runner id → job id → digests.
#[derive(Debug, Default)]
pub(crate) struct BlobReads {
    runners: Mutex<HashMap<i64, HashMap<i64, JobReads>>>,
}

impl BlobReads {
    /// Records that `runner_id`'s job `job_id` was shown these blobs (its run's artifacts, a
    /// cache entry it restores).
    pub(crate) fn grant<'a>(&self, runner_id: i64, job_id: i64, digests: impl IntoIterator<Item = &'a str>) {
        let mut runners = self.runners.lock().expect("no thread panics holding the blob reads lock");
        let reads = runners.entry(runner_id).or_default().entry(job_id).or_default();
        reads.digests.extend(digests.into_iter().map(str::to_owned));
    }

    /// Whether one of `held` may read `digest`: `Some(true)` or `Some(false)` when known,
    /// `None` when a job's full set has yet to be computed. Forgets the runner's other jobs.
    fn known(&self, runner_id: i64, held: &[i64], digest: &str) -> Option<bool> {
        let mut runners = self.runners.lock().expect("no thread panics holding the blob reads lock");
        let jobs = runners.entry(runner_id).or_default();
        jobs.retain(|job_id, _| held.contains(job_id));
        let mut all_complete = true;
        for job_id in held {
            match jobs.get(job_id) {
                Some(reads) if reads.digests.contains(digest) => return Some(true),
                Some(reads) if reads.complete => {}
                _ => all_complete = false,
            }
        }
        all_complete.then_some(false)
    }

    /// Stores everything `job_id` may read, computed from the store.
    fn complete(&self, runner_id: i64, job_id: i64, digests: HashSet<String>) {
        let mut runners = self.runners.lock().expect("no thread panics holding the blob reads lock");
        let reads = runners.entry(runner_id).or_default().entry(job_id).or_default();
        reads.digests.extend(digests);
        reads.complete = true;
    }
}

/// Records that runner `runner_id` uploaded blob `digest`: every job it holds may name it.
pub(crate) async fn record_upload(state: &AppState, runner_id: i64, digest: &str) -> Result<(), ApiError> {
    for job in state.store.jobs().in_progress_on(runner_id).await? {
        state.blob_reads.grant(runner_id, job.id, [digest]);
    }
    Ok(())
}

/// Whether runner `runner_id` may read blob `digest` through one of the jobs it holds.
pub(crate) async fn may_read(state: &AppState, runner_id: i64, digest: &str) -> Result<bool, ApiError> {
    let held: Vec<ferry_store::Job> = state.store.jobs().in_progress_on(runner_id).await?;
    let held_ids: Vec<i64> = held.iter().map(|job| job.id).collect();
    if let Some(known) = state.blob_reads.known(runner_id, &held_ids, digest) {
        return Ok(known);
    }
    let mut found = false;
    for job in &held {
        let digests = readable_by(state, job).await?;
        found |= digests.contains(digest);
        state.blob_reads.complete(runner_id, job.id, digests);
    }
    Ok(found)
}

/// Every blob `job` may read: the files of its run's artifacts that have not expired and of
/// its project's cache entries in the scopes it restores from.
async fn readable_by(state: &AppState, job: &ferry_store::Job) -> Result<HashSet<String>, ApiError> {
    let mut digests = HashSet::new();
    for artifact in artifacts_of(state, job.run_id).await? {
        digests.extend(artifact.files.into_iter().map(|file| file.sha256));
    }
    let run = state.store.runs().get(job.run_id).await?;
    for entry in readable_entries(state, &run).await? {
        // An entry whose manifest cannot be read gives nothing to read (the lookup says why).
        match manifest_at(state, &entry.digest).await {
            Ok(manifest) => digests.extend(manifest.files.into_iter().map(|file| file.sha256)),
            Err(error) => {
                warn!(project.id = run.project_id, cache.key = %entry.key, %error, "cache entry {}: {error}", entry.key)
            }
        }
    }
    Ok(digests)
}
