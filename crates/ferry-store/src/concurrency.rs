//! Concurrency groups: at most one run of a project holds a group key at a time.

use sqlx::Row;

use crate::{Store, StoreError, conflict_on_unique};

/// The answer to [`ConcurrencyGroups::acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// The run holds the group now (or already did).
    Yes,
    /// Another run holds it.
    HeldBy(i64),
}

/// The concurrency groups repository: `store.concurrency()`.
#[derive(Debug, Clone, Copy)]
pub struct ConcurrencyGroups<'a> {
    pub(crate) store: &'a Store,
}

impl ConcurrencyGroups<'_> {
    /// Lets `run_id` hold the group `key` of a project unless another run holds it.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the project or run does not exist.
    pub async fn acquire(&self, project_id: i64, key: &str, run_id: i64, now: i64) -> Result<Acquired, StoreError> {
        sqlx::query(
            "INSERT INTO concurrency_groups (project_id, group_key, run_id, acquired_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (project_id, group_key) DO NOTHING",
        )
        .bind(project_id)
        .bind(key)
        .bind(run_id)
        .bind(now)
        .execute(&self.store.pool)
        .await
        .map_err(conflict_on_unique(|| format!("concurrency group {key} of project {project_id}")))?;
        match self.holder(project_id, key).await? {
            Some(holder) if holder == run_id => Ok(Acquired::Yes),
            Some(holder) => Ok(Acquired::HeldBy(holder)),
            // Released between the insert and the read; the caller may simply try again.
            None => Err(StoreError::Conflict(format!("concurrency group {key} of project {project_id}"))),
        }
    }

    /// The run holding the group `key` of a project, if any.
    pub async fn holder(&self, project_id: i64, key: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT run_id FROM concurrency_groups WHERE project_id = $1 AND group_key = $2")
            .bind(project_id)
            .bind(key)
            .fetch_optional(&self.store.pool)
            .await?;
        Ok(row.map(|row| row.try_get("run_id")).transpose()?)
    }

    /// Releases the group if `run_id` holds it; returns whether it did.
    pub async fn release(&self, project_id: i64, key: &str, run_id: i64) -> Result<bool, StoreError> {
        let res =
            sqlx::query("DELETE FROM concurrency_groups WHERE project_id = $1 AND group_key = $2 AND run_id = $3")
                .bind(project_id)
                .bind(key)
                .bind(run_id)
                .execute(&self.store.pool)
                .await?;
        Ok(res.rows_affected() == 1)
    }
}
