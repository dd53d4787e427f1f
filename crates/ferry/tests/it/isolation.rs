//! Issue 13: what steps reach of the host that runs them. The attacks that worked, run through
//! real `ferry server` and `ferry runner` processes: a step of the embedded runner reading the
//! server's data directory and environment, a step reading the runner's token, and steps that
//! outlived a server killed with SIGKILL.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Repo, ferry};
use crate::runner::{Process, client_command, output_within, start_server, start_server_with, text, wait_for};

/// How long the test waits for the server to reach a state before it fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// The user the server runs as when the tests run as root: `ferry server` is meant to run as a
/// user of its own, and root reads any process's environment whatever it does.
const NOBODY: u32 = 65534;

/// `ferry server` on a free port, as [`NOBODY`] when the test runs as root (`dirs` are then
/// made that user's); its process, URL and first admin token.
fn start_server_unprivileged(dir: &Path, dirs: &[&Path]) -> (Process, String, String) {
    start_server_with(dir, |command| {
        command.env("HOME", dir);
        if rustix::process::geteuid().is_root() {
            for path in dirs {
                chown_all(path);
            }
            std::os::unix::fs::chown(dir.join("server.stderr"), Some(NOBODY), Some(NOBODY)).expect("chown");
            command.uid(NOBODY).gid(NOBODY);
        }
    })
}

fn chown_all(path: &Path) {
    std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY)).expect("chown");
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).expect("a folder") {
            chown_all(&entry.expect("an entry").path());
        }
    }
}

/// Adds the project, triggers its workflow and waits for the run; the run's report.
fn run_workflow(url: &str, admin: &str, repo: &Repo, server: &Process) -> Value {
    let repo_path = repo.path().display().to_string();
    let added = output_within(client_command(url, admin, &["project", "add", "demo", "--repo", &repo_path]));
    assert!(added.status.success(), "{}\n--- server\n{}", text(&added), server.stderr());
    let triggered = output_within(client_command(url, admin, &["trigger", "demo", "--wait", "--json"]));
    assert!(triggered.status.success(), "{}\n--- server\n{}", text(&triggered), server.stderr());
    let report: Value = serde_json::from_slice(&triggered.stdout).expect("JSON");
    report["runs"][0].clone()
}

/// The run's log as `ferry logs --no-prefix` shows it.
fn log_of(url: &str, admin: &str, run_id: i64) -> String {
    let logs = output_within(client_command(url, admin, &["logs", &run_id.to_string(), "--no-prefix"]));
    assert!(logs.status.success(), "{}", text(&logs));
    String::from_utf8_lossy(&logs.stdout).into_owned()
}

#[test]
fn issue_13_an_embedded_runners_step_reaches_neither_the_servers_data_nor_its_environment() {
    let scratch = tempfile::Builder::new().prefix("ferry-isolation-it-").tempdir().expect("temp dir");
    let data = scratch.path().join("data");
    let workflow = format!(
        r#"
on: workflow_dispatch
jobs:
  attack:
    runs-on: self-hosted
    steps:
      - run: |
          for file in secret.key ferry.db admin.token; do
            cat "{data}/$file" || echo "denied $file"
          done
          echo new > "{data}/planted" || echo "denied planting"
          ls "{data}/runner" > /dev/null && echo "the runner folder is there"
          tr '\0' '\n' < /proc/$PPID/environ || echo "denied environ"
          env
"#,
        data = data.display()
    );
    let repo = Repo::with_workflow(&workflow);
    let (server, url, admin) = start_server_unprivileged(scratch.path(), &[scratch.path(), repo.path()]);
    let run = run_workflow(&url, &admin, &repo, &server);
    assert_eq!(run["conclusion"], "success", "{run:#}\n--- server\n{}", server.stderr());
    let log = log_of(&url, &admin, run["id"].as_i64().expect("a run id"));

    for denied in ["denied secret.key", "denied ferry.db", "denied admin.token", "denied planting", "denied environ"] {
        assert!(log.lines().any(|line| line == denied), "{denied:?} missing from:\n{log}");
    }
    assert!(log.contains("the runner folder is there"), "{log}");
    assert!(!log.contains(&admin), "the admin token leaked:\n{log}");
    assert!(!log.contains("SQLite format"), "the database leaked:\n{log}");
    let key = std::fs::read(data.join("secret.key")).expect("the key");
    assert!(!log.contains(&*String::from_utf8_lossy(&key)), "the key leaked:\n{log}");
    assert!(!log.contains("FERRY_"), "a FERRY_* variable reached the step:\n{log}");
    assert!(!data.join("planted").exists());
    // What the step does get: the host's basics and the job's own.
    assert!(log.lines().any(|line| line.starts_with("PATH=")), "{log}");
    assert!(log.lines().any(|line| line == "GITHUB_ACTIONS=true"), "{log}");
}

#[test]
fn issue_13_a_runners_token_never_reaches_a_step_and_is_masked_when_a_step_finds_it() {
    let scratch = tempfile::Builder::new().prefix("ferry-isolation-it-").tempdir().expect("temp dir");
    let (server, url, admin) = start_server(scratch.path());
    let workflow = r#"
on: workflow_dispatch
jobs:
  attack:
    runs-on: [self-hosted, gpu]
    steps:
      - run: |
          env
          echo "token in the environment: ${FERRY_TOKEN:-none}"
          tr '\0' '\n' < /proc/$PPID/environ | grep '^FERRY_TOKEN=' || echo "denied environ"
          echo "the token: $(cat token.txt)"
"#;
    // A step can always print what it finds; here the repository holds the token.
    let repo = Repo::new(&[(".github/workflows/ci.yml", workflow), ("token.txt", &admin)]);

    let runner_stderr = scratch.path().join("runner.stderr");
    let mut command = ferry();
    command
        .args(["runner", "--labels", "gpu", "--name", "gpu-box", "--slots", "1", "--server", &url, "--work-dir"])
        .arg(scratch.path().join("runner"))
        .env("FERRY_TOKEN", &admin)
        .env_remove("FERRY_SERVER");
    let child = command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&runner_stderr).expect("a stderr file"))
        .spawn()
        .expect("ferry runner starts");
    let runner = Process { child, stderr: runner_stderr };

    let run = run_workflow(&url, &admin, &repo, &server);
    assert_eq!(run["conclusion"], "success", "{run:#}\n--- runner\n{}", runner.stderr());
    let log = log_of(&url, &admin, run["id"].as_i64().expect("a run id"));
    assert!(log.lines().any(|line| line == "token in the environment: none"), "{log}");
    assert!(log.lines().any(|line| line == "the token: ***"), "{log}");
    assert!(!log.contains(&admin), "the token leaked:\n{log}");
    // Root reads the runner's environment; any other user cannot (the runner is undumpable).
    assert!(
        log.lines().any(|line| line == "FERRY_TOKEN=***" || line == "denied environ"),
        "the runner's environment, masked or unreadable:\n{log}"
    );
    assert!(!log.lines().any(|line| line.starts_with("FERRY_") && line != "FERRY_TOKEN=***"), "{log}");
}

/// Waits for process `pid` to exit (a process that is gone already has exited).
fn wait_for_exit(pid: i32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid) else { return true };
    let Ok(pidfd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) else { return true };
    let mut fds = [rustix::event::PollFd::new(&pidfd, rustix::event::PollFlags::IN)];
    let timeout = rustix::event::Timespec { tv_sec: i64::try_from(PATIENCE.as_secs()).unwrap_or(60), tv_nsec: 0 };
    rustix::event::poll(&mut fds, Some(&timeout)).is_ok_and(|ready| ready == 1)
}

#[test]
fn issue_13_steps_of_a_server_killed_with_sigkill_die_with_it() {
    let scratch = tempfile::Builder::new().prefix("ferry-isolation-it-").tempdir().expect("temp dir");
    let workflow = r#"
on: workflow_dispatch
jobs:
  slow:
    runs-on: self-hosted
    steps:
      - run: |
          sleep 1000 &
          echo "pids $$ $!"
          wait
"#;
    let repo = Repo::with_workflow(workflow);
    let (mut server, url, admin) = start_server(scratch.path());
    let repo_path = repo.path().display().to_string();
    let added = output_within(client_command(&url, &admin, &["project", "add", "demo", "--repo", &repo_path]));
    assert!(added.status.success(), "{}", text(&added));
    let triggered = output_within(client_command(&url, &admin, &["trigger", "demo", "--json"]));
    assert!(triggered.status.success(), "{}\n{}", text(&triggered), server.stderr());
    let report: Value = serde_json::from_slice(&triggered.stdout).expect("JSON");
    let run_id = report["runs"][0]["id"].as_i64().expect("a run id");

    let pids: Vec<i32> = wait_for("the step to start", || {
        let log = log_of(&url, &admin, run_id);
        let pids = log.lines().find_map(|line| line.strip_prefix("pids "))?;
        Some(pids.split(' ').map(|pid| pid.parse().expect("a pid")).collect())
    });
    assert_eq!(pids.len(), 2, "the step and its background sleep: {pids:?}");

    let server_pid = rustix::process::Pid::from_child(&server.child);
    rustix::process::kill_process(server_pid, rustix::process::Signal::KILL).expect("killing the server");
    let _ = server.child.wait();
    for pid in pids {
        let gone = wait_for_exit(pid);
        if !gone {
            // Not left behind by the test either.
            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
        }
        assert!(gone, "process {pid} of the step outlived the server by {PATIENCE:?}");
    }
}

#[test]
fn issue_13_ferry_run_steps_get_the_basics_and_the_variables_passed_by_name_only() {
    let repo =
        Repo::with_workflow("on: push\njobs:\n  show:\n    runs-on: ubuntu-latest\n    steps:\n      - run: env\n");
    let output = ferry()
        .arg("run")
        .arg(repo.path())
        .args(["--pass-env", "EXTRA_VISIBLE"])
        .env("EXTRA_VISIBLE", "passed")
        .env("EXTRA_HIDDEN", "kept out")
        .env("FERRY_TOKEN", "ferryr_abc_secret")
        .output()
        .expect("ferry runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let env: Vec<&str> = stdout.lines().filter_map(|line| line.strip_prefix("show | ")).collect();
    assert!(env.contains(&"EXTRA_VISIBLE=passed"), "{stdout}");
    assert!(env.iter().any(|line| line.starts_with("PATH=")), "{stdout}");
    assert!(!stdout.contains("EXTRA_HIDDEN") && !stdout.contains("FERRY_TOKEN"), "{stdout}");

    let refused = ferry().arg("run").arg(repo.path()).args(["--pass-env", "FERRY_TOKEN"]).output().expect("ferry runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("FERRY_* variables are Ferry's own"), "{stderr}");
}

#[test]
fn issue_13_git_works_in_a_confined_step_whose_workspace_borrows_from_the_servers_mirror() {
    let scratch = tempfile::Builder::new().prefix("ferry-isolation-it-").tempdir().expect("temp dir");
    let workflow = "on: workflow_dispatch\njobs:\n  git:\n    runs-on: self-hosted\n    steps:\n      \
                    - run: |\n          cat .git/objects/info/alternates\n          git log --format='subject %s' -1\n";
    let repo = Repo::with_workflow(workflow);
    let (server, url, admin) = start_server(scratch.path());
    // A URL, so the server keeps a mirror of it in its data directory.
    let repo_url = format!("file://{}", repo.path().display());
    let added = output_within(client_command(&url, &admin, &["project", "add", "demo", "--repo", &repo_url]));
    assert!(added.status.success(), "{}\n--- server\n{}", text(&added), server.stderr());
    let triggered = output_within(client_command(&url, &admin, &["trigger", "demo", "--wait", "--json"]));
    let report: Value = serde_json::from_slice(&triggered.stdout).expect("JSON");
    let run_id = report["runs"][0]["id"].as_i64().expect("a run id");
    let log = log_of(&url, &admin, run_id);
    assert_eq!(report["runs"][0]["conclusion"], "success", "{log}\n--- server\n{}", server.stderr());
    let data = scratch.path().join("data").canonicalize().expect("the data directory");
    assert!(
        log.lines().next().is_some_and(|line| Path::new(line).starts_with(&data)),
        "objects from the data directory: {log}"
    );
    assert!(log.lines().any(|line| line == "subject initial"), "{log}");
}
