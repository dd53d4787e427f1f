//! Checks over the real-world corpus beside the repository (`../shared/corpus`, or
//! `$FERRY_CORPUS`): GitHub runs those files, so any error `ferry lint` reports there is ours.
//! Tests under `corpus::` run in their own step, `scripts/corpus`; `scripts/test` leaves them
//! out so that a clone without the corpus passes.

use std::path::PathBuf;

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
