//! The condition language, the judgement of results (Argo's rules) and the limits.

use ferry_proto::agent::{AnalysisQuery, QueryTally};
use ferry_proto::deployments::{Measurement, MeasurementPhase, QueryPhase};

use super::*;

fn condition(text: &str) -> Condition {
    parse_condition(text).unwrap_or_else(|error| panic!("{text}: {error}"))
}

fn error(text: &str) -> String {
    parse_condition(text).map(|_| "parsed".to_owned()).unwrap_or_else(|error| error.to_string())
}

#[test]
fn conditions_compare_result_joined_by_and_and_or() {
    let between = condition("result >= 0.01 and result < 0.05");
    assert!(between.holds(0.02));
    assert!(!between.holds(0.05));
    // `and` binds tighter than `or`.
    let either = condition("result < 0 or result > 1 and result < 2");
    assert!(either.holds(-1.0) && either.holds(1.5) && !either.holds(3.0));
    let grouped = condition("(result < 0 or result > 1) and result < 2");
    assert!(grouped.holds(-1.0) && grouped.holds(1.5) && !grouped.holds(3.0));
    assert_eq!(grouped.show(Some(0.12)), "(0.12 < 0 or 0.12 > 1) and 0.12 < 2");
    assert_eq!(condition("0.05 <= result").show(Some(0.1 + 0.02)), "0.05 <= 0.12");
    assert!(condition("result != 1e-3").holds(0.0) && condition("result == -2").holds(-2.0));
}

#[test]
fn a_bad_condition_says_what_and_where() {
    assert_eq!(error(""), "the condition is empty");
    assert_eq!(error("result = 1"), "unexpected `=` at column 8: expected `==` to compare");
    assert_eq!(error("result =< 1"), "unexpected `=` at column 8: expected `<=` or `>=` (the `=` comes second)");
    assert_eq!(error("result < 1 && result > 0"), "unexpected `&` at column 12: expected `and` or `or`");
    assert_eq!(error("value < 1"), "unexpected `value` at column 1: expected `result`, a number, `and` or `or`");
    assert_eq!(error("result <"), "unexpected the end at column 9: expected `result` or a number");
    assert_eq!(error("result < 1 result"), "unexpected `result` at column 12: expected `and`, `or` or the end");
    assert_eq!(error("(result < 1"), "unexpected the end at column 12: expected `)`");
    assert_eq!(error("1 < 2"), "`1 < 2` does not compare `result`");
}

#[test]
fn results_are_judged_by_argos_rules() {
    let success = condition("result < 0.01");
    let failure = condition("result >= 0.05");
    let judge_phase = |s: Option<&Condition>, f: Option<&Condition>, values: &[f64]| {
        let judged = judge(s, f, values);
        format!("{:?} {}", judged.phase, judged.message)
    };
    assert_eq!(judge_phase(Some(&success), Some(&failure), &[0.001]), "Successful 0.001 < 0.01");
    assert_eq!(judge_phase(Some(&success), Some(&failure), &[0.12]), "Failed 0.12 >= 0.05");
    assert_eq!(
        judge_phase(Some(&success), Some(&failure), &[0.02]),
        "Inconclusive neither 0.02 < 0.01 nor the failure condition"
    );
    // Only `success`: not meeting it fails; only `failure`: not meeting it succeeds.
    assert_eq!(judge_phase(Some(&success), None, &[0.02]), "Failed not 0.02 < 0.01");
    assert_eq!(judge_phase(None, Some(&failure), &[0.02]), "Successful not 0.02 >= 0.05");
    assert_eq!(judge_phase(None, None, &[7.0]), "Successful no condition to meet");
    // A vector: one sample meeting `failure` fails it, every sample must meet `success`.
    assert_eq!(judge_phase(Some(&success), Some(&failure), &[0.001, 0.2]), "Failed 0.2 >= 0.05");
    assert_eq!(judge(Some(&success), None, &[0.001, 0.02]).value, Some(0.02));
    // No sample, or NaN: inconclusive whatever the conditions.
    assert_eq!(judge_phase(None, None, &[]), "Inconclusive no samples");
    assert_eq!(judge_phase(None, Some(&failure), &[f64::NAN]), "Inconclusive NaN");
}

#[test]
fn placeholders_are_filled_and_checked() {
    let values = Placeholders { project: "web", service: "api", environment: "prod", release: 7, stable: Some(6) };
    assert_eq!(
        substitute(r#"up{service="{{service}}",release=~"{{ release }}|{{stable}}",env="{{environment}}"}"#, &values)
            .as_deref(),
        Ok(r#"up{service="api",release=~"7|6",env="prod"}"#)
    );
    assert_eq!(substitute("x{r=\"{{stable}}\"}", &Placeholders { stable: None, ..values }).as_deref(), Ok("x{r=\"\"}"));
    assert_eq!(check_query("sum(rate(x{release=\"{{release}}\"}[1m]))"), Ok(()));
    let message = |query: &str| check_query(query).map_err(|error| error.to_string()).err().unwrap_or_default();
    assert_eq!(message("x{r=\"{{version}}\"}"), "unknown placeholder `{{version}}`");
    assert_eq!(message("x{r=\"{{release\"}"), "a `{{` is not closed by `}}`");
    assert!(message("sum(rate(x[1m])").starts_with("it is not PromQL: "), "{}", message("sum(rate(x[1m])"));
}

fn query(failure_limit: u32, inconclusive_limit: u32, count: u32) -> AnalysisQuery {
    AnalysisQuery {
        name: "error-ratio".to_owned(),
        query: "x".to_owned(),
        interval_ms: 30_000,
        success: Some("result < 0.01".to_owned()),
        failure: Some("result >= 0.05".to_owned()),
        failure_limit,
        inconclusive_limit,
        count,
    }
}

fn measured(at: i64, phase: MeasurementPhase, message: &str) -> Measurement {
    Measurement { at, value: Some(0.12), phase, message: message.to_owned() }
}

#[test]
fn the_analysis_fails_once_past_its_failure_limit() {
    let query = query(1, 0, 0);
    let mut analysis = new_analysis(&query);
    assert_eq!(next_due(&query, &analysis, 1_000), Some(31_000), "the first one interval after the start");
    record(&query, &mut analysis, measured(31_000, MeasurementPhase::Failed, "0.12 >= 0.05"));
    assert_eq!((analysis.phase, verdict(std::slice::from_ref(&analysis)).failure), (QueryPhase::Running, None));
    assert_eq!(next_due(&query, &analysis, 1_000), Some(61_000));
    record(&query, &mut analysis, measured(61_000, MeasurementPhase::Successful, "0.001 < 0.01"));
    record(&query, &mut analysis, measured(91_000, MeasurementPhase::Failed, "0.12 >= 0.05"));
    assert_eq!(analysis.phase, QueryPhase::Failed);
    let failure = verdict(std::slice::from_ref(&analysis)).failure;
    assert_eq!(failure.as_deref(), Some("query error-ratio: 0.12 >= 0.05 (measurement 3; 2 failed, failure-limit 1)"));
    assert_eq!(next_due(&query, &analysis, 1_000), None, "a failed query is not measured again");
    record(&query, &mut analysis, measured(121_000, MeasurementPhase::Successful, "0.001 < 0.01"));
    assert_eq!(analysis.measurements.len(), 3, "nor recorded");
}

#[test]
fn inconclusive_measurements_have_their_own_limit_and_a_count_ends_the_query() {
    let query = query(0, 1, 3);
    let mut analysis = new_analysis(&query);
    record(&query, &mut analysis, measured(1, MeasurementPhase::Inconclusive, "no samples"));
    assert_eq!(analysis.phase, QueryPhase::Running);
    record(&query, &mut analysis, measured(2, MeasurementPhase::Inconclusive, "no samples"));
    assert_eq!(
        (analysis.phase, analysis.reason.as_deref()),
        (
            QueryPhase::Inconclusive,
            Some(
                "query error-ratio: inconclusive, no samples (measurement 2 of 3; 2 inconclusive, inconclusive-limit 1)"
            )
        )
    );

    let mut counted = new_analysis(&query);
    for at in 1..=3 {
        record(&query, &mut counted, measured(at, MeasurementPhase::Successful, "0.001 < 0.01"));
    }
    assert_eq!(counted.phase, QueryPhase::Successful);
    let tallies = verdict(std::slice::from_ref(&counted));
    assert_eq!(tallies.queries, [QueryTally { name: "error-ratio".to_owned(), successes: 3, done: true }]);
    assert_eq!(tallies.failure, None);
}

#[test]
fn only_the_latest_measurements_are_kept_and_every_one_is_counted() {
    let query = query(0, 0, 0);
    let mut analysis = new_analysis(&query);
    for at in 0..150 {
        record(&query, &mut analysis, measured(at, MeasurementPhase::Successful, "0.001 < 0.01"));
    }
    assert_eq!((analysis.measurements.len(), analysis.successes), (MAX_MEASUREMENTS, 150));
    assert_eq!(analysis.measurements[0].at, 50);
}

#[test]
fn a_step_waits_for_a_new_success_of_each_query() {
    let queries = [query(0, 0, 0), AnalysisQuery { name: "latency".to_owned(), ..query(0, 0, 2) }];
    let tally = |name: &str, successes: u32, done: bool| QueryTally { name: name.to_owned(), successes, done };
    let before = [tally("error-ratio", 1, false), tally("latency", 1, false)];
    assert!(!passed_since(&queries, &before, &before));
    assert!(!passed_since(&queries, &before, &[tally("error-ratio", 2, false), tally("latency", 1, false)]));
    assert!(passed_since(&queries, &before, &[tally("error-ratio", 2, false), tally("latency", 2, true)]));
    assert!(passed_since(&queries, &[], &[tally("error-ratio", 1, false), tally("latency", 1, true)]));
    assert!(!passed_since(&queries, &[], &[]), "nothing measured yet");
    assert!(passed_since(&[], &[], &[]), "no query: nothing to wait for");
}
