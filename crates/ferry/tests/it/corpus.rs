//! Checks over the real-world corpus beside the repository (`../shared/corpus`, or
//! `$FERRY_CORPUS`): GitHub runs those files, so any error `ferry lint` reports there is ours.
//! Tests under `corpus::` run in their own step, `scripts/corpus`; `scripts/test` leaves them
//! out so that a clone without the corpus passes.

use std::path::PathBuf;

use crate::harness::{Repo, marker};
use crate::lint::lint;

/// The real-world corpus beside the repository (`../shared/corpus`, or `$FERRY_CORPUS`).
fn corpus() -> PathBuf {
    let dir = std::env::var_os("FERRY_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    assert!(dir.join("workflows").is_dir(), "the real-world corpus is missing: looked in {}", dir.display());
    dir
}

#[test]
fn every_real_world_workflow_and_action_lints_clean() {
    let corpus = corpus();
    let (code, out) = lint(&[corpus.join("workflows").to_str().expect("utf-8 path")], &corpus);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.trim().ends_with("ok: 79 files checked, 0 errors, 0 warnings"), "{out}");
    let mut actions: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(corpus.join("actions")).expect("actions folder").flatten() {
        if entry.path().is_dir() {
            for file in std::fs::read_dir(entry.path()).expect("action folder").flatten() {
                actions.push(file.path().display().to_string());
            }
        }
    }
    assert_eq!(actions.len(), 11);
    let args: Vec<&str> = actions.iter().map(String::as_str).collect();
    let (code, out) = lint(&args, &corpus);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.trim().ends_with("ok: 11 files checked, 0 errors, 0 warnings"), "{out}");
}

/// `Swatinem/rust-cache` (from the corpus's `action-repos`) caches `<workspace>/target`, and
/// the toolkit's cache version is a hash of that path: the second `ferry run` restores what the
/// first saved only because the workspace's path is the same in both.
#[test]
fn rust_cache_restores_the_first_runs_cache_in_the_second_run() {
    let repo = Repo::new(&[
        ("Cargo.toml", "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"),
        ("Cargo.lock", "version = 4\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n"),
        ("src/main.rs", "fn main() {\n    println!(\"hello\");\n}\n"),
    ]);
    let cargo_home = marker(&repo, "cargo-home");
    repo.write(
        ".github/workflows/ci.yml",
        &format!(
            r#"on: push
env:
  CARGO_HOME: {}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: cache
        uses: Swatinem/rust-cache@v2
      - run: echo "hit=${{{{ steps.cache.outputs.cache-hit }}}}"; cargo build --offline
"#,
            cargo_home.display()
        ),
    );
    repo.commit("workflow");
    let actions_url = format!("file://{}", corpus().join("action-repos").display());
    let runs: Vec<_> = (0..2).map(|_| repo.run(&["--actions-url", &actions_url])).collect();
    for run in &runs {
        assert_eq!(run.code, Some(0), "{}", run.context());
    }
    assert!(runs[0].lines_of("build").contains(&"hit=false"), "{}", runs[0].context());
    let second = runs[1].lines_of("build");
    assert!(second.contains(&"hit=true"), "{}", runs[1].context());
    assert!(second.iter().any(|line| line.starts_with("Restored from cache key ")), "{}", runs[1].context());
}
