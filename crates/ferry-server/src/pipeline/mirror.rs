//! A project's repository as the server sees it: a bare mirror in
//! `<data_dir>/repos/<project id>.git`, fetched before a trigger is planned, from which the
//! workflow files at a commit are read; a repository that is a folder on this host is read in
//! place. git runs with argument vectors only, never through a
//! shell, and with `LC_ALL=C`; a ref or commit never starts with `-`, so it cannot be read as
//! an option. Every git command has a timeout (the server's `git_timeout`), after which it is
//! killed with every process it started (its process group), so a remote that never answers
//! fails a trigger instead of holding it. The repository's credential (`FERRY_REPO_TOKEN`,
//! or one an old project kept in its URL) reaches git only through its environment
//! (`repo_url.rs`), and every error and message of git is shown with credentials redacted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use ferry_store::Project;
use tokio::process::Command;
use tracing::warn;

use crate::AppState;
use crate::repo_url::{self, TOKEN_SECRET};

/// Why the repository could not be read; the message says what to check. Arguments and
/// git's messages are kept with every URL's credential redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MirrorError {
    #[error("`git {args}` failed: {stderr}")]
    Git { args: String, stderr: String },
    #[error(
        "`git {args}` did not finish in {} s and was stopped; check that the repository is reachable from the server (the limit is the server's git timeout)",
        after.as_secs()
    )]
    Timeout { args: String, after: Duration },
    #[error("running git: {0} (is git installed?)")]
    Spawn(String),
    #[error("`{0}` is not a branch, tag or commit of the repository")]
    UnknownRef(String),
    #[error("reading the project's {TOKEN_SECRET} secret: {0}")]
    Credential(String),
}

/// A commit as planning reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Commit {
    /// The full commit id.
    pub(crate) sha: String,
    /// The subject line of its message.
    pub(crate) title: String,
    pub(crate) author: String,
    /// The workflow files in it, as (path, text), by path.
    pub(crate) files: Vec<(String, String)>,
    /// The workflow files of `files` that could not be read as text, as (path, why, with the
    /// position: `path:line:col: …`); their text in `files` is what could be read (invalid
    /// UTF-8 replaced), or empty for a file over [`MAX_WORKFLOW_BYTES`], which is not read.
    pub(crate) unreadable: Vec<(String, String)>,
}

/// The largest workflow file read; a larger one gets a failed run saying so, and is not read
/// into memory (the largest workflows seen are tens of KiB).
pub(crate) const MAX_WORKFLOW_BYTES: usize = 1 << 20;

/// The mirror of one project's repository.
#[derive(Debug, Clone)]
pub(crate) struct Mirror {
    dir: PathBuf,
    /// Without a credential.
    url: String,
    credential: Option<Credential>,
    /// How long each git command may take.
    timeout: Duration,
}

/// A repository credential, `TOKEN` or `USER:PASSWORD`; never printed.
#[derive(Clone)]
struct Credential(String);

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(***)")
    }
}

/// The project's `FERRY_REPO_TOKEN` secret, decrypted and trimmed, if it has one.
async fn repo_token(state: &AppState, project: &Project) -> Result<Option<String>, MirrorError> {
    let secret = state
        .store
        .secrets()
        .get(project.id, TOKEN_SECRET)
        .await
        .map_err(|error| MirrorError::Credential(error.to_string()))?;
    let Some(secret) = secret else { return Ok(None) };
    let Some(value) = state.secret_box.open(project.id, &secret.name, &secret.ciphertext, &secret.nonce) else {
        warn!(project = %project.name, "{TOKEN_SECRET} of {} does not decrypt under secret.key", project.name);
        return Err(MirrorError::Credential(
            "it does not decrypt under the server's secret.key; set it again".to_owned(),
        ));
    };
    Ok(Some(String::from_utf8_lossy(&value).trim().to_owned()))
}

/// Where a runner fetches `project`'s repository from, never with a credential in it, and
/// the credential it fetches with: the project's `FERRY_REPO_TOKEN` secret, else one an old
/// project kept in its URL.
///
/// # Errors
/// The secret could not be read or does not decrypt.
pub(crate) async fn runner_repo(state: &AppState, project: &Project) -> Result<(String, Option<String>), MirrorError> {
    let (url, in_url) = repo_url::split_credential(&project.repo);
    let credential = repo_token(state, project).await?.or(in_url);
    Ok((url, credential))
}

/// One lock per mirror folder, so syncs of a mirror (a webhook and a poll) never overlap.
static MIRROR_LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = LazyLock::new(Mutex::default);

/// The folders whose `*.yml`/`*.yaml` files are workflows.
pub(crate) const WORKFLOW_DIRS: [&str; 2] = [".github/workflows", ".ferry/workflows"];

impl Mirror {
    /// The mirror of the repository at `url`; a credential in the URL (a project stored before
    /// they were refused) is taken out of it and given to git as `FERRY_REPO_TOKEN` would be.
    pub(crate) fn new(data_dir: &Path, project_id: i64, url: &str) -> Mirror {
        let timeout = crate::DEFAULT_GIT_TIMEOUT;
        // A repository on this host is read where it is: a mirror would only add a fetch
        // (about 20 ms of git per trigger) to reach the same objects.
        let local = Path::new(url);
        if local.is_absolute() && local.is_dir() {
            return Mirror { dir: local.to_path_buf(), url: String::new(), credential: None, timeout };
        }
        let (url, credential) = repo_url::split_credential(url);
        let dir = data_dir.join("repos").join(format!("{project_id}.git"));
        Mirror { dir, url, credential: credential.map(Credential), timeout }
    }

    /// The mirror of `project`'s repository, with the server's git timeout and the project's
    /// `FERRY_REPO_TOKEN` secret as the credential, when it has one.
    pub(crate) async fn for_project(state: &AppState, project: &Project) -> Result<Mirror, MirrorError> {
        let mut mirror = Mirror::new(&state.data_dir, project.id, &project.repo);
        mirror.timeout = state.pipeline.git_timeout;
        if let Some(secret) = repo_token(state, project).await? {
            mirror.credential = Some(Credential(secret));
        }
        Ok(mirror)
    }

    /// Where the repository is read: the mirror's folder, or the repository's own.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Clones the repository the first time, then fetches every branch and tag. Syncs of one
    /// mirror take turns; a clone is made beside the mirror and renamed into place, so one
    /// that fails halfway leaves nothing behind.
    pub(crate) async fn sync(&self) -> Result<(), MirrorError> {
        if self.url.is_empty() {
            // A local repository, read in place.
            return Ok(());
        }
        let lock = {
            let mut locks = MIRROR_LOCKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            locks.entry(self.dir.clone()).or_default().clone()
        };
        let _turn = lock.lock().await;
        if self.dir.join("HEAD").is_file() {
            // The URL may have changed since the clone (reading the config is cheaper than git).
            let config = std::fs::read_to_string(self.dir.join("config")).unwrap_or_default();
            if !config.lines().any(|line| line.trim().strip_prefix("url = ") == Some(self.url.as_str())) {
                self.git(&self.dir, &["remote", "set-url", "origin", &self.url]).await?;
            }
            self.git(&self.dir, &["fetch", "--prune", "--quiet", "origin"]).await?;
            return Ok(());
        }
        let parent = self.dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .map_err(|error| MirrorError::Spawn(format!("creating {}: {error}", parent.display())))?;
        let partial = self.dir.with_extension("git.partial");
        // Left by a clone that was cut short (the server was killed).
        let _ = std::fs::remove_dir_all(&partial);
        let dest = partial.display().to_string();
        let res = self.git(parent, &["clone", "--mirror", "--quiet", "--", &self.url, &dest]).await;
        if let Err(error) = res {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(error);
        }
        std::fs::rename(&partial, &self.dir)
            .map_err(|error| MirrorError::Spawn(format!("moving the clone to {}: {error}", self.dir.display())))?;
        Ok(())
    }

    /// The full commit id `name` (a branch, tag, full ref or commit id) points at.
    pub(crate) async fn resolve(&self, name: &str) -> Result<String, MirrorError> {
        if name.is_empty() || name.starts_with('-') {
            return Err(MirrorError::UnknownRef(name.to_owned()));
        }
        let spec = format!("{name}^{{commit}}");
        match self.git(&self.dir, &["rev-parse", "--verify", "--quiet", &spec]).await {
            Ok(sha) => Ok(sha.trim().to_owned()),
            Err(error @ MirrorError::Timeout { .. }) => Err(error),
            Err(_) => Err(MirrorError::UnknownRef(name.to_owned())),
        }
    }

    /// The commit `rev` (a full ref or commit id) names: its id, subject, author and every
    /// workflow file in it as (path, text), by path. One git process, however many files: a
    /// `cat-file --batch` is asked for the commit, then the workflow folders' trees, then the
    /// files in them (a second process for the listing cost ~2 ms of every trigger). For a
    /// commit id, the process is kept for the repository's next read ([`CatFile::keep`]).
    pub(crate) async fn read_commit(&self, rev: &str) -> Result<Commit, MirrorError> {
        if rev.is_empty() || rev.starts_with('-') || rev.contains('\n') {
            return Err(MirrorError::UnknownRef(rev.to_owned()));
        }
        // Only a read by object id is answered by a kept process: its answer depends on the
        // objects alone, which a running `cat-file` finds even when fetched after it started.
        let by_id = rev.len() >= 40 && rev.bytes().all(|byte| byte.is_ascii_hexdigit());
        if by_id && let Some(mut batch) = CatFile::take_kept(&self.dir) {
            match self.read_commit_within(&mut batch, rev).await {
                // The kept process died (or its repository went away): a new one is asked.
                Err(MirrorError::Git { .. }) => {}
                // Dropped: it is killed.
                res @ Err(MirrorError::Timeout { .. }) => return res,
                res => {
                    batch.keep(&self.dir);
                    return res;
                }
            }
        }
        let mut batch = CatFile::start(&self.dir)?;
        let res = self.read_commit_within(&mut batch, rev).await;
        if matches!(res, Err(MirrorError::Timeout { .. })) {
            return res;
        }
        if by_id && !matches!(res, Err(MirrorError::Git { .. })) {
            batch.keep(&self.dir);
        } else {
            // Not awaited: the answer is read, the process's exit is no one's business.
            tokio::spawn(batch.finish());
        }
        res
    }

    /// The files a push changed between `before` and `after` (for `paths:` filters); `None`
    /// when `before` is unknown (a new branch), so path filters let the push through.
    pub(crate) async fn changed_paths(&self, before: &str, after: &str) -> Option<Vec<String>> {
        if before.is_empty() || before.starts_with('-') || before.bytes().all(|byte| byte == b'0') {
            return None;
        }
        let text = self.git(&self.dir, &["diff", "--name-only", before, after, "--"]).await.ok()?;
        Some(text.lines().map(str::to_owned).collect())
    }

    /// The text of file `path` at commit `sha` (a full id), or `None` when the commit has no
    /// such file; over [`MAX_WORKFLOW_BYTES`] is refused as a git error saying so.
    pub(crate) async fn read_file(&self, sha: &str, path: &str) -> Result<Option<String>, MirrorError> {
        if sha.is_empty() || sha.starts_with('-') || path.starts_with('-') {
            return Err(MirrorError::UnknownRef(sha.to_owned()));
        }
        let spec = format!("{sha}:{path}");
        let size = match self.git(&self.dir, &["cat-file", "-s", &spec]).await {
            Ok(size) => size.trim().parse::<usize>().unwrap_or(usize::MAX),
            Err(error @ MirrorError::Timeout { .. }) => return Err(error),
            Err(_) => return Ok(None),
        };
        if size > MAX_WORKFLOW_BYTES {
            return Err(MirrorError::Git {
                args: format!("cat-file blob {spec}"),
                stderr: format!("{path} is {size} bytes, over the {MAX_WORKFLOW_BYTES} bytes read"),
            });
        }
        self.git(&self.dir, &["cat-file", "blob", &spec]).await.map(Some)
    }

    /// The names of the entries of folder `dir` at commit `sha`; none when it has no such folder.
    pub(crate) async fn list_dir(&self, sha: &str, dir: &str) -> Result<Vec<String>, MirrorError> {
        if sha.is_empty() || sha.starts_with('-') || dir.starts_with('-') {
            return Err(MirrorError::UnknownRef(sha.to_owned()));
        }
        let spec = format!("{sha}:{dir}");
        match self.git(&self.dir, &["ls-tree", "--name-only", &spec]).await {
            Ok(text) => Ok(text.lines().map(str::to_owned).collect()),
            Err(error @ MirrorError::Timeout { .. }) => Err(error),
            Err(_) => Ok(Vec::new()),
        }
    }

    /// The commits reachable from `sha` and not from `since` (all of them without it), newest
    /// first, at most `max`: (id, subject, author's name, author date in seconds).
    pub(crate) async fn log(
        &self,
        since: Option<&str>,
        sha: &str,
        max: usize,
    ) -> Result<Vec<(String, String, String, i64)>, MirrorError> {
        if sha.starts_with('-') || since.is_some_and(|since| since.starts_with('-')) {
            return Err(MirrorError::UnknownRef(sha.to_owned()));
        }
        let max = format!("--max-count={max}");
        let exclude = since.map(|since| format!("^{since}"));
        let mut args = vec!["log", "--format=%H%x00%s%x00%an%x00%at", max.as_str(), sha];
        args.extend(exclude.as_deref());
        args.push("--");
        let text = self.git(&self.dir, &args).await?;
        Ok(text
            .lines()
            .filter_map(|line| {
                let mut parts = line.split('\0');
                let sha = parts.next()?.to_owned();
                let subject = parts.next()?.to_owned();
                let author = parts.next()?.to_owned();
                let at = parts.next()?.trim().parse().unwrap_or(0);
                Some((sha, subject, author, at))
            })
            .collect())
    }

    /// The commits reachable from `sha` and not from `since` (all of them without it), newest
    /// first, at most `max`: (id, committer date in seconds), as DORA's lead time counts them.
    pub(crate) async fn commit_times(
        &self,
        since: Option<&str>,
        sha: &str,
        max: usize,
    ) -> Result<Vec<(String, i64)>, MirrorError> {
        if sha.starts_with('-') || since.is_some_and(|since| since.starts_with('-')) {
            return Err(MirrorError::UnknownRef(sha.to_owned()));
        }
        let max = format!("--max-count={max}");
        let exclude = since.map(|since| format!("^{since}"));
        let mut args = vec!["log", "--format=%H %ct", max.as_str(), sha];
        args.extend(exclude.as_deref());
        args.push("--");
        let text = self.git(&self.dir, &args).await?;
        Ok(text
            .lines()
            .filter_map(|line| {
                let (sha, at) = line.split_once(' ')?;
                Some((sha.to_owned(), at.trim().parse().ok()?))
            })
            .collect())
    }

    /// [`read_commit_with`], stopped after the timeout.
    async fn read_commit_within(&self, batch: &mut CatFile, rev: &str) -> Result<Commit, MirrorError> {
        tokio::time::timeout(self.timeout, read_commit_with(batch, rev))
            .await
            .unwrap_or_else(|_| Err(MirrorError::Timeout { args: "cat-file --batch".to_owned(), after: self.timeout }))
    }

    /// Runs git in `dir` with `args` (and the credential, if any, in its environment) in a
    /// process group of its own; its standard output. Killed with its group after the timeout.
    async fn git(&self, dir: &Path, args: &[&str]) -> Result<String, MirrorError> {
        let shown_args = || repo_url::redact_text(&args.join(" ")).into_owned();
        let mut command = Command::new(git_program());
        command
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(credential) = &self.credential {
            command.envs(ferry_proto::runner::git_auth_env(&self.url, &credential.0));
        }
        let child = command.spawn().map_err(|error| MirrorError::Spawn(error.to_string()))?;
        let pid = child.id().and_then(|pid| rustix::process::Pid::from_raw(pid.cast_signed()));
        let Ok(out) = tokio::time::timeout(self.timeout, child.wait_with_output()).await else {
            // git's helpers (`git-remote-https`, `ssh`) are in its group and would live on.
            if let Some(pid) = pid {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            warn!(args = %shown_args(), "git {} timed out after {} s", shown_args(), self.timeout.as_secs());
            return Err(MirrorError::Timeout { args: shown_args(), after: self.timeout });
        };
        let out = out.map_err(|error| MirrorError::Spawn(error.to_string()))?;
        if !out.status.success() {
            return Err(MirrorError::Git {
                args: shown_args(),
                stderr: repo_url::redact_text(String::from_utf8_lossy(&out.stderr).trim()).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// [`Mirror::read_commit`] through `batch`.
async fn read_commit_with(batch: &mut CatFile, rev: &str) -> Result<Commit, MirrorError> {
    let Some((sha, commit)) = batch.ask(&[format!("{rev}^{{commit}}")], usize::MAX).await?.pop().flatten() else {
        return Err(MirrorError::UnknownRef(rev.to_owned()));
    };
    let commit = String::from_utf8_lossy(&commit.into_bytes()).into_owned();
    let (head, message) = commit.split_once("\n\n").unwrap_or((&commit, ""));
    let author = head
        .lines()
        .find_map(|line| line.strip_prefix("author "))
        .and_then(|author| author.split_once(" <").map(|(name, _)| name.to_owned()))
        .unwrap_or_default();
    let title = message.lines().next().unwrap_or_default().to_owned();

    let trees = batch.ask(&WORKFLOW_DIRS.map(|dir| format!("{sha}:{dir}")), usize::MAX).await?;
    // Object ids are as long as the commit's: 20 bytes (SHA-1) or 32 (SHA-256).
    let id_len = sha.len() / 2;
    let mut paths = Vec::new();
    let mut blobs = Vec::new();
    for (dir, tree) in WORKFLOW_DIRS.iter().zip(trees) {
        let Some((_, tree)) = tree else { continue };
        for (mode, name, id) in tree_entries(&tree.into_bytes(), id_len) {
            let is_file = mode == "100644" || mode == "100755";
            if is_file && (name.ends_with(".yml") || name.ends_with(".yaml")) {
                paths.push(format!("{dir}/{name}"));
                blobs.push(id);
            }
        }
    }
    // By path, as `ls-tree` listed them (git sorts a tree's entries by name already).
    let texts = if blobs.is_empty() { Vec::new() } else { batch.ask(&blobs, MAX_WORKFLOW_BYTES).await? };
    let mut files = Vec::new();
    let mut unreadable = Vec::new();
    for (path, object) in paths.into_iter().zip(texts) {
        let Some((_, body)) = object else { continue };
        let text = match body {
            Body::TooLarge(size) => {
                unreadable.push((
                    path.clone(),
                    format!(
                        "{path}:1:1: the file is {size} bytes, more than the {MAX_WORKFLOW_BYTES} bytes (1 MiB) a workflow file may have"
                    ),
                ));
                String::new()
            }
            Body::Bytes(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(error) => {
                    let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
                    // `valid` is UTF-8: the column counts characters, as the parser's do.
                    let line = 1 + valid.iter().filter(|&&byte| byte == b'\n').count();
                    let line_start = valid.iter().rposition(|&byte| byte == b'\n').map_or(0, |idx| idx + 1);
                    let col = 1 + String::from_utf8_lossy(&valid[line_start..]).chars().count();
                    unreadable.push((
                        path.clone(),
                        format!("{path}:{line}:{col}: the file is not valid UTF-8; save it as UTF-8"),
                    ));
                    String::from_utf8_lossy(error.as_bytes()).into_owned()
                }
            },
        };
        files.push((path, text));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Commit { sha, title, author, files, unreadable })
}

/// An object's bytes as [`CatFile::ask`] answers them.
enum Body {
    Bytes(Vec<u8>),
    /// Larger than asked for: its size, the bytes skipped.
    TooLarge(usize),
}

impl Body {
    /// The bytes; none for an object that was too large (asked for without a limit, none is).
    fn into_bytes(self) -> Vec<u8> {
        match self {
            Body::Bytes(bytes) => bytes,
            Body::TooLarge(_) => Vec::new(),
        }
    }
}

/// A `git cat-file --batch` process, asked for objects a round at a time.
struct CatFile {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::BufReader<tokio::process::ChildStdout>,
}

/// `cat-file` processes kept between reads of a repository, by its folder, with when each was
/// last asked: starting one took ~1.8 ms, most of the time from a push's webhook to its run,
/// and asking one that runs ~0.05 ms.
static KEPT_CAT_FILES: LazyLock<Mutex<HashMap<PathBuf, (CatFile, Instant)>>> = LazyLock::new(Mutex::default);

/// A kept `cat-file` idle for longer is not asked again but stopped: it holds the packs it
/// opened, which a `git gc` since may have replaced (their disk space is freed only then).
const CAT_FILE_IDLE: Duration = Duration::from_secs(60);

impl CatFile {
    /// The process kept for `dir`, if there is one and it has not idled too long.
    fn take_kept(dir: &Path) -> Option<CatFile> {
        let (batch, last_used) =
            KEPT_CAT_FILES.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(dir)?;
        if last_used.elapsed() <= CAT_FILE_IDLE {
            return Some(batch);
        }
        tokio::spawn(batch.finish());
        None
    }

    /// Keeps the process for the next read of `dir`, unless one is kept already (two reads at
    /// once each had their own).
    fn keep(self, dir: &Path) {
        let mut kept = KEPT_CAT_FILES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.contains_key(dir) {
            drop(kept);
            tokio::spawn(self.finish());
        } else {
            kept.insert(dir.to_path_buf(), (self, Instant::now()));
        }
    }

    fn start(dir: &Path) -> Result<CatFile, MirrorError> {
        let mut child = Command::new(git_program())
            .arg("-C")
            .arg(dir)
            .args(["cat-file", "--batch"])
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| MirrorError::Spawn(error.to_string()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(MirrorError::Spawn("git cat-file has no pipes".to_owned()));
        };
        Ok(CatFile { child, stdin, stdout: tokio::io::BufReader::new(stdout) })
    }

    /// Each named object's id and bytes, in order; `None` for a name git does not know. An
    /// object over `max_size` bytes is skipped without being held in memory.
    async fn ask(&mut self, names: &[String], max_size: usize) -> Result<Vec<Option<(String, Body)>>, MirrorError> {
        use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
        let broken =
            |error: std::io::Error| MirrorError::Git { args: "cat-file --batch".to_owned(), stderr: error.to_string() };
        let mut request = String::new();
        for name in names {
            request.push_str(name);
            request.push('\n');
        }
        self.stdin.write_all(request.as_bytes()).await.map_err(broken)?;
        self.stdin.flush().await.map_err(broken)?;
        let mut objects = Vec::with_capacity(names.len());
        for _ in names {
            let mut header = String::new();
            if self.stdout.read_line(&mut header).await.map_err(broken)? == 0 {
                // Not a missing object: the process is gone (a kept one may have been killed).
                return Err(broken(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "git cat-file exited")));
            }
            // `<id> <type> <size>`, or `<name> missing` (or `ambiguous`).
            let mut fields = header.trim_end().rsplitn(3, ' ');
            let (Some(size), Some(_kind), Some(id)) = (fields.next(), fields.next(), fields.next()) else {
                objects.push(None);
                continue;
            };
            let Ok(size) = size.parse::<usize>() else {
                objects.push(None);
                continue;
            };
            if size > max_size {
                // The object and the line end after it.
                let skip = u64::try_from(size).unwrap_or(u64::MAX).saturating_add(1);
                let skipped = tokio::io::copy(&mut (&mut self.stdout).take(skip), &mut tokio::io::sink())
                    .await
                    .map_err(broken)?;
                if skipped < skip {
                    return Err(broken(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "git cat-file exited")));
                }
                objects.push(Some((id.to_owned(), Body::TooLarge(size))));
                continue;
            }
            let mut body = vec![0; size + 1];
            self.stdout.read_exact(&mut body).await.map_err(broken)?;
            body.truncate(size);
            objects.push(Some((id.to_owned(), Body::Bytes(body))));
        }
        Ok(objects)
    }

    /// Closes git's input so it exits, and reaps it.
    async fn finish(self) {
        let CatFile { mut child, stdin, stdout } = self;
        drop(stdin);
        drop(stdout);
        let _ = child.wait().await;
    }
}

/// The entries of a git tree object: (mode, name, object id in hex).
fn tree_entries(tree: &[u8], id_len: usize) -> Vec<(String, String, String)> {
    let mut entries = Vec::new();
    let mut rest = tree;
    while let Some(space) = rest.iter().position(|&byte| byte == b' ') {
        let Some(nul) = rest.iter().position(|&byte| byte == 0) else { break };
        let Some(id) = rest.get(nul + 1..nul + 1 + id_len) else { break };
        if nul < space {
            break;
        }
        let mode = String::from_utf8_lossy(&rest[..space]).into_owned();
        let name = String::from_utf8_lossy(&rest[space + 1..nul]).into_owned();
        entries.push((mode, name, hex::encode(id)));
        rest = &rest[nul + 1 + id_len..];
    }
    entries
}

/// The `git` program, looked up on `PATH` once: spawning by bare name tries every `PATH`
/// folder before git's on each call.
fn git_program() -> &'static Path {
    static GIT: LazyLock<PathBuf> = LazyLock::new(|| {
        std::env::var_os("PATH")
            .and_then(|path| {
                std::env::split_paths(&path).map(|dir| dir.join("git")).find(|candidate| candidate.is_file())
            })
            .unwrap_or_else(|| PathBuf::from("git"))
    });
    &GIT
}

#[cfg(test)]
mod tests;
