//! The legacy cache protocol, `{ACTIONS_CACHE_URL}_apis/artifactcache/…`, as `@actions/cache`'s
//! `cacheHttpClient` speaks it (`Accept: application/json;api-version=6.0-preview.1`,
//! `Authorization: Bearer $ACTIONS_RUNTIME_TOKEN`, camelCase JSON):
//!
//! | request | answer |
//! |---|---|
//! | `GET cache?keys=k1,k2&version=V` | 200 `{"cacheKey", "scope", "cacheVersion", "archiveLocation"}`, or 204 for a miss |
//! | `POST caches` `{"key", "version", "cacheSize"}` | 201 `{"cacheId"}`; 409 when the entry exists or is being saved |
//! | `PATCH caches/{id}` with `Content-Range: bytes S-E/*` | 204 once the chunk is staged (chunks come in parallel, in any order) |
//! | `POST caches/{id}` `{"size"}` | 204 once the entry is saved, when every byte arrived |
//!
//! The archive is downloaded from `archiveLocation`, a signed URL (`blob.rs`) the toolkit
//! `GET`s without a token.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_proto::runtime::{LegacyCacheEntry, LegacyCommit, LegacyLookup, LegacyReserve, LegacyReserved};
use tracing::info;

use super::{CacheService, RuntimeCaller, RuntimeError, check_entry_name, check_lookup};

pub(crate) const LOOKUP: &str = "/_apis/artifactcache/cache";
pub(crate) const RESERVE: &str = "/_apis/artifactcache/caches";
pub(crate) const CACHE: &str = "/_apis/artifactcache/caches/{id}";

/// `GET /_apis/artifactcache/cache?keys=&version=`: the entry to restore.
#[utoipa::path(
    get,
    path = "/_apis/artifactcache/cache",
    operation_id = "legacy_cache_lookup",
    tag = "runtime",
    params(LegacyLookup),
    security(("runtime" = [])),
    responses(
        (status = 200, description = "The entry to restore and where to download its archive", body = LegacyCacheEntry),
        (status = 204, description = "No entry matches"),
        crate::api::RuntimeRefusals,
    ),
)]
pub(crate) async fn lookup(
    State(service): State<Arc<CacheService>>,
    RuntimeCaller(caller): RuntimeCaller,
    Query(query): Query<LegacyLookup>,
) -> Result<Response, RuntimeError> {
    let keys: Vec<String> =
        query.keys.split(',').map(str::trim).filter(|key| !key.is_empty()).map(str::to_owned).collect();
    check_lookup(&keys, &query.version)?;
    let Some(found) = service.backend.lookup(&caller, &keys, &query.version).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let entry = LegacyCacheEntry {
        cache_key: found.key.clone(),
        scope: found.scope.clone(),
        cache_version: found.version.clone(),
        archive_location: service.download_url(&found),
    };
    Ok(Json(entry).into_response())
}

/// `POST /_apis/artifactcache/caches`: reserves an upload.
#[utoipa::path(
    post,
    path = "/_apis/artifactcache/caches",
    operation_id = "legacy_cache_reserve",
    tag = "runtime",
    request_body = LegacyReserve,
    security(("runtime" = [])),
    responses(
        (status = 201, description = "Reserved: upload the chunks to `caches/{cacheId}`", body = LegacyReserved),
        (status = 409, description = "The scope has the entry, or another job is saving it", body = ferry_proto::runtime::LegacyError),
        (status = 413, description = "`cacheSize` is over the limit", body = ferry_proto::runtime::LegacyError),
        crate::api::RuntimeRefusals,
    ),
)]
pub(crate) async fn reserve(
    State(service): State<Arc<CacheService>>,
    RuntimeCaller(caller): RuntimeCaller,
    body: Result<Json<LegacyReserve>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<LegacyReserved>), RuntimeError> {
    let Json(body) = body.map_err(|error| RuntimeError::BadRequest(error.body_text()))?;
    check_entry_name(&body.key, &body.version)?;
    if service.backend.exists(&caller, &body.key, &body.version).await? {
        return Err(taken(&caller, &body.key));
    }
    let (id, _) = service.uploads.reserve(&caller, &body.key, &body.version, body.cache_size)?;
    Ok((StatusCode::CREATED, Json(LegacyReserved { cache_id: id })))
}

pub(crate) fn taken(caller: &super::Caller, key: &str) -> RuntimeError {
    RuntimeError::Taken(format!(
        "{} has a cache entry under {key:?} with this version; entries are immutable, use another key",
        caller.save_scope
    ))
}

/// `PATCH /_apis/artifactcache/caches/{id}`: a chunk of the archive.
#[utoipa::path(
    patch,
    path = "/_apis/artifactcache/caches/{id}",
    operation_id = "legacy_cache_upload_chunk",
    tag = "runtime",
    params(
        ("id" = ferry_proto::names::Id, Path, description = "The `cacheId` the reservation answered"),
        ("Content-Range" = String, Header, description = "`bytes START-END/*`, both inclusive"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("runtime" = [])),
    responses(
        (status = 204, description = "Staged"),
        (status = 404, description = "No such upload in progress for this job", body = ferry_proto::runtime::LegacyError),
        (status = 413, description = "Past the entry's limit or the service's upload budget", body = ferry_proto::runtime::LegacyError),
        crate::api::RuntimeRefusals,
    ),
)]
pub(crate) async fn upload_chunk(
    State(service): State<Arc<CacheService>>,
    RuntimeCaller(caller): RuntimeCaller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, RuntimeError> {
    let range = headers.get("content-range").and_then(|value| value.to_str().ok()).unwrap_or_default();
    let (start, end) = parse_content_range(range).ok_or_else(|| {
        RuntimeError::BadRequest(format!("Content-Range {range:?} is not `bytes START-END/*` with START <= END"))
    })?;
    service.uploads.write_chunk(&caller, id, start, end, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `bytes START-END/*` (or `/TOTAL`).
pub(crate) fn parse_content_range(range: &str) -> Option<(u64, u64)> {
    let (span, _total) = range.strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = span.split_once('-')?;
    let (start, end) = (start.trim().parse::<u64>().ok()?, end.trim().parse::<u64>().ok()?);
    (start <= end).then_some((start, end))
}

/// `POST /_apis/artifactcache/caches/{id}`: commits the upload with its size.
#[utoipa::path(
    post,
    path = "/_apis/artifactcache/caches/{id}",
    operation_id = "legacy_cache_commit",
    tag = "runtime",
    params(("id" = ferry_proto::names::Id, Path, description = "The `cacheId` the reservation answered")),
    request_body = LegacyCommit,
    security(("runtime" = [])),
    responses(
        (status = 204, description = "Saved"),
        (status = 400, description = "Bytes are missing, or the size is another; the upload is dropped", body = ferry_proto::runtime::LegacyError),
        (status = 404, description = "No such upload in progress for this job", body = ferry_proto::runtime::LegacyError),
        (status = 409, description = "Another job saved the entry first", body = ferry_proto::runtime::LegacyError),
        crate::api::RuntimeRefusals,
    ),
)]
pub(crate) async fn commit(
    State(service): State<Arc<CacheService>>,
    RuntimeCaller(caller): RuntimeCaller,
    Path(id): Path<i64>,
    body: Result<Json<LegacyCommit>, axum::extract::rejection::JsonRejection>,
) -> Result<StatusCode, RuntimeError> {
    let Json(body) = body.map_err(|error| RuntimeError::BadRequest(error.body_text()))?;
    let committed = service.uploads.commit(&caller, id, body.size).await?;
    save(&service, committed).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hands a committed upload to the backend.
pub(crate) async fn save(service: &CacheService, committed: super::uploads::Committed) -> Result<i64, RuntimeError> {
    let res = service
        .backend
        .save(&committed.caller, &committed.key, &committed.version, &committed.archive, committed.size)
        .await;
    // Saved archives were moved away; a refused one is removed here.
    let _ = tokio::fs::remove_file(&committed.archive).await;
    let id = res?;
    info!(cache.key = %committed.key, cache.scope = %committed.caller.save_scope, size = committed.size,
        "{} saved cache entry {} in {} ({} bytes)", committed.caller.name, committed.key, committed.caller.save_scope, committed.size);
    Ok(id)
}
