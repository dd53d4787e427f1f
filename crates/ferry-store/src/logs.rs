//! Step logs, stored in chunks (LZ4-compressed from 512 bytes on) numbered 1, 2, 3… per step so a live viewer can ask for
//! everything after the last chunk it saw.
//!
//! Appending bumps the step's `log_seq` counter and inserts the chunk in one transaction.
//! The counter's row lock (PostgreSQL) or the write lock (SQLite) orders appends to a step,
//! so chunk `n` commits before chunk `n + 1` is numbered: a reader that sees chunk `n` has
//! already been able to see every chunk before it, and "after seq N" never skips one.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{Store, StoreError, decode_error};

/// A chunk of consecutive log lines of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    pub step_id: i64,
    pub seq: i64,
    /// The chunk's lines, each ending in `\n`.
    pub body: String,
    pub n_lines: i64,
    pub created_at: i64,
}

/// Where a step's log stands: the number of its last chunk (0 before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepLog {
    pub step_id: i64,
    pub job_id: i64,
    pub step_idx: i64,
    pub last_seq: i64,
}

/// The logs repository: `store.logs()`.
#[derive(Debug, Clone, Copy)]
pub struct Logs<'a> {
    pub(crate) store: &'a Store,
}

impl Logs<'_> {
    /// Appends `text` (lines, each ending in `\n`) to a step's log as one chunk and returns
    /// its sequence number.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when there is no such step.
    pub async fn append(&self, step_id: i64, text: &str, now: i64) -> Result<i64, StoreError> {
        let mut tx = self.store.begin_write().await?;
        let seq: Option<i64> =
            sqlx::query_scalar("UPDATE steps SET log_seq = log_seq + 1 WHERE id = $1 RETURNING log_seq")
                .bind(step_id)
                .fetch_optional(&mut *tx)
                .await?;
        let seq = seq.ok_or_else(|| StoreError::not_found("step", step_id))?;
        insert_chunk(&mut tx, step_id, seq, text, now).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Where the log of each step of a run stands, by job (in the order they were enqueued)
    /// and step: one query tells a live viewer which steps have chunks it has not seen.
    pub async fn steps_of_run(&self, run_id: i64) -> Result<Vec<StepLog>, StoreError> {
        let rows = sqlx::query(
            "SELECT steps.id, steps.job_id, steps.step_idx, steps.log_seq FROM steps
             JOIN jobs ON jobs.id = steps.job_id WHERE jobs.run_id = $1 ORDER BY jobs.id, steps.step_idx",
        )
        .bind(run_id)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StepLog {
                    step_id: row.try_get("id")?,
                    job_id: row.try_get("job_id")?,
                    step_idx: row.try_get("step_idx")?,
                    last_seq: row.try_get("log_seq")?,
                })
            })
            .collect()
    }

    /// At most `limit` chunks of a step with sequence numbers above `after`, in order
    /// (`after = 0` reads from the start).
    pub async fn after(&self, step_id: i64, after: i64, limit: i64) -> Result<Vec<LogChunk>, StoreError> {
        let rows = sqlx::query(
            "SELECT step_id, seq, n_lines, body, body_lz4, created_at FROM log_chunks
             WHERE step_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(step_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.store.pool)
        .await?;
        rows.iter().map(chunk_from_row).collect()
    }
}

/// Stores `text` as chunk `seq` of a step's log (the caller numbered it, bumping the step's
/// `log_seq` in the same transaction).
pub(crate) async fn insert_chunk(
    tx: &mut Transaction<'static, Any>,
    step_id: i64,
    seq: i64,
    text: &str,
    now: i64,
) -> Result<(), StoreError> {
    debug_assert!(text.is_empty() || text.ends_with('\n'), "a chunk is whole lines");
    let n_lines = memchr::memchr_iter(b'\n', text.as_bytes()).count();
    let n_lines = i64::try_from(n_lines).expect("a text's length fits in i64");
    // Small chunks (a line or two while following) are not worth compressing.
    let (body, body_lz4) = if text.len() >= COMPRESS_FROM {
        ("", Some(lz4_flex::block::compress_prepend_size(text.as_bytes())))
    } else {
        (text, None)
    };
    sqlx::query(
        "INSERT INTO log_chunks (step_id, seq, n_lines, body, body_lz4, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(step_id)
    .bind(seq)
    .bind(n_lines)
    .bind(body)
    .bind(body_lz4)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Chunks whose text is at least this long are stored compressed.
const COMPRESS_FROM: usize = 512;

fn chunk_from_row(row: &AnyRow) -> Result<LogChunk, StoreError> {
    let compressed: Option<Vec<u8>> = row.try_get("body_lz4")?;
    let body = match compressed {
        Some(bytes) => {
            let text = lz4_flex::block::decompress_size_prepended(&bytes)
                .map_err(|error| decode_error("body_lz4", &error.to_string()))?;
            String::from_utf8(text).map_err(|error| decode_error("body_lz4", &error.to_string()))?
        }
        None => row.try_get("body")?,
    };
    Ok(LogChunk {
        step_id: row.try_get("step_id")?,
        seq: row.try_get("seq")?,
        body,
        n_lines: row.try_get("n_lines")?,
        created_at: row.try_get("created_at")?,
    })
}
