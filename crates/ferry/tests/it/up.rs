//! `ferry up` as a user runs it, on a fresh data directory: the example's pipeline runs, its
//! release goes to staging and through a canary to production, both answer on their ports,
//! and the login link it prints opens the web UI once. Everything it started (the server, the
//! local agent, the replicas) is stopped when the test ends.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};

use crate::harness::http_get;

/// The example's ports (its `.ferry/deploy.yml`).
const STAGING: u16 = 8001;
const PRODUCTION: u16 = 8002;

/// `ferry up`, the local agent it started and the replicas that agent runs, all stopped on
/// drop: replicas outlive their agent by design, so they are found in its state file.
struct Up {
    child: Child,
    data_dir: PathBuf,
    stderr: PathBuf,
    /// The local agent's pid, as `ferry up` printed it.
    agent_pid: Option<i32>,
}

impl Drop for Up {
    fn drop(&mut self) {
        let state = std::fs::read_to_string(self.data_dir.join("agent/state.json")).unwrap_or_default();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut pids: Vec<i32> = self.agent_pid.into_iter().collect();
        if let Ok(state) = serde_json::from_str::<serde_json::Value>(&state) {
            let replicas = state["replicas"].as_array().cloned().unwrap_or_default();
            pids.extend(replicas.iter().filter_map(|replica| i32::try_from(replica["pid"].as_i64()?).ok()));
        }
        for pid in pids.into_iter().filter_map(Pid::from_raw) {
            let _ = kill_process_group(pid, Signal::KILL);
            let _ = kill_process(pid, Signal::KILL);
        }
    }
}

fn start(data_dir: &Path, scratch: &Path) -> (Up, BufReader<std::process::ChildStdout>) {
    let stderr = scratch.join("up.stderr");
    let mut child = crate::harness::ferry()
        .env_remove("FERRY_NO_AGENT")
        .arg("up")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).expect("a stderr file"))
        .spawn()
        .expect("ferry up starts");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    (Up { child, data_dir: data_dir.to_owned(), stderr, agent_pid: None }, stdout)
}

#[test]
fn ferry_up_delivers_the_example_to_staging_and_production_and_prints_a_login_link() {
    let scratch = tempfile::Builder::new().prefix("ferry-up-it-").tempdir().expect("temp dir");
    let data_dir = scratch.path().join("data");
    let (mut up, mut stdout) = start(&data_dir, scratch.path());
    let mut printed = Vec::new();
    let started = Instant::now();
    // `ferry up` prints its summary once production took the release; the run, staging's
    // rolling deployment and production's canary (with its pauses and verification) take
    // about a minute and a half.
    while !printed.iter().any(|line: &String| line.starts_with("and Ferry rolls it back")) {
        let mut line = String::new();
        let n = stdout.read_line(&mut line).expect("reading ferry up's output");
        assert!(
            n > 0 && started.elapsed() < Duration::from_secs(600),
            "ferry up stopped or took too long:\n{}\n--- stderr\n{}",
            printed.join(""),
            std::fs::read_to_string(&up.stderr).unwrap_or_default()
        );
        if let Some(pid) = line.strip_prefix("ferry: started the local agent (pid ") {
            up.agent_pid = pid.split(',').next().and_then(|pid| pid.parse().ok());
        }
        printed.push(line);
    }
    let text = printed.join("");
    assert!(text.contains("canary of release 1 to production: succeeded"), "{text}");
    assert!(text.contains(&format!("staging     http://127.0.0.1:{STAGING} (release 1)")), "{text}");
    assert!(text.contains(&format!("production  http://127.0.0.1:{PRODUCTION} (release 1)")), "{text}");
    for port in [STAGING, PRODUCTION] {
        assert_eq!(http_get(port, "/"), Some((200, "hello from the example service 1.0.0\n".to_owned())), "{text}");
        let (status, metrics) = http_get(port, "/metrics").expect("the example's metrics");
        assert_eq!(status, 200);
        assert!(metrics.contains("example_requests_total{path=\"/healthz\",code=\"200\"}"), "{metrics}");
    }

    // The link logs a browser in once, without a token.
    let link = text.lines().find_map(|line| line.split("works once): ").nth(1)).expect("the login link").trim();
    let url = link.split("/login/link/").next().expect("the server's address");
    let port: u16 = url.rsplit(':').next().and_then(|port| port.parse().ok()).expect("the server's port");
    let path = &link[url.len()..];
    let first = http_get(port, path).expect("the server answers");
    assert_eq!(first.0, 303, "{}", first.1);
    assert_eq!(http_get(port, path).expect("the server answers").0, 401, "the link works once");
}
