//! What agents tell about the services they run: events (crashes, drift, health changes,
//! errors) and the replicas' output, per service and environment of a project. Output is kept
//! up to a cap of lines per unit, the oldest dropped first.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError};

/// Names a service in an environment of a project.
#[derive(Debug, Clone, Copy)]
pub struct UnitRef<'a> {
    pub project_id: i64,
    pub service: &'a str,
    pub environment: &'a str,
}

/// Something that happened to a service in an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEvent {
    pub id: i64,
    pub agent_id: Option<i64>,
    pub at: i64,
    /// `crashed`, `drift`, `health` or `error`.
    pub kind: String,
    pub message: String,
}

/// One line a replica wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLogLine {
    pub id: i64,
    pub replica: String,
    pub release: i64,
    /// `stdout` or `stderr`.
    pub stream: String,
    pub at: i64,
    pub text: String,
}

/// What [`ServiceLogs::append`] writes.
#[derive(Debug, Clone, Copy)]
pub struct NewServiceLogLine<'a> {
    pub unit: UnitRef<'a>,
    pub replica: &'a str,
    pub release: i64,
    pub stream: &'a str,
    pub at: i64,
    pub text: &'a str,
}

/// The service events repository: `store.service_events()`.
#[derive(Debug, Clone, Copy)]
pub struct ServiceEvents<'a> {
    pub(crate) store: &'a Store,
}

impl ServiceEvents<'_> {
    /// Records an event of a unit.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the project (or agent) does not exist.
    pub async fn add(
        &self,
        unit: UnitRef<'_>,
        agent_id: Option<i64>,
        at: i64,
        kind: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO service_events (project_id, service, environment, agent_id, at, kind, message)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(unit.project_id)
        .bind(unit.service)
        .bind(unit.environment)
        .bind(agent_id)
        .bind(at)
        .bind(kind)
        .bind(message)
        .execute(&self.store.pool)
        .await
        .map_err(crate::conflict_on_unique(|| format!("events of {} in {}", unit.service, unit.environment)))?;
        Ok(())
    }

    /// A unit's latest events, newest first, at most `limit`.
    pub async fn latest(&self, unit: UnitRef<'_>, limit: i64) -> Result<Vec<ServiceEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, agent_id, at, kind, message FROM service_events
             WHERE project_id = $1 AND service = $2 AND environment = $3 ORDER BY id DESC LIMIT $4",
        )
        .bind(unit.project_id)
        .bind(unit.service)
        .bind(unit.environment)
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ServiceEvent {
                    id: row.try_get("id")?,
                    agent_id: row.try_get("agent_id")?,
                    at: row.try_get("at")?,
                    kind: row.try_get("kind")?,
                    message: row.try_get("message")?,
                })
            })
            .collect()
    }
}

/// The service output repository: `store.service_logs()`.
#[derive(Debug, Clone, Copy)]
pub struct ServiceLogs<'a> {
    pub(crate) store: &'a Store,
}

impl ServiceLogs<'_> {
    /// Appends lines, then drops the oldest lines of each unit written to beyond `cap`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when a line's project does not exist.
    pub async fn append(&self, lines: &[NewServiceLogLine<'_>], cap: i64) -> Result<(), StoreError> {
        let mut tx = self.store.begin_write().await?;
        let mut units: Vec<(i64, &str, &str)> = Vec::new();
        for line in lines {
            sqlx::query(
                "INSERT INTO service_logs (project_id, service, environment, replica, release, stream, at, text)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(line.unit.project_id)
            .bind(line.unit.service)
            .bind(line.unit.environment)
            .bind(line.replica)
            .bind(line.release)
            .bind(line.stream)
            .bind(line.at)
            .bind(line.text)
            .execute(&mut *tx)
            .await
            .map_err(crate::conflict_on_unique(|| format!("output of {}", line.unit.service)))?;
            let unit = (line.unit.project_id, line.unit.service, line.unit.environment);
            if !units.contains(&unit) {
                units.push(unit);
            }
        }
        for (project_id, service, environment) in units {
            sqlx::query(
                "DELETE FROM service_logs WHERE project_id = $1 AND service = $2 AND environment = $3 AND id <= (
                     SELECT MAX(id) FROM service_logs WHERE project_id = $1 AND service = $2 AND environment = $3
                 ) - $4",
            )
            .bind(project_id)
            .bind(service)
            .bind(environment)
            .bind(cap)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A unit's lines after line `after` (an id; 0 from the first kept), oldest first, at most
    /// `limit`.
    pub async fn after(&self, unit: UnitRef<'_>, after: i64, limit: i64) -> Result<Vec<ServiceLogLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, replica, release, stream, at, text FROM service_logs
             WHERE project_id = $1 AND service = $2 AND environment = $3 AND id > $4 ORDER BY id LIMIT $5",
        )
        .bind(unit.project_id)
        .bind(unit.service)
        .bind(unit.environment)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(line_from_row).collect()
    }
}

fn line_from_row(row: &AnyRow) -> Result<ServiceLogLine, StoreError> {
    Ok(ServiceLogLine {
        id: row.try_get("id")?,
        replica: row.try_get("replica")?,
        release: row.try_get("release")?,
        stream: row.try_get("stream")?,
        at: row.try_get("at")?,
        text: row.try_get("text")?,
    })
}
