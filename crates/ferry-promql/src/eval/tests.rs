//! The evaluator on small series held in a vector: staleness, matching, functions, errors.

use crate::{Labels, QueryOptions, QueryValue, Series, instant_query, range_query, stale_nan};

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> Series {
    Series { labels: Labels::new(labels.iter().copied()), samples: samples.to_vec() }
}

/// Counters every 15 s from 0 to 10 min: `a` grows by 1 a step, `b` by 2 with a reset.
fn store() -> Vec<Series> {
    let a: Vec<(i64, f64)> = (0..=40).map(|i| (i * 15_000, i as f64)).collect();
    let b: Vec<(i64, f64)> =
        (0..=40).map(|i| (i * 15_000, if i < 20 { 2.0 * i as f64 } else { 2.0 * (i - 20) as f64 })).collect();
    vec![
        series(&[("__name__", "req_total"), ("job", "api"), ("instance", "a")], &a),
        series(&[("__name__", "req_total"), ("job", "api"), ("instance", "b")], &b),
        series(
            &[("__name__", "up"), ("job", "api"), ("instance", "a")],
            &[(0, 1.0), (300_000, 1.0), (315_000, stale_nan())],
        ),
        series(&[("__name__", "info"), ("job", "api"), ("version", "1.2")], &[(0, 1.0), (600_000, 1.0)]),
    ]
}

/// The query's result at `t` seconds, one line per sample, sorted.
fn query(text: &str, t: i64) -> String {
    let value = instant_query(&store(), text, t * 1000, &QueryOptions::default());
    match value {
        Ok(QueryValue::Vector(samples)) => {
            let mut lines: Vec<String> = samples.iter().map(|s| format!("{} {}", s.labels, s.v)).collect();
            lines.sort();
            lines.join("\n")
        }
        Ok(QueryValue::Scalar { v, .. }) => format!("scalar {v}"),
        Ok(other) => format!("{other:?}"),
        Err(error) => format!("{}: {error}", error.error_type()),
    }
}

#[test]
fn staleness_ends_a_series_at_its_marker_and_lookback_ends_it_after_5m() {
    assert_eq!(query("up", 310), "up{instance=\"a\", job=\"api\"} 1");
    assert_eq!(query("up", 320), "");
    assert_eq!(query("info", 300), "info{job=\"api\", version=\"1.2\"} 1");
    assert_eq!(query("info", 301), "");
}

#[test]
fn rate_handles_counter_resets_and_extrapolates() {
    assert_eq!(query("rate(req_total{instance=\"a\"}[1m])", 300), "{instance=\"a\", job=\"api\"} 0.06666666666666667");
    assert_eq!(query("increase(req_total{instance=\"b\"}[2m])", 330), "{instance=\"b\", job=\"api\"} 14");
    assert_eq!(
        query("resets(req_total[10m])", 600),
        "{instance=\"a\", job=\"api\"} 0\n{instance=\"b\", job=\"api\"} 1"
    );
}

#[test]
fn aggregation_and_matching_with_group_left() {
    assert_eq!(query("sum by (job) (req_total)", 600), "{job=\"api\"} 80");
    assert_eq!(
        query("req_total * on (job) group_left (version) info", 600),
        "{instance=\"a\", job=\"api\", version=\"1.2\"} 40\n{instance=\"b\", job=\"api\", version=\"1.2\"} 40"
    );
    assert_eq!(
        query("req_total * on (job) info", 600),
        "execution: multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    assert_eq!(query("req_total > bool 30", 285), "{instance=\"a\", job=\"api\"} 0\n{instance=\"b\", job=\"api\"} 1");
}

#[test]
fn errors_have_prometheus_types() {
    assert!(query("sum(", 0).starts_with("bad_data: "));
    assert_eq!(
        query("req_total + ignoring(instance) req_total", 600),
        "execution: found duplicate series for the match group {job=\"api\"} on the right hand-side of the operation: [req_total{instance=\"a\", job=\"api\"}, req_total{instance=\"b\", job=\"api\"}];many-to-many matching not allowed: matching labels must be unique on one side"
    );
}

#[test]
fn range_query_of_a_scalar_and_a_subquery() {
    let value = range_query(
        &store(),
        "max_over_time(rate(req_total{instance=\"a\"}[1m])[2m:30s])",
        300_000,
        360_000,
        30_000,
        &QueryOptions::default(),
    )
    .expect("valid query");
    let QueryValue::Matrix(series) = value else { panic!("a range query gives a matrix") };
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].points.len(), 3);
    let json = range_query(&store(), "time()", 0, 30_000, 15_000, &QueryOptions::default()).expect("valid").to_json();
    assert_eq!(
        json.to_string(),
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[0.0,"0"],[15.0,"15"],[30.0,"30"]]}]}}"#
    );
}

#[test]
fn offsets_and_ranges_past_the_millisecond_limits_select_nothing_instead_of_overflowing() {
    // An `@` near i64's end in milliseconds and a negative offset of ten million years used to
    // overflow the evaluator's arithmetic (a panic); it saturates now and selects nothing.
    assert_eq!(query("up offset 10000000y", 0), "");
    assert_eq!(query("up offset -10000000y", 0), "");
    assert_eq!(query("count_over_time(up[10000000y] @ 0)", 300), "{instance=\"a\", job=\"api\"} 1");
    assert_eq!(query("up @ 9223372036854775 offset -10000000y", 0), "");
}
