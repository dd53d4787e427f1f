//! Alert routing's durable state (`alertmanager_state`): the alerts the dispatcher holds, the
//! silences and the notification log, each row a key and the JSON body `ferry-alerting`
//! writes. The store does not read the bodies; the server restores its dispatcher from them.

use sqlx::Row;

use crate::{Store, StoreError};

/// Which kind of row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStateKind {
    Alert,
    Silence,
    /// A notification log entry.
    Nflog,
}

impl AlertStateKind {
    fn as_str(self) -> &'static str {
        match self {
            AlertStateKind::Alert => "alert",
            AlertStateKind::Silence => "silence",
            AlertStateKind::Nflog => "nflog",
        }
    }
}

/// Every row, by kind: `(key, body)` in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertmanagerState {
    pub alerts: Vec<(String, String)>,
    pub silences: Vec<(String, String)>,
    pub log: Vec<(String, String)>,
}

/// The repository: `store.alertmanager()`.
#[derive(Debug, Clone, Copy)]
pub struct Alertmanager<'a> {
    pub(crate) store: &'a Store,
}

impl Alertmanager<'_> {
    /// Writes (inserts or replaces) rows of one kind, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Db`] when the database fails.
    pub async fn put(&self, kind: AlertStateKind, rows: &[(String, String)], now: i64) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin_write().await?;
        for (key, body) in rows {
            sqlx::query(
                "INSERT INTO alertmanager_state (kind, key, body, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )
            .bind(kind.as_str())
            .bind(key)
            .bind(body)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes rows of one kind; keys that are not there are fine.
    ///
    /// # Errors
    /// [`StoreError::Db`] when the database fails.
    pub async fn delete(&self, kind: AlertStateKind, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut tx = self.store.begin_write().await?;
        for key in keys {
            sqlx::query("DELETE FROM alertmanager_state WHERE kind = $1 AND key = $2")
                .bind(kind.as_str())
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every row.
    ///
    /// # Errors
    /// [`StoreError::Db`] when the database fails.
    pub async fn load(&self) -> Result<AlertmanagerState, StoreError> {
        let rows = sqlx::query("SELECT kind, key, body FROM alertmanager_state ORDER BY kind, key")
            .fetch_all(&self.store.pool)
            .await?;
        let mut state = AlertmanagerState::default();
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let pair = (row.try_get("key")?, row.try_get("body")?);
            match kind.as_str() {
                "alert" => state.alerts.push(pair),
                "silence" => state.silences.push(pair),
                _ => state.log.push(pair),
            }
        }
        Ok(state)
    }
}
