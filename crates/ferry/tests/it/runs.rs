//! `ferry runs`, `cancel` and `rerun` against a real `ferry server`: a triggered run is
//! listed, cancelled (no runner has its job's label, so it runs until then) and re-run,
//! and the list shows both runs, newest first; a fork's merge request waits in `ferry runs`
//! until `ferry approve`.

use serde_json::Value;

use crate::harness::Repo;
use crate::runner::{client_command, output_within, start_server, text};

const WORKFLOW: &str = r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: [self-hosted, no-runner-has-this]
    steps:
      - run: echo never
"#;

#[test]
fn runs_are_listed_newest_first_after_a_trigger_a_cancel_and_a_rerun() {
    let scratch = tempfile::Builder::new().prefix("ferry-runs-it-").tempdir().expect("temp dir");
    let repo = Repo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let short_sha: String = repo.git(&["rev-parse", "HEAD"]).chars().take(7).collect();
    let (server, url, admin) = start_server(scratch.path());
    let ferry = |args: &[&str]| {
        let output = output_within(client_command(&url, &admin, args));
        assert!(output.status.success(), "{}\n--- server\n{}", text(&output), server.stderr());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ferry(&["project", "add", "demo", "--repo", &repo.path().display().to_string()]);
    assert_eq!(ferry(&["runs", "demo"]), "project demo has no runs yet; start one with `ferry trigger demo`\n");

    let triggered: Value = serde_json::from_str(&ferry(&["trigger", "demo", "--json"])).expect("JSON");
    let first = triggered["runs"][0]["id"].as_i64().expect("a run id");
    assert_eq!(
        ferry(&["runs", "demo"]),
        format!("run {first}  #1  in_progress  ci.yml  initial  {short_sha}  admin\n")
    );
    assert_eq!(ferry(&["cancel", &first.to_string()]), format!("run {first} (#1 ci.yml) cancelled\n"));
    let rerun = ferry(&["rerun", &first.to_string(), "--json"]);
    let second = serde_json::from_str::<Value>(&rerun).expect("JSON")["id"].as_i64().expect("a run id");

    let listed: Value = serde_json::from_str(&ferry(&["runs", "demo", "--json"])).expect("JSON");
    let runs: Vec<String> = listed["runs"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|run| {
            format!(
                "{} #{} {} {} rerun_of={}",
                run["id"], run["number"], run["status"], run["conclusion"], run["rerun_of"]
            )
        })
        .collect();
    assert_eq!(
        runs,
        [
            format!(r#"{second} #2 "in_progress" null rerun_of={first}"#),
            format!(r#"{first} #1 "completed" "cancelled" rerun_of=null"#),
        ]
    );
    let width = format!("run {second}").len().max(format!("run {first}").len());
    assert_eq!(
        ferry(&["runs", "demo"]),
        format!(
            "{:width$}  #2  in_progress  ci.yml  initial  {short_sha}  admin\n\
             {:width$}  #1  cancelled    ci.yml  initial  {short_sha}  admin\n",
            format!("run {second}"),
            format!("run {first}"),
        )
    );
}

/// Sends a GitLab merge request from project 15 (a fork) into project 14 for `sha`; returns
/// the server's answer as text.
fn merge_request_from_a_fork(url: &str, project: &str, secret: &str, sha: &str) -> String {
    use std::io::{Read, Write};
    let body = serde_json::json!({
        "user": {"username": "eve"},
        "project": {"path_with_namespace": "octo/demo"},
        "object_attributes": {"iid": 3, "source_branch": "feature", "target_branch": "main", "action": "open",
            "source_project_id": 15, "target_project_id": 14, "last_commit": {"id": sha}},
    })
    .to_string();
    let addr = url.strip_prefix("http://").expect("an http URL");
    let mut stream = std::net::TcpStream::connect(addr).expect("connecting");
    let request = format!(
        "POST /hooks/gitlab/{project} HTTP/1.1\r\nHost: ferry\r\nX-Gitlab-Event: Merge Request Hook\r\nX-Gitlab-Token: {secret}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("sending");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reading");
    answer
}

#[test]
fn a_fork_s_merge_request_waits_in_ferry_runs_until_ferry_approve() {
    let scratch = tempfile::Builder::new().prefix("ferry-approve-it-").tempdir().expect("temp dir");
    let workflow = WORKFLOW.replace("on: workflow_dispatch", "on: pull_request");
    let repo = Repo::new(&[(".github/workflows/ci.yml", workflow.as_str())]);
    let sha = repo.git(&["rev-parse", "HEAD"]);
    let (server, url, admin) = start_server(scratch.path());
    let ferry = |args: &[&str]| {
        let output = output_within(client_command(&url, &admin, args));
        assert!(output.status.success(), "{}\n--- server\n{}", text(&output), server.stderr());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let path = repo.path().display().to_string();
    let added = ferry(&[
        "project",
        "add",
        "demo",
        "--repo",
        &path,
        "--webhook-secret",
        "s3cret",
        "--require-approval",
        "--json",
    ]);
    let added: Value = serde_json::from_str(&added).expect("JSON");
    assert_eq!(added["require_approval"], true);
    let answer = merge_request_from_a_fork(&url, "demo", "s3cret", sha.trim());
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    let listed = ferry(&["runs", "demo"]);
    assert!(listed.contains(" waiting "), "{listed}");
    let id = listed.split_whitespace().nth(1).expect("a run id").to_owned();
    let approved = ferry(&["approve", "--run", &id]);
    assert!(approved.contains("approved"), "{approved}");
    let listed = ferry(&["runs", "demo"]);
    assert!(!listed.contains(" waiting ") && listed.contains("in_progress"), "{listed}");
    let again = output_within(client_command(&url, &admin, &["approve", "--run", &id]));
    assert!(!again.status.success(), "a run approved already: {}", text(&again));
    let set = ferry(&["project", "set", "demo", "--require-approval", "false"]);
    assert_eq!(set, "project demo: runs of pull requests from forks start at once\n");
}

#[test]
fn issue_13_runs_page_with_limit_and_before_and_filter_by_status_workflow_branch_and_event() {
    let scratch = tempfile::Builder::new().prefix("ferry-runs-it-").tempdir().expect("temp dir");
    let repo = Repo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let (server, url, admin) = start_server(scratch.path());
    let run = |args: &[&str]| output_within(client_command(&url, &admin, args));
    let ferry = |args: &[&str]| {
        let output = run(args);
        assert!(output.status.success(), "{}\n--- server\n{}", text(&output), server.stderr());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ferry(&["project", "add", "demo", "--repo", &repo.path().display().to_string()]);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let triggered: Value = serde_json::from_str(&ferry(&["trigger", "demo", "--json"])).expect("JSON");
        ids.push(triggered["runs"][0]["id"].as_i64().expect("a run id"));
    }
    ferry(&["cancel", &ids[1].to_string()]);
    let numbers = |args: &[&str]| -> (Vec<i64>, Value) {
        let mut all = vec!["runs", "demo", "--json"];
        all.extend_from_slice(args);
        let page: Value = serde_json::from_str(&ferry(&all)).expect("JSON");
        let numbers =
            page["runs"].as_array().expect("a list").iter().filter_map(|run| run["number"].as_i64()).collect();
        (numbers, page["next_before"].clone())
    };
    assert_eq!(numbers(&["--limit", "2"]), (vec![3, 2], Value::from(2)));
    assert_eq!(numbers(&["--limit", "2", "--before", "2"]), (vec![1], Value::Null));
    assert_eq!(numbers(&["--status", "cancelled"]).0, [2]);
    assert_eq!(numbers(&["--status", "in_progress", "--workflow", "ci.yml", "--branch", "main"]).0, [3, 1]);
    assert_eq!(numbers(&["--event", "workflow_dispatch", "--limit", "1"]), (vec![3], Value::from(3)));

    let table = ferry(&["runs", "demo", "--limit", "1"]);
    assert!(table.starts_with(&format!("run {}  #3  in_progress", ids[2])), "{table}");
    assert!(table.ends_with("older runs: add --before 3\n"), "{table}");
    assert_eq!(ferry(&["runs", "demo", "--event", "push"]), "no runs of project demo match\n");
    let bad = run(&["runs", "demo", "--status", "done"]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("is not a run status or conclusion"), "{}", text(&bad));
}
