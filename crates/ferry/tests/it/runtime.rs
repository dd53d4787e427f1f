//! The cache service actions reach through `ACTIONS_CACHE_URL`, `ACTIONS_RESULTS_URL` and
//! `ACTIONS_RUNTIME_TOKEN` (given to actions, not to `run:` steps), driven end to end by a
//! JavaScript action running a Node script that makes the requests
//! `@actions/cache` makes (`fixtures/cache-client.js`), in both protocols: in `ferry run`
//! (its own service on loopback, over the cache folder) and on the server's embedded runner,
//! from the host and from a container job (which reaches a service on the host's loopback
//! through the container engine's bridge).
//! A second run restores what the first saved.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::Repo;
use crate::runner::{client_command, get_json, output_within, start_server, text};

const CLIENT: &str = include_str!("fixtures/cache-client.js");

const WORKFLOW: &str = r#"
on: [push, workflow_dispatch]
jobs:
  cache:
    runs-on: self-hosted
    steps:
      - run: echo "run step token=${ACTIONS_RUNTIME_TOKEN:-none}"
      - uses: ./.github/actions/cache
        with: { mode: urls }
      - uses: ./.github/actions/cache
        with: { mode: restore, protocol: legacy, key: data-legacy-1 }
      - uses: ./.github/actions/cache
        with: { mode: restore, protocol: v2, key: data-v2-1 }
      - uses: ./.github/actions/cache
        with: { mode: save, protocol: legacy, key: data-legacy-1, text: legacy payload }
      - uses: ./.github/actions/cache
        with: { mode: save, protocol: v2, key: data-v2-1, text: v2 payload }
"#;

/// A JavaScript action running the client with its inputs: the runtime variables reach
/// actions' processes only, as on GitHub.
const ACTION: &str = "
name: cache client
inputs:
  mode: { required: true }
  protocol: { default: '' }
  key: { default: '' }
  text: { default: '' }
runs:
  using: node20
  main: main.js
";

const ACTION_MAIN: &str = r#"
const e = process.env;
if (e.INPUT_MODE === 'urls') {
  const urls = [e.ACTIONS_RUNTIME_URL, e.ACTIONS_CACHE_URL, e.ACTIONS_RESULTS_URL];
  console.log(`token=${e.ACTIONS_RUNTIME_TOKEN}`);
  console.log(`urls end in /: ${urls.every(url => url.endsWith("/"))} v2=${e.ACTIONS_CACHE_SERVICE_V2}`);
} else {
  const args = [e.INPUT_MODE, e.INPUT_PROTOCOL, e.INPUT_KEY, e.INPUT_TEXT].filter(arg => arg !== '');
  process.argv = [process.argv[0], 'cache-client.js', ...args];
  require(require('path').join(e.GITHUB_WORKSPACE, 'cache-client.js'));
}
"#;

/// What the steps print on the first run, then on the second.
const FIRST: [&str; 7] = [
    "run step token=none",
    "token=***",
    "urls end in /: true v2=True",
    "miss data-legacy-1",
    "miss data-v2-1",
    "saved data-legacy-1",
    "saved data-v2-1",
];
const SECOND: [&str; 7] = [
    "run step token=none",
    "token=***",
    "urls end in /: true v2=True",
    "restored data-legacy-1: legacy payload",
    "restored data-v2-1: v2 payload",
    // Entries are immutable.
    "taken data-legacy-1 (409)",
    "taken data-v2-1 (409)",
];

/// The lines the steps printed, without the runner's own.
fn printed<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let starts = ["run step token=", "token=", "urls ", "miss ", "saved ", "restored ", "taken ", "error"];
    lines.into_iter().filter(|line| starts.iter().any(|start| line.starts_with(start))).map(str::to_owned).collect()
}

fn repo() -> Repo {
    Repo::new(&[
        (".github/workflows/ci.yml", WORKFLOW),
        (".github/actions/cache/action.yml", ACTION),
        (".github/actions/cache/main.js", ACTION_MAIN),
        ("cache-client.js", CLIENT),
    ])
}

#[test]
fn ferry_run_serves_the_cache_service_to_steps_and_a_second_run_restores_what_the_first_saved() {
    twice_with_ferry_run(&repo());
}

#[test]
fn actions_in_a_container_job_reach_ferry_run_s_cache_service_and_a_second_run_restores() {
    twice_with_ferry_run(&container_repo());
}

/// Runs `repo`'s workflow twice with `ferry run`: the first saves, the second restores.
fn twice_with_ferry_run(repo: &Repo) {
    let first = repo.run(&[]);
    assert_eq!(first.code, Some(0), "{}", first.context());
    assert_eq!(printed(first.lines_of("cache")), FIRST, "{}", first.context());
    let second = repo.run(&[]);
    assert_eq!(second.code, Some(0), "{}", second.context());
    assert_eq!(printed(second.lines_of("cache")), SECOND, "{}", second.context());
}

#[test]
fn the_server_s_runner_gives_its_jobs_the_cache_service_and_a_second_run_restores_what_the_first_saved() {
    let (shown, context) = twice_on_a_server(&repo());
    assert_eq!(shown, [FIRST.map(str::to_owned).to_vec(), SECOND.map(str::to_owned).to_vec()], "{context}");
}

#[test]
fn issue_14_actions_in_a_container_job_reach_the_cache_service_of_a_server_on_loopback() {
    let repo = container_repo();
    let (shown, context) = twice_on_a_server(&repo);
    assert_eq!(shown, [FIRST.map(str::to_owned).to_vec(), SECOND.map(str::to_owned).to_vec()], "{context}");
}

/// [`repo`] with its job in a container of a busybox image holding the host's Node.js
/// libraries (actions in a container job run on the host's node).
fn container_repo() -> Repo {
    let (_, libraries) = crate::actions::host_node_and_libraries();
    let libraries: Vec<&std::path::Path> = libraries.iter().map(std::path::PathBuf::as_path).collect();
    let image = ferry_testkit::busybox_image_with("ferry-test/busybox-glibc:1", &libraries);
    let workflow =
        WORKFLOW.replace("runs-on: self-hosted\n", &format!("runs-on: self-hosted\n    container: {image}\n"));
    assert_ne!(workflow, WORKFLOW);
    Repo::new(&[
        (".github/workflows/ci.yml", &workflow),
        (".github/actions/cache/action.yml", ACTION),
        (".github/actions/cache/main.js", ACTION_MAIN),
        ("cache-client.js", CLIENT),
    ])
}

/// What the steps printed in each of two runs of `repo`'s workflow on a server (on loopback,
/// with its embedded runner), and the runs' logs and the server's for assertion messages.
fn twice_on_a_server(repo: &Repo) -> (Vec<Vec<String>>, String) {
    let scratch = tempfile::Builder::new().prefix("ferry-runtime-it-").tempdir().expect("temp dir");
    let (server, url, admin) = start_server(scratch.path());
    let ferry = |args: &[&str]| {
        let output = output_within(client_command(&url, &admin, args));
        assert!(output.status.success(), "{}\n--- server\n{}", text(&output), server.stderr());
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    ferry(&["project", "add", "demo", "--repo", &repo.path().display().to_string()]);
    let mut shown = Vec::new();
    let mut logs = String::new();
    for _ in 0..2 {
        let triggered: Value = serde_json::from_str(&ferry(&["trigger", "demo", "--wait", "--json"])).expect("JSON");
        let run_id = triggered["runs"][0]["id"].as_i64().expect("a run id");
        let started = Instant::now();
        while get_json(&url, &admin, &format!("/api/v1/runs/{run_id}"))["run"]["status"] != "completed" {
            assert!(started.elapsed() < Duration::from_secs(60), "run {run_id} never completed\n{}", server.stderr());
            std::thread::sleep(Duration::from_millis(50));
        }
        let log = ferry(&["logs", &run_id.to_string(), "--no-prefix"]);
        shown.push(printed(log.lines()));
        logs.push_str(&format!("--- run {run_id}\n{log}\n"));
    }
    (shown, format!("{logs}--- server\n{}", server.stderr()))
}
