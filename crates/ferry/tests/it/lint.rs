//! `ferry lint`: every finding with file:line:col, JSON output, exit codes (the real-world
//! corpus is linted in `corpus.rs`).

use crate::harness::{Repo, ferry};

pub fn lint(args: &[&str], dir: &std::path::Path) -> (Option<i32>, String) {
    let out = ferry().current_dir(dir).arg("lint").args(args).output().expect("ferry runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

#[test]
fn findings_point_at_the_source_and_say_how_to_fix_them() {
    let repo = Repo::new(&[
        (
            ".github/workflows/ci.yml",
            "on: [push, pul_request]\njobs:\n  a:\n    needs: [b]\n    runs-on: x\n    steps:\n      - run: echo ${{ contains(github.ref) }}\n        retry: 3\n  b:\n    needs: a\n    runs-on: x\n    steps:\n      - run: echo ${{ githb.sha }}\n",
        ),
        (
            ".ferry/workflows/ok.yml",
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: exit 1\n        retry: 3\n",
        ),
    ]);
    let (code, out) = lint(&[], repo.path());
    assert_eq!(code, Some(1), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn json_lists_every_finding() {
    let repo = Repo::with_workflow("on: push\njobs:\n  a:\n    runs-on: x\n    stepz: []\n");
    let (code, out) = lint(&["--json"], repo.path());
    assert_eq!(code, Some(1), "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(json["files"], 1);
    assert_eq!(json["errors"].as_u64(), Some(json["diagnostics"].as_array().expect("list").len() as u64));
    let first = &json["diagnostics"][0];
    assert_eq!(
        (first["file"].as_str().map(|file| file.ends_with("ci.yml")), &first["line"], &first["col"], &first["code"]),
        (Some(true), &serde_json::json!(5), &serde_json::json!(5), &serde_json::json!("unknown-key"))
    );
}

#[test]
fn a_clean_repository_passes_and_nothing_to_lint_is_an_error() {
    let repo = Repo::with_workflow("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: true\n");
    let (code, out) = lint(&[], repo.path());
    assert_eq!((code, out.trim()), (Some(0), "ok: 1 file checked, 0 errors, 0 warnings"));
    let empty = tempfile::tempdir().expect("temp dir");
    let (code, out) = lint(&[], empty.path());
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("no workflow files found"), "{out}");
}
