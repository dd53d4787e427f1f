//! Where jobs work: a workspace path laid out as on GitHub's runner
//! (`<work root>/<repo>/<repo>`, `RUNNER_WORKSPACE` the folder above it) that stays the same
//! from run to run, so caches keyed by their paths restore; never shared by two jobs running
//! at once.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::harness::{Repo, Run, ferry, marker};
use crate::runner::{Process, client_command, output_within, start_server, text};

/// Prints the job's workspace as each of its four names gives it.
const SHOW: &str =
    r#"echo "ws=$GITHUB_WORKSPACE rws=$RUNNER_WORKSPACE gw=${{ github.workspace }} rw=${{ runner.workspace }}""#;

/// The workspace a job printed with [`SHOW`], checked for GitHub's layout: the four names
/// agree, and the workspace is `<RUNNER_WORKSPACE>/<its folder name>`.
fn workspace_of<'a>(lines: impl IntoIterator<Item = &'a str>, context: &dyn Fn() -> String) -> PathBuf {
    let line = lines.into_iter().find(|line| line.starts_with("ws=")).unwrap_or_else(|| panic!("{}", context()));
    let fields: Vec<&str> = line.split(' ').map(|field| field.split_once('=').map_or("", |(_, value)| value)).collect();
    let [ws, rws, gw, rw] = fields[..] else { panic!("four fields in {line:?}") };
    assert_eq!(ws, gw, "{line}");
    assert_eq!(rws, rw, "{line}");
    let ws = PathBuf::from(ws);
    let name = ws.file_name().expect("a folder name").to_owned();
    assert_eq!(ws.parent(), Some(Path::new(rws)), "{line}");
    assert_eq!(Path::new(rws).file_name(), Some(name.as_os_str()), "<root>/<repo>/<repo>: {line}");
    ws
}

/// `ferry run` as [`Repo::run`] runs it, writing its report to `report`.
fn run_command(repo: &Repo, report: &Path) -> std::process::Command {
    let mut command = ferry();
    command.arg("run").arg(repo.path()).arg("--report").arg(report);
    command.env("FERRY_CACHE_DIR", repo.path().join(".git").join("ferry-cache"));
    command.env("XDG_CACHE_HOME", repo.path().join(".git").join("user-cache"));
    command
}

#[test]
fn two_runs_of_one_repository_work_in_the_same_workspace_and_leave_it_empty() {
    let repo = Repo::with_workflow(&format!(
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: '{}'\n      - run: test -f .github/workflows/ci.yml && touch left-behind\n",
        SHOW.replace('\'', "''")
    ));
    let first = repo.run(&[]);
    assert_eq!(first.code, Some(0), "{}", first.context());
    let workspace = workspace_of(first.lines_of("build"), &|| first.context());
    let second = repo.run(&[]);
    assert_eq!(second.code, Some(0), "{}", second.context());
    assert_eq!(workspace_of(second.lines_of("build"), &|| second.context()), workspace);

    // In the user's cache folder, named after the repository's folder.
    let work = repo.path().join(".git/user-cache/ferry/work");
    assert!(workspace.starts_with(&work), "{} is not in {}", workspace.display(), work.display());
    let repo_name = repo.path().file_name().expect("a folder name");
    assert_eq!(workspace.file_name(), Some(repo_name));
    // Emptied when the job ended; the work root stays for the next run.
    let root = workspace.parent().and_then(Path::parent).expect("the work root");
    assert!(!workspace.parent().expect("RUNNER_WORKSPACE").exists(), "{}", workspace.display());
    assert!(root.is_dir(), "{}", root.display());
}

#[test]
fn concurrent_runs_of_one_repository_work_in_different_workspaces() {
    // Each run's job holds its workspace until both have started: they overlap for sure.
    let (repo, markers) = Repo::with_markers(
        &format!(
            r#"on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: '{}'
      - run: |
          mkdir -p @started@ && touch "@started@/$$"
          for _ in $(seq 1200); do
            [ "$(ls @started@ | wc -l)" -ge 2 ] && exit 0
            sleep 0.1
          done
          echo "the other run did not start within 120 s"; exit 1
"#,
            SHOW.replace('\'', "''")
        ),
        &["started"],
    );
    assert!(!markers[0].exists());
    let reports = [marker(&repo, "first.json"), marker(&repo, "second.json")];
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = reports
            .iter()
            .map(|report| {
                let command = run_command(&repo, report);
                scope.spawn(move || Run::from_output(output_within(command), report))
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("the run's thread")).collect()
    });
    let workspaces: Vec<PathBuf> = runs
        .iter()
        .map(|run| {
            assert_eq!(run.code, Some(0), "{}", run.context());
            workspace_of(run.lines_of("build"), &|| run.context())
        })
        .collect();
    assert_ne!(workspaces[0], workspaces[1]);
    // The same repository, the same layout: only the work root differs.
    assert_eq!(workspaces[0].file_name(), workspaces[1].file_name());
}

#[test]
fn a_runners_jobs_in_sequence_work_in_the_same_workspace() {
    let workflow = format!(
        "on: workflow_dispatch\njobs:\n  first:\n    runs-on: [self-hosted, box]\n    steps:\n      - run: '{show}'\n      - run: touch left-behind\n  second:\n    needs: first\n    runs-on: [self-hosted, box]\n    steps:\n      - run: '{show}'\n      - run: test ! -e left-behind\n",
        show = SHOW.replace('\'', "''")
    );
    let scratch = tempfile::Builder::new().prefix("ferry-workspaces-it-").tempdir().expect("temp dir");
    let repo = Repo::new(&[(".github/workflows/ci.yml", &workflow)]);
    let (server, url, admin) = start_server(scratch.path());
    let repo_path = repo.path().display().to_string();
    let added = output_within(client_command(&url, &admin, &["project", "add", "demo", "--repo", &repo_path]));
    assert!(added.status.success(), "{}\n--- server\n{}", text(&added), server.stderr());

    let runner_stderr = scratch.path().join("runner.stderr");
    let work_dir = scratch.path().join("runner");
    // The `box` label keeps the jobs from the server's own runner; one slot runs them in turn.
    let mut runner_command = client_command(&url, &admin, &["runner", "--labels", "box", "--name", "box"]);
    runner_command.arg("--work-dir").arg(&work_dir).args(["--slots", "1"]);
    let child = runner_command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&runner_stderr).expect("a stderr file"))
        .spawn()
        .expect("ferry runner starts");
    let runner = Process { child, stderr: runner_stderr };

    let mut workspaces = Vec::new();
    for _ in 0..2 {
        let triggered = output_within(client_command(&url, &admin, &["trigger", "demo", "--wait", "--json"]));
        let context =
            || format!("{}\n--- runner\n{}\n--- server\n{}", text(&triggered), runner.stderr(), server.stderr());
        assert!(triggered.status.success(), "{}", context());
        let report: serde_json::Value =
            serde_json::from_slice(&triggered.stdout).unwrap_or_else(|_| panic!("JSON: {}", context()));
        let run_id = report["runs"][0]["id"].as_i64().unwrap_or_else(|| panic!("a run id: {}", context()));
        let logs = output_within(client_command(&url, &admin, &["logs", &run_id.to_string()]));
        assert!(logs.status.success(), "{}", text(&logs));
        let stdout = String::from_utf8_lossy(&logs.stdout).into_owned();
        for job in ["first", "second"] {
            let prefix = format!("{job} | step 1 | ");
            let lines = stdout.lines().filter_map(|line| line.strip_prefix(&prefix));
            workspaces.push(workspace_of(lines, &|| stdout.clone()));
        }
    }
    assert!(workspaces.iter().all(|workspace| *workspace == workspaces[0]), "{workspaces:?}");
    let root = work_dir.canonicalize().expect("the work dir").join("work").join("0");
    assert_eq!(workspaces[0].parent().and_then(Path::parent), Some(root.as_path()), "{workspaces:?}");
}
