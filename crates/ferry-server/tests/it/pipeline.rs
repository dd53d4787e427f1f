//! Pipelines on the server: triggers plan runs, jobs are claimed by label over the runner
//! protocol, results and outputs flow to the jobs that need them, logs stream, and runs are
//! cancelled, re-run and failed when their runner is lost. The runner here is the test
//! itself speaking the protocol over HTTP, so each step of the protocol is visible.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_model::Clock as _;
use serde_json::{Value, json};

use crate::{EVENT_BATCH_TYPE, ProtocolRunner, Response, TestRepo, TestServer};

const WORKFLOW: &str = r#"
name: CI
on:
  workflow_dispatch:
    inputs:
      level: { type: choice, options: [info, debug], default: info }
jobs:
  build:
    runs-on: [self-hosted, linux]
    outputs:
      version: ${{ steps.v.outputs.version }}
    steps:
      - id: v
        run: echo "version=1.2" >> "$GITHUB_OUTPUT"
  test:
    needs: build
    runs-on: linux
    strategy:
      matrix:
        n: [1, 2]
    steps:
      - run: echo "testing ${{ needs.build.outputs.version }}"
  report:
    needs: test
    if: failure()
    runs-on: linux
    steps:
      - run: echo report
"#;

fn server_with(repo: &TestRepo) -> TestServer {
    crate::hooks::with_repo_project(TestServer::start(), &repo.path())
}

fn trigger(server: &TestServer, body: &Value) -> Response {
    server.call("POST", "/api/v1/projects/web/trigger", Some(&server.admin), Some(body))
}

fn run(server: &TestServer, id: i64) -> Value {
    let res = server.call("GET", &format!("/api/v1/runs/{id}"), Some(&server.admin), None);
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()
}

/// Waits (bounded) until the run has completed; returns it.
pub(crate) fn completed(server: &TestServer, id: i64, within: Duration) -> Value {
    let start = Instant::now();
    loop {
        let detail = run(server, id);
        if detail["run"]["status"] == "completed" {
            return detail;
        }
        assert!(start.elapsed() < within, "run {id} did not complete within {within:?}: {detail:#}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The names and states of the run's jobs: instances by status, planned ones by state.
fn job_states(detail: &Value) -> Vec<String> {
    let mut states: Vec<String> = detail["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|job| {
            format!(
                "{}: {} {}",
                job["name"].as_str().unwrap_or(""),
                job["status"].as_str().unwrap_or(""),
                job["conclusion"].as_str().unwrap_or("-")
            )
        })
        .collect();
    states.extend(
        detail["planned"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|job| format!("{}: {}", job["name"].as_str().unwrap_or(""), job["state"].as_str().unwrap_or(""))),
    );
    states
}

#[test]
fn a_dispatch_runs_jobs_in_needs_order_with_inputs_outputs_matrix_and_logs() {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let server = server_with(&repo);
    let res = trigger(&server, &json!({"workflow": "ci.yml", "inputs": {"level": "debug"}}));
    assert_eq!(res.status, 201, "{}", res.body);
    let run_view = &res.json()["runs"][0];
    assert_eq!((run_view["workflow_name"].as_str(), run_view["actor"].as_str()), (Some("CI"), Some("admin")));
    assert_eq!(run_view["git_ref"], "refs/heads/main", "a branch name is made a full ref");
    let id = run_view["id"].as_i64().expect("a run id");
    assert_eq!(job_states(&run(&server, id)), ["build: queued -", "test: waiting", "report: waiting"]);

    // A runner without `self-hosted` cannot take `build`.
    let plain = ProtocolRunner::register(&server, "plain", &["linux"]);
    assert_eq!(plain.claim(0), None);
    let runner = ProtocolRunner::register(&server, "r1", &["self-hosted", "linux"]);
    let build = runner.claim(1000).expect("build is claimable");
    assert_eq!(
        (build["job_key"].as_str(), build["contexts"]["inputs"]["level"].as_str()),
        (Some("build"), Some("debug"))
    );
    assert_eq!(build["sha"].as_str(), Some(repo.head().as_str()));
    assert!(build["workflow_src"].as_str().unwrap_or_default().contains("matrix"));
    runner.finish(&build, &["compiling", "done"], "success", json!({"version": "1.2"}));

    let mut tests = Vec::new();
    for _ in 0..2 {
        let test = plain.claim(1000).expect("a test instance");
        assert_eq!(test["contexts"]["needs"]["build"]["outputs"]["version"], "1.2", "{test:#}");
        tests.push((test["name"].as_str().unwrap_or_default().to_owned(), test["contexts"]["matrix"]["n"].as_i64()));
        plain.finish(&test, &["ok"], "success", json!({}));
    }
    assert_eq!(tests, [("test (1)".to_owned(), Some(1)), ("test (2)".to_owned(), Some(2))]);
    let detail = completed(&server, id, Duration::from_secs(10));
    assert_eq!(detail["run"]["conclusion"], "success");
    assert_eq!(
        job_states(&detail),
        ["build: completed success", "test (1): completed success", "test (2): completed success", "report: skipped"]
    );
    assert_eq!(detail["jobs"][0]["runner"], "r1");
    assert_eq!(detail["jobs"][0]["steps"][0]["name"], "Run step");

    let build_id = detail["jobs"][0]["id"].as_i64().expect("a job id");
    let logs = server.call("GET", &format!("/api/v1/runs/{id}/logs?job={build_id}"), Some(&server.admin), None);
    assert_eq!(logs.status, 200, "{}", logs.body);
    assert_eq!(logs.header("content-type"), Some("text/event-stream"));
    let events: Vec<&str> =
        logs.body.lines().filter(|line| line.starts_with("event:") || line.starts_with("data:")).collect();
    assert_eq!(events, [
        "event: chunk",
        r#"data: {"job_id":BUILD,"step_idx":0,"seq":1,"lines":["compiling","done"]}"#.replace("BUILD", &build_id.to_string()).as_str(),
        "event: end",
        "data: {}",
    ]);
}

#[test]
fn a_dispatch_with_a_bad_input_or_workflow_is_refused_and_starts_nothing() {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let server = server_with(&repo);
    let bad = trigger(&server, &json!({"workflow": "ci.yml", "inputs": {"level": "loud"}}));
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.json()["error"].as_str().unwrap_or_default().contains("choose one of info, debug"), "{}", bad.body);
    let missing = trigger(&server, &json!({"workflow": "nope.yml"}));
    assert_eq!(missing.status, 422, "{}", missing.body);
    assert!(missing.body.contains(".github/workflows/ci.yml"), "names the workflows there: {}", missing.body);
    let no_ref = trigger(&server, &json!({"git_ref": "refs/heads/nowhere"}));
    assert_eq!(no_ref.status, 422, "{}", no_ref.body);
    let runs = server.call("GET", "/api/v1/projects/web/runs", Some(&server.admin), None);
    assert_eq!(runs.json(), json!([]));
}

#[test]
fn a_workflow_with_errors_gets_a_failed_run_that_says_where() {
    let broken =
        "on: workflow_dispatch\njobs:\n  build:\n    runs-on: linux\n    steps:\n      - run: echo ${{ nope( }}\n";
    let repo = TestRepo::new(&[(".github/workflows/broken.yml", broken)]);
    let server = server_with(&repo);
    let res = trigger(&server, &json!({"workflow": "broken.yml"}));
    assert_eq!(res.status, 201, "{}", res.body);
    let view = &res.json()["runs"][0];
    assert_eq!((view["status"].as_str(), view["conclusion"].as_str()), (Some("completed"), Some("failure")));
    let error = view["error"].as_str().unwrap_or_default();
    assert!(error.contains(".github/workflows/broken.yml:6:"), "{error}");
}

#[test]
fn cancelling_a_run_stops_its_running_job_and_skips_what_would_follow() {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let server = server_with(&repo);
    let id = trigger(&server, &json!({"workflow": "ci.yml"})).json()["runs"][0]["id"].as_i64().expect("a run id");
    let runner = ProtocolRunner::register(&server, "r1", &["self-hosted", "linux"]);
    let build = runner.claim(1000).expect("build");
    let job_id = build["job_id"].as_i64().expect("a job id");
    let heartbeat = runner.call(&format!("/api/v1/runner/jobs/{job_id}/heartbeat"), &json!({}));
    assert_eq!(heartbeat.json(), json!({"cancel": false}));

    let res = server.call("POST", &format!("/api/v1/runs/{id}/cancel"), Some(&server.admin), None);
    assert_eq!(res.status, 202, "{}", res.body);
    let heartbeat = runner.call(&format!("/api/v1/runner/jobs/{job_id}/heartbeat"), &json!({}));
    assert_eq!(heartbeat.json(), json!({"cancel": true}), "the runner learns of the cancel");
    runner.finish(&build, &["stopping"], "cancelled", json!({}));
    let detail = completed(&server, id, Duration::from_secs(10));
    assert_eq!(detail["run"]["conclusion"], "cancelled");
    // `report` has `if: failure()`, which is false for a cancelled run.
    assert_eq!(job_states(&detail), ["build: completed cancelled", "test: skipped", "report: skipped"]);
    assert_eq!(runner.claim(0), None, "nothing else was queued");
}

#[test]
fn a_failed_job_fails_the_run_and_a_rerun_of_failed_jobs_keeps_the_rest() {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let server = server_with(&repo);
    let id = trigger(&server, &json!({"workflow": "ci.yml"})).json()["runs"][0]["id"].as_i64().expect("a run id");
    let runner = ProtocolRunner::register(&server, "r1", &["self-hosted", "linux"]);
    let build = runner.claim(1000).expect("build");
    runner.finish(&build, &["built"], "success", json!({"version": "7"}));
    let first = runner.claim(1000).expect("test (1)");
    runner.finish(&first, &["boom"], "failure", json!({}));
    // Fail-fast cancels the other instance; `report` runs on failure.
    let report = runner.claim(1000).expect("report runs because test failed");
    assert_eq!(report["job_key"], "report");
    runner.finish(&report, &["reported"], "success", json!({}));
    let detail = completed(&server, id, Duration::from_secs(10));
    assert_eq!(detail["run"]["conclusion"], "failure");
    assert_eq!(
        job_states(&detail),
        [
            "build: completed success",
            "test (1): completed failure",
            "test (2): completed cancelled",
            "report: completed success"
        ]
    );

    let res = server.call(
        "POST",
        &format!("/api/v1/runs/{id}/rerun"),
        Some(&server.admin),
        Some(&json!({"failed_only": true})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let rerun = res.json();
    assert_eq!(rerun["rerun_of"].as_i64(), Some(id));
    let again = runner.claim(1000).expect("a test instance again");
    assert_eq!(again["job_key"], "test", "build kept its result: {again:#}");
    assert_eq!(again["contexts"]["needs"]["build"]["outputs"]["version"], "7");
}

#[test]
fn a_runner_that_stops_heartbeating_has_its_job_failed_as_lost() {
    let one_job = "on: workflow_dispatch\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", one_job)]);
    let clock = ferry_testkit::FakeClock::at(1_796_032_830_000);
    let server = crate::hooks::with_repo_project(
        TestServer::start_with_clock(Arc::new(clock.clone()), |config| config.lease_ms = 3_000),
        &repo.path(),
    );
    let id = trigger(&server, &json!({"workflow": "ci.yml"})).json()["runs"][0]["id"].as_i64().expect("a run id");
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let build = runner.claim(1000).expect("build");
    assert_eq!(build["lease_ms"], 3_000);
    // A heartbeat renews the lease from the server's clock.
    clock.advance(Duration::from_millis(2_000));
    let res = runner.call(&format!("/api/v1/runner/jobs/{}/heartbeat", build["job_id"]), &json!({}));
    assert_eq!(res.status, 200, "{}", res.body);
    clock.advance(Duration::from_millis(2_000));
    // The runner goes silent; the lease (renewed 2 s ago) runs out 1.5 s later, which the
    // supervisor sees at its next check (once a second).
    assert_eq!(run(&server, id)["run"]["status"], "in_progress");
    clock.advance(Duration::from_millis(1_500));
    let detail = completed(&server, id, Duration::from_secs(10));
    assert_eq!(detail["run"]["conclusion"], "failure");
    let reason = detail["jobs"][0]["reason"].as_str().unwrap_or_default();
    assert_eq!(reason, "runner lost: no heartbeat for 3.5 s");
    let late = runner.call(
        &format!("/api/v1/runner/jobs/{}/complete", build["job_id"]),
        &json!({"conclusion": "success", "outputs": {}}),
    );
    assert_eq!(late.status, 409, "a late report cannot overwrite the verdict: {}", late.body);
}

#[test]
fn polling_starts_push_runs_for_commits_no_webhook_announced() {
    let push = "on: { push: { branches: [main] } }\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", push)]);
    let server = crate::hooks::with_repo_project(
        TestServer::start_configured(|config| config.poll_interval = Duration::from_millis(100)),
        &repo.path(),
    );
    // Wait until the first poll has learnt where the branch is.
    let start = Instant::now();
    while server
        .with_store(async |store| store.projects().by_name("web").await.expect("read").expect("web").polled_sha)
        .is_empty()
    {
        assert!(start.elapsed() < Duration::from_secs(10), "the first poll did not happen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sha = repo.commit(&[("src/main.rs", "fn main() {}\n")], "add main");
    let start = Instant::now();
    let runs = loop {
        let runs = server.call("GET", "/api/v1/projects/web/runs", Some(&server.admin), None).json();
        if runs.as_array().is_some_and(|runs| !runs.is_empty()) {
            break runs;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no run for the new commit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        (runs[0]["event"].as_str(), runs[0]["sha"].as_str(), runs[0]["actor"].as_str()),
        (Some("push"), Some(sha.as_str()), Some("poll"))
    );
    assert_eq!(runs[0]["title"], "add main");
}

#[test]
fn a_batch_that_is_not_framed_as_the_protocol_says_is_refused_and_stores_nothing() {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let server = server_with(&repo);
    let id = trigger(&server, &json!({"workflow": "ci.yml"})).json()["runs"][0]["id"].as_i64().expect("a run id");
    let runner = ProtocolRunner::register(&server, "r1", &["self-hosted", "linux"]);
    let build = runner.claim(1000).expect("build");
    let started = r#"{"type":"step_started","step_idx":0,"name":"Run step","at":1}"#;
    let lines =
        |bytes: usize| format!(r#"{{"seq":1,"events":[{started},{{"type":"lines","step_idx":0,"bytes":{bytes}}}]}}"#);

    let as_json =
        runner.send_body(&build, "application/json", format!(r#"{{"seq":1,"events":[{started}]}}"#).as_bytes());
    assert_eq!(as_json.status, 415, "{}", as_json.body);
    assert!(as_json.body.contains("application/vnd.ferry.event-batch"), "{}", as_json.body);
    let refusals: [(Vec<u8>, &str); 5] = [
        (b"{\"seq\":1,\"events\":[]}".to_vec(), "no line end"),
        (b"{\"seq\":1}\n".to_vec(), "head (its first line)"),
        (format!("{}\nok\n", lines(9)).into_bytes(), "9 bytes of lines follow, but only 3"),
        (format!("{}\nno end", lines(6)).into_bytes(), "do not end with a line end"),
        ([lines(3).as_bytes(), b"\n\xff\xfe\n"].concat(), "not UTF-8"),
    ];
    for (body, says) in refusals {
        let res = runner.send_body(&build, EVENT_BATCH_TYPE, &body);
        assert_eq!(res.status, 400, "{}", res.body);
        assert!(res.json()["error"].as_str().is_some_and(|error| error.contains(says)), "{says}: {}", res.body);
    }
    let detail = run(&server, id);
    assert_eq!(
        detail["jobs"][0]["steps"].as_array().map(Vec::len),
        Some(0),
        "a refused batch starts no step: {detail:#}"
    );

    // The same seq, framed right, is applied, then ignored when sent again.
    let good = format!("{}\nfirst\nsecond\n", lines(13)).into_bytes();
    for _ in 0..2 {
        let res = runner.send_body(&build, EVENT_BATCH_TYPE, &good);
        assert_eq!((res.status, res.json()), (200, json!({"cancel": false})), "{}", res.body);
    }
    let job_id = build["job_id"].as_i64().expect("a job id");
    let logs = server.call("GET", &format!("/api/v1/runs/{id}/logs?job={job_id}"), Some(&server.admin), None);
    let data: Vec<Value> = logs
        .body
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str::<Value>(data).expect("JSON"))
        .filter(|data| data.get("lines").is_some())
        .collect();
    assert_eq!(data.first().map(|chunk| &chunk["lines"]), Some(&json!(["first", "second"])), "{}", logs.body);
    assert_eq!(data.len(), 1, "one chunk, not two: {}", logs.body);
}

#[test]
fn runner_routes_take_only_runner_tokens() {
    let server = TestServer::start();
    let viewer = server.token("viewer");
    for token in [server.admin.as_str(), viewer.as_str(), "ferryr_00_11"] {
        let res = server.call("POST", "/api/v1/runner/claim", Some(token), Some(&json!({"wait_ms": 0})));
        assert_eq!(res.status, 401, "{token}: {}", res.body);
    }
    let res = server.call("POST", "/api/v1/runners", Some(&viewer), Some(&json!({"name": "r", "labels": []})));
    assert_eq!(res.status, 403, "{}", res.body);
}

const DEPLOY: &str = r#"
on:
  workflow_dispatch:
    inputs:
      replace: { type: boolean, default: false }
concurrency:
  group: deploy-${{ github.ref }}
  cancel-in-progress: ${{ inputs.replace }}
jobs:
  deploy: { runs-on: linux, steps: [{ run: 'true' }] }
"#;

fn dispatch(server: &TestServer, inputs: Value) -> i64 {
    let res = trigger(server, &json!({"workflow": "deploy.yml", "inputs": inputs}));
    assert_eq!(res.status, 201, "{}", res.body);
    res.json()["runs"][0]["id"].as_i64().expect("a run id")
}

#[test]
fn a_concurrency_group_runs_one_run_at_a_time_and_keeps_only_the_newest_waiting() {
    let repo = TestRepo::new(&[(".github/workflows/deploy.yml", DEPLOY)]);
    let server = server_with(&repo);
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let first = dispatch(&server, json!({}));
    let job = runner.claim(1000).expect("the first run's job");
    let second = dispatch(&server, json!({}));
    let third = dispatch(&server, json!({}));
    assert_eq!(runner.claim(0), None, "the group is held by the first run");
    assert_eq!(run(&server, second)["run"]["conclusion"], "cancelled", "the newer waiting run replaced it");
    assert_eq!(run(&server, third)["run"]["status"], "queued");

    runner.finish(&job, &["deployed"], "success", json!({}));
    assert_eq!(completed(&server, first, Duration::from_secs(10))["run"]["conclusion"], "success");
    let next = runner.claim(1000).expect("the waiting run starts when the group is free");
    assert_eq!(next["run_id"].as_i64(), Some(third));
}

#[test]
fn cancel_in_progress_cancels_the_run_holding_the_group() {
    let repo = TestRepo::new(&[(".github/workflows/deploy.yml", DEPLOY)]);
    let server = server_with(&repo);
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let first = dispatch(&server, json!({}));
    let job = runner.claim(1000).expect("the first run's job");
    let second = dispatch(&server, json!({"replace": true}));
    let heartbeat = runner.call(&format!("/api/v1/runner/jobs/{}/heartbeat", job["job_id"]), &json!({}));
    assert_eq!(heartbeat.json(), json!({"cancel": true}));
    runner.finish(&job, &["stopped"], "cancelled", json!({}));
    assert_eq!(completed(&server, first, Duration::from_secs(10))["run"]["conclusion"], "cancelled");
    let next = runner.claim(1000).expect("the new run takes the group");
    assert_eq!(next["run_id"].as_i64(), Some(second));
}

#[test]
fn a_schedule_fires_once_for_the_minutes_that_passed_since_the_last_check() {
    let scheduled = "on:\n  schedule:\n    - cron: '* * * * *'\n    - cron: '0 0 31 2 *'\njobs:\n  nightly: { runs-on: linux, steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[(".github/workflows/nightly.yml", scheduled)]);
    // The server's clock stands at 10:00:30 on a day that is no February 31st.
    let clock = ferry_testkit::FakeClock::at(1_796_032_830_000);
    let server = crate::hooks::with_repo_project(
        TestServer::start_with_clock(Arc::new(clock.clone()), |config| {
            config.poll_interval = Duration::from_millis(100);
        }),
        &repo.path(),
    );
    let start_minute = clock.now_minute();
    let mark = || {
        server.with_store(async |store| {
            store.projects().by_name("web").await.expect("read").expect("web").schedule_checked_at
        })
    };
    // The first check starts the schedule's clock and fires nothing.
    let start = Instant::now();
    while mark().is_none() {
        assert!(start.elapsed() < Duration::from_secs(10), "the first check did not happen");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(mark(), Some(start_minute));
    clock.advance(Duration::from_secs(2 * 60));
    let start = Instant::now();
    let runs = loop {
        let runs = server.call("GET", "/api/v1/projects/web/runs", Some(&server.admin), None).json();
        if runs.as_array().is_some_and(|runs| !runs.is_empty()) {
            break runs;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "the schedule did not fire");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!((runs[0]["event"].as_str(), runs[0]["actor"].as_str()), (Some("schedule"), Some("schedule")));
    assert_eq!(runs[0]["git_ref"], "refs/heads/main");
    // The mark moved on to the clock's minute, so later polls fire only for minutes after it;
    // February 31st never comes, so that cron started nothing.
    assert_eq!(mark(), Some(start_minute + 2));
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs:#}");
}

/// Opens `GET path` with a bearer token and `Accept: accept`, to be read later.
/// A log stream whose response head was read.
pub(crate) struct LogStream {
    stream: std::net::TcpStream,
    head: Vec<u8>,
}

/// Opens the log stream at `path` and reads its response head: the server sends it once the
/// request is served, after a follower subscribed to the live feed, so what is stored or sent
/// from then on reaches it.
pub(crate) fn open_stream(server: &TestServer, path: &str, accept: &str) -> LogStream {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connecting");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Bearer {}\r\nAccept: {accept}\r\n\r\n",
        server.addr, server.admin
    );
    stream.write_all(request.as_bytes()).expect("sending");
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).expect("reading the head"), 1, "the answer ended in its head");
        head.push(byte[0]);
    }
    LogStream { stream, head }
}

pub(crate) fn read_stream(log: LogStream) -> Response {
    use std::io::Read as _;
    let LogStream { mut stream, head: mut answer } = log;
    stream.read_to_end(&mut answer).expect("reading the answer");
    Response::parse(&answer)
}

/// `(step_idx, seq, text)` of every chunk of a framed log stream, which must end with its end.
fn framed_chunks(res: &Response) -> Vec<(i64, i64, String)> {
    use ferry_proto::log_stream::{LogFrame, LogStreamDecoder};
    assert_eq!(res.header("content-type"), Some("application/vnd.ferry.log-stream"));
    let mut decoder = LogStreamDecoder::new();
    decoder.push(res.body.as_bytes());
    let mut chunks = Vec::new();
    loop {
        match decoder.next_frame().expect("a well-framed stream") {
            Some(LogFrame::Chunk(chunk)) => chunks.push((chunk.step_idx, chunk.seq, chunk.text)),
            Some(LogFrame::End) => break,
            Some(LogFrame::Error(message)) => panic!("the stream ended with an error: {message}"),
            None => panic!("the stream ended without its end frame: {}", res.body),
        }
    }
    chunks
}

/// The same from Server-Sent Events, each chunk's lines joined back into its text.
fn event_chunks(res: &Response) -> Vec<(i64, i64, String)> {
    assert_eq!(res.header("content-type"), Some("text/event-stream"));
    assert!(res.body.ends_with("event: end\ndata: {}\n\n"), "{}", res.body);
    res.body
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str::<Value>(data).expect("JSON"))
        .filter(|data| data.get("lines").is_some())
        .map(|chunk| {
            let text: String = chunk["lines"]
                .as_array()
                .expect("lines")
                .iter()
                .map(|line| format!("{}\n", line.as_str().expect("a line")))
                .collect();
            (chunk["step_idx"].as_i64().expect("a step"), chunk["seq"].as_i64().expect("a seq"), text)
        })
        .collect()
}

#[test]
fn followers_framed_or_as_events_get_every_chunk_once_in_order_from_the_store_and_live() {
    let repo = TestRepo::new(&[(
        ".github/workflows/logs.yml",
        "on: workflow_dispatch\njobs:\n  build:\n    runs-on: [self-hosted, linux]\n    steps:\n      - run: one\n      - run: two\n",
    )]);
    let server = server_with(&repo);
    let id = trigger(&server, &json!({"workflow": "logs.yml"})).json()["runs"][0]["id"].as_i64().expect("a run id");
    let runner = ProtocolRunner::register(&server, "r1", &["self-hosted", "linux"]);
    let build = runner.claim(1000).expect("build");
    // Stored before anyone follows.
    runner.send(
        &build,
        1,
        json!([
            {"type": "step_started", "step_idx": 0, "name": "one", "at": 1},
            {"type": "lines", "step_idx": 0, "lines": ["stored 1", "stored 2"]},
        ]),
    );
    runner.send(&build, 2, json!([{"type": "lines", "step_idx": 0, "lines": ["stored 3"]}]));
    let path = format!("/api/v1/runs/{id}/logs?follow=true");
    let framed = open_stream(&server, &path, "application/vnd.ferry.log-stream");
    let events = open_stream(&server, &path, "text/event-stream");
    // Read only at the end: the server's writes to it stall, and it falls behind the feed.
    let late = open_stream(&server, &path, "application/json, application/vnd.ferry.log-stream");
    // The framed follower's chunks as they come.
    let (seen, arrivals) = std::sync::mpsc::channel();
    let framed = std::thread::spawn(move || {
        use std::io::Read as _;
        let LogStream { stream: mut framed, head: mut answer } = framed;
        let (mut buffer, mut found) = ([0; 65536], false);
        while let Ok(n_read @ 1..) = framed.read(&mut buffer) {
            answer.extend_from_slice(&buffer[..n_read]);
            if !found {
                found = answer.windows(8).any(|window| window == b"\"seq\":3,");
                let _ = seen.send(found);
            }
        }
        Response::parse(&answer)
    });
    let events = std::thread::spawn(move || read_stream(events));
    let big_line = "x".repeat(9_999);
    let mut want = vec![(0, 1, "stored 1\nstored 2\n".to_owned()), (0, 2, "stored 3\n".to_owned())];
    for seq in 3..=40 {
        let step_idx = i64::from(seq > 20);
        let mut batch = Vec::new();
        if seq == 21 {
            batch.push(
                json!({"type": "step_finished", "step_idx": 0, "outcome": "success", "conclusion": "success", "at": 2}),
            );
            batch.push(json!({"type": "step_started", "step_idx": 1, "name": "two", "at": 3}));
        }
        // 30 lines of 10 kB a batch: 11 MB in all, more than a stalled reader's socket holds.
        let lines: Vec<String> = (0..30).map(|line| format!("{seq}.{line}{big_line}")).collect();
        batch.push(json!({"type": "lines", "step_idx": step_idx, "lines": lines}));
        let step_seq = if step_idx == 0 { seq } else { seq - 20 };
        want.push((step_idx, step_seq, lines.iter().map(|line| format!("{line}\n")).collect()));
        runner.send(&build, seq, Value::Array(batch.clone()));
        if seq == 3 {
            // Live: the chunk comes at once, not when the follower next looks at the store.
            let start = Instant::now();
            while !arrivals.recv_timeout(Duration::from_secs(4)).expect("chunk 3 came live") {
                assert!(start.elapsed() < Duration::from_secs(4), "chunk 3 did not come live");
            }
        }
        if seq % 10 == 0 {
            // A repeat (the runner did not get the answer) is neither stored nor shown again.
            runner.send(&build, seq, Value::Array(batch));
        }
    }
    runner.send(
        &build,
        41,
        json!([{"type": "step_finished", "step_idx": 1, "outcome": "success", "conclusion": "success", "at": 4}]),
    );
    runner.complete(&build, "success", json!({}));
    let late = read_stream(late);
    let summary = |chunks: &[(i64, i64, String)]| -> Vec<(i64, i64, usize)> {
        chunks.iter().map(|(step, seq, text)| (*step, *seq, text.len())).collect()
    };
    for (name, got) in [
        ("framed", framed_chunks(&framed.join().expect("the framed follower"))),
        ("events", event_chunks(&events.join().expect("the event follower"))),
        ("late", framed_chunks(&late)),
    ] {
        assert_eq!(summary(&got), summary(&want), "{name}");
        assert!(got == want, "{name}: the texts differ");
    }
}

/// A repository whose one workflow, `.github/workflows/FILE`, runs `run` in a job on
/// `self-hosted`, and a server with a runner of that label in its process.
fn with_local_runner(file: &str, run: &str) -> (TestRepo, TestServer, ferry_server::LocalRunner) {
    let workflow =
        format!("on: workflow_dispatch\njobs:\n  build:\n    runs-on: [self-hosted]\n    steps:\n      - run: {run}\n");
    let repo = TestRepo::new(&[(&format!(".github/workflows/{file}"), &workflow)]);
    let (server, local) = TestServer::start_with_local_runner("embedded", &["self-hosted".to_owned()]);
    (repo, server, local)
}

#[test]
fn a_runner_in_the_servers_process_hands_batches_over_in_memory_once_each_and_live() {
    let (repo, server, local) = with_local_runner("logs.yml", "one");
    let server = crate::hooks::with_repo_project(server, &repo.path());
    let id = trigger(&server, &json!({"workflow": "logs.yml"})).json()["runs"][0]["id"].as_i64().expect("a run id");
    // It claims over HTTP like any runner, with the token it was registered with.
    let runner = ProtocolRunner::with_token(&server, local.token());
    let build = runner.claim(1000).expect("build");
    let job_id = build["job_id"].as_i64().expect("a job id");
    let follower =
        open_stream(&server, &format!("/api/v1/runs/{id}/logs?follow=true"), "application/vnd.ferry.log-stream");
    let lines =
        |seq: i64, text: &str| ferry_proto::runner::StepEvent::Lines { step_idx: 0, text: format!("{seq}: {text}\n") };
    let batches = [
        ferry_proto::runner::EventBatch {
            seq: 1,
            events: vec![
                ferry_proto::runner::StepEvent::StepStarted { step_idx: 0, name: "one".to_owned(), at: 1 },
                lines(1, "first"),
            ],
        },
        ferry_proto::runner::EventBatch { seq: 2, events: vec![lines(2, "second"), lines(2, "third")] },
        ferry_proto::runner::EventBatch {
            seq: 3,
            events: vec![ferry_proto::runner::StepEvent::StepFinished {
                step_idx: 0,
                outcome: ferry_model::Conclusion::Success,
                conclusion: ferry_model::Conclusion::Success,
                at: 2,
            }],
        },
    ];
    for batch in batches {
        let batch = std::sync::Arc::new(batch);
        let control = server.block_on(local.record_events(job_id, batch.clone())).expect("applied");
        assert!(!control.cancel);
        // Given again (its answer was lost): ignored.
        server.block_on(local.record_events(job_id, batch)).expect("a repeat is answered too");
    }
    runner.complete(&build, "success", json!({}));
    let want = vec![(0, 1, "1: first\n".to_owned()), (0, 2, "2: second\n".to_owned()), (0, 3, "2: third\n".to_owned())];
    assert_eq!(framed_chunks(&read_stream(follower)), want);
    // Stored once each, as shown live.
    let stored =
        read_stream(open_stream(&server, &format!("/api/v1/runs/{id}/logs"), "application/vnd.ferry.log-stream"));
    assert_eq!(framed_chunks(&stored), want);
    // A job it no longer holds answers as the route does: 409, and the agent drops the job.
    let late = std::sync::Arc::new(ferry_proto::runner::EventBatch { seq: 4, events: vec![lines(4, "late")] });
    let refusal = server.block_on(local.record_events(job_id, late)).expect_err("the job is completed");
    assert_eq!(refusal.status, 409, "{refusal}");
    assert!(refusal.message.contains("not in progress on this runner"), "{refusal}");
}

#[test]
fn a_runner_in_the_servers_process_is_shown_the_servers_copy_of_a_jobs_repository() {
    let (repo, server, local) = with_local_runner("ci.yml", "true");
    // A URL, not a folder: the server keeps a mirror of it, fetched when the run is planned.
    let url = format!("file://{}", repo.path().display());
    let body = json!({"name": "web", "repo": url});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    assert_eq!(trigger(&server, &json!({"workflow": "ci.yml"})).status, 201);
    let build = ProtocolRunner::with_token(&server, local.token()).claim(1000).expect("build");
    let job_id = build["job_id"].as_i64().expect("a job id");
    let sha = build["sha"].as_str().expect("a commit");

    let copy = server.block_on(local.repository_of(job_id)).expect("the server's copy");
    assert!(copy.starts_with(server.dir.path()), "{} is the server's mirror", copy.display());
    let found = std::process::Command::new("git")
        .arg("-C")
        .arg(&copy)
        .args(["cat-file", "-e", &format!("{sha}^{{commit}}")])
        .status()
        .expect("git runs");
    assert!(found.success(), "the mirror holds the job's commit");
    assert_eq!(server.block_on(local.repository_of(job_id + 1000)), None, "no such job");
}

#[test]
fn a_runner_in_the_servers_process_hears_of_each_commit_a_run_starts_for_before_its_job_is_claimed() {
    let (repo, server, local) = with_local_runner("ci.yml", "true");
    let mut upcoming = local.upcoming_commits();
    assert_eq!(*upcoming.borrow_and_update(), None, "nothing until a run starts");
    let url = format!("file://{}", repo.path().display());
    let body = json!({"name": "web", "repo": url});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    // A workflow the trigger does not name starts nothing, and is not announced.
    assert_eq!(trigger(&server, &json!({"workflow": "other.yml"})).status, 422);
    assert!(!upcoming.has_changed().expect("the server is up"));

    assert_eq!(trigger(&server, &json!({"workflow": "ci.yml"})).status, 201);
    let commit = upcoming.borrow_and_update().clone().expect("the run's commit");
    let build = ProtocolRunner::with_token(&server, local.token()).claim(1000).expect("build");
    assert_eq!(commit.sha, build["sha"].as_str().expect("a commit"));
    assert_eq!(commit.repo, build["repo"].as_str().expect("a repository"), "named as the job names it");
    let copy = server.block_on(local.repository_of(build["job_id"].as_i64().expect("a job id")));
    assert_eq!(Some(commit.source), copy, "the server's copy, which holds the commit");
}

#[test]
fn a_webhooks_payload_is_stored_once_per_run_and_handed_to_each_job_its_runner_claims() {
    let workflow = "on: push\njobs:\n  m:\n    runs-on: linux\n    strategy: { matrix: { n: [1, 2] } }\n    steps: [{ run: 'true' }]\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", workflow)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let body = json!({
        "ref": "refs/heads/main",
        "before": "1111111111111111111111111111111111111111",
        "after": repo.head(),
        "repository": {"full_name": "octo/web"},
        "sender": {"login": "alice"},
        "commits": [{"id": repo.head(), "message": "fix", "added": [], "modified": ["README.md"], "removed": []}],
    });
    let res = crate::hooks::github(&server, "web", "push", body.to_string().as_bytes(), crate::hooks::SECRET);
    assert!(res.status < 300, "{}", res.body);
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    for _ in 0..2 {
        let job = runner.claim(1000).expect("an instance");
        assert_eq!(job["contexts"]["github"]["event"]["sender"]["login"], "alice", "{job:#}");
        let id = job["job_id"].as_i64().expect("a job id");
        let stored = server.with_store(async |store| store.jobs().get(id).await.expect("the job").contexts);
        let stored: Value = serde_json::from_str(&stored).expect("contexts as JSON");
        assert_eq!(stored["github"].get("event"), None, "the job row holds no copy of the payload: {stored}");
        runner.finish(&job, &["ok"], "success", json!({}));
    }
}

/// As on GitHub, a dispatch's `github.event.inputs` holds every input as a string, while the
/// `inputs` context keeps the declared types.
#[test]
fn a_dispatch_event_holds_its_inputs_as_strings() {
    let workflow = "on:\n  workflow_dispatch:\n    inputs:\n      flag: { type: boolean, default: false }\n      count: { type: number }\njobs:\n  j:\n    runs-on: linux\n    steps:\n      - run: true\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", workflow)]);
    let server = server_with(&repo);
    let res = trigger(&server, &json!({"workflow": "ci.yml", "inputs": {"flag": "true", "count": "41"}}));
    assert_eq!(res.status, 201, "{}", res.body);
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let job = runner.claim(1000).expect("the job is claimable");
    let contexts = &job["contexts"];
    assert_eq!(contexts["inputs"], json!({"flag": true, "count": 41.0}), "{contexts:#}");
    assert_eq!(contexts["github"]["event"]["inputs"], json!({"flag": "true", "count": "41"}), "{contexts:#}");
}
