//! Metadata of run artifacts and of cache entries; their bytes live in the server's blob
//! storage, addressed by `digest`.

use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use crate::{Store, StoreError, conflict_on_unique};

/// An artifact a job uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub id: i64,
    pub run_id: i64,
    pub job_id: Option<i64>,
    /// Unique per run.
    pub name: String,
    pub digest: String,
    pub size: i64,
    pub created_at: i64,
    /// When it may be deleted; `None` keeps it.
    pub expires_at: Option<i64>,
}

/// What [`Artifacts::create`] writes.
#[derive(Debug, Clone, Copy)]
pub struct NewArtifact<'a> {
    pub run_id: i64,
    pub job_id: Option<i64>,
    pub name: &'a str,
    pub digest: &'a str,
    pub size: i64,
    pub expires_at: Option<i64>,
}

/// A cache entry of a project (`actions/cache`), keyed by its scope and cache key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub id: i64,
    pub project_id: i64,
    /// The full ref of the run that saved it (`refs/heads/main`, `refs/pull/7/merge`); which
    /// runs may restore it is the server's rule.
    pub scope: String,
    /// Unique in its scope with its version.
    pub key: String,
    /// `""` for the built-in `actions/cache` (the digest is a manifest of files); otherwise
    /// the version `@actions/cache` sends (the digest is its archive).
    pub version: String,
    pub digest: String,
    pub size: i64,
    pub run_id: Option<i64>,
    pub job_id: Option<i64>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// What [`CacheEntries::put`] writes.
#[derive(Debug, Clone, Copy)]
pub struct NewCacheEntry<'a> {
    pub project_id: i64,
    pub scope: &'a str,
    pub key: &'a str,
    /// See [`CacheEntry::version`].
    pub version: &'a str,
    pub digest: &'a str,
    pub size: i64,
    pub run_id: Option<i64>,
    pub job_id: Option<i64>,
    pub expires_at: Option<i64>,
}

/// The artifacts repository: `store.artifacts()`.
#[derive(Debug, Clone, Copy)]
pub struct Artifacts<'a> {
    pub(crate) store: &'a Store,
}

/// The cache entries repository: `store.cache()`.
#[derive(Debug, Clone, Copy)]
pub struct CacheEntries<'a> {
    pub(crate) store: &'a Store,
}

const ARTIFACT_COLUMNS: &str = "id, run_id, job_id, name, digest, size, created_at, expires_at";
const CACHE_COLUMNS: &str =
    "id, project_id, scope, cache_key, version, digest, size, run_id, job_id, created_at, expires_at";

impl Artifacts<'_> {
    /// Records an uploaded artifact.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the run has an artifact with this name or does not exist.
    pub async fn create(&self, artifact: &NewArtifact<'_>, now: i64) -> Result<Artifact, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let created = insert_artifact(&mut tx, artifact, now).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Records an uploaded artifact in place of the run's artifact with its name, if any (which
    /// is forgotten; its blobs are left for the server's sweep), in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the run does not exist, or another upload took the name
    /// between the two writes (PostgreSQL).
    pub async fn replace(&self, artifact: &NewArtifact<'_>, now: i64) -> Result<Artifact, StoreError> {
        let mut tx = self.store.begin_write().await?;
        sqlx::query("DELETE FROM artifacts WHERE run_id = $1 AND name = $2")
            .bind(artifact.run_id)
            .bind(artifact.name)
            .execute(&mut *tx)
            .await?;
        let created = insert_artifact(&mut tx, artifact, now).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// A run's artifacts by name.
    pub async fn list_for_run(&self, run_id: i64) -> Result<Vec<Artifact>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE run_id = $1 ORDER BY name"
        )))
        .bind(run_id)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(artifact_from_row).collect()
    }

    /// Every artifact, for the server to know which blobs are still referenced.
    pub async fn all(&self) -> Result<Vec<Artifact>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {ARTIFACT_COLUMNS} FROM artifacts ORDER BY id")))
            .fetch_all(&self.store.pool)
            .await?;
        rows.iter().map(artifact_from_row).collect()
    }

    /// Artifacts whose expiry is at or before `now`, for the server to delete.
    pub async fn expired(&self, now: i64) -> Result<Vec<Artifact>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ARTIFACT_COLUMNS} FROM artifacts WHERE expires_at <= $1 ORDER BY expires_at, id"
        )))
        .bind(now)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(artifact_from_row).collect()
    }

    /// Changes when an artifact expires; `None` keeps it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such artifact.
    pub async fn set_expiry(&self, id: i64, expires_at: Option<i64>) -> Result<(), StoreError> {
        let res = sqlx::query("UPDATE artifacts SET expires_at = $1 WHERE id = $2")
            .bind(expires_at)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("artifact", id));
        }
        Ok(())
    }

    /// Forgets an artifact.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such artifact.
    pub async fn delete(&self, id: i64) -> Result<(), StoreError> {
        let res = sqlx::query("DELETE FROM artifacts WHERE id = $1").bind(id).execute(&self.store.pool).await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("artifact", id));
        }
        Ok(())
    }
}

/// Inserts `artifact` in the caller's write transaction.
async fn insert_artifact(
    tx: &mut Transaction<'static, Any>,
    artifact: &NewArtifact<'_>,
    now: i64,
) -> Result<Artifact, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO artifacts (run_id, job_id, name, digest, size, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {ARTIFACT_COLUMNS}"
    )))
    .bind(artifact.run_id)
    .bind(artifact.job_id)
    .bind(artifact.name)
    .bind(artifact.digest)
    .bind(artifact.size)
    .bind(now)
    .bind(artifact.expires_at)
    .fetch_one(&mut **tx)
    .await
    .map_err(conflict_on_unique(|| format!("artifact {} of run {}", artifact.name, artifact.run_id)))?;
    artifact_from_row(&row)
}

fn artifact_from_row(row: &AnyRow) -> Result<Artifact, StoreError> {
    Ok(Artifact {
        id: row.try_get("id")?,
        run_id: row.try_get("run_id")?,
        job_id: row.try_get("job_id")?,
        name: row.try_get("name")?,
        digest: row.try_get("digest")?,
        size: row.try_get("size")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

impl CacheEntries<'_> {
    /// Creates the cache entry under `key` and its version in its scope, replacing one there that expired at
    /// `now` (the sweep has not deleted it yet). Entries are immutable, as on GitHub, and the
    /// check is part of the write, so of two runners saving one key at once only one succeeds.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the scope has an entry under `key` and its version that
    /// has not expired,
    /// or the project, run or job does not exist.
    pub async fn put(&self, entry: &NewCacheEntry<'_>, now: i64) -> Result<CacheEntry, StoreError> {
        let what = || format!("cache entry {} in {} of project {}", entry.key, entry.scope, entry.project_id);
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO cache_entries (project_id, scope, cache_key, digest, size, run_id, job_id, created_at, expires_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (project_id, scope, cache_key, version) DO UPDATE SET digest = excluded.digest, size = excluded.size,
                 run_id = excluded.run_id, job_id = excluded.job_id, created_at = excluded.created_at,
                 expires_at = excluded.expires_at
             WHERE cache_entries.expires_at <= $8
             RETURNING {CACHE_COLUMNS}"
        )))
        .bind(entry.project_id)
        .bind(entry.scope)
        .bind(entry.key)
        .bind(entry.digest)
        .bind(entry.size)
        .bind(entry.run_id)
        .bind(entry.job_id)
        .bind(now)
        .bind(entry.expires_at)
        .bind(entry.version)
        .fetch_optional(&self.store.pool)
        .await
        .map_err(conflict_on_unique(what))?;
        // No row: the live entry under the key was left as it is.
        row.as_ref().map(cache_from_row).unwrap_or_else(|| Err(StoreError::Conflict(what())))
    }

    /// The entry of a project's `scope` under exactly `key` and `version`, if any and not
    /// expired at `now`.
    pub async fn get(
        &self,
        project_id: i64,
        scope: &str,
        key: &str,
        version: &str,
        now: i64,
    ) -> Result<Option<CacheEntry>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CACHE_COLUMNS} FROM cache_entries
             WHERE project_id = $1 AND scope = $2 AND cache_key = $3 AND version = $4
                 AND (expires_at IS NULL OR expires_at > $5)"
        )))
        .bind(project_id)
        .bind(scope)
        .bind(key)
        .bind(version)
        .bind(now)
        .fetch_optional(&self.store.pool)
        .await?;
        row.as_ref().map(cache_from_row).transpose()
    }

    /// The entries of a project's `scope` with `version` that have not expired at `now`,
    /// newest first.
    pub async fn list_in_scope(
        &self,
        project_id: i64,
        scope: &str,
        version: &str,
        now: i64,
    ) -> Result<Vec<CacheEntry>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CACHE_COLUMNS} FROM cache_entries
             WHERE project_id = $1 AND scope = $2 AND version = $3 AND (expires_at IS NULL OR expires_at > $4)
             ORDER BY created_at DESC, id DESC"
        )))
        .bind(project_id)
        .bind(scope)
        .bind(version)
        .bind(now)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(cache_from_row).collect()
    }

    /// Every entry, for the server to know which blobs are still referenced.
    pub async fn all(&self) -> Result<Vec<CacheEntry>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {CACHE_COLUMNS} FROM cache_entries ORDER BY id")))
            .fetch_all(&self.store.pool)
            .await?;
        rows.iter().map(cache_from_row).collect()
    }

    /// Changes when an entry expires (a restore keeps it for longer); `None` keeps it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such entry.
    pub async fn set_expiry(&self, id: i64, expires_at: Option<i64>) -> Result<(), StoreError> {
        let res = sqlx::query("UPDATE cache_entries SET expires_at = $1 WHERE id = $2")
            .bind(expires_at)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("cache entry", id));
        }
        Ok(())
    }

    /// Entries whose expiry is at or before `now`, for the server to delete.
    pub async fn expired(&self, now: i64) -> Result<Vec<CacheEntry>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CACHE_COLUMNS} FROM cache_entries WHERE expires_at <= $1 ORDER BY expires_at, id"
        )))
        .bind(now)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(cache_from_row).collect()
    }

    /// Forgets a cache entry.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such entry.
    pub async fn delete(&self, id: i64) -> Result<(), StoreError> {
        let res = sqlx::query("DELETE FROM cache_entries WHERE id = $1").bind(id).execute(&self.store.pool).await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("cache entry", id));
        }
        Ok(())
    }
}

fn cache_from_row(row: &AnyRow) -> Result<CacheEntry, StoreError> {
    Ok(CacheEntry {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        scope: row.try_get("scope")?,
        key: row.try_get("cache_key")?,
        version: row.try_get("version")?,
        digest: row.try_get("digest")?,
        size: row.try_get("size")?,
        run_id: row.try_get("run_id")?,
        job_id: row.try_get("job_id")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}
