//! Fetching from a folder of real git repositories: tags, branches, full commit ids, reuse
//! without the source, a modified checkout, and the errors.

use std::path::Path;
use std::process::Command;

use super::{ActionsSource, redact};
use crate::actions::ActionsError;

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A source folder holding `octo/tool` (not bare) with two commits: `v1` (an annotated tag)
/// on the first, `main` and `v2` (a lightweight tag) on the second; returns both commits.
fn source_repo(root: &Path) -> (String, String) {
    let repo = root.join("octo").join("tool");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "--quiet"]);
    std::fs::write(repo.join("action.yml"), "name: one\n").expect("write");
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "--quiet", "-m", "one"]);
    git(&repo, &["tag", "-a", "v1", "-m", "v1"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(repo.join("action.yml"), "name: two\n").expect("write");
    git(&repo, &["commit", "--quiet", "-am", "two"]);
    git(&repo, &["tag", "v2"]);
    let second = git(&repo, &["rev-parse", "HEAD"]);
    (first, second)
}

fn action_name(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("action.yml")).expect("action.yml checked out")
}

#[tokio::test]
async fn tags_branches_and_shas_resolve_to_one_checkout_per_commit() {
    let root = tempfile::tempdir().expect("tempdir");
    let (first, second) = source_repo(&root.path().join("src"));
    let source =
        ActionsSource::new(&format!("file://{}", root.path().join("src").display()), root.path().join("store"))
            .expect("a source");

    let v1 = source.fetch("octo", "tool", "v1").await.expect("v1");
    assert_eq!((v1.sha.as_str(), v1.downloaded), (first.as_str(), true));
    assert_eq!(action_name(&v1.dir), "name: one\n");
    assert_eq!(v1.dir, root.path().join("store/octo/tool").join(&first));

    let main = source.fetch("octo", "tool", "main").await.expect("main");
    let v2 = source.fetch("Octo", "Tool", "v2").await.expect("v2");
    assert_eq!((main.sha.as_str(), main.downloaded), (second.as_str(), true));
    assert_eq!((v2.sha.as_str(), v2.downloaded, &v2.dir), (second.as_str(), false, &main.dir));
    assert_eq!(action_name(&v2.dir), "name: two\n");

    let by_sha = source.fetch("octo", "tool", &first).await.expect("by sha");
    assert_eq!((by_sha.downloaded, &by_sha.dir), (false, &v1.dir));
    assert_eq!(source.n_downloads(), 2);
}

#[tokio::test]
async fn a_ref_resolves_once_per_run_and_a_kept_checkout_needs_no_source() {
    let root = tempfile::tempdir().expect("tempdir");
    let (first, second) = source_repo(&root.path().join("src"));
    let source = ActionsSource::new(&root.path().join("src").display().to_string(), root.path().join("store"))
        .expect("a source");
    let repo = root.path().join("src/octo/tool");
    assert_eq!(source.fetch("octo", "tool", "main").await.expect("main").sha, second);

    // The branch moves on: this run keeps what it resolved, the next run sees the move.
    git(&repo, &["reset", "--quiet", "--hard", &first]);
    assert_eq!(source.fetch("octo", "tool", "main").await.expect("main again").sha, second);
    assert_eq!(source.for_run().fetch("octo", "tool", "main").await.expect("next run").sha, first);

    // Once kept, a commit is used without asking the source.
    std::fs::remove_dir_all(root.path().join("src/octo")).expect("remove the source");
    let again = source.fetch("octo", "tool", &second).await.expect("kept");
    assert!(!again.downloaded);
    assert_eq!(action_name(&again.dir), "name: two\n");
    assert_eq!(source.n_downloads(), 2);
}

#[tokio::test]
async fn a_modified_checkout_is_fetched_again() {
    let root = tempfile::tempdir().expect("tempdir");
    let (first, _) = source_repo(&root.path().join("src"));
    let source = ActionsSource::new(&root.path().join("src").display().to_string(), root.path().join("store"))
        .expect("a source");
    let fetched = source.fetch("octo", "tool", &first).await.expect("first fetch");
    for tamper in [
        |dir: &Path| std::fs::write(dir.join("action.yml"), "name: evil\n"),
        |dir: &Path| std::fs::write(dir.join("extra.js"), "evil()"),
        |dir: &Path| std::fs::remove_file(dir.join("action.yml")),
    ] {
        tamper(&fetched.dir).expect("tamper");
        let again = source.fetch("octo", "tool", &first).await.expect("fetched again");
        assert!(again.downloaded);
        assert_eq!(action_name(&again.dir), "name: one\n");
        assert!(!again.dir.join("extra.js").exists());
    }
}

#[tokio::test]
async fn bare_repositories_with_a_git_suffix_are_found() {
    let root = tempfile::tempdir().expect("tempdir");
    let (_, second) = source_repo(&root.path().join("work"));
    std::fs::create_dir_all(root.path().join("src/octo")).expect("mkdir");
    git(root.path(), &["clone", "--quiet", "--bare", "work/octo/tool", "src/octo/tool.git"]);
    let source = ActionsSource::new(&root.path().join("src").display().to_string(), root.path().join("store"))
        .expect("a source");
    assert_eq!(source.fetch("octo", "tool", "v2").await.expect("v2").sha, second);
}

#[tokio::test]
async fn concurrent_fetches_of_one_commit_download_it_once() {
    let root = tempfile::tempdir().expect("tempdir");
    source_repo(&root.path().join("src"));
    let source = ActionsSource::new(&root.path().join("src").display().to_string(), root.path().join("store"))
        .expect("a source");
    let other_run = source.for_run();
    let (one, two) = tokio::join!(source.fetch("octo", "tool", "v1"), other_run.fetch("octo", "tool", "v1"));
    assert_eq!(one.expect("one").dir, two.expect("two").dir);
    assert_eq!(source.n_downloads(), 1);
}

#[tokio::test]
async fn missing_repositories_and_refs_are_clear_errors() {
    let root = tempfile::tempdir().expect("tempdir");
    source_repo(&root.path().join("src"));
    let source = ActionsSource::new(&root.path().join("src").display().to_string(), root.path().join("store"))
        .expect("a source");
    let error = source.fetch("octo", "nope", "v1").await.expect_err("no such repository");
    assert!(matches!(error, ActionsError::RepositoryNotFound { .. }), "{error}");
    let error = source.fetch("octo", "tool", "v9").await.expect_err("no such tag");
    assert!(matches!(error, ActionsError::UnknownRef { .. }), "{error}");
    assert!(error.to_string().contains("no tag or branch `v9`"), "{error}");
    let error = source.fetch("octo", "tool", "--upload-pack=touch").await.expect_err("an option");
    assert!(matches!(error, ActionsError::BadReference(_)), "{error}");
    let error = source.fetch("octo", "tool", &"0".repeat(40)).await.expect_err("no such commit");
    assert!(matches!(error, ActionsError::Fetch { .. }), "{error}");
    assert!(ActionsSource::new("ftp://example.com", root.path().join("store")).is_err());
    assert!(ActionsSource::new(&root.path().join("absent").display().to_string(), root.path().join("store")).is_err());
}

#[tokio::test]
async fn credentials_in_the_source_url_are_never_shown() {
    let root = tempfile::tempdir().expect("tempdir");
    // Nothing listens on port 9 of loopback: git fails at once.
    let source =
        ActionsSource::new("http://user:s3cret@127.0.0.1:9/base", root.path().join("store")).expect("a source");
    let error = source.fetch("octo", "tool", "v1").await.expect_err("unreachable");
    assert!(!error.to_string().contains("s3cret"), "{error}");
    assert!(error.to_string().contains("http://127.0.0.1:9/base"), "{error}");
    assert_eq!(redact("https://x:y@host/a@b"), "https://host/a@b");
    assert_eq!(redact("https://github.com"), "https://github.com");
}
