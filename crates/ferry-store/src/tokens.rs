//! API tokens: stored as a public prefix (the lookup key) and a hash; never the plaintext.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{ProjectScope, ScopeOwner, Store, StoreError, conflict_on_unique, decode_error, read_scope, write_scope};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Viewer,
    Developer,
    Admin,
}

impl Role {
    /// The word stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Developer => "developer",
            Role::Admin => "admin",
        }
    }
}

/// A token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    /// The public part of the token the client presents; unique.
    pub prefix: String,
    /// The hash the server verifies the secret part against (its format is the server's).
    pub hash: String,
    pub name: String,
    pub role: Role,
    /// The projects it may see and act on.
    pub scope: ProjectScope,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// What [`Tokens::create`] writes.
#[derive(Debug, Clone, Copy)]
pub struct NewApiToken<'a> {
    pub prefix: &'a str,
    pub hash: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub scope: &'a ProjectScope,
}

/// The API tokens repository: `store.tokens()`.
#[derive(Debug, Clone, Copy)]
pub struct Tokens<'a> {
    pub(crate) store: &'a Store,
}

pub(crate) const COLUMNS: &str = "id, prefix, hash, name, role, scoped, created_at, revoked_at";

impl Tokens<'_> {
    /// Stores a new token.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the prefix is taken or the scope names a project that
    /// does not exist.
    pub async fn create(&self, token: &NewApiToken<'_>, now: i64) -> Result<ApiToken, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO api_tokens (prefix, hash, name, role, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        )))
        .bind(token.prefix)
        .bind(token.hash)
        .bind(token.name)
        .bind(token.role.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(conflict_on_unique(|| format!("token prefix {}", token.prefix)))?;
        let mut created = token_from_row(&row)?;
        write_scope(&mut tx, ScopeOwner::Token, created.id, token.scope).await?;
        tx.commit().await?;
        created.scope = token.scope.clone();
        if let ProjectScope::Projects(ids) = &mut created.scope {
            ids.sort_unstable();
            ids.dedup();
        }
        Ok(created)
    }

    /// The unrevoked token with this prefix, if any; the caller verifies the hash.
    pub async fn active_by_prefix(&self, prefix: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE prefix = $1 AND revoked_at IS NULL"
        )))
        .bind(prefix)
        .fetch_optional(&self.store.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(self.scoped(&row).await?)),
            None => Ok(None),
        }
    }

    /// The token of a row, with its scope.
    pub(crate) async fn scoped(&self, row: &AnyRow) -> Result<ApiToken, StoreError> {
        let mut token = token_from_row(row)?;
        token.scope = read_scope(self.store, ScopeOwner::Token, token.id, row.try_get("scoped")?).await?;
        Ok(token)
    }

    /// Every token, revoked ones included, oldest first.
    pub async fn list(&self) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM api_tokens ORDER BY id")))
            .fetch_all(&self.store.pool)
            .await?;
        let mut tokens = Vec::with_capacity(rows.len());
        for row in &rows {
            tokens.push(self.scoped(row).await?);
        }
        Ok(tokens)
    }

    /// Revokes a token and ends its sessions; revoking it again keeps the first time.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such token.
    pub async fn revoke(&self, id: i64, now: i64) -> Result<(), StoreError> {
        let mut tx = self.store.begin_write().await?;
        let res = sqlx::query("UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::not_found("token", id));
        }
        sqlx::query("DELETE FROM sessions WHERE token_id = $1").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

fn token_from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    let role: String = row.try_get("role")?;
    let role = match role.as_str() {
        "viewer" => Role::Viewer,
        "developer" => Role::Developer,
        "admin" => Role::Admin,
        _ => return Err(decode_error("role", &role)),
    };
    Ok(ApiToken {
        id: row.try_get("id")?,
        prefix: row.try_get("prefix")?,
        hash: row.try_get("hash")?,
        name: row.try_get("name")?,
        role,
        // Read by the caller, which has the store.
        scope: ProjectScope::All,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}
