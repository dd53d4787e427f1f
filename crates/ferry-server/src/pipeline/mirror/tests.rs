//! A `git cat-file` kept per repository: reused for reads by commit id, seeing objects written
//! after it started, replaced when it died, never used for reads by name. A repository's
//! credential reaches git as a header and never shows; git that hangs is stopped.

use std::path::Path;
use std::time::Duration;

use ferry_testkit::{NOT_FOUND, http_recorder};

use super::{Credential, KEPT_CAT_FILES, Mirror, MirrorError};

/// Runs git in `repo` with a fixed identity; its output.
fn git(repo: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@localhost")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@localhost")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Commits `workflow` as `.github/workflows/ci.yml` of `repo`; the new commit's id.
fn commit(repo: &Path, title: &str, workflow: &str) -> String {
    let dir = repo.join(".github/workflows");
    std::fs::create_dir_all(&dir).expect("workflow folder");
    std::fs::write(dir.join("ci.yml"), workflow).expect("workflow");
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "--quiet", "-m", title]);
    git(repo, &["rev-parse", "HEAD"])
}

/// The process id of the `cat-file` kept for `dir`, if one is.
fn kept_pid(dir: &Path) -> Option<u32> {
    KEPT_CAT_FILES.lock().expect("not poisoned").get(dir).and_then(|(batch, _)| batch.child.id())
}

#[tokio::test]
async fn reads_by_commit_id_keep_one_git_process_that_sees_commits_made_and_packed_after_it_started() {
    let root = tempfile::tempdir().expect("temporary directory");
    let repo = root.path().join("repo");
    std::fs::create_dir_all(&repo).expect("repository folder");
    git(&repo, &["init", "--quiet", "--initial-branch=main"]);
    let first = commit(&repo, "one", "on: push\n");
    let mirror = Mirror::new(root.path(), 1, &repo.display().to_string());

    let read = mirror.read_commit(&first).await.expect("the first commit");
    assert_eq!((read.title.as_str(), read.author.as_str()), ("one", "Ada"));
    assert_eq!(read.files, [(".github/workflows/ci.yml".to_owned(), "on: push\n".to_owned())]);
    let pid = kept_pid(&repo).expect("a process is kept after a read by id");

    // A commit made after the process started (loose objects), then one packed by `git gc`.
    let second = commit(&repo, "two", "on: [push, pull_request]\n");
    assert_eq!(mirror.read_commit(&second).await.expect("a newer commit").title, "two");
    let third = commit(&repo, "three", "on: pull_request\n");
    git(&repo, &["gc", "--quiet", "--prune=now"]);
    let read = mirror.read_commit(&third).await.expect("a packed commit");
    assert_eq!(read.files[0].1, "on: pull_request\n");
    assert_eq!(kept_pid(&repo), Some(pid), "the kept process answered every read");

    // An unknown commit is an answer too; the process stays.
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    assert!(matches!(mirror.read_commit(unknown).await, Err(super::MirrorError::UnknownRef(_))));
    assert_eq!(kept_pid(&repo), Some(pid));

    // A kept process that died is replaced, and the read still answered.
    std::process::Command::new("kill").arg("-9").arg(pid.to_string()).status().expect("kill runs");
    assert_eq!(mirror.read_commit(&first).await.expect("read again").title, "one");
    let replaced = kept_pid(&repo).expect("a new process is kept");
    assert_ne!(replaced, pid);

    // A branch name is read by a process of its own, so a moved branch is never missed.
    let kept = KEPT_CAT_FILES.lock().expect("not poisoned").remove(repo.as_path());
    assert!(kept.is_some());
    assert_eq!(mirror.read_commit("refs/heads/main").await.expect("by branch").sha, third);
    assert_eq!(kept_pid(&repo), None, "nothing kept after a read by name");
}

#[tokio::test]
async fn issue_13_a_credential_in_a_url_reaches_git_as_a_header_and_never_shows() {
    let (port, heads) = http_recorder(Some(NOT_FOUND));
    let root = tempfile::tempdir().expect("temporary directory");
    // A project stored before URLs with credentials were refused.
    let mirror = Mirror::new(root.path(), 1, &format!("http://user:tok@127.0.0.1:{port}/x.git"));
    assert!(!format!("{mirror:?}").contains("tok"), "{mirror:?}");

    let error = mirror.sync().await.expect_err("nothing to clone").to_string();
    assert!(!error.contains("tok"), "{error}");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    let head = heads.recv_timeout(Duration::from_secs(30)).expect("git asked the remote");
    // base64("user:tok")
    assert!(head.contains("Authorization: Basic dXNlcjp0b2s="), "{head}");
    assert!(head.starts_with("GET /x.git/info/refs"), "{head}");

    // The project's secret wins, as `TOKEN` alone.
    let mirror = Mirror { credential: Some(Credential("s3cr3t".to_owned())), ..mirror };
    let error = mirror.sync().await.expect_err("nothing to clone").to_string();
    assert!(!error.contains("s3cr3t"), "{error}");
    let head = heads.recv_timeout(Duration::from_secs(30)).expect("git asked the remote");
    // base64("x-access-token:s3cr3t")
    assert!(head.contains("Authorization: Basic eC1hY2Nlc3MtdG9rZW46czNjcjN0"), "{head}");
}

#[tokio::test]
async fn issue_13_git_that_hangs_on_a_remote_is_stopped_after_the_timeout() {
    let (port, heads) = http_recorder(None);
    let root = tempfile::tempdir().expect("temporary directory");
    let mut mirror = Mirror::new(root.path(), 1, &format!("http://127.0.0.1:{port}/x.git"));
    mirror.timeout = Duration::from_secs(1);
    let res = mirror.sync().await;
    assert!(matches!(res, Err(MirrorError::Timeout { .. })), "{res:?}");
    assert!(heads.try_recv().is_ok(), "git reached the remote, which never answered");
    let message = res.expect_err("timed out").to_string();
    assert!(message.contains("did not finish in 1 s"), "{message}");
}
