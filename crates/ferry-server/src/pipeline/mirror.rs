//! A project's repository as the server sees it: a bare mirror in
//! `<data_dir>/repos/<project id>.git`, fetched before a trigger is planned, from which the
//! workflow files at a commit are read. git runs with argument vectors only, never through a
//! shell, and with `LC_ALL=C`; a ref or commit never starts with `-`, so it cannot be read as
//! an option.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::process::Command;

/// Why the repository could not be read; the message says what to check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MirrorError {
    #[error("`git {args}` failed: {stderr}")]
    Git { args: String, stderr: String },
    #[error("running git: {0} (is git installed?)")]
    Spawn(String),
    #[error("`{0}` is not a branch, tag or commit of the repository")]
    UnknownRef(String),
}

/// A commit's subject and author.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CommitInfo {
    pub(crate) title: String,
    pub(crate) author: String,
}

/// The mirror of one project's repository.
#[derive(Debug, Clone)]
pub(crate) struct Mirror {
    dir: PathBuf,
    url: String,
}

/// One lock per mirror folder, so syncs of a mirror (a webhook and a poll) never overlap.
static MIRROR_LOCKS: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> = LazyLock::new(Mutex::default);

/// The folders whose `*.yml`/`*.yaml` files are workflows.
pub(crate) const WORKFLOW_DIRS: [&str; 2] = [".github/workflows", ".ferry/workflows"];

impl Mirror {
    pub(crate) fn new(data_dir: &Path, project_id: i64, url: &str) -> Mirror {
        Mirror { dir: data_dir.join("repos").join(format!("{project_id}.git")), url: url.to_owned() }
    }

    /// Clones the repository the first time, then fetches every branch and tag. Syncs of one
    /// mirror take turns; a clone is made beside the mirror and renamed into place, so one
    /// that fails halfway leaves nothing behind.
    pub(crate) async fn sync(&self) -> Result<(), MirrorError> {
        let lock = {
            let mut locks = MIRROR_LOCKS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            locks.entry(self.dir.clone()).or_default().clone()
        };
        let _turn = lock.lock().await;
        if self.dir.join("HEAD").is_file() {
            // The URL may have changed since the clone.
            git(&self.dir, &["remote", "set-url", "origin", &self.url]).await?;
            git(&self.dir, &["fetch", "--prune", "--quiet", "origin"]).await?;
            return Ok(());
        }
        let parent = self.dir.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .map_err(|error| MirrorError::Spawn(format!("creating {}: {error}", parent.display())))?;
        let partial = self.dir.with_extension("git.partial");
        // Left by a clone that was cut short (the server was killed).
        let _ = std::fs::remove_dir_all(&partial);
        let dest = partial.display().to_string();
        let res = git(parent, &["clone", "--mirror", "--quiet", "--", &self.url, &dest]).await;
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
        match git(&self.dir, &["rev-parse", "--verify", "--quiet", &spec]).await {
            Ok(sha) => Ok(sha.trim().to_owned()),
            Err(_) => Err(MirrorError::UnknownRef(name.to_owned())),
        }
    }

    /// Every workflow file at commit `sha`, as (path, text), by path.
    pub(crate) async fn workflow_files(&self, sha: &str) -> Result<Vec<(String, String)>, MirrorError> {
        let listing =
            git(&self.dir, &["ls-tree", "-r", "--name-only", sha, "--", WORKFLOW_DIRS[0], WORKFLOW_DIRS[1]]).await?;
        let mut files = Vec::new();
        for path in listing.lines() {
            let in_dir =
                WORKFLOW_DIRS.iter().any(|dir| path.strip_prefix(dir).is_some_and(|rest| !rest[1..].contains('/')));
            if !in_dir || !(path.ends_with(".yml") || path.ends_with(".yaml")) {
                continue;
            }
            let text = git(&self.dir, &["show", &format!("{sha}:{path}")]).await?;
            files.push((path.to_owned(), text));
        }
        files.sort();
        Ok(files)
    }

    /// The commit's subject and author.
    pub(crate) async fn commit_info(&self, sha: &str) -> Result<CommitInfo, MirrorError> {
        let text = git(&self.dir, &["log", "-1", "--format=%an%x00%s", sha, "--"]).await?;
        let (author, title) = text.trim_end().split_once('\0').unwrap_or(("", ""));
        Ok(CommitInfo { title: title.to_owned(), author: author.to_owned() })
    }

    /// The files a push changed between `before` and `after` (for `paths:` filters); `None`
    /// when `before` is unknown (a new branch), so path filters let the push through.
    pub(crate) async fn changed_paths(&self, before: &str, after: &str) -> Option<Vec<String>> {
        if before.is_empty() || before.starts_with('-') || before.bytes().all(|byte| byte == b'0') {
            return None;
        }
        let text = git(&self.dir, &["diff", "--name-only", before, after, "--"]).await.ok()?;
        Some(text.lines().map(str::to_owned).collect())
    }
}

async fn git(dir: &Path, args: &[&str]) -> Result<String, MirrorError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|error| MirrorError::Spawn(error.to_string()))?;
    if !out.status.success() {
        return Err(MirrorError::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
