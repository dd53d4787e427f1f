//! The whole loop with real processes: `ferry server`, `ferry project add`, a `ferry runner`
//! with a `gpu` label, `ferry trigger --wait` of a workflow that needs that label, and
//! `ferry logs` of the run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Repo, ferry};

/// How long one command may take before the test gives up on it.
pub(crate) const PATIENCE: Duration = Duration::from_secs(120);

const WORKFLOW: &str = r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: [self-hosted, gpu]
    steps:
      - uses: actions/checkout@v4
      - run: echo "hello from $(cat README) on $RUNNER_OS"
"#;

/// A child process killed when the test ends, however it ends.
pub(crate) struct Process {
    pub(crate) child: Child,
    /// Where its standard error goes, shown when an assertion fails.
    pub(crate) stderr: PathBuf,
}

impl Process {
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ferry server` on a free loopback port; its URL and first admin token.
pub(crate) fn start_server(dir: &Path) -> (Process, String, String) {
    start_server_logging(dir, "info")
}

/// [`start_server`] with `FERRY_LOG` set to `filter`.
pub(crate) fn start_server_logging(dir: &Path, filter: &str) -> (Process, String, String) {
    start_server_with(dir, |command| {
        command.env("FERRY_LOG", filter);
    })
}

/// `ferry server` on a free loopback port with its data in `dir/data` and its standard error
/// in `dir/server.stderr`, the command changed by `configure` before it starts (its
/// environment, its user); its process, URL and first admin token once it listens.
pub(crate) fn start_server_with(dir: &Path, configure: impl FnOnce(&mut Command)) -> (Process, String, String) {
    let data_dir = dir.join("data");
    let stderr = dir.join("server.stderr");
    let mut command = ferry();
    command
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .env_remove("FERRY_CONFIG")
        .env_remove("FERRY_DATABASE")
        .env("FERRY_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).expect("a stderr file"));
    configure(&mut command);
    let mut server = Process { child: command.spawn().expect("ferry server starts"), stderr };
    let stdout = server.child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("ferry server listening on http://").map(str::to_owned));
    let Some(addr) = addr else {
        panic!("ferry server exited without saying where it listens:\n{}", server.stderr());
    };
    // Whatever else it prints must not fill the pipe and stall it.
    std::thread::spawn(move || lines.for_each(drop));
    let token = std::fs::read_to_string(data_dir.join("admin.token")).expect("the first admin token");
    (server, format!("http://{addr}"), token.trim().to_owned())
}

/// Polls `check` every 20 ms until it gives a value, failing after [`PATIENCE`] with `what`
/// (what was awaited).
pub(crate) fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < PATIENCE, "waited {PATIENCE:?} for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `command` to its end, killing it after [`PATIENCE`].
pub(crate) fn output_within(mut command: Command) -> Output {
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("ferry starts");
    let pid = rustix::process::Pid::from_child(&child);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(PATIENCE) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    });
    let output = child.wait_with_output().expect("ferry runs");
    let _ = done_tx.send(());
    let _ = watchdog.join();
    output
}

pub(crate) fn client_command(url: &str, token: &str, args: &[&str]) -> Command {
    let mut command = ferry();
    command.args(args).args(["--server", url, "--token", token]);
    command.env_remove("FERRY_SERVER").env_remove("FERRY_TOKEN");
    command
}

/// `GET path` with the token, as JSON.
pub(crate) fn get_json(url: &str, token: &str, path: &str) -> Value {
    let addr = url.strip_prefix("http://").expect("an http URL");
    let mut stream = TcpStream::connect(addr).expect("connecting");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: ferry\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("sending");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reading");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200"), "{answer}");
    serde_json::from_str(body).expect("a JSON body")
}

pub(crate) fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_runner_with_the_jobs_label_runs_a_triggered_workflow_and_its_log_reads_back() {
    let scratch = tempfile::Builder::new().prefix("ferry-runner-it-").tempdir().expect("temp dir");
    let repo = Repo::new(&[("README", "the demo repository"), (".github/workflows/gpu.yml", WORKFLOW)]);
    let (server, url, admin) = start_server(scratch.path());

    let repo_path = repo.path().display().to_string();
    let added = output_within(client_command(&url, &admin, &["project", "add", "demo", "--repo", &repo_path]));
    assert!(added.status.success(), "{}\n--- server\n{}", text(&added), server.stderr());
    assert!(String::from_utf8_lossy(&added.stdout).starts_with("project demo added ("), "{}", text(&added));

    let runner_stderr = scratch.path().join("runner.stderr");
    let work_dir = scratch.path().join("runner");
    let mut runner_command = client_command(&url, &admin, &["runner", "--labels", "gpu", "--name", "gpu-box"]);
    runner_command.arg("--work-dir").arg(&work_dir).args(["--slots", "1"]);
    let child = runner_command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&runner_stderr).expect("a stderr file"))
        .spawn()
        .expect("ferry runner starts");
    let mut runner = Process { child, stderr: runner_stderr };

    let triggered = output_within(client_command(&url, &admin, &["trigger", "demo", "--wait", "--json"]));
    let context = || format!("{}\n--- runner\n{}\n--- server\n{}", text(&triggered), runner.stderr(), server.stderr());
    assert!(triggered.status.success(), "{}", context());
    let report: Value = serde_json::from_slice(&triggered.stdout).unwrap_or_else(|_| panic!("JSON: {}", context()));
    let run = &report["runs"][0];
    assert_eq!(report["runs"].as_array().map(Vec::len), Some(1), "{}", context());
    assert_eq!(run["conclusion"], "success", "{}", context());
    assert_eq!(run["workflow_file"], ".github/workflows/gpu.yml");
    let run_id = run["id"].as_i64().expect("a run id");

    let detail = get_json(&url, &admin, &format!("/api/v1/runs/{run_id}"));
    assert_eq!(detail["jobs"][0]["runner"], "gpu-box", "{detail:#}");
    assert_eq!(detail["jobs"][0]["conclusion"], "success", "{detail:#}");

    let logs = output_within(client_command(&url, &admin, &["logs", &run_id.to_string()]));
    assert!(logs.status.success(), "{}", text(&logs));
    let stdout = String::from_utf8_lossy(&logs.stdout);
    assert!(stdout.lines().any(|line| line == "build | step 2 | hello from the demo repository on Linux"), "{stdout}");
    let plain = output_within(client_command(&url, &admin, &["logs", &run_id.to_string(), "--no-prefix"]));
    assert!(plain.status.success(), "{}", text(&plain));
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(plain.lines().any(|line| line == "hello from the demo repository on Linux"), "{plain}");
    assert_eq!(plain.lines().count(), stdout.lines().count(), "the same lines without prefixes:\n{plain}\n{stdout}");
    assert!(!plain.contains("| step "), "{plain}");

    let json_logs = output_within(client_command(&url, &admin, &["logs", &run_id.to_string(), "--json"]));
    assert!(json_logs.status.success(), "{}", text(&json_logs));
    let chunks: Vec<Value> = String::from_utf8_lossy(&json_logs.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one chunk per line"))
        .collect();
    assert!(
        chunks.iter().any(|chunk| chunk["step_idx"] == 1
            && chunk["lines"].as_array().is_some_and(|lines| lines
                .iter()
                .any(|line| line.as_str().is_some_and(|line| line.starts_with("hello from the demo repository"))))),
        "{chunks:#?}"
    );

    // A second run, shown as people read it.
    let again = output_within(client_command(&url, &admin, &["trigger", "demo", "--wait"]));
    assert!(again.status.success(), "{}", text(&again));
    let shown = String::from_utf8_lossy(&again.stdout);
    let shown: Vec<&str> = shown.lines().collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(shown[0].starts_with("run ") && shown[0].ends_with(" (#2 gpu.yml) queued"), "{shown:?}");
    assert!(shown[1].ends_with(" (#2 gpu.yml) success"), "{shown:?}");

    // SIGTERM stops the runner cleanly.
    let pid = rustix::process::Pid::from_child(&runner.child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("signalling the runner");
    let status = runner.child.wait().expect("the runner exits");
    assert!(status.success(), "{status:?}\n{}", runner.stderr());
    // The job's files are gone; the slot's folders stay for its next job.
    assert_eq!(std::fs::read_dir(work_dir.join("jobs/0/temp")).expect("the slot's temp folder").count(), 0);
    assert_eq!(std::fs::read_dir(work_dir.join("jobs/0")).expect("the slot's job folder").count(), 1);
}

#[test]
fn a_job_with_environment_gets_its_secret_masked_and_its_variable() {
    let scratch = tempfile::Builder::new().prefix("ferry-runner-it-").tempdir().expect("temp dir");
    // Its URL names a step's output: it is evaluated after the steps, as on GitHub.
    let workflow = "on: workflow_dispatch\njobs:\n  ship:\n    runs-on: [ship]\n    \
                    environment: { name: production, url: \"https://demo.test/${{ steps.put.outputs.path }}\" }\n    \
                    steps:\n      - run: echo \"token=${{ secrets.TOKEN }} region=${{ vars.REGION }}\"\n      \
                    - id: put\n        run: echo path=v/7 >> \"$GITHUB_OUTPUT\"\n";
    let repo = Repo::new(&[("README", "the demo repository"), (".github/workflows/ship.yml", workflow)]);
    let (server, url, admin) = start_server_with(scratch.path(), |command| {
        command.env("FERRY_NO_AGENT", "1");
    });
    let repo_path = repo.path().display().to_string();
    for args in [
        &["project", "add", "demo", "--repo", repo_path.as_str()][..],
        &["secret", "set", "demo", "TOKEN", "prod-s3cr3t", "--env", "production"],
        &["var", "set", "demo", "REGION", "eu-west", "--env", "production"],
    ] {
        let done = output_within(client_command(&url, &admin, args));
        assert!(done.status.success(), "{args:?}: {}\n--- server\n{}", text(&done), server.stderr());
    }
    let runner_stderr = scratch.path().join("runner.stderr");
    let mut runner_command = client_command(&url, &admin, &["runner", "--labels", "ship", "--name", "ship-box"]);
    runner_command.arg("--work-dir").arg(scratch.path().join("runner")).args(["--slots", "1"]);
    let child = runner_command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&runner_stderr).expect("a stderr file"))
        .spawn()
        .expect("ferry runner starts");
    let runner = Process { child, stderr: runner_stderr };

    // Production declares no gates (there is no deploy.yml): the job runs at once.
    let triggered = output_within(client_command(&url, &admin, &["trigger", "demo", "--wait", "--json"]));
    let context = || format!("{}\n--- runner\n{}\n--- server\n{}", text(&triggered), runner.stderr(), server.stderr());
    assert!(triggered.status.success(), "{}", context());
    let report: Value = serde_json::from_slice(&triggered.stdout).unwrap_or_else(|_| panic!("JSON: {}", context()));
    assert_eq!(report["runs"][0]["conclusion"], "success", "{}", context());
    let run_id = report["runs"][0]["id"].as_i64().expect("a run id");
    let logs = output_within(client_command(&url, &admin, &["logs", &run_id.to_string(), "--no-prefix"]));
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(logs.lines().any(|line| line == "token=*** region=eu-west"), "{logs}");
    assert!(!logs.contains("prod-s3cr3t"), "{logs}");

    let listed = output_within(client_command(&url, &admin, &["deployments", "demo", "--json"]));
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(
        (listed[0]["service"].as_str(), listed[0]["environment"].as_str(), listed[0]["outcome"].as_str()),
        (Some("ship"), Some("production"), Some("succeeded")),
        "{listed:#}"
    );
    assert_eq!((listed[0]["release"].clone(), listed[0]["strategy"].as_str()), (Value::Null, Some("job")));
    let head = repo.git(&["rev-parse", "HEAD"]);
    assert_eq!(listed[0]["commit"].as_str(), Some(head.trim()), "{listed:#}");
    assert_eq!(listed[0]["url"].as_str(), Some("https://demo.test/v/7"), "{listed:#}");
}
