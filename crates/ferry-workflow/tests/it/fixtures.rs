//! Snapshots of the diagnostics for the fixtures in `tests/fixtures/`: `github/` are read as
//! GitHub workflows, `ferry/` as Ferry workflows, `actions/` as `action.yml` files. Each
//! snapshot lists one diagnostic a line as `line:col code: message (help)`. And the repository's
//! own examples read clean.

use ferry_workflow::{Dialect, parse_action, parse_workflow};

use crate::{files_with, fixtures_dir, lint_action, lint_workflow, render};

fn snapshot_each(folder: &str, lint: impl Fn(&str) -> String) {
    let files = files_with(&fixtures_dir().join(folder), &["yml", "yaml"]);
    assert!(!files.is_empty(), "no fixtures in {folder}");
    for file in files {
        let src = std::fs::read_to_string(&file).expect("fixtures are UTF-8");
        let stem = file.file_stem().and_then(|stem| stem.to_str()).expect("a UTF-8 file name");
        insta::with_settings!({ prepend_module_to_snapshot => false, input_file => &file }, {
            insta::assert_snapshot!(format!("{folder}__{stem}"), lint(&src));
        });
    }
}

#[test]
fn github_fixtures() {
    snapshot_each("github", |src| lint_workflow(src, Dialect::GitHub));
}

#[test]
fn ferry_fixtures() {
    snapshot_each("ferry", |src| lint_workflow(src, Dialect::Ferry));
}

#[test]
fn action_fixtures() {
    snapshot_each("actions", lint_action);
}

/// `{ "value": v, "span": … }` becomes `v` and other spans are dropped, so the snapshot shows
/// the model's shape.
fn without_spans(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(mut map) => {
            map.remove("span");
            if map.len() == 1
                && let Some(inner) = map.remove("value")
            {
                return without_spans(inner);
            }
            Value::Object(map.into_iter().map(|(key, value)| (key, without_spans(value))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(without_spans).collect()),
        other => other,
    }
}

#[test]
fn clean_workflow_model() {
    let src = std::fs::read_to_string(fixtures_dir().join("github/clean.yml")).expect("the fixture");
    let (workflow, diagnostics) = parse_workflow(&src, Dialect::GitHub);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let json = serde_json::to_value(workflow.expect("a workflow")).expect("the model serializes");
    let pretty = serde_json::to_string_pretty(&without_spans(json)).expect("JSON prints");
    insta::assert_snapshot!("clean_workflow_model", pretty);
}

#[test]
fn spans_point_into_the_source() {
    let src = "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make ${{ matrix.x }}\n";
    let (workflow, _) = parse_workflow(src, Dialect::GitHub);
    let workflow = workflow.expect("a workflow");
    let job = &workflow.jobs["build"];
    assert_eq!((job.id.span.start.line, job.id.span.start.col), (3, 3));
    let ferry_workflow::model::StepKind::Run { run, .. } = &job.steps[0].kind else { panic!("a run step") };
    assert_eq!(&src[run.span.start.offset..run.span.end.offset], "make ${{ matrix.x }}");
    assert_eq!((run.span.start.line, run.span.start.col), (6, 14));
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
