//! The one integration test binary of ferry-workflow: the real-world corpus, fixture snapshots,
//! and robustness against mangled input.

mod corpus;
mod fixtures;
mod no_panic;

use std::path::{Path, PathBuf};

use ferry_workflow::{Diagnostic, Dialect, parse_action, parse_workflow};

/// Renders diagnostics one per line as `line:col code: message (help)`.
pub fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|diagnostic| {
            let severity = if diagnostic.is_error() { "" } else { "warning " };
            let help = diagnostic.help.as_deref().map(|help| format!(" ({help})")).unwrap_or_default();
            format!(
                "{}:{} {severity}{}: {}{help}",
                diagnostic.span.start.line, diagnostic.span.start.col, diagnostic.code, diagnostic.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The diagnostics of a workflow, rendered.
pub fn lint_workflow(src: &str, dialect: Dialect) -> String {
    render(&parse_workflow(src, dialect).1)
}

/// The diagnostics of an action, rendered.
pub fn lint_action(src: &str) -> String {
    render(&parse_action(src).1)
}

/// `$FERRY_CORPUS`, or `shared/corpus` beside the workspace.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("FERRY_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Files in `dir` whose names end with one of `extensions`, sorted.
pub fn files_with(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().and_then(|ext| ext.to_str()).is_some_and(|ext| extensions.contains(&ext)))
        .collect();
    files.sort();
    files
}
