//! Deployments: a release of a service going to an environment on an agent, with its gates,
//! approvals, the agent's steps, the analysis figures and the outcome; or a workflow job with
//! `environment:` (`job_id` set, no release), which a runner carries out. The server decides
//! the transitions; this repository only applies them, each as a compare-and-set on the
//! status, so two requests never both move one deployment.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, decode_error};

/// Where a deployment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeploymentStatus {
    /// Ready to start, behind another deployment of the same service and environment.
    Queued,
    /// Held at a gate (approvals, `after:`); `reason` says what it waits for.
    Waiting,
    /// Its agent carries it out.
    InProgress,
    Succeeded,
    /// The new release failed its checks and the previous one serves again.
    RolledBack,
    /// Refused at a gate, or could not be carried out.
    Failed,
    Cancelled,
}

impl DeploymentStatus {
    /// Every status, in the order of a deployment's life.
    pub const ALL: [DeploymentStatus; 7] = [
        DeploymentStatus::Queued,
        DeploymentStatus::Waiting,
        DeploymentStatus::InProgress,
        DeploymentStatus::Succeeded,
        DeploymentStatus::RolledBack,
        DeploymentStatus::Failed,
        DeploymentStatus::Cancelled,
    ];

    /// The word stored and shown (`in_progress`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Queued => "queued",
            DeploymentStatus::Waiting => "waiting",
            DeploymentStatus::InProgress => "in_progress",
            DeploymentStatus::Succeeded => "succeeded",
            DeploymentStatus::RolledBack => "rolled_back",
            DeploymentStatus::Failed => "failed",
            DeploymentStatus::Cancelled => "cancelled",
        }
    }

    /// The status `word` names, if any.
    pub fn parse(word: &str) -> Option<DeploymentStatus> {
        DeploymentStatus::ALL.into_iter().find(|status| status.as_str() == word)
    }

    /// Whether the deployment is over (nothing moves it any more).
    pub fn is_over(self) -> bool {
        !matches!(self, DeploymentStatus::Queued | DeploymentStatus::Waiting | DeploymentStatus::InProgress)
    }
}

/// A deployment as stored. The JSON columns are kept as text: the server owns their shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: i64,
    pub project_id: i64,
    pub service: String,
    pub environment: String,
    /// The release's number within its service; `None` for a workflow job's deployment.
    pub release: Option<i64>,
    pub strategy: String,
    pub status: DeploymentStatus,
    pub reason: Option<String>,
    /// A token's name, `auto`, `promotion` or `rollback`.
    pub triggered_by: String,
    pub rollback_of: Option<i64>,
    pub is_rollback: bool,
    pub agent_id: Option<i64>,
    /// The release's author, who may not approve it.
    pub author: String,
    pub commits: String,
    pub gates: String,
    pub approvals: String,
    pub steps: String,
    pub analysis: Option<String>,
    /// What it runs, resolved when it was created.
    pub target: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The workflow job that is this deployment (`environment:`), if it is one.
    pub job_id: Option<i64>,
    /// The run it came from: the job's, or the run that built the release.
    pub run_id: Option<i64>,
    /// The commit it ships (for a service, its release's).
    pub commit_sha: Option<String>,
    /// Where the deployed thing can be seen (a job's `environment.url`).
    pub url: Option<String>,
    /// Why it is being cancelled ("cancelled by alice"), while its agent stops it.
    pub cancel_requested: Option<String>,
    /// The server's measurements of its `analysis.queries` (JSON).
    pub measurements: Option<String>,
}

/// What [`Deployments::create`] writes.
#[derive(Debug, Clone, Copy)]
pub struct NewDeployment<'a> {
    pub project_id: i64,
    pub service: &'a str,
    pub environment: &'a str,
    pub release: Option<i64>,
    pub strategy: &'a str,
    pub status: DeploymentStatus,
    pub reason: Option<&'a str>,
    pub triggered_by: &'a str,
    pub rollback_of: Option<i64>,
    pub is_rollback: bool,
    /// The first of `hosts`, kept as the deployment's agent.
    pub agent_id: Option<i64>,
    /// Every agent that carries it out (empty for a workflow job's, or a refused one).
    pub hosts: &'a [i64],
    pub author: &'a str,
    pub commits: &'a str,
    pub gates: &'a str,
    pub target: &'a str,
    pub job_id: Option<i64>,
    pub run_id: Option<i64>,
    pub commit_sha: Option<&'a str>,
    pub url: Option<&'a str>,
}

/// One agent's part of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentHost {
    pub agent_id: i64,
    /// `in_progress` until it is over on this agent, then its outcome there.
    pub status: DeploymentStatus,
    pub reason: Option<String>,
    /// The agent's steps (JSON).
    pub steps: String,
    /// The agent's analysis figures (JSON).
    pub analysis: Option<String>,
    pub finished_at: Option<i64>,
}

/// What [`Deployments::record_host`] writes.
#[derive(Debug, Clone, Copy)]
pub struct HostReport<'a> {
    pub status: DeploymentStatus,
    pub reason: Option<&'a str>,
    pub steps: &'a str,
    pub analysis: Option<&'a str>,
}

/// The deployments repository: `store.deployments()`.
#[derive(Debug, Clone, Copy)]
pub struct Deployments<'a> {
    pub(crate) store: &'a Store,
}

const COLUMNS: &str = "id, project_id, service, environment, release, strategy, status, reason, triggered_by, \
                       rollback_of, is_rollback, agent_id, author, commits, gates, approvals, steps, analysis, \
                       target, created_at, started_at, finished_at, job_id, run_id, commit_sha, url, cancel_requested, \
                       measurements";

impl Deployments<'_> {
    /// Records a new deployment (started now when its status is `in_progress`, finished now
    /// when it is already over).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the project, agent or `rollback_of` does not exist.
    pub async fn create(&self, new: &NewDeployment<'_>, now: i64) -> Result<Deployment, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let id = insert(&mut tx, new, now).await?;
        tx.commit().await?;
        self.get(id).await
    }

    /// The deployment with this id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn get(&self, id: i64) -> Result<Deployment, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM deployments WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?;
        match row {
            Some(row) => deployment_from_row(&row),
            None => Err(StoreError::not_found("deployment", id)),
        }
    }

    /// A project's deployments, newest first, of one service and environment when given, at
    /// most `limit`.
    pub async fn list(
        &self,
        project_id: i64,
        service: Option<&str>,
        environment: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Deployment>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM deployments WHERE project_id = $1");
        let mut values = Vec::new();
        for (col, value) in [("service", service), ("environment", environment)] {
            if let Some(value) = value {
                values.push(value);
                sql.push_str(&format!(" AND {col} = ${}", values.len() + 1));
            }
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", values.len() + 2));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project_id);
        for value in values {
            query = query.bind(value);
        }
        let rows = query.bind(limit).fetch_all(&self.store.pool).await?;
        rows.iter().map(deployment_from_row).collect()
    }

    /// The deployments of one service and environment that are not over, oldest first (not
    /// workflow jobs' deployments, which runners carry out).
    pub async fn pending_for_unit(
        &self,
        project_id: i64,
        service: &str,
        environment: &str,
    ) -> Result<Vec<Deployment>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM deployments
             WHERE project_id = $1 AND service = $2 AND environment = $3 AND job_id IS NULL
               AND status IN ('queued', 'waiting', 'in_progress')
             ORDER BY id"
        )))
        .bind(project_id)
        .bind(service)
        .bind(environment)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(deployment_from_row).collect()
    }

    /// Every deployment in a status, oldest first (the supervisor's sweep).
    pub async fn with_status(&self, status: DeploymentStatus) -> Result<Vec<Deployment>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM deployments WHERE status = $1 ORDER BY id"
        )))
        .bind(status.as_str())
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(deployment_from_row).collect()
    }

    /// The last deployment of one service to one environment that succeeded: what serves
    /// there when no deployment is under way.
    pub async fn last_succeeded(
        &self,
        project_id: i64,
        service: &str,
        environment: &str,
    ) -> Result<Option<Deployment>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM deployments
             WHERE project_id = $1 AND service = $2 AND environment = $3 AND status = 'succeeded'
               AND job_id IS NULL
             ORDER BY finished_at DESC, id DESC LIMIT 1"
        )))
        .bind(project_id)
        .bind(service)
        .bind(environment)
        .fetch_optional(&self.store.pool)
        .await?;
        row.as_ref().map(deployment_from_row).transpose()
    }

    /// Whether release `release` of a service ever succeeded in an environment.
    pub async fn succeeded_in(
        &self,
        project_id: i64,
        service: &str,
        environment: &str,
        release: i64,
    ) -> Result<bool, StoreError> {
        let n_rows: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deployments
             WHERE project_id = $1 AND service = $2 AND environment = $3 AND release = $4 AND status = 'succeeded'",
        )
        .bind(project_id)
        .bind(service)
        .bind(environment)
        .bind(release)
        .fetch_one(&self.store.pool)
        .await?;
        Ok(n_rows > 0)
    }

    /// What agent `agent_id` runs: per service and environment, the last deployment that
    /// succeeded there and the one in progress, oldest first.
    pub async fn placed_on(&self, agent_id: i64) -> Result<Vec<Deployment>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM deployments
             WHERE id IN (SELECT deployment_id FROM deployment_hosts WHERE agent_id = $1)
               AND (status = 'in_progress'
                    OR id IN (SELECT MAX(d.id) FROM deployments d
                              JOIN deployment_hosts h ON h.deployment_id = d.id
                              WHERE h.agent_id = $1 AND d.status = 'succeeded'
                              GROUP BY d.project_id, d.service, d.environment))
             ORDER BY id"
        )))
        .bind(agent_id)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(deployment_from_row).collect()
    }

    /// Moves deployment `id` from one of `from` to `to` with `reason` (`None` keeps the one it
    /// has); sets when it started (into `in_progress`) or finished (into a final status).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such deployment, [`StoreError::Conflict`]
    /// when it is not in one of `from` (another request moved it first).
    pub async fn transition(
        &self,
        id: i64,
        from: &[DeploymentStatus],
        to: DeploymentStatus,
        reason: Option<&str>,
        now: i64,
    ) -> Result<Deployment, StoreError> {
        let from_list = from.iter().map(|status| format!("'{}'", status.as_str())).collect::<Vec<_>>().join(", ");
        let started = (to == DeploymentStatus::InProgress).then_some(now);
        let finished = to.is_over().then_some(now);
        let res = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE deployments SET status = $1, reason = COALESCE($2, reason),
                                    started_at = COALESCE(started_at, $3), finished_at = COALESCE($4, finished_at)
             WHERE id = $5 AND status IN ({from_list})"
        )))
        .bind(to.as_str())
        .bind(reason)
        .bind(started)
        .bind(finished)
        .bind(id)
        .execute(&self.store.pool)
        .await?;
        if res.rows_affected() == 0 {
            let deployment = self.get(id).await?;
            return Err(StoreError::Conflict(format!(
                "deployment {id}: it is {}, not {}",
                deployment.status.as_str(),
                from.iter().map(|status| status.as_str()).collect::<Vec<_>>().join(" or ")
            )));
        }
        self.get(id).await
    }

    /// Asks for deployment `id`, in progress, to be cancelled by its agent, saying why; the
    /// first request's reason is kept.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such deployment, [`StoreError::Conflict`]
    /// when it is not in progress.
    pub async fn request_cancel(&self, id: i64, reason: &str) -> Result<Deployment, StoreError> {
        let res = sqlx::query(
            "UPDATE deployments SET cancel_requested = COALESCE(cancel_requested, $1)
             WHERE id = $2 AND status = 'in_progress'",
        )
        .bind(reason)
        .bind(id)
        .execute(&self.store.pool)
        .await?;
        let deployment = self.get(id).await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "deployment {id}: it is {}, not in_progress",
                deployment.status.as_str()
            )));
        }
        Ok(deployment)
    }

    /// The agents deployment `id` runs on, with what each reported, by agent id.
    pub async fn hosts(&self, id: i64) -> Result<Vec<DeploymentHost>, StoreError> {
        let rows = sqlx::query(
            "SELECT agent_id, status, reason, steps, analysis, finished_at FROM deployment_hosts
             WHERE deployment_id = $1 ORDER BY agent_id",
        )
        .bind(id)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let status: String = row.try_get("status")?;
                Ok(DeploymentHost {
                    agent_id: row.try_get("agent_id")?,
                    status: DeploymentStatus::parse(&status).ok_or_else(|| decode_error("status", &status))?,
                    reason: row.try_get("reason")?,
                    steps: row.try_get("steps")?,
                    analysis: row.try_get("analysis")?,
                    finished_at: row.try_get("finished_at")?,
                })
            })
            .collect()
    }

    /// Records what agent `agent_id` reported of deployment `id`: its steps and analysis
    /// (JSON), and its own status and reason there (`in_progress` until it is over there;
    /// a host that succeeded may still be rolled back with the others). Sets when it
    /// finished there on the first final status.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the agent is not one of the deployment's hosts.
    pub async fn record_host(
        &self,
        id: i64,
        agent_id: i64,
        report: &HostReport<'_>,
        now: i64,
    ) -> Result<(), StoreError> {
        let finished = report.status.is_over().then_some(now);
        let res = sqlx::query(
            "UPDATE deployment_hosts SET status = $1, reason = $2, steps = $3, analysis = COALESCE($4, analysis),
                                         finished_at = CASE WHEN $5 IS NULL THEN NULL
                                                            ELSE COALESCE(finished_at, $5) END
             WHERE deployment_id = $6 AND agent_id = $7",
        )
        .bind(report.status.as_str())
        .bind(report.reason)
        .bind(report.steps)
        .bind(report.analysis)
        .bind(finished)
        .bind(id)
        .bind(agent_id)
        .execute(&self.store.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("deployment host", format!("{id} on agent {agent_id}")));
        }
        Ok(())
    }

    /// Sets where deployment `id`'s deployed thing can be seen (a job's `environment.url`,
    /// evaluated after its steps).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such deployment.
    pub async fn set_url(&self, id: i64, url: &str) -> Result<(), StoreError> {
        let res = sqlx::query("UPDATE deployments SET url = $1 WHERE id = $2")
            .bind(url)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("deployment", id));
        }
        Ok(())
    }

    /// Replaces a deployment's gates and approvals (JSON) and, when given, its reason.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such deployment.
    pub async fn set_gates(
        &self,
        id: i64,
        gates: &str,
        approvals: &str,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let res = sqlx::query(
            "UPDATE deployments SET gates = $1, approvals = $2, reason = COALESCE($3, reason) WHERE id = $4",
        )
        .bind(gates)
        .bind(approvals)
        .bind(reason)
        .bind(id)
        .execute(&self.store.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("deployment", id));
        }
        Ok(())
    }

    /// Records what the agent reported of a deployment in progress: its steps and analysis
    /// figures (JSON), and a reason (why it waits, say) when given.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such deployment.
    pub async fn record_progress(
        &self,
        id: i64,
        steps: &str,
        analysis: Option<&str>,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let res = sqlx::query(
            "UPDATE deployments SET steps = $1, analysis = COALESCE($2, analysis), reason = $3 WHERE id = $4",
        )
        .bind(steps)
        .bind(analysis)
        .bind(reason)
        .bind(id)
        .execute(&self.store.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("deployment", id));
        }
        Ok(())
    }
}

impl Deployments<'_> {
    /// Keeps the measurements of a deployment's `analysis.queries` (JSON, the server's shape).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such deployment.
    pub async fn record_measurements(&self, id: i64, measurements: &str) -> Result<(), StoreError> {
        let res = sqlx::query("UPDATE deployments SET measurements = $1 WHERE id = $2")
            .bind(measurements)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("deployment", id));
        }
        Ok(())
    }

    /// The deployment that is workflow job `job_id`, if it targets an environment.
    pub async fn for_job(&self, job_id: i64) -> Result<Option<Deployment>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM deployments WHERE job_id = $1")))
            .bind(job_id)
            .fetch_optional(&self.store.pool)
            .await?;
        row.as_ref().map(deployment_from_row).transpose()
    }

    /// The deployments of run `run_id`'s jobs (not those of releases it built), oldest first.
    pub async fn of_run_jobs(&self, run_id: i64) -> Result<Vec<Deployment>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM deployments WHERE run_id = $1 AND job_id IS NOT NULL ORDER BY id"
        )))
        .bind(run_id)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(deployment_from_row).collect()
    }

    /// Whether commit `commit_sha` was deployed to an environment with success, by a service's
    /// release or by a workflow job.
    pub async fn commit_succeeded_in(
        &self,
        project_id: i64,
        environment: &str,
        commit_sha: &str,
    ) -> Result<bool, StoreError> {
        let n_rows: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM deployments
             WHERE project_id = $1 AND environment = $2 AND commit_sha = $3 AND status = 'succeeded'",
        )
        .bind(project_id)
        .bind(environment)
        .bind(commit_sha)
        .fetch_one(&self.store.pool)
        .await?;
        Ok(n_rows > 0)
    }
}

/// Inserts `new` with its hosts in the caller's transaction; its id.
pub(crate) async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    new: &NewDeployment<'_>,
    now: i64,
) -> Result<i64, StoreError> {
    let started_at = (new.status == DeploymentStatus::InProgress).then_some(now);
    let finished_at = new.status.is_over().then_some(now);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO deployments (project_id, service, environment, release, strategy, status, reason,
                                      triggered_by, rollback_of, is_rollback, agent_id, author, commits, gates,
                                      target, created_at, started_at, finished_at, job_id, run_id, commit_sha, url)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                     $21, $22)
             RETURNING id",
    )
    .bind(new.project_id)
    .bind(new.service)
    .bind(new.environment)
    .bind(new.release)
    .bind(new.strategy)
    .bind(new.status.as_str())
    .bind(new.reason)
    .bind(new.triggered_by)
    .bind(new.rollback_of)
    .bind(i64::from(new.is_rollback))
    .bind(new.agent_id)
    .bind(new.author)
    .bind(new.commits)
    .bind(new.gates)
    .bind(new.target)
    .bind(now)
    .bind(started_at)
    .bind(finished_at)
    .bind(new.job_id)
    .bind(new.run_id)
    .bind(new.commit_sha)
    .bind(new.url)
    .fetch_one(&mut **tx)
    .await
    .map_err(gone(new))?;
    insert_hosts(tx, id, new).await?;
    Ok(id)
}

/// A failed insert of `new`: something it refers to is gone.
fn gone(new: &NewDeployment<'_>) -> impl FnOnce(sqlx::Error) -> StoreError {
    crate::conflict_on_unique(move || {
        format!(
            "deployment of {} to {} (its project, agent, job, run or rolled-back deployment is gone)",
            new.service, new.environment
        )
    })
}

/// Records `new.hosts` as the agents of deployment `id`, in the caller's transaction.
async fn insert_hosts(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: i64,
    new: &NewDeployment<'_>,
) -> Result<(), StoreError> {
    let status = if new.status.is_over() { new.status } else { DeploymentStatus::InProgress };
    for agent_id in new.hosts {
        sqlx::query("INSERT INTO deployment_hosts (deployment_id, agent_id, status) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(agent_id)
            .bind(status.as_str())
            .execute(&mut **tx)
            .await
            .map_err(gone(new))?;
    }
    Ok(())
}

fn deployment_from_row(row: &AnyRow) -> Result<Deployment, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(Deployment {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        service: row.try_get("service")?,
        environment: row.try_get("environment")?,
        release: row.try_get("release")?,
        strategy: row.try_get("strategy")?,
        status: DeploymentStatus::parse(&status).ok_or_else(|| decode_error("status", &status))?,
        reason: row.try_get("reason")?,
        triggered_by: row.try_get("triggered_by")?,
        rollback_of: row.try_get("rollback_of")?,
        is_rollback: row.try_get::<i64, _>("is_rollback")? != 0,
        agent_id: row.try_get("agent_id")?,
        author: row.try_get("author")?,
        commits: row.try_get("commits")?,
        gates: row.try_get("gates")?,
        approvals: row.try_get("approvals")?,
        steps: row.try_get("steps")?,
        analysis: row.try_get("analysis")?,
        target: row.try_get("target")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        job_id: row.try_get("job_id")?,
        run_id: row.try_get("run_id")?,
        commit_sha: row.try_get("commit_sha")?,
        url: row.try_get("url")?,
        cancel_requested: row.try_get("cancel_requested")?,
        measurements: row.try_get("measurements")?,
    })
}
