//! The `github` context a server's run sees (issue 13, item 10): `run_attempt` counts re-runs.

use serde_json::Value;

use crate::harness::Repo;
use crate::runner::{client_command, get_json, output_within, start_server, text, wait_for};

const WORKFLOW: &str = r#"
on: workflow_dispatch
jobs:
  show:
    runs-on: self-hosted
    steps:
      - run: echo "attempt ${{ github.run_attempt }} $GITHUB_RUN_ATTEMPT retention ${{ github.retention_days }}"
"#;

#[test]
fn issue_13_run_attempt_counts_the_reruns_of_a_run() {
    let scratch = tempfile::Builder::new().prefix("ferry-github-it-").tempdir().expect("temp dir");
    let repo = Repo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let (server, url, admin) = start_server(scratch.path());
    let ferry = |args: &[&str]| {
        let output = output_within(client_command(&url, &admin, args));
        assert!(output.status.success(), "{}\n--- server\n{}", text(&output), server.stderr());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ferry(&["project", "add", "demo", "--repo", &repo.path().display().to_string()]);
    let triggered: Value = serde_json::from_str(&ferry(&["trigger", "demo", "--wait", "--json"])).expect("JSON");
    let mut run_id = triggered["runs"][0]["id"].as_i64().expect("a run id");
    let mut shown = Vec::new();
    for attempt in 1..=3 {
        if attempt > 1 {
            let rerun: Value = serde_json::from_str(&ferry(&["rerun", &run_id.to_string(), "--json"])).expect("JSON");
            run_id = rerun["id"].as_i64().expect("a run id");
        }
        wait_for(&format!("run {run_id} to complete"), || {
            (get_json(&url, &admin, &format!("/api/v1/runs/{run_id}"))["run"]["status"] == "completed").then_some(())
        });
        let log = ferry(&["logs", &run_id.to_string(), "--no-prefix"]);
        shown.extend(log.lines().filter(|line| line.starts_with("attempt ")).map(str::to_owned));
    }
    assert_eq!(shown, ["attempt 1 1 retention 90", "attempt 2 2 retention 90", "attempt 3 3 retention 90"]);
}
