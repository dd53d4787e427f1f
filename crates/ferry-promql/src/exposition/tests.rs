//! The exposition parser on both formats, and its messages for bad input.

use super::*;

#[test]
fn text_format_with_labels_escapes_and_timestamps() {
    let text = "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n\
                http_requests_total{method=\"post\",path=\"/a\\\"b\\\\c\\n\"} 1027 1395066363000\n\
                up 1\nnot_a_number NaN\ninf_value +Inf\n";
    let exposition = parse(text, Format::Text).expect("valid text format");
    assert_eq!(exposition.samples.len(), 4);
    let first = &exposition.samples[0];
    assert_eq!(first.labels.get("path"), Some("/a\"b\\c\n"));
    assert_eq!(first.labels.get("__name__"), Some("http_requests_total"));
    assert_eq!(first.value, 1027.0);
    assert_eq!(first.timestamp_ms, Some(1_395_066_363_000));
    assert_eq!(exposition.samples[1].timestamp_ms, None);
    assert!(exposition.samples[2].value.is_nan());
    assert_eq!(exposition.samples[3].value, f64::INFINITY);
    assert_eq!(exposition.metadata[0].kind.as_deref(), Some("counter"));
    assert_eq!(exposition.metadata[0].help.as_deref(), Some("Requests."));
}

#[test]
fn openmetrics_timestamps_are_seconds_and_exemplars_are_skipped() {
    let text = "# TYPE foo counter\nfoo_total{a=\"1\"} 17 1520879607.789 # {trace_id=\"x\"} 1 1520879607\n# EOF\n";
    let exposition = parse(text, Format::OpenMetrics).expect("valid OpenMetrics");
    assert_eq!(exposition.samples[0].timestamp_ms, Some(1_520_879_607_789));
    assert_eq!(exposition.samples[0].value, 17.0);
}

#[test]
fn bad_input_names_its_line_and_the_fix() {
    let cases = [
        ("up{a=1} 1\n", Format::Text, "line 1: the value of label a must be in double quotes"),
        ("ok 1\nup{a=\"1\" 1\n", Format::Text, "line 2: expected ',' or '}' after label a"),
        ("up one\n", Format::Text, "line 1: \"one\" is not a number (value of up)"),
        (
            "up 1 1.5\n",
            Format::Text,
            "line 1: \"1.5\" is not a timestamp in milliseconds (of up); the text format takes an integer",
        ),
        ("up 1\n", Format::OpenMetrics, "line 1: OpenMetrics text must end with \"# EOF\""),
        ("# EOF\nup 1\n", Format::OpenMetrics, "line 2: text after \"# EOF\"; the end marker must be the last line"),
        (
            "# TYPE up gauges\n",
            Format::Text,
            "line 1: unknown metric type \"gauges\"; one of counter, gauge, histogram, gaugehistogram, summary, info, stateset, untyped, unknown",
        ),
        ("up{a=\"1\",a=\"2\"} 1\n", Format::Text, "line 1: label a appears twice"),
        ("{a=\"1\"} 1\n", Format::Text, "line 1: expected a metric name at the start of \"{a=\\\"1\\\"} 1\""),
    ];
    for (text, format, expected) in cases {
        let error = parse(text, format).expect_err(text);
        assert_eq!(error.to_string(), expected, "{text}");
    }
}
