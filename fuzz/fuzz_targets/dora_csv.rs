//! Fuzzes `ferry dora import`'s CSV readers: any text must give rows or line errors, never a
//! panic, and every error must name a line of the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let n_lines = text.lines().count().max(1);
    for errors in
        [ferry_dora::parse_deployments(text).err(), ferry_dora::parse_incidents(text).err()].into_iter().flatten()
    {
        assert!(!errors.is_empty());
        for error in &errors {
            assert!((1..=n_lines).contains(&error.line), "line {} of {n_lines}", error.line);
        }
    }
});
