//! Incidents as alerts open them (migration 0023): the firing episodes of alerts each
//! incident holds, what people and Ferry did to it (opened, acked, resolved, reopened) with
//! whether its owner was told, and the incidents that resolve by themselves once all their
//! alerts have. The incident rows themselves are `dora.rs`'s (`Incident`), which the DORA
//! keys read. The server serialises the writes here (one alert at a time), so "find the open
//! incident, else open one" needs no lock in the database.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::dora::{INCIDENT_COLUMNS, incident_from_row};
use crate::{Incident, NewIncident, Store, StoreError, UnitRef, decode_error};

/// Incidents from alerts, acks and timelines: `store.incidents()`.
#[derive(Debug, Clone, Copy)]
pub struct Incidents<'a> {
    pub(crate) store: &'a Store,
}

/// One firing episode of an alert, as an incident holds it. Times in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentAlert {
    pub incident_id: i64,
    /// The alert's fingerprint, 16 hex digits.
    pub fingerprint: String,
    pub starts_at: i64,
    /// The end it was last sent with: it has resolved once this is past.
    pub ends_at: i64,
    /// Its labels, a JSON object.
    pub labels: String,
    /// Its `summary` annotation (empty without one).
    pub summary: String,
}

/// An alert's episode to add to an incident.
#[derive(Debug, Clone, Copy)]
pub struct NewIncidentAlert<'a> {
    pub fingerprint: &'a str,
    pub starts_at: i64,
    pub ends_at: i64,
    pub labels: &'a str,
    pub summary: &'a str,
}

/// What was done to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    Opened,
    Acked,
    Resolved,
    /// A resolved incident that an alert of the same deployment joined.
    Reopened,
}

impl ActionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Opened => "opened",
            ActionKind::Acked => "acked",
            ActionKind::Resolved => "resolved",
            ActionKind::Reopened => "reopened",
        }
    }
}

/// One action on an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentAction {
    pub id: i64,
    pub incident_id: i64,
    pub kind: ActionKind,
    /// A token's name, or `alert` when the incident's alerts did it.
    pub actor: String,
    pub at: i64,
    /// When the incident's owner was told; `None`: not yet (or it has no owner).
    pub notified_at: Option<i64>,
}

/// Who acts when an incident's alerts open, reopen or resolve it.
pub const ALERT_ACTOR: &str = "alert";

fn action_from_row(row: &AnyRow) -> Result<IncidentAction, StoreError> {
    let kind: String = row.try_get("kind")?;
    let kind = match kind.as_str() {
        "opened" => ActionKind::Opened,
        "acked" => ActionKind::Acked,
        "resolved" => ActionKind::Resolved,
        "reopened" => ActionKind::Reopened,
        _ => return Err(decode_error("kind", &kind)),
    };
    Ok(IncidentAction {
        id: row.try_get("id")?,
        incident_id: row.try_get("incident_id")?,
        kind,
        actor: row.try_get("actor")?,
        at: row.try_get("acted_at")?,
        notified_at: row.try_get("notified_at")?,
    })
}

async fn insert_action(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    incident_id: i64,
    kind: ActionKind,
    actor: &str,
    at: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO incident_actions (incident_id, kind, actor, acted_at) VALUES ($1, $2, $3, $4)")
        .bind(incident_id)
        .bind(kind.as_str())
        .bind(actor)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn upsert_alert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    incident_id: i64,
    alert: &NewIncidentAlert<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO incident_alerts (incident_id, fingerprint, starts_at, ends_at, labels, summary)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (incident_id, fingerprint, starts_at) DO UPDATE SET ends_at = excluded.ends_at",
    )
    .bind(incident_id)
    .bind(alert.fingerprint)
    .bind(alert.starts_at)
    .bind(alert.ends_at)
    .bind(alert.labels)
    .bind(alert.summary)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Incidents<'_> {
    /// Records the new end of an alert's episode that an incident already holds (one of the
    /// same fingerprint whose time overlaps `starts_at..=ends_at`); the incident's id, or
    /// `None` when no incident holds it.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn update_alert(
        &self,
        fingerprint: &str,
        starts_at: i64,
        ends_at: i64,
    ) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT incident_id, starts_at FROM incident_alerts
             WHERE fingerprint = $1 AND starts_at <= $2 AND ends_at >= $3
             ORDER BY starts_at DESC LIMIT 1",
        )
        .bind(fingerprint)
        .bind(ends_at)
        .bind(starts_at)
        .fetch_optional(&self.store.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let incident_id: i64 = row.try_get("incident_id")?;
        let kept_start: i64 = row.try_get("starts_at")?;
        sqlx::query(
            "UPDATE incident_alerts SET ends_at = $1 WHERE incident_id = $2 AND fingerprint = $3 AND starts_at = $4",
        )
        .bind(ends_at)
        .bind(incident_id)
        .bind(fingerprint)
        .bind(kept_start)
        .execute(&self.store.pool)
        .await?;
        Ok(Some(incident_id))
    }

    /// The open incident of a unit (the newest, should there be several from before alerts
    /// opened incidents).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn open_of_unit(&self, unit: UnitRef<'_>) -> Result<Option<Incident>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents
             WHERE project_id = $1 AND service = $2 AND environment = $3 AND resolved_at IS NULL
             ORDER BY started_at DESC, id DESC LIMIT 1"
        )))
        .bind(unit.project_id)
        .bind(unit.service)
        .bind(unit.environment)
        .fetch_optional(&self.store.pool)
        .await?;
        row.as_ref().map(incident_from_row).transpose()
    }

    /// The newest incident attributed to deployment `deployment_id`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn of_deployment(&self, deployment_id: i64) -> Result<Option<Incident>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE caused_by_deployment = $1 ORDER BY id DESC LIMIT 1"
        )))
        .bind(deployment_id)
        .fetch_optional(&self.store.pool)
        .await?;
        row.as_ref().map(incident_from_row).transpose()
    }

    /// Opens an incident with its first alert, resolving by itself with its alerts, and
    /// records its opening by [`ALERT_ACTOR`] at `new.started_at`; all in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the project or the deployment it names does not exist.
    pub async fn open_with_alert(
        &self,
        new: &NewIncident<'_>,
        owner: Option<&str>,
        alert: &NewIncidentAlert<'_>,
    ) -> Result<Incident, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO incidents (project_id, service, environment, title, started_at, caused_by_deployment,
                                    opened_by, owner, resolves_with_alerts)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1) RETURNING id",
        )
        .bind(new.unit.project_id)
        .bind(new.unit.service)
        .bind(new.unit.environment)
        .bind(new.title)
        .bind(new.started_at)
        .bind(new.caused_by_deployment)
        .bind(new.opened_by)
        .bind(owner)
        .fetch_one(&mut *tx)
        .await
        .map_err(crate::conflict_on_unique(|| {
            format!("incident of {} in {} (its project or deployment is gone)", new.unit.service, new.unit.environment)
        }))?;
        upsert_alert(&mut tx, id, alert).await?;
        insert_action(&mut tx, id, ActionKind::Opened, ALERT_ACTOR, new.started_at).await?;
        tx.commit().await?;
        self.store.dora().incident(id).await
    }

    /// Adds an alert's episode to incident `id`. A resolved incident is reopened (at `now`,
    /// by [`ALERT_ACTOR`]) and then resolves with its alerts; `owner` is set when it had none.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such incident.
    pub async fn join(
        &self,
        id: i64,
        alert: &NewIncidentAlert<'_>,
        owner: Option<&str>,
        now: i64,
    ) -> Result<Incident, StoreError> {
        let mut tx = self.store.begin_write().await?;
        upsert_alert(&mut tx, id, alert).await.map_err(|error| match error {
            StoreError::Db(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                StoreError::not_found("incident", id)
            }
            other => other,
        })?;
        let reopened = sqlx::query(
            "UPDATE incidents SET resolved_at = NULL, resolved_by = NULL, resolves_with_alerts = 1
             WHERE id = $1 AND resolved_at IS NOT NULL",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if reopened.rows_affected() > 0 {
            insert_action(&mut tx, id, ActionKind::Reopened, ALERT_ACTOR, now).await?;
        }
        sqlx::query("UPDATE incidents SET owner = $1 WHERE id = $2 AND owner IS NULL")
            .bind(owner)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.store.dora().incident(id).await
    }

    /// Resolves the open incidents that resolve with their alerts and whose alerts have all
    /// ended by `now`, each at the last end (not before it started); their ids.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn resolve_ended(&self, now: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT i.id, i.started_at, MAX(a.ends_at) AS ended_at
             FROM incidents i JOIN incident_alerts a ON a.incident_id = i.id
             WHERE i.resolved_at IS NULL AND i.resolves_with_alerts = 1
             GROUP BY i.id, i.started_at HAVING MAX(a.ends_at) <= $1",
        )
        .bind(now)
        .fetch_all(&self.store.pool)
        .await?;
        let mut resolved = Vec::new();
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let started_at: i64 = row.try_get("started_at")?;
            let ended_at: i64 = row.try_get("ended_at")?;
            let at = ended_at.max(started_at);
            let mut tx = self.store.begin_write().await?;
            let done = sqlx::query("UPDATE incidents SET resolved_at = $1 WHERE id = $2 AND resolved_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() > 0 {
                insert_action(&mut tx, id, ActionKind::Resolved, ALERT_ACTOR, at).await?;
                resolved.push(id);
            }
            tx.commit().await?;
        }
        Ok(resolved)
    }

    /// Acknowledges incident `id` by `by` at `at`; one acknowledged already keeps who and when.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn ack(&self, id: i64, by: &str, at: i64) -> Result<Incident, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let done = sqlx::query("UPDATE incidents SET acked_at = $1, acked_by = $2 WHERE id = $3 AND acked_at IS NULL")
            .bind(at)
            .bind(by)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() > 0 {
            insert_action(&mut tx, id, ActionKind::Acked, by, at).await?;
        }
        tx.commit().await?;
        self.store.dora().incident(id).await
    }

    /// Resolves incident `id` by hand (`by`, at `at`); one resolved already keeps its time.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn resolve(&self, id: i64, by: &str, at: i64) -> Result<Incident, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let done = sqlx::query(
            "UPDATE incidents SET resolved_at = $1, resolved_by = $2 WHERE id = $3 AND resolved_at IS NULL",
        )
        .bind(at)
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() > 0 {
            insert_action(&mut tx, id, ActionKind::Resolved, by, at).await?;
        }
        tx.commit().await?;
        self.store.dora().incident(id).await
    }

    /// A project's incidents, newest first, only the open ones when `open_only`, at most
    /// `limit`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn list(&self, project_id: i64, open_only: bool, limit: i64) -> Result<Vec<Incident>, StoreError> {
        let open = if open_only { " AND resolved_at IS NULL" } else { "" };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE project_id = $1{open}
             ORDER BY started_at DESC, id DESC LIMIT $2"
        )))
        .bind(project_id)
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(incident_from_row).collect()
    }

    /// The alerts' episodes of incident `id`, by start.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn alerts(&self, id: i64) -> Result<Vec<IncidentAlert>, StoreError> {
        let rows = sqlx::query(
            "SELECT incident_id, fingerprint, starts_at, ends_at, labels, summary FROM incident_alerts
             WHERE incident_id = $1 ORDER BY starts_at, fingerprint",
        )
        .bind(id)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(IncidentAlert {
                    incident_id: row.try_get("incident_id")?,
                    fingerprint: row.try_get("fingerprint")?,
                    starts_at: row.try_get("starts_at")?,
                    ends_at: row.try_get("ends_at")?,
                    labels: row.try_get("labels")?,
                    summary: row.try_get("summary")?,
                })
            })
            .collect()
    }

    /// The actions on incident `id`, in the order they were taken.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn actions(&self, id: i64) -> Result<Vec<IncidentAction>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, incident_id, kind, actor, acted_at, notified_at FROM incident_actions
             WHERE incident_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(action_from_row).collect()
    }

    /// Actions whose incident has an owner that was not told yet, oldest first, at most
    /// `limit`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn unnotified(&self, limit: i64) -> Result<Vec<IncidentAction>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.id, a.incident_id, a.kind, a.actor, a.acted_at, a.notified_at
             FROM incident_actions a JOIN incidents i ON i.id = a.incident_id
             WHERE a.notified_at IS NULL AND i.owner IS NOT NULL ORDER BY a.id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(action_from_row).collect()
    }

    /// Records that the owner was told of action `action_id` at `at`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn notified(&self, action_id: i64, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE incident_actions SET notified_at = $1 WHERE id = $2")
            .bind(at)
            .bind(action_id)
            .execute(&self.store.pool)
            .await?;
        Ok(())
    }
}
