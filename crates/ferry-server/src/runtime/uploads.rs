//! The cache archives being uploaded: reserved under a key and version, written into a
//! staging file (legacy chunks at their `Content-Range` offset, a blob `PUT` whole, or Azure
//! blocks put together by their block list), and handed to the backend only when committed
//! with the size the client says, every byte of which arrived. Until then nothing can
//! restore them; an upload left alone for [`super::TICKET_TTL`] is dropped with its file.
//!
//! Bounds: an entry is at most [`super::MAX_ENTRY_BYTES`] (or the size its reservation
//! declared), and all the staged bytes together at most the service's budget, counted as
//! they are written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use axum::body::Body;
use futures_util::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::{Caller, MAX_ENTRY_BYTES, RuntimeError, TICKET_TTL, new_ticket, same};

/// The default budget of bytes staged at once.
pub(crate) const DEFAULT_BUDGET: u64 = 2 * MAX_ENTRY_BYTES;

/// Most blocks one Azure upload may stage (Azure's own limit).
const MAX_BLOCKS: usize = 50_000;

/// One upload in flight.
#[derive(Debug)]
struct Upload {
    caller: Caller,
    key: String,
    version: String,
    /// The ticket of its signed upload URL (results service).
    ticket: String,
    /// The size the reservation declared, if it did (legacy `cacheSize`).
    declared: Option<u64>,
    /// Byte ranges written, `start..end`.
    ranges: Vec<(u64, u64)>,
    /// Azure blocks staged: id → (file, size).
    blocks: HashMap<String, (PathBuf, u64)>,
    /// Bytes counted against the budget.
    staged: u64,
    touched: Instant,
}

/// What a commit hands the backend.
#[derive(Debug)]
pub(crate) struct Committed {
    pub(crate) caller: Caller,
    pub(crate) key: String,
    pub(crate) version: String,
    pub(crate) archive: PathBuf,
    pub(crate) size: u64,
}

#[derive(Debug, Default)]
struct State {
    uploads: HashMap<i64, Upload>,
    /// Bytes staged by every upload.
    staged: u64,
}

/// The uploads of one service.
#[derive(Debug)]
pub(crate) struct Uploads {
    dir: PathBuf,
    budget: u64,
    state: Mutex<State>,
}

impl Uploads {
    pub(crate) fn new(dir: PathBuf, budget: u64) -> Uploads {
        Uploads { dir, budget, state: Mutex::new(State::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("no thread panics holding the uploads")
    }

    fn file(&self, id: i64) -> PathBuf {
        self.dir.join(format!("{id}.part"))
    }

    fn block_file(&self, id: i64, block_idx: usize) -> PathBuf {
        self.dir.join(format!("{id}.block-{block_idx}"))
    }

    /// Reserves an upload of `key` and `version` for `caller`: its id and the ticket of its
    /// signed URL.
    ///
    /// # Errors
    /// [`RuntimeError::Taken`] when another upload of that entry to the same scope is in
    /// flight; [`RuntimeError::TooLarge`] when `declared` is over the limit.
    pub(crate) fn reserve(
        &self,
        caller: &Caller,
        key: &str,
        version: &str,
        declared: Option<u64>,
    ) -> Result<(i64, String), RuntimeError> {
        if let Some(size) = declared.filter(|size| *size > MAX_ENTRY_BYTES) {
            return Err(RuntimeError::TooLarge(format!(
                "a cache entry of {size} bytes is over the {MAX_ENTRY_BYTES}-byte limit; cache less"
            )));
        }
        let expired = self.drop_expired();
        let mut state = self.lock();
        let busy = state.uploads.values().any(|upload| {
            upload.key == key && upload.version == version && upload.caller.save_scope == caller.save_scope
        });
        if busy {
            drop(state);
            self.remove_files(expired);
            return Err(RuntimeError::Taken(format!(
                "cache entry {key} is being saved by another job in {}; entries are immutable",
                caller.save_scope
            )));
        }
        let id = loop {
            let id = i64::from_le_bytes(crate::data_dir::random_bytes::<8>()) & 0x001f_ffff_ffff_ffff;
            if id > 0 && !state.uploads.contains_key(&id) {
                break id;
            }
        };
        let ticket = new_ticket();
        state.uploads.insert(
            id,
            Upload {
                caller: caller.clone(),
                key: key.to_owned(),
                version: version.to_owned(),
                ticket: ticket.clone(),
                declared,
                ranges: Vec::new(),
                blocks: HashMap::new(),
                staged: 0,
                touched: Instant::now(),
            },
        );
        drop(state);
        self.remove_files(expired);
        Ok((id, ticket))
    }

    /// The upload `id` of `caller` by its token, or of whoever holds its signed URL's ticket.
    fn check(&self, id: i64, who: Who<'_>) -> Result<(), RuntimeError> {
        let mut state = self.lock();
        let upload = state.uploads.get_mut(&id).filter(|upload| match who {
            Who::Caller(caller) => upload.caller == *caller,
            Who::Ticket(ticket) => same(&upload.ticket, ticket),
        });
        let Some(upload) = upload else {
            return Err(RuntimeError::NotFound(format!(
                "no cache upload {id} in progress for this job; reserve the entry again"
            )));
        };
        upload.touched = Instant::now();
        Ok(())
    }

    /// Whether `ticket` is upload `id`'s signed URL's.
    pub(crate) fn check_ticket(&self, id: i64, ticket: &str) -> Result<(), RuntimeError> {
        self.check(id, Who::Ticket(ticket))
    }

    /// The upload's id by its key and version, for the results service, which names uploads
    /// by them.
    pub(crate) fn find(&self, caller: &Caller, key: &str, version: &str) -> Option<i64> {
        let state = self.lock();
        state
            .uploads
            .iter()
            .find(|(_, upload)| upload.caller == *caller && upload.key == key && upload.version == version)
            .map(|(id, _)| *id)
    }

    /// Takes `len` bytes of the budget and of upload `id`'s limit.
    fn take_budget(&self, id: i64, end: u64, len: u64) -> Result<(), RuntimeError> {
        let mut state = self.lock();
        let total = state.staged;
        let upload = state
            .uploads
            .get_mut(&id)
            .ok_or_else(|| RuntimeError::NotFound(format!("cache upload {id} was dropped")))?;
        let limit = upload.declared.unwrap_or(MAX_ENTRY_BYTES).min(MAX_ENTRY_BYTES);
        if end > limit || upload.staged.saturating_add(len) > MAX_ENTRY_BYTES {
            return Err(RuntimeError::TooLarge(format!(
                "cache upload {id} goes past {limit} bytes, its limit; cache less"
            )));
        }
        if total.saturating_add(len) > self.budget {
            return Err(RuntimeError::TooLarge(format!(
                "the cache service holds {total} bytes of uploads in progress, its budget is {}; try again later",
                self.budget
            )));
        }
        upload.staged += len;
        state.staged += len;
        Ok(())
    }

    /// Writes the legacy chunk `start..=end` of upload `id` (the caller's) from `body`.
    pub(crate) async fn write_chunk(
        &self,
        caller: &Caller,
        id: i64,
        start: u64,
        end: u64,
        body: Body,
    ) -> Result<(), RuntimeError> {
        self.check(id, Who::Caller(caller))?;
        let len = end - start + 1;
        self.take_budget(id, end + 1, len)?;
        let path = self.file(id);
        let written = write_at(&path, start, len, body).await?;
        if written != len {
            return Err(RuntimeError::BadRequest(format!(
                "the chunk's Content-Range says {len} bytes, its body held {written}"
            )));
        }
        let mut state = self.lock();
        if let Some(upload) = state.uploads.get_mut(&id) {
            upload.ranges.push((start, end + 1));
        }
        Ok(())
    }

    /// Writes the whole archive of upload `id` (a blob `PUT`) from `body`.
    pub(crate) async fn write_whole(&self, id: i64, ticket: &str, body: Body) -> Result<u64, RuntimeError> {
        self.check(id, Who::Ticket(ticket))?;
        let path = self.file(id);
        let written = self.stream_to(id, &path, body).await?;
        let mut state = self.lock();
        if let Some(upload) = state.uploads.get_mut(&id) {
            upload.ranges = vec![(0, written)];
        }
        Ok(written)
    }

    /// Stages the Azure block `block_id` of upload `id` from `body`.
    pub(crate) async fn write_block(
        &self,
        id: i64,
        ticket: &str,
        block_id: &str,
        body: Body,
    ) -> Result<u64, RuntimeError> {
        self.check(id, Who::Ticket(ticket))?;
        let block_idx = {
            let state = self.lock();
            let upload = state.uploads.get(&id).ok_or_else(|| RuntimeError::NotFound(format!("upload {id}")))?;
            if upload.blocks.len() >= MAX_BLOCKS && !upload.blocks.contains_key(block_id) {
                return Err(RuntimeError::TooLarge(format!("an upload stages at most {MAX_BLOCKS} blocks")));
            }
            upload.blocks.len()
        };
        let path = self.block_file(id, block_idx);
        let written = self.stream_to(id, &path, body).await?;
        let mut state = self.lock();
        if let Some(upload) = state.uploads.get_mut(&id) {
            upload.blocks.insert(block_id.to_owned(), (path, written));
        }
        Ok(written)
    }

    /// Puts the staged blocks `block_ids` of upload `id` together, in that order, as its archive.
    pub(crate) async fn write_block_list(
        &self,
        id: i64,
        ticket: &str,
        block_ids: &[String],
    ) -> Result<u64, RuntimeError> {
        self.check(id, Who::Ticket(ticket))?;
        let parts: Vec<(PathBuf, u64)> = {
            let state = self.lock();
            let upload = state.uploads.get(&id).ok_or_else(|| RuntimeError::NotFound(format!("upload {id}")))?;
            block_ids
                .iter()
                .map(|block_id| {
                    upload.blocks.get(block_id).cloned().ok_or_else(|| {
                        RuntimeError::BadRequest(format!("block {block_id} of the block list was not staged"))
                    })
                })
                .collect::<Result<_, _>>()?
        };
        let target = self.file(id);
        let res = async {
            let mut file = tokio::fs::File::create(&target).await?;
            let mut size = 0;
            for (part, _) in &parts {
                let mut source = tokio::fs::File::open(part).await?;
                size += tokio::io::copy(&mut source, &mut file).await?;
            }
            file.flush().await?;
            Ok::<u64, std::io::Error>(size)
        }
        .await
        .map_err(|error| {
            RuntimeError::Internal(format!("putting the blocks of cache upload {id} together: {error}"))
        })?;
        let mut state = self.lock();
        if let Some(upload) = state.uploads.get_mut(&id) {
            upload.ranges = vec![(0, res)];
            for (path, _) in upload.blocks.values() {
                let _ = std::fs::remove_file(path);
            }
            upload.blocks.clear();
        }
        Ok(res)
    }

    /// Streams `body` into a new file at `path`, within the upload's and the service's bounds.
    async fn stream_to(&self, id: i64, path: &Path, body: Body) -> Result<u64, RuntimeError> {
        let io = |error: std::io::Error| RuntimeError::Internal(format!("staging cache upload {id}: {error}"));
        let mut file = tokio::fs::File::create(path).await.map_err(io)?;
        let mut stream = body.into_data_stream();
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| RuntimeError::BadRequest(format!("reading the body: {error}")))?;
            let len = chunk.len() as u64;
            self.take_budget(id, written + len, len)?;
            file.write_all(&chunk).await.map_err(io)?;
            written += len;
        }
        file.flush().await.map_err(io)?;
        Ok(written)
    }

    /// Ends upload `id` of `caller` with `size` bytes: the archive, when every byte of it arrived.
    ///
    /// # Errors
    /// [`RuntimeError::BadRequest`] when bytes are missing or the size is another; the upload
    /// is dropped then.
    pub(crate) async fn commit(&self, caller: &Caller, id: i64, size: u64) -> Result<Committed, RuntimeError> {
        self.check(id, Who::Caller(caller))?;
        let upload = {
            let mut state = self.lock();
            let upload = state.uploads.remove(&id).ok_or_else(|| RuntimeError::NotFound(format!("upload {id}")))?;
            state.staged = state.staged.saturating_sub(upload.staged);
            upload
        };
        let archive = self.file(id);
        let on_disk = tokio::fs::metadata(&archive).await.map(|meta| meta.len()).unwrap_or(0);
        let mut ranges = upload.ranges.clone();
        ranges.sort_unstable();
        let mut covered = 0u64;
        for (start, end) in ranges {
            if start > covered {
                break;
            }
            covered = covered.max(end);
        }
        for (path, _) in upload.blocks.values() {
            let _ = tokio::fs::remove_file(path).await;
        }
        if covered != size || on_disk != size {
            let _ = tokio::fs::remove_file(&archive).await;
            return Err(RuntimeError::BadRequest(format!(
                "cache upload {id} holds {covered} contiguous bytes from the start ({on_disk} in all), not the {size} it \
                 is committed with; upload it again"
            )));
        }
        Ok(Committed { caller: upload.caller, key: upload.key, version: upload.version, archive, size })
    }

    /// Forgets the uploads left alone for too long; their files, for the caller to remove
    /// outside the lock.
    fn drop_expired(&self) -> Vec<PathBuf> {
        let now = Instant::now();
        let mut state = self.lock();
        let expired: Vec<i64> = state
            .uploads
            .iter()
            .filter(|(_, upload)| now.duration_since(upload.touched) > TICKET_TTL)
            .map(|(id, _)| *id)
            .collect();
        let mut files = Vec::new();
        for id in expired {
            if let Some(upload) = state.uploads.remove(&id) {
                state.staged = state.staged.saturating_sub(upload.staged);
                files.extend(upload.blocks.into_values().map(|(path, _)| path));
                files.push(self.file(id));
            }
        }
        files
    }

    fn remove_files(&self, files: Vec<PathBuf>) {
        for file in files {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Who may touch an upload.
#[derive(Clone, Copy)]
enum Who<'a> {
    /// Its job, by token (legacy protocol).
    Caller(&'a Caller),
    /// Whoever holds its signed URL (blob uploads).
    Ticket(&'a str),
}

/// Writes `body` at `offset` of the file at `path` (made if missing), at most `len` bytes;
/// the bytes the body held.
async fn write_at(path: &Path, offset: u64, len: u64, body: Body) -> Result<u64, RuntimeError> {
    let io = |error: std::io::Error| RuntimeError::Internal(format!("staging a cache chunk: {error}"));
    let mut file =
        tokio::fs::OpenOptions::new().create(true).write(true).truncate(false).open(path).await.map_err(io)?;
    file.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| RuntimeError::BadRequest(format!("reading the chunk: {error}")))?;
        written += chunk.len() as u64;
        if written > len {
            return Err(RuntimeError::BadRequest(format!("the chunk's body is over its Content-Range's {len} bytes")));
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    Ok(written)
}
