//! The results service's cache protocol: twirp JSON `POST`s to
//! `/twirp/github.actions.results.api.v1.CacheService/{method}` on the host of
//! `ACTIONS_RESULTS_URL`, as `@actions/cache`'s `CacheServiceClientJSON` sends them
//! (`Content-Type: application/json`, `Authorization: Bearer $ACTIONS_RUNTIME_TOKEN`, proto
//! field names). Refusals are twirp errors, `{"code", "msg"}` with twirp's status for the code;
//! a miss is `200 {"ok": false}`, as GitHub answers it.
//!
//! `CreateCacheEntry` reserves an upload and answers a signed URL the toolkit hands the Azure
//! Blob SDK (`blob.rs`); `FinalizeCacheEntryUpload` commits what arrived there with its size;
//! `GetCacheEntryDownloadURL` finds the entry and answers a signed URL to `GET` it from.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::response::{IntoResponse, Response};
use ferry_proto::runtime::{
    CreateCacheEntryRequest, CreateCacheEntryResponse, FinalizeCacheEntryUploadRequest,
    FinalizeCacheEntryUploadResponse, GetCacheEntryDownloadUrlRequest, GetCacheEntryDownloadUrlResponse, TwirpError,
};
use serde::de::DeserializeOwned;

use super::{CacheService, RuntimeCaller, RuntimeError, check_entry_name, check_lookup};

pub(crate) const CREATE: &str = "/twirp/github.actions.results.api.v1.CacheService/CreateCacheEntry";
pub(crate) const FINALIZE: &str = "/twirp/github.actions.results.api.v1.CacheService/FinalizeCacheEntryUpload";
pub(crate) const DOWNLOAD_URL: &str = "/twirp/github.actions.results.api.v1.CacheService/GetCacheEntryDownloadURL";

/// A refusal as a twirp error.
pub(crate) struct Twirp(RuntimeError);

impl From<RuntimeError> for Twirp {
    fn from(error: RuntimeError) -> Twirp {
        Twirp(error)
    }
}

impl IntoResponse for Twirp {
    fn into_response(self) -> Response {
        let code = match &self.0 {
            RuntimeError::Unauthenticated(_) => "unauthenticated",
            RuntimeError::BadRequest(_) => "invalid_argument",
            RuntimeError::NotFound(_) => "not_found",
            RuntimeError::Taken(_) => "already_exists",
            RuntimeError::TooLarge(_) => "resource_exhausted",
            RuntimeError::Internal(_) => "internal",
        };
        // Twirp's status for resource_exhausted is 429.
        let status = match &self.0 {
            RuntimeError::TooLarge(_) => axum::http::StatusCode::TOO_MANY_REQUESTS,
            other => other.status(),
        };
        (status, Json(TwirpError { code: code.to_owned(), msg: self.0.public_message() })).into_response()
    }
}

/// A twirp JSON body. Handlers take it as a `Result` and look at it after the token, so a
/// caller without a token learns only that.
pub(crate) struct TwirpBody<T>(T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for TwirpBody<T> {
    type Rejection = Twirp;

    async fn from_request(request: Request, state: &S) -> Result<TwirpBody<T>, Twirp> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|error| RuntimeError::BadRequest(format!("reading the request body: {error}")))?;
        let request = serde_json::from_slice(&bytes)
            .map_err(|error| RuntimeError::BadRequest(format!("the request body is not the method's JSON: {error}")))?;
        Ok(TwirpBody(request))
    }
}

/// `CreateCacheEntry`: reserves an upload; the answer names where to upload the archive.
#[utoipa::path(
    post,
    path = "/twirp/github.actions.results.api.v1.CacheService/CreateCacheEntry",
    operation_id = "twirp_create_cache_entry",
    tag = "runtime",
    request_body = CreateCacheEntryRequest,
    security(("runtime" = [])),
    responses(
        (status = 200, description = "Reserved: upload the archive to `signed_upload_url` with the Azure Blob protocol", body = CreateCacheEntryResponse),
        (status = 409, description = "`already_exists`: the scope has the entry, or another job is saving it", body = TwirpError),
        crate::api::TwirpRefusals,
    ),
)]
pub(crate) async fn create_cache_entry(
    State(service): State<Arc<CacheService>>,
    caller: Result<RuntimeCaller, RuntimeError>,
    body: Result<TwirpBody<CreateCacheEntryRequest>, Twirp>,
) -> Result<Json<CreateCacheEntryResponse>, Twirp> {
    let RuntimeCaller(caller) = caller?;
    let TwirpBody(request) = body?;
    check_entry_name(&request.key, &request.version)?;
    if service.backend.exists(&caller, &request.key, &request.version).await? {
        return Err(super::legacy::taken(&caller, &request.key).into());
    }
    let (id, ticket) = service.uploads.reserve(&caller, &request.key, &request.version, None)?;
    let signed_upload_url =
        format!("{}{}?sig={ticket}", service.base_url, super::blob::UPLOAD.replace("{id}", &id.to_string()));
    Ok(Json(CreateCacheEntryResponse { ok: true, signed_upload_url, message: String::new() }))
}

/// `FinalizeCacheEntryUpload`: saves the uploaded archive when all `size_bytes` of it arrived.
#[utoipa::path(
    post,
    path = "/twirp/github.actions.results.api.v1.CacheService/FinalizeCacheEntryUpload",
    operation_id = "twirp_finalize_cache_entry_upload",
    tag = "runtime",
    request_body = FinalizeCacheEntryUploadRequest,
    security(("runtime" = [])),
    responses(
        (status = 200, description = "Saved", body = FinalizeCacheEntryUploadResponse),
        (status = 404, description = "`not_found`: no upload of this entry in progress for this job", body = TwirpError),
        (status = 409, description = "`already_exists`: another job saved the entry first", body = TwirpError),
        crate::api::TwirpRefusals,
    ),
)]
pub(crate) async fn finalize_cache_entry_upload(
    State(service): State<Arc<CacheService>>,
    caller: Result<RuntimeCaller, RuntimeError>,
    body: Result<TwirpBody<FinalizeCacheEntryUploadRequest>, Twirp>,
) -> Result<Json<FinalizeCacheEntryUploadResponse>, Twirp> {
    let RuntimeCaller(caller) = caller?;
    let TwirpBody(request) = body?;
    check_entry_name(&request.key, &request.version)?;
    let size = u64::try_from(request.size_bytes)
        .map_err(|_| RuntimeError::BadRequest(format!("size_bytes {} is negative", request.size_bytes)))?;
    let id = service.uploads.find(&caller, &request.key, &request.version).ok_or_else(|| {
        RuntimeError::NotFound(format!("no upload of cache entry {} in progress for this job", request.key))
    })?;
    let committed = service.uploads.commit(&caller, id, size).await?;
    let entry_id = super::legacy::save(&service, committed).await?;
    Ok(Json(FinalizeCacheEntryUploadResponse { ok: true, entry_id: entry_id.to_string(), message: String::new() }))
}

/// `GetCacheEntryDownloadURL`: the entry to restore, and where to download its archive.
#[utoipa::path(
    post,
    path = "/twirp/github.actions.results.api.v1.CacheService/GetCacheEntryDownloadURL",
    operation_id = "twirp_get_cache_entry_download_url",
    tag = "runtime",
    request_body = GetCacheEntryDownloadUrlRequest,
    security(("runtime" = [])),
    responses(
        (status = 200, description = "The entry (`ok`), or a miss (`ok` false)", body = GetCacheEntryDownloadUrlResponse),
        crate::api::TwirpRefusals,
    ),
)]
pub(crate) async fn get_cache_entry_download_url(
    State(service): State<Arc<CacheService>>,
    caller: Result<RuntimeCaller, RuntimeError>,
    body: Result<TwirpBody<GetCacheEntryDownloadUrlRequest>, Twirp>,
) -> Result<Json<GetCacheEntryDownloadUrlResponse>, Twirp> {
    let RuntimeCaller(caller) = caller?;
    let TwirpBody(request) = body?;
    let keys: Vec<String> = std::iter::once(request.key).chain(request.restore_keys).collect();
    check_lookup(&keys, &request.version)?;
    let answer = match service.backend.lookup(&caller, &keys, &request.version).await? {
        Some(found) => GetCacheEntryDownloadUrlResponse {
            ok: true,
            signed_download_url: service.download_url(&found),
            matched_key: found.key,
        },
        None => GetCacheEntryDownloadUrlResponse {
            ok: false,
            signed_download_url: String::new(),
            matched_key: String::new(),
        },
    };
    Ok(Json(answer))
}
