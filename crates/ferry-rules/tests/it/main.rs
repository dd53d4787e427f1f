//! `ferry-rules` through its public API: rule unit tests compared with Debian's real
//! `promtool test rules` (`promtool.rs`), the burn-rate alerts compiled from SLOs on synthetic
//! error spikes (`slo.rs`), and the real-world corpus of rule files and
//! promtool tests (`corpus.rs`, run by `scripts/corpus`).

mod corpus;
mod promtool;
mod slo;

use ferry_rules::{RuleSource, TestReport, run_test_file};
use std::path::Path;

/// Runs a test file as `ferry rules test` does: rule files relative to it, `*` in the file
/// name matched against the folder's entries.
pub fn run_file(path: &Path, name: &str) -> TestReport {
    let src = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    run_test_file(name, &src, &|pattern| rule_sources(&base, pattern))
}

fn rule_sources(base: &Path, pattern: &str) -> Vec<RuleSource> {
    let full = base.join(pattern);
    let file_name = full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let dir = full.parent().unwrap_or(base).to_path_buf();
    let mut paths = Vec::new();
    if let Some((prefix, suffix)) = file_name.split_once('*') {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(prefix) && name.ends_with(suffix) {
                    paths.push(entry.path());
                }
            }
        }
        paths.sort();
    } else if full.exists() {
        paths.push(full);
    }
    paths
        .into_iter()
        .map(|path| RuleSource { path: path.display().to_string(), text: std::fs::read_to_string(&path) })
        .collect()
}
