//! Agents: registered hosts that run the services of environments, with their labels, token
//! hash, the generation of their desired state and the last report they sent.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, conflict_on_unique, labels_col, labels_json};

/// An agent as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: i64,
    /// Unique across the server.
    pub name: String,
    pub labels: Vec<String>,
    /// The public part of the agent's token; unique.
    pub token_prefix: String,
    pub token_hash: String,
    /// The host it last said it runs on, its version and whether it reaches Docker.
    pub hostname: Option<String>,
    pub version: Option<String>,
    pub docker: bool,
    /// Counts the changes of its desired state; only grows.
    pub generation: i64,
    /// The units of its last report, as JSON (`[]` before the first).
    pub report: String,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    /// When its token was revoked; a revoked agent's token no longer works.
    pub revoked_at: Option<i64>,
}

/// What [`Agents::register`] writes.
#[derive(Debug, Clone, Copy)]
pub struct NewAgent<'a> {
    pub name: &'a str,
    pub labels: &'a [String],
    pub token_prefix: &'a str,
    pub token_hash: &'a str,
}

/// The agents repository: `store.agents()`.
#[derive(Debug, Clone, Copy)]
pub struct Agents<'a> {
    pub(crate) store: &'a Store,
}

const COLUMNS: &str = "id, name, labels, token_prefix, token_hash, hostname, version, docker, generation, report, \
                       created_at, last_seen_at, revoked_at";

impl Agents<'_> {
    /// Registers an agent.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the name or the token prefix is taken.
    pub async fn register(&self, agent: &NewAgent<'_>, now: i64) -> Result<Agent, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO agents (name, labels, token_prefix, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id",
        )
        .bind(agent.name)
        .bind(labels_json(agent.labels))
        .bind(agent.token_prefix)
        .bind(agent.token_hash)
        .bind(now)
        .fetch_one(&self.store.pool)
        .await
        .map_err(conflict_on_unique(|| format!("agent {}", agent.name)))?;
        self.get(id).await
    }

    /// Gives agent `name` a new token (and un-revokes it), or registers it when there is none:
    /// the server's own local agent, whose token file may have been lost.
    ///
    /// # Errors
    /// As [`Agents::register`].
    pub async fn register_or_replace(&self, agent: &NewAgent<'_>, now: i64) -> Result<Agent, StoreError> {
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE agents SET token_prefix = $1, token_hash = $2, revoked_at = NULL WHERE name = $3 RETURNING id",
        )
        .bind(agent.token_prefix)
        .bind(agent.token_hash)
        .bind(agent.name)
        .fetch_optional(&self.store.pool)
        .await?;
        match id {
            Some(id) => self.get(id).await,
            None => self.register(agent, now).await,
        }
    }

    /// The agent with this id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn get(&self, id: i64) -> Result<Agent, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM agents WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?;
        match row {
            Some(row) => agent_from_row(&row),
            None => Err(StoreError::not_found("agent", id)),
        }
    }

    /// The agent called `name`, if any.
    pub async fn by_name(&self, name: &str) -> Result<Option<Agent>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM agents WHERE name = $1")))
            .bind(name)
            .fetch_optional(&self.store.pool)
            .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    /// The unrevoked agent whose token has this prefix, if any; the caller verifies the hash.
    pub async fn by_token_prefix(&self, prefix: &str) -> Result<Option<Agent>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM agents WHERE token_prefix = $1 AND revoked_at IS NULL"
        )))
        .bind(prefix)
        .fetch_optional(&self.store.pool)
        .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    /// Every agent, revoked ones included, by name.
    pub async fn list(&self) -> Result<Vec<Agent>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM agents ORDER BY name")))
            .fetch_all(&self.store.pool)
            .await?;
        rows.iter().map(agent_from_row).collect()
    }

    /// Revokes agent `id`'s token: it stops working at once. Revoking it again keeps the
    /// first time.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such agent.
    pub async fn revoke(&self, id: i64, now: i64) -> Result<Agent, StoreError> {
        let res = sqlx::query("UPDATE agents SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("agent", id));
        }
        self.get(id).await
    }

    /// Records what an agent said when it started: its host, version, Docker, and its labels
    /// when it gave some.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such agent.
    pub async fn hello(&self, id: i64, hello: &AgentHelloRecord<'_>, now: i64) -> Result<Agent, StoreError> {
        let res = sqlx::query(
            "UPDATE agents SET hostname = $1, version = $2, docker = $3, labels = COALESCE($4, labels),
                               last_seen_at = $5
             WHERE id = $6",
        )
        .bind(hello.hostname)
        .bind(hello.version)
        .bind(i64::from(hello.docker))
        .bind(hello.labels.map(labels_json))
        .bind(now)
        .bind(id)
        .execute(&self.store.pool)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("agent", id));
        }
        self.get(id).await
    }

    /// Keeps an agent's last report (its units, as JSON) and when it came.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such agent.
    pub async fn record_report(&self, id: i64, report: &str, now: i64) -> Result<(), StoreError> {
        let res = sqlx::query("UPDATE agents SET report = $1, last_seen_at = $2 WHERE id = $3")
            .bind(report)
            .bind(now)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("agent", id));
        }
        Ok(())
    }

    /// Counts one more change of agent `id`'s desired state; returns the new generation.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such agent.
    pub async fn bump_generation(&self, id: i64) -> Result<i64, StoreError> {
        let generation: Option<i64> =
            sqlx::query_scalar("UPDATE agents SET generation = generation + 1 WHERE id = $1 RETURNING generation")
                .bind(id)
                .fetch_optional(&self.store.pool)
                .await?;
        generation.ok_or_else(|| StoreError::not_found("agent", id))
    }
}

/// What [`Agents::hello`] records.
#[derive(Debug, Clone, Copy)]
pub struct AgentHelloRecord<'a> {
    pub hostname: &'a str,
    pub version: &'a str,
    pub docker: bool,
    /// Replace the registered labels when given.
    pub labels: Option<&'a [String]>,
}

fn agent_from_row(row: &AnyRow) -> Result<Agent, StoreError> {
    Ok(Agent {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        labels: labels_col(row, "labels")?,
        token_prefix: row.try_get("token_prefix")?,
        token_hash: row.try_get("token_hash")?,
        hostname: row.try_get("hostname")?,
        version: row.try_get("version")?,
        docker: row.try_get::<i64, _>("docker")? != 0,
        generation: row.try_get("generation")?,
        report: row.try_get("report")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}
