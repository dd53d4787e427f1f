//! Commit statuses: a run a webhook started reports `pending` (while it waits for its
//! `concurrency:` group, and when it starts) and then its conclusion to the forge, with the
//! project's `FERRY_FORGE_TOKEN`, and a workflow with errors reports its failed run; without
//! the secret nothing is sent. The forge is a stand-in HTTP server on loopback that records
//! what it is sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::hooks::{SECRET, github};
use crate::{ProtocolRunner, TestRepo, TestServer};

const WORKFLOW: &str =
    "on: { push: { branches: [main] } }\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n";

/// A request the fake forge was sent.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// An HTTP server on 127.0.0.1:0 that answers every request 201 `{}` and records it; it
/// stops on drop.
struct FakeForge {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    stop: Arc<AtomicBool>,
}

impl FakeForge {
    fn start() -> FakeForge {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the fake forge");
        let addr = listener.local_addr().expect("its address");
        let (requests, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (recorded, stopping) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let recorded = recorded.clone();
                std::thread::spawn(move || serve(stream, &recorded));
            }
        });
        FakeForge { addr, requests, stop }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("not poisoned").clone()
    }

    /// Waits (bounded) until `n` requests came; returns them.
    fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            assert!(Instant::now() < deadline, "the forge got {} of {n} requests: {requests:#?}", requests.len());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for FakeForge {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Reads requests from one connection (keep-alive) and answers each.
fn serve(stream: TcpStream, recorded: &Mutex<Vec<Recorded>>) {
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let len = headers.iter().find(|(name, _)| name == "content-length").and_then(|(_, value)| value.parse().ok());
        let mut body = vec![0; len.unwrap_or(0)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        recorded.lock().expect("not poisoned").push(Recorded { method, path, headers, body });
        let answer = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// Project `name` on `repo`, with the token secret when `token` is given.
fn add_project(server: &TestServer, name: &str, repo: &TestRepo, token: Option<&str>) {
    let body = json!({"name": name, "repo": repo.path().display().to_string(), "webhook_secret": SECRET});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    if let Some(token) = token {
        let path = format!("/api/v1/projects/{name}/secrets/FERRY_FORGE_TOKEN");
        let res = server.call("PUT", &path, Some(&server.admin), Some(&json!({"value": token})));
        assert_eq!(res.status, 204, "{}", res.body);
    }
}

/// Sends a signed push of `sha` to project `name`, whose payload points GitHub's API at
/// `forge`; returns the run's id.
fn push(server: &TestServer, name: &str, sha: &str, forge: &FakeForge) -> i64 {
    let body = json!({
        "ref": "refs/heads/main", "before": "0000000000000000000000000000000000000001", "after": sha,
        "repository": {"full_name": format!("octo/{name}"), "url": format!("http://{}/repos/octo/{name}", forge.addr)},
        "sender": {"login": "alice"},
        "commits": [{"id": sha, "message": "add workflows", "added": [".github/workflows/ci.yml"], "modified": [], "removed": []}],
    });
    let res = github(server, name, "push", body.to_string().as_bytes(), SECRET);
    assert_eq!(res.status, 202, "{}", res.body);
    res.json()["runs"][0]["run"].as_i64().expect("a run")
}

/// Takes the run's one job and finishes it with `conclusion`; waits until the run completed.
fn run_job(server: &TestServer, runner: &ProtocolRunner<'_>, run_id: i64, conclusion: &str) {
    let job = runner.claim(5_000).expect("the job is queued");
    assert_eq!(job["run_id"].as_i64(), Some(run_id), "{job}");
    runner.finish(&job, &["building"], conclusion, json!({}));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = server.call("GET", &format!("/api/v1/runs/{run_id}"), Some(&server.admin), None);
        if res.json()["run"]["status"] == "completed" {
            return;
        }
        assert!(Instant::now() < deadline, "run {run_id} did not complete: {}", res.body);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What the forge was told, one line per request.
fn statuses(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|request| {
            format!(
                "{} {} {} {} {}",
                request.method,
                request.path,
                request.body["state"].as_str().unwrap_or("-"),
                request.body["context"].as_str().unwrap_or("-"),
                request.header("authorization").unwrap_or("-"),
            )
        })
        .collect()
}

#[test]
fn a_webhook_run_reports_pending_then_success_to_the_forge_with_the_token() {
    let forge = FakeForge::start();
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let sha = repo.head();
    let server = TestServer::start_configured(|config| config.public_url = Some("https://ferry.example/".to_owned()));
    add_project(&server, "web", &repo, Some("ghp_t0ken\n"));
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let run_id = push(&server, "web", &sha, &forge);
    run_job(&server, &runner, run_id, "success");
    let requests = forge.wait_for(2);
    assert_eq!(
        statuses(&requests),
        [
            format!("POST /repos/octo/web/statuses/{sha} pending ferry/ci.yml Bearer ghp_t0ken"),
            format!("POST /repos/octo/web/statuses/{sha} success ferry/ci.yml Bearer ghp_t0ken"),
        ]
    );
    assert_eq!(
        (requests[1].header("accept"), requests[1].header("user-agent")),
        (Some("application/vnd.github+json"), Some("ferry"))
    );
    assert_eq!(requests[1].body["description"], "Run 1 concluded success");
    assert_eq!(
        requests[1].body["target_url"],
        format!("https://ferry.example/ui/runs/{run_id}"),
        "the public URL links the run"
    );
}

#[test]
fn a_failed_run_reports_failure_and_a_project_without_the_token_reports_nothing() {
    let forge = FakeForge::start();
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let sha = repo.head();
    let server = TestServer::start();
    add_project(&server, "quiet", &repo, None);
    add_project(&server, "web", &repo, Some("ghp_t0ken"));
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let quiet_run = push(&server, "quiet", &sha, &forge);
    run_job(&server, &runner, quiet_run, "success");
    // `quiet`'s reports were spawned before `web`'s run began and need only a database read
    // to find no token, so they are over by the time `web`'s two reached the forge.
    let web_run = push(&server, "web", &sha, &forge);
    run_job(&server, &runner, web_run, "failure");
    let requests = forge.wait_for(2);
    assert_eq!(
        statuses(&requests),
        [
            format!("POST /repos/octo/web/statuses/{sha} pending ferry/ci.yml Bearer ghp_t0ken"),
            format!("POST /repos/octo/web/statuses/{sha} failure ferry/ci.yml Bearer ghp_t0ken"),
        ]
    );
}

/// `state description` of each request, in the order they came.
fn states(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|request| {
            format!(
                "{} {}",
                request.body["state"].as_str().unwrap_or("-"),
                request.body["description"].as_str().unwrap_or("-")
            )
        })
        .collect()
}

#[test]
fn a_workflow_with_errors_reports_failure_with_the_reason() {
    let forge = FakeForge::start();
    let broken = "on: { push: { branches: [main] } }\njobs:\n  build: { runs-on: linux, needs: [nope], steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", broken)]);
    let sha = repo.head();
    let server = TestServer::start();
    add_project(&server, "web", &repo, Some("ghp_t0ken"));
    let run_id = push(&server, "web", &sha, &forge);
    let run = server.call("GET", &format!("/api/v1/runs/{run_id}"), Some(&server.admin), None).json();
    assert_eq!(
        (run["run"]["status"].as_str(), run["run"]["conclusion"].as_str()),
        (Some("completed"), Some("failure"))
    );
    let requests = forge.wait_for(1);
    assert_eq!(
        statuses(&requests),
        [format!("POST /repos/octo/web/statuses/{sha} failure ferry/ci.yml Bearer ghp_t0ken")]
    );
    assert_eq!(
        requests[0].body["description"],
        "Run 1 failed: the workflow has errors; fix them (`ferry lint` shows the same)"
    );
}

#[test]
fn a_run_waiting_for_its_concurrency_group_reports_pending_until_it_starts() {
    let forge = FakeForge::start();
    let grouped = "on: { push: { branches: [main] } }\nconcurrency: { group: deploy }\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", grouped)]);
    let sha = repo.head();
    let server = TestServer::start();
    add_project(&server, "web", &repo, Some("ghp_t0ken"));
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let first = push(&server, "web", &sha, &forge);
    let second = push(&server, "web", &sha, &forge);
    let requests = forge.wait_for(2);
    let mut reported = states(&requests);
    // The two runs report independently; each run's reports come in order.
    reported.sort();
    assert_eq!(reported, ["pending Run 1 is running", "pending Run 2 is waiting for its concurrency group"]);
    let job = runner.claim(5_000).expect("the first run's job");
    assert_eq!(job["run_id"].as_i64(), Some(first), "{job}");
    let waiting = runner.claim(0);
    assert!(waiting.is_none(), "the second run has no job queued while it waits: {waiting:?}");
    runner.finish(&job, &["building"], "success", json!({}));
    run_job(&server, &runner, second, "success");
    let requests = forge.wait_for(5);
    let of_run = |number: &str| -> Vec<String> {
        states(&requests).into_iter().filter(|line| line.contains(&format!("Run {number} "))).collect()
    };
    assert_eq!(of_run("1"), ["pending Run 1 is running", "success Run 1 concluded success"]);
    assert_eq!(
        of_run("2"),
        [
            "pending Run 2 is waiting for its concurrency group",
            "pending Run 2 is running",
            "success Run 2 concluded success"
        ]
    );
}
