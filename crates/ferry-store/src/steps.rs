//! Steps of a job, in order, with GitHub's outcome (what the process did) and conclusion
//! (after `continue-on-error`).

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Conclusion, Status, Store, StoreError, conclusion_col, conflict_on_unique, status_col};

/// A step as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: i64,
    pub job_id: i64,
    /// The step's position in its job, from 0; unique per job.
    pub step_idx: i64,
    pub name: String,
    pub status: Status,
    pub outcome: Option<Conclusion>,
    pub conclusion: Option<Conclusion>,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// What [`Steps::create`] writes; the step starts queued.
#[derive(Debug, Clone, Copy)]
pub struct NewStep<'a> {
    pub job_id: i64,
    pub step_idx: i64,
    pub name: &'a str,
}

/// The steps repository: `store.steps()`.
#[derive(Debug, Clone, Copy)]
pub struct Steps<'a> {
    pub(crate) store: &'a Store,
}

const COLUMNS: &str = "id, job_id, step_idx, name, status, outcome, conclusion, started_at, finished_at";

impl Steps<'_> {
    /// Adds a step to a job.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the job has a step at this index or does not exist.
    pub async fn create(&self, step: &NewStep<'_>) -> Result<Step, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO steps (job_id, step_idx, name, status) VALUES ($1, $2, $3, 'queued') RETURNING {COLUMNS}"
        )))
        .bind(step.job_id)
        .bind(step.step_idx)
        .bind(step.name)
        .fetch_one(&self.store.pool)
        .await
        .map_err(conflict_on_unique(|| format!("step {} of job {}", step.step_idx, step.job_id)))?;
        step_from_row(&row)
    }

    /// The step with this id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn get(&self, id: i64) -> Result<Step, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM steps WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?;
        row.as_ref().map(step_from_row).unwrap_or_else(|| Err(StoreError::not_found("step", id)))
    }

    /// A job's steps in order.
    pub async fn list_for_job(&self, job_id: i64) -> Result<Vec<Step>, StoreError> {
        let rows =
            sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM steps WHERE job_id = $1 ORDER BY step_idx")))
                .bind(job_id)
                .fetch_all(&self.store.pool)
                .await?;
        rows.iter().map(step_from_row).collect()
    }

    /// Marks a step as in progress.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such step that is still queued.
    pub async fn start(&self, id: i64, now: i64) -> Result<Step, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE steps SET status = 'in_progress', started_at = $1 WHERE id = $2 AND status = 'queued'
             RETURNING {COLUMNS}"
        )))
        .bind(now)
        .bind(id)
        .fetch_optional(&self.store.pool)
        .await?;
        row.as_ref().map(step_from_row).unwrap_or_else(|| Err(StoreError::not_found("queued step", id)))
    }

    /// Completes a step (a step that never started, such as a skipped one, may complete too).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such step that has not completed.
    pub async fn complete(
        &self,
        id: i64,
        outcome: Conclusion,
        conclusion: Conclusion,
        now: i64,
    ) -> Result<Step, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE steps SET status = 'completed', outcome = $1, conclusion = $2, finished_at = $3
             WHERE id = $4 AND status <> 'completed' RETURNING {COLUMNS}"
        )))
        .bind(outcome.as_str())
        .bind(conclusion.as_str())
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { return Err(StoreError::not_found("unfinished step", id)) };
        let step = step_from_row(&row)?;
        crate::add_duration(&mut tx, "step_duration", step.started_at, step.finished_at).await?;
        tx.commit().await?;
        Ok(step)
    }
}

fn step_from_row(row: &AnyRow) -> Result<Step, StoreError> {
    Ok(Step {
        id: row.try_get("id")?,
        job_id: row.try_get("job_id")?,
        step_idx: row.try_get("step_idx")?,
        name: row.try_get("name")?,
        status: status_col(row, "status")?,
        outcome: conclusion_col(row, "outcome")?,
        conclusion: conclusion_col(row, "conclusion")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}
