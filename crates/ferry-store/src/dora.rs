//! What the DORA keys are computed from: the ledger of finished deployments of each unit
//! (Ferry's own, workflow jobs', and those sent from outside), the commits each brought, and
//! incidents. [`Dora::history`] hands `ferry_dora` a window's slice of a unit's history that
//! gives the same keys as the whole history would, reading only the window's rows plus the
//! few earlier rows the rules look at (see its doc), through the indexes of migration 0017.

use std::collections::{BTreeMap, HashMap};

use ferry_dora::{Commit, Deployment as DoraDeployment, History, Incident as DoraIncident, Outcome};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, UnitRef, decode_error};

/// The ledger and incidents: `store.dora()`.
#[derive(Debug, Clone, Copy)]
pub struct Dora<'a> {
    pub(crate) store: &'a Store,
}

/// A finished deployment for the ledger ([`Dora::record_deployment`]). Times in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct NewLedgerDeployment<'a> {
    pub unit: UnitRef<'a>,
    /// The row in `deployments` when Ferry made it.
    pub deployment_id: Option<i64>,
    /// `ferry`, `job`, `api` or `import`.
    pub source: &'a str,
    pub commit_sha: &'a str,
    pub outcome: Outcome,
    /// `None` for one sent from outside.
    pub started_at: Option<i64>,
    pub finished_at: i64,
}

/// A commit a deployment brought; `committed_at` in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BroughtCommit {
    pub sha: String,
    pub committed_at: i64,
}

/// A row of the ledger, for links and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerDeployment {
    pub id: i64,
    pub deployment_id: Option<i64>,
    pub source: String,
    pub commit_sha: String,
    pub outcome: Outcome,
    pub finished_at: i64,
}

/// A window's slice of a unit's history, in `ferry_dora`'s terms (seconds, ledger ids), and
/// the ledger rows behind its deployments.
#[derive(Debug, Clone, Default)]
pub struct UnitHistory {
    pub history: History,
    pub ledger: BTreeMap<i64, LedgerDeployment>,
}

/// An incident as stored. Times in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: i64,
    pub project_id: i64,
    pub service: String,
    pub environment: String,
    pub title: String,
    pub started_at: i64,
    pub resolved_at: Option<i64>,
    pub caused_by_deployment: Option<i64>,
    pub caused_by_commit: Option<String>,
    pub opened_by: String,
    pub acked_at: Option<i64>,
    pub acked_by: Option<String>,
    /// Who resolved it by hand; `None` when it resolved by itself or is open.
    pub resolved_by: Option<String>,
    /// The receiver told of it (deploy.yml's `services.<name>.owner`).
    pub owner: Option<String>,
    /// It resolves by itself once all its alerts have (an alert opened or reopened it).
    pub resolves_with_alerts: bool,
}

/// What [`Dora::open_incident`] writes.
#[derive(Debug, Clone, Copy)]
pub struct NewIncident<'a> {
    pub unit: UnitRef<'a>,
    pub title: &'a str,
    pub started_at: i64,
    pub resolved_at: Option<i64>,
    pub caused_by_deployment: Option<i64>,
    pub caused_by_commit: Option<&'a str>,
    pub opened_by: &'a str,
}

pub(crate) const INCIDENT_COLUMNS: &str = "id, project_id, service, environment, title, started_at, resolved_at, \
                                caused_by_deployment, caused_by_commit, opened_by, acked_at, acked_by, \
                                resolved_by, owner, resolves_with_alerts";

/// Stands for a deployment an incident names that the ledger does not hold (one that never
/// finished): ledger ids start at 1, so the incident is attributed to nothing in any window.
const NOT_IN_LEDGER: i64 = 0;

fn outcome_str(outcome: Outcome) -> &'static str {
    outcome.as_str()
}

fn outcome_col(row: &AnyRow, col: &str) -> Result<Outcome, StoreError> {
    let text: String = row.try_get(col)?;
    match text.as_str() {
        "succeeded" => Ok(Outcome::Succeeded),
        "failed" => Ok(Outcome::Failed),
        "rolled_back" => Ok(Outcome::RolledBack),
        _ => Err(decode_error(col, &text)),
    }
}

pub(crate) fn incident_from_row(row: &AnyRow) -> Result<Incident, StoreError> {
    Ok(Incident {
        id: row.try_get("id")?,
        project_id: row.try_get("project_id")?,
        service: row.try_get("service")?,
        environment: row.try_get("environment")?,
        title: row.try_get("title")?,
        started_at: row.try_get("started_at")?,
        resolved_at: row.try_get("resolved_at")?,
        caused_by_deployment: row.try_get("caused_by_deployment")?,
        caused_by_commit: row.try_get("caused_by_commit")?,
        opened_by: row.try_get("opened_by")?,
        acked_at: row.try_get("acked_at")?,
        acked_by: row.try_get("acked_by")?,
        resolved_by: row.try_get("resolved_by")?,
        owner: row.try_get("owner")?,
        resolves_with_alerts: row.try_get::<i64, _>("resolves_with_alerts")? != 0,
    })
}

/// Milliseconds to the whole seconds `ferry_dora` counts in.
fn seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

impl Dora<'_> {
    /// The commit of the unit's last deployment that finished before `before` (ms): the one
    /// whose commits a new deployment's are counted from.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn previous_commit(&self, unit: UnitRef<'_>, before: i64) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT commit_sha FROM dora_deployments
             WHERE project_id = $1 AND service = $2 AND environment = $3 AND finished_at < $4
             ORDER BY finished_at DESC, id DESC LIMIT 1",
        )
        .bind(unit.project_id)
        .bind(unit.service)
        .bind(unit.environment)
        .bind(before)
        .fetch_optional(&self.store.pool)
        .await?)
    }

    /// Adds a finished deployment and the commits it brought to the ledger, in one
    /// transaction; its ledger id. A Ferry deployment recorded already is not added again.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the project or the deployment does not exist.
    pub async fn record_deployment(
        &self,
        new: &NewLedgerDeployment<'_>,
        commits: &[BroughtCommit],
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO dora_deployments (project_id, service, environment, deployment_id, source, commit_sha,
                                           outcome, started_at, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (deployment_id) DO NOTHING
             RETURNING id",
        )
        .bind(new.unit.project_id)
        .bind(new.unit.service)
        .bind(new.unit.environment)
        .bind(new.deployment_id)
        .bind(new.source)
        .bind(new.commit_sha)
        .bind(outcome_str(new.outcome))
        .bind(new.started_at)
        .bind(new.finished_at)
        .fetch_optional(&mut *tx)
        .await
        .map_err(crate::conflict_on_unique(|| {
            format!(
                "deployment of {} to {} (its project or deployment is gone)",
                new.unit.service, new.unit.environment
            )
        }))?;
        let Some(id) = id else { return Ok(None) };
        for commit in commits {
            sqlx::query(
                "INSERT INTO dora_commits (dora_deployment_id, project_id, service, environment, sha, committed_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(new.unit.project_id)
            .bind(new.unit.service)
            .bind(new.unit.environment)
            .bind(&commit.sha)
            .bind(commit.committed_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Some(id))
    }

    /// The services and environments of a project that have deployments in the ledger.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn units(&self, project_id: i64) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT service, environment FROM dora_deployments WHERE project_id = $1
             ORDER BY service, environment",
        )
        .bind(project_id)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(|row| Ok((row.try_get("service")?, row.try_get("environment")?))).collect()
    }

    /// The services of a project in the ledger (any environment), in order. Read by skipping
    /// through the unit index (one lookup per service), so its cost does not grow with the
    /// number of deployments.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn services(&self, project_id: i64) -> Result<Vec<String>, StoreError> {
        let services: Vec<Option<String>> = sqlx::query_scalar(
            "WITH RECURSIVE services (service) AS (
                 SELECT MIN(service) FROM dora_deployments WHERE project_id = $1
                 UNION ALL
                 SELECT (SELECT MIN(d.service) FROM dora_deployments d
                         WHERE d.project_id = $1 AND d.service > services.service)
                 FROM services WHERE services.service IS NOT NULL
             )
             SELECT service FROM services",
        )
        .bind(project_id)
        .fetch_all(&self.store.pool)
        .await?;
        Ok(services.into_iter().flatten().collect())
    }

    /// The slice of a unit's history the keys of the window `[from, to)` (ms) need:
    /// - the deployments that finished in the window and the commits they brought;
    /// - the earlier successful deployments that brought one of those commits (with only
    ///   those), so a commit counts once, at the first success that brought it;
    /// - the incidents that started before `to` and were open at some point after the
    ///   earliest start of those deployments (rework, attribution);
    /// - for an incident naming a commit, the deployment that first brought it.
    ///
    /// An incident attributed by time goes to the last success before it: when that one
    /// finished before the window, it is outside the window whichever it is, so the earlier
    /// deployments are not needed.
    ///
    /// # Errors
    /// When the database fails or holds a value this store cannot read.
    pub async fn history(&self, unit: UnitRef<'_>, from: i64, to: i64) -> Result<UnitHistory, StoreError> {
        let pool = &self.store.pool;
        let rows = sqlx::query(
            "SELECT id, deployment_id, source, commit_sha, outcome, started_at, finished_at FROM dora_deployments
             WHERE project_id = $1 AND service = $2 AND environment = $3 AND finished_at >= $4 AND finished_at < $5",
        )
        .bind(unit.project_id)
        .bind(unit.service)
        .bind(unit.environment)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
        let mut deployments: BTreeMap<i64, DoraDeployment> = BTreeMap::new();
        let mut ledger = BTreeMap::new();
        let mut earliest_start = from;
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let started_at: Option<i64> = row.try_get("started_at")?;
            let finished_at: i64 = row.try_get("finished_at")?;
            let outcome = outcome_col(row, "outcome")?;
            earliest_start = earliest_start.min(started_at.unwrap_or(finished_at));
            deployments.insert(
                id,
                DoraDeployment {
                    id,
                    started_at: started_at.map(seconds),
                    finished_at: seconds(finished_at),
                    outcome,
                    commits: Vec::new(),
                },
            );
            ledger.insert(
                id,
                LedgerDeployment {
                    id,
                    deployment_id: row.try_get("deployment_id")?,
                    source: row.try_get("source")?,
                    commit_sha: row.try_get("commit_sha")?,
                    outcome,
                    finished_at,
                },
            );
        }
        let window_commits = "SELECT c.sha FROM dora_commits c JOIN dora_deployments d ON d.id = c.dora_deployment_id
             WHERE d.project_id = $1 AND d.service = $2 AND d.environment = $3
               AND d.finished_at >= $4 AND d.finished_at < $5";
        let commit_rows = sqlx::query(sqlx::AssertSqlSafe(
            window_commits.replace("SELECT c.sha", "SELECT c.dora_deployment_id, c.sha, c.committed_at"),
        ))
        .bind(unit.project_id)
        .bind(unit.service)
        .bind(unit.environment)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
        for row in &commit_rows {
            let id: i64 = row.try_get("dora_deployment_id")?;
            if let Some(deployment) = deployments.get_mut(&id) {
                let committed_at: i64 = row.try_get("committed_at")?;
                deployment.commits.push(Commit { sha: row.try_get("sha")?, at: seconds(committed_at) });
            }
        }
        let earlier = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT c2.dora_deployment_id, d2.finished_at, c2.sha, c2.committed_at
             FROM dora_commits c2 JOIN dora_deployments d2 ON d2.id = c2.dora_deployment_id
             WHERE c2.project_id = $1 AND c2.service = $2 AND c2.environment = $3
               AND d2.finished_at < $4 AND d2.outcome = 'succeeded'
               AND c2.sha IN ({window_commits})"
        )))
        .bind(unit.project_id)
        .bind(unit.service)
        .bind(unit.environment)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
        for row in &earlier {
            let id: i64 = row.try_get("dora_deployment_id")?;
            let finished_at: i64 = row.try_get("finished_at")?;
            let committed_at: i64 = row.try_get("committed_at")?;
            let deployment = deployments.entry(id).or_insert_with(|| DoraDeployment {
                id,
                started_at: None,
                finished_at: seconds(finished_at),
                outcome: Outcome::Succeeded,
                commits: Vec::new(),
            });
            deployment.commits.push(Commit { sha: row.try_get("sha")?, at: seconds(committed_at) });
        }

        let incident_rows = sqlx::query(
            "SELECT i.id, i.started_at, i.resolved_at, i.caused_by_deployment, i.caused_by_commit, d.id AS ledger_id
             FROM incidents i LEFT JOIN dora_deployments d ON d.deployment_id = i.caused_by_deployment
             WHERE i.project_id = $1 AND i.service = $2 AND i.environment = $3 AND i.started_at < $4
               AND (i.resolved_at IS NULL OR i.resolved_at >= $5)",
        )
        .bind(unit.project_id)
        .bind(unit.service)
        .bind(unit.environment)
        .bind(to)
        .bind(earliest_start)
        .fetch_all(pool)
        .await?;
        let mut incidents = Vec::new();
        let mut names_a_commit = false;
        for row in &incident_rows {
            let named: Option<i64> = row.try_get("caused_by_deployment")?;
            let ledger_id: Option<i64> = row.try_get("ledger_id")?;
            let caused_by_commit: Option<String> = row.try_get("caused_by_commit")?;
            let started_at: i64 = row.try_get("started_at")?;
            let resolved_at: Option<i64> = row.try_get("resolved_at")?;
            names_a_commit |= named.is_none() && caused_by_commit.is_some();
            incidents.push(DoraIncident {
                id: row.try_get("id")?,
                started_at: seconds(started_at),
                resolved_at: resolved_at.map(seconds),
                caused_by_deployment: named.map(|_| ledger_id.unwrap_or(NOT_IN_LEDGER)),
                caused_by_commit,
            });
        }
        if names_a_commit {
            for found in self.first_bringers(unit, to, earliest_start).await? {
                let deployment = deployments
                    .entry(found.id)
                    .or_insert_with(|| DoraDeployment { commits: Vec::new(), ..found.clone() });
                deployment.commits.extend(found.commits);
            }
        }
        for deployment in deployments.values_mut() {
            deployment.commits.sort_by(|a, b| a.sha.cmp(&b.sha));
            deployment.commits.dedup_by(|a, b| a.sha == b.sha);
        }
        Ok(UnitHistory { history: History { deployments: deployments.into_values().collect(), incidents }, ledger })
    }

    /// For each commit named by an incident of the unit that [`Dora::history`] reads (started
    /// before `to`, open at or after `earliest_start`) that names no deployment, the unit's
    /// deployment that first brought it (earliest finish, then lowest id), with that commit
    /// only. Every deployment that brought one of those commits comes in one query.
    async fn first_bringers(
        &self,
        unit: UnitRef<'_>,
        to: i64,
        earliest_start: i64,
    ) -> Result<Vec<DoraDeployment>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.sha, d.id, d.started_at, d.finished_at, d.outcome, c.committed_at
             FROM dora_commits c JOIN dora_deployments d ON d.id = c.dora_deployment_id
             WHERE c.project_id = $1 AND c.service = $2 AND c.environment = $3
               AND c.sha IN (SELECT i.caused_by_commit FROM incidents i
                             WHERE i.project_id = $1 AND i.service = $2 AND i.environment = $3
                               AND i.started_at < $4 AND (i.resolved_at IS NULL OR i.resolved_at >= $5)
                               AND i.caused_by_deployment IS NULL AND i.caused_by_commit IS NOT NULL)",
        )
        .bind(unit.project_id)
        .bind(unit.service)
        .bind(unit.environment)
        .bind(to)
        .bind(earliest_start)
        .fetch_all(&self.store.pool)
        .await?;
        // By commit: the order (finish in milliseconds, id) of its first bringer, and that one.
        let mut first: HashMap<String, ((i64, i64), DoraDeployment)> = HashMap::new();
        for row in &rows {
            let sha: String = row.try_get("sha")?;
            let id: i64 = row.try_get("id")?;
            let finished_at: i64 = row.try_get("finished_at")?;
            if first.get(&sha).is_some_and(|(order, _)| *order <= (finished_at, id)) {
                continue;
            }
            let started_at: Option<i64> = row.try_get("started_at")?;
            let committed_at: i64 = row.try_get("committed_at")?;
            let deployment = DoraDeployment {
                id,
                started_at: started_at.map(seconds),
                finished_at: seconds(finished_at),
                outcome: outcome_col(row, "outcome")?,
                commits: vec![Commit { sha: sha.clone(), at: seconds(committed_at) }],
            };
            first.insert(sha, ((finished_at, id), deployment));
        }
        Ok(first.into_values().map(|(_, deployment)| deployment).collect())
    }

    /// Records an incident.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the project or the deployment it names does not exist.
    pub async fn open_incident(&self, new: &NewIncident<'_>) -> Result<Incident, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (project_id, service, environment, title, started_at, resolved_at,
                                    caused_by_deployment, caused_by_commit, opened_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(new.unit.project_id)
        .bind(new.unit.service)
        .bind(new.unit.environment)
        .bind(new.title)
        .bind(new.started_at)
        .bind(new.resolved_at)
        .bind(new.caused_by_deployment)
        .bind(new.caused_by_commit)
        .bind(new.opened_by)
        .fetch_one(&self.store.pool)
        .await
        .map_err(crate::conflict_on_unique(|| {
            format!("incident of {} in {} (its project or deployment is gone)", new.unit.service, new.unit.environment)
        }))?;
        self.incident(id).await
    }

    /// The incident with this id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn incident(&self, id: i64) -> Result<Incident, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?;
        match row {
            Some(row) => incident_from_row(&row),
            None => Err(StoreError::not_found("incident", id)),
        }
    }

    /// Marks an open incident resolved at `at`; one resolved already keeps its time.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn resolve_incident(&self, id: i64, at: i64) -> Result<Incident, StoreError> {
        sqlx::query("UPDATE incidents SET resolved_at = $1 WHERE id = $2 AND resolved_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        self.incident(id).await
    }

    /// Resolves at `at` the incidents of a unit that Ferry opened itself and that are still
    /// open (a deployment of the unit succeeded); how many.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn resolve_auto_incidents(&self, unit: UnitRef<'_>, at: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE incidents SET resolved_at = $1
             WHERE project_id = $2 AND service = $3 AND environment = $4 AND resolved_at IS NULL
               AND opened_by = 'auto' AND started_at <= $1",
        )
        .bind(at)
        .bind(unit.project_id)
        .bind(unit.service)
        .bind(unit.environment)
        .execute(&self.store.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// A project's incidents, newest first, at most `limit`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn incidents(&self, project_id: i64, limit: i64) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE project_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2"
        )))
        .bind(project_id)
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(incident_from_row).collect()
    }
}
