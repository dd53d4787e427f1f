//! Runners: registered machines that claim jobs, with their labels and token hash.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{
    ProjectScope, ScopeOwner, Store, StoreError, conflict_on_unique, labels_col, labels_json, read_scope, write_scope,
};

/// A runner as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    pub id: i64,
    /// Unique across the server.
    pub name: String,
    pub labels: Vec<String>,
    /// The public part of the runner's token; unique.
    pub token_prefix: String,
    pub token_hash: String,
    /// The projects whose jobs it may claim.
    pub scope: ProjectScope,
    pub created_at: i64,
    pub last_heartbeat_at: Option<i64>,
    /// When its token was revoked; a revoked runner's token no longer works.
    pub revoked_at: Option<i64>,
}

/// What [`Runners::register`] writes.
#[derive(Debug, Clone, Copy)]
pub struct NewRunner<'a> {
    pub name: &'a str,
    pub labels: &'a [String],
    pub token_prefix: &'a str,
    pub token_hash: &'a str,
    pub scope: &'a ProjectScope,
}

/// The runners repository: `store.runners()`.
#[derive(Debug, Clone, Copy)]
pub struct Runners<'a> {
    pub(crate) store: &'a Store,
}

const COLUMNS: &str = "id, name, labels, token_prefix, token_hash, scoped, created_at, last_heartbeat_at, revoked_at";

impl Runners<'_> {
    /// Registers a runner.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the name or the token prefix is taken, or the scope names
    /// a project that does not exist.
    pub async fn register(&self, runner: &NewRunner<'_>, now: i64) -> Result<Runner, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO runners (name, labels, token_prefix, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id",
        )
        .bind(runner.name)
        .bind(labels_json(runner.labels))
        .bind(runner.token_prefix)
        .bind(runner.token_hash)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_on_unique(|| format!("runner {}", runner.name)))?;
        write_scope(&mut tx, ScopeOwner::Runner, id, runner.scope).await?;
        tx.commit().await?;
        self.get(id).await
    }

    /// The runner with this id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn get(&self, id: i64) -> Result<Runner, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM runners WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?;
        match row {
            Some(row) => self.scoped(&row).await,
            None => Err(StoreError::not_found("runner", id)),
        }
    }

    /// The runner called `name`, if any.
    pub async fn by_name(&self, name: &str) -> Result<Option<Runner>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM runners WHERE name = $1")))
            .bind(name)
            .fetch_optional(&self.store.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.scoped(&row).await?)),
            None => Ok(None),
        }
    }

    /// The runner of a row, with its scope.
    async fn scoped(&self, row: &AnyRow) -> Result<Runner, StoreError> {
        let mut runner = runner_from_row(row)?;
        runner.scope = read_scope(self.store, ScopeOwner::Runner, runner.id, row.try_get("scoped")?).await?;
        Ok(runner)
    }

    /// The unrevoked runner whose token has this prefix, if any; the caller verifies the hash.
    pub async fn by_token_prefix(&self, prefix: &str) -> Result<Option<Runner>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM runners WHERE token_prefix = $1 AND revoked_at IS NULL"
        )))
        .bind(prefix)
        .fetch_optional(&self.store.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.scoped(&row).await?)),
            None => Ok(None),
        }
    }

    /// Every runner, revoked ones included, by name.
    pub async fn list(&self) -> Result<Vec<Runner>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM runners ORDER BY name")))
            .fetch_all(&self.store.pool)
            .await?;
        let mut runners = Vec::with_capacity(rows.len());
        for row in &rows {
            runners.push(self.scoped(row).await?);
        }
        Ok(runners)
    }

    /// Registers a runner, or when one with this name exists, gives it the new labels, scope
    /// and token (a runner that restarts registers again under its name; a revoked one is
    /// given a working token again).
    ///
    /// # Errors
    /// As [`Runners::register`].
    pub async fn register_or_replace(&self, runner: &NewRunner<'_>, now: i64) -> Result<Runner, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE runners SET labels = $1, token_prefix = $2, token_hash = $3, last_heartbeat_at = $4,
                                revoked_at = NULL
             WHERE name = $5 RETURNING id",
        )
        .bind(labels_json(runner.labels))
        .bind(runner.token_prefix)
        .bind(runner.token_hash)
        .bind(now)
        .bind(runner.name)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            tx.commit().await?;
            return self.register(runner, now).await;
        };
        write_scope(&mut tx, ScopeOwner::Runner, id, runner.scope).await?;
        tx.commit().await?;
        self.get(id).await
    }

    /// Revokes runner `id`'s token: it stops working at once. Revoking it again keeps the
    /// first time.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such runner.
    pub async fn revoke(&self, id: i64, now: i64) -> Result<Runner, StoreError> {
        let res = sqlx::query("UPDATE runners SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("runner", id));
        }
        self.get(id).await
    }

    /// Records that the runner is alive.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such runner.
    pub async fn heartbeat(&self, id: i64, now: i64) -> Result<(), StoreError> {
        let res = sqlx::query("UPDATE runners SET last_heartbeat_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("runner", id));
        }
        Ok(())
    }

    /// Removes a runner; jobs it ran keep their history without it.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such runner.
    pub async fn delete(&self, id: i64) -> Result<(), StoreError> {
        let res = sqlx::query("DELETE FROM runners WHERE id = $1").bind(id).execute(&self.store.pool).await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("runner", id));
        }
        Ok(())
    }
}

fn runner_from_row(row: &AnyRow) -> Result<Runner, StoreError> {
    Ok(Runner {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        labels: labels_col(row, "labels")?,
        token_prefix: row.try_get("token_prefix")?,
        token_hash: row.try_get("token_hash")?,
        // Read by the caller, which has the store.
        scope: ProjectScope::All,
        created_at: row.try_get("created_at")?,
        last_heartbeat_at: row.try_get("last_heartbeat_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}
