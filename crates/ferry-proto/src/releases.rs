//! Releases: what a service runs, immutable and numbered per service (1, 2, 3, … in the order
//! made). A release holds its files (content-addressed blobs, the store artifacts use), the
//! commit and the `.ferry/deploy.yml` it was made from, the run that built it, its author and
//! the commits since the service's previous release.
//!
//! | call | body → answer |
//! |---|---|
//! | `GET /api/v1/projects/{name}/releases?service=S` (viewer) | → [`ReleaseView`]s, newest first |
//! | `GET /api/v1/projects/{name}/releases/{service}/{number}` (viewer) | → [`ReleaseView`] |
//! | `POST /api/v1/projects/{name}/releases` (developer) | [`ReleaseRequest`] → 201 [`ReleaseView`] |
//! | `POST /api/v1/projects/{name}/blobs/missing` (developer) | [`BlobList`](crate::artifacts::BlobList) → those to upload |
//! | `PUT /api/v1/projects/{name}/blobs/{sha256}` (developer) | the bytes → 204 |
//!
//! A release made from files may name only blobs its project uploaded (the two blob routes),
//! or that its runs' artifacts or its earlier releases hold: blobs are shared by digest
//! across projects, and a digest learnt elsewhere must not reach another project's files.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::artifacts::ArtifactFile;

/// One commit a release brings: those since the service's previous release, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseCommit {
    pub sha: String,
    /// The subject line of its message.
    pub message: String,
    pub author: String,
    /// The commit's author date, milliseconds since the Unix epoch.
    pub at: i64,
}

/// A release as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseView {
    pub id: i64,
    pub project: String,
    pub service: String,
    /// 1, 2, 3, … per service, in the order made.
    pub number: i64,
    /// The commit it was made from (full id).
    pub commit: String,
    /// The run that built it; `None` for one made from files by hand (or whose run was deleted).
    pub run_id: Option<i64>,
    /// Who made it: the run's actor, or the token's name.
    pub author: Option<String>,
    /// The sum of its files' sizes, in bytes.
    pub size: u64,
    pub files: Vec<ArtifactFile>,
    /// The commits since the service's previous release, newest first (for a first release,
    /// its own commit).
    pub commits: Vec<ReleaseCommit>,
    /// The `.ferry/deploy.yml` of its commit.
    pub deploy_spec: String,
    pub created_at: i64,
}

/// `POST /api/v1/projects/{name}/releases`: a release of `service` made from the `release:`
/// artifact of run `run_id` (its files and its commit), or from `files` already uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct ReleaseRequest {
    /// A service of the commit's `.ferry/deploy.yml`.
    #[schema(value_type = crate::names::Name)]
    pub service: String,
    /// A run of the project whose artifact the service's `release:` names. Exactly one of
    /// `run_id` and `files`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    /// The release's files, their blobs uploaded first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<ArtifactFile>>,
    /// The commit (a full id, branch or tag) whose `.ferry/deploy.yml` the release takes; a
    /// release from files defaults to the head of the project's branch, one from a run is
    /// the run's commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}
