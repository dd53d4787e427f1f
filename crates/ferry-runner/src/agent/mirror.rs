//! The runner's copies of the repositories it builds: one bare mirror per repository under
//! `<work_dir>/repos/<sha256 of the URL>.git`, cloned the first time (`git clone --mirror`)
//! and fetched when a job wants a commit it lacks. Jobs then clone from the mirror, sharing
//! its objects, so a repository crosses the network once per new commit, not once per job.
//!
//! Fetches and clones of one mirror are serialized; a clone goes to a `.partial` folder that
//! is renamed when complete, so a runner stopped mid-clone leaves no broken mirror. A
//! repository that is a folder on this host (as the server reads one, too) is read in place:
//! a mirror of it would only add a fetch per new commit, ~20 ms of git on the way from a push
//! to its first step.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::trash::remove_all;
use crate::workspace::{WorkspaceError, git_checked, git_os};

/// The mirrors under one folder.
#[derive(Debug)]
pub(crate) struct Mirrors {
    root: PathBuf,
    /// One lock per mirror or commit checkout, made on first use and dropped once no one
    /// holds or waits for it ([`Mirrors::lock_of`]), so the map does not grow with every commit.
    locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    /// Spares checked out ahead of their commit's first job ([`Mirrors::prepare_ahead`]),
    /// oldest first, with the folder each was checked out of; whoever takes an entry out
    /// owns its folder (a job renames it into place, pruning removes it).
    ahead: Mutex<std::collections::VecDeque<(PathBuf, PathBuf)>>,
}

impl Mirrors {
    pub(crate) fn new(root: PathBuf) -> Mirrors {
        Mirrors { root, locks: Mutex::new(HashMap::new()), ahead: Mutex::default() }
    }

    /// The lock of a mirror or of a commit's checkout (by its path), made on first use.
    ///
    /// Locks only the map holds are dropped first: clones are made only here, under the map's
    /// lock, so one nobody else has cannot be taken meanwhile, and the next caller for its path
    /// simply gets a new one.
    fn lock_of(&self, path: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(path.to_path_buf()).or_default().clone()
    }

    /// Where commit `sha` of `repo` is kept checked out for its later jobs, and where the
    /// spare copy the next job takes is.
    fn checkout_paths(&self, repo: &str, sha: &str) -> (PathBuf, PathBuf) {
        let name = format!("{}-{sha}", mirror_name(repo));
        (self.root.with_file_name("checkouts").join(&name), self.root.with_file_name("spares").join(name))
    }

    /// Whether commit `sha` of `repo` is kept checked out here, so a workspace can be synced
    /// with it instead of copied.
    pub(crate) fn is_checked_out(&self, repo: &str, sha: &str) -> bool {
        self.checkout_paths(repo, sha).0.is_dir()
    }

    /// The mirror of `repo`, holding commit `sha` unless the repository lacks it (then
    /// checking it out reports the unknown commit); `repo` itself when it is a folder here,
    /// or `local` (another copy on this host) when it holds the commit. git fetches with
    /// `credential` (`TOKEN` or `USER:PASSWORD`) as an HTTP header, never in the URL, an
    /// argument or the mirror's config.
    ///
    /// # Errors
    /// git is missing, or cloning or fetching failed (git's message says why).
    pub(crate) async fn mirror_with(
        &self,
        repo: &str,
        sha: &str,
        local: Option<&Path>,
        credential: Option<&str>,
    ) -> Result<PathBuf, WorkspaceError> {
        if let Some(here) = on_this_host(repo) {
            return Ok(here.to_path_buf());
        }
        if let Some(local) = local
            && has_commit(local, sha).await.unwrap_or(false)
        {
            return Ok(local.to_path_buf());
        }
        // The credential reaches git as a header in its environment, for this URL only.
        let auth: Vec<(&str, String)> = credential
            .map(|credential| ferry_proto::runner::git_auth_env(repo, credential).to_vec())
            .unwrap_or_default();
        let path = self.root.join(format!("{}.git", mirror_name(repo)));
        let lock = self.lock_of(&path);
        let _guard = lock.lock().await;
        if !path.is_dir() {
            let partial = path.with_extension("git.partial");
            remove_all(&partial)?;
            let args = [
                OsStr::new("clone"),
                OsStr::new("--mirror"),
                OsStr::new("--quiet"),
                OsStr::new("--template="),
                OsStr::new("--"),
                OsStr::new(repo),
                partial.as_os_str(),
            ];
            git_checked(None, &args, &auth).await?;
            std::fs::rename(&partial, &path)?;
            tracing::info!(repo, mirror = %path.display(), "cloned a mirror of {repo}");
        } else if !has_commit(&path, sha).await? {
            git_checked(Some(&path), &["fetch", "--quiet", "--prune", "origin"].map(OsStr::new), &auth).await?;
            tracing::info!(repo, sha, "fetched {repo} for commit {sha}");
        }
        Ok(path)
    }
}

/// How many checkouts of one repository a runner keeps for later jobs of the same commit.
const CHECKOUTS_KEPT: usize = 4;

impl Mirrors {
    /// Makes `dest` a copy of the repository `repo` at commit `sha`: the first job of a commit
    /// checks it out from the mirror where it runs, and once it has started a checkout is
    /// kept (in `<work_dir>/checkouts/`) of which every later job gets an in-process copy,
    /// which costs far less than a checkout per job (the profile of 100 one-step jobs showed
    /// ~40 ms of git per job).
    ///
    /// A workspace that `dest` holds already (the slot's last job of the repository) is synced
    /// with the commit's kept checkout in place when there is one. Otherwise the copy is made
    /// ahead: after each job takes its copy, a spare one is made in the
    /// background (`<work_dir>/spares/`), and the next job of the commit only renames it into
    /// place. Copying even a tiny repository took 3 to 7 ms on ext4, on the path from a
    /// webhook to the first step.
    /// `local` names where a copy of the repository on this host may be found for the job
    /// (see [`super::LocalRepositories`]), asked only when the commit is not checked out yet.
    pub(crate) async fn workspace(
        &self,
        repo: &str,
        sha: &str,
        dest: &Path,
        local: Option<(&dyn super::LocalRepositories, i64)>,
        credential: Option<&str>,
    ) -> Result<(), WorkspaceError> {
        let (checkout, spare) = self.checkout_paths(repo, sha);
        let lock = self.lock_of(&checkout);
        let guard = lock.clone().lock_owned().await;
        // The slot's last job of this repository left its workspace here: synced back to the
        // commit's files in place (see `workspace::sync_workspace`), with no spare to replace.
        if checkout.is_dir() && std::fs::symlink_metadata(dest).is_ok_and(|meta| meta.is_dir()) {
            let (src, workspace) = (checkout.clone(), dest.to_path_buf());
            tokio::task::spawn_blocking(move || {
                crate::workspace::sync_workspace(&src, &workspace).or_else(|error| {
                    tracing::warn!(%error, "could not sync {} with its commit; copying it anew", workspace.display());
                    remove_all(&workspace)?;
                    crate::workspace::copy_workspace(&src, &workspace)
                })
            })
            .await
            .map_err(|error| WorkspaceError::Io(std::io::Error::other(error)))??;
            drop(guard);
            tracing::debug!(sha, workspace = %dest.display(), "synced {sha} in {}", dest.display());
            return Ok(());
        }
        // Otherwise it is made anew; what is there belongs to another commit.
        remove_all(dest)?;
        let ahead = {
            let mut ahead = self.ahead.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            ahead.iter().position(|(path, _)| *path == spare).and_then(|idx| ahead.remove(idx))
        };
        // The first job of a commit takes the copy checked out ahead of it, or checks it out
        // where it runs; the checkout kept for the jobs after it is made after it started
        // (copying one on its way cost 3 to 7 ms).
        let first = if let Some((_, source)) = ahead
            && std::fs::rename(&spare, dest).is_ok()
        {
            (!checkout.is_dir()).then_some(source)
        } else if checkout.is_dir() {
            if std::fs::rename(&spare, dest).is_err() {
                let (src, dest) = (checkout.clone(), dest.to_path_buf());
                tokio::task::spawn_blocking(move || crate::workspace::copy_workspace(&src, &dest))
                    .await
                    .map_err(|error| WorkspaceError::Io(std::io::Error::other(error)))??;
            }
            None
        } else {
            // Asked only when the repository is not a folder here, read in place anyway.
            let local = match local {
                Some((repositories, job_id)) if on_this_host(repo).is_none() => {
                    repositories.repository_of(job_id).await
                }
                _ => None,
            };
            let mirror = self.mirror_with(repo, sha, local.as_deref(), credential).await?;
            crate::workspace::prepare_workspace(&mirror, sha, dest).await?;
            Some(mirror)
        };
        drop(guard);
        tracing::debug!(sha, workspace = %dest.display(), "checked out {sha} in {}", dest.display());
        // Not at once: copying beside the job's first fork and exec slowed them down (the
        // process's memory map is shared). A job of this commit that comes in between copies
        // its own.
        let (sha, prefix) = (sha.to_owned(), mirror_name(repo));
        tokio::spawn(async move {
            tokio::time::sleep(SPARE_DELAY).await;
            let _guard = lock.lock_owned().await;
            if let Some(mirror) = first
                && !checkout.is_dir()
            {
                let kept = check_out_whole(&mirror, &sha, &checkout).await;
                if let Err(error) = kept {
                    tracing::warn!(%error, "could not keep a checkout of {sha} for the next jobs; they will check it out again");
                    return;
                }
                prune_checkouts(&checkout, &spare, &prefix);
            }
            let made = tokio::task::spawn_blocking(move || make_spare(&checkout, &spare)).await;
            if let Ok(Err(error)) = made {
                tracing::warn!(%error, "could not copy a checkout ahead for the next job; it will copy its own");
            }
        });
        Ok(())
    }
}

/// How many commits a runner keeps checked out ahead of their first job.
const AHEAD_KEPT: usize = 4;

impl Mirrors {
    /// Checks commit `sha` of `repo` out of `source` (a folder on this host holding it) as the
    /// spare its first job takes, unless it is checked out already: for a commit the server
    /// expects a job of soon, the checkout then happens while the server plans the job, not on
    /// the way to its first step. Failures are only logged: the job checks out its own.
    /// Spares made ahead that no job took are removed beyond the newest [`AHEAD_KEPT`].
    pub(crate) async fn prepare_ahead(&self, repo: &str, sha: &str, source: &Path) {
        let (checkout, spare) = self.checkout_paths(repo, sha);
        let lock = self.lock_of(&checkout);
        let guard = lock.lock().await;
        if checkout.is_dir() || spare.exists() {
            return;
        }
        if let Err(error) = check_out_whole(source, sha, &spare).await {
            tracing::warn!(%error, "could not check {sha} of {repo} out ahead of its first job; it will check out its own");
            return;
        }
        tracing::debug!(sha, repo, "checked {sha} out ahead of its first job");
        // Listed before the commit's lock is let go, so a job waiting for it finds the copy.
        let stale: Vec<(PathBuf, PathBuf)> = {
            let mut ahead = self.ahead.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            ahead.push_back((spare, source.to_path_buf()));
            let n_stale = ahead.len().saturating_sub(AHEAD_KEPT);
            ahead.drain(..n_stale).collect()
        };
        drop(guard);
        for (spare, _) in stale {
            if let Err(error) = remove_all(&spare) {
                tracing::warn!(%error, "could not remove {}", spare.display());
            }
        }
    }
}

/// Checks `sha` out of `mirror` into `dest` through a `.partial` folder, so a kept checkout
/// or a spare made ahead is always whole.
async fn check_out_whole(mirror: &Path, sha: &str, dest: &Path) -> Result<(), WorkspaceError> {
    let partial = dest.with_extension("partial");
    remove_all(&partial)?;
    if let Some(parent) = partial.parent() {
        std::fs::create_dir_all(parent)?;
    }
    crate::workspace::prepare_workspace(mirror, sha, &partial).await?;
    std::fs::rename(&partial, dest)?;
    Ok(())
}

/// How long after a job took its copy the next one is made.
const SPARE_DELAY: std::time::Duration = std::time::Duration::from_millis(20);

/// Copies `checkout` to `spare` through a `.partial` folder, so a spare is always whole.
fn make_spare(checkout: &Path, spare: &Path) -> std::io::Result<()> {
    if spare.exists() {
        return Ok(());
    }
    let partial = spare.with_extension("partial");
    remove_all(&partial)?;
    if let Some(parent) = spare.parent() {
        std::fs::create_dir_all(parent)?;
    }
    crate::workspace::copy_workspace(checkout, &partial)?;
    std::fs::rename(&partial, spare)
}

/// Removes the oldest checkouts of a repository (named from `prefix`) beyond
/// [`CHECKOUTS_KEPT`], never `keep`, and their spare copies, which are beside `keep`'s spare.
fn prune_checkouts(keep: &Path, keep_spare: &Path, prefix: &str) {
    let (Some(checkouts), Some(spares)) = (keep.parent(), keep_spare.parent()) else { return };
    let Ok(entries) = std::fs::read_dir(checkouts) else { return };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(prefix) && entry.path() != keep)
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    found.sort();
    let n_extra = (found.len() + 1).saturating_sub(CHECKOUTS_KEPT);
    for (_, path) in found.into_iter().take(n_extra) {
        if let Some(name) = path.file_name() {
            let _ = std::fs::remove_dir_all(spares.join(name));
        }
        let _ = std::fs::remove_dir_all(path);
    }
}

/// `repo` when it is a folder on this host (an absolute path), read in place.
fn on_this_host(repo: &str) -> Option<&Path> {
    let path = Path::new(repo);
    (path.is_absolute() && path.is_dir()).then_some(path)
}

/// The mirror's folder name: the SHA-256 of the repository's URL or path, in hex.
fn mirror_name(repo: &str) -> String {
    hex::encode(Sha256::digest(repo.as_bytes()))
}

async fn has_commit(mirror: &Path, sha: &str) -> Result<bool, WorkspaceError> {
    // Only a hexadecimal id is looked up, so it cannot be read as an option or a revision
    // expression; anything else is "missing" and fails at checkout with a clear message.
    if sha.is_empty() || !sha.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let spec = format!("{sha}^{{commit}}");
    let output = git_os(Some(mirror), &["cat-file", "-e", &spec].map(OsStr::new)).await?;
    Ok(output.status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_are_named_by_the_hash_of_their_url() {
        assert_eq!(mirror_name("https://example.com/a.git").len(), 64);
        assert_ne!(mirror_name("https://example.com/a.git"), mirror_name("https://example.com/b.git"));
        assert_eq!(mirror_name(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    /// A repository with one commit holding `file`; its path and the commit id.
    fn repository(root: &Path, file: &str) -> (PathBuf, String) {
        let repo = root.join("repo");
        std::fs::create_dir_all(&repo).expect("repository folder");
        std::fs::write(repo.join("file.txt"), file).expect("file");
        let git = |args: &[&str]| {
            let output = std::process::Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@localhost")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@localhost")
                .output()
                .expect("git runs");
            assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        };
        git(&["init", "--quiet", "--initial-branch=main"]);
        git(&["add", "-A"]);
        git(&["commit", "--quiet", "-m", "one"]);
        let sha = git(&["rev-parse", "HEAD"]);
        (repo, sha)
    }

    #[tokio::test]
    async fn the_next_job_of_a_commit_takes_a_spare_copy_made_ahead() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (repo, sha) = repository(root.path(), "pristine");
        let work_dir = root.path().join("work");
        let mirrors = Mirrors::new(work_dir.join("repos"));
        // A URL, so the runner keeps a mirror of it.
        let repo = format!("file://{}", repo.display());
        let spare = work_dir.join("spares").join(format!("{}-{sha}", mirror_name(&repo)));

        let first = root.path().join("job-1");
        mirrors.workspace(&repo, &sha, &first, None, None).await.expect("first workspace");
        assert_eq!(std::fs::read_to_string(first.join("file.txt")).expect("checked out"), "pristine");
        std::fs::write(first.join("file.txt"), "changed by the first job").expect("a job writes");
        // The spare is made in the background, a little later.
        let spare_inode = wait_for_spare(&spare).await;
        let second = root.path().join("job-2");
        mirrors.workspace(&repo, &sha, &second, None, None).await.expect("second workspace");
        assert_eq!(inode(&second), spare_inode, "the second job's workspace is the spare, renamed");
        assert_eq!(
            std::fs::read_to_string(second.join("file.txt")).expect("checked out"),
            "pristine",
            "a job's changes never reach the next job's copy"
        );
        assert!(second.join(".git").is_dir(), "the copy is a repository");

        // Another spare follows for the job after.
        assert_ne!(wait_for_spare(&spare).await, spare_inode);
        assert_eq!(std::fs::read_to_string(spare.join("file.txt")).expect("spare"), "pristine");
        let mirror = work_dir.join("repos").join(format!("{}.git", mirror_name(&repo)));
        assert!(mirror.join("HEAD").is_file(), "the URL's mirror");
    }

    #[tokio::test]
    async fn a_repository_on_this_host_or_a_local_copy_holding_the_commit_is_read_in_place_and_a_url_is_mirrored() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (repo, sha) = repository(root.path(), "here");
        let mirrors = Mirrors::new(root.path().join("work/repos"));
        let path = repo.display().to_string();
        assert_eq!(mirrors.mirror_with(&path, &sha, None, None).await.expect("in place"), repo);
        assert!(!root.path().join("work/repos").exists(), "no mirror made");
        let url = format!("file://{path}");
        // Another copy on this host that holds the commit is used as it is…
        assert_eq!(mirrors.mirror_with(&url, &sha, Some(&repo), None).await.expect("the local copy"), repo);
        assert!(!root.path().join("work/repos").exists(), "no mirror made");
        // …and one that does not is passed over.
        let (other, _) = repository(&root.path().join("other"), "elsewhere");
        let mirror = mirrors.mirror_with(&url, &sha, Some(&other), None).await.expect("mirrored");
        assert_eq!(mirror, root.path().join("work/repos").join(format!("{}.git", mirror_name(&url))));
        assert!(has_commit(&mirror, &sha).await.expect("git runs"));
    }

    #[tokio::test]
    async fn a_commit_checked_out_ahead_is_its_first_jobs_workspace_and_ones_no_job_took_are_pruned() {
        let root = tempfile::tempdir().expect("temporary directory");
        let (repo, sha) = repository(root.path(), "ahead");
        let mirrors = Mirrors::new(root.path().join("work/repos"));
        let name = repo.display().to_string();
        let (checkout, spare) = mirrors.checkout_paths(&name, &sha);
        mirrors.prepare_ahead(&name, &sha, &repo).await;
        assert_eq!(std::fs::read_to_string(spare.join("file.txt")).expect("checked out ahead"), "ahead");
        assert!(!checkout.exists(), "no kept checkout yet");
        let ahead_inode = inode(&spare);

        let first = root.path().join("job-1");
        mirrors.workspace(&name, &sha, &first, None, None).await.expect("first workspace");
        assert_eq!(inode(&first), ahead_inode, "the first job's workspace is the copy made ahead");
        // The kept checkout and a spare for the next job follow.
        assert_ne!(wait_for_spare(&spare).await, ahead_inode);
        assert!(checkout.join("file.txt").is_file(), "a checkout is kept");
        // A commit checked out already is not checked out ahead again.
        mirrors.prepare_ahead(&name, &sha, &repo).await;
        assert_eq!(mirrors.ahead.lock().expect("not poisoned").len(), 0);

        // Copies made ahead that no job took: the oldest beyond AHEAD_KEPT go.
        let others: Vec<(PathBuf, String)> =
            (0..=AHEAD_KEPT).map(|idx| repository(&root.path().join(format!("other-{idx}")), "other")).collect();
        for (other, other_sha) in &others {
            mirrors.prepare_ahead(&other.display().to_string(), other_sha, other).await;
        }
        let spares: Vec<PathBuf> = others
            .iter()
            .map(|(other, other_sha)| mirrors.checkout_paths(&other.display().to_string(), other_sha).1)
            .collect();
        assert!(!spares[0].exists(), "the oldest copy made ahead is removed");
        assert!(spares[1..].iter().all(|spare| spare.join("file.txt").is_file()), "the newest are kept");
        // Its commit's job checks out its own.
        let (oldest, oldest_sha) = &others[0];
        let late = root.path().join("job-late");
        mirrors.workspace(&oldest.display().to_string(), oldest_sha, &late, None, None).await.expect("late workspace");
        assert_eq!(std::fs::read_to_string(late.join("file.txt")).expect("checked out"), "other");
    }

    #[tokio::test]
    async fn issue_13_a_repository_credential_reaches_git_as_a_header_and_never_shows() {
        let (port, heads) = ferry_testkit::http_recorder(Some(ferry_testkit::NOT_FOUND));
        let root = tempfile::tempdir().expect("temporary directory");
        let mirrors = Mirrors::new(root.path().join("work/repos"));
        let url = format!("http://127.0.0.1:{port}/x.git");
        let sha = "0".repeat(40);
        let error = mirrors.mirror_with(&url, &sha, None, Some("s3cr3t\n")).await.expect_err("nothing to clone");
        let head = heads.recv_timeout(std::time::Duration::from_secs(30)).expect("git asked the remote");
        assert!(head.starts_with("GET /x.git/info/refs"), "{head}");
        // base64("x-access-token:s3cr3t")
        assert!(head.contains("Authorization: Basic eC1hY2Nlc3MtdG9rZW46czNjcjN0"), "{head}");
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
        assert!(!head.contains("s3cr3t"), "never in the URL: {head}");
    }

    #[tokio::test]
    async fn locks_of_commits_no_job_holds_any_more_are_dropped() {
        let mirrors = Mirrors::new(PathBuf::from("/nonexistent/repos"));
        let held = mirrors.lock_of(Path::new("/a"));
        let guard = held.lock().await;
        for idx in 0..100 {
            drop(mirrors.lock_of(Path::new(&format!("/commit-{idx}"))));
        }
        let paths: Vec<PathBuf> = {
            let locks = mirrors.locks.lock().expect("not poisoned");
            let mut paths: Vec<PathBuf> = locks.keys().cloned().collect();
            paths.sort();
            paths
        };
        assert_eq!(paths, [PathBuf::from("/a"), PathBuf::from("/commit-99")], "only a held lock and the newest stay");
        // The held lock is still the one handed out for its path.
        assert!(Arc::ptr_eq(&held, &mirrors.lock_of(Path::new("/a"))));
        drop(guard);
    }

    fn inode(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path).expect("metadata").ino()
    }

    /// The spare's inode once the background copy has made it.
    async fn wait_for_spare(spare: &Path) -> u64 {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !spare.join("file.txt").is_file() {
            assert!(std::time::Instant::now() < deadline, "no spare was made");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        inode(spare)
    }
}
