//! Log chunks as they are stored, handed to live log viewers in memory.
//!
//! The runner protocol's events route publishes each chunk it stored, after its transaction
//! committed, with the text still in the request's body (no copy); a log follower that has
//! caught up with the store takes the next chunk of a step from here instead of reading it
//! back and decompressing it. The store stays the truth: a follower subscribes before it reads
//! the store, takes a chunk only when it is the next one of its step, and reads the store again
//! whenever it sees a gap (a chunk stored before it listened) or fell behind the feed (it
//! holds [`CAPACITY`] chunks), so no line is lost or repeated.

use std::sync::Arc;

use axum::body::Bytes;
use tokio::sync::broadcast;

/// How many chunks the feed holds for a viewer that is behind; each shares a runner's batch
/// (at most 2 MiB), kept only until every viewer has taken it.
pub(crate) const CAPACITY: usize = 8;

/// A log chunk that was just stored.
#[derive(Debug)]
pub(crate) struct LiveChunk {
    pub(crate) run_id: i64,
    pub(crate) job_id: i64,
    pub(crate) step_id: i64,
    pub(crate) step_idx: i64,
    pub(crate) seq: i64,
    /// Whole lines, UTF-8 (the protocol's decoder checked).
    pub(crate) text: Bytes,
}

/// The feed: one sender for the server, a receiver per live viewer.
#[derive(Debug)]
pub(crate) struct LogFeed {
    sender: broadcast::Sender<Arc<LiveChunk>>,
}

impl LogFeed {
    pub(crate) fn new() -> LogFeed {
        LogFeed { sender: broadcast::channel(CAPACITY).0 }
    }

    /// Hands `chunk` to every viewer listening; with none, it is dropped at once.
    pub(crate) fn publish(&self, chunk: LiveChunk) {
        let _ = self.sender.send(Arc::new(chunk));
    }

    /// Chunks stored from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<LiveChunk>> {
        self.sender.subscribe()
    }
}
