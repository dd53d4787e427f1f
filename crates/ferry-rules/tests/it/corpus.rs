//! Real-world rule files and promtool tests (`../shared/corpus/prometheus-rules`): every rule
//! file reads without an error, and every promtool test passes, but prometheus' own
//! `failing.yml`, which must fail as promtool fails it. Tests under `corpus::` run in their
//! own step (`scripts/corpus`), where the corpus is.

use crate::run_file;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    let dir = std::env::var_os("FERRY_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"))
        .join("prometheus-rules");
    assert!(
        dir.is_dir(),
        "the corpus is missing: looked for {} (set FERRY_CORPUS to the corpus folder)",
        dir.display()
    );
    dir
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "yml" || ext == "yaml") {
            out.push(path);
        }
    }
    out.sort();
}

/// Whether a file is a promtool test file rather than a rule file.
fn is_test_file(src: &str) -> bool {
    src.lines().any(|line| line.starts_with("tests:"))
}

#[test]
fn every_corpus_rule_file_reads_without_an_error() {
    let mut files = Vec::new();
    yaml_files(&corpus(), &mut files);
    let mut n_rule_files = 0;
    let mut failures = Vec::new();
    for file in &files {
        let src = std::fs::read_to_string(file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        if is_test_file(&src) {
            continue;
        }
        n_rule_files += 1;
        if let Err(error) = ferry_rules::load_rule_file(&file.display().to_string(), &src) {
            failures.push(error.to_string());
        }
    }
    assert!(n_rule_files >= 35, "expected the corpus' rule files, found {n_rule_files}");
    assert!(
        failures.is_empty(),
        "{} of {n_rule_files} rule files have errors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Corpus tests that Prometheus 3 passes and we do not, and why.
const KNOWN_GAPS: &[(&str, &str)] = &[
    // FIXME(#17): native histogram samples (`{{schema:1 …}}`) in input series and expected
    // samples; and `count_over_time(test[1m])` counts 60 in Prometheus 3 (ranges open on the
    // left) where ferry-promql, matching Prometheus 2.42, counts 61.
    ("prometheus__prometheus/unittest.yml", "native histograms, Prometheus 3 range semantics"),
];

#[test]
fn every_corpus_promtool_test_passes_but_failing_yml() {
    let dir = corpus().join("promtool");
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    let mut n_tests = 0;
    let mut failures = Vec::new();
    for file in &files {
        let src = std::fs::read_to_string(file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        if !is_test_file(&src) {
            continue;
        }
        n_tests += 1;
        let rel = file.strip_prefix(&dir).unwrap_or(file).display().to_string();
        let report = run_file(file, &rel);
        let expect_pass = !rel.ends_with("failing.yml") && !KNOWN_GAPS.iter().any(|(gap, _)| *gap == rel);
        if report.passed != expect_pass {
            failures.push(format!(
                "{rel}: expected {}\n{}{}",
                if expect_pass { "a pass" } else { "a failure" },
                report.stdout,
                report.stderr
            ));
        }
    }
    assert!(n_tests >= 10, "expected the corpus' promtool tests, found {n_tests}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn failing_yml_fails_as_promtool_fails_it() {
    let dir = corpus().join("promtool/prometheus__prometheus");
    let report = run_file(&dir.join("failing.yml"), "failing.yml");
    let output = std::process::Command::new("promtool")
        .args(["test", "rules", "failing.yml"])
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|error| panic!("running promtool: {error}"));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        (report.passed, report.stdout.as_str(), report.stderr.as_str()),
        (false, String::from_utf8_lossy(&output.stdout).as_ref(), String::from_utf8_lossy(&output.stderr).as_ref())
    );
}
