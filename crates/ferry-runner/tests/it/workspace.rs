//! Workspaces: real git repositories in temporary directories.

use std::path::Path;
use std::process::Command;

use ferry_runner::workspace::{
    HeadCommit, WorkspaceError, copy_workspace, folder_name, head_commit, job_workspace, lock_work_slot,
    prepare_workspace, work_slots_of,
};
use tempfile::TempDir;

/// Runs git in `dir` with a fixed identity, so no global git config is needed; returns stdout.
/// Runs git in `dir` with a test identity; its output, trimmed. Shared by the agent tests.
pub(crate) fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Ferry Tests")
        .env("GIT_AUTHOR_EMAIL", "tests@ferry.invalid")
        .env("GIT_COMMITTER_NAME", "Ferry Tests")
        .env("GIT_COMMITTER_EMAIL", "tests@ferry.invalid")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8 output").trim_end().to_owned()
}

/// A repository on branch `main` with one commit per entry of `versions` (the text of
/// `file.txt`); returns it and the commit ids in order.
fn repo(versions: &[&str]) -> (TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    git(dir.path(), &["init", "--quiet", "--initial-branch=main"]);
    let shas = versions
        .iter()
        .map(|text| {
            std::fs::write(dir.path().join("file.txt"), text).expect("write file");
            git(dir.path(), &["add", "file.txt"]);
            git(dir.path(), &["commit", "--quiet", "-m", text]);
            git(dir.path(), &["rev-parse", "HEAD"])
        })
        .collect();
    (dir, shas)
}

#[tokio::test]
async fn head_commit_reads_sha_and_branch() {
    let (dir, shas) = repo(&["one", "two"]);
    let head = head_commit(dir.path()).await.expect("head");
    assert_eq!(head, HeadCommit { sha: shas[1].clone(), branch: Some("main".into()) });

    git(dir.path(), &["checkout", "--quiet", "--detach", &shas[0]]);
    let head = head_commit(dir.path()).await.expect("detached head");
    assert_eq!(head, HeadCommit { sha: shas[0].clone(), branch: None });
}

#[tokio::test]
async fn workspace_is_a_repository_at_the_commit() {
    let (dir, shas) = repo(&["one", "two"]);
    let dest = tempfile::tempdir().expect("temporary directory");
    let workspace = dest.path().join("ws");
    prepare_workspace(dir.path(), &shas[0], &workspace).await.expect("workspace");
    assert_eq!(std::fs::read_to_string(workspace.join("file.txt")).expect("checked out"), "one");
    assert_eq!(git(&workspace, &["log", "--format=%H %s"]), format!("{} one", shas[0]));
    assert_eq!(git(&workspace, &["status", "--porcelain"]), "");
    assert_eq!(head_commit(&workspace).await.expect("head").branch, None);
    // As `git clone --shared` leaves it: `origin` is the source, whose objects it reads.
    assert_eq!(git(&workspace, &["remote", "get-url", "origin"]), dir.path().display().to_string());
    assert_eq!(git(&workspace, &["cat-file", "-t", &shas[1]]), "commit");

    // What steps do in a workspace: make a branch and a tag, commit, fetch from `origin`
    // (the folders git left out of the layout are made as needed).
    git(&workspace, &["switch", "--quiet", "-c", "topic"]);
    git(&workspace, &["tag", "v1"]);
    std::fs::write(workspace.join("file.txt"), "changed").expect("a step writes");
    git(&workspace, &["commit", "--quiet", "-am", "changed"]);
    git(&workspace, &["fetch", "--quiet", "origin"]);
    assert_eq!(git(&workspace, &["rev-parse", "origin/main"]), shas[1]);
    assert_eq!(git(&workspace, &["rev-parse", "v1"]), shas[0]);

    // An abbreviated id and an existing empty directory do as well.
    let empty = tempfile::tempdir().expect("temporary directory");
    prepare_workspace(dir.path(), &shas[1][..10], empty.path()).await.expect("workspace");
    assert_eq!(std::fs::read_to_string(empty.path().join("file.txt")).expect("checked out"), "two");
}

#[tokio::test]
async fn a_workspace_keeps_executables_links_and_line_ends_as_a_checkout_does() {
    let (dir, _) = repo(&["one"]);
    std::fs::write(dir.path().join("run.sh"), "#!/bin/sh\necho hi\n").expect("script");
    std::fs::set_permissions(dir.path().join("run.sh"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    std::os::unix::fs::symlink("file.txt", dir.path().join("link")).expect("symlink");
    std::fs::write(dir.path().join(".gitattributes"), "*.bat text eol=crlf\n").expect("attributes");
    std::fs::write(dir.path().join("win.bat"), "echo one\necho two\n").expect("batch file");
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "--quiet", "-m", "kinds"]);
    let sha = git(dir.path(), &["rev-parse", "HEAD"]);
    let dest = tempfile::tempdir().expect("temporary directory");
    let workspace = dest.path().join("ws");
    prepare_workspace(dir.path(), &sha, &workspace).await.expect("workspace");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(workspace.join("run.sh")).expect("script").permissions(),
    );
    assert_eq!(mode & 0o111, 0o111, "executable");
    assert_eq!(std::fs::read_link(workspace.join("link")).expect("a link"), Path::new("file.txt"));
    assert_eq!(std::fs::read_to_string(workspace.join("win.bat")).expect("batch file"), "echo one\r\necho two\r\n");
    assert_eq!(git(&workspace, &["status", "--porcelain"]), "");
}

#[tokio::test]
async fn a_workspace_of_a_bare_mirror_under_an_odd_path_reads_its_objects() {
    let (dir, shas) = repo(&["one", "two"]);
    let root = tempfile::tempdir().expect("temporary directory");
    let mirror = root.path().join(r#"a "quoted" \ path.git"#);
    let output = Command::new("git")
        .args(["clone", "--quiet", "--mirror", "--"])
        .arg(dir.path())
        .arg(&mirror)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let workspace = root.path().join("ws");
    prepare_workspace(&mirror, &shas[1], &workspace).await.expect("workspace");
    assert_eq!(std::fs::read_to_string(workspace.join("file.txt")).expect("checked out"), "two");
    assert_eq!(git(&workspace, &["log", "--format=%s"]), "two\none");
    assert_eq!(git(&workspace, &["remote", "get-url", "origin"]), mirror.display().to_string());
    assert_eq!(git(&workspace, &["status", "--porcelain"]), "");
}

#[tokio::test]
async fn a_sha256_repository_gets_a_workspace_of_its_own_kind() {
    let dir = tempfile::tempdir().expect("temporary directory");
    git(dir.path(), &["init", "--quiet", "--object-format=sha256", "--initial-branch=main"]);
    std::fs::write(dir.path().join("file.txt"), "long ids").expect("write file");
    git(dir.path(), &["add", "file.txt"]);
    git(dir.path(), &["commit", "--quiet", "-m", "sha256"]);
    let sha = git(dir.path(), &["rev-parse", "HEAD"]);
    assert_eq!(sha.len(), 64);
    let workspace = dir.path().join("ws");
    prepare_workspace(dir.path(), &sha, &workspace).await.expect("workspace");
    assert_eq!(git(&workspace, &["log", "--format=%H"]), sha);
    assert_eq!(std::fs::read_to_string(workspace.join("file.txt")).expect("checked out"), "long ids");
}

#[tokio::test]
async fn a_copied_workspace_is_a_repository_of_its_own() {
    let (dir, shas) = repo(&["one"]);
    let dest = tempfile::tempdir().expect("temporary directory");
    let checkout = dest.path().join("checkout");
    prepare_workspace(dir.path(), &shas[0], &checkout).await.expect("workspace");
    std::os::unix::fs::symlink("file.txt", checkout.join("link")).expect("symlink");
    std::fs::create_dir(checkout.join("bin")).expect("mkdir");
    std::fs::write(checkout.join("bin/tool"), "#!/bin/sh\n").expect("write");
    let mode =
        |path: &Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).expect("stat").permissions());
    std::fs::set_permissions(checkout.join("bin/tool"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");

    let copy = dest.path().join("copy");
    copy_workspace(&checkout, &copy).expect("copy");
    assert_eq!(std::fs::read_link(copy.join("link")).expect("a link").to_str(), Some("file.txt"));
    assert_eq!(mode(&copy.join("bin/tool")) & 0o777, 0o755);
    assert_eq!(git(&copy, &["log", "--format=%H"]), shas[0]);
    // Changing the copy leaves the original alone.
    std::fs::write(copy.join("file.txt"), "changed").expect("write");
    assert_eq!(std::fs::read_to_string(checkout.join("file.txt")).expect("read"), "one");
    assert!(copy_workspace(&checkout, &copy).is_err(), "copying onto an existing directory must fail");
}

#[tokio::test]
async fn errors_say_what_is_wrong() {
    let not_repo = tempfile::tempdir().expect("temporary directory");
    let error = head_commit(not_repo.path()).await.expect_err("not a repository");
    assert!(matches!(error, WorkspaceError::NotARepository(_)), "{error:?}");
    assert!(error.to_string().contains("git init"), "{error}");

    let error = head_commit(&not_repo.path().join("missing")).await.expect_err("no directory");
    assert!(matches!(error, WorkspaceError::NotARepository(_)), "{error:?}");

    let unborn = tempfile::tempdir().expect("temporary directory");
    git(unborn.path(), &["init", "--quiet"]);
    let error = head_commit(unborn.path()).await.expect_err("no commits");
    assert!(matches!(error, WorkspaceError::NoCommits(_)), "{error:?}");
    assert!(error.to_string().contains("git commit"), "{error}");

    let (dir, shas) = repo(&["one"]);
    let dest = tempfile::tempdir().expect("temporary directory");
    for sha in ["0123456789abcdef0123456789abcdef01234567", "--upload-pack=evil", "", "no such ref"] {
        let error = prepare_workspace(dir.path(), sha, &dest.path().join("ws")).await.expect_err("unknown commit");
        assert!(matches!(error, WorkspaceError::UnknownCommit { .. }), "{sha}: {error:?}");
    }

    std::fs::write(dest.path().join("occupied"), "").expect("write file");
    let error = prepare_workspace(dir.path(), &shas[0], dest.path()).await.expect_err("not empty");
    assert!(matches!(error, WorkspaceError::DestinationNotEmpty(_)), "{error:?}");

    let error = prepare_workspace(not_repo.path(), &shas[0], &dest.path().join("ws")).await.expect_err("no repo");
    assert!(matches!(error, WorkspaceError::NotARepository(_)), "{error:?}");
}

#[test]
fn workspaces_are_named_after_the_repository_as_on_githubs_runner() {
    for (repository, name) in [
        ("octo/web", "web"),
        ("https://git.example/octo/web.git", "web"),
        ("git@git.example:web.git", "web"),
        ("/srv/repos/my project/", "my_project"),
        ("octo/..", "workspace"),
        ("", "workspace"),
    ] {
        assert_eq!(folder_name(repository), name, "{repository:?}");
    }
    assert_eq!(job_workspace(Path::new("/work/0"), "octo/web"), Path::new("/work/0/web/web"));
    let base = Path::new("/cache/work");
    assert_eq!(work_slots_of(base, Path::new("/src/a")), work_slots_of(base, Path::new("/src/a")));
    assert_ne!(work_slots_of(base, Path::new("/src/a")), work_slots_of(base, Path::new("/src/b")));
}

#[test]
fn a_work_slot_is_held_until_dropped_and_taken_again_empty() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let slots = dir.path().join("slots");
    let first = lock_work_slot(&slots).expect("a slot");
    let second = lock_work_slot(&slots).expect("another slot");
    assert_eq!(first.root(), slots.join("0"));
    assert_eq!(second.root(), slots.join("1"));
    std::fs::write(first.root().join("left-behind"), "a killed job's file").expect("write");
    drop(first);
    let again = lock_work_slot(&slots).expect("the first slot again");
    assert_eq!(again.root(), slots.join("0"));
    assert_eq!(std::fs::read_dir(again.root()).expect("the slot's folder").count(), 0);
}
