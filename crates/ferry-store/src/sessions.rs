//! The web UI's login sessions: a random id the browser keeps in a cookie, stored here only
//! as its hash, tied to the token that logged in and ending at a fixed time.

use sqlx::AssertSqlSafe;

use crate::{ApiToken, Store, StoreError, Tokens, conflict_on_unique};

/// The sessions repository: `store.sessions()`.
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a> {
    pub(crate) store: &'a Store,
}

impl Sessions<'_> {
    /// Starts a session of token `token_id` (its id's hash is `id_hash`) that ends at
    /// `expires_at`; sessions that ended before `now` are deleted on the way.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the hash is taken or there is no such token.
    pub async fn create(&self, id_hash: &str, token_id: i64, now: i64, expires_at: i64) -> Result<(), StoreError> {
        let mut tx = self.store.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO sessions (id_hash, token_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id_hash)
            .bind(token_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on_unique(|| format!("session of token {token_id}")))?;
        tx.commit().await?;
        Ok(())
    }

    /// The token session `id_hash` acts for, when the session has not ended by `now` and the
    /// token is not revoked.
    pub async fn active(&self, id_hash: &str, now: i64) -> Result<Option<ApiToken>, StoreError> {
        let columns = crate::tokens::COLUMNS.split(", ").map(|col| format!("token.{col}")).collect::<Vec<_>>();
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM sessions session JOIN api_tokens token ON token.id = session.token_id
             WHERE session.id_hash = $1 AND session.expires_at > $2 AND token.revoked_at IS NULL",
            columns.join(", ")
        )))
        .bind(id_hash)
        .bind(now)
        .fetch_optional(&self.store.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(Tokens { store: self.store }.scoped(&row).await?)),
            None => Ok(None),
        }
    }

    /// Ends session `id_hash` (logging out); ending it again, or one that never was, is fine.
    pub async fn delete(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&self.store.pool).await?;
        Ok(())
    }
}
