//! No panic on mangled payloads: every corpus body cut short and with bytes replaced is parsed
//! to an event or an error, never a crash.

use ferry_hooks::{HookError, parse};

use super::payloads;

/// Bytes that break JSON in interesting ways when they replace another.
const REPLACEMENTS: &[u8] = b"\"{}[],:0n -\\\xff\x00";

#[test]
fn truncated_payloads_never_panic() {
    for payload in payloads() {
        for len in (0..payload.body.len()).step_by(13) {
            let res = parse(payload.forge, &payload.event, &payload.body[..len]);
            // A cut JSON document is never complete, except after its last byte or whitespace.
            if payload.body[len..].iter().any(|byte| !byte.is_ascii_whitespace()) {
                assert!(matches!(res, Err(HookError::Malformed { .. })), "{} cut at {len}: {res:?}", payload.file);
            }
        }
    }
}

#[test]
fn payloads_with_replaced_bytes_never_panic() {
    // xorshift: the same positions on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for payload in payloads() {
        for _ in 0..300 {
            let mut body = payload.body.clone();
            for _ in 0..=(next() % 3) {
                let pos = usize::try_from(next() % body.len() as u64).expect("fits");
                body[pos] = REPLACEMENTS[usize::try_from(next() % REPLACEMENTS.len() as u64).expect("fits")];
            }
            let _ = parse(payload.forge, &payload.event, &body);
        }
    }
}

#[test]
fn payloads_under_other_event_names_never_panic() {
    let events = ["push", "create", "delete", "pull_request", "workflow_dispatch", "Push Hook", "Merge Request Hook"];
    for payload in payloads() {
        for event in events {
            let _ = parse(payload.forge, event, &payload.body);
        }
    }
}
