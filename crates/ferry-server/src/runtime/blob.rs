//! The signed URLs: archives uploaded as the Azure Blob SDK's `BlockBlobClient.uploadFile`
//! uploads them, and downloaded with a plain `GET`. The ticket in the query (`sig=`) is the
//! only credential, as a SAS is on Azure: the toolkit sends no token to these URLs, and the
//! server never logs a query.
//!
//! Uploads (`PUT /_apis/ferry-cache/uploads/{id}?sig=…`, 201 on success as Azure answers):
//! - an archive up to the toolkit's `maxSingleShotSize` (128 MiB) in one request with
//!   `x-ms-blob-type: BlockBlob`;
//! - a larger one in blocks, `&comp=block&blockid=<base64>` each (in parallel), then
//!   `&comp=blocklist` with `<BlockList><Latest>id</Latest>…</BlockList>`, which puts them
//!   together in that order.
//!
//! The path has three segments, so the SDK finds an account, a container and a blob name in
//! it whether the host is an address (`127.0.0.1`: path-style, as Azurite) or a name.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{CacheService, RuntimeError};

pub(crate) const UPLOAD: &str = "/_apis/ferry-cache/uploads/{id}";
pub(crate) const ARCHIVE: &str = "/_apis/ferry-cache/archives/{id}";

/// The largest block list body read.
const MAX_BLOCK_LIST_BYTES: usize = 8 * 1024 * 1024;

/// A refusal as Azure Storage answers one: XML with the code in `x-ms-error-code`.
pub(crate) struct AzureError(RuntimeError);

impl From<RuntimeError> for AzureError {
    fn from(error: RuntimeError) -> AzureError {
        AzureError(error)
    }
}

impl IntoResponse for AzureError {
    fn into_response(self) -> Response {
        let code = match &self.0 {
            RuntimeError::Unauthenticated(_) => "AuthenticationFailed",
            RuntimeError::NotFound(_) => "BlobNotFound",
            RuntimeError::BadRequest(_) => "InvalidInput",
            RuntimeError::Taken(_) => "BlobAlreadyExists",
            RuntimeError::TooLarge(_) => "RequestBodyTooLarge",
            RuntimeError::Internal(_) => "InternalError",
        };
        let message = xml_escape(&self.0.public_message());
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
        );
        (self.0.status(), [("content-type", "application/xml"), ("x-ms-error-code", code)], body).into_response()
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The query of an upload request: the ticket and Azure's operation.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// The signed URL's ticket (without one, the upload is not found).
    #[serde(default)]
    sig: String,
    /// `block` or `blocklist`; none uploads the whole archive.
    comp: Option<String>,
    /// The block's id (base64), with `comp=block`.
    blockid: Option<String>,
}

/// `PUT /_apis/ferry-cache/uploads/{id}`: the archive, a block of it or its block list.
#[utoipa::path(
    put,
    path = "/_apis/ferry-cache/uploads/{id}",
    operation_id = "upload_cache_archive",
    tag = "runtime",
    params(("id" = ferry_proto::names::Id, Path, description = "The upload"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The archive or a block of it, or (`comp=blocklist`) the block list's XML"),
    responses(
        (status = 201, description = "Stored"),
        (status = 400, description = "A block list names a block that was not staged, or the request is not one of Azure's", content_type = "application/xml"),
        (status = 404, description = "No such upload, or the ticket is wrong or expired", content_type = "application/xml"),
        (status = 413, description = "Past the entry's limit or the service's upload budget", content_type = "application/xml"),
    ),
)]
pub(crate) async fn upload(
    State(service): State<Arc<CacheService>>,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AzureError> {
    // Parsed here so that a bad id is refused in Azure's XML too, as the SDK expects.
    let id: i64 = id.parse().map_err(|_| RuntimeError::BadRequest(format!("`{id}` is not an upload's id")))?;
    service.uploads.check_ticket(id, &query.sig)?;
    match (query.comp.as_deref(), query.blockid.as_deref()) {
        (None, _) => {
            let blob_type = headers.get("x-ms-blob-type").and_then(|value| value.to_str().ok());
            if blob_type != Some("BlockBlob") {
                return Err(RuntimeError::BadRequest(format!(
                    "an archive is uploaded as a block blob (`x-ms-blob-type: BlockBlob`), not {blob_type:?}"
                ))
                .into());
            }
            service.uploads.write_whole(id, &query.sig, body).await?;
        }
        (Some("block"), Some(block_id)) if !block_id.is_empty() && block_id.len() <= 128 => {
            service.uploads.write_block(id, &query.sig, block_id, body).await?;
        }
        (Some("blocklist"), _) => {
            let bytes = axum::body::to_bytes(body, MAX_BLOCK_LIST_BYTES)
                .await
                .map_err(|error| RuntimeError::BadRequest(format!("reading the block list: {error}")))?;
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| RuntimeError::BadRequest("the block list is not UTF-8 XML".to_owned()))?;
            let block_ids = block_list(text)?;
            service.uploads.write_block_list(id, &query.sig, &block_ids).await?;
        }
        (comp, _) => {
            return Err(RuntimeError::BadRequest(format!(
                "comp={comp:?} is not an upload: `block` with a `blockid`, or `blocklist`"
            ))
            .into());
        }
    }
    Ok((StatusCode::CREATED, [("x-ms-request-server-encrypted", "false")]).into_response())
}

/// The block ids of a block list, in order: `<Latest>`, `<Committed>` or `<Uncommitted>`
/// elements of `<BlockList>` (the SDK sends `<Latest>`).
pub(crate) fn block_list(xml: &str) -> Result<Vec<String>, RuntimeError> {
    let start = xml
        .find("<BlockList>")
        .ok_or_else(|| RuntimeError::BadRequest("the block list has no <BlockList> element".to_owned()))?;
    let mut rest = &xml[start + "<BlockList>".len()..];
    let mut ids = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.starts_with("</BlockList>") {
            return Ok(ids);
        }
        let Some(open_end) = rest.strip_prefix('<').and_then(|tag| tag.find('>')) else {
            return Err(RuntimeError::BadRequest("the block list ends before </BlockList>".to_owned()));
        };
        let name = &rest[1..=open_end];
        if !["Latest", "Committed", "Uncommitted"].contains(&name) {
            return Err(RuntimeError::BadRequest(format!("<{name}> is not an element of a block list")));
        }
        let body = &rest[open_end + 2..];
        let close = format!("</{name}>");
        let Some(end) = body.find(&close) else {
            return Err(RuntimeError::BadRequest(format!("<{name}> is not closed")));
        };
        ids.push(body[..end].trim().to_owned());
        rest = &body[end + close.len()..];
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DownloadQuery {
    /// The signed URL's ticket (without one, the download is not found).
    #[serde(default)]
    sig: String,
}

/// `GET /_apis/ferry-cache/archives/{id}`: a cache entry's archive, by a signed URL a lookup answered.
#[utoipa::path(
    get,
    path = "/_apis/ferry-cache/archives/{id}",
    operation_id = "download_cache_archive",
    tag = "runtime",
    params(("id" = ferry_proto::names::Id, Path, description = "The download"), DownloadQuery),
    responses(
        (status = 200, description = "The archive", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "The id is not a download's (not a number)"),
        (status = 404, description = "No such download, or the ticket is wrong or expired", content_type = "application/xml"),
    ),
)]
pub(crate) async fn download(
    State(service): State<Arc<CacheService>>,
    Path(id): Path<u64>,
    Query(query): Query<DownloadQuery>,
) -> Result<Response, AzureError> {
    let (archive, size) = service.download(id, &query.sig)?;
    let file = tokio::fs::File::open(&archive).await.map_err(|error| {
        RuntimeError::NotFound(format!("cache archive {id} is gone ({error}); look the entry up again"))
    })?;
    let body = Body::from_stream(file_chunks(file));
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream".to_owned()), (header::CONTENT_LENGTH, size.to_string())],
        body,
    )
        .into_response())
}

/// A file as a stream of chunks.
fn file_chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> + Send + 'static {
    futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(axum::body::Bytes::from(buf)), file))
            }
            Err(error) => Some((Err(error), file)),
        }
    })
}
