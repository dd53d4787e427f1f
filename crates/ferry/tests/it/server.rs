//! `ferry server`: the real binary starts, says where it listens, and answers `/healthz`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

#[test]
fn ferry_server_prints_its_address_and_answers_healthz() {
    let dir = tempfile::Builder::new().prefix("ferry-server-").tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        // No local agent: it would outlive the test (it is meant to outlive the server).
        .env("FERRY_NO_AGENT", "1")
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .env_remove("FERRY_CONFIG")
        .env_remove("FERRY_DATABASE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferry server starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("ferry server listening on http://").map(str::to_owned));
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("ferry server exited without saying where it listens: {:?}", child.wait());
    };
    let mut stream = TcpStream::connect(&addr).expect("connecting");
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: ferry\r\nConnection: close\r\n\r\n").expect("sending");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reading");
    child.kill().expect("stopping ferry server");
    child.wait().expect("ferry server exits");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(data_dir.join("admin.token").exists());
    assert!(data_dir.join("secret.key").exists());
}

#[test]
fn ferry_server_reads_its_settings_from_a_config_file() {
    let dir = tempfile::Builder::new().prefix("ferry-server-").tempdir().expect("temp dir");
    let config = dir.path().join("ferry.toml");
    std::fs::write(&config, "[server]\ndata_dir = \"state\"\nlisten = \"127.0.0.1:0\"\n").expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        // No local agent: it would outlive the test (it is meant to outlive the server).
        .env("FERRY_NO_AGENT", "1")
        .args(["server", "--config"])
        .arg(&config)
        .env_remove("FERRY_DATA_DIR")
        .env_remove("FERRY_LISTEN")
        .env_remove("FERRY_DATABASE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferry server starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let listening = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("listening on http://127.0.0.1:"));
    child.kill().expect("stopping ferry server");
    child.wait().expect("ferry server exits");
    assert!(listening, "ferry server said where it listens");
    assert!(dir.path().join("state/admin.token").exists());
}

#[test]
fn ferry_server_refuses_a_log_filter_it_cannot_read_before_it_starts() {
    let dir = tempfile::Builder::new().prefix("ferry-server-").tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env("FERRY_NO_AGENT", "1")
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .env("FERRY_LOG", "ferry_server=loud")
        .env("NO_COLOR", "1")
        .output()
        .expect("ferry server runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("FERRY_LOG=\"ferry_server=loud\" is not a log filter"), "{stderr}");
    assert!(!dir.path().join("data/admin.token").exists(), "nothing was set up");
}

#[test]
fn the_embedded_runner_hears_of_a_runs_commit_and_checks_it_out_ahead_of_the_job() {
    use crate::harness::Repo;
    use crate::runner::{client_command, output_within, start_server_logging, text};

    let scratch = tempfile::Builder::new().prefix("ferry-ahead-it-").tempdir().expect("temp dir");
    let repo = Repo::new(&[
        ("README", "ahead"),
        (
            ".github/workflows/ci.yml",
            "on: workflow_dispatch\njobs:\n  build:\n    runs-on: self-hosted\n    steps:\n      - run: cat README\n",
        ),
    ]);
    let (server, url, admin) = start_server_logging(scratch.path(), "info,ferry_runner::agent::mirror=debug");
    let ferry = |args: &[&str]| {
        let output = output_within(client_command(&url, &admin, args));
        assert!(output.status.success(), "{}\n--- server\n{}", text(&output), server.stderr());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ferry(&["project", "add", "demo", "--repo", &repo.path().display().to_string()]);
    let sha = repo.git(&["rev-parse", "HEAD"]);
    let report: serde_json::Value =
        serde_json::from_str(&ferry(&["trigger", "demo", "--wait", "--json"])).expect("JSON");
    assert_eq!(report["runs"][0]["conclusion"], "success", "{report}\n--- server\n{}", server.stderr());
    let logs = ferry(&["logs", &report["runs"][0]["id"].to_string(), "--no-prefix"]);
    assert!(logs.lines().any(|line| line == "ahead"), "the job ran in the checkout:\n{logs}");
    // Whether the job or the copy made ahead gets there first is timing (the runner's unit
    // tests show the job taking the copy); here, that the server's word reached the runner.
    let stderr = server.stderr();
    assert!(stderr.contains(&format!("checked {sha} out ahead of its first job")), "{stderr}");
}

/// `ferry server` with its local agent, until it says what it did about the agent (it does
/// once it listens); every line it printed until then.
fn start_with_agent(data_dir: &std::path::Path) -> (std::process::Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env_remove("FERRY_NO_AGENT")
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("FERRY_CONFIG")
        .env_remove("FERRY_DATABASE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ferry server starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // A server that failed to start its agent says so on stderr only: give up after a minute.
    let mut printed = Vec::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
        let agent = line.starts_with("ferry: started the local agent") || line.starts_with("ferry: the local agent");
        printed.push(line);
        if agent {
            break;
        }
    }
    (child, printed)
}

#[test]
fn a_restarted_server_leaves_the_local_agent_that_outlived_it_running() {
    use rustix::process::{Pid, Signal, kill_process, test_kill_process};

    let dir = tempfile::Builder::new().prefix("ferry-server-").tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let (mut first, printed) = start_with_agent(&data_dir);
    let agent = printed
        .iter()
        .find_map(|line| line.strip_prefix("ferry: started the local agent (pid "))
        .and_then(|rest| rest.split(',').next()?.parse::<i32>().ok())
        .and_then(Pid::from_raw);
    first.kill().expect("kill");
    first.wait().expect("wait");
    let Some(agent) = agent else { panic!("no local agent was started: {printed:?}") };

    let (mut second, printed) = start_with_agent(&data_dir);
    second.kill().expect("kill");
    second.wait().expect("wait");
    let alive = test_kill_process(agent).is_ok();
    let _ = kill_process(agent, Signal::KILL);
    let expected = format!(
        "ferry: the local agent already runs on {}",
        std::path::absolute(data_dir.join("agent")).expect("absolute").display()
    );
    assert!(printed.contains(&expected), "{printed:?}");
    assert!(alive, "the first agent still runs");
    let log = std::fs::read_to_string(data_dir.join("agent/agent.log")).expect("the agent's log");
    assert!(!log.contains("already runs with the directory"), "no second agent was started:\n{log}");
}
