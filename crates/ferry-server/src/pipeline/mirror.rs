//! A project's repository as the server sees it: a bare mirror in
//! `<data_dir>/repos/<project id>.git`, fetched before a trigger is planned, from which the
//! workflow files at a commit are read; a repository that is a folder on this host is read in
//! place. git runs with argument vectors only, never through a
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
        // A repository on this host is read where it is: a mirror would only add a fetch
        // (about 20 ms of git per trigger) to reach the same objects.
        let local = Path::new(url);
        if local.is_absolute() && local.is_dir() {
            return Mirror { dir: local.to_path_buf(), url: String::new() };
        }
        Mirror { dir: data_dir.join("repos").join(format!("{project_id}.git")), url: url.to_owned() }
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
                git(&self.dir, &["remote", "set-url", "origin", &self.url]).await?;
            }
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

    /// The commit `rev` (a full ref or commit id) names: its id, subject, author and every
    /// workflow file in it as (path, text), by path. Two git processes, however many files:
    /// `ls-tree` lists the workflow files, one `cat-file --batch` reads the commit and them.
    pub(crate) async fn read_commit(&self, rev: &str) -> Result<Commit, MirrorError> {
        if rev.is_empty() || rev.starts_with('-') {
            return Err(MirrorError::UnknownRef(rev.to_owned()));
        }
        let spec = format!("{rev}^{{commit}}");
        let listing =
            git(&self.dir, &["ls-tree", "-r", "--full-tree", &spec, "--", WORKFLOW_DIRS[0], WORKFLOW_DIRS[1]])
                .await
                .map_err(|_| MirrorError::UnknownRef(rev.to_owned()))?;
        let mut files: Vec<(String, String)> = Vec::new();
        for line in listing.lines() {
            let Some((meta, path)) = line.split_once('\t') else { continue };
            let mut fields = meta.split(' ');
            let (Some(_mode), Some("blob"), Some(blob)) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            let in_dir = WORKFLOW_DIRS.iter().any(|dir| {
                path.strip_prefix(dir).and_then(|rest| rest.strip_prefix('/')).is_some_and(|name| !name.contains('/'))
            });
            if in_dir && (path.ends_with(".yml") || path.ends_with(".yaml")) {
                files.push((path.to_owned(), blob.to_owned()));
            }
        }
        let mut input = format!("{spec}\n");
        for (_, blob) in &files {
            input.push_str(blob);
            input.push('\n');
        }
        let objects = cat_file_batch(&self.dir, &input).await?;
        let mut objects = objects.into_iter();
        let (sha, commit) = objects.next().ok_or_else(|| MirrorError::UnknownRef(rev.to_owned()))?;
        let commit = String::from_utf8_lossy(&commit).into_owned();
        let (head, message) = commit.split_once("\n\n").unwrap_or((&commit, ""));
        let author = head
            .lines()
            .find_map(|line| line.strip_prefix("author "))
            .and_then(|author| author.split_once(" <").map(|(name, _)| name.to_owned()))
            .unwrap_or_default();
        let title = message.lines().next().unwrap_or_default().to_owned();
        let files = files
            .into_iter()
            .zip(objects)
            .map(|((path, _), (_, text))| (path, String::from_utf8_lossy(&text).into_owned()))
            .collect();
        Ok(Commit { sha, title, author, files })
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

/// Feeds `input` (one object name a line) to `git cat-file --batch` and returns each object's
/// id and bytes, in order; a missing object ends the list there.
async fn cat_file_batch(dir: &Path, input: &str) -> Result<Vec<(String, Vec<u8>)>, MirrorError> {
    use tokio::io::AsyncWriteExt as _;
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["cat-file", "--batch"])
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| MirrorError::Spawn(error.to_string()))?;
    let mut stdin = child.stdin.take().ok_or_else(|| MirrorError::Spawn("no stdin".to_owned()))?;
    let input = input.as_bytes().to_vec();
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(&input).await;
    });
    let out = child.wait_with_output().await.map_err(|error| MirrorError::Spawn(error.to_string()))?;
    let _ = writer.await;
    let mut objects = Vec::new();
    let mut rest = out.stdout.as_slice();
    while let Some(line_end) = rest.iter().position(|&byte| byte == b'\n') {
        let header = String::from_utf8_lossy(&rest[..line_end]).into_owned();
        let mut fields = header.split(' ');
        let (Some(id), Some(_kind), Some(size)) = (fields.next(), fields.next(), fields.next()) else { break };
        let Ok(size) = size.parse::<usize>() else { break };
        let body_start = line_end + 1;
        let Some(body) = rest.get(body_start..body_start + size) else { break };
        objects.push((id.to_owned(), body.to_vec()));
        rest = rest.get(body_start + size + 1..).unwrap_or_default();
    }
    Ok(objects)
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
