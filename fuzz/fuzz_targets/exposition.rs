//! Fuzzes the exposition and OpenMetrics text parser: any text gives samples or a message
//! naming a line that exists, never a panic; and what parses as the text format parses the
//! same again after its samples are written back out.
#![no_main]

use ferry_promql::exposition::{Format, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for format in [Format::Text, Format::OpenMetrics] {
        match parse(text, format) {
            Ok(exposition) => {
                if format == Format::Text {
                    let mut again = String::new();
                    for sample in &exposition.samples {
                        let name = sample.labels.get("__name__").unwrap_or("");
                        let labels: Vec<String> = sample
                            .labels
                            .iter()
                            .filter(|(n, _)| *n != "__name__")
                            .map(|(n, v)| format!("{n}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")))
                            .collect();
                        let value = ferry_promql::format_value(sample.value);
                        let timestamp = sample.timestamp_ms.map(|t| format!(" {t}")).unwrap_or_default();
                        again.push_str(&format!("{name}{{{}}} {value}{timestamp}\n", labels.join(",")));
                    }
                    let reparsed = parse(&again, Format::Text).expect("written samples parse again");
                    assert_eq!(reparsed.samples.len(), exposition.samples.len());
                    for (a, b) in reparsed.samples.iter().zip(&exposition.samples) {
                        assert_eq!(a.labels, b.labels);
                        assert_eq!(a.timestamp_ms, b.timestamp_ms);
                        assert!(a.value == b.value || (a.value.is_nan() && b.value.is_nan()));
                    }
                }
            }
            Err(error) => assert!(error.line <= text.lines().count().max(1), "{error}"),
        }
    }
});
