//! The bodies of the runtime services steps and actions reach through `ACTIONS_CACHE_URL`
//! and `ACTIONS_RESULTS_URL` with `ACTIONS_RUNTIME_TOKEN`: GitHub's cache service as
//! `@actions/cache` speaks it, in its legacy protocol (camelCase JSON) and in the results
//! service's twirp protocol (protobuf's JSON mapping: the toolkit sends proto field names,
//! `snake_case`, and 64-bit integers as strings; either spelling and either form of a number
//! is read), and what a runner is told to reach them with.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Where a job's steps reach the runtime services, and the token that opens them to this job
/// only, while it runs. The runner gives it to actions (not `run:` steps) as `ACTIONS_RUNTIME_URL`,
/// `ACTIONS_CACHE_URL`, `ACTIONS_RESULTS_URL` (each `url` with a trailing `/`) and
/// `ACTIONS_RUNTIME_TOKEN`, and masks the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuntimeAccess {
    /// The services' base URL, without a trailing `/` (`http://ferry.example.com`).
    pub url: String,
    /// The job's `ACTIONS_RUNTIME_TOKEN`.
    pub token: String,
}

/// The paths the runtime services answer under, after their base URL's own path: GitHub's
/// legacy cache protocol, the results service's cache methods, and the archives they sign
/// URLs for. A runner that relays the services to containers relays these only.
pub const RUNTIME_PATHS: [&str; 3] =
    ["/_apis/artifactcache/", "/twirp/github.actions.results.api.v1.CacheService/", "/_apis/ferry-cache/"];

/// `GET _apis/artifactcache/cache`'s query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LegacyLookup {
    /// The key, then the restore keys, joined by `,`.
    pub keys: String,
    /// The toolkit's hash of the paths and the compression.
    pub version: String,
}

/// A legacy lookup's hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyCacheEntry {
    /// The key of the entry found (the key or one a key or restore key is a prefix of).
    pub cache_key: String,
    /// The ref it was saved under.
    pub scope: String,
    pub cache_version: String,
    /// A signed URL to `GET` the archive from, without a token.
    pub archive_location: String,
}

/// `POST _apis/artifactcache/caches`: reserve an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyReserve {
    pub key: String,
    pub version: String,
    /// The archive's size, when the client says it.
    #[serde(default)]
    pub cache_size: Option<u64>,
}

/// A reserved upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LegacyReserved {
    pub cache_id: i64,
}

/// `POST _apis/artifactcache/caches/{id}`: commit an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LegacyCommit {
    /// The archive's size in bytes.
    pub size: u64,
}

/// `CreateCacheEntry`'s request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreateCacheEntryRequest {
    pub key: String,
    pub version: String,
}

/// `CreateCacheEntry`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreateCacheEntryResponse {
    pub ok: bool,
    /// Where the Azure Blob SDK uploads the archive.
    pub signed_upload_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// `FinalizeCacheEntryUpload`'s request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FinalizeCacheEntryUploadRequest {
    pub key: String,
    pub version: String,
    /// The archive's size (an int64: a string in protobuf's JSON).
    #[serde(alias = "sizeBytes", deserialize_with = "int64")]
    #[schema(value_type = String)]
    pub size_bytes: i64,
}

/// `FinalizeCacheEntryUpload`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FinalizeCacheEntryUploadResponse {
    pub ok: bool,
    /// The entry's id (an int64: a string in protobuf's JSON).
    pub entry_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// `GetCacheEntryDownloadURL`'s request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GetCacheEntryDownloadUrlRequest {
    pub key: String,
    #[serde(default, alias = "restoreKeys")]
    pub restore_keys: Vec<String>,
    pub version: String,
}

/// `GetCacheEntryDownloadURL`'s answer; `ok` is false for a miss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GetCacheEntryDownloadUrlResponse {
    pub ok: bool,
    /// A signed URL to `GET` the archive from, without a token.
    pub signed_download_url: String,
    pub matched_key: String,
}

/// A refusal of the legacy cache protocol (`_apis/artifactcache`): `{"message": "…"}`, which
/// the toolkit's HTTP client shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LegacyError {
    /// What went wrong, for a person to read.
    pub message: String,
}

/// A twirp error: `{"code": "not_found", "msg": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TwirpError {
    /// Twirp's error code: `unauthenticated`, `invalid_argument`, `not_found`, `already_exists`, …
    pub code: String,
    pub msg: String,
}

/// An int64 of protobuf's JSON: a string or a number.
fn int64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int64 {
        Number(i64),
        Text(String),
    }
    match Int64::deserialize(deserializer)? {
        Int64::Number(number) => Ok(number),
        Int64::Text(text) => text.trim().parse().map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests;
