//! A run's workspace: a git repository of its own, checked out at the run's commit.
//!
//! `ferry run` runs workflows against a commit of a local repository. The workspace is what
//! `git clone --shared --no-checkout` makes of that repository (objects are borrowed through
//! git's alternates, so it is fast and small) with the commit checked out as a detached `HEAD`; steps
//! can run `git log`, `git diff` and friends in it. Uncommitted changes in the source repository
//! are not part of it. git runs with argument vectors only, never through a shell, and with
//! `LC_ALL=C` so its messages can be recognised.
//!
//! A job's workspace is laid out as on GitHub's runner, `<work root>/<name>/<name>` (see
//! [`job_workspace`]), and its path stays the same from run to run: the toolkit's cache
//! `version` is a hash of the cached paths (`<workspace>/target` for rust-cache), so a path
//! that changed per run never restored a cache. `ferry run` takes its work roots with
//! [`lock_work_slot`]; a runner has one per slot of its own.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

mod sync;
pub use sync::sync_workspace;

/// Why a workspace could not be prepared or `HEAD` read; each message says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("git is not installed (or not on PATH): install it, for example with `apt-get install git`")]
    GitMissing,
    #[error("{} is not a git repository: run ferry inside a git checkout, or `git init` and commit there first", .0.display())]
    NotARepository(PathBuf),
    #[error("{} has no commits yet: commit first (`git add -A && git commit -m 'first commit'`)", .0.display())]
    NoCommits(PathBuf),
    #[error("commit `{sha}` is not in {}: commit your changes or check the commit id (`git log`)", .repo.display())]
    UnknownCommit { repo: PathBuf, sha: String },
    #[error("workspace directory {} exists and is not empty: remove it or choose another", .0.display())]
    DestinationNotEmpty(PathBuf),
    #[error("`git {args}` failed ({status}): {stderr}")]
    Git { args: String, status: String, stderr: String },
    #[error("running git: {0}")]
    Io(#[from] io::Error),
}

/// The commit `HEAD` points at, and the branch checked out (`None` when `HEAD` is detached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadCommit {
    /// The full commit id.
    pub sha: String,
    pub branch: Option<String>,
}

/// Reads `HEAD` and the current branch of the repository at `repo`.
///
/// # Errors
/// [`WorkspaceError::NotARepository`], [`WorkspaceError::NoCommits`], [`WorkspaceError::GitMissing`],
/// or another git failure.
pub async fn head_commit(repo: &Path) -> Result<HeadCommit, WorkspaceError> {
    let sha = resolve_commit(repo, "HEAD").await?.ok_or_else(|| WorkspaceError::NoCommits(repo.to_path_buf()))?;
    let output = git(repo, &["symbolic-ref", "--quiet", "--short", "HEAD"]).await?;
    let branch = match output.status.code() {
        Some(0) => Some(stdout_line(&output)),
        // Exit 1 without a message: HEAD is detached.
        Some(1) if output.stderr.is_empty() => None,
        _ => return Err(failure(&["symbolic-ref", "--quiet", "--short", "HEAD"], &output)),
    };
    Ok(HeadCommit { sha, branch })
}

/// Makes `dest` a git repository that reads its objects from `repo` and knows it as `origin`
/// (as `git clone --shared --no-checkout` makes one, without the source's refs), with commit
/// `sha` checked out (detached). `dest` must not exist or be an empty directory.
///
/// # Errors
/// [`WorkspaceError::NotARepository`], [`WorkspaceError::UnknownCommit`],
/// [`WorkspaceError::DestinationNotEmpty`], [`WorkspaceError::GitMissing`], or another git
/// failure (its stderr is in the message).
pub async fn prepare_workspace(repo: &Path, sha: &str, dest: &Path) -> Result<(), WorkspaceError> {
    let unknown = || WorkspaceError::UnknownCommit { repo: repo.to_path_buf(), sha: sha.to_owned() };
    // A commit id never starts with '-'; refusing one keeps it from being read as an option.
    if sha.is_empty() || sha.starts_with('-') {
        return Err(unknown());
    }
    // One directory read; not worth tokio's `fs` feature and a blocking-pool thread.
    let made_dest = match std::fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(WorkspaceError::DestinationNotEmpty(dest.to_path_buf()));
            }
            false
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => true,
        Err(error) => return Err(error.into()),
    };
    let objects = objects_dir(repo);
    // A full commit id is not looked up first: the checkout finds it, or fails and is
    // explained below (a `git rev-parse` less on the way to the first step).
    let full_sha = if objects.is_some() && is_full_id(sha) {
        sha.to_owned()
    } else {
        resolve_commit(repo, sha).await?.ok_or_else(unknown)?
    };
    let checkout_args = match &objects {
        // What `git clone --shared --no-checkout` makes, made by hand: the clone listed the
        // source's refs through a `git-upload-pack` process (about 20 ms, on the path from a
        // push of a new commit to its first step), and a workspace needs none of them. `HEAD`
        // is written detached at the commit, and only its files and index are checked out:
        // `git checkout` also wrote a reflog and took and dropped two lock files, each a new
        // file, which cost 1.6 ms of 5.8 on this machine's ext4.
        Some(objects) => {
            init_shared(repo, objects, &full_sha, dest)?;
            ["read-tree", "-m", "-u", &full_sha]
        }
        // A repository laid out otherwise (a worktree, a submodule, SHA-256 ids) is cloned.
        None => {
            let clone_args = [
                OsStr::new("clone"),
                OsStr::new("--quiet"),
                OsStr::new("--shared"),
                OsStr::new("--no-checkout"),
                // No hook samples from git's template: the workspace needs none, and they cost writes.
                OsStr::new("--template="),
                OsStr::new("--"),
                repo.as_os_str(),
                dest.as_os_str(),
            ];
            git_checked(None, &clone_args, &[]).await?;
            ["checkout", "--quiet", "--detach", &full_sha]
        }
    };
    let output = git(dest, &checkout_args).await?;
    if !output.status.success() {
        // Nothing half-made is left; then why: most often, no such commit.
        let _ = std::fs::remove_dir_all(dest.join(".git"));
        if made_dest {
            let _ = std::fs::remove_dir_all(dest);
        }
        return Err(match resolve_commit(repo, &full_sha).await? {
            None => unknown(),
            Some(_) => failure(&checkout_args, &output),
        });
    }
    tracing::debug!(repo = %repo.display(), dest = %dest.display(), sha = %full_sha, "prepared workspace");
    Ok(())
}

/// The objects folder of the repository at `repo`, bare (`repo/objects`) or not
/// (`repo/.git/objects`); `None` when `.git` is a file pointing elsewhere, or when the
/// repository declares extensions (such as SHA-256 object ids) a plain `git init` would not
/// share: those are cloned.
fn objects_dir(repo: &Path) -> Option<PathBuf> {
    let dot_git = repo.join(".git");
    let git_dir = if dot_git.is_dir() {
        dot_git
    } else if repo.join("HEAD").is_file() && repo.join("objects").is_dir() {
        repo.to_path_buf()
    } else {
        return None;
    };
    let config = std::fs::read_to_string(git_dir.join("config")).ok()?;
    if config.to_ascii_lowercase().contains("objectformat") {
        return None;
    }
    std::path::absolute(git_dir.join("objects")).ok()
}

/// Whether `sha` is a whole commit id (40 hexadecimal digits, or 64).
fn is_full_id(sha: &str) -> bool {
    matches!(sha.len(), 40 | 64) && sha.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Makes `dest` a new repository (what `git init --template=` writes, without running it: ~5
/// ms of the way from a push to its first step) with `HEAD` detached at `sha`, that reads its
/// objects from `objects` (the source's, as `clone --shared` does: `objects/info/alternates`)
/// and knows the source `repo` as `origin`. Only the folders git needs to see a repository are
/// made (`objects/pack`, `refs/heads` and `refs/tags` come when something is written there):
/// each new file or folder is an inode, the dearest part of a checkout on ext4.
fn init_shared(repo: &Path, objects: &Path, sha: &str, dest: &Path) -> io::Result<()> {
    let git_dir = dest.join(".git");
    for folder in ["objects/info", "refs"] {
        std::fs::create_dir_all(git_dir.join(folder))?;
    }
    std::fs::write(git_dir.join("HEAD"), format!("{sha}\n"))?;
    let mut alternates = objects.as_os_str().as_encoded_bytes().to_vec();
    alternates.push(b'\n');
    std::fs::write(git_dir.join("objects/info/alternates"), alternates)?;
    let url = std::path::absolute(repo)?;
    // git's config quoting: a path with `"` or `\\` in it is written escaped.
    let url = url.to_string_lossy().replace('\\', "\\\\").replace('"', "\\\"");
    let mut config = std::fs::File::create(git_dir.join("config"))?;
    write!(
        config,
        "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n\
         [remote \"origin\"]\n\turl = \"{url}\"\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
    )
}

/// Copies a prepared workspace (see [`prepare_workspace`]) to `dest`, which must not exist:
/// files with their permissions, symbolic links as links. Much cheaper than another clone and
/// checkout, so a run prepares one checkout and gives each job a copy.
///
/// # Errors
/// Reading `src` or writing `dest` failed.
pub fn copy_workspace(src: &Path, dest: &Path) -> io::Result<()> {
    std::fs::create_dir(dest)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let (from, to) = (entry.path(), dest.join(entry.file_name()));
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            copy_workspace(&from, &to)?;
        } else if file_type.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else {
            std::fs::copy(&from, &to)?;
        }
    }
    Ok(())
}

/// The full id of the commit `rev` names in `repo`, `None` when it names none.
async fn resolve_commit(repo: &Path, rev: &str) -> Result<Option<String>, WorkspaceError> {
    let spec = format!("{rev}^{{commit}}");
    let args = ["rev-parse", "--verify", "--quiet", "--end-of-options", &spec];
    let output = git(repo, &args).await?;
    match output.status.code() {
        Some(0) => Ok(Some(stdout_line(&output))),
        _ if String::from_utf8_lossy(&output.stderr).contains("not a git repository") => {
            Err(WorkspaceError::NotARepository(repo.to_path_buf()))
        }
        Some(1) => Ok(None),
        _ => Err(failure(&args, &output)),
    }
}

async fn git(dir: &Path, args: &[&str]) -> Result<Output, WorkspaceError> {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    git_os(Some(dir), &args).await
}

/// Runs git as [`git_os`] does, with `env` added to its environment; a failure is an error
/// with git's message.
pub(crate) async fn git_checked(
    dir: Option<&Path>,
    args: &[&OsStr],
    env: &[(&str, String)],
) -> Result<Output, WorkspaceError> {
    let output = git_env(dir, args, env).await?;
    if !output.status.success() {
        return Err(failure(args, &output));
    }
    Ok(output)
}

pub(crate) async fn git_os(dir: Option<&Path>, args: &[&OsStr]) -> Result<Output, WorkspaceError> {
    git_env(dir, args, &[]).await
}

async fn git_env(dir: Option<&Path>, args: &[&OsStr], env: &[(&str, String)]) -> Result<Output, WorkspaceError> {
    let mut command = tokio::process::Command::new("git");
    command.envs(env.iter().map(|(name, value)| (name, value)));
    if let Some(dir) = dir {
        if !dir.is_dir() {
            return Err(WorkspaceError::NotARepository(dir.to_path_buf()));
        }
        command.arg("-C").arg(dir);
    }
    // No credential prompt on a terminal nobody watches; dropping the future (a cancelled
    // job) stops git too.
    command.args(args).env("LC_ALL", "C").env("GIT_TERMINAL_PROMPT", "0").stdin(Stdio::null()).kill_on_drop(true);
    command.output().await.map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => WorkspaceError::GitMissing,
        _ => WorkspaceError::Io(error),
    })
}

fn stdout_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim_end().to_owned()
}

pub(crate) fn failure<S: AsRef<OsStr>>(args: &[S], output: &Output) -> WorkspaceError {
    let args: Vec<String> = args.iter().map(|arg| arg.as_ref().to_string_lossy().into_owned()).collect();
    WorkspaceError::Git {
        args: args.join(" "),
        status: output.status.to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
    }
}

/// The folder a repository's workspace is named after: the last part of `repository`
/// (`owner/name`, a URL or a path) without `.git`, any character but letters, digits, `.`, `_`
/// and `-` made `_`; `workspace` when nothing usable is left.
#[must_use]
pub fn folder_name(repository: &str) -> String {
    let last = repository.trim_end_matches(['/', '\\']).rsplit(['/', '\\', ':']).next().unwrap_or_default();
    let last = last.strip_suffix(".git").unwrap_or(last);
    let name: String = last
        .chars()
        .map(|char| if char.is_ascii_alphanumeric() || matches!(char, '.' | '_' | '-') { char } else { '_' })
        .collect();
    if name.trim_matches('.').is_empty() { "workspace".to_owned() } else { name }
}

/// A job's workspace in `root` as GitHub's runner lays it out: `<root>/<name>/<name>`, with
/// `<root>/<name>` its `RUNNER_WORKSPACE` ([`folder_name`] of `repository`).
#[must_use]
pub fn job_workspace(root: &Path, repository: &str) -> PathBuf {
    let name = folder_name(repository);
    root.join(&name).join(name)
}

/// The folder in which `ferry run`'s work roots for the repository at `repo_root` are kept:
/// `<base>/<digest of the repository's path>`, so each checkout on the machine has its own.
#[must_use]
pub fn work_slots_of(base: &Path, repo_root: &Path) -> PathBuf {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(repo_root.as_os_str().as_encoded_bytes());
    base.join(hex::encode(&digest[..8]))
}

/// How many work roots [`lock_work_slot`] tries: more jobs than this at once of one
/// repository on one machine is a mistake, not a need.
const MAX_SLOTS: usize = 1024;

/// A work root held by this process until dropped: no other job takes it meanwhile.
#[derive(Debug)]
pub struct WorkSlot {
    root: PathBuf,
    /// Its lock (`<slots>/<n>.lock`), released when the file is closed.
    _lock: File,
}

impl WorkSlot {
    /// `<slots>/<n>`: the same for every job that takes slot `n`.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Holds the work root `root` (`<slots>/<n>`) when no process holds it, without emptying
/// it: for removing what a killed job left in its name. `None` when a process holds it, or
/// `root` is not a work root whose lock can be opened.
#[must_use]
pub fn hold_free_slot(root: &Path) -> Option<File> {
    let name = root.file_name()?.to_str()?;
    name.parse::<usize>().ok()?;
    let lock_path = root.parent()?.join(format!("{name}.lock"));
    let lock = File::options().create(true).truncate(false).write(true).open(lock_path).ok()?;
    lock.try_lock().ok()?;
    Some(lock)
}

/// Takes the first free work root in `slots` (`<slots>/0`, `<slots>/1`, …): free means no
/// process, this one included, holds the lock of `<slots>/<n>.lock`. The folder is made
/// empty: whatever a job that was killed left in it is removed.
///
/// # Errors
/// The folders or lock files cannot be made, a lock cannot be asked for, or every slot is taken.
pub fn lock_work_slot(slots: &Path) -> io::Result<WorkSlot> {
    std::fs::create_dir_all(slots)?;
    for idx in 0..MAX_SLOTS {
        let lock = File::options().create(true).truncate(false).write(true).open(slots.join(format!("{idx}.lock")))?;
        match lock.try_lock() {
            Ok(()) => {
                let root = slots.join(idx.to_string());
                match std::fs::remove_dir_all(&root) {
                    Ok(()) => {}
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error),
                }
                std::fs::create_dir(&root)?;
                return Ok(WorkSlot { root, _lock: lock });
            }
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(error)) => return Err(error),
        }
    }
    Err(io::Error::other(format!(
        "all {MAX_SLOTS} work folders in {} are in use; wait for other runs to end",
        slots.display()
    )))
}
