//! Webhook delivery ids: each project's recent deliveries, so a delivery sent twice starts its
//! runs once.

use crate::{Store, StoreError};

/// The deliveries repository: `store.deliveries()`.
#[derive(Debug, Clone, Copy)]
pub struct Deliveries<'a> {
    pub(crate) store: &'a Store,
}

impl Deliveries<'_> {
    /// Records that project `project_id` received delivery `delivery` at `now`; false when it
    /// was recorded before (and not yet swept), so the caller starts nothing for it. Concurrent
    /// calls with the same id see true exactly once.
    ///
    /// # Errors
    /// [`StoreError::Db`] when the database fails (a project that does not exist included).
    pub async fn record(&self, project_id: i64, delivery: &str, now: i64) -> Result<bool, StoreError> {
        let res = sqlx::query(
            "INSERT INTO webhook_deliveries (project_id, delivery, received_at) VALUES ($1, $2, $3)
             ON CONFLICT (project_id, delivery) DO NOTHING",
        )
        .bind(project_id)
        .bind(delivery)
        .bind(now)
        .execute(&self.store.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Forgets delivery `delivery` of project `project_id`, so that the forge's redelivery is
    /// taken: called when a delivery could not be handled (the store failed).
    pub async fn forget(&self, project_id: i64, delivery: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webhook_deliveries WHERE project_id = $1 AND delivery = $2")
            .bind(project_id)
            .bind(delivery)
            .execute(&self.store.pool)
            .await?;
        Ok(())
    }

    /// Deletes the deliveries received before `before`; returns how many.
    pub async fn sweep(&self, before: i64) -> Result<u64, StoreError> {
        let res = sqlx::query("DELETE FROM webhook_deliveries WHERE received_at < $1")
            .bind(before)
            .execute(&self.store.pool)
            .await?;
        Ok(res.rows_affected())
    }
}
