//! Syncing a used workspace back to its commit's files, and the traps a job may leave.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use super::sync_workspace;

/// A checkout: `a.txt`, an executable `run.sh`, `dir/b.txt`, `link -> a.txt`.
fn checkout(root: &Path) -> std::path::PathBuf {
    let src = root.join("checkout");
    std::fs::create_dir_all(src.join("dir")).expect("dir");
    std::fs::write(src.join("a.txt"), "alpha\n").expect("a");
    std::fs::write(src.join("run.sh"), "#!/bin/sh\n").expect("run");
    std::fs::set_permissions(src.join("run.sh"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(src.join("dir/b.txt"), "beta\n").expect("b");
    std::os::unix::fs::symlink("a.txt", src.join("link")).expect("link");
    src
}

/// Every path under `dir` with what it is: `path: text`, `path -> target`, `path/`, and modes of files.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).expect("read_dir") {
            let path = entry.expect("entry").path();
            let rel = path.strip_prefix(dir).expect("under").display().to_string();
            let meta = std::fs::symlink_metadata(&path).expect("meta");
            if meta.file_type().is_symlink() {
                out.push(format!("{rel} -> {}", std::fs::read_link(&path).expect("link").display()));
            } else if meta.is_dir() {
                out.push(format!("{rel}/ {:o}", meta.permissions().mode() & 0o777));
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).expect("text");
                out.push(format!("{rel}: {text:?} {:o}", meta.permissions().mode() & 0o777));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_missing_workspace_is_copied_and_an_untouched_one_is_left_as_it_is() {
    let root = tempfile::tempdir().expect("tmp");
    let src = checkout(root.path());
    let dest = root.path().join("work");
    sync_workspace(&src, &dest).expect("copy");
    assert_eq!(listing(&dest), listing(&src));
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(dest.join("a.txt")).expect("meta"));
    sync_workspace(&src, &dest).expect("sync");
    assert_eq!(listing(&dest), listing(&src));
    let again = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(dest.join("a.txt")).expect("meta"));
    assert_eq!(inode, again, "an unchanged file keeps its inode");
}

#[test]
fn what_a_job_changed_added_or_removed_is_put_back() {
    let root = tempfile::tempdir().expect("tmp");
    let src = checkout(root.path());
    let dest = root.path().join("work");
    sync_workspace(&src, &dest).expect("copy");
    // What a build leaves: new files and folders, edits, a shorter file, removals, kinds swapped.
    std::fs::write(dest.join("a.txt"), "ALPHA\n").expect("same length, other bytes");
    std::fs::write(dest.join("dir/b.txt"), "b").expect("shorter");
    std::fs::set_permissions(dest.join("run.sh"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::create_dir_all(dest.join("target/debug")).expect("target");
    std::fs::write(dest.join("target/debug/app"), "bin").expect("app");
    std::fs::write(dest.join("new.txt"), "new").expect("new");
    std::fs::remove_file(dest.join("link")).expect("rm link");
    std::fs::create_dir(dest.join("link")).expect("a folder where the link was");
    std::fs::remove_dir_all(dest.join("dir")).expect("rm dir");
    std::fs::write(dest.join("dir"), "a file where the folder was").expect("file");
    sync_workspace(&src, &dest).expect("sync");
    assert_eq!(listing(&dest), listing(&src));
}

#[test]
fn a_hard_link_or_symbolic_link_a_job_left_is_replaced_and_never_written_through() {
    let root = tempfile::tempdir().expect("tmp");
    let src = checkout(root.path());
    let dest = root.path().join("work");
    sync_workspace(&src, &dest).expect("copy");
    let outside = root.path().join("outside.txt");
    std::fs::write(&outside, "precious").expect("outside");
    // a.txt becomes a second name of a file outside the workspace; dir/b.txt a link out of it.
    std::fs::remove_file(dest.join("a.txt")).expect("rm");
    std::fs::hard_link(&outside, dest.join("a.txt")).expect("hard link");
    std::fs::remove_file(dest.join("dir/b.txt")).expect("rm");
    std::os::unix::fs::symlink(&outside, dest.join("dir/b.txt")).expect("symlink");
    // And the folder itself is locked.
    std::fs::set_permissions(dest.join("dir"), std::fs::Permissions::from_mode(0o000)).expect("chmod");
    sync_workspace(&src, &dest).expect("sync");
    assert_eq!(std::fs::read_to_string(&outside).expect("outside"), "precious");
    assert_eq!(listing(&dest), listing(&src));
}

#[test]
fn a_workspace_that_is_a_link_is_replaced_by_a_copy() {
    let root = tempfile::tempdir().expect("tmp");
    let src = checkout(root.path());
    let elsewhere = root.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("elsewhere");
    std::fs::write(elsewhere.join("keep.txt"), "mine").expect("keep");
    let dest = root.path().join("work");
    std::os::unix::fs::symlink(&elsewhere, &dest).expect("link");
    sync_workspace(&src, &dest).expect("sync");
    assert_eq!(listing(&dest), listing(&src));
    assert_eq!(std::fs::read_to_string(elsewhere.join("keep.txt")).expect("kept"), "mine");
}
