//! Every workflow and action of the real-world corpus runs on GitHub, so any error we report on
//! one is a false positive; and none of them, mangled, makes a reader panic. Tests under
//! `corpus::` run in their own step (`scripts/corpus`), where the corpus is.

use ferry_workflow::{Dialect, parse_action, parse_workflow};

use crate::{corpus_dir, files_with, no_panic::mangle, render};

fn corpus() -> std::path::PathBuf {
    let dir = corpus_dir();
    assert!(
        dir.join("workflows").is_dir() && dir.join("actions").is_dir(),
        "the corpus is missing: looked for {}/workflows and {}/actions (set FERRY_CORPUS to the corpus folder)",
        dir.display(),
        dir.display()
    );
    dir
}

#[test]
fn every_corpus_workflow_is_clean() {
    let files = files_with(&corpus().join("workflows"), &["yml", "yaml"]);
    assert!(files.len() >= 79, "expected the 79 corpus workflows, found {}", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let src = std::fs::read_to_string(file).expect("corpus files are UTF-8");
        let (workflow, diagnostics) = parse_workflow(&src, Dialect::GitHub);
        let errors: Vec<_> = diagnostics.into_iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() || workflow.is_none() {
            failures.push(format!("{}:\n{}", file.display(), render(&errors)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} workflows have errors:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_corpus_action_is_clean() {
    let dir = corpus().join("actions");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("the actions folder is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(
                files_with(&path, &["yml", "yaml"])
                    .into_iter()
                    .filter(|file| file.file_stem().is_some_and(|stem| stem == "action")),
            );
        }
    }
    files.sort();
    assert!(files.len() >= 11, "expected the 11 corpus actions, found {}", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let src = std::fs::read_to_string(file).expect("corpus files are UTF-8");
        let (action, diagnostics) = parse_action(&src);
        let errors: Vec<_> = diagnostics.into_iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() || action.is_none() {
            failures.push(format!("{}:\n{}", file.display(), render(&errors)));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} actions have errors:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

fn corpus_files() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let corpus = corpus();
    files.extend(files_with(&corpus.join("workflows"), &["yml", "yaml"]));
    for entry in std::fs::read_dir(corpus.join("actions")).expect("the corpus actions folder") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(files_with(&path, &["yml", "yaml"]));
        }
    }
    files
}

#[test]
fn mangled_corpus_files_never_panic() {
    for file in corpus_files() {
        let src = std::fs::read_to_string(&file).expect("test inputs are UTF-8");
        mangle(&src, 12);
    }
}
