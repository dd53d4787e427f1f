//! Fuzzes rule files (a project's `.ferry/alerts/*.yml` is untrusted): any text must give
//! groups and diagnostics inside the text, never a panic; and evaluating what reads, templates
//! expanded, must not panic either.
#![no_main]

use ferry_rules::{EvalOptions, GroupState, MemoryStorage, eval_group, parse_rule_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let (file, diagnostics) = parse_rule_file(src);
    for diagnostic in &diagnostics {
        assert!(diagnostic.span.start.offset <= src.len() && diagnostic.span.end.offset <= src.len());
    }
    if diagnostics.iter().any(|d| d.is_error()) {
        return;
    }
    let storage = MemoryStorage::default();
    storage.add(ferry_promql::Labels::new([("__name__", "up"), ("job", "a")]), 0, 0.0);
    for group in &file.groups {
        let mut state = GroupState::default();
        let _ = eval_group(group, &mut state, &storage, 0, &EvalOptions::default());
    }
});
