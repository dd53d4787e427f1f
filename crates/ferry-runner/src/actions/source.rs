//! An actions source and the store of what was fetched from it.
//!
//! The source is a base URL (`https://github.com`, any git host laid out as
//! `<base>/<owner>/<repo>`) or a folder on this host holding `owner/repo` git repositories
//! (bare or not, with or without a `.git` suffix; `file:///dir` names one too). The store is a
//! folder that keeps one checkout per commit, `<store>/<owner>/<repo>/<sha>/` (a shallow git
//! repository with that commit checked out), shared by every job of this process and of
//! other processes using the same store: it is made in a `.partial-*` folder and renamed into
//! place, so a checkout is whole or absent, and one process fetches a commit once (a lock
//! per checkout).
//!
//! A tag or branch is resolved (`git ls-remote`) once per [`ActionsSource`] (one per run, see
//! [`ActionsSource::for_run`]); a full commit id is used as it is. A kept checkout is verified
//! before each reuse: its `HEAD` must still be the commit and `git status` must find no file
//! changed, added or removed (ignored files included); a checkout that fails is fetched again.
//!
//! git runs with a cleared environment (`PATH`, proxies and CA settings only; no global or
//! system git configuration, so no credential helper either), no terminal prompt, and a
//! timeout; credentials in the source's URL never appear in a message.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{ActionRef, ActionsError, is_full_sha};

/// Where actions come from and where their checkouts are kept. Cheap to clone; clones share
/// the resolved refs (see [`ActionsSource::for_run`] for a fresh set).
#[derive(Debug, Clone)]
pub struct ActionsSource {
    shared: Arc<Shared>,
    /// `(owner, repo, ref)` (lower-cased names) → the commit and the full ref name it was
    /// resolved through, for this run.
    resolved: Arc<tokio::sync::Mutex<HashMap<ResolvedKey, (String, String)>>>,
}

/// A ref of a repository: `(owner, repo, ref)`, the names lower-cased.
type ResolvedKey = (String, String, String);

#[derive(Debug)]
struct Shared {
    base: Base,
    store: PathBuf,
    /// One lock per checkout folder, made on first use and dropped once nobody holds it.
    locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    /// Downloads made by this process, also naming `.partial` folders apart.
    n_downloads: AtomicU64,
    timeout: Duration,
}

#[derive(Debug, Clone)]
enum Base {
    /// Without a trailing `/`.
    Url(String),
    Dir(PathBuf),
}

/// A commit of an action's repository, checked out in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedRepo {
    /// The full commit id.
    pub sha: String,
    /// The checkout (the repository's root); never modified while it is in use, by contract:
    /// a checkout found modified is replaced on its next fetch.
    pub dir: PathBuf,
    /// Whether this call downloaded it (`false`: a kept checkout was reused).
    pub downloaded: bool,
}

/// How long one git command may take.
const GIT_TIMEOUT: Duration = Duration::from_secs(600);

/// The default actions source.
pub const DEFAULT_ACTIONS_URL: &str = "https://github.com";

impl ActionsSource {
    /// An actions source at `base` (a URL with `https`, `http`, `ssh` or `git` scheme, a
    /// `file://` URL or a folder path) whose checkouts are kept in `store` (made when needed).
    ///
    /// # Errors
    /// [`ActionsError::BadSource`] for another scheme, a relative `file://` path or a folder
    /// that does not exist.
    pub fn new(base: &str, store: PathBuf) -> Result<ActionsSource, ActionsError> {
        let bad = |reason: &str| ActionsError::BadSource { base: redact(base), reason: reason.to_owned() };
        let base = if let Some(path) = base.strip_prefix("file://") {
            let path = Path::new(path);
            if !path.is_absolute() {
                return Err(bad("a file:// URL needs an absolute path (file:///srv/actions)"));
            }
            Base::Dir(path.to_path_buf())
        } else if let Some((scheme, _)) = base.split_once("://") {
            if !matches!(scheme, "https" | "http" | "ssh" | "git") {
                return Err(bad("use an https://, http://, ssh://, git:// or file:// URL, or a folder path"));
            }
            Base::Url(base.trim_end_matches('/').to_owned())
        } else {
            Base::Dir(std::path::absolute(base).map_err(|error| bad(&error.to_string()))?)
        };
        if let Base::Dir(dir) = &base
            && !dir.is_dir()
        {
            return Err(bad("no such folder (it should hold owner/repo git repositories)"));
        }
        Ok(ActionsSource {
            shared: Arc::new(Shared {
                base,
                store,
                locks: Mutex::default(),
                n_downloads: AtomicU64::new(0),
                timeout: GIT_TIMEOUT,
            }),
            resolved: Arc::default(),
        })
    }

    /// The same source and store with no ref resolved yet: what a new run (or, on a runner,
    /// a new job, as GitHub's runner resolves per job) starts from.
    pub fn for_run(&self) -> ActionsSource {
        ActionsSource { shared: self.shared.clone(), resolved: Arc::default() }
    }

    /// The store folder.
    pub fn store(&self) -> &Path {
        &self.shared.store
    }

    /// The source as messages show it (without credentials).
    pub fn display_name(&self) -> String {
        match &self.shared.base {
            Base::Url(url) => redact(url),
            Base::Dir(dir) => dir.display().to_string(),
        }
    }

    /// How many downloads this source (and its clones and [`ActionsSource::for_run`]s) made.
    pub fn n_downloads(&self) -> u64 {
        self.shared.n_downloads.load(Ordering::SeqCst)
    }

    /// Makes sure commit `git_ref` (a tag or branch, resolved once per run, or a full commit
    /// id) of `owner/repo` is checked out in the store and returns where.
    ///
    /// # Errors
    /// A bad name, a repository or ref the source lacks, git missing, failing or too slow,
    /// or the store not writable.
    pub async fn fetch(&self, owner: &str, repo: &str, git_ref: &str) -> Result<FetchedRepo, ActionsError> {
        let reference = format!("{owner}/{repo}@{git_ref}");
        if ActionRef::parse(&reference).is_none_or(|parsed| !parsed.path.is_empty()) {
            return Err(ActionsError::BadReference(reference));
        }
        // Fetching a tag or branch by its name works with every git server; fetching a
        // commit by its id needs the server's consent (GitHub gives it).
        let (sha, fetched_ref) = if is_full_sha(git_ref) {
            (git_ref.to_ascii_lowercase(), git_ref.to_ascii_lowercase())
        } else {
            let key = (owner.to_ascii_lowercase(), repo.to_ascii_lowercase(), git_ref.to_owned());
            let mut resolved = self.resolved.lock().await;
            match resolved.get(&key) {
                Some(found) => found.clone(),
                None => {
                    let found = self.resolve(&self.repo_url(owner, repo)?, owner, repo, git_ref).await?;
                    resolved.insert(key, found.clone());
                    found
                }
            }
        };
        let dir = self.shared.store.join(owner.to_ascii_lowercase()).join(repo.to_ascii_lowercase()).join(&sha);
        let lock = self.lock_of(&dir);
        let _guard = lock.lock().await;
        if dir.exists() {
            match self.verify(&dir, &sha).await {
                Ok(None) => return Ok(FetchedRepo { sha, dir, downloaded: false }),
                Ok(Some(problem)) => {
                    tracing::warn!(checkout = %dir.display(), "the kept checkout of {reference} ({sha}) {problem}; fetching it again");
                }
                Err(error) => {
                    tracing::warn!(checkout = %dir.display(), %error, "could not verify the kept checkout of {reference}; fetching it again");
                }
            }
            remove_dir(&dir).map_err(|source| ActionsError::Store { path: dir.clone(), source })?;
        }
        self.download(&self.repo_url(owner, repo)?, &fetched_ref, &sha, &dir, (owner, repo, git_ref)).await?;
        Ok(FetchedRepo { sha, dir, downloaded: true })
    }

    /// Whether the kept checkout at `dir` still is commit `sha` unchanged: `None` when it is,
    /// else what is wrong.
    async fn verify(&self, dir: &Path, sha: &str) -> Result<Option<String>, ActionsError> {
        let head = self.git(Some(dir), &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], "verify").await?;
        let head_sha = String::from_utf8_lossy(&head.stdout).trim().to_owned();
        if !head.status.success() || !head_sha.eq_ignore_ascii_case(sha) {
            return Ok(Some(format!("is at commit `{head_sha}`, not {sha}")));
        }
        let args = ["--no-optional-locks", "status", "--porcelain", "--untracked-files=all", "--ignored"];
        let status = self.git(Some(dir), &args, "verify").await?;
        if !status.status.success() {
            return Ok(Some(format!("cannot be read by git: {}", String::from_utf8_lossy(&status.stderr).trim())));
        }
        let changes = String::from_utf8_lossy(&status.stdout);
        if let Some(first) = changes.lines().next() {
            let n_changes = changes.lines().count();
            return Ok(Some(format!("was modified ({n_changes} changed files, first `{}`)", first.trim())));
        }
        Ok(None)
    }

    /// The commit `git_ref` names in the repository at `url` and the full name of the ref
    /// found: a tag's (an annotated one's commit), else a branch's (as `git rev-parse`
    /// prefers tags); `refs/...` names one ref.
    async fn resolve(
        &self,
        url: &str,
        owner: &str,
        repo: &str,
        git_ref: &str,
    ) -> Result<(String, String), ActionsError> {
        let candidates = ref_candidates(git_ref);
        let mut args = vec!["ls-remote", "--", url];
        args.extend(candidates.iter().map(String::as_str));
        let output = self.git(None, &args, "ls-remote").await?;
        if !output.status.success() {
            return Err(self.fetch_error(owner, repo, git_ref, url, &output));
        }
        let listing = String::from_utf8_lossy(&output.stdout);
        let refs: HashMap<&str, &str> =
            listing.lines().filter_map(|line| line.split_once('\t')).map(|(sha, name)| (name.trim(), sha)).collect();
        let found = candidates.iter().find_map(|name| {
            let sha = refs.get(name.as_str()).filter(|sha| is_full_sha(sha))?;
            Some((sha.to_ascii_lowercase(), name.trim_end_matches("^{}").to_owned()))
        });
        found.ok_or_else(|| ActionsError::UnknownRef {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            git_ref: git_ref.to_owned(),
            source_name: self.display_name(),
        })
    }

    /// Fetches `fetched_ref` (a full ref name or a commit id) of `url` into a new checkout
    /// at `dir`, which must be commit `sha`.
    async fn download(
        &self,
        url: &str,
        fetched_ref: &str,
        sha: &str,
        dir: &Path,
        (owner, repo, git_ref): (&str, &str, &str),
    ) -> Result<(), ActionsError> {
        let store_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ActionsError::Store { path, source }
        };
        let parent = dir.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent).map_err(store_error(parent))?;
        let n_download = self.shared.n_downloads.fetch_add(1, Ordering::SeqCst);
        let partial = parent.join(format!("{sha}.partial-{}-{n_download}", std::process::id()));
        remove_dir(&partial).map_err(store_error(&partial))?;
        let partial_text = partial.display().to_string();
        let fail = |output: &std::process::Output| self.fetch_error(owner, repo, git_ref, url, output);
        let init = self.git(None, &["init", "--quiet", "--template=", "--", &partial_text], "init").await?;
        if !init.status.success() {
            return Err(fail(&init));
        }
        let fetch_args = ["fetch", "--quiet", "--depth=1", "--no-tags", "--", url, fetched_ref];
        let checkout_args = ["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", sha];
        let res = async {
            let output = self.git(Some(&partial), &fetch_args, "fetch").await?;
            if !output.status.success() {
                return Err(fail(&output));
            }
            // A branch that moved between resolving and fetching lacks the commit resolved:
            // the checkout fails and the run should simply start again.
            let output = self.git(Some(&partial), &checkout_args, "checkout").await?;
            if !output.status.success() {
                return Err(fail(&output));
            }
            Ok(())
        }
        .await;
        if let Err(error) = res {
            let _ = remove_dir(&partial);
            return Err(error);
        }
        if let Err(error) = std::fs::rename(&partial, dir) {
            let _ = remove_dir(&partial);
            // Another process made it meanwhile: theirs is as good.
            if !dir.is_dir() {
                return Err(ActionsError::Store { path: dir.to_path_buf(), source: error });
            }
        }
        tracing::info!(owner, repo, git_ref, sha, "fetched {owner}/{repo}@{git_ref} ({sha})");
        Ok(())
    }

    fn fetch_error(
        &self,
        owner: &str,
        repo: &str,
        git_ref: &str,
        url: &str,
        output: &std::process::Output,
    ) -> ActionsError {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = stderr.trim().replace(url, &redact(url));
        let message = if message.is_empty() { format!("git exited with {}", output.status) } else { message };
        ActionsError::Fetch {
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            git_ref: git_ref.to_owned(),
            source_name: self.display_name(),
            message,
        }
    }

    /// Where git reads `owner/repo` from.
    fn repo_url(&self, owner: &str, repo: &str) -> Result<String, ActionsError> {
        match &self.shared.base {
            Base::Url(base) => Ok(format!("{base}/{owner}/{repo}")),
            // Names on GitHub are case-insensitive: `Octo/Tool` finds `octo/tool`.
            Base::Dir(dir) => entry_named(dir, &[owner.to_owned()])
                .and_then(|owner_dir| entry_named(&owner_dir, &[repo.to_owned(), format!("{repo}.git")]))
                .map(|path| path.display().to_string())
                .ok_or_else(|| ActionsError::RepositoryNotFound {
                    owner: owner.to_owned(),
                    repo: repo.to_owned(),
                    source_name: self.display_name(),
                }),
        }
    }

    fn lock_of(&self, path: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.shared.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks.entry(path.to_path_buf()).or_default().clone()
    }

    /// Runs git with a cleared environment and this source's timeout.
    async fn git(&self, dir: Option<&Path>, args: &[&str], what: &str) -> Result<std::process::Output, ActionsError> {
        let mut command = tokio::process::Command::new("git");
        command.env_clear();
        for (name, value) in std::env::vars_os() {
            if GIT_HOST_VARIABLES.iter().chain(crate::isolation::NETWORK_VARIABLES).any(|kept| OsStr::new(kept) == name)
            {
                command.env(name, value);
            }
        }
        command
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(dir) = dir {
            command.arg("-C").arg(dir);
        }
        command.args(args);
        match tokio::time::timeout(self.shared.timeout, command.output()).await {
            Err(_) => {
                Err(ActionsError::Timeout { what: format!("git {what}"), seconds: self.shared.timeout.as_secs() })
            }
            Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => Err(ActionsError::GitMissing),
            Ok(Err(error)) => Err(ActionsError::Fetch {
                owner: String::new(),
                repo: String::new(),
                git_ref: String::new(),
                source_name: self.display_name(),
                message: format!("running git: {error}"),
            }),
            Ok(Ok(output)) => Ok(output),
        }
    }
}

/// The host variables git keeps besides [`crate::isolation::NETWORK_VARIABLES`]: how to find
/// programs, and git's own certificate setting.
const GIT_HOST_VARIABLES: &[&str] = &["PATH", "HOME", "GIT_SSL_CAINFO"];

/// The full ref names `git_ref` may stand for, in order of preference.
fn ref_candidates(git_ref: &str) -> Vec<String> {
    if git_ref.starts_with("refs/") {
        return vec![format!("{git_ref}^{{}}"), git_ref.to_owned()];
    }
    vec![format!("refs/tags/{git_ref}^{{}}"), format!("refs/tags/{git_ref}"), format!("refs/heads/{git_ref}")]
}

/// The folder in `dir` named one of `names` (in order), else one named so but for case.
fn entry_named(dir: &Path, names: &[String]) -> Option<PathBuf> {
    if let Some(found) = names.iter().map(|name| dir.join(name)).find(|path| path.is_dir()) {
        return Some(found);
    }
    std::fs::read_dir(dir).ok()?.filter_map(Result::ok).map(|entry| entry.path()).find(|path| {
        path.is_dir()
            && path
                .file_name()
                .and_then(OsStr::to_str)
                .is_some_and(|file_name| names.iter().any(|name| name.eq_ignore_ascii_case(file_name)))
    })
}

/// `url` without the user and password it may hold.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

fn remove_dir(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
