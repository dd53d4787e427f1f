//! Fuzzes the Alertmanager configuration reader and the matcher parser: any text must give a
//! config (or none) and diagnostics inside the text, never a panic; a config that reads must
//! route an alert and flush without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let _ = ferry_alerting::parse_matchers(src);
    let (config, diagnostics) = ferry_alerting::compile(src);
    for diagnostic in &diagnostics {
        assert!(diagnostic.span.start.offset <= src.len() && diagnostic.span.end.offset <= src.len());
    }
    if let Some(config) = config {
        let mut dispatcher = ferry_alerting::Dispatcher::new(config);
        let labels = [("alertname".to_owned(), src.chars().take(16).collect::<String>())].into_iter().collect();
        let alert = ferry_alerting::Alert { labels, annotations: Default::default(), starts_at: None, ends_at: None, generator_url: String::new() };
        dispatcher.receive(vec![alert], 0);
        let _ = dispatcher.flush_due(i64::MAX / 2);
    }
});
