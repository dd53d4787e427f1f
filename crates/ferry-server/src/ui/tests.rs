//! Unit tests of the UI's pure pieces: the graph's columns by `needs` depth, and how states,
//! durations and times are written.

use ferry_model::{Conclusion, Status};

use super::format::{bytes, duration, elapsed, job_detail, path_segment, relative, short_ref, state, utc};
use super::graph::{Layout, layout};

fn needs(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|key| (*key).to_owned()).collect()
}

#[test]
fn jobs_go_in_columns_by_needs_depth_with_a_line_per_need() {
    let (build, lint, test, deploy) = (needs(&[]), needs(&[]), needs(&["build"]), needs(&["test", "lint"]));
    let nodes = [("build", &build[..]), ("lint", &lint[..]), ("test", &test[..]), ("deploy", &deploy[..])];
    assert_eq!(
        layout(&nodes),
        Layout { columns: vec![vec![0, 1], vec![2], vec![3]], edges: vec![(0, 2), (2, 3), (1, 3)] }
    );
}

#[test]
fn matrix_instances_share_a_column_and_each_gets_the_lines_of_its_key() {
    let (build, test) = (needs(&[]), needs(&["build"]));
    let report = needs(&["test"]);
    let nodes = [("build", &build[..]), ("test", &test[..]), ("test", &test[..]), ("report", &report[..])];
    assert_eq!(
        layout(&nodes),
        Layout { columns: vec![vec![0], vec![1, 2], vec![3]], edges: vec![(0, 1), (0, 2), (1, 3), (2, 3)] }
    );
}

#[test]
fn unknown_needs_are_ignored_and_a_cycle_does_not_hang() {
    let (a, b, c) = (needs(&["b"]), needs(&["a"]), needs(&["nowhere"]));
    let nodes = [("a", &a[..]), ("b", &b[..]), ("c", &c[..])];
    let laid_out = layout(&nodes);
    assert_eq!(laid_out.columns.iter().map(Vec::len).sum::<usize>(), 3, "{laid_out:?}");
    assert!(laid_out.columns[0].contains(&2), "{laid_out:?}");
    assert_eq!(layout(&[]), Layout { columns: vec![], edges: vec![] });
}

#[test]
fn states_are_the_conclusion_once_there_is_one() {
    assert_eq!(state(Status::Queued, None), "queued");
    assert_eq!(state(Status::InProgress, None), "running");
    assert_eq!(state(Status::Completed, Some(Conclusion::Failure)), "failure");
    assert_eq!(state(Status::Completed, Some(Conclusion::Cancelled)), "cancelled");
}

#[test]
fn durations_and_times_read_as_people_write_them() {
    assert_eq!([0, 999, 42_000, 185_000, 3_725_000].map(duration), ["0s", "0s", "42s", "3m 05s", "1h 02m"]);
    assert_eq!(elapsed(Some(1_000), Some(4_000), 99_000), Some(3_000));
    assert_eq!(elapsed(Some(1_000), None, 61_000), Some(60_000), "a running one counts to now");
    assert_eq!(elapsed(None, None, 61_000), None);
    let now = 1_700_000_000_000;
    let ago = |secs: i64| relative(now - secs * 1000, now);
    assert_eq!(
        [ago(3), ago(42), ago(300), ago(7200), ago(3 * 86_400)],
        ["just now", "42s ago", "5m ago", "2h ago", "3d ago"]
    );
    assert_eq!(ago(400 * 86_400), "2022-10-10");
    assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
    assert_eq!(utc(1_700_000_000_000), "2023-11-14 22:13:20 UTC");
    assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
    assert_eq!(short_ref("refs/heads/main"), "main");
    assert_eq!(short_ref("refs/tags/v1"), "v1");
}

#[test]
fn sizes_read_in_binary_units_and_names_are_encoded_for_urls() {
    assert_eq!([bytes(0), bytes(1023), bytes(1536), bytes(3 * 1024 * 1024)], ["0 B", "1023 B", "1.5 KiB", "3.0 MiB"]);
    assert_eq!(path_segment("build output#1/é"), "build%20output%231%2F%C3%A9");
}

#[test]
fn issue_13_a_job_cancelled_before_it_started_says_cancelled_not_completed() {
    let cancelled = Some(Conclusion::Cancelled);
    assert_eq!(state(Status::Completed, cancelled), "cancelled");
    assert_eq!(job_detail(Status::Completed, cancelled, None, Some(5_000), 9_000), "cancelled");
    assert_eq!(job_detail(Status::Completed, cancelled, Some(1_000), Some(5_000), 9_000), "4s");
    assert_eq!(job_detail(Status::Queued, None, None, None, 9_000), "queued");
    assert_eq!(job_detail(Status::InProgress, None, Some(1_000), None, 9_000), "8s");
}
