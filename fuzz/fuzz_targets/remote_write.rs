//! Fuzzes the remote-write reader: any body is samples or an error, never a panic, both as
//! sent (snappy) and as raw protobuf wrapped in snappy; what decodes encodes and decodes to the
//! same samples.
#![no_main]

use ferry_promql::remote_write::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let wrapped = snap::raw::Encoder::new().compress_vec(data).unwrap_or_default();
    for body in [data, wrapped.as_slice()] {
        if let Ok(decoded) = decode(body) {
            let again = decode(&encode(&decoded.samples)).expect("what Ferry writes, it reads");
            let mut first = decoded.samples.clone();
            let mut second = again.samples;
            first.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
            second.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
            assert_eq!(first.len(), second.len());
            for (a, b) in first.iter().zip(&second) {
                assert!(a.0 == b.0 && a.1 == b.1 && a.2.to_bits() == b.2.to_bits());
            }
        }
    }
});
