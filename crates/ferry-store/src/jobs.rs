//! Jobs, which are also the durable queue runners claim work from.
//!
//! A job is enqueued `queued` with the labels of its `runs-on`. A runner claims the oldest
//! queued job whose every label is among the runner's labels; the claim makes it
//! `in_progress` and gives it a lease until `now + lease_ms`, which the runner renews with
//! [`Jobs::heartbeat`]. Jobs whose lease ran out ([`Jobs::expired_leases`]) lost their runner;
//! the server fails them. A job held at its environment's gates ([`Jobs::enqueue_held`]) is
//! queued with what it waits for and reads as [`Status::Waiting`]; no runner claims it until
//! [`Jobs::release_hold`]. Claiming is atomic: on PostgreSQL the candidate row is locked with
//! `FOR UPDATE SKIP LOCKED` so concurrent claimers skip each other's rows; on SQLite the claim
//! runs in a write transaction (`BEGIN IMMEDIATE`), which serialises claimers.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Backend, Conclusion, Status, Store, StoreError, conclusion_col, labels_col, labels_json, status_col};

/// How the gates of a job's environment judged it, for [`Jobs::enqueue_at_gate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobGate<'a> {
    /// It may run: queued as any job.
    Passed,
    /// Held: what it waits for, in words.
    Waiting(&'a str),
    /// Refused: why, in words; the job fails with it.
    Refused(&'a str),
}

/// What [`insert_job`] found or made.
enum Inserted {
    /// The job was there already (enqueued once per run, job key and instance).
    Existing(Job),
    New(Job),
}

/// Inserts `job` (held with `waiting_for` when given) with its labels in the caller's
/// transaction, unless a job of the same run, key and instance is there already.
async fn insert_job(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    job: &NewJob<'_>,
    waiting_for: Option<&str>,
    now: i64,
) -> Result<Inserted, StoreError> {
    if !job.job_key.is_empty() {
        let existing = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jobs WHERE run_id = $1 AND job_key = $2 AND instance_idx = $3"
        )))
        .bind(job.run_id)
        .bind(job.job_key)
        .bind(job.instance_idx)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = existing {
            return Ok(Inserted::Existing(job_from_row(&row)?));
        }
    }
    let row = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO jobs (run_id, name, status, runs_on, needs, matrix, queued_at, job_key, instance_idx, contexts,
                           waiting_for)
         VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    )))
    .bind(job.run_id)
    .bind(job.name)
    .bind(labels_json(job.runs_on))
    .bind(job.needs)
    .bind(job.matrix)
    .bind(now)
    .bind(job.job_key)
    .bind(job.instance_idx)
    .bind(job.contexts)
    .bind(waiting_for)
    .fetch_one(&mut **tx)
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::not_found("run", job.run_id),
        _ => StoreError::Db(error),
    })?;
    let job_row = job_from_row(&row)?;
    // Labels match case-insensitively, as on GitHub.
    let mut labels: Vec<String> = job.runs_on.iter().chain(job.requires).map(|label| label.to_lowercase()).collect();
    labels.sort();
    labels.dedup();
    for label in &labels {
        sqlx::query("INSERT INTO job_labels (job_id, label) VALUES ($1, $2)")
            .bind(job_row.id)
            .bind(label)
            .execute(&mut **tx)
            .await?;
    }
    Ok(Inserted::New(job_row))
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub run_id: i64,
    pub name: String,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    /// The runner that claimed it, while it has one.
    pub runner_id: Option<i64>,
    /// The labels a runner must all have to claim it.
    pub runs_on: Vec<String>,
    /// The job's `needs:` as JSON text.
    pub needs: String,
    /// The job's matrix values as JSON text.
    pub matrix: String,
    pub queued_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// While in progress: when the lease runs out unless the runner sends a heartbeat.
    pub lease_expires_at: Option<i64>,
    pub cancel_requested_at: Option<i64>,
    /// The job's id in the workflow (`build`).
    pub job_key: String,
    /// Which instance of the job's matrix this is (0 without a matrix).
    pub instance_idx: i64,
    /// The fixed contexts the job sees, as JSON text (no secrets).
    pub contexts: String,
    /// The job's outputs once it completed, as JSON text.
    pub outputs: String,
    /// Why the job failed outside its steps ("runner lost"), if it did.
    pub reason: Option<String>,
    /// The last event batch applied from its runner.
    pub event_seq: i64,
    /// While held at its environment's gates (status [`Status::Waiting`]): what it waits for.
    pub waiting_for: Option<String>,
}

/// A job's place in its run and how it stands: what planning a run reads for each of its
/// jobs, without the bulky columns (contexts) a runner needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub id: i64,
    pub job_key: String,
    pub instance_idx: i64,
    pub status: Status,
    pub conclusion: Option<Conclusion>,
    /// The job's outputs once it completed, as JSON text.
    pub outputs: String,
}

impl From<Job> for JobState {
    fn from(job: Job) -> JobState {
        JobState {
            id: job.id,
            job_key: job.job_key,
            instance_idx: job.instance_idx,
            status: job.status,
            conclusion: job.conclusion,
            outputs: job.outputs,
        }
    }
}

/// What [`Jobs::enqueue`] writes.
#[derive(Debug, Clone, Copy)]
pub struct NewJob<'a> {
    pub run_id: i64,
    pub name: &'a str,
    pub runs_on: &'a [String],
    /// Labels the job needs besides `runs_on`, not shown as its `runs-on` (a capability's
    /// `capability:docker`).
    pub requires: &'a [String],
    pub needs: &'a str,
    pub matrix: &'a str,
    pub job_key: &'a str,
    pub instance_idx: i64,
    pub contexts: &'a str,
}

/// What a heartbeat tells the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub expires_at: i64,
    /// The job was cancelled: the runner should stop it and report it cancelled.
    pub cancel_requested: bool,
}

/// What [`Jobs::record_events`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The batch was new and applied (`false`: a repeat, ignored).
    pub applied: bool,
    /// The job's lease, renewed by the report as by a heartbeat.
    pub lease: Lease,
    /// The log chunks the batch added, in the order of its `Lines` events (none for a repeat,
    /// and none for lines of a step that never started).
    pub chunks: Vec<AppendedChunk>,
}

/// A log chunk [`Jobs::record_events`] stored: which `Lines` event of the batch it holds, and
/// where it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendedChunk {
    /// The event's index in the batch.
    pub event_idx: usize,
    pub run_id: i64,
    pub step_id: i64,
    pub step_idx: i64,
    pub seq: i64,
}

/// The jobs repository: `store.jobs()`.
#[derive(Debug, Clone, Copy)]
pub struct Jobs<'a> {
    pub(crate) store: &'a Store,
}

const COLUMNS: &str = "id, run_id, name, status, conclusion, runner_id, runs_on, needs, matrix, queued_at, \
                       started_at, finished_at, lease_expires_at, cancel_requested_at, job_key, instance_idx, \
                       contexts, outputs, reason, event_seq, waiting_for";

/// What a runner reports about a job's steps, applied in order by [`Jobs::record_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepEvent<'a> {
    Started {
        step_idx: i64,
        name: &'a str,
        at: i64,
    },
    /// Lines, each ending in `\n`.
    Lines {
        step_idx: i64,
        text: &'a str,
    },
    Finished {
        step_idx: i64,
        outcome: Conclusion,
        conclusion: Conclusion,
        at: i64,
    },
}

impl Jobs<'_> {
    /// Adds a queued job to a run. A job with a `job_key` is enqueued once per
    /// (run, job key, instance): enqueuing it again returns the job already there.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the run does not exist.
    pub async fn enqueue(&self, job: &NewJob<'_>, now: i64) -> Result<Job, StoreError> {
        self.enqueue_inner(job, None, now).await
    }

    /// Adds a job as [`Jobs::enqueue`] does, held (status [`Status::Waiting`]) with what it
    /// waits for: no runner claims it before [`Jobs::release_hold`]. A job already there is
    /// returned as it is.
    ///
    /// # Errors
    /// As [`Jobs::enqueue`].
    pub async fn enqueue_held(&self, job: &NewJob<'_>, waiting_for: &str, now: i64) -> Result<Job, StoreError> {
        self.enqueue_inner(job, Some(waiting_for), now).await
    }

    async fn enqueue_inner(&self, job: &NewJob<'_>, waiting_for: Option<&str>, now: i64) -> Result<Job, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let job_row = match insert_job(&mut tx, job, waiting_for, now).await? {
            Inserted::Existing(job_row) | Inserted::New(job_row) => job_row,
        };
        tx.commit().await?;
        Ok(job_row)
    }

    /// Adds a job that targets an environment together with its deployment, in one
    /// transaction, so that no crash leaves a job held at gates without the deployment that
    /// releases it: the job is queued when its gates passed ([`JobGate::Passed`]), held with
    /// `waiting_for` = `WHAT (deployment N)` ([`JobGate::Waiting`]), or completed as failed
    /// with the refusal as its reason ([`JobGate::Refused`]). The deployment's `job_id` is the
    /// new job's. A job already there is returned as it is, with its deployment (if any).
    ///
    /// # Errors
    /// As [`Jobs::enqueue`]; [`StoreError::Conflict`] when the deployment refers to what is
    /// gone (then neither is written).
    pub async fn enqueue_at_gate(
        &self,
        job: &NewJob<'_>,
        deployment: &crate::NewDeployment<'_>,
        gate: JobGate<'_>,
        now: i64,
    ) -> Result<(Job, Option<crate::Deployment>), StoreError> {
        let mut tx = self.store.begin_write().await?;
        let held = match gate {
            JobGate::Passed => None,
            JobGate::Waiting(_) | JobGate::Refused(_) => Some("its environment's gates"),
        };
        let job_row = match insert_job(&mut tx, job, held, now).await? {
            Inserted::Existing(job_row) => {
                tx.commit().await?;
                let deployment = self.store.deployments().for_job(job_row.id).await?;
                return Ok((job_row, deployment));
            }
            Inserted::New(job_row) => job_row,
        };
        let new = crate::NewDeployment { job_id: Some(job_row.id), ..*deployment };
        let deployment_id = crate::deployments::insert(&mut tx, &new, now).await?;
        let row = match gate {
            JobGate::Passed => None,
            JobGate::Waiting(what) => Some(
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE jobs SET waiting_for = $1 WHERE id = $2 RETURNING {COLUMNS}"
                )))
                .bind(format!("{what} (deployment {deployment_id})"))
                .bind(job_row.id)
                .fetch_one(&mut *tx)
                .await?,
            ),
            JobGate::Refused(reason) => Some(
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE jobs SET status = 'completed', conclusion = 'failure', finished_at = $1, outputs = '{{}}',
                                     reason = $2, waiting_for = NULL
                     WHERE id = $3 RETURNING {COLUMNS}"
                )))
                .bind(now)
                .bind(reason)
                .bind(job_row.id)
                .fetch_one(&mut *tx)
                .await?,
            ),
        };
        let job_row = match row {
            Some(row) => job_from_row(&row)?,
            None => job_row,
        };
        tx.commit().await?;
        let deployment = self.store.deployments().get(deployment_id).await?;
        Ok((job_row, Some(deployment)))
    }

    /// How many jobs wait in the queue (for the queue depth metric).
    pub async fn count_queued(&self) -> Result<i64, StoreError> {
        let n_jobs: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND waiting_for IS NULL")
                .fetch_one(&self.store.pool)
                .await?;
        Ok(n_jobs)
    }

    /// The job with this id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn get(&self, id: i64) -> Result<Job, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM jobs WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?;
        row.as_ref().map(job_from_row).unwrap_or_else(|| Err(StoreError::not_found("job", id)))
    }

    /// A run's jobs in the order they were enqueued.
    pub async fn list_for_run(&self, run_id: i64) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM jobs WHERE run_id = $1 ORDER BY id")))
            .bind(run_id)
            .fetch_all(&self.store.pool)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// [`JobState`]s of a run's jobs, in the order they were enqueued.
    pub async fn states_for_run(&self, run_id: i64) -> Result<Vec<JobState>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, job_key, instance_idx, status, conclusion, outputs FROM jobs WHERE run_id = $1 ORDER BY id",
        )
        .bind(run_id)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(JobState {
                    id: row.try_get("id")?,
                    job_key: row.try_get("job_key")?,
                    instance_idx: row.try_get("instance_idx")?,
                    status: status_col(row, "status")?,
                    conclusion: conclusion_col(row, "conclusion")?,
                    outputs: row.try_get("outputs")?,
                })
            })
            .collect()
    }

    /// Claims the oldest queued job the runner's `labels` satisfy (each of the job's labels is
    /// one of them, ignoring case, as on GitHub) of a project in the runner's scope, giving it
    /// a lease until `now + lease_ms`; `None` when no queued job fits (or there is no runner
    /// `runner_id`). Never hands one job to two claimers.
    pub async fn claim(
        &self,
        runner_id: i64,
        labels: &[String],
        now: i64,
        lease_ms: i64,
    ) -> Result<Option<Job>, StoreError> {
        let label_filter = if labels.is_empty() {
            String::new()
        } else {
            let placeholders = (0..labels.len()).map(|label_idx| format!("${}", label_idx + 4)).collect::<Vec<_>>();
            format!("AND label.label NOT IN ({})", placeholders.join(", "))
        };
        let lock = match self.store.backend {
            Backend::Postgres => "FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET status = 'in_progress', runner_id = $1, started_at = $2, lease_expires_at = $3
             WHERE id = (
                 SELECT queued.id FROM jobs queued
                 WHERE queued.status = 'queued' AND queued.waiting_for IS NULL
                   AND NOT EXISTS (SELECT 1 FROM job_labels label WHERE label.job_id = queued.id {label_filter})
                   AND (EXISTS (SELECT 1 FROM runners runner WHERE runner.id = $1 AND runner.scoped = 0)
                        OR EXISTS (SELECT 1 FROM runner_projects allowed JOIN runs run ON run.project_id = allowed.project_id
                                   WHERE allowed.runner_id = $1 AND run.id = queued.run_id))
                 ORDER BY queued.id LIMIT 1 {lock}
             )
             RETURNING {COLUMNS}"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(runner_id).bind(now).bind(now + lease_ms);
        for label in labels {
            query = query.bind(label.to_lowercase());
        }
        let mut tx = self.store.begin_write().await?;
        let row = query.fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Says what a held job waits for now.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when it is not held (released, completed); [`StoreError::NotFound`]
    /// when there is no such job.
    pub async fn set_waiting_for(&self, id: i64, waiting_for: &str) -> Result<Job, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET waiting_for = $1 WHERE id = $2 AND status = 'queued' AND waiting_for IS NOT NULL
             RETURNING {COLUMNS}"
        )))
        .bind(waiting_for)
        .bind(id)
        .fetch_optional(&self.store.pool)
        .await?;
        self.held_or_not(id, row).await
    }

    /// Lets a held job be claimed: it is queued as any job.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when it is not held (released already, completed);
    /// [`StoreError::NotFound`] when there is no such job.
    pub async fn release_hold(&self, id: i64) -> Result<Job, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET waiting_for = NULL WHERE id = $1 AND status = 'queued' AND waiting_for IS NOT NULL
             RETURNING {COLUMNS}"
        )))
        .bind(id)
        .fetch_optional(&self.store.pool)
        .await?;
        self.held_or_not(id, row).await
    }

    async fn held_or_not(&self, id: i64, row: Option<AnyRow>) -> Result<Job, StoreError> {
        match row {
            Some(row) => job_from_row(&row),
            None => Err(match self.get(id).await {
                Ok(job) => StoreError::Conflict(format!("job {id} is {}, not held at a gate", job.status)),
                Err(error) => error,
            }),
        }
    }

    /// Renews the lease of a job the runner holds until `now + lease_ms`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the job is not in progress on this runner (it completed,
    /// was failed as lost, or another runner holds it): the runner must stop working on it.
    pub async fn heartbeat(&self, id: i64, runner_id: i64, now: i64, lease_ms: i64) -> Result<Lease, StoreError> {
        let row = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1 WHERE id = $2 AND runner_id = $3 AND status = 'in_progress'
             RETURNING lease_expires_at, cancel_requested_at",
        )
        .bind(now + lease_ms)
        .bind(id)
        .bind(runner_id)
        .fetch_optional(&self.store.pool)
        .await?;
        lease_from_row(&row.ok_or_else(|| StoreError::not_found("job in progress", id))?)
    }

    /// In-progress jobs whose lease ran out before `now`, oldest lease first.
    pub async fn expired_leases(&self, now: i64) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jobs WHERE status = 'in_progress' AND lease_expires_at < $1
             ORDER BY lease_expires_at, id"
        )))
        .bind(now)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Completes a job with `conclusion` and ends its lease.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such job; [`StoreError::Conflict`] when it
    /// has already completed (so a late report from a lost runner cannot overwrite the
    /// server's verdict).
    pub async fn complete(&self, id: i64, conclusion: Conclusion, now: i64) -> Result<Job, StoreError> {
        self.finish(id, conclusion, "{}", None, now).await
    }

    /// Completes a job as [`Jobs::complete`] does, with its outputs (JSON text) and, when it
    /// failed outside its steps, the reason.
    ///
    /// # Errors
    /// As [`Jobs::complete`].
    pub async fn finish(
        &self,
        id: i64,
        conclusion: Conclusion,
        outputs: &str,
        reason: Option<&str>,
        now: i64,
    ) -> Result<Job, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'completed', conclusion = $1, finished_at = $2, lease_expires_at = NULL,
                             outputs = $3, reason = $4
             WHERE id = $5 AND status <> 'completed' RETURNING {COLUMNS}"
        )))
        .bind(conclusion.as_str())
        .bind(now)
        .bind(outputs)
        .bind(reason)
        .bind(id)
        .fetch_optional(&self.store.pool)
        .await?;
        match row {
            Some(row) => job_from_row(&row),
            None => Err(match self.get(id).await {
                Ok(_) => StoreError::Conflict(format!("job {id} has completed")),
                Err(error) => error,
            }),
        }
    }

    /// Every job in progress on a runner.
    pub async fn in_progress_on(&self, runner_id: i64) -> Result<Vec<Job>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM jobs WHERE status = 'in_progress' AND runner_id = $1 ORDER BY id"
        )))
        .bind(runner_id)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Applies batch `batch_seq` of a runner's step events to a job it holds, in one
    /// transaction: steps are created, started and completed, and each step's lines become
    /// one log chunk. A batch whose number is not above the last applied one is a repeat and
    /// changes nothing. Either way the job's lease is renewed to `now + lease_ms`, in the same
    /// transaction (a report is a heartbeat too). Steps already completed stay as they are.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the job is not in progress on this runner.
    pub async fn record_events(
        &self,
        id: i64,
        runner_id: i64,
        batch_seq: i64,
        events: &[StepEvent<'_>],
        now: i64,
        lease_ms: i64,
    ) -> Result<Recorded, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let applied = sqlx::query(
            "UPDATE jobs SET event_seq = $1, lease_expires_at = $4
             WHERE id = $2 AND runner_id = $3 AND status = 'in_progress' AND event_seq < $1
             RETURNING run_id, lease_expires_at, cancel_requested_at",
        )
        .bind(batch_seq)
        .bind(id)
        .bind(runner_id)
        .bind(now + lease_ms)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(applied) = applied else {
            let held = sqlx::query(
                "UPDATE jobs SET lease_expires_at = $3 WHERE id = $1 AND runner_id = $2 AND status = 'in_progress'
                 RETURNING lease_expires_at, cancel_requested_at",
            )
            .bind(id)
            .bind(runner_id)
            .bind(now + lease_ms)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            let held = held.ok_or_else(|| StoreError::not_found("job in progress", id))?;
            return Ok(Recorded { applied: false, lease: lease_from_row(&held)?, chunks: Vec::new() });
        };
        let lease = lease_from_row(&applied)?;
        let run_id: i64 = applied.try_get("run_id")?;
        let mut chunks = Vec::new();
        for (event_idx, event) in events.iter().enumerate() {
            match event {
                StepEvent::Started { step_idx, name, at } => {
                    sqlx::query(
                        "INSERT INTO steps (job_id, step_idx, name, status, started_at)
                         VALUES ($1, $2, $3, 'in_progress', $4)
                         ON CONFLICT (job_id, step_idx) DO NOTHING",
                    )
                    .bind(id)
                    .bind(step_idx)
                    .bind(name)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                StepEvent::Lines { step_idx, text } => {
                    // The step's next chunk number, and the step, in one round trip.
                    let numbered: Option<(i64, i64)> = sqlx::query_as(
                        "UPDATE steps SET log_seq = log_seq + 1 WHERE job_id = $1 AND step_idx = $2
                         RETURNING id, log_seq",
                    )
                    .bind(id)
                    .bind(step_idx)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((step_id, seq)) = numbered else { continue };
                    crate::logs::insert_chunk(&mut tx, step_id, seq, text, now).await?;
                    chunks.push(AppendedChunk { event_idx, run_id, step_id, step_idx: *step_idx, seq });
                }
                StepEvent::Finished { step_idx, outcome, conclusion, at } => {
                    let finished: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(
                        "UPDATE steps SET status = 'completed', outcome = $1, conclusion = $2, finished_at = $3
                         WHERE job_id = $4 AND step_idx = $5 AND status <> 'completed'
                         RETURNING started_at, finished_at",
                    )
                    .bind(outcome.as_str())
                    .bind(conclusion.as_str())
                    .bind(at)
                    .bind(id)
                    .bind(step_idx)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some((started_at, finished_at)) = finished {
                        crate::add_duration(&mut tx, "step_duration", started_at, finished_at).await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(Recorded { applied: true, lease, chunks })
    }

    /// Cancels a job: a queued job completes `cancelled` at once; a running job is marked so
    /// its runner's next heartbeat says to stop it. A completed job is left as it is.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such job.
    pub async fn cancel(&self, id: i64, now: i64) -> Result<Job, StoreError> {
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "UPDATE jobs SET status = 'completed', conclusion = 'cancelled', finished_at = $1
             WHERE id = $2 AND status = 'queued'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE jobs SET cancel_requested_at = COALESCE(cancel_requested_at, $1)
             WHERE id = $2 AND status = 'in_progress'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get(id).await
    }

    /// Cancels every job of a run that has not completed, as [`Jobs::cancel`] does; returns
    /// how many jobs it changed.
    pub async fn cancel_run(&self, run_id: i64, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let queued = sqlx::query(
            "UPDATE jobs SET status = 'completed', conclusion = 'cancelled', finished_at = $1
             WHERE run_id = $2 AND status = 'queued'",
        )
        .bind(now)
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        let running = sqlx::query(
            "UPDATE jobs SET cancel_requested_at = $1
             WHERE run_id = $2 AND status = 'in_progress' AND cancel_requested_at IS NULL",
        )
        .bind(now)
        .bind(run_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(queued.rows_affected() + running.rows_affected())
    }
}

/// A job's lease from a row with `lease_expires_at` and `cancel_requested_at`.
fn lease_from_row(row: &AnyRow) -> Result<Lease, StoreError> {
    let cancel_requested_at: Option<i64> = row.try_get("cancel_requested_at")?;
    Ok(Lease { expires_at: row.try_get("lease_expires_at")?, cancel_requested: cancel_requested_at.is_some() })
}

fn job_from_row(row: &AnyRow) -> Result<Job, StoreError> {
    let waiting_for: Option<String> = row.try_get("waiting_for")?;
    let status = match status_col(row, "status")? {
        Status::Queued if waiting_for.is_some() => Status::Waiting,
        status => status,
    };
    Ok(Job {
        id: row.try_get("id")?,
        run_id: row.try_get("run_id")?,
        name: row.try_get("name")?,
        status,
        conclusion: conclusion_col(row, "conclusion")?,
        runner_id: row.try_get("runner_id")?,
        runs_on: labels_col(row, "runs_on")?,
        needs: row.try_get("needs")?,
        matrix: row.try_get("matrix")?,
        queued_at: row.try_get("queued_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        cancel_requested_at: row.try_get("cancel_requested_at")?,
        job_key: row.try_get("job_key")?,
        instance_idx: row.try_get("instance_idx")?,
        contexts: row.try_get("contexts")?,
        outputs: row.try_get("outputs")?,
        reason: row.try_get("reason")?,
        event_seq: row.try_get("event_seq")?,
        waiting_for,
    })
}
