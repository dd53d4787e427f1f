//! Appends and reads back across the head, blocks and a reopen; ordering rules; retention.

use ferry_promql::{Labels, MatchOp, Matcher, QueryOptions, QueryValue, Storage, instant_query, stale_nan};
use ferry_tsdb::{Options, Tsdb, TsdbError};

fn labels(name: &str, instance: &str) -> Labels {
    Labels::new([("__name__", name), ("instance", instance)])
}

fn name_is(name: &str) -> Vec<Matcher> {
    vec![Matcher::new(MatchOp::Equal, "__name__", name)]
}

#[test]
fn samples_survive_blocks_and_a_reopen_and_answer_promql() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options { block_span_ms: 60_000, ..Options::default() };
    {
        let db = Tsdb::open(dir.path(), options.clone()).expect("open");
        // 200 samples 1 s apart: more than a chunk, and blocks are cut every 90 s.
        for i in 0..200i64 {
            let report = db
                .append(&[
                    (labels("req_total", "a"), i * 1000, i as f64),
                    (labels("req_total", "b"), i * 1000, 2.0 * i as f64),
                ])
                .expect("append");
            assert_eq!(report.appended, 2);
        }
        assert!(db.stats().blocks >= 2, "{:?}", db.stats());
    }
    let db = Tsdb::open(dir.path(), options).expect("reopen");
    let series = db.select(&name_is("req_total"), 0, 199_000).expect("select");
    assert_eq!(series.len(), 2);
    for series in &series {
        let times: Vec<i64> = series.samples.iter().map(|(t, _)| *t).collect();
        assert_eq!(times, (0..200).map(|i| i * 1000).collect::<Vec<_>>(), "{}", series.labels);
    }
    let value = instant_query(&db, "sum(rate(req_total[1m]))", 199_000, &QueryOptions::default()).expect("query");
    let QueryValue::Vector(samples) = value else { panic!("sum gives a vector") };
    assert!((samples[0].v - 3.0).abs() < 1e-9, "{}", samples[0].v);
}

#[test]
fn older_and_repeated_samples_are_counted_not_stored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Tsdb::open(dir.path(), Options::default()).expect("open");
    db.append(&[(labels("up", "a"), 10_000, 1.0)]).expect("append");
    let report = db
        .append(&[
            (labels("up", "a"), 5_000, 1.0),
            (labels("up", "a"), 10_000, 1.0),
            (labels("up", "a"), 20_000, stale_nan()),
        ])
        .expect("append");
    assert_eq!((report.appended, report.out_of_order, report.duplicates), (1, 1, 1));
    let value = instant_query(&db, "up", 25_000, &QueryOptions::default()).expect("query");
    assert_eq!(value, QueryValue::Vector(Vec::new()), "the stale marker ends the series");
    let error = db.append(&[(Labels::default(), 1, 1.0)]).expect_err("no labels");
    assert_eq!(error.to_string(), "sample 1 has no labels; a series needs at least a name");
}

#[test]
fn retention_deletes_old_blocks_by_time_and_by_size() {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = Options { retention_ms: Some(3_600_000), retention_bytes: None, block_span_ms: 3_600_000 };
    let db = Tsdb::open(dir.path(), options).expect("open");
    for hour in 0..4i64 {
        db.append(&[(labels("up", "a"), hour * 3_600_000, 1.0)]).expect("append");
        db.flush().expect("flush");
    }
    assert_eq!(db.stats().blocks, 4);
    assert_eq!(db.apply_retention(3 * 3_600_000).expect("retention"), 2, "blocks of hours 0 and 1 are past 1 h");
    let series = db.select(&name_is("up"), 0, i64::MAX).expect("select");
    assert_eq!(series[0].samples.iter().map(|(t, _)| t / 3_600_000).collect::<Vec<_>>(), vec![2, 3]);
    drop(db);
    let by_size = Options { retention_ms: None, retention_bytes: Some(1), block_span_ms: 3_600_000 };
    let db = Tsdb::open(dir.path(), by_size).expect("reopen");
    assert_eq!(db.apply_retention(0).expect("retention"), 2);
    assert_eq!(db.stats().blocks, 0);
}

#[test]
fn a_directory_opens_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let _db = Tsdb::open(dir.path(), Options::default()).expect("open");
    let error = Tsdb::open(dir.path(), Options::default()).err().expect("second open is refused");
    assert!(matches!(error, TsdbError::Locked(_)), "{error}");
}
