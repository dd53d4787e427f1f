//! Releases through the API: list and read them (viewers), make one from a run's artifact or
//! from uploaded files (developers), and upload those files' blobs for a project. See
//! `ferry_proto::releases` and `releases.rs` (how a release is made).

use axum::Json;
use axum::extract::State;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderMap, StatusCode};
use ferry_proto::artifacts::{BlobList, Bytes as BlobBytes};
use ferry_proto::names::{Digest, Name};
use ferry_proto::releases::{ReleaseRequest, ReleaseView};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::artifacts::check_digest;
use crate::api::projects::project_by_name;
use crate::api::{ApiError, Body, ErrorBody, Path, Query};
use crate::auth::Caller;
use crate::blobs::{BlobError, MAX_BLOB_BYTES};
use crate::releases::{ReleaseSource, create_release, project_may_name, release_view};
use crate::{AppState, now_ms};

/// Which releases `GET /api/v1/projects/{name}/releases` lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReleaseQuery {
    /// Only this service's.
    service: Option<String>,
}

/// `GET /api/v1/projects/{name}/releases?service=S`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/releases",
    operation_id = "list_releases",
    tag = "releases",
    params(("name" = Name, Path, description = "The project's name"), ReleaseQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The project's releases (of the service), newest first", body = [ReleaseView]),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<ReleaseQuery>,
) -> Result<Json<Vec<ReleaseView>>, ApiError> {
    let project = project_by_name(&state, &name).await?;
    let releases = state.store.releases().list(project.id, query.service.as_deref()).await?;
    Ok(Json(releases.into_iter().map(|release| release_view(&project.name, release)).collect()))
}

/// `GET /api/v1/projects/{name}/releases/{service}/{number}`.
#[utoipa::path(
    get,
    path = "/api/v1/projects/{name}/releases/{service}/{number}",
    operation_id = "get_release",
    tag = "releases",
    params(
        ("name" = Name, Path, description = "The project's name"),
        ("service" = Name, Path, description = "The service's name"),
        ("number" = i64, Path, description = "The release's number within its service"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The release", body = ReleaseView),
        crate::api::Invalid,
        crate::api::Refusals,
        (status = 404, description = "No such project, or no such release of the service", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path((name, service, number)): Path<(String, String, i64)>,
) -> Result<Json<ReleaseView>, ApiError> {
    let project = project_by_name(&state, &name).await?;
    let release = state.store.releases().get(project.id, &service, number).await?;
    Ok(Json(release_view(&project.name, release)))
}

/// `POST /api/v1/projects/{name}/releases`: makes a release from a run or from files.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/releases",
    operation_id = "create_release",
    tag = "releases",
    params(("name" = Name, Path, description = "The project's name")),
    request_body = ReleaseRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Made", body = ReleaseView),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "The run already made a release of the service", body = ErrorBody),
        (status = 422, description = "The project has no such run, or it did not succeed or lacks the artifact; both a run and a commit, or both a run and files, are given; a file's blob was not uploaded to the project; the commit has no .ferry/deploy.yml declaring the service, or it has errors; the project's repository could not be read", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn create(
    Caller(token): Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(request): Body<ReleaseRequest>,
) -> Result<(StatusCode, Json<ReleaseView>), ApiError> {
    let project = project_by_name(&state, &name).await?;
    let source = match (request.run_id, request.files) {
        (Some(run_id), None) => {
            if request.commit.is_some() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "a release from a run is made from the run's commit; leave `commit` out",
                ));
            }
            ReleaseSource::Run(run_id)
        }
        (None, Some(files)) => ReleaseSource::Files { files, commit: request.commit },
        _ => {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "give exactly one of `run_id` and `files`"));
        }
    };
    let release = create_release(&state, &project, &request.service, source, Some(&token.name)).await?;
    Ok((StatusCode::CREATED, Json(release_view(&project.name, release))))
}

/// `POST /api/v1/projects/{name}/blobs/missing`: which of these blobs the project cannot name
/// yet (the server lacks it, or the project never uploaded it), to upload before a release.
#[utoipa::path(
    post,
    path = "/api/v1/projects/{name}/blobs/missing",
    operation_id = "missing_project_blobs",
    tag = "releases",
    params(("name" = Name, Path, description = "The project's name")),
    request_body = BlobList,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The digests to upload, in the order asked", body = BlobList),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project", body = ErrorBody),
        crate::api::BodyRefusals,
    ),
)]
pub(crate) async fn missing_blobs(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Body(list): Body<BlobList>,
) -> Result<Json<BlobList>, ApiError> {
    let project = project_by_name(&state, &name).await?;
    let mut missing = Vec::new();
    for digest in list.digests {
        check_digest(&digest)?;
        // A blob another project uploaded is missing here too: this answer tells nothing of
        // other projects' files, and uploading proves the bytes are the caller's.
        if state.blobs.size(&digest).await.is_none() || !project_may_name(&state, project.id, &digest).await? {
            missing.push(digest);
        }
    }
    Ok(Json(BlobList { digests: missing }))
}

/// `PUT /api/v1/projects/{name}/blobs/{sha256}`: stores the body as the blob it is named
/// after, which the project's releases may then name.
#[utoipa::path(
    put,
    path = "/api/v1/projects/{name}/blobs/{sha256}",
    operation_id = "put_project_blob",
    tag = "releases",
    params(
        ("name" = Name, Path, description = "The project's name"),
        ("sha256" = Digest, Path, description = "The SHA-256 of the body"),
    ),
    request_body(content = BlobBytes, content_type = "application/octet-stream"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Stored (or it was already)"),
        crate::api::Invalid,
        crate::api::Refusals,
        crate::api::BelowDeveloper,
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 413, description = "The body is over 10 GiB", body = ErrorBody),
        (status = 422, description = "The body's SHA-256 is not the one named", body = ErrorBody),
    ),
)]
pub(crate) async fn put_blob(
    State(state): State<AppState>,
    Path((name, digest)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<StatusCode, ApiError> {
    check_digest(&digest)?;
    let project = project_by_name(&state, &name).await?;
    let declared = headers.get(CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BLOB_BYTES) {
        return Err(BlobError::TooLarge.into());
    }
    // Written (and its digest checked) even when the server has it: the bytes prove the
    // project has the file, not only its digest.
    state.blobs.write(&digest, body.into_data_stream()).await?;
    state.store.project_blobs().add(project.id, &digest, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
