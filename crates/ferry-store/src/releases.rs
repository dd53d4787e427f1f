//! Releases of a project's services, numbered per service in the transaction that inserts
//! them, and the blobs a project's people uploaded for releases made from files.

use ferry_proto::artifacts::ArtifactFile;
pub use ferry_proto::releases::ReleaseCommit;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Store, StoreError, conflict_on_unique, decode_error};

/// A release: immutable once made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub id: i64,
    pub project_id: i64,
    pub service: String,
    /// 1, 2, 3, … per project and service, in the order made.
    pub number: i64,
    pub commit_sha: String,
    /// The run that built it, while that run exists.
    pub run_id: Option<i64>,
    pub author: Option<String>,
    pub files: Vec<ArtifactFile>,
    /// The `.ferry/deploy.yml` of its commit.
    pub deploy_spec: String,
    /// The commits since the service's previous release, newest first.
    pub commits: Vec<ReleaseCommit>,
    pub created_at: i64,
}

/// What [`Releases::create`] writes; the number is assigned.
#[derive(Debug, Clone, Copy)]
pub struct NewRelease<'a> {
    pub project_id: i64,
    pub service: &'a str,
    pub commit_sha: &'a str,
    pub run_id: Option<i64>,
    pub author: Option<&'a str>,
    pub files: &'a [ArtifactFile],
    pub deploy_spec: &'a str,
    pub commits: &'a [ReleaseCommit],
}

/// The releases repository: `store.releases()`.
#[derive(Debug, Clone, Copy)]
pub struct Releases<'a> {
    pub(crate) store: &'a Store,
}

/// The project blobs repository: `store.project_blobs()`.
#[derive(Debug, Clone, Copy)]
pub struct ProjectBlobs<'a> {
    pub(crate) store: &'a Store,
}

const COLUMNS: &str =
    "id, project_id, service, number, commit_sha, run_id, author, files, deploy_spec, commits, created_at";

impl Releases<'_> {
    /// Records a release with the next number of its service.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the project does not exist; [`StoreError::Conflict`] when
    /// run `run_id` already made a release of this service (or the run does not exist).
    pub async fn create(&self, release: &NewRelease<'_>, now: i64) -> Result<Release, StoreError> {
        let mut tx = self.store.begin_write().await?;
        // Touching the project row locks it, so concurrent creates number one after another.
        let locked = sqlx::query("UPDATE projects SET name = name WHERE id = $1")
            .bind(release.project_id)
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() == 0 {
            return Err(StoreError::not_found("project", release.project_id));
        }
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(number) FROM releases WHERE project_id = $1 AND service = $2")
                .bind(release.project_id)
                .bind(release.service)
                .fetch_one(&mut *tx)
                .await?;
        let number = last.unwrap_or(0) + 1;
        let files = serde_json::to_string(release.files).expect("files are JSON");
        let commits = serde_json::to_string(release.commits).expect("commits are JSON");
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO releases (project_id, service, number, commit_sha, run_id, author, files, deploy_spec,
                                   commits, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
        )))
        .bind(release.project_id)
        .bind(release.service)
        .bind(number)
        .bind(release.commit_sha)
        .bind(release.run_id)
        .bind(release.author)
        .bind(files)
        .bind(release.deploy_spec)
        .bind(commits)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_on_unique(|| match release.run_id {
            Some(run_id) => format!("release of {} from run {run_id}", release.service),
            None => format!("release {number} of {}", release.service),
        }))?;
        let created = release_from_row(&row)?;
        tx.commit().await?;
        Ok(created)
    }

    /// Release `number` of a project's service.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn get(&self, project_id: i64, service: &str, number: i64) -> Result<Release, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM releases WHERE project_id = $1 AND service = $2 AND number = $3"
        )))
        .bind(project_id)
        .bind(service)
        .bind(number)
        .fetch_optional(&self.store.pool)
        .await?;
        let row = row.ok_or_else(|| StoreError::not_found("release", format!("{number} of {service}")))?;
        release_from_row(&row)
    }

    /// The release with id `id`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn by_id(&self, id: i64) -> Result<Release, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM releases WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?;
        release_from_row(&row.ok_or_else(|| StoreError::not_found("release", id))?)
    }

    /// The newest release of a project's service, if it has one.
    pub async fn latest(&self, project_id: i64, service: &str) -> Result<Option<Release>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM releases WHERE project_id = $1 AND service = $2 ORDER BY number DESC LIMIT 1"
        )))
        .bind(project_id)
        .bind(service)
        .fetch_optional(&self.store.pool)
        .await?;
        row.map(|row| release_from_row(&row)).transpose()
    }

    /// The release run `run_id` made of `service`, if any.
    pub async fn of_run(&self, run_id: i64, service: &str) -> Result<Option<Release>, StoreError> {
        let row =
            sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM releases WHERE run_id = $1 AND service = $2")))
                .bind(run_id)
                .bind(service)
                .fetch_optional(&self.store.pool)
                .await?;
        row.map(|row| release_from_row(&row)).transpose()
    }

    /// A project's releases (of one service, or of all), newest first.
    pub async fn list(&self, project_id: i64, service: Option<&str>) -> Result<Vec<Release>, StoreError> {
        let rows = match service {
            Some(service) => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM releases WHERE project_id = $1 AND service = $2 ORDER BY number DESC"
                )))
                .bind(project_id)
                .bind(service)
                .fetch_all(&self.store.pool)
                .await?
            }
            None => {
                sqlx::query(AssertSqlSafe(format!(
                    "SELECT {COLUMNS} FROM releases WHERE project_id = $1 ORDER BY created_at DESC, id DESC"
                )))
                .bind(project_id)
                .fetch_all(&self.store.pool)
                .await?
            }
        };
        rows.iter().map(release_from_row).collect()
    }

    /// Every release's files, for the blob sweep to keep them.
    pub async fn all_files(&self) -> Result<Vec<ArtifactFile>, StoreError> {
        let texts: Vec<String> = sqlx::query_scalar("SELECT files FROM releases").fetch_all(&self.store.pool).await?;
        let mut files = Vec::new();
        for text in texts {
            let more: Vec<ArtifactFile> = serde_json::from_str(&text).map_err(|_| decode_error("files", &text))?;
            files.extend(more);
        }
        Ok(files)
    }

    /// Whether one of a project's releases holds blob `digest`.
    pub async fn holds_blob(&self, project_id: i64, digest: &str) -> Result<bool, StoreError> {
        // A digest is 64 hex digits, so a match inside the JSON text is a file's `sha256`.
        let pattern = format!("%\"{digest}\"%");
        let found: Option<i64> =
            sqlx::query_scalar("SELECT id FROM releases WHERE project_id = $1 AND files LIKE $2 LIMIT 1")
                .bind(project_id)
                .bind(pattern)
                .fetch_optional(&self.store.pool)
                .await?;
        Ok(found.is_some())
    }
}

fn release_from_row(row: &AnyRow) -> Result<Release, StoreError> {
    let files: String = row.try_get("files")?;
    let commits: String = row.try_get("commits")?;
    Ok(Release {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        service: row.try_get("service")?,
        number: row.try_get("number")?,
        commit_sha: row.try_get("commit_sha")?,
        run_id: row.try_get("run_id")?,
        author: row.try_get("author")?,
        files: serde_json::from_str(&files).map_err(|_| decode_error("files", &files))?,
        deploy_spec: row.try_get("deploy_spec")?,
        commits: serde_json::from_str(&commits).map_err(|_| decode_error("commits", &commits))?,
        created_at: row.try_get("created_at")?,
    })
}

impl ProjectBlobs<'_> {
    /// Records that a project's people uploaded blob `digest` (again: nothing changes).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the project does not exist.
    pub async fn add(&self, project_id: i64, digest: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO project_blobs (project_id, digest, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (project_id, digest) DO NOTHING",
        )
        .bind(project_id)
        .bind(digest)
        .bind(now)
        .execute(&self.store.pool)
        .await
        .map_err(conflict_on_unique(|| format!("blob {digest} of project {project_id}")))?;
        Ok(())
    }

    /// Whether a project's people uploaded blob `digest`.
    pub async fn has(&self, project_id: i64, digest: &str) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT project_id FROM project_blobs WHERE project_id = $1 AND digest = $2")
                .bind(project_id)
                .bind(digest)
                .fetch_optional(&self.store.pool)
                .await?;
        Ok(found.is_some())
    }
}
