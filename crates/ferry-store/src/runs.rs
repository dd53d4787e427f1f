//! Runs: one execution of a workflow file for an event, numbered per project.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Conclusion, Status, Store, StoreError, conclusion_col, decode_error, status_col};

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: i64,
    pub project_id: i64,
    /// 1, 2, 3… per project, in creation order, never reused.
    pub number: i64,
    pub workflow_file: String,
    /// The workflow's `name:`, else its file's path; empty for runs recorded before runs kept
    /// it.
    pub workflow_name: String,
    pub event: String,
    pub git_ref: String,
    pub sha: String,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    /// Who or what started the run (a user name, `webhook`, `schedule`).
    pub trigger_actor: String,
    /// The event payload or other trigger details, as JSON text.
    pub trigger_info: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The workflow file's text at the run's commit, which the run was planned from.
    pub workflow_src: String,
    /// The commit's subject line.
    pub title: String,
    /// The commit's author.
    pub author: String,
    pub cancel_requested_at: Option<i64>,
    /// Why the run concluded without running its jobs, if it did.
    pub error: Option<String>,
    /// The run this one repeats.
    pub rerun_of: Option<i64>,
    /// Started by a pull request from a fork (or re-runs such a run): its jobs get no secrets.
    pub from_fork: bool,
    /// Who approved the run when its project requires approval for forks' runs; empty else.
    pub approved_by: String,
}

/// What [`Runs::create`] writes; the run starts queued.
#[derive(Debug, Clone, Copy)]
pub struct NewRun<'a> {
    pub project_id: i64,
    pub workflow_file: &'a str,
    /// The workflow's `name:`, else its file's path.
    pub workflow_name: &'a str,
    pub event: &'a str,
    pub git_ref: &'a str,
    pub sha: &'a str,
    pub trigger_actor: &'a str,
    pub trigger_info: &'a str,
    pub workflow_src: &'a str,
    pub title: &'a str,
    pub author: &'a str,
    pub rerun_of: Option<i64>,
}

/// Which of a project's runs [`Runs::list_filtered`] answers; `None` matches any.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFilter<'a> {
    pub state: Option<RunState>,
    /// The full ref (`refs/heads/main`).
    pub git_ref: Option<&'a str>,
    /// Any of these workflow files (a path, as runs keep it).
    pub workflow_files: &'a [String],
    pub event: Option<&'a str>,
}

/// A run's state as run lists filter by it, as GitHub's `status` parameter does: where the run
/// is, or how it concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    Status(Status),
    Conclusion(Conclusion),
}

/// The runs repository: `store.runs()`.
#[derive(Debug, Clone, Copy)]
pub struct Runs<'a> {
    pub(crate) store: &'a Store,
}

const COLUMNS: &str = "id, project_id, number, workflow_file, event, git_ref, sha, status, conclusion, \
                       trigger_actor, trigger_info, created_at, started_at, finished_at, workflow_src, title, \
                       author, cancel_requested_at, error, rerun_of, workflow_name, from_fork, approval, \
                       approved_by";

impl Runs<'_> {
    /// Creates a queued run with the project's next run number. A re-run of a fork's run is
    /// one too ([`Run::from_fork`]).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the project does not exist.
    pub async fn create(&self, run: &NewRun<'_>, now: i64) -> Result<Run, StoreError> {
        let mut tx = self.store.begin_write().await?;
        // Bumping the counter locks the project row, so concurrent creates get distinct numbers.
        let number: Option<i64> = sqlx::query_scalar(
            "UPDATE projects SET next_run_number = next_run_number + 1 WHERE id = $1 RETURNING next_run_number - 1",
        )
        .bind(run.project_id)
        .fetch_optional(&mut *tx)
        .await?;
        let number = number.ok_or_else(|| StoreError::not_found("project", run.project_id))?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO runs (project_id, number, workflow_file, event, git_ref, sha, status, trigger_actor,
                               trigger_info, created_at, workflow_src, title, author, rerun_of, workflow_name)
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9, $10, $11, $12, $13, $14) RETURNING {COLUMNS}"
        )))
        .bind(run.project_id)
        .bind(number)
        .bind(run.workflow_file)
        .bind(run.event)
        .bind(run.git_ref)
        .bind(run.sha)
        .bind(run.trigger_actor)
        .bind(run.trigger_info)
        .bind(now)
        .bind(run.workflow_src)
        .bind(run.title)
        .bind(run.author)
        .bind(run.rerun_of)
        .bind(run.workflow_name)
        .fetch_one(&mut *tx)
        .await?;
        let row = match run.rerun_of {
            // Whoever re-runs a fork's run, its code is still the fork's.
            Some(old) => {
                let id: i64 = row.try_get("id")?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE runs SET from_fork = COALESCE((SELECT old.from_fork FROM runs old WHERE old.id = $1), 0)
                     WHERE id = $2 RETURNING {COLUMNS}"
                )))
                .bind(old)
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
            }
            None => row,
        };
        tx.commit().await?;
        run_from_row(&row)
    }

    /// Marks a queued run as started by a pull request from a fork; with
    /// `approval_required` it waits ([`Status::Waiting`]) until [`Runs::approve`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such run; [`StoreError::Conflict`] when it
    /// is no longer queued.
    pub async fn mark_from_fork(&self, id: i64, approval_required: bool) -> Result<Run, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET from_fork = 1, approval = $1 WHERE id = $2 AND status = 'queued' RETURNING {COLUMNS}"
        )))
        .bind(if approval_required { "waiting" } else { "" })
        .bind(id)
        .fetch_optional(&self.store.pool)
        .await?;
        match row {
            Some(row) => run_from_row(&row),
            None => Err(self.missing_or_not(id, "queued").await),
        }
    }

    /// Lets a run waiting for approval start: it becomes queued, approved by `by`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such run; [`StoreError::Conflict`] when it is
    /// not waiting (never had to, approved already, cancelled).
    pub async fn approve(&self, id: i64, by: &str) -> Result<Run, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET approval = 'approved', approved_by = $1
             WHERE id = $2 AND status = 'queued' AND approval = 'waiting' RETURNING {COLUMNS}"
        )))
        .bind(by)
        .bind(id)
        .fetch_optional(&self.store.pool)
        .await?;
        match row {
            Some(row) => run_from_row(&row),
            None => Err(self.missing_or_not(id, "waiting for approval").await),
        }
    }

    /// The run with this id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn get(&self, id: i64) -> Result<Run, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM runs WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?;
        row.as_ref().map(run_from_row).unwrap_or_else(|| Err(StoreError::not_found("run", id)))
    }

    /// The run of a project with this number, if any.
    pub async fn by_number(&self, project_id: i64, number: i64) -> Result<Option<Run>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM runs WHERE project_id = $1 AND number = $2"
        )))
        .bind(project_id)
        .bind(number)
        .fetch_optional(&self.store.pool)
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// A project's runs, newest first, at most `limit` of them with numbers below `before`
    /// (pass `i64::MAX` for the newest page).
    pub async fn list(&self, project_id: i64, before: i64, limit: i64) -> Result<Vec<Run>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM runs WHERE project_id = $1 AND number < $2 ORDER BY number DESC LIMIT $3"
        )))
        .bind(project_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// A page of a project's runs that `filter` matches, newest first: at most `limit` of them
    /// with numbers below `before` (`i64::MAX` for the newest page). Indexed by workflow file
    /// and by ref (migration 0008); the others are read along the project's runs by number.
    pub async fn list_filtered(
        &self,
        project_id: i64,
        filter: &RunFilter<'_>,
        before: i64,
        limit: i64,
    ) -> Result<Vec<Run>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM runs WHERE project_id = $1 AND number < $2");
        let mut values: Vec<&str> = Vec::new();
        match filter.state {
            Some(RunState::Status(status)) => {
                values.push(status.as_str());
                sql.push_str(&format!(" AND status = ${}", values.len() + 2));
            }
            Some(RunState::Conclusion(conclusion)) => {
                values.push(conclusion.as_str());
                sql.push_str(&format!(" AND conclusion = ${}", values.len() + 2));
            }
            None => {}
        }
        if let Some(git_ref) = filter.git_ref {
            values.push(git_ref);
            sql.push_str(&format!(" AND git_ref = ${}", values.len() + 2));
        }
        if !filter.workflow_files.is_empty() {
            let mut params = Vec::new();
            for file in filter.workflow_files {
                values.push(file);
                params.push(format!("${}", values.len() + 2));
            }
            sql.push_str(&format!(" AND workflow_file IN ({})", params.join(", ")));
        }
        if let Some(event) = filter.event {
            values.push(event);
            sql.push_str(&format!(" AND event = ${}", values.len() + 2));
        }
        sql.push_str(&format!(" ORDER BY number DESC LIMIT ${}", values.len() + 3));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project_id).bind(before);
        for value in values {
            query = query.bind(value);
        }
        let rows = query.bind(limit).fetch_all(&self.store.pool).await?;
        rows.iter().map(run_from_row).collect()
    }

    /// How many runs completed with each conclusion, across projects (for metrics); conclusions
    /// no run has are left out.
    pub async fn count_by_conclusion(&self) -> Result<Vec<(Conclusion, i64)>, StoreError> {
        // Kept as totals as runs complete (`metric_totals`), so a scrape scans no runs.
        let rows = sqlx::query(
            "SELECT label AS conclusion, n AS n_runs FROM metric_totals WHERE metric = 'runs' AND n > 0 ORDER BY label",
        )
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let conclusion =
                    conclusion_col(row, "conclusion")?.ok_or_else(|| decode_error("conclusion", "NULL"))?;
                Ok((conclusion, row.try_get("n_runs")?))
            })
            .collect()
    }

    /// Marks a queued run as in progress; a run already started keeps its start time.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such run; [`StoreError::Conflict`] when it
    /// has completed.
    pub async fn start(&self, id: i64, now: i64) -> Result<Run, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET status = 'in_progress', started_at = COALESCE(started_at, $1)
             WHERE id = $2 AND status <> 'completed' RETURNING {COLUMNS}"
        )))
        .bind(now)
        .bind(id)
        .fetch_optional(&self.store.pool)
        .await?;
        match row {
            Some(row) => run_from_row(&row),
            None => Err(self.missing_or_completed(id).await),
        }
    }

    /// Completes a run with `conclusion`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such run; [`StoreError::Conflict`] when it
    /// has already completed.
    pub async fn complete(&self, id: i64, conclusion: Conclusion, now: i64) -> Result<Run, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET status = 'completed', conclusion = $1, finished_at = $2
             WHERE id = $3 AND status <> 'completed' RETURNING {COLUMNS}"
        )))
        .bind(conclusion.as_str())
        .bind(now)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        self.commit_completion(tx, row, id).await
    }

    /// Completes a run that could not run its jobs, with `failure` and the reason.
    ///
    /// # Errors
    /// As [`Runs::complete`].
    pub async fn fail(&self, id: i64, error: &str, now: i64) -> Result<Run, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET status = 'completed', conclusion = 'failure', finished_at = $1, error = $2,
                             started_at = COALESCE(started_at, $1)
             WHERE id = $3 AND status <> 'completed' RETURNING {COLUMNS}"
        )))
        .bind(now)
        .bind(error)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        self.commit_completion(tx, row, id).await
    }

    /// Records that the run was asked to stop (the first request's time is kept); a completed
    /// run is left as it is.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such run.
    pub async fn request_cancel(&self, id: i64, now: i64) -> Result<Run, StoreError> {
        sqlx::query(
            "UPDATE runs SET cancel_requested_at = COALESCE(cancel_requested_at, $1)
             WHERE id = $2 AND status <> 'completed'",
        )
        .bind(now)
        .bind(id)
        .execute(&self.store.pool)
        .await?;
        self.get(id).await
    }

    /// Every run that has not completed, oldest first (what a restarted server resumes).
    pub async fn unfinished(&self) -> Result<Vec<Run>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM runs WHERE status <> 'completed' ORDER BY id"
        )))
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// How job `job_key` of the run was expanded, if it was.
    pub async fn expansion(&self, run_id: i64, job_key: &str) -> Result<Option<String>, StoreError> {
        let expansion: Option<String> =
            sqlx::query_scalar("SELECT expansion FROM run_expansions WHERE run_id = $1 AND job_key = $2")
                .bind(run_id)
                .bind(job_key)
                .fetch_optional(&self.store.pool)
                .await?;
        Ok(expansion)
    }

    /// Every recorded expansion of the run, by job key.
    pub async fn expansions(&self, run_id: i64) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT job_key, expansion FROM run_expansions WHERE run_id = $1 ORDER BY job_key")
            .bind(run_id)
            .fetch_all(&self.store.pool)
            .await?;
        rows.iter().map(|row| Ok((row.try_get("job_key")?, row.try_get("expansion")?))).collect()
    }

    /// Records how job `job_key` of the run was expanded, unless it already was; returns the
    /// expansion that holds (the first one recorded), so a decision is made once.
    pub async fn record_expansion(
        &self,
        run_id: i64,
        job_key: &str,
        expansion: &str,
        now: i64,
    ) -> Result<String, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT expansion FROM run_expansions WHERE run_id = $1 AND job_key = $2")
                .bind(run_id)
                .bind(job_key)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(existing) = existing {
            tx.commit().await?;
            return Ok(existing);
        }
        sqlx::query("INSERT INTO run_expansions (run_id, job_key, expansion, created_at) VALUES ($1, $2, $3, $4)")
            .bind(run_id)
            .bind(job_key)
            .bind(expansion)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(expansion.to_owned())
    }

    async fn missing_or_not(&self, id: i64, what: &str) -> StoreError {
        match self.get(id).await {
            Ok(run) => StoreError::Conflict(format!("run {id} is {}, not {what}", run.status.as_str())),
            Err(error) => error,
        }
    }

    /// Ends the transaction of a completion: the run as its `UPDATE … RETURNING` gave it
    /// (`None` when run `id` is missing or completed already), counted in the metrics' totals.
    async fn commit_completion(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        row: Option<sqlx::any::AnyRow>,
        id: i64,
    ) -> Result<Run, StoreError> {
        let Some(row) = row else {
            tx.rollback().await?;
            return Err(self.missing_or_completed(id).await);
        };
        let run = run_from_row(&row)?;
        if let Some(conclusion) = run.conclusion {
            crate::add_to_total(&mut tx, "runs", conclusion.as_str(), 0).await?;
        }
        crate::add_duration(&mut tx, "run_duration", run.started_at, run.finished_at).await?;
        tx.commit().await?;
        Ok(run)
    }

    async fn missing_or_completed(&self, id: i64) -> StoreError {
        match self.get(id).await {
            Ok(_) => StoreError::Conflict(format!("run {id} has completed")),
            Err(error) => error,
        }
    }
}

fn run_from_row(row: &AnyRow) -> Result<Run, StoreError> {
    Ok(Run {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        number: row.try_get("number")?,
        workflow_file: row.try_get("workflow_file")?,
        workflow_name: row.try_get("workflow_name")?,
        event: row.try_get("event")?,
        git_ref: row.try_get("git_ref")?,
        sha: row.try_get("sha")?,
        status: match status_col(row, "status")? {
            Status::Queued if row.try_get::<String, _>("approval")? == "waiting" => Status::Waiting,
            status => status,
        },
        conclusion: conclusion_col(row, "conclusion")?,
        trigger_actor: row.try_get("trigger_actor")?,
        trigger_info: row.try_get("trigger_info")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        workflow_src: row.try_get("workflow_src")?,
        title: row.try_get("title")?,
        author: row.try_get("author")?,
        cancel_requested_at: row.try_get("cancel_requested_at")?,
        error: row.try_get("error")?,
        rerun_of: row.try_get("rerun_of")?,
        from_fork: row.try_get::<i64, _>("from_fork")? != 0,
        approved_by: row.try_get("approved_by")?,
    })
}
