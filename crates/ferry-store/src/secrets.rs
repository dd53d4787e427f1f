//! Per-project secrets (ciphertext only: the server encrypts) and plain variables, each either
//! the project's own (environment `""`: every job and every environment) or one environment's
//! (its services, and the jobs that target it). The methods without `_in` are the project's
//! own; the `_in` ones take the environment, `""` again meaning the project's.

use sqlx::Row;

use crate::{Store, StoreError};

/// An encrypted secret. The store never sees the plaintext or the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub name: String,
    pub ciphertext: Vec<u8>,
    pub nonce: Vec<u8>,
    pub updated_at: i64,
}

/// A project variable (`vars.NAME`), stored as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub value: String,
    pub updated_at: i64,
}

/// The secrets repository: `store.secrets()`.
#[derive(Debug, Clone, Copy)]
pub struct Secrets<'a> {
    pub(crate) store: &'a Store,
}

/// The variables repository: `store.variables()`.
#[derive(Debug, Clone, Copy)]
pub struct Variables<'a> {
    pub(crate) store: &'a Store,
}

impl Secrets<'_> {
    /// Creates or replaces the secret `name` of a project.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the project does not exist.
    pub async fn set(
        &self,
        project_id: i64,
        name: &str,
        ciphertext: &[u8],
        nonce: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        self.set_in(project_id, "", name, ciphertext, nonce, now).await
    }

    /// Creates or replaces the secret `name` of a project's `environment` (`""`: the project's).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the project does not exist.
    pub async fn set_in(
        &self,
        project_id: i64,
        environment: &str,
        name: &str,
        ciphertext: &[u8],
        nonce: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO secrets (project_id, environment, name, ciphertext, nonce, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (project_id, environment, name)
             DO UPDATE SET ciphertext = excluded.ciphertext, nonce = excluded.nonce, updated_at = excluded.updated_at",
        )
        .bind(project_id)
        .bind(environment)
        .bind(name)
        .bind(ciphertext.to_vec())
        .bind(nonce.to_vec())
        .bind(now)
        .execute(&self.store.pool)
        .await
        .map_err(crate::conflict_on_unique(|| format!("secret {name} of project {project_id}")))?;
        Ok(())
    }

    /// The secret `name` of a project, if set.
    pub async fn get(&self, project_id: i64, name: &str) -> Result<Option<Secret>, StoreError> {
        let row = sqlx::query(
            "SELECT name, ciphertext, nonce, updated_at FROM secrets
             WHERE project_id = $1 AND environment = '' AND name = $2",
        )
        .bind(project_id)
        .bind(name)
        .fetch_optional(&self.store.pool)
        .await?;
        row.map(|row| secret_from_row(&row)).transpose()
    }

    /// Every secret of a project, by name (the server decrypts them to start a job).
    pub async fn list(&self, project_id: i64) -> Result<Vec<Secret>, StoreError> {
        self.list_in(project_id, "").await
    }

    /// Every secret of a project's `environment` (`""`: the project's), by name.
    pub async fn list_in(&self, project_id: i64, environment: &str) -> Result<Vec<Secret>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, ciphertext, nonce, updated_at FROM secrets
             WHERE project_id = $1 AND environment = $2 ORDER BY name",
        )
        .bind(project_id)
        .bind(environment)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(secret_from_row).collect()
    }

    /// Deletes a secret of the project's own.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when it is not set.
    pub async fn delete(&self, project_id: i64, name: &str) -> Result<(), StoreError> {
        self.delete_in(project_id, "", name).await
    }

    /// Deletes a secret of a project's `environment` (`""`: the project's).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when it is not set.
    pub async fn delete_in(&self, project_id: i64, environment: &str, name: &str) -> Result<(), StoreError> {
        let res = sqlx::query("DELETE FROM secrets WHERE project_id = $1 AND environment = $2 AND name = $3")
            .bind(project_id)
            .bind(environment)
            .bind(name)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("secret", name));
        }
        Ok(())
    }
}

fn secret_from_row(row: &sqlx::any::AnyRow) -> Result<Secret, StoreError> {
    Ok(Secret {
        name: row.try_get("name")?,
        ciphertext: row.try_get("ciphertext")?,
        nonce: row.try_get("nonce")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Variables<'_> {
    /// Creates or replaces the variable `name` of a project.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the project does not exist.
    pub async fn set(&self, project_id: i64, name: &str, value: &str, now: i64) -> Result<(), StoreError> {
        self.set_in(project_id, "", name, value, now).await
    }

    /// Creates or replaces the variable `name` of a project's `environment` (`""`: the
    /// project's).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the project does not exist.
    pub async fn set_in(
        &self,
        project_id: i64,
        environment: &str,
        name: &str,
        value: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO variables (project_id, environment, name, value, updated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (project_id, environment, name)
             DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(project_id)
        .bind(environment)
        .bind(name)
        .bind(value)
        .bind(now)
        .execute(&self.store.pool)
        .await
        .map_err(crate::conflict_on_unique(|| format!("variable {name} of project {project_id}")))?;
        Ok(())
    }

    /// The variable `name` of a project, if set.
    pub async fn get(&self, project_id: i64, name: &str) -> Result<Option<Variable>, StoreError> {
        self.get_in(project_id, "", name).await
    }

    /// The variable `name` of a project's `environment` (`""`: the project's), if set.
    pub async fn get_in(&self, project_id: i64, environment: &str, name: &str) -> Result<Option<Variable>, StoreError> {
        let row = sqlx::query(
            "SELECT name, value, updated_at FROM variables WHERE project_id = $1 AND environment = $2 AND name = $3",
        )
        .bind(project_id)
        .bind(environment)
        .bind(name)
        .fetch_optional(&self.store.pool)
        .await?;
        row.map(|row| variable_from_row(&row)).transpose()
    }

    /// Every variable of a project, by name.
    pub async fn list(&self, project_id: i64) -> Result<Vec<Variable>, StoreError> {
        self.list_in(project_id, "").await
    }

    /// Every variable of a project's `environment` (`""`: the project's), by name.
    pub async fn list_in(&self, project_id: i64, environment: &str) -> Result<Vec<Variable>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, value, updated_at FROM variables WHERE project_id = $1 AND environment = $2 ORDER BY name",
        )
        .bind(project_id)
        .bind(environment)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(variable_from_row).collect()
    }

    /// Deletes a variable of the project's own.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when it is not set.
    pub async fn delete(&self, project_id: i64, name: &str) -> Result<(), StoreError> {
        self.delete_in(project_id, "", name).await
    }

    /// Deletes a variable of a project's `environment` (`""`: the project's).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when it is not set.
    pub async fn delete_in(&self, project_id: i64, environment: &str, name: &str) -> Result<(), StoreError> {
        let res = sqlx::query("DELETE FROM variables WHERE project_id = $1 AND environment = $2 AND name = $3")
            .bind(project_id)
            .bind(environment)
            .bind(name)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("variable", name));
        }
        Ok(())
    }
}

fn variable_from_row(row: &sqlx::any::AnyRow) -> Result<Variable, StoreError> {
    Ok(Variable { name: row.try_get("name")?, value: row.try_get("value")?, updated_at: row.try_get("updated_at")? })
}
