//! Mangled inputs must never make the readers panic: every fixture (and, in `corpus.rs`, every
//! corpus file) is cut short at many points and has characters replaced, and each result goes
//! through both workflow dialects and the action reader. This backs the fuzz target.

use ferry_workflow::{Dialect, parse_action, parse_workflow};

use crate::{files_with, fixtures_dir};

/// Characters that YAML and expressions give meaning to.
const REPLACEMENTS: &[char] =
    &[':', '-', ' ', '\n', '[', ']', '{', '}', '"', '\'', '*', '&', '!', '|', '>', '#', '$', '\t', '@', '%'];

fn read_everything(src: &str) {
    let mut diagnostics = parse_workflow(src, Dialect::GitHub).1;
    diagnostics.extend(parse_workflow(src, Dialect::Ferry).1);
    diagnostics.extend(parse_action(src).1);
    for diagnostic in diagnostics {
        let span = diagnostic.span;
        assert!(span.start.offset <= span.end.offset && span.end.offset <= src.len(), "{diagnostic:?} in {src:?}");
    }
}

pub fn mangle(src: &str, points: usize) {
    read_everything(src);
    let step = (src.len() / points).max(1);
    for (round, cut) in (0..src.len()).step_by(step).enumerate() {
        if let Some(prefix) = src.get(..cut) {
            read_everything(prefix);
        }
        if src.as_bytes()[cut].is_ascii() {
            let mut changed = src.to_owned();
            let replacement = REPLACEMENTS[round % REPLACEMENTS.len()];
            changed.replace_range(cut..=cut, replacement.encode_utf8(&mut [0; 4]));
            read_everything(&changed);
        }
    }
}

fn fixture_files() -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for folder in ["github", "ferry", "actions"] {
        files.extend(files_with(&fixtures_dir().join(folder), &["yml", "yaml"]));
    }
    files
}

#[test]
fn mangled_fixtures_never_panic() {
    for file in fixture_files() {
        let src = std::fs::read_to_string(&file).expect("test inputs are UTF-8");
        mangle(&src, 40);
    }
}

#[test]
fn odd_inputs_never_panic() {
    for src in [
        "",
        "\n",
        "~",
        "[]",
        "- a",
        "a",
        "on:",
        "jobs:",
        "on: push\njobs:",
        "on: push\njobs: 3",
        "on: push\njobs:\n  a: 3",
        "on: push\njobs:\n  a:\n    steps: 3",
        "on: push\njobs:\n  a:\n    steps: [3, [], {}]",
        "? [a]\n: b",
        "a: &x [*x]",
        "a: &a [&b [&c [1]]]\nb: [*a, *a, *a]",
        "on: {push: {branches: [[a]]}}",
        "on: [[push]]",
        "jobs: {a: {needs: [a, b, a], runs-on: x, steps: [{run: x}]}, b: {needs: a}}",
        "\u{feff}on: push",
        "on: push\n---\non: push",
        "\"\\u00e9\": é",
    ] {
        read_everything(src);
    }
}

#[test]
fn deep_nesting_never_overflows_the_stack() {
    for depth in [1_000, 100_000] {
        read_everything(&format!("on: {}{}", "[".repeat(depth), "]".repeat(depth)));
        read_everything(&format!("on: {}{}", "{a: ".repeat(depth), "}".repeat(depth)));
        let block: String = (0..depth.min(5_000)).map(|level| format!("{}- \n", "  ".repeat(level))).collect();
        read_everything(&block);
    }
}
