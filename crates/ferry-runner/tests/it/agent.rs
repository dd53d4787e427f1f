//! The runner agent against the real Ferry server, started in this process on a loopback port
//! with a temporary data directory: the test makes a git repository, creates a project for it
//! and triggers runs over the API, the agent claims the jobs, runs them in checkouts and
//! reports them, and the test reads the runs' jobs, steps and logs back from the API.
//!
//! Steps that must still be running when the test acts wait for a gate file the test opens,
//! and nothing waits a fixed time: every wait polls the API until its condition holds, up to
//! [`WAIT`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_client::Client;
use ferry_proto::runner::RunnerRegistration;
use ferry_proto::runs::{RunDetail, TriggerRequest};
use ferry_runner::agent::{AgentError, AgentOptions, run_agent};
use ferry_server::ServerConfig;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::workspace::git;

/// The most any wait in these tests waits for its condition.
const WAIT: Duration = Duration::from_secs(60);

const RUNNER: &str = "agent-it";
const LABELS: [&str; 2] = ["self-hosted", "linux"];
const SECRET: &str = "s3cr3t-value";

/// A server serving one project, `demo`, whose repository holds `files`, with the secret
/// `API_TOKEN`; and a token for the runner [`RUNNER`].
struct Ferry {
    admin: Client,
    runner_token: String,
    url: String,
    repo: PathBuf,
    /// The gate file steps of [`GATED`] wait for (their input `gate`).
    gate: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

async fn ferry(files: &[(&str, &str)]) -> Ferry {
    let dir = tempfile::Builder::new().prefix("ferry-agent-it-").tempdir().expect("temp dir");
    let repo = dir.path().join("repo");
    std::fs::create_dir(&repo).expect("mkdir");
    repository(&repo, files);
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("an address"),
        poll_interval: Duration::ZERO,
        ..ServerConfig::new(dir.path().join("data"))
    };
    let server = ferry_server::bind(&config).await.expect("the server starts");
    let labels = LABELS.map(str::to_owned);
    let runner_token = server.local_runner(RUNNER, &labels).await.expect("a runner token").token().to_owned();
    let url = format!("http://{}", server.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let admin_token = std::fs::read_to_string(dir.path().join("data/admin.token")).expect("admin.token");
    let admin = Client::new(&url, admin_token.trim()).expect("a valid address");
    admin.create_project("demo", &repo.display().to_string(), None, None).await.expect("project created");
    admin.set_secret("demo", "API_TOKEN", SECRET).await.expect("secret set");
    let gate = dir.path().join("gate");
    Ferry { admin, runner_token, url, repo, gate, stop: Some(stop), _dir: dir }
}

impl Drop for Ferry {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Ferry {
    /// Dispatches `ci.yml` with `inputs`; the run's id.
    async fn trigger(&self, inputs: Value) -> i64 {
        self.trigger_on(None, inputs).await
    }

    /// Dispatches `ci.yml` on `git_ref` (the default branch when `None`) with `inputs`; the
    /// run's id.
    async fn trigger_on(&self, git_ref: Option<&str>, inputs: Value) -> i64 {
        let Value::Object(inputs) = inputs else { panic!("inputs are an object: {inputs}") };
        let request =
            TriggerRequest { git_ref: git_ref.map(str::to_owned), workflow: Some("ci.yml".to_owned()), inputs };
        let triggered = self.admin.trigger("demo", &request).await.expect("triggered");
        assert_eq!(triggered.runs.len(), 1, "{triggered:?}");
        triggered.runs[0].id
    }

    /// Starts an agent with the runner's token and a work directory of its own.
    fn agent(&self) -> Agent {
        self.start_agent(&self.runner_token, LABELS.map(str::to_owned).to_vec())
    }

    /// Registers another runner, `name` with `labels`, and starts an agent for it with a work
    /// directory of its own.
    async fn agent_as(&self, name: &str, labels: &[&str]) -> Agent {
        let labels: Vec<String> = labels.iter().map(|label| (*label).to_owned()).collect();
        let registration = RunnerRegistration { name: name.to_owned(), labels: labels.clone(), projects: None };
        let registered = self.admin.register_runner(&registration).await.expect("registered");
        self.start_agent(&registered.token, labels)
    }

    fn start_agent(&self, token: &str, labels: Vec<String>) -> Agent {
        self.start_agent_with(token, labels, ferry_runner::actions::DEFAULT_ACTIONS_URL)
    }

    fn start_agent_with(&self, token: &str, labels: Vec<String>, actions_url: &str) -> Agent {
        let work_dir = tempfile::Builder::new().prefix("ferry-agent-work-").tempdir().expect("temp dir");
        let client = Client::new(&self.url, token).expect("a valid address");
        let options = AgentOptions {
            labels,
            slots: 1,
            work_dir: work_dir.path().to_path_buf(),
            events: None,
            repositories: None,
            isolation: ferry_runner::isolation::Isolation::default(),
            credentials: vec![token.to_owned()],
            actions_url: actions_url.to_owned(),
            docker: None,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run_agent(client, options, async {
            let _ = stopped.await;
        }));
        Agent { stop, task, work_dir }
    }

    /// Dispatches `ci.yml` with `inputs` for a new runner `name` with `labels` alone, and stops
    /// that runner once the run has completed; the run, its log and the runner's work directory.
    async fn run_on_new_runner(
        &self,
        name: &str,
        labels: &[&str],
        inputs: Value,
    ) -> (RunDetail, Vec<String>, tempfile::TempDir) {
        let agent = self.agent_as(name, labels).await;
        let run_id = self.trigger(inputs).await;
        let detail = self.completed(run_id).await;
        let (res, work_dir) = agent.stop().await;
        res.unwrap_or_else(|error| panic!("runner {name} did not stop cleanly: {error}"));
        (detail, self.log(run_id).await, work_dir)
    }

    /// Registers [`RUNNER`] again, as a runner that restarted does: the server fails the jobs
    /// it held and takes only the new token from now on.
    async fn register_runner_again(&self) {
        let registration =
            RunnerRegistration { name: RUNNER.to_owned(), labels: LABELS.map(str::to_owned).to_vec(), projects: None };
        self.admin.register_runner(&registration).await.expect("registered again");
    }

    fn open_gate(&self) {
        std::fs::write(&self.gate, "open").expect("writing the gate file");
    }

    /// Whether a step of [`GATED`] slept to its end instead of being stopped.
    fn slept(&self) -> bool {
        self.gate.with_extension("slept").exists()
    }

    async fn run(&self, run_id: i64) -> RunDetail {
        self.admin.get_run(run_id).await.expect("the run")
    }

    /// The run once it has completed.
    async fn completed(&self, run_id: i64) -> RunDetail {
        until(&format!("run {run_id} to complete"), async || {
            let detail = self.run(run_id).await;
            (detail.run.status == ferry_proto::Status::Completed).then_some(detail)
        })
        .await
    }

    /// The run's stored log as `<job key> <step index>: <line>`, in order.
    async fn log(&self, run_id: i64) -> Vec<String> {
        let detail = self.run(run_id).await;
        let mut stream = self.admin.logs(run_id, None, false).await.expect("the log");
        let mut lines = Vec::new();
        while let Some(chunk) = stream.next().await.expect("a log chunk") {
            let job = detail.jobs.iter().find(|job| job.id == chunk.job_id).expect("a job of the run");
            lines.extend(chunk.lines.iter().map(|line| format!("{} {}: {line}", job.key, chunk.step_idx)));
        }
        lines
    }

    /// Waits until the run's log holds `line`.
    async fn logged(&self, run_id: i64, line: &str) {
        until(&format!("{line:?} in the log of run {run_id}"), async || {
            self.log(run_id).await.iter().any(|logged| logged == line).then_some(())
        })
        .await;
    }
}

/// An agent running on the test's runtime.
struct Agent {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), AgentError>>,
    work_dir: tempfile::TempDir,
}

impl Agent {
    /// Stops the agent (as Ctrl-C does) and waits for it; what it returned, and its work directory.
    async fn stop(self) -> (Result<(), AgentError>, tempfile::TempDir) {
        let _ = self.stop.send(());
        (joined(self.task).await, self.work_dir)
    }

    /// Waits for the agent to stop by itself; `stop` lives until then, since dropping it stops the agent.
    async fn stopped(self) -> (Result<(), AgentError>, tempfile::TempDir) {
        let res = joined(self.task).await;
        drop(self.stop);
        (res, self.work_dir)
    }
}

async fn joined(task: JoinHandle<Result<(), AgentError>>) -> Result<(), AgentError> {
    tokio::time::timeout(WAIT, task).await.expect("the agent stops in time").expect("the agent did not panic")
}

/// Polls `probe` every 20 ms until it gives a value, for up to [`WAIT`].
async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "waited {WAIT:?} for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Makes `dir` a git repository with one commit holding `files`.
fn repository(dir: &Path, files: &[(&str, &str)]) {
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "--quiet", "-m", "initial"]);
}

/// `name: status conclusion` of each job, then `name: state` of each planned one.
fn job_states(detail: &RunDetail) -> Vec<String> {
    let conclusion = |conclusion: Option<ferry_model::Conclusion>| conclusion.map_or("-", |c| c.as_str());
    let jobs = detail.jobs.iter().map(|job| format!("{}: {} {}", job.name, job.status, conclusion(job.conclusion)));
    let planned = detail.planned.iter().map(|job| format!("{}: {}", job.name, job.state));
    jobs.chain(planned).collect()
}

/// `index name: status conclusion` of each step of the run's job `key`.
fn step_states(detail: &RunDetail, key: &str) -> Vec<String> {
    let job = detail.jobs.iter().find(|job| job.key == key).expect("the job");
    job.steps
        .iter()
        .map(|step| {
            let conclusion = step.conclusion.map_or("-", |conclusion| conclusion.as_str());
            format!("{} {}: {} {conclusion}", step.step_idx, step.name, step.status)
        })
        .collect()
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("a folder")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect()
}

const WORKFLOW: &str = r#"
on:
  workflow_dispatch:
    inputs:
      who: { required: true }
jobs:
  build:
    runs-on: [self-hosted, linux]
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
  report:
    needs: build
    runs-on: self-hosted
    steps:
      - run: echo "build said ${{ needs.build.outputs.greeting }}"
"#;

/// A job whose first step says `started`, waits for the gate file, says `gate open`, sleeps
/// long and then leaves a file beside the gate ([`Ferry::slept`]) that a stopped step never
/// makes.
const GATED: &str = r#"
on:
  workflow_dispatch:
    inputs:
      gate: { required: true }
jobs:
  build:
    runs-on: self-hosted
    steps:
      - run: |
          echo started
          until [ -e "${{ inputs.gate }}" ]; do sleep 0.01; done
          echo gate open
          sleep 30
          touch "${{ inputs.gate }}.slept"
      - run: echo never
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_in_checkouts_with_masked_logs_and_outputs_passed_to_the_jobs_that_need_them() {
    let ferry = ferry(&[("README", "the repo"), (".github/workflows/ci.yml", WORKFLOW)]).await;
    let run_id = ferry.trigger(json!({"who": "you"})).await;
    let agent = ferry.agent();
    let detail = ferry.completed(run_id).await;
    let (res, work_dir) = agent.stop().await;
    res.expect("the agent stopped cleanly");

    let log = ferry.log(run_id).await;
    assert_eq!(detail.run.conclusion.map(|c| c.as_str()), Some("success"), "{detail:#?}\n{log:#?}");
    assert_eq!(job_states(&detail), ["build: completed success", "report: completed success"]);
    let build = &detail.jobs[0];
    assert_eq!(Value::Object(build.outputs.clone()), json!({"greeting": "hi you"}));
    assert_eq!((build.reason.as_deref(), build.runner.as_deref()), (None, Some(RUNNER)));
    assert_eq!(
        step_states(&detail, "build"),
        ["0 Run actions/checkout@v4: completed success", r#"1 Run echo "hello from $(cat README)": completed success"#]
    );
    let shown: Vec<&str> = log
        .iter()
        .map(String::as_str)
        .filter(|line| line.starts_with("build 1: ") || line.starts_with("report"))
        .collect();
    assert_eq!(
        shown,
        [
            "build 1: hello from the repo",
            "build 1: token *** for workflow_dispatch",
            "build 1: ##[group]details",
            "build 1: ##[endgroup]",
            "build 1: ##[warning]README:1: look here",
            "report 0: build said hi you",
        ]
    );
    assert!(!log.iter().any(|line| line.contains(SECRET)), "{log:#?}");

    // The repository is a folder on this host, read in place: no mirror; the jobs' files
    // are gone, their slot's folders stay.
    assert_eq!(entries(&work_dir.path().join("repos")), Vec::<String>::new());
    assert_eq!(entries(&work_dir.path().join("jobs")), ["0"]);
    assert_eq!(entries(&work_dir.path().join("jobs/0")), ["temp"]);
    assert_eq!(entries(&work_dir.path().join("jobs/0/temp")), Vec::<String>::new());
    // The slot's workspace stays for its next job, which syncs it with its commit.
    assert_eq!(entries(&work_dir.path().join("work")), ["0"]);
    assert_eq!(entries(&work_dir.path().join("work/0")).len(), 1);
}

/// A JavaScript action with `main` and `post`: `main` saves state and sets an output, `post`
/// shows the state.
/// Job `dirty` leaves its workspace changed in every way a build can (a file edited, one
/// added, a tracked one removed, a folder made, a hard link to a file outside); `clean`, the
/// slot's next job at the same commit, must find the commit's files and nothing else.
const DIRTY_THEN_CLEAN: &str = r#"
on:
  workflow_dispatch:
    inputs:
      outside: { required: true }
jobs:
  dirty:
    runs-on: self-hosted
    steps:
      - run: |
          echo changed > README
          rm docs/guide.txt
          mkdir -p target/debug && echo built > target/debug/app
          echo mine > "$RUNNER_TEMP/left.txt"
          ln "${{ inputs.outside }}" linked.txt
  clean:
    needs: dirty
    runs-on: self-hosted
    steps:
      - run: |
          echo "README: $(cat README)"
          echo "guide: $(cat docs/guide.txt)"
          echo "files: $(find . -path ./.git -prune -o -type f -print | sort | tr '\n' ' ')"
          echo "temp: $(ls -A "$RUNNER_TEMP" | tr '\n' ' ')"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slots_next_job_finds_its_commits_files_whatever_the_last_job_left() {
    let ferry =
        ferry(&[("README", "the repo"), ("docs/guide.txt", "read me"), (".github/workflows/ci.yml", DIRTY_THEN_CLEAN)])
            .await;
    let outside = tempfile::NamedTempFile::new().expect("a file outside");
    std::fs::write(outside.path(), "precious").expect("write");
    let run_id = ferry.trigger(json!({"outside": outside.path()})).await;
    let agent = ferry.agent();
    let detail = ferry.completed(run_id).await;
    let log = ferry.log(run_id).await;
    let (res, _work_dir) = agent.stop().await;
    res.expect("the agent stopped cleanly");

    assert_eq!(job_states(&detail), ["dirty: completed success", "clean: completed success"], "{log:#?}");
    let clean: Vec<&String> = log.iter().filter(|line| line.starts_with("clean")).collect();
    assert_eq!(
        clean,
        [
            "clean 0: README: the repo",
            "clean 0: guide: read me",
            "clean 0: files: ./.github/workflows/ci.yml ./README ./docs/guide.txt ",
            "clean 0: temp: ",
        ],
        "{log:#?}"
    );
    assert_eq!(std::fs::read_to_string(outside.path()).expect("outside"), "precious");
}

const JS_ACTION: &[(&str, &str)] = &[
    ("action.yml", "name: js\ninputs:\n  who: {}\nruns:\n  using: node20\n  main: main.js\n  post: post.js\n"),
    (
        "main.js",
        "const fs = require('fs');\nconsole.log('main ' + process.env.INPUT_WHO);\n\
         fs.appendFileSync(process.env.GITHUB_STATE, 'saved=' + process.env.INPUT_WHO + '\\n');\n\
         fs.appendFileSync(process.env.GITHUB_OUTPUT, 'said=hi ' + process.env.INPUT_WHO + '\\n');\n",
    ),
    ("post.js", "console.log('post ' + process.env.STATE_saved);\n"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_fetches_javascript_actions_once_per_commit_and_shows_their_post_steps() {
    let workflow = "on: workflow_dispatch\njobs:\n  build:\n    runs-on: self-hosted\n    steps:\n\
                    \x20     - id: js\n        uses: octo/js@v1\n        with:\n          who: runner\n\
                    \x20     - run: echo \"got ${{ steps.js.outputs.said }}\"\n";
    let ferry = ferry(&[(".github/workflows/ci.yml", workflow)]).await;
    let source = tempfile::tempdir().expect("temp dir");
    let action = source.path().join("octo/js");
    std::fs::create_dir_all(&action).expect("mkdir");
    repository(&action, JS_ACTION);
    git(&action, &["tag", "v1"]);
    let agent = ferry.start_agent_with(
        &ferry.runner_token,
        LABELS.map(str::to_owned).to_vec(),
        &format!("file://{}", source.path().display()),
    );
    let first = ferry.trigger(json!({})).await;
    let detail = ferry.completed(first).await;
    let log = ferry.log(first).await;
    assert_eq!(job_states(&detail), ["build: completed success"], "{detail:#?}\n{log:#?}");
    // The post step comes after the job's steps, in the run's steps and its log.
    assert_eq!(
        step_states(&detail, "build"),
        [
            "0 Run octo/js@v1: completed success",
            r#"1 Run echo "got ${{ steps.js.outputs.said }}": completed success"#,
            "2 Post Run octo/js@v1: completed success",
        ]
    );
    for line in ["build 0: main runner", "build 1: got hi runner", "build 2: post runner"] {
        assert!(log.iter().any(|logged| logged == line), "{line:?} missing: {log:#?}");
    }

    // The next run resolves `v1` again (the source must be there for that) but fetches
    // nothing: the kept checkout serves it even with the source's objects gone.
    std::fs::remove_dir_all(action.join(".git/objects")).expect("remove the objects");
    std::fs::create_dir_all(action.join(".git/objects/pack")).expect("an empty object store");
    let second = ferry.trigger(json!({})).await;
    let detail = ferry.completed(second).await;
    let log = ferry.log(second).await;
    assert_eq!(job_states(&detail), ["build: completed success"], "{detail:#?}\n{log:#?}");
    let (res, work_dir) = agent.stop().await;
    res.expect("the agent stopped cleanly");
    assert_eq!(entries(&work_dir.path().join("actions/octo/js")).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_from_the_server_stops_the_step_and_the_job_completes_cancelled() {
    let ferry = ferry(&[(".github/workflows/ci.yml", GATED)]).await;
    let run_id = ferry.trigger(json!({"gate": ferry.gate})).await;
    let agent = ferry.agent();
    ferry.logged(run_id, "build 0: started").await;
    ferry.admin.cancel_run(run_id).await.expect("cancelled");
    // The step's next lines go to the server, whose answer tells the agent to cancel.
    ferry.open_gate();
    let detail = ferry.completed(run_id).await;
    let (res, _work_dir) = agent.stop().await;
    res.expect("the agent stopped cleanly");

    assert_eq!(job_states(&detail), ["build: completed cancelled"], "{detail:#?}");
    assert_eq!(detail.jobs[0].reason, None);
    assert_eq!(
        step_states(&detail, "build"),
        ["0 Run echo started: completed cancelled", "1 Run echo never: completed skipped"]
    );
    assert_eq!(ferry.log(run_id).await, ["build 0: started", "build 0: gate open", "build 0: The step was cancelled."]);
    assert!(!ferry.slept());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_taken_away_from_its_runner_is_stopped_and_its_verdict_kept() {
    let ferry = ferry(&[(".github/workflows/ci.yml", GATED)]).await;
    let run_id = ferry.trigger(json!({"gate": ferry.gate})).await;
    let agent = ferry.agent();
    ferry.logged(run_id, "build 0: started").await;
    ferry.register_runner_again().await;
    let lost = ferry.completed(run_id).await;
    assert_eq!(job_states(&lost), ["build: completed failure"], "{lost:#?}");
    assert_eq!(lost.jobs[0].reason.as_deref(), Some("runner lost: it restarted while running the job"));

    // The step's next lines are refused: the agent stops the step, does not complete the job,
    // and stops claiming, since the server no longer takes its token.
    ferry.open_gate();
    let (res, work_dir) = agent.stopped().await;
    assert!(matches!(res, Err(AgentError::Refused(ref error)) if error.status() == Some(401)), "{res:?}");
    assert_eq!(entries(&work_dir.path().join("jobs/0/temp")), Vec::<String>::new(), "the job's files are removed");
    let detail = ferry.run(run_id).await;
    assert_eq!(job_states(&detail), ["build: completed failure"]);
    assert_eq!(detail.jobs[0].reason, lost.jobs[0].reason);
    assert_eq!(detail.jobs[0].finished_at, lost.jobs[0].finished_at);
    assert_eq!(ferry.log(run_id).await, ["build 0: started"]);
    assert!(!ferry.slept(), "the agent stopped the step");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_the_repository_lost_fails_the_job_with_gits_reason() {
    let ferry = ferry(&[(".github/workflows/ci.yml", WORKFLOW)]).await;
    let run_id = ferry.trigger(json!({"who": "you"})).await;
    let sha = ferry.run(run_id).await.run.sha;
    // A force-push after the run was queued: the commit is gone from the repository.
    git(&ferry.repo, &["commit", "--quiet", "--amend", "-m", "rewritten"]);
    git(&ferry.repo, &["reflog", "expire", "--expire=now", "--all"]);
    git(&ferry.repo, &["gc", "--quiet", "--prune=now"]);
    let agent = ferry.agent();
    let detail = ferry.completed(run_id).await;
    let (res, _work_dir) = agent.stop().await;
    res.expect("the agent stopped cleanly");

    assert_eq!(job_states(&detail), ["build: completed failure", "report: skipped"], "{detail:#?}");
    let reason = detail.jobs[0].reason.as_deref().expect("a reason");
    let expected = format!("checking out {sha} of {}: ", ferry.repo.display());
    assert!(reason.starts_with(&expected), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_agent_cancels_the_job_in_progress_and_completes_it_as_cancelled() {
    let ferry = ferry(&[(".github/workflows/ci.yml", GATED)]).await;
    let run_id = ferry.trigger(json!({"gate": ferry.gate})).await;
    let agent = ferry.agent();
    ferry.logged(run_id, "build 0: started").await;
    let (res, work_dir) = agent.stop().await;
    res.expect("the agent stopped cleanly");

    let detail = ferry.completed(run_id).await;
    assert_eq!(job_states(&detail), ["build: completed cancelled"], "{detail:#?}");
    assert_eq!(
        step_states(&detail, "build"),
        ["0 Run echo started: completed cancelled", "1 Run echo never: completed skipped"]
    );
    assert_eq!(entries(&work_dir.path().join("jobs/0")), ["temp"], "the job's files are removed");
    assert_eq!(entries(&work_dir.path().join("jobs/0/temp")), Vec::<String>::new(), "the job's files are removed");
    assert_eq!(ferry.log(run_id).await, ["build 0: started", "build 0: The step was cancelled."]);
}

/// `make` stores an artifact on one runner, `use` (on another) downloads it.
const ARTIFACTS: &str = r#"
on: workflow_dispatch
jobs:
  make:
    runs-on: [self-hosted, maker]
    steps:
      - run: |
          mkdir -p out/sub
          echo "made by make" > out/sub/result.txt
      - uses: actions/upload-artifact@v4
        with:
          name: out
          path: out/
  use:
    needs: make
    runs-on: [self-hosted, user]
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: out
      - run: cat sub/result.txt
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_artifact_uploaded_on_one_runner_is_downloaded_by_a_job_on_another() {
    let ferry = ferry(&[(".github/workflows/ci.yml", ARTIFACTS)]).await;
    let run_id = ferry.trigger(json!({})).await;
    let maker = ferry.agent_as("maker", &["self-hosted", "maker"]).await;
    let user = ferry.agent_as("user", &["self-hosted", "user"]).await;
    let detail = ferry.completed(run_id).await;
    let (res, _maker_dir) = maker.stop().await;
    res.expect("the maker stopped cleanly");
    let (res, user_dir) = user.stop().await;
    res.expect("the user stopped cleanly");

    let log = ferry.log(run_id).await;
    assert_eq!(job_states(&detail), ["make: completed success", "use: completed success"], "{detail:#?}\n{log:#?}");
    let runners: Vec<Option<&str>> = detail.jobs.iter().map(|job| job.runner.as_deref()).collect();
    assert_eq!(runners, [Some("maker"), Some("user")]);
    assert!(log.iter().any(|line| line == "use 1: made by make"), "{log:#?}");
    let fetched = user_dir.path().join(format!("artifacts/{run_id}/out/sub/result.txt"));
    assert_eq!(std::fs::read_to_string(fetched).expect("fetched into the user's work directory"), "made by make\n");
    let artifacts = ferry.admin.run_artifacts(run_id).await.expect("the run's artifacts");
    let listed: Vec<(&str, u64, Option<&str>)> =
        artifacts.iter().map(|artifact| (artifact.name.as_str(), artifact.size, artifact.job.as_deref())).collect();
    assert_eq!(listed, [("out", 13, Some("make"))]);
}

/// A cache saved under the run's id, restored by its prefix in later runs.
const CACHE: &str = r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: self-hosted
    steps:
      - uses: actions/cache@v4
        id: cache
        with:
          path: cached/
          key: k-${{ github.run_id }}
          restore-keys: k-
      - run: |
          if [ -f cached/value.txt ]; then cat cached/value.txt; else
            mkdir -p cached && echo "saved by run ${{ github.run_id }}" > cached/value.txt
          fi
      - run: echo "hit=${{ steps.cache.outputs.cache-hit }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_saved_on_one_runner_is_restored_by_its_prefix_on_another() {
    let ferry = ferry(&[(".github/workflows/ci.yml", CACHE)]).await;
    let (detail, log, _saver_dir) = ferry.run_on_new_runner("saver", &["self-hosted", "saver"], json!({})).await;
    let first = detail.run.id;
    assert_eq!(job_states(&detail), ["build: completed success"], "{log:#?}");
    let n_bytes = format!("saved by run {first}\n").len();
    let saved = format!("build 2: Cache saved with key: k-{first} ({n_bytes} bytes)");
    assert!(log.contains(&saved), "{log:#?}");

    let (detail, log, restorer_dir) =
        ferry.run_on_new_runner("restorer", &["self-hosted", "restorer"], json!({})).await;
    assert_eq!(job_states(&detail), ["build: completed success"], "{log:#?}");
    assert_eq!(detail.jobs[0].runner.as_deref(), Some("restorer"));
    let wanted = [
        format!("build 0: Cache restored from key: k-{first}"),
        format!("build 1: saved by run {first}"),
        "build 2: hit=false".to_owned(),
    ];
    for line in &wanted {
        assert!(log.iter().any(|logged| logged == line), "{line:?} is not in {log:#?}");
    }
    assert_eq!(entries(&restorer_dir.path().join("cache")).len(), 2, "the fetched entry and the one this run saved");
}

/// A cache under one key on every branch, so only the entries' scopes tell them apart.
const BRANCH_CACHE: &str = r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: self-hosted
    steps:
      - uses: actions/cache@v4
        with:
          path: cached/
          key: deps
      - run: |
          if [ -f cached/value.txt ]; then echo "restored $(cat cached/value.txt)"; else
            mkdir -p cached && echo "saved on ${{ github.ref_name }}" > cached/value.txt && cat cached/value.txt
          fi
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_s_cache_entry_is_restored_only_where_github_would_even_on_the_runner_that_saved_it() {
    let ferry = ferry(&[(".github/workflows/ci.yml", BRANCH_CACHE)]).await;
    for branch in ["feature", "other"] {
        git(&ferry.repo, &["branch", branch]);
    }
    let agent = ferry.agent();
    let mut said = Vec::new();
    for branch in ["feature", "main", "feature", "other"] {
        let run_id = ferry.trigger_on(Some(branch), json!({})).await;
        let detail = ferry.completed(run_id).await;
        let log = ferry.log(run_id).await;
        assert_eq!(job_states(&detail), ["build: completed success"], "{log:#?}");
        let step_said = log.iter().filter_map(|line| line.strip_prefix("build 1: "));
        // What the script said, not the save after the job.
        said.extend(step_said.filter(|line| !line.starts_with("Cache saved")).map(|line| format!("{branch}: {line}")));
    }
    let (res, work_dir) = agent.stop().await;
    res.expect("the agent stopped cleanly");
    // The default branch does not restore what a branch saved, though this runner holds it;
    // a branch restores its own entry first and the default branch's when it has none.
    assert_eq!(
        said,
        [
            "feature: saved on feature",
            "main: saved on main",
            "feature: restored saved on feature",
            "other: restored saved on main",
        ]
    );
    assert_eq!(entries(&work_dir.path().join("cache")).len(), 2, "one copy of each branch's entry");
}

/// `save` stores an entry; `look` asks for it three ways with `lookup-only`.
const LOOKUP_ONLY: &str = r#"
on:
  workflow_dispatch:
    inputs:
      mode: { required: true }
jobs:
  save:
    if: inputs.mode == 'save'
    runs-on: self-hosted
    steps:
      - run: mkdir -p cached && echo kept > cached/value.txt
      - uses: actions/cache/save@v4
        with:
          path: cached/
          key: deps-1
  look:
    if: inputs.mode == 'look'
    runs-on: self-hosted
    steps:
      - uses: actions/cache/restore@v4
        id: exact
        with:
          path: cached/
          key: deps-1
          lookup-only: true
      - uses: actions/cache/restore@v4
        id: prefix
        with:
          path: cached/
          key: deps-2
          restore-keys: deps-
          lookup-only: true
      - uses: actions/cache/restore@v4
        id: none
        with:
          path: cached/
          key: other
          lookup-only: true
      - run: |
          echo "hit=${{ steps.exact.outputs.cache-hit }} primary=${{ steps.exact.outputs.cache-primary-key }} matched=${{ steps.exact.outputs.cache-matched-key }}"
          echo "hit=${{ steps.prefix.outputs.cache-hit }} primary=${{ steps.prefix.outputs.cache-primary-key }} matched=${{ steps.prefix.outputs.cache-matched-key }}"
          echo "hit=${{ steps.none.outputs.cache-hit }} primary=${{ steps.none.outputs.cache-primary-key }} matched=${{ steps.none.outputs.cache-matched-key }}"
          test -e cached && echo "cached/ was restored" || echo "cached/ is absent"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_only_restore_says_what_it_would_restore_and_fetches_nothing() {
    let ferry = ferry(&[(".github/workflows/ci.yml", LOOKUP_ONLY)]).await;
    let (detail, _, _saver_dir) = ferry.run_on_new_runner("saver", &["self-hosted"], json!({"mode": "save"})).await;
    assert_eq!(detail.run.conclusion.map(|c| c.as_str()), Some("success"), "{detail:#?}");

    let (detail, log, looker_dir) = ferry.run_on_new_runner("looker", &["self-hosted"], json!({"mode": "look"})).await;
    assert_eq!(detail.run.conclusion.map(|c| c.as_str()), Some("success"), "{detail:#?}\n{log:#?}");
    let cache = looker_dir.path().join("cache");
    let fetched = std::fs::read_dir(&cache).map(|dir| dir.count()).unwrap_or(0);
    assert_eq!(fetched, 0, "nothing was fetched into {}", cache.display());
    let said: Vec<&str> = log.iter().map(String::as_str).collect();
    assert_eq!(
        said,
        [
            "look 0: Cache found and can be restored from key: deps-1",
            "look 1: Cache found and can be restored from key: deps-1",
            "look 2: Cache not found for input keys: other",
            "look 3: hit=true primary=deps-1 matched=deps-1",
            "look 3: hit=false primary=deps-2 matched=deps-1",
            "look 3: hit=false primary=other matched=",
            "look 3: cached/ is absent",
        ]
    );
}

/// `make` stores `out` for 3 days; `remake`, on another runner, replaces it with
/// `overwrite: true` for 2 days once the gate file is there; `bad` asks for a retention that
/// is no number of days.
const KEPT_AND_REPLACED: &str = r#"
on:
  workflow_dispatch:
    inputs:
      gate: { required: true }
jobs:
  make:
    runs-on: [self-hosted, maker]
    steps:
      - run: mkdir -p out && echo "first" > out/result.txt
      - uses: actions/upload-artifact@v4
        with:
          name: out
          path: out/
          retention-days: 3
      - uses: actions/upload-artifact@v4
        continue-on-error: true
        with:
          name: bad
          path: out/
          retention-days: two weeks
  remake:
    needs: make
    runs-on: [self-hosted, remaker]
    steps:
      - run: |
          until [ -e "${{ inputs.gate }}" ]; do sleep 0.01; done
          mkdir -p out && echo "second, longer" > out/result.txt
      - uses: actions/upload-artifact@v4
        with:
          name: out
          path: out/
          overwrite: true
          retention-days: 2
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_artifact_keeps_its_retention_days_and_overwrite_replaces_it_from_another_runner() {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let ferry = ferry(&[(".github/workflows/ci.yml", KEPT_AND_REPLACED)]).await;
    let run_id = ferry.trigger(json!({"gate": ferry.gate})).await;
    let maker = ferry.agent_as("maker", &["self-hosted", "maker"]).await;
    let remaker = ferry.agent_as("remaker", &["self-hosted", "remaker"]).await;
    let first = until("make to store `out`", async || {
        let artifacts = ferry.admin.run_artifacts(run_id).await.expect("the run's artifacts");
        artifacts.into_iter().find(|artifact| artifact.job.as_deref() == Some("make"))
    })
    .await;
    ferry.open_gate();
    let detail = ferry.completed(run_id).await;
    for agent in [maker, remaker] {
        let (res, _work_dir) = agent.stop().await;
        res.expect("the agent stopped cleanly");
    }
    let log = ferry.log(run_id).await;
    assert_eq!(job_states(&detail), ["make: completed success", "remake: completed success"], "{detail:#?}\n{log:#?}");
    assert_eq!(first.expires_at.map(|expiry| (expiry - first.created_at) / DAY_MS), Some(3), "{first:?}");
    assert!(
        log.iter()
            .any(|line| line.starts_with("make 2: error: invalid retention-days `two weeks`: give a whole number")),
        "{log:#?}"
    );
    let artifacts = ferry.admin.run_artifacts(run_id).await.expect("the run's artifacts");
    let listed: Vec<(&str, u64, Option<&str>, Option<i64>)> = artifacts
        .iter()
        .map(|artifact| {
            let days = artifact.expires_at.map(|expiry| (expiry - artifact.created_at) / DAY_MS);
            (artifact.name.as_str(), artifact.size, artifact.job.as_deref(), days)
        })
        .collect();
    assert_eq!(listed, [("out", 15, Some("remake"), Some(2))], "the second replaced the first");
}
