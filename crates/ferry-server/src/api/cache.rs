//! `actions/cache` through the server: entries of the job's project, shared by all its
//! runners. A runner uploads an entry's blobs (`blobs.rs`) and then its files
//! (`POST /api/v1/runner/jobs/{id}/cache`); a key is stored once, as GitHub's caches are
//! immutable. A lookup answers the entry GitHub would restore and keeps it for another
//! [`CACHE_RETENTION`] from then: GitHub removes entries not used for 7 days.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_proto::artifacts::{ArtifactManifest, CacheEntryView, CacheLookup};
use ferry_store::{CacheEntry, NewCacheEntry};
use tracing::{error, info};

use crate::api::artifacts::{check_files, held_job, manifest_at};
use crate::api::{ApiError, Body, ErrorBody, Path};
use crate::auth::RunnerCaller;
use crate::{AppState, now_ms};

/// How long an entry is kept after it was saved or last restored.
pub(crate) const CACHE_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Longest key GitHub accepts.
const MAX_KEY_LEN: usize = 512;

fn retention_ms() -> i64 {
    i64::try_from(CACHE_RETENTION.as_millis()).unwrap_or(i64::MAX)
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.contains(',') {
        return Err(ApiError::bad_request(format!(
            "cache key {key:?} must be 1 to {MAX_KEY_LEN} characters without commas"
        )));
    }
    Ok(())
}

/// The entry GitHub restores for `lookup` among `entries` (newest first): the key exactly,
/// else the newest whose key starts with each restore key in turn.
fn restored<'a>(entries: &'a [CacheEntry], lookup: &CacheLookup) -> Option<&'a CacheEntry> {
    entries.iter().find(|entry| entry.key == lookup.key).or_else(|| {
        lookup.restore_keys.iter().map(|prefix| prefix.trim()).filter(|prefix| !prefix.is_empty()).find_map(|prefix| {
            entries
                .iter()
                .find(|entry| entry.key == prefix)
                .or_else(|| entries.iter().find(|entry| entry.key.starts_with(prefix)))
        })
    })
}

/// `POST /api/v1/runner/jobs/{id}/cache/lookup`: the cache entry of the job's project that
/// `actions/cache` restores for these keys.
#[utoipa::path(
    post,
    path = "/api/v1/runner/jobs/{id}/cache/lookup",
    operation_id = "lookup_cache",
    tag = "runners",
    params(("id" = i64, Path, description = "The job's id")),
    request_body = CacheLookup,
    security(("runner" = [])),
    responses(
        (status = 200, description = "The entry to restore", body = CacheEntryView),
        (status = 204, description = "No entry matches"),
        (status = 401, description = "No runner token, or an unknown one", body = ErrorBody),
        (status = 409, description = "The job is not in progress on this runner", body = ErrorBody),
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
    let run = state.store.runs().get(job.run_id).await?;
    let now = now_ms();
    let entries = state.store.cache().list_for_project(run.project_id, now).await?;
    let Some(entry) = restored(&entries, &lookup) else { return Ok(StatusCode::NO_CONTENT.into_response()) };
    let manifest = manifest_at(&state, &entry.digest).await.map_err(|message| {
        error!(project.id = run.project_id, cache.key = %entry.key, "cache entry {}: {message}", entry.key);
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "a cache entry's manifest cannot be read; see the server's log",
        )
    })?;
    state.store.cache().set_expiry(entry.id, Some(now.saturating_add(retention_ms()))).await?;
    Ok(Json(CacheEntryView { key: entry.key.clone(), files: manifest.files }).into_response())
}

/// `POST /api/v1/runner/jobs/{id}/cache`: saves a cache entry of the job's project whose
/// blobs were uploaded.
#[utoipa::path(
    post,
    path = "/api/v1/runner/jobs/{id}/cache",
    operation_id = "save_cache",
    tag = "runners",
    params(("id" = i64, Path, description = "The job's id")),
    request_body = CacheEntryView,
    security(("runner" = [])),
    responses(
        (status = 201, description = "Saved", body = CacheEntryView),
        (status = 400, description = "A bad key, path or digest, or a path given twice", body = ErrorBody),
        (status = 401, description = "No runner token, or an unknown one", body = ErrorBody),
        (status = 409, description = "The project has an entry under this key, or the job is not in progress on this runner", body = ErrorBody),
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
    check_files(&state, &upload.files).await?;
    let run = state.store.runs().get(job.run_id).await?;
    let now = now_ms();
    if state.store.cache().get(run.project_id, &upload.key, now).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("the project has a cache entry under {:?}; entries are immutable, use another key", upload.key),
        ));
    }
    let manifest = ArtifactManifest { files: upload.files };
    let json = serde_json::to_vec(&manifest).expect("a manifest is JSON");
    let digest = state.blobs.write_bytes(json).await?;
    let size: u64 = manifest.files.iter().map(|file| file.size).sum();
    let new_entry = NewCacheEntry {
        project_id: run.project_id,
        key: &upload.key,
        digest: &digest,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        run_id: Some(job.run_id),
        job_id: Some(job.id),
        expires_at: Some(now.saturating_add(retention_ms())),
    };
    let entry = state.store.cache().put(&new_entry, now).await?;
    info!(run.id = job.run_id, job.id = job.id, cache.key = %entry.key, size, "job {} saved cache entry {} ({size} bytes)", job.name, entry.key);
    Ok((StatusCode::CREATED, Json(CacheEntryView { key: entry.key, files: manifest.files })))
}
