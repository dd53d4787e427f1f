//! Unit tests of what the store decides without a database: which migrations it embeds.

use std::collections::BTreeSet;

use super::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS, sqlite_url};

/// The `NNNN` versions of the `.sql` files in `migrations/<backend>`.
fn versions_on_disk(backend: &str) -> BTreeSet<i64> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    std::fs::read_dir(&dir)
        .expect("reading the migrations directory")
        .map(|entry| entry.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .map(|name| name.split('_').next().and_then(|version| version.parse().ok()).expect("NNNN_name.sql"))
        .collect()
}

#[test]
fn every_migration_file_is_embedded_and_both_backends_have_the_same_versions() {
    let sqlite: BTreeSet<i64> = SQLITE_MIGRATIONS.iter().map(|&(version, ..)| version).collect();
    let postgres: BTreeSet<i64> = POSTGRES_MIGRATIONS.iter().map(|&(version, ..)| version).collect();
    assert_eq!(sqlite, versions_on_disk("sqlite"));
    assert_eq!(postgres, versions_on_disk("postgres"));
    assert_eq!(sqlite, postgres);
    assert_eq!(sqlite.len(), SQLITE_MIGRATIONS.len(), "versions are unique");
}

#[test]
fn sqlite_urls_create_the_file_if_missing() {
    assert_eq!(sqlite_url("/var/lib/ferry/ferry.db"), "sqlite:///var/lib/ferry/ferry.db?mode=rwc");
    assert_eq!(sqlite_url("ferry.db?cache=private"), "sqlite://ferry.db?cache=private&mode=rwc");
}
