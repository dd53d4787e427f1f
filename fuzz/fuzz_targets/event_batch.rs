//! Fuzzes the runner protocol's event batch framing: any body decodes to a batch or a message
//! saying what is wrong, never a panic; a decoded batch's texts are whole lines, and encoding
//! it again gives a body that decodes to the same batch.
#![no_main]

use ferry_proto::runner::EventBatch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = EventBatch::decode(data) else { return };
    for event in &batch.events {
        if let ferry_proto::runner::StepEvent::Lines { text, .. } = event {
            assert!(text.is_empty() || text.ends_with('\n'), "{text:?}");
        }
    }
    let encoded = batch.encode();
    assert_eq!(EventBatch::decode(&encoded).as_ref(), Ok(&batch));
});
