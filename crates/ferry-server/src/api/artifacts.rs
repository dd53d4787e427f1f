//! Artifacts through the server: runners upload blobs (`PUT /api/v1/runner/blobs/{sha256}`)
//! and then an artifact's manifest (`POST /api/v1/runner/jobs/{id}/artifacts`), and read them
//! back for later jobs of the run; people list a run's artifacts and download one as a
//! `.tar` streamed from its blobs. See `ferry_proto::artifacts` and `blobs.rs`.

use std::collections::HashSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_proto::artifacts::{
    ArtifactManifest, ArtifactUpload, ArtifactView, BlobList, Bytes as BlobBytes, MAX_RETENTION_DAYS, is_digest,
};
use ferry_proto::names::{Digest, Id};
use ferry_store::{Artifact, Job, NewArtifact, Status, StoreError};
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tracing::{error, info};

use crate::api::{ApiError, Body, ErrorBody, Path};
use crate::auth::RunnerCaller;
use crate::blobs::{BlobError, MAX_BLOB_BYTES};
use crate::{AppState, blob_reads, now_ms, tar};

/// How much of a file one chunk of a download holds.
const CHUNK: usize = 64 * 1024;

pub(crate) fn check_digest(digest: &str) -> Result<(), ApiError> {
    if is_digest(digest) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("{digest:?} is not a SHA-256 digest (64 lowercase hex digits)")))
    }
}

/// `POST /api/v1/runner/blobs/missing`: which of these blobs the server lacks.
#[utoipa::path(
    post,
    path = "/api/v1/runner/blobs/missing",
    operation_id = "missing_blobs",
    tag = "runners",
    request_body = BlobList,
    security(("runner" = [])),
    responses(
        (status = 200, description = "The digests the runner must upload, in the order asked: those the server has no blob for, or has but its jobs may not read", body = BlobList),
        crate::api::Invalid,
        crate::api::RunnerRefusals,
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn missing_blobs(
    RunnerCaller(runner): RunnerCaller,
    State(state): State<AppState>,
    Body(list): Body<BlobList>,
) -> Result<Json<BlobList>, ApiError> {
    let mut missing = Vec::new();
    for digest in list.digests {
        check_digest(&digest)?;
        // A blob the runner's jobs may not read is missing to it (`blob_reads.rs`).
        if state.blobs.size(&digest).await.is_none() || !blob_reads::may_read(&state, runner.id, &digest).await? {
            missing.push(digest);
        }
    }
    Ok(Json(BlobList { digests: missing }))
}

/// `PUT /api/v1/runner/blobs/{sha256}`: stores the body as the blob it is named after.
#[utoipa::path(
    put,
    path = "/api/v1/runner/blobs/{sha256}",
    operation_id = "put_blob",
    tag = "runners",
    params(("sha256" = Digest, Path, description = "The SHA-256 of the body")),
    request_body(content = BlobBytes, content_type = "application/octet-stream"),
    security(("runner" = [])),
    responses(
        (status = 204, description = "Stored (or it was already)"),
        crate::api::Invalid,
        crate::api::RunnerRefusals,
        (status = 422, description = "The body's SHA-256 is not the one named", body = ErrorBody),
        (status = 413, description = "The body is over 10 GiB", body = ErrorBody),
    ),
)]
pub(crate) async fn put_blob(
    RunnerCaller(runner): RunnerCaller,
    State(state): State<AppState>,
    Path(digest): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<StatusCode, ApiError> {
    check_digest(&digest)?;
    let declared = headers.get(CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BLOB_BYTES) {
        return Err(BlobError::TooLarge.into());
    }
    state.blobs.write(&digest, body.into_data_stream()).await?;
    blob_reads::record_upload(&state, runner.id, &digest).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl From<BlobError> for ApiError {
    fn from(blob_error: BlobError) -> ApiError {
        match blob_error {
            // The request was well formed; its body is not the blob it named.
            BlobError::Mismatch { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, blob_error.to_string()),
            BlobError::Body(_) => ApiError::bad_request(blob_error.to_string()),
            BlobError::TooLarge => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, blob_error.to_string()),
            BlobError::Io(_) => {
                error!(error = %blob_error, "blob store failed: {blob_error}");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the blob store failed; see the server's log")
            }
        }
    }
}

/// `GET /api/v1/runner/blobs/{sha256}`: a blob's bytes, if one of the jobs the runner holds
/// may read it: a file of an artifact of the job's run or of a cache entry it may restore
/// (`blob_reads.rs`).
#[utoipa::path(
    get,
    path = "/api/v1/runner/blobs/{sha256}",
    operation_id = "get_blob",
    tag = "runners",
    params(("sha256" = Digest, Path, description = "The blob's SHA-256")),
    security(("runner" = [])),
    responses(
        (status = 200, description = "The bytes", content_type = "application/octet-stream", body = BlobBytes),
        crate::api::Invalid,
        crate::api::RunnerRefusals,
        (status = 404, description = "No such blob, or none that a job this runner holds may read", body = ErrorBody),
    ),
)]
pub(crate) async fn get_blob(
    RunnerCaller(runner): RunnerCaller,
    State(state): State<AppState>,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    check_digest(&digest)?;
    // A blob the runner may not read is answered as one the server lacks, so the answer
    // tells nothing about other projects' files.
    let size = match state.blobs.size(&digest).await {
        Some(size) if blob_reads::may_read(&state, runner.id, &digest).await? => size,
        _ => return Err(ApiError::not_found("blob", &digest)),
    };
    let path = state.blobs.path(&digest);
    let (tx, body) = channel_body();
    tokio::spawn(async move { send_file(&tx, &path).await });
    Ok(([(CONTENT_TYPE, "application/octet-stream".to_owned()), (CONTENT_LENGTH, size.to_string())], body)
        .into_response())
}

/// The job `id` if `runner` holds it; 409 otherwise, as the rest of the protocol answers.
pub(crate) async fn held_job(state: &AppState, runner_id: i64, id: i64) -> Result<Job, ApiError> {
    let job = state.store.jobs().get(id).await?;
    if job.status != Status::InProgress || job.runner_id != Some(runner_id) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("job {id} is not in progress on this runner; stop working on it"),
        ));
    }
    Ok(job)
}

/// Checks an artifact's name as `actions/upload-artifact` does.
fn check_artifact_name(name: &str) -> Result<(), ApiError> {
    let bad = name.is_empty()
        || name.chars().count() > 255
        || name == "."
        || name == ".."
        || name.chars().any(|c| c.is_control() || matches!(c, '/' | '\\' | ':' | '<' | '>' | '|' | '*' | '?' | '"'));
    if bad {
        return Err(ApiError::bad_request(format!(
            "artifact name {name:?} must be 1 to 255 characters without / \\ : < > | * ? \" or control characters"
        )));
    }
    Ok(())
}

/// A file's path: relative, `/`-separated, no empty, `.` or `..` parts.
pub(crate) fn check_path(path: &str) -> Result<(), ApiError> {
    let bad = path.is_empty()
        || path.chars().count() > 4096
        || path.contains(['\\', '\0'])
        || path.split('/').any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(ApiError::bad_request(format!(
            "file path {path:?} must be relative and `/`-separated, without empty, `.` or `..` parts"
        )));
    }
    Ok(())
}

/// Checks the paths and digests of a manifest's files: safe, distinct paths (400, 422 for a
/// path given twice), well-formed digests (400).
pub(crate) fn check_file_list(files: &[ferry_proto::artifacts::ArtifactFile]) -> Result<(), ApiError> {
    let mut paths = HashSet::new();
    for file in files {
        check_path(&file.path)?;
        check_digest(&file.sha256)?;
        if !paths.insert(file.path.as_str()) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("file path {:?} is given twice", file.path),
            ));
        }
    }
    Ok(())
}

/// Checks the files of an artifact or cache manifest: safe, distinct paths, well-formed
/// digests (400), and each blob uploaded by runner `runner_id` for a job it holds, or
/// readable by one, with the size given (422). A blob it may not name is "not uploaded",
/// whether or not the server has it (`blob_reads.rs`).
pub(crate) async fn check_files(
    state: &AppState,
    runner_id: i64,
    files: &[ferry_proto::artifacts::ArtifactFile],
) -> Result<(), ApiError> {
    check_file_list(files)?;
    for file in files {
        let size = match blob_reads::may_read(state, runner_id, &file.sha256).await? {
            true => state.blobs.size(&file.sha256).await,
            false => None,
        };
        match size {
            None => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("blob {} of {} was not uploaded", file.sha256, file.path),
                ));
            }
            Some(size) if size != file.size => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("blob {} of {} is {size} bytes, not {}", file.sha256, file.path, file.size),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// `POST /api/v1/runner/jobs/{id}/artifacts`: records an artifact of the job's run whose
/// blobs were uploaded; it expires after the days it asks for, at most the server's artifact
/// retention (GitHub's `retention-days` cannot exceed the repository's setting either). With
/// `overwrite` it replaces the run's artifact of its name.
#[utoipa::path(
    post,
    path = "/api/v1/runner/jobs/{id}/artifacts",
    operation_id = "create_artifact",
    tag = "runners",
    params(("id" = Id, Path, description = "The job's id")),
    request_body = ArtifactUpload,
    security(("runner" = [])),
    responses(
        (status = 201, description = "Recorded", body = ArtifactView),
        crate::api::Invalid,
        crate::api::RunnerRefusals,
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The run has an artifact of this name (and `overwrite` is not set), or the job is not in progress on this runner", body = ErrorBody),
        (status = 422, description = "A blob was not uploaded, or its size is another", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn create(
    RunnerCaller(runner): RunnerCaller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Body(upload): Body<ArtifactUpload>,
) -> Result<(StatusCode, Json<ArtifactView>), ApiError> {
    let job = held_job(&state, runner.id, id).await?;
    check_artifact_name(&upload.name)?;
    if upload.retention_days.is_some_and(|days| !(1..=MAX_RETENTION_DAYS).contains(&days)) {
        return Err(ApiError::bad_request(format!(
            "retention_days must be 1 to {MAX_RETENTION_DAYS}; leave it out for the server's retention"
        )));
    }
    check_files(&state, runner.id, &upload.files).await?;
    let manifest = ArtifactManifest { files: upload.files };
    let json = serde_json::to_vec(&manifest).expect("a manifest is JSON");
    let digest = state.blobs.write_bytes(json).await?;
    let size: u64 = manifest.files.iter().map(|file| file.size).sum();
    let now = now_ms();
    let server_retention = state.pipeline.artifact_retention;
    let retention = upload.retention_days.map_or(server_retention, |days| {
        std::time::Duration::from_secs(u64::from(days) * 24 * 60 * 60).min(server_retention)
    });
    let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let new_artifact = NewArtifact {
        run_id: job.run_id,
        job_id: Some(job.id),
        name: &upload.name,
        digest: &digest,
        size: i64::try_from(size).unwrap_or(i64::MAX),
        expires_at: Some(now.saturating_add(retention_ms)),
    };
    let stored = if upload.overwrite {
        state.store.artifacts().replace(&new_artifact, now).await
    } else {
        state.store.artifacts().create(&new_artifact, now).await
    };
    let artifact = match stored {
        Ok(artifact) => artifact,
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "run {} already has an artifact named {:?}; use another name or `overwrite: true`",
                    job.run_id, upload.name
                ),
            ));
        }
        Err(error) => return Err(error.into()),
    };
    info!(run.id = job.run_id, job.id = job.id, artifact = %artifact.name, size, retention_s = retention.as_secs(),
        overwrite = upload.overwrite, "job {} stored artifact {} ({size} bytes)", job.name, artifact.name);
    let view = ArtifactView {
        name: artifact.name,
        size,
        files: manifest.files,
        created_at: artifact.created_at,
        expires_at: artifact.expires_at,
        job: Some(job.name),
    };
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /api/v1/runner/jobs/{id}/artifacts`: the artifacts of the job's run, with their files.
#[utoipa::path(
    get,
    path = "/api/v1/runner/jobs/{id}/artifacts",
    operation_id = "list_job_run_artifacts",
    tag = "runners",
    params(("id" = Id, Path, description = "The job's id")),
    security(("runner" = [])),
    responses(
        (status = 200, description = "The run's artifacts by name", body = [ArtifactView]),
        crate::api::Invalid,
        crate::api::RunnerRefusals,
        crate::api::JobRefusals,
    ),
)]
pub(crate) async fn list_for_job(
    RunnerCaller(runner): RunnerCaller,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<ArtifactView>>, ApiError> {
    let job = held_job(&state, runner.id, id).await?;
    let artifacts = artifacts_of(&state, job.run_id).await?;
    let digests = artifacts.iter().flat_map(|artifact| &artifact.files).map(|file| file.sha256.as_str());
    state.blob_reads.grant(runner.id, job.id, digests);
    Ok(Json(artifacts))
}

/// `GET /api/v1/runs/{id}/artifacts`: the run's artifacts that have not expired.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/artifacts",
    operation_id = "list_run_artifacts",
    tag = "runs",
    params(("id" = Id, Path, description = "The run's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The run's artifacts by name", body = [ArtifactView]),
        crate::api::Invalid,
        (status = 404, description = "No such run", body = ErrorBody),
        crate::api::Refusals,
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<ArtifactView>>, ApiError> {
    state.store.runs().get(id).await?;
    artifacts_of(&state, id).await.map(Json)
}

/// The run's artifacts that have not expired, with their manifests, by name.
pub(crate) async fn artifacts_of(state: &AppState, run_id: i64) -> Result<Vec<ArtifactView>, ApiError> {
    let now = now_ms();
    let jobs = state.store.jobs().list_for_run(run_id).await?;
    let mut views = Vec::new();
    for artifact in state.store.artifacts().list_for_run(run_id).await? {
        if artifact.expires_at.is_some_and(|expiry| expiry <= now) {
            continue;
        }
        let manifest = read_manifest(state, &artifact).await?;
        views.push(ArtifactView {
            size: u64::try_from(artifact.size).unwrap_or(0),
            files: manifest.files,
            created_at: artifact.created_at,
            expires_at: artifact.expires_at,
            job: jobs.iter().find(|job| Some(job.id) == artifact.job_id).map(|job| job.name.clone()),
            name: artifact.name,
        });
    }
    Ok(views)
}

/// The manifest blob of `artifact`.
pub(crate) async fn read_manifest(state: &AppState, artifact: &Artifact) -> Result<ArtifactManifest, ApiError> {
    manifest_at(state, &artifact.digest).await.map_err(|error| {
        error!(artifact = %artifact.name, run.id = artifact.run_id, %error, "artifact {} of run {}: {error}", artifact.name, artifact.run_id);
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "an artifact's manifest cannot be read; see the server's log")
    })
}

/// Why a manifest blob could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ManifestError {
    #[error("reading manifest {digest}: {source}")]
    Read { digest: String, source: std::io::Error },
    #[error("manifest {digest} is not a manifest: {source}")]
    Invalid { digest: String, source: serde_json::Error },
}

/// The manifest in blob `digest`.
pub(crate) async fn manifest_at(state: &AppState, digest: &str) -> Result<ArtifactManifest, ManifestError> {
    let bytes = tokio::fs::read(state.blobs.path(digest))
        .await
        .map_err(|source| ManifestError::Read { digest: digest.to_owned(), source })?;
    serde_json::from_slice(&bytes).map_err(|source| ManifestError::Invalid { digest: digest.to_owned(), source })
}

/// `GET /api/v1/runs/{id}/artifacts/{name}`: the artifact's files as a `.tar`.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/artifacts/{name}",
    operation_id = "download_artifact",
    tag = "runs",
    params(
        ("id" = Id, Path, description = "The run's id"),
        ("name" = String, Path, description = "The artifact's name"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A tar archive of the artifact's files", content_type = "application/x-tar", body = BlobBytes),
        crate::api::Invalid,
        (status = 404, description = "No such run, or no such artifact in it (or it expired)", body = ErrorBody),
        crate::api::Refusals,
    ),
)]
pub(crate) async fn download(
    State(state): State<AppState>,
    Path((id, name)): Path<(i64, String)>,
) -> Result<Response, ApiError> {
    state.store.runs().get(id).await?;
    let now = now_ms();
    let artifact = state
        .store
        .artifacts()
        .list_for_run(id)
        .await?
        .into_iter()
        .find(|artifact| artifact.name == name && artifact.expires_at.is_none_or(|expiry| expiry > now))
        .ok_or_else(|| ApiError::not_found("artifact", format!("{name:?} of run {id}")))?;
    let manifest = read_manifest(&state, &artifact).await?;
    let length: u64 = manifest
        .files
        .iter()
        .map(|file| {
            let header = tar::file_header(&file.path, file.size, file.mode, 0).len() as u64;
            header + file.size + tar::padding(file.size) as u64
        })
        .sum::<u64>()
        + tar::END.len() as u64;
    let mtime_s = u64::try_from(artifact.created_at / 1000).unwrap_or(0);
    let blobs = state.blobs.clone();
    let (tx, body) = channel_body();
    tokio::spawn(async move {
        for file in &manifest.files {
            let mode = if file.mode & 0o777 == 0 { 0o644 } else { file.mode };
            let header = tar::file_header(&file.path, file.size, mode, mtime_s);
            if tx.send(Ok(Bytes::from(header))).await.is_err() || !send_file(&tx, &blobs.path(&file.sha256)).await {
                return;
            }
            let padding = tar::padding(file.size);
            if padding > 0 && tx.send(Ok(Bytes::from(vec![0; padding]))).await.is_err() {
                return;
            }
        }
        let _ = tx.send(Ok(Bytes::from_static(&tar::END))).await;
    });
    let disposition = format!("attachment; filename=\"{}.tar\"", artifact.name);
    Ok((
        [
            (CONTENT_TYPE, "application/x-tar".to_owned()),
            (CONTENT_LENGTH, length.to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

pub(crate) type Chunks = mpsc::Sender<std::io::Result<Bytes>>;

/// A response body and the sender that fills it, chunk by chunk, from a task of its own; a
/// chunk sent as an error breaks the response off, so the client sees it is incomplete.
pub(crate) fn channel_body() -> (Chunks, axum::body::Body) {
    let (tx, rx) = mpsc::channel(4);
    let body = axum::body::Body::from_stream(futures_util::stream::unfold(rx, async |mut rx| {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    (tx, body)
}

/// Sends the file at `path`; `false` when it could not (the error was sent) or the client left.
pub(crate) async fn send_file(tx: &Chunks, path: &std::path::Path) -> bool {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(error) => {
            error!(path = %path.display(), %error, "reading blob {}: {error}", path.display());
            let _ = tx.send(Err(error)).await;
            return false;
        }
    };
    loop {
        let mut buf = vec![0; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => return true,
            Ok(n) => {
                buf.truncate(n);
                if tx.send(Ok(Bytes::from(buf))).await.is_err() {
                    return false;
                }
            }
            Err(error) => {
                let _ = tx.send(Err(error)).await;
                return false;
            }
        }
    }
}
