//! The agent's [`CacheRemote`]: `actions/cache` entries of the job's project on the server,
//! so every runner of a project shares them, and only those the server lets the job's run
//! restore (its scopes: the run's ref, its base branch, the default branch). An entry is sent
//! as the files of a folder in this runner's cache folder (blobs the server lacks, then the
//! list), and fetched back the same way into a folder beside it that is renamed into place,
//! so an entry there is always whole. Copies are named by the entry's key and files, not by
//! its key alone: two branches (or projects) may hold different entries under one key.
//!
//! A copy is kept while it is used: a restore of it touches it, and [`prune`] moves copies
//! (and folders abandoned half-written) that nothing used for [`KEEP_UNUSED`] into the trash,
//! as the server drops entries no run restored for that long, and the least recently used
//! beyond [`MAX_BYTES`] in all. [`CacheFolder`]'s lock keeps a prune from taking a copy a
//! restore has just chosen.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ferry_client::Client;
use ferry_proto::artifacts::{CacheEntryView, CacheLookup};
use sha2::{Digest, Sha256};
use tracing::info;

use super::artifacts::{TransferError, download_files, upload_tree};
use super::trash::Trash;
use crate::job::{BoxFuture, CacheRemote, CacheRemoteError};

/// How long a copy nothing restored stays on the runner: as long as the server keeps an
/// entry no run restored (GitHub's rule).
pub(super) const KEEP_UNUSED: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// How often the agent prunes its cache folder (and once when it starts).
pub(super) const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// The runner's cache folder, shared by its slots.
#[derive(Debug)]
pub(super) struct CacheFolder {
    pub dir: PathBuf,
    /// Held while a restore chooses a copy (and touches it) and while a prune looks at one and
    /// discards it, so a copy is never taken from under a restore.
    pub lock: tokio::sync::Mutex<()>,
}

/// The server's cache entries, for the job `job_id`.
#[derive(Debug)]
pub(super) struct ServerCache {
    pub client: Client,
    pub job_id: i64,
    pub folder: Arc<CacheFolder>,
}

impl ServerCache {
    async fn find(&self, key: &str, restore_keys: &[String]) -> Result<Option<CacheEntryView>, CacheRemoteError> {
        let lookup = CacheLookup { key: key.to_owned(), restore_keys: restore_keys.to_vec() };
        self.client.lookup_cache(self.job_id, &lookup).await.map_err(|error| CacheRemoteError {
            action: "looking up the cache on the server".to_owned(),
            source: Box::new(error),
        })
    }

    /// Uploads the folder `entry` as the entry `key`; what the server stored, or `None` when
    /// the key was taken (entries are immutable; another runner may have stored it first).
    async fn send(&self, key: &str, entry: &Path) -> Result<Option<CacheEntryView>, CacheRemoteError> {
        let fail = |source: Box<dyn std::error::Error + Send + Sync>| CacheRemoteError {
            action: format!("storing cache entry `{key}` on the server"),
            source,
        };
        let (files, n_sent) = upload_tree(&self.client, entry).await.map_err(|error| fail(Box::new(error)))?;
        let view = CacheEntryView { key: key.to_owned(), files };
        match self.client.save_cache(self.job_id, &view).await {
            Ok(stored) => {
                info!(job.id = self.job_id, cache.key = %key, n_blobs = n_sent, "stored cache entry {key} ({n_sent} new blob(s))");
                Ok(Some(stored))
            }
            Err(error) if error.status() == Some(409) => Ok(None),
            Err(error) => Err(fail(Box::new(error))),
        }
    }
}

/// The folder of `cache` that holds a copy of `entry`: named by a digest of its key and
/// files, which an entry never changes.
fn copy_dir(cache: &Path, entry: &CacheEntryView) -> PathBuf {
    let json = serde_json::to_vec(entry).expect("a cache entry is JSON");
    let digest = hex::encode(Sha256::digest(&json));
    cache.join(format!("server-{digest}"))
}

impl CacheRemote for ServerCache {
    fn lookup<'a>(
        &'a self,
        key: &'a str,
        restore_keys: &'a [String],
    ) -> BoxFuture<'a, Result<Option<String>, CacheRemoteError>> {
        Box::pin(async move { Ok(self.find(key, restore_keys).await?.map(|entry| entry.key)) })
    }

    fn fetch<'a>(
        &'a self,
        key: &'a str,
        restore_keys: &'a [String],
        cache: &'a Path,
    ) -> BoxFuture<'a, Result<Option<(String, PathBuf)>, CacheRemoteError>> {
        Box::pin(async move {
            let Some(entry) = self.find(key, restore_keys).await? else { return Ok(None) };
            let dest = copy_dir(cache, &entry);
            {
                let _chosen = self.folder.lock.lock().await;
                // Used now: a prune keeps it another [`KEEP_UNUSED`].
                if touch(&dest).is_ok() {
                    return Ok(Some((entry.key, dest)));
                }
            }
            let name = dest.file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
            let partial = dest.with_file_name(format!(".fetching-{}-{name}", self.job_id));
            let fail = |source: TransferError| CacheRemoteError {
                action: format!("fetching cache entry `{}`", entry.key),
                source: Box::new(source),
            };
            let _ = tokio::fs::remove_dir_all(&partial).await;
            if let Err(error) = download_files(&self.client, &entry.files, &partial).await {
                let _ = tokio::fs::remove_dir_all(&partial).await;
                return Err(fail(error));
            }
            // Another slot may have fetched it meanwhile; then its copy stays.
            if tokio::fs::rename(&partial, &dest).await.is_err() {
                let _ = tokio::fs::remove_dir_all(&partial).await;
                if !tokio::fs::try_exists(&dest).await.unwrap_or(false) {
                    return Err(fail(TransferError::Move { dir: cache.to_owned() }));
                }
            }
            info!(job.id = self.job_id, cache.key = %entry.key, "fetched cache entry {} ({} file(s))", entry.key, entry.files.len());
            Ok(Some((entry.key, dest)))
        })
    }

    fn store<'a>(
        &'a self,
        key: &'a str,
        entry: &'a Path,
        cache: &'a Path,
    ) -> BoxFuture<'a, Result<(), CacheRemoteError>> {
        Box::pin(async move {
            let res = self.send(key, entry).await;
            let kept = match &res {
                // Kept where a restore of it on this runner finds it without fetching.
                Ok(Some(view)) => {
                    let dest = copy_dir(cache, view);
                    tokio::fs::try_exists(&dest).await.unwrap_or(false) || tokio::fs::rename(entry, &dest).await.is_ok()
                }
                Ok(None) | Err(_) => false,
            };
            if !kept {
                let _ = tokio::fs::remove_dir_all(entry).await;
            }
            res.map(|_| ())
        })
    }
}

/// Sets the modification time of the folder `dir` to now.
fn touch(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.set_modified(SystemTime::now())
}

/// What [`prune`] keeps.
#[derive(Debug, Clone, Copy)]
pub(super) struct Keep {
    /// Entries last modified (restored, saved) before this go.
    pub unused_since: SystemTime,
    /// Beyond this many bytes in all, the least recently used go too.
    pub max_bytes: u64,
}

/// The most the copies may take together: GitHub keeps 10 GB of entries per repository.
pub(super) const MAX_BYTES: u64 = 10 << 30;

/// Moves into `trash` what in `folder` is not to be kept: what was last modified before
/// `keep.unused_since` (copies no restore touched since, folders a stopped job left
/// half-written), then, while the rest holds more than `keep.max_bytes`, the least recently
/// used. An entry a restore touched while this ran stays. Returns how many went.
///
/// # Errors
/// When the folder cannot be read; an entry that cannot be looked at or moved is skipped.
pub(super) async fn prune(folder: &CacheFolder, keep: Keep, trash: &Trash) -> std::io::Result<usize> {
    let dir = folder.dir.clone();
    let mut entries = tokio::task::spawn_blocking(move || entries_by_use(&dir))
        .await
        .map_err(|error| std::io::Error::other(error.to_string()))??;
    let mut total: u64 = entries.iter().map(|entry| entry.n_bytes).sum();
    let mut n_pruned = 0;
    // Oldest first.
    entries.sort_by_key(|entry| entry.used_at);
    for entry in entries {
        let unused = entry.used_at < keep.unused_since;
        // A folder being written (`.partial-…`, `.fetching-…`) goes only when abandoned.
        if !unused && (total <= keep.max_bytes || entry.is_partial) {
            continue;
        }
        let _looking = folder.lock.lock().await;
        let still = std::fs::metadata(&entry.path).and_then(|meta| meta.modified()).ok() == Some(entry.used_at);
        if still && trash.discard(&entry.path).is_ok() {
            total -= entry.n_bytes;
            n_pruned += 1;
        }
    }
    Ok(n_pruned)
}

/// An entry of the cache folder: when it was last used, and its size.
struct Entry {
    path: PathBuf,
    used_at: SystemTime,
    n_bytes: u64,
    /// A folder a job is writing (or left half-written).
    is_partial: bool,
}

fn entries_by_use(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let Ok(used_at) = std::fs::symlink_metadata(&path).and_then(|meta| meta.modified()) else { continue };
        let is_partial = path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.'));
        entries.push(Entry { n_bytes: tree_bytes(&path), path, used_at, is_partial });
    }
    Ok(entries)
}

/// The bytes of the files under `path` (links not followed; what cannot be read counts 0).
fn tree_bytes(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|children| children.filter_map(Result::ok).map(|child| tree_bytes(&child.path())).sum())
        .unwrap_or(0)
}

/// Prunes `folder` now and every [`PRUNE_EVERY`]; runs until dropped.
pub(super) async fn prune_every_hour(folder: Arc<CacheFolder>, trash: Arc<Trash>) {
    let mut ticker = tokio::time::interval(PRUNE_EVERY);
    loop {
        ticker.tick().await;
        let unused_since = SystemTime::now().checked_sub(KEEP_UNUSED).unwrap_or(SystemTime::UNIX_EPOCH);
        match prune(&folder, Keep { unused_since, max_bytes: MAX_BYTES }, &trash).await {
            Ok(0) => {}
            Ok(n_pruned) => {
                info!(n_pruned, "removed {n_pruned} cache entries no job restored in 7 days or beyond 10 GiB");
            }
            Err(error) => tracing::warn!(%error, "could not prune the cache folder {}", folder.dir.display()),
        }
    }
}

#[cfg(test)]
mod tests;
