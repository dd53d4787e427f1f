//! Crash safety with real processes: `ferry server` (with its embedded runner) is killed with
//! SIGKILL while a step runs and another job waits in the queue, then started again on the
//! same data directory. Every run must reach a terminal state or continue, no stored log line
//! may be lost, and no step may run twice.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use crate::harness::Repo;
use crate::runner::{Process, client_command, get_json, output_within, start_server, text, wait_for};

fn workflow(marks: &Path) -> String {
    format!(
        r#"
on: workflow_dispatch
jobs:
  slow:
    runs-on: self-hosted
    steps:
      - run: |
          echo "started $$" >> "{marks}"
          for i in 1 2 3; do echo "line $i before the crash"; done
          sleep 300
  later:
    runs-on: [self-hosted, gpu]
    steps:
      - run: echo "ran after the restart"
"#,
        marks = marks.display()
    )
}

/// Every log line of the run, in order, as `ferry logs --json` reads them back.
fn log_lines(url: &str, token: &str, run_id: i64) -> Vec<String> {
    let logs = output_within(client_command(url, token, &["logs", &run_id.to_string(), "--json"]));
    assert!(logs.status.success(), "{}", text(&logs));
    String::from_utf8_lossy(&logs.stdout)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a chunk per line"))
        .flat_map(|chunk| {
            let lines: Vec<String> = chunk["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|line| line.as_str().map(str::to_owned))
                .collect();
            lines
        })
        .collect()
}

#[test]
fn a_server_killed_mid_run_resumes_it_without_losing_logs_or_running_a_step_twice() {
    let scratch = tempfile::Builder::new().prefix("ferry-crash-it-").tempdir().expect("temp dir");
    let marks = scratch.path().join("marks");
    // The embedded runner's steps cannot create files beside the data directory (its Landlock
    // rules are a snapshot of what is there), but may write to one that exists.
    std::fs::write(&marks, "").expect("the marks file");
    let repo = Repo::new(&[(".github/workflows/ci.yml", &workflow(&marks))]);
    let (mut server, url, admin) = start_server(scratch.path());
    let repo_path = repo.path().display().to_string();
    let added = output_within(client_command(&url, &admin, &["project", "add", "demo", "--repo", &repo_path]));
    assert!(added.status.success(), "{}", text(&added));
    let triggered = output_within(client_command(&url, &admin, &["trigger", "demo", "--json"]));
    assert!(triggered.status.success(), "{}\n{}", text(&triggered), server.stderr());
    let report: Value = serde_json::from_slice(&triggered.stdout).expect("JSON");
    let run_id = report["runs"][0]["id"].as_i64().expect("a run id");

    let before = wait_for("the step's lines to be stored", || {
        let lines = log_lines(&url, &admin, run_id);
        lines.iter().any(|line| line == "line 3 before the crash").then_some(lines)
    });
    let step_pgid: i32 = std::fs::read_to_string(&marks)
        .expect("the step wrote its mark")
        .trim()
        .strip_prefix("started ")
        .and_then(|pid| pid.parse().ok())
        .expect("a pid");

    let pid = rustix::process::Pid::from_child(&server.child);
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).expect("killing the server");
    let _ = server.child.wait();
    // The step's process group lost its server; it must not matter, but it must not linger.
    if let Some(pgid) = rustix::process::Pid::from_raw(step_pgid) {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }

    let (server, url, admin) = start_server(scratch.path());
    let detail = wait_for("the lost job to be failed", || {
        let detail = get_json(&url, &admin, &format!("/api/v1/runs/{run_id}"));
        let slow = detail["jobs"].as_array()?.iter().find(|job| job["key"] == "slow")?.clone();
        (slow["status"] == "completed").then_some(detail)
    });
    let slow = detail["jobs"].as_array().and_then(|jobs| jobs.iter().find(|job| job["key"] == "slow")).expect("slow");
    assert_eq!(slow["conclusion"], "failure", "{detail:#}");
    assert!(slow["reason"].as_str().is_some_and(|reason| reason.starts_with("runner lost")), "{detail:#}");
    assert_eq!(detail["run"]["status"], "in_progress", "the queued job keeps the run going: {detail:#}");

    // A runner with the label the waiting job needs takes it: the run continues.
    let runner_stderr = scratch.path().join("runner.stderr");
    let mut command = client_command(&url, &admin, &["runner", "--labels", "gpu", "--name", "gpu-box", "--slots", "1"]);
    command.arg("--work-dir").arg(scratch.path().join("runner"));
    let child = command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&runner_stderr).expect("a stderr file"))
        .spawn()
        .expect("ferry runner starts");
    let runner = Process { child, stderr: runner_stderr };
    let detail = wait_for("the run to complete", || {
        let detail = get_json(&url, &admin, &format!("/api/v1/runs/{run_id}"));
        (detail["run"]["status"] == "completed").then_some(detail)
    });
    let context = || format!("{detail:#}\n--- runner\n{}\n--- server\n{}", runner.stderr(), server.stderr());
    assert_eq!(detail["run"]["conclusion"], "failure", "{}", context());
    let later =
        detail["jobs"].as_array().and_then(|jobs| jobs.iter().find(|job| job["key"] == "later")).expect("later");
    assert_eq!(
        (later["conclusion"].as_str(), later["runner"].as_str()),
        (Some("success"), Some("gpu-box")),
        "{}",
        context()
    );

    let after = log_lines(&url, &admin, run_id);
    assert_eq!(after[..before.len()], before[..], "every line stored before the crash is still there, in order");
    assert!(after.iter().any(|line| line == "ran after the restart"), "{after:?}");
    let marks = std::fs::read_to_string(&marks).expect("marks");
    assert_eq!(marks.lines().count(), 1, "the step ran once: {marks}");
}
