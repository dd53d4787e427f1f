//! Copies of the server's cache entries stay while restores use them and leave when nothing
//! did for a week.

use super::*;

/// A folder `name` in `dir` last modified `age` ago, holding a file of 100 bytes.
fn folder(dir: &Path, name: &str, age: Duration) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.join("paths/0")).expect("a folder");
    std::fs::write(path.join("paths/0/value.txt"), [b'v'; 100]).expect("a file");
    std::fs::File::open(&path).expect("open").set_modified(SystemTime::now() - age).expect("aged");
    path
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("a folder")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn copies_no_restore_used_for_a_week_and_abandoned_fetches_go_to_the_trash() {
    let root = tempfile::tempdir().expect("temporary directory");
    let (dir, trash_dir) = (root.path().join("cache"), root.path().join("trash"));
    std::fs::create_dir_all(&trash_dir).expect("trash folder");
    let day = Duration::from_secs(24 * 60 * 60);
    folder(&dir, "server-old", 8 * day);
    folder(&dir, "server-fresh", day);
    folder(&dir, ".fetching-3-server-abc", 10 * day);
    // Old, but a restore just chose it.
    let restored = folder(&dir, "server-restored", 30 * day);
    touch(&restored).expect("touched");
    let cache = CacheFolder { dir: dir.clone(), lock: tokio::sync::Mutex::new(()) };
    let trash = Trash::new(trash_dir.clone());

    let keep = Keep { unused_since: SystemTime::now() - KEEP_UNUSED, max_bytes: MAX_BYTES };
    assert_eq!(prune(&cache, keep, &trash).await.expect("pruned"), 2);
    assert_eq!(names(&dir), ["server-fresh", "server-restored"]);
    assert_eq!(names(&trash_dir).len(), 2, "moved to the trash, which deletes them");
    // Nothing left to prune.
    assert_eq!(prune(&cache, keep, &trash).await.expect("pruned"), 0);
}

#[tokio::test]
async fn beyond_the_size_bound_the_least_recently_used_copies_go() {
    let root = tempfile::tempdir().expect("temporary directory");
    let (dir, trash_dir) = (root.path().join("cache"), root.path().join("trash"));
    std::fs::create_dir_all(&trash_dir).expect("trash folder");
    let hour = Duration::from_secs(60 * 60);
    for (name, age) in [("server-a", 5 * hour), ("server-b", 3 * hour), ("server-c", 4 * hour), ("server-d", hour)] {
        folder(&dir, name, age);
    }
    // A save in progress, started before every restore: not taken for its size.
    folder(&dir, ".partial-7-server-e", 6 * hour);
    let cache = CacheFolder { dir: dir.clone(), lock: tokio::sync::Mutex::new(()) };
    let trash = Trash::new(trash_dir);
    // Room for three of the five 100-byte folders: the two copies used longest ago go.
    let keep = Keep { unused_since: SystemTime::now() - KEEP_UNUSED, max_bytes: 350 };
    assert_eq!(prune(&cache, keep, &trash).await.expect("pruned"), 2);
    assert_eq!(names(&dir), [".partial-7-server-e", "server-b", "server-d"]);
    assert_eq!(tree_bytes(&dir), 300);
}

#[test]
fn touching_a_copy_that_is_gone_fails() {
    let root = tempfile::tempdir().expect("temporary directory");
    assert!(touch(&root.path().join("server-gone")).is_err(), "a restore must fetch it again");
}
