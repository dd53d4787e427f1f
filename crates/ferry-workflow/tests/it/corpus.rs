//! Every workflow and action of the real-world corpus runs on GitHub, so any error we report on
//! one is a false positive.

use ferry_workflow::{Dialect, parse_action, parse_workflow};

use crate::{corpus_dir, files_with, render};

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

/// The workflows and actions of the repository's own examples read clean, in the dialect their
/// folder gives them.
#[test]
fn the_examples_are_clean() {
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut pending = vec![examples];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let text_path = path.to_string_lossy().replace('\\', "/");
            let is_yaml = text_path.ends_with(".yml") || text_path.ends_with(".yaml");
            let diagnostics = if is_yaml && text_path.contains("/workflows/") {
                let src = std::fs::read_to_string(&path).expect("examples are UTF-8");
                parse_workflow(&src, Dialect::for_path(&text_path)).1
            } else if is_yaml && path.file_stem().is_some_and(|stem| stem == "action") {
                let src = std::fs::read_to_string(&path).expect("examples are UTF-8");
                parse_action(&src).1
            } else {
                continue;
            };
            checked += 1;
            if !diagnostics.is_empty() {
                failures.push(format!("{text_path}:\n{}", render(&diagnostics)));
            }
        }
    }
    assert!(checked >= 3, "expected the example workflows and action, found {checked} files");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
