//! The runner agent against a fake Ferry server on a loopback port: it claims a real job, runs
//! it in a checkout of a real repository, and reports it as the protocol says. The fake
//! answers from a function of the request and records every request, so each test says what
//! the server does and reads what the runner did.

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_client::Client;
use ferry_proto::runner::{EventBatch, JobAssignment, JobCompletion, StepEvent};
use ferry_runner::agent::{AgentOptions, run_agent};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// A request the fake server got.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    body: Value,
}

/// How the fake answers a request.
enum Reply {
    Json(u16, Value),
    Empty(u16),
    /// Never answers (a claim the server holds until the runner gives up).
    Hang,
}

type Answer = dyn Fn(&Request) -> Reply + Send + Sync;

/// Serves `answer` on a loopback port; every request goes to the returned receiver.
async fn fake_server(answer: Box<Answer>) -> (String, mpsc::UnboundedReceiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding a loopback port");
    let addr = listener.local_addr().expect("an address");
    let (tx, rx) = mpsc::unbounded_channel();
    let answer: Arc<Answer> = Arc::from(answer);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_connection(stream, answer.clone(), tx.clone()));
        }
    });
    (format!("http://{addr}"), rx)
}

/// HTTP/1.1 with keep-alive, as far as the client needs: a head, a `content-length` body.
async fn serve_connection(mut stream: TcpStream, answer: Arc<Answer>, requests: mpsc::UnboundedSender<Request>) {
    let mut buf = Vec::new();
    loop {
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|window| window == b"\r\n\r\n") {
                break end;
            }
            let mut piece = [0; 8192];
            match stream.read(&mut piece).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&piece[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let length = head
            .lines()
            .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|n| n.trim().to_owned()))
            .map_or(0, |n| n.parse::<usize>().expect("a length"));
        while buf.len() < head_end + 4 + length {
            let mut piece = [0; 8192];
            match stream.read(&mut piece).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&piece[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..head_end + 4 + length).skip(head_end + 4).collect();
        let mut words = head.split_whitespace();
        let request = Request {
            method: words.next().unwrap_or_default().to_owned(),
            path: words.next().unwrap_or_default().to_owned(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        };
        let reply = answer(&request);
        let _ = requests.send(request);
        let (status, body) = match reply {
            Reply::Json(status, body) => (status, body.to_string()),
            Reply::Empty(status) => (status, String::new()),
            Reply::Hang => return std::future::pending().await,
        };
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A git repository with one commit holding `files`; its path and the commit.
fn repository(dir: &Path, files: &[(&str, &str)]) -> String {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_AUTHOR_NAME", "Ferry Tests")
            .env("GIT_AUTHOR_EMAIL", "tests@ferry.invalid")
            .env("GIT_COMMITTER_NAME", "Ferry Tests")
            .env("GIT_COMMITTER_EMAIL", "tests@ferry.invalid")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "--quiet", "--initial-branch=main"]);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    git(&["add", "--all"]);
    git(&["commit", "--quiet", "-m", "initial"]);
    git(&["rev-parse", "HEAD"])
}

const WORKFLOW: &str = r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: [self-hosted, gpu]
    outputs:
      greeting: ${{ steps.hello.outputs.greeting }}
    steps:
      - uses: actions/checkout@v4
      - id: hello
        run: |
          echo "hello from $(cat README)"
          echo "token ${{ secrets.API_TOKEN }} for $GITHUB_EVENT_NAME"
          echo "::group::details"
          echo "greeting=hi ${{ inputs.who }}" >> "$GITHUB_OUTPUT"
          echo "::endgroup::"
          echo "::warning file=README,line=1::look here"
"#;

fn assignment(repo: &Path, sha: &str, workflow: &str) -> JobAssignment {
    let contexts = json!({
        "github": {
            "event": {"inputs": {"who": "you"}}, "event_name": "workflow_dispatch", "ref": "refs/heads/main",
            "sha": sha, "repository": "local/demo", "run_id": "5", "run_number": "1", "run_attempt": "1",
        },
        "inputs": {"who": "you"}, "vars": {}, "needs": {}, "matrix": {},
        "strategy": {"fail-fast": true, "job-index": 0, "job-total": 1, "max-parallel": 1},
    });
    let Value::Object(contexts) = contexts else { unreachable!("an object literal") };
    let Value::Object(secrets) = json!({"API_TOKEN": "s3cr3t-value"}) else { unreachable!("an object literal") };
    JobAssignment {
        job_id: 7,
        run_id: 5,
        job_key: "build".to_owned(),
        name: "build".to_owned(),
        workflow_file: ".github/workflows/ci.yml".to_owned(),
        workflow_src: workflow.to_owned(),
        contexts,
        secrets,
        repo: repo.display().to_string(),
        sha: sha.to_owned(),
        lease_ms: 15_000,
    }
}

/// A server that hands out `assignment` once, then holds every later claim; events and
/// heartbeats are answered by `control` (given the batch), completions with 204.
fn serving(assignment: JobAssignment, control: impl Fn(&EventBatch) -> Reply + Send + Sync + 'static) -> Box<Answer> {
    let handed_out = Mutex::new(false);
    Box::new(move |request: &Request| match request.path.as_str() {
        "/api/v1/runner/claim" => {
            let mut handed_out = handed_out.lock().expect("not poisoned");
            if *handed_out {
                Reply::Hang
            } else {
                *handed_out = true;
                Reply::Json(200, serde_json::to_value(&assignment).expect("serializable"))
            }
        }
        path if path.ends_with("/events") => {
            control(&serde_json::from_value(request.body.clone()).expect("an event batch"))
        }
        path if path.ends_with("/heartbeat") => Reply::Json(200, json!({"cancel": false})),
        path if path.ends_with("/complete") => Reply::Empty(204),
        _ => Reply::Json(404, json!({"error": "no such route"})),
    })
}

/// Runs an agent against `url` until `until` says the requests so far are enough, then stops
/// it; returns every request, those it made while stopping included, and the work directory.
async fn run_until(
    url: &str,
    mut requests: mpsc::UnboundedReceiver<Request>,
    until: impl Fn(&[Request]) -> bool,
) -> (Vec<Request>, tempfile::TempDir) {
    let work_dir = tempfile::Builder::new().prefix("ferry-agent-").tempdir().expect("temp dir");
    let client = Client::new(url, "ferryr_test_token").expect("a valid address");
    let options = AgentOptions { labels: vec!["gpu".to_owned()], slots: 1, work_dir: work_dir.path().to_path_buf() };
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let agent = tokio::spawn(run_agent(client, options, async {
        let _ = stop_rx.await;
    }));
    let mut seen = Vec::new();
    let collected = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(request) = requests.recv().await {
            seen.push(request);
            if until(&seen) {
                return;
            }
        }
    })
    .await;
    let _ = stop_tx.send(());
    agent.await.expect("the agent did not panic").expect("the agent stopped cleanly");
    assert!(collected.is_ok(), "the agent did not get there in time: {seen:#?}");
    // What it sent while stopping (the fake records a request before answering it).
    while let Ok(request) = requests.try_recv() {
        seen.push(request);
    }
    (seen, work_dir)
}

fn batches(requests: &[Request]) -> Vec<EventBatch> {
    requests
        .iter()
        .filter(|request| request.path.ends_with("/events"))
        .map(|request| serde_json::from_value(request.body.clone()).expect("an event batch"))
        .collect()
}

fn lines(batches: &[EventBatch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|batch| &batch.events)
        .flat_map(|event| match event {
            StepEvent::Lines { step_idx, lines } => lines.iter().map(|line| format!("{step_idx}: {line}")).collect(),
            _ => Vec::new(),
        })
        .collect()
}

fn completion(requests: &[Request]) -> Option<JobCompletion> {
    requests
        .iter()
        .find(|request| request.path == "/api/v1/runner/jobs/7/complete")
        .map(|request| serde_json::from_value(request.body.clone()).expect("a completion"))
}

fn completed(requests: &[Request]) -> bool {
    completion(requests).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claimed_job_runs_in_a_checkout_and_is_reported_and_completed() {
    let repo = tempfile::tempdir().expect("temp dir");
    let sha = repository(repo.path(), &[("README", "the repo"), (".github/workflows/ci.yml", WORKFLOW)]);
    let answer = serving(assignment(repo.path(), &sha, WORKFLOW), |_| Reply::Json(200, json!({"cancel": false})));
    let (url, requests) = fake_server(answer).await;
    let (requests, work_dir) = run_until(&url, requests, completed).await;

    assert!(requests.iter().all(|request| request.method == "POST"), "the protocol is all POSTs");
    let completion = completion(&requests).expect("completed");
    assert_eq!(completion.conclusion.as_str(), "success", "{completion:?}\n{:#?}", lines(&batches(&requests)));
    assert_eq!(completion.outputs.get("greeting"), Some(&json!("hi you")));
    assert_eq!(completion.reason, None);
    let batches = batches(&requests);
    let seqs: Vec<i64> = batches.iter().map(|batch| batch.seq).collect();
    assert_eq!(seqs, (1..=i64::try_from(seqs.len()).expect("few")).collect::<Vec<_>>(), "numbered 1, 2, 3…");
    let lines = lines(&batches);
    let shown: Vec<&str> = lines.iter().map(String::as_str).filter(|line| line.starts_with("1: ")).collect();
    assert_eq!(
        shown,
        [
            "1: hello from the repo",
            "1: token *** for workflow_dispatch",
            "1: ##[group]details",
            "1: ##[endgroup]",
            "1: ##[warning]README:1: look here",
        ]
    );
    let steps: Vec<String> = batches
        .iter()
        .flat_map(|batch| &batch.events)
        .filter_map(|event| match event {
            StepEvent::StepStarted { step_idx, name, .. } => Some(format!("start {step_idx} {name}")),
            StepEvent::StepFinished { step_idx, conclusion, .. } => Some(format!("end {step_idx} {conclusion}")),
            StepEvent::Lines { .. } => None,
        })
        .collect();
    assert_eq!(steps.len(), 4, "{steps:?}");
    assert!(steps[0].starts_with("start 0 ") && steps[3] == "end 1 success", "{steps:?}");
    let kept: Vec<String> = std::fs::read_dir(work_dir.path().join("repos"))
        .expect("a repos folder")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(kept.len(), 1, "one mirror: {kept:?}");
    assert!(kept[0].ends_with(".git") && kept[0].len() == 68, "{kept:?}");
    assert_eq!(std::fs::read_dir(work_dir.path().join("jobs")).expect("a jobs folder").count(), 0, "job dir removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_from_the_server_stops_the_job_which_completes_as_cancelled() {
    let workflow = "on: workflow_dispatch\njobs:\n  build:\n    runs-on: self-hosted\n    steps:\n      - run: echo started; sleep 60\n      - run: echo never\n";
    let repo = tempfile::tempdir().expect("temp dir");
    let sha = repository(repo.path(), &[(".github/workflows/ci.yml", workflow)]);
    let answer = serving(assignment(repo.path(), &sha, workflow), |batch| {
        let started = batch
            .events
            .iter()
            .any(|event| matches!(event, StepEvent::Lines { lines, .. } if lines.iter().any(|line| line == "started")));
        Reply::Json(200, json!({"cancel": started}))
    });
    let (url, requests) = fake_server(answer).await;
    let (requests, _work_dir) = run_until(&url, requests, completed).await;
    let completion = completion(&requests).expect("completed");
    assert_eq!(completion.conclusion.as_str(), "cancelled", "{completion:?}");
    assert!(!lines(&batches(&requests)).iter().any(|line| line.ends_with("never")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_taken_away_is_stopped_and_not_completed() {
    let workflow = "on: workflow_dispatch\njobs:\n  build:\n    runs-on: self-hosted\n    steps:\n      - run: echo started; sleep 60\n";
    let repo = tempfile::tempdir().expect("temp dir");
    let sha = repository(repo.path(), &[(".github/workflows/ci.yml", workflow)]);
    let answer = serving(assignment(repo.path(), &sha, workflow), |_| {
        Reply::Json(409, json!({"error": "job 7 was failed as lost"}))
    });
    let (url, requests) = fake_server(answer).await;
    // The next claim comes once the runner let go of the job.
    let claims = |requests: &[Request]| requests.iter().filter(|request| request.path.ends_with("/claim")).count();
    let (requests, _work_dir) = run_until(&url, requests, |requests| claims(requests) == 2).await;
    assert!(!completed(&requests), "{requests:#?}");
    assert_eq!(batches(&requests).len(), 1, "nothing sent after the 409");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_with_errors_fails_the_job_with_the_findings_as_reason() {
    let workflow = "on: workflow_dispatch\njobs:\n  build:\n    runs-on: self-hosted\n    stepz: []\n";
    let repo = tempfile::tempdir().expect("temp dir");
    let sha = repository(repo.path(), &[(".github/workflows/ci.yml", workflow)]);
    let answer = serving(assignment(repo.path(), &sha, workflow), |_| Reply::Json(200, json!({"cancel": false})));
    let (url, requests) = fake_server(answer).await;
    let (requests, _work_dir) = run_until(&url, requests, completed).await;
    let completion = completion(&requests).expect("completed");
    assert_eq!(completion.conclusion.as_str(), "failure");
    let reason = completion.reason.expect("a reason");
    assert!(reason.starts_with(".github/workflows/ci.yml has errors: .github/workflows/ci.yml:5:5: "), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_the_repository_lacks_fails_the_job_with_gits_reason() {
    let repo = tempfile::tempdir().expect("temp dir");
    let sha = repository(repo.path(), &[(".github/workflows/ci.yml", WORKFLOW)]);
    let mut job = assignment(repo.path(), &sha, WORKFLOW);
    job.sha = "0123456789abcdef0123456789abcdef01234567".to_owned();
    let answer = serving(job, |_| Reply::Json(200, json!({"cancel": false})));
    let (url, requests) = fake_server(answer).await;
    let (requests, _work_dir) = run_until(&url, requests, completed).await;
    let completion = completion(&requests).expect("completed");
    assert_eq!(completion.conclusion.as_str(), "failure");
    let reason = completion.reason.expect("a reason");
    assert!(reason.starts_with("checking out 0123456789abcdef0123456789abcdef01234567 of "), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_agent_cancels_the_job_in_progress_and_completes_it_as_cancelled() {
    let workflow = "on: workflow_dispatch\njobs:\n  build:\n    runs-on: self-hosted\n    steps:\n      - run: echo started; sleep 60\n";
    let repo = tempfile::tempdir().expect("temp dir");
    let sha = repository(repo.path(), &[(".github/workflows/ci.yml", workflow)]);
    let answer = serving(assignment(repo.path(), &sha, workflow), |_| Reply::Json(200, json!({"cancel": false})));
    let (url, requests) = fake_server(answer).await;
    let started = |requests: &[Request]| lines(&batches(requests)).iter().any(|line| line == "0: started");
    let (requests, work_dir) = run_until(&url, requests, started).await;
    let completion = completion(&requests).expect("completed while stopping");
    assert_eq!(completion.conclusion.as_str(), "cancelled", "{completion:?}");
    assert_eq!(std::fs::read_dir(work_dir.path().join("jobs")).expect("a jobs folder").count(), 0, "job dir removed");
}
