//! `ferry run` under pressure: timeouts, Ctrl-C, fail-fast, and what cannot run here.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, test_kill_process};

use crate::harness::{Repo, Run, ferry, marker};

/// Waits for `path` to exist: the step under test got there. Bounded, so a broken run fails
/// the test instead of hanging it.
fn wait_for(path: &Path) {
    crate::runner::wait_for(&format!("{} to appear", path.display()), || path.exists().then_some(()));
}

/// Whether the process whose pid is in file `path` is gone.
fn process_gone(path: &Path) -> bool {
    let pid: i32 = std::fs::read_to_string(path).expect("pid file").trim().parse().expect("a pid");
    let pid = Pid::from_raw(pid).expect("positive pid");
    // The grandchild is reparented to init, which reaps it; poll briefly for that.
    let deadline = Instant::now() + Duration::from_secs(20);
    while test_kill_process(pid).is_ok() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

#[test]
fn ctrl_c_cancels_the_running_step_and_still_runs_always_steps() {
    let (repo, markers) = Repo::with_markers(
        r#"
on: push
jobs:
  j:
    runs-on: x
    steps:
      - id: long
        run: |
          sleep 1000 &
          echo $! > @sleeper@
          touch @started@
          wait
      - id: next
        run: echo should not run
      - id: cleanup
        if: always()
        run: echo "cleanup sees ${{ job.status }}"
      - id: on-cancel
        if: cancelled()
        run: echo cancelled-step-ran
  later:
    needs: j
    runs-on: x
    steps:
      - id: never
        run: echo never
"#,
        &["sleeper", "started"],
    );
    let [sleeper, started] = &markers[..] else { unreachable!("two markers") };
    let report = marker(&repo, "report.json");
    let child = ferry()
        .arg("run")
        .arg(repo.path())
        .arg("--report")
        .arg(&report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ferry starts");
    wait_for(started);
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid fits")).expect("positive pid");
    kill_process(pid, Signal::INT).expect("send SIGINT");
    let output = child.wait_with_output().expect("ferry ends");
    let run = Run::from_output(output, &report);
    assert_eq!(run.code, Some(1), "{}", run.context());
    assert_eq!(
        run.trace(),
        "run: cancelled\nj: cancelled\n  long: cancelled\n  next: skipped\n  cleanup: success\n  on-cancel: success\n\
         later: skipped\n  never: skipped"
    );
    assert!(run.lines_of("j").contains(&"cleanup sees cancelled"), "{}", run.context());
    assert!(process_gone(sleeper), "the step's background sleep survived the cancel");
}

#[test]
fn a_step_timeout_stops_the_step_and_its_children() {
    let (repo, markers) = Repo::with_markers(
        r#"
on: push
jobs:
  j:
    runs-on: x
    steps:
      - id: slow
        timeout-minutes: 0.01
        run: |
          sleep 1000 &
          echo $! > @sleeper@
          wait
      - id: after
        if: always()
        run: echo after the timeout
"#,
        &["sleeper"],
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    assert_eq!(run.trace(), "run: failure\nj: failure\n  slow: failure\n  after: success");
    assert!(run.lines_of("j").contains(&"The step timed out and was stopped."), "{}", run.context());
    assert!(process_gone(&markers[0]), "the timed-out step's child survived");
}

#[test]
fn a_job_timeout_stops_the_job_and_fails_it() {
    let repo = Repo::with_workflow(
        "on: push\njobs:\n  j:\n    runs-on: x\n    timeout-minutes: 0.01\n    steps:\n      - id: slow\n        run: sleep 1000\n      - id: after\n        run: echo no\n",
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    assert_eq!(run.trace(), "run: failure\nj: failure\n  slow: cancelled\n  after: skipped");
    assert!(
        run.report["jobs"]["j"]["error"].as_str().is_some_and(|error| error.contains("exceeded its timeout")),
        "{}",
        run.context()
    );
}

#[test]
fn fail_fast_cancels_the_rest_of_the_matrix() {
    let (repo, _) = Repo::with_markers(
        r#"
on: push
jobs:
  m:
    runs-on: x
    strategy:
      matrix:
        kind: [slow, broken]
    steps:
      - id: work
        run: |
          if [ "${{ matrix.kind }}" = slow ]; then touch @started@; sleep 1000; fi
          while [ ! -e @started@ ]; do sleep 0.02; done
          exit 1
"#,
        &["started"],
    );
    let run = repo.run(&["--parallel", "2"]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    assert_eq!(
        run.trace(),
        "run: failure\nm (slow): cancelled\n  work: cancelled\nm (broken): failure\n  work: failure"
    );
}

#[test]
fn containers_are_explained_not_run() {
    // Reusable workflows run: see `reusable.rs`.
    let repo = Repo::with_workflow(
        "on: push\njobs:\n  c:\n    runs-on: x\n    container: node:20\n    steps:\n      - run: echo no\n",
    );
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(1), "{}", run.context());
    assert!(
        // With an engine the image cannot be pulled here; without one, that is what it says.
        run.report["jobs"]["c"]["error"].as_str().is_some_and(|error| error
            .contains("image `node:20` is not on this host")
            || error.contains("no container engine")),
        "{}",
        run.context()
    );
    assert_eq!(run.report["jobs"]["c"]["steps"][0]["outcome"], "skipped", "{}", run.context());
}

#[test]
fn plain_output_has_no_escape_codes_with_no_color() {
    let repo = Repo::with_workflow("on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: echo plain\n");
    let run = repo.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.context());
    assert!(!run.stdout.contains('\x1b'), "{}", run.context());
    assert!(run.stdout.contains("j | plain"), "{}", run.context());
    assert!(run.stdout.contains("success: 1 job in "), "{}", run.context());
}
