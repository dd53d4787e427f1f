//! Folders the agent is done with, removed off the jobs' path: a finished job's folder is
//! renamed into `<work_dir>/trash/` (one `rename(2)`) and a background task deletes it when
//! the runner is quiet.
//!
//! On ext4 mounted with `discard`, as here, deleting a job's copy of even a tiny repository
//! took tens of milliseconds, which a slot spent before it claimed its next job. A folder that
//! cannot be renamed there (another file system, such as the runner files on `/dev/shm`) is
//! deleted at once instead. Whatever a stopped runner left in the trash goes when the next
//! one starts.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// The trash folder and the wake-up of its reaper.
#[derive(Debug)]
pub(crate) struct Trash {
    dir: PathBuf,
    /// Names within this process; `started` keeps them apart from an earlier process's.
    n_discarded: AtomicU64,
    started: u128,
    /// Folders discarded since the trash was last emptied.
    n_waiting: AtomicU64,
    wake: Notify,
}

/// How long no folder must be discarded before the trash is emptied: deleting while the next
/// job starts slowed its start from about 13 to 21 ms (median, in the server benchmark), since
/// both wait for the file system's journal.
const QUIET: std::time::Duration = std::time::Duration::from_millis(500);

/// How many folders may wait for a quiet moment; beyond it they are deleted anyway, so a
/// runner that is never idle does not fill its disk.
const MAX_WAITING: u64 = 32;

impl Trash {
    /// The trash at `dir`, which must exist.
    pub(crate) fn new(dir: PathBuf) -> Trash {
        let started =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
        Trash { dir, n_discarded: AtomicU64::new(0), started, n_waiting: AtomicU64::new(0), wake: Notify::new() }
    }

    /// Moves `path` into the trash for the reaper, or deletes it now when it cannot be moved
    /// there. A path that does not exist is not an error.
    pub(crate) fn discard(&self, path: &Path) -> io::Result<()> {
        let n = self.n_discarded.fetch_add(1, Ordering::Relaxed);
        let target = self.dir.join(format!("{}-{n}", self.started));
        match std::fs::rename(path, &target) {
            Ok(()) => {
                self.n_waiting.fetch_add(1, Ordering::Relaxed);
                self.wake.notify_one();
                Ok(())
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(_) => remove_all(path),
        }
    }

    /// Discards everything in `dir` but the entry named `keep`; a missing `dir` is empty.
    pub(crate) fn discard_all_but(&self, dir: &Path, keep: Option<&std::ffi::OsStr>) -> io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        for entry in entries {
            let entry = entry?;
            if keep != Some(entry.file_name().as_os_str()) {
                self.discard(&entry.path())?;
            }
        }
        Ok(())
    }

    /// Empties the trash now, then after each quiet moment that follows a discard (no
    /// discard for [`QUIET`]), or at once when [`MAX_WAITING`] folders wait; runs until
    /// dropped.
    pub(crate) async fn reap(self: std::sync::Arc<Self>) {
        loop {
            self.n_waiting.store(0, Ordering::Relaxed);
            let dir = self.dir.clone();
            let emptied = tokio::task::spawn_blocking(move || empty(&dir)).await;
            if let Ok(Err(error)) = emptied {
                tracing::warn!(%error, trash = %self.dir.display(), "could not empty the runner's trash");
            }
            self.wake.notified().await;
            while self.n_waiting.load(Ordering::Relaxed) < MAX_WAITING {
                if tokio::time::timeout(QUIET, self.wake.notified()).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Deletes everything in `dir`.
fn empty(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        remove_all(&entry?.path())?;
    }
    Ok(())
}

/// Deletes a folder or file; one that does not exist is not an error.
pub(crate) fn remove_all(path: &Path) -> io::Result<()> {
    let res = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
    match res {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn discarded_folders_leave_at_once_and_are_deleted_by_the_reaper() {
        let root = tempfile::tempdir().expect("temporary directory");
        let trash_dir = root.path().join("trash");
        std::fs::create_dir(&trash_dir).expect("trash folder");
        std::fs::write(trash_dir.join("left-by-an-earlier-runner"), "old").expect("old file");
        let trash = Arc::new(Trash::new(trash_dir.clone()));
        let reaper = tokio::spawn(trash.clone().reap());

        let job = root.path().join("jobs").join("7");
        std::fs::create_dir_all(job.join("workspace/src")).expect("job folder");
        std::fs::write(job.join("workspace/src/main.rs"), "fn main() {}").expect("a file");
        trash.discard(&job).expect("discarded");
        assert!(!job.exists(), "the job's folder is gone from where it was at once");
        trash.discard(&root.path().join("never-existed")).expect("a missing folder is no error");

        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while std::fs::read_dir(&trash_dir).expect("trash listing").next().is_some() {
            assert!(tokio::time::Instant::now() < deadline, "the reaper did not empty the trash");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        reaper.abort();
    }
}
