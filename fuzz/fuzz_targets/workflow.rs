//! Fuzzes the YAML front end: any text must give a model and diagnostics, never a panic.
#![no_main]

use ferry_workflow::Dialect;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    for dialect in [Dialect::GitHub, Dialect::Ferry] {
        let (_, diagnostics) = ferry_workflow::parse_workflow(src, dialect);
        for diagnostic in diagnostics {
            assert!(diagnostic.span.start.offset <= src.len() && diagnostic.span.end.offset <= src.len());
        }
    }
    let _ = ferry_workflow::parse_action(src);
});
