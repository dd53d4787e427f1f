//! Artifacts: files a job keeps for the rest of its run and for people to download. Their
//! bytes are content-addressed blobs (named by their SHA-256 in lowercase hex); an artifact
//! is a named manifest of files, itself stored as a blob.
//!
//! | call | body → answer |
//! |---|---|
//! | `POST /api/v1/runner/blobs/missing` (runner token) | [`BlobList`] → [`BlobList`] of those the server lacks |
//! | `PUT /api/v1/runner/blobs/{sha256}` | the bytes → 204 |
//! | `GET /api/v1/runner/blobs/{sha256}` | → the bytes |
//! | `POST /api/v1/runner/jobs/{id}/artifacts` | [`ArtifactUpload`] → 201 [`ArtifactView`] |
//! | `GET /api/v1/runner/jobs/{id}/artifacts` | → the run's [`ArtifactView`]s |
//! | `GET /api/v1/runs/{id}/artifacts` (viewer token) | → the run's [`ArtifactView`]s |
//! | `GET /api/v1/runs/{id}/artifacts/{name}` | → a `.tar` of the artifact's files |
//! | `POST /api/v1/runner/jobs/{id}/cache/lookup` | [`CacheLookup`] → 200 [`CacheEntryView`] or 204 |
//! | `POST /api/v1/runner/jobs/{id}/cache` | [`CacheEntryView`] → 201 [`CacheEntryView`] |
//!
//! `actions/cache` entries are manifests too, of the project of the job that saved them and
//! scoped by the ref of its run, as on GitHub; a key is stored once per scope (entries are
//! immutable). A lookup answers what the job's run may restore.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

pub use crate::names::is_digest;

/// One file of an artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArtifactFile {
    /// Relative to the artifact's root, `/`-separated, without empty, `.` or `..` parts,
    /// backslashes or NUL; up to 4096 characters.
    #[schema(
        pattern = r"^(?!(?:[^/]*/)*\.\.?(?:/|$))[^/\\\u0000]+(?:/[^/\\\u0000]+)*$",
        min_length = 1,
        max_length = 4096
    )]
    pub path: String,
    /// The SHA-256 of its bytes, lowercase hex: the blob that holds them.
    #[schema(value_type = crate::names::Digest)]
    pub sha256: String,
    pub size: u64,
    /// Unix permission bits (`0o644`, `0o755`).
    pub mode: u32,
}

/// The longest `retention_days` an artifact may ask for: ten years.
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// What a runner records after uploading an artifact's blobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArtifactUpload {
    /// Unique in the run; 1 to 255 characters without `/ \ : < > | * ? "` or control
    /// characters, not `.` or `..` (as `actions/upload-artifact` takes them).
    #[schema(pattern = r#"^(?!\.\.?$)[^/\\:<>|*?"\u0000-\u001f\u007f-\u009f]+$"#, min_length = 1, max_length = 255)]
    pub name: String,
    pub files: Vec<ArtifactFile>,
    /// How many days to keep it (`retention-days`), 1 to [`MAX_RETENTION_DAYS`]; the server keeps it no longer
    /// than its own artifact retention. `None`: the server's retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 3650)]
    pub retention_days: Option<u32>,
    /// Replaces the run's artifact of this name, if it has one (`overwrite: true`); without
    /// it a taken name is refused.
    #[serde(default)]
    pub overwrite: bool,
}

/// The blob an artifact's files are listed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArtifactManifest {
    pub files: Vec<ArtifactFile>,
}

/// An artifact of a run, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArtifactView {
    pub name: String,
    /// The sum of its files' sizes, in bytes.
    pub size: u64,
    pub files: Vec<ArtifactFile>,
    pub created_at: i64,
    /// When the server deletes it; `None` keeps it.
    pub expires_at: Option<i64>,
    /// The name of the job that uploaded it, while that job exists.
    pub job: Option<String>,
}

/// Which cache entry a job would restore, searched in each scope its run may restore from in
/// turn: `key` exactly, else the newest entry whose key starts with `key`, else the same for
/// each of `restore_keys` in turn.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct CacheLookup {
    /// 1 to 512 characters without commas.
    #[schema(pattern = "^[^,]+$", min_length = 1, max_length = 512)]
    pub key: String,
    #[serde(default)]
    pub restore_keys: Vec<String>,
}

/// A cache entry of a project: its key and files (as an artifact's, in blobs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CacheEntryView {
    /// 1 to 512 characters without commas.
    #[schema(pattern = "^[^,]+$", min_length = 1, max_length = 512)]
    pub key: String,
    pub files: Vec<ArtifactFile>,
}

/// SHA-256 digests of blobs, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct BlobList {
    #[schema(value_type = Vec<crate::names::Digest>)]
    pub digests: Vec<String>,
}

/// Bytes as they are, as a schema: a blob's body, an artifact's `.tar`. (A schema only.)
pub enum Bytes {}

impl PartialSchema for Bytes {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Bytes {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Bytes")
    }
}
