//! Projects: a repository Ferry builds, the branch it follows and its webhook secret.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, conflict_on_unique};

/// A project as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: i64,
    /// Unique across the server.
    pub name: String,
    /// A path or URL git can clone.
    pub repo: String,
    pub branch: String,
    /// As the server wrote it: the server seals it (`ferry-server`'s `secret_box.rs`); rows
    /// written before it did hold the secret itself until the server seals them at start.
    pub webhook_secret: String,
    pub created_at: i64,
    /// The branch's head when the server last polled the repository ("" before the first poll).
    pub polled_sha: String,
    /// Up to when `on.schedule` was last checked, if ever.
    pub schedule_checked_at: Option<i64>,
    /// Runs of pull requests from forks wait for a developer's approval before they start.
    pub require_approval: bool,
    /// The forge the last verified webhook came from (`github`, `gitea`, `forgejo`,
    /// `gitlab`), "" before one came.
    pub forge: String,
    /// That forge's web address (`https://gitea.example.com`), "" when unknown.
    pub forge_url: String,
}

/// What [`Projects::create`] and [`Projects::update`] write.
#[derive(Debug, Clone, Copy)]
pub struct NewProject<'a> {
    pub name: &'a str,
    pub repo: &'a str,
    pub branch: &'a str,
    pub webhook_secret: &'a str,
}

/// The projects repository: `store.projects()`.
#[derive(Debug, Clone, Copy)]
pub struct Projects<'a> {
    pub(crate) store: &'a Store,
}

const COLUMNS: &str = "id, name, repo, branch, webhook_secret, created_at, polled_sha, schedule_checked_at, \
    require_approval, forge, forge_url";

impl Projects<'_> {
    /// Creates a project.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when a project with this name exists.
    pub async fn create(&self, project: &NewProject<'_>, now: i64) -> Result<Project, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO projects (name, repo, branch, webhook_secret, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING {COLUMNS}"
        )))
        .bind(project.name)
        .bind(project.repo)
        .bind(project.branch)
        .bind(project.webhook_secret)
        .bind(now)
        .fetch_one(&self.store.pool)
        .await
        .map_err(conflict_on_unique(|| format!("project {}", project.name)))?;
        project_from_row(&row)
    }

    /// The project with this id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is none.
    pub async fn get(&self, id: i64) -> Result<Project, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM projects WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.store.pool)
            .await?;
        row.as_ref().map(project_from_row).unwrap_or_else(|| Err(StoreError::not_found("project", id)))
    }

    /// The project with this name, if any.
    pub async fn by_name(&self, name: &str) -> Result<Option<Project>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM projects WHERE name = $1")))
            .bind(name)
            .fetch_optional(&self.store.pool)
            .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    /// Every project, by name.
    pub async fn list(&self) -> Result<Vec<Project>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM projects ORDER BY name")))
            .fetch_all(&self.store.pool)
            .await?;
        rows.iter().map(project_from_row).collect()
    }

    /// Replaces a project's fields.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such project, [`StoreError::Conflict`] when
    /// another project has the new name.
    pub async fn update(&self, id: i64, project: &NewProject<'_>) -> Result<Project, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE projects SET name = $1, repo = $2, branch = $3, webhook_secret = $4 WHERE id = $5 RETURNING {COLUMNS}"
        )))
        .bind(project.name)
        .bind(project.repo)
        .bind(project.branch)
        .bind(project.webhook_secret)
        .bind(id)
        .fetch_optional(&self.store.pool)
        .await
        .map_err(conflict_on_unique(|| format!("project {}", project.name)))?;
        row.as_ref().map(project_from_row).unwrap_or_else(|| Err(StoreError::not_found("project", id)))
    }

    /// Replaces a project's stored webhook secret (the server writes it sealed).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such project.
    pub async fn set_webhook_secret(&self, id: i64, stored: &str) -> Result<(), StoreError> {
        let res = sqlx::query("UPDATE projects SET webhook_secret = $1 WHERE id = $2")
            .bind(stored)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("project", id));
        }
        Ok(())
    }

    /// Sets whether runs of pull requests from forks wait for a developer's approval.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such project.
    pub async fn set_require_approval(&self, id: i64, require: bool) -> Result<Project, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE projects SET require_approval = $1 WHERE id = $2 RETURNING {COLUMNS}"
        )))
        .bind(i64::from(require))
        .bind(id)
        .fetch_optional(&self.store.pool)
        .await?;
        row.as_ref().map(project_from_row).unwrap_or_else(|| Err(StoreError::not_found("project", id)))
    }

    /// Records the forge a verified webhook of the project came from and its web address.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such project.
    pub async fn set_forge(&self, id: i64, forge: &str, forge_url: &str) -> Result<(), StoreError> {
        let res = sqlx::query("UPDATE projects SET forge = $1, forge_url = $2 WHERE id = $3")
            .bind(forge)
            .bind(forge_url)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("project", id));
        }
        Ok(())
    }

    /// Records the branch head the server saw when it polled the repository.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such project.
    pub async fn set_polled_sha(&self, id: i64, sha: &str) -> Result<(), StoreError> {
        let res = sqlx::query("UPDATE projects SET polled_sha = $1 WHERE id = $2")
            .bind(sha)
            .bind(id)
            .execute(&self.store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("project", id));
        }
        Ok(())
    }

    /// Moves the mark up to which `on.schedule` was checked from `from` to `until`; false when
    /// the mark was no longer `from` (another server took this turn).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such project.
    pub async fn advance_schedule(&self, id: i64, from: Option<i64>, until: i64) -> Result<bool, StoreError> {
        let res = sqlx::query(
            "UPDATE projects SET schedule_checked_at = $1
             WHERE id = $2 AND (schedule_checked_at = $3 OR (schedule_checked_at IS NULL AND $3 IS NULL))",
        )
        .bind(until)
        .bind(id)
        .bind(from)
        .execute(&self.store.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Deletes a project and everything that belongs to it (runs, jobs, logs, secrets…).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such project.
    pub async fn delete(&self, id: i64) -> Result<(), StoreError> {
        let res = sqlx::query("DELETE FROM projects WHERE id = $1").bind(id).execute(&self.store.pool).await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("project", id));
        }
        Ok(())
    }
}

fn project_from_row(row: &AnyRow) -> Result<Project, StoreError> {
    Ok(Project {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        repo: row.try_get("repo")?,
        branch: row.try_get("branch")?,
        webhook_secret: row.try_get("webhook_secret")?,
        created_at: row.try_get("created_at")?,
        polled_sha: row.try_get("polled_sha")?,
        schedule_checked_at: row.try_get("schedule_checked_at")?,
        require_approval: row.try_get::<i64, _>("require_approval")? != 0,
        forge: row.try_get("forge")?,
        forge_url: row.try_get("forge_url")?,
    })
}
