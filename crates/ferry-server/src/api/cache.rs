//! `actions/cache` through the server: entries of the job's project, shared by all its
//! runners and scoped by ref as GitHub scopes them. A runner uploads an entry's blobs
//! (`blobs.rs`) and then its files (`POST /api/v1/runner/jobs/{id}/cache`); the entry is
//! saved under the run's own ref, once per key there, as GitHub's caches are immutable. A
//! lookup answers the entry GitHub would restore, searching the run's own ref, then (for a
//! pull request) its base branch, then the project's default branch, and keeps it for
//! another [`CACHE_RETENTION`] from then: GitHub removes entries not used for 7 days.
//!
//! So a branch restores what its default branch saved but never what a sibling branch or a
//! pull request saved, and a pull request, whose code anyone may propose, never writes into
//! its base branch's entries; a run of a pull request from a fork saves only under its own
//! pull request's ref, whatever its event.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_proto::artifacts::{ArtifactManifest, CacheEntryView, CacheLookup};
use ferry_proto::names::Id;
use ferry_store::{CacheEntry, NewCacheEntry, Run, StoreError};
use serde_json::Value;
use tracing::{error, info};

use crate::api::artifacts::{check_files, held_job, manifest_at};
use crate::api::{ApiError, Body, ErrorBody, Path};
use crate::auth::RunnerCaller;
use crate::{AppState, now_ms};

/// How long an entry is kept after it was saved or last restored.
pub(crate) const CACHE_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The version of the built-in `actions/cache`'s entries (folders, described by a manifest),
/// apart from the archives `@actions/cache` saves through the runtime service (`runtime.rs`).
pub(crate) const BUILTIN_VERSION: &str = "";

/// Longest key GitHub accepts.
const MAX_KEY_LEN: usize = 512;

pub(crate) fn retention_ms() -> i64 {
    i64::try_from(CACHE_RETENTION.as_millis()).unwrap_or(i64::MAX)
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.chars().count() > MAX_KEY_LEN || key.contains(',') {
        return Err(ApiError::bad_request(format!(
            "cache key {key:?} must be 1 to {MAX_KEY_LEN} characters without commas"
        )));
    }
    Ok(())
}

/// Where a run's cache entries go and which it may restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scopes {
    /// The run's own ref, where it saves entries.
    pub(crate) own: String,
    /// Where it restores from, in search order and without repeats: its own ref, then (for a
    /// pull request) the base branch, then the default branch.
    pub(crate) readable: Vec<String>,
}

/// The cache scopes of `run` in a project whose default branch is `default_branch` (a
/// branch name), as GitHub scopes caches: by the run's `GITHUB_REF`, which for a pull
/// request is `refs/pull/<number>/merge`.
pub(crate) fn scopes(run: &Run, default_branch: &str) -> Scopes {
    let mut readable = Vec::new();
    // A fork's run saves only in its own scope whatever its event, so what it writes reaches
    // no run of the project's branches.
    let own = if run.event == "pull_request" || run.from_fork {
        // A pull request run's `git_ref` is its base branch (what `on.pull_request.branches`
        // matches), so the base branch is restored from, after the pull request's own ref.
        let info: Value = serde_json::from_str(&run.trigger_info).unwrap_or(Value::Null);
        let own = match info.get("pull_request").and_then(Value::as_u64) {
            Some(number) => format!("refs/pull/{number}/merge"),
            // A run recorded before the server kept the number gets a scope of its own, so
            // it never writes into its base branch's.
            None => format!("refs/ferry/runs/{}", run.id),
        };
        readable.push(own.clone());
        readable.push(run.git_ref.clone());
        own
    } else {
        readable.push(run.git_ref.clone());
        run.git_ref.clone()
    };
    readable.push(format!("refs/heads/{default_branch}"));
    let mut seen = std::collections::HashSet::new();
    readable.retain(|scope| !scope.is_empty() && seen.insert(scope.clone()));
    Scopes { own, readable }
}

/// The entry GitHub restores for `lookup` among the entries of one scope (newest first):
/// the key exactly, else the newest entry whose key starts with it, else the same for each
/// restore key in turn.
fn restored<'a>(entries: &'a [CacheEntry], lookup: &CacheLookup) -> Option<&'a CacheEntry> {
    let restore_keys = lookup.restore_keys.iter().map(|prefix| prefix.trim()).filter(|prefix| !prefix.is_empty());
    std::iter::once(lookup.key.as_str()).chain(restore_keys).find_map(|prefix| {
        entries
            .iter()
            .find(|entry| entry.key == prefix)
            .or_else(|| entries.iter().find(|entry| entry.key.starts_with(prefix)))
    })
}

/// The built-in `actions/cache` entries `run` may restore from, in every scope it reads, that
/// have not expired (the toolkit's archives are read through the signed URLs of the cache
/// service instead, never as runner blobs).
pub(crate) async fn readable_entries(state: &AppState, run: &Run) -> Result<Vec<CacheEntry>, StoreError> {
    let project = state.store.projects().get(run.project_id).await?;
    let now = now_ms();
    let mut entries = Vec::new();
    for scope in scopes(run, &project.branch).readable {
        entries.extend(state.store.cache().list_in_scope(run.project_id, &scope, BUILTIN_VERSION, now).await?);
    }
    Ok(entries)
}

/// `POST /api/v1/runner/jobs/{id}/cache/lookup`: the cache entry of the job's project that
/// `actions/cache` restores for these keys: in the run's own ref, else in its base branch
/// (a pull request), else in the default branch.
#[utoipa::path(
    post,
    path = "/api/v1/runner/jobs/{id}/cache/lookup",
    operation_id = "lookup_cache",
    tag = "runners",
    params(("id" = Id, Path, description = "The job's id")),
    request_body = CacheLookup,
    security(("runner" = [])),
    responses(
        (status = 200, description = "The entry to restore", body = CacheEntryView),
        (status = 204, description = "No entry matches"),
        crate::api::Invalid,
        crate::api::RunnerRefusals,
        crate::api::JobRefusals,
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn lookup(
    RunnerCaller(runner): RunnerCaller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Body(lookup): Body<CacheLookup>,
) -> Result<Response, ApiError> {
    let job = held_job(&state, runner.id, id).await?;
    check_key(&lookup.key)?;
    let run = state.store.runs().get(job.run_id).await?;
    let project = state.store.projects().get(run.project_id).await?;
    let now = now_ms();
    let mut found = None;
    for scope in scopes(&run, &project.branch).readable {
        let entries = state.store.cache().list_in_scope(run.project_id, &scope, BUILTIN_VERSION, now).await?;
        if let Some(entry) = restored(&entries, &lookup) {
            found = Some(entry.clone());
            break;
        }
    }
    let Some(entry) = found else { return Ok(StatusCode::NO_CONTENT.into_response()) };
    let manifest = manifest_at(&state, &entry.digest).await.map_err(|error| {
        error!(project.id = run.project_id, cache.key = %entry.key, %error, "cache entry {}: {error}", entry.key);
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "a cache entry's manifest cannot be read; see the server's log",
        )
    })?;
    state.store.cache().set_expiry(entry.id, Some(now.saturating_add(retention_ms()))).await?;
    state.blob_reads.grant(runner.id, job.id, manifest.files.iter().map(|file| file.sha256.as_str()));
    Ok(Json(CacheEntryView { key: entry.key.clone(), files: manifest.files }).into_response())
}

/// `POST /api/v1/runner/jobs/{id}/cache`: saves a cache entry of the job's project whose
/// blobs were uploaded, under the run's own ref.
#[utoipa::path(
    post,
    path = "/api/v1/runner/jobs/{id}/cache",
    operation_id = "save_cache",
    tag = "runners",
    params(("id" = Id, Path, description = "The job's id")),
    request_body = CacheEntryView,
    security(("runner" = [])),
    responses(
        (status = 201, description = "Saved", body = CacheEntryView),
        crate::api::Invalid,
        crate::api::RunnerRefusals,
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The run's ref has an entry under this key, or the job is not in progress on this runner", body = ErrorBody),
        (status = 422, description = "A blob was not uploaded, or its size is another", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn save(
    RunnerCaller(runner): RunnerCaller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Body(upload): Body<CacheEntryView>,
) -> Result<(StatusCode, Json<CacheEntryView>), ApiError> {
    let job = held_job(&state, runner.id, id).await?;
    check_key(&upload.key)?;
    check_files(&state, runner.id, &upload.files).await?;
    let run = state.store.runs().get(job.run_id).await?;
    let project = state.store.projects().get(run.project_id).await?;
    let scope = scopes(&run, &project.branch).own;
    let taken = || {
        ApiError::new(
            StatusCode::CONFLICT,
            format!("{scope} has a cache entry under {:?}; entries are immutable, use another key", upload.key),
        )
    };
    let now = now_ms();
    // Checked first so a taken key stores no manifest; the store checks again as it writes.
    if state.store.cache().get(run.project_id, &scope, &upload.key, BUILTIN_VERSION, now).await?.is_some() {
        return Err(taken());
    }
    let manifest = ArtifactManifest { files: upload.files };
    let json = serde_json::to_vec(&manifest).expect("a manifest is JSON");
    let digest = state.blobs.write_bytes(json).await?;
    let size: u64 = manifest.files.iter().map(|file| file.size).sum();
    let new_entry = NewCacheEntry {
        project_id: run.project_id,
        scope: &scope,
        key: &upload.key,
        version: BUILTIN_VERSION,
        digest: &digest,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        run_id: Some(job.run_id),
        job_id: Some(job.id),
        expires_at: Some(now.saturating_add(retention_ms())),
    };
    let entry = match state.store.cache().put(&new_entry, now).await {
        Ok(entry) => entry,
        // Another runner saved the key since the check.
        Err(StoreError::Conflict(_)) => return Err(taken()),
        Err(error) => return Err(error.into()),
    };
    info!(run.id = job.run_id, job.id = job.id, cache.key = %entry.key, cache.scope = %entry.scope, size,
        "job {} saved cache entry {} in {} ({size} bytes)", job.name, entry.key, entry.scope);
    Ok((StatusCode::CREATED, Json(CacheEntryView { key: entry.key, files: manifest.files })))
}

#[cfg(test)]
mod tests;
