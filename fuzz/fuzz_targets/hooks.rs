//! Fuzzes the webhook parsers: for every forge, any event name and body give an event or a
//! refusal whose status is a 4xx, never a panic. The first byte picks the event name, so the
//! fuzzer reaches each payload shape.
#![no_main]

use ferry_hooks::{Forge, parse};
use libfuzzer_sys::fuzz_target;

const EVENTS: [&str; 11] = [
    "push",
    "create",
    "delete",
    "pull_request",
    "ping",
    "workflow_dispatch",
    "issues",
    "Push Hook",
    "Tag Push Hook",
    "Merge Request Hook",
    "Not An Event",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let event = EVENTS[usize::from(selector) % EVENTS.len()];
    for forge in Forge::ALL {
        match parse(forge, event, body) {
            Ok(hook) => {
                let _ = hook.trigger();
            }
            Err(error) => assert!((400..500).contains(&error.status()), "{error} answers {}", error.status()),
        }
    }
});
