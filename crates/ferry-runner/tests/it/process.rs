//! Step processes: real `bash` runs, their output, exit, timeout, cancel and cleanup.

use std::path::PathBuf;
use std::time::Duration;

use ferry_runner::job::JobEvent;
use ferry_runner::process::{ProcessExit, ProcessSpec, Stream, run_process};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::process::{Pid, PidfdFlags, Signal, kill_process, pidfd_open};
use tokio::sync::watch;

struct Run {
    exit: ProcessExit,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Run {
    /// The pid the script printed as `NAME=PID`.
    fn pid(&self, name: &str) -> i32 {
        let prefix = format!("{name}=");
        let line = self.stdout.iter().find_map(|line| line.strip_prefix(&prefix));
        line.unwrap_or_else(|| panic!("no {prefix} line in {:?}", self.stdout)).parse().expect("a pid")
    }
}

/// A bash script step as GitHub runs `shell: bash`, in the temporary directory, no timeout.
fn bash(script: &str) -> ProcessSpec {
    ProcessSpec {
        program: "bash".into(),
        args: ["--noprofile", "--norc", "-eo", "pipefail", "-c", script].map(String::from).to_vec(),
        working_dir: std::env::temp_dir(),
        env: Vec::new(),
        timeout: None,
        kill_grace: Duration::from_secs(5),
        keep_background: false,
        confinement: None,
    }
}

async fn run(spec: &ProcessSpec) -> Run {
    run_cancelled_after(spec, None).await
}

/// Runs `spec`, cancelling it once stdout shows the line `trigger`.
async fn run_cancelled_after(spec: &ProcessSpec, trigger: Option<&str>) -> Run {
    let (cancel, mut cancelled) = watch::channel(false);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let exit = run_process(
        spec,
        &mut cancelled,
        &mut |stream, line: &str| {
            if Some(line) == trigger {
                cancel.send_replace(true);
            }
            match stream {
                Stream::Stdout => stdout.push(line.to_owned()),
                Stream::Stderr => stderr.push(line.to_owned()),
            }
        },
        None,
    )
    .await
    .expect("the process runs");
    Run { exit, stdout, stderr }
}

/// Waits (bounded, only a failure waits long) until process `pid` has exited.
fn assert_exited(pid: i32) {
    let pid = Pid::from_raw(pid).expect("a positive pid");
    let pidfd = match pidfd_open(pid, PidfdFlags::empty()) {
        Err(rustix::io::Errno::SRCH) => return,
        pidfd => pidfd.expect("pidfd_open"),
    };
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    let n_ready = poll(&mut fds, Some(&Timespec { tv_sec: 20, tv_nsec: 0 })).expect("poll");
    assert_eq!(n_ready, 1, "process {pid:?} is still running after its step ended");
}

fn exit(code: Option<i32>, signal: Option<i32>) -> ProcessExit {
    ProcessExit { code, signal, timed_out: false, cancelled: false, group: None }
}

#[tokio::test]
async fn exit_codes_and_signals() {
    let cases = [
        ("true", exit(Some(0), None)),
        ("exit 3", exit(Some(3), None)),
        ("false; echo unreachable", exit(Some(1), None)),
        ("false | true", exit(Some(1), None)),
        ("kill -TERM $$", exit(None, Some(15))),
    ];
    for (script, expected) in cases {
        assert_eq!(run(&bash(script)).await.exit, expected, "script: {script}");
    }
    assert!(run(&bash("true")).await.exit.success());
    assert!(!run(&bash("exit 1")).await.exit.success());
}

#[tokio::test]
async fn both_streams_are_captured_in_order() {
    let script = "for i in $(seq 1 2000); do echo out$i; echo err$i >&2; done; printf 'no newline'";
    let run = run(&bash(script)).await;
    let mut expected_stdout: Vec<String> = (1..=2000).map(|i| format!("out{i}")).collect();
    expected_stdout.push("no newline".into());
    assert_eq!(run.stdout, expected_stdout);
    assert_eq!(run.stderr, (1..=2000).map(|i| format!("err{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn long_lines_and_odd_bytes() {
    let run = run(&bash("head -c 200000 /dev/zero | tr '\\0' a; echo; printf 'crlf\\r\\n\\xff\\n'")).await;
    let lengths: Vec<usize> = run.stdout.iter().map(String::len).collect();
    assert_eq!(lengths, [65536, 65536, 65536, 3392, 4, 3]);
    assert!(run.stdout[..4].iter().all(|piece| piece.bytes().all(|byte| byte == b'a')));
    assert_eq!(run.stdout[4..], ["crlf", "\u{FFFD}"]);
}

#[tokio::test]
async fn environment_working_dir_and_stdin() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut spec = bash("echo \"$A $B ${PATH:+inherited}\"; pwd; cat; echo after-cat");
    spec.env = vec![("A".into(), "1".into()), ("B".into(), "x y".into()), ("A".into(), "2".into())];
    spec.working_dir = dir.path().to_path_buf();
    let run = run(&spec).await;
    let cwd = dir.path().canonicalize().expect("canonical temporary directory");
    assert_eq!(run.stdout, ["2 x y inherited", cwd.to_str().expect("utf-8 path"), "after-cat"]);
    assert!(run.exit.success());
}

#[tokio::test]
async fn a_missing_program_or_directory_is_an_error() {
    let (_cancel, mut cancelled) = watch::channel(false);
    let mut spec = bash("true");
    spec.program = "ferry-no-such-program".into();
    let error = run_process(&spec, &mut cancelled, &mut |_, _: &str| {}, None).await.expect_err("cannot start");
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    assert!(error.to_string().contains("ferry-no-such-program"), "{error}");

    let mut spec = bash("true");
    spec.working_dir = PathBuf::from("/nonexistent/ferry");
    let error = run_process(&spec, &mut cancelled, &mut |_, _: &str| {}, None).await.expect_err("cannot start");
    assert!(error.to_string().contains("/nonexistent/ferry"), "{error}");
}

#[tokio::test]
async fn timeout_kills_the_whole_group() {
    let mut spec = bash("sleep 100 & echo \"bg=$!\"; sleep 100; wait");
    spec.timeout = Some(Duration::from_secs(2));
    let run = run(&spec).await;
    assert_eq!(run.exit, ProcessExit { code: None, signal: Some(15), timed_out: true, cancelled: false, group: None });
    assert_exited(run.pid("bg"));
}

#[tokio::test]
async fn cancel_lets_a_term_trap_run() {
    let script = "trap 'echo got TERM; exit 7' TERM; sleep 100 & echo \"bg=$!\"; echo ready; wait";
    let run = run_cancelled_after(&bash(script), Some("ready")).await;
    assert_eq!(run.exit, ProcessExit { code: Some(7), signal: None, timed_out: false, cancelled: true, group: None });
    assert_eq!(run.stdout.last().map(String::as_str), Some("got TERM"));
    assert_exited(run.pid("bg"));
}

#[tokio::test]
async fn a_process_ignoring_term_is_killed_after_the_grace() {
    let mut spec = bash("trap '' TERM; sleep 100 & echo \"bg=$!\"; echo ready; sleep 100");
    spec.kill_grace = Duration::from_millis(200);
    let run = run_cancelled_after(&spec, Some("ready")).await;
    assert_eq!(run.exit, ProcessExit { code: None, signal: Some(9), timed_out: false, cancelled: true, group: None });
    assert_exited(run.pid("bg"));
}

#[tokio::test]
async fn zero_grace_kills_at_once() {
    let mut spec = bash("trap 'echo got TERM' TERM; echo ready; sleep 100");
    spec.kill_grace = Duration::ZERO;
    let run = run_cancelled_after(&spec, Some("ready")).await;
    assert_eq!(run.exit.signal, Some(9));
    assert!(!run.stdout.contains(&"got TERM".to_owned()));
}

#[tokio::test]
async fn cancel_before_start_runs_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let marker = dir.path().join("ran");
    let (_cancel, mut cancelled) = watch::channel(true);
    let spec = bash(&format!("touch '{}'", marker.display()));
    let exit = run_process(&spec, &mut cancelled, &mut |_, _: &str| {}, None).await.expect("no error");
    assert_eq!(exit, ProcessExit { code: None, signal: None, timed_out: false, cancelled: true, group: None });
    assert!(!marker.exists());
}

#[tokio::test]
async fn a_dropped_cancel_sender_never_cancels() {
    let (cancel, mut cancelled) = watch::channel(false);
    drop(cancel);
    let exit = run_process(&bash("echo hi"), &mut cancelled, &mut |_, _: &str| {}, None).await.expect("runs");
    assert!(exit.success());
}

#[tokio::test]
async fn background_jobs_do_not_hold_the_step() {
    let run = run(&bash("sleep 1000 & echo \"bg=$!\"; echo done")).await;
    assert!(run.exit.success());
    assert_eq!(run.stdout.last().map(String::as_str), Some("done"));
    assert_exited(run.pid("bg"));
}

#[tokio::test]
async fn kept_background_jobs_outlive_the_step_until_their_group_is_killed() {
    let mut spec = bash("sleep 1000 </dev/null >/dev/null 2>&1 & echo \"bg=$!\"; echo done");
    spec.keep_background = true;
    let run = run(&spec).await;
    assert!(run.exit.success());
    let group = run.exit.group.expect("the step's group is handed to the caller");
    let background = Pid::from_raw(run.pid("bg")).expect("a positive pid");
    // Signal 0 checks that the process is still there.
    assert_eq!(rustix::process::test_kill_process(background), Ok(()), "the background job was killed with its step");
    ferry_runner::process::kill_group(group);
    assert_exited(background.as_raw_nonzero().get());
}

#[tokio::test]
async fn a_process_that_left_the_group_does_not_hold_the_step() {
    // setsid moves the sleep out of the step's group; it keeps stdout open, so only the drain
    // limit ends the step. It is not killed: it is no longer the step's.
    let run = run(&bash("setsid sleep 1000 & echo \"bg=$!\"; echo done")).await;
    assert!(run.exit.success());
    let escaped = Pid::from_raw(run.pid("bg")).expect("a positive pid");
    kill_process(escaped, Signal::KILL).expect("the escaped process is still there to kill");
    assert_exited(escaped.as_raw_nonzero().get());
}

#[tokio::test]
async fn steps_start_with_default_signal_dispositions() {
    // Rust ignores SIGPIPE in its own process; a step must not inherit that, or `yes | head -1`
    // prints "Broken pipe" errors instead of ending quietly. No standard signal (1-31) is
    // blocked or ignored. (glibc's posix_spawn ignores its internal signals 32 and 33, which
    // programs never use.)
    let run = run(&bash("grep -E '^Sig(Ign|Blk)' /proc/self/status; yes | head -1 >/dev/null || echo status=$?")).await;
    let mask = |name: &str| {
        let line = run.stdout.iter().find_map(|line| line.strip_prefix(name)).expect("a signal mask line");
        u64::from_str_radix(line.trim(), 16).expect("a hexadecimal mask")
    };
    assert_eq!(mask("SigBlk:") & 0x7fff_ffff, 0, "{:?}", run.stdout);
    assert_eq!(mask("SigIgn:") & 0x7fff_ffff, 0, "{:?}", run.stdout);
    assert_eq!(run.stdout.last().map(String::as_str), Some("status=141"));
    assert_eq!(run.stderr, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_steps_keep_their_own_output() {
    let steps: Vec<_> = (0..6)
        .map(|step_idx| {
            tokio::spawn(async move {
                let spec = bash(&format!("for i in $(seq 1 300); do echo {step_idx}-$i; done; exit {step_idx}"));
                run(&spec).await
            })
        })
        .collect();
    for (step_idx, step) in steps.into_iter().enumerate() {
        let run = step.await.expect("the step task finishes");
        assert_eq!(run.exit.code, Some(i32::try_from(step_idx).expect("small index")));
        assert_eq!(run.stdout, (1..=300).map(|i| format!("{step_idx}-{i}")).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn dropping_the_step_kills_its_group() {
    let spec = bash("sleep 100 & echo \"bg=$!\"; echo \"leader=$$\"; echo ready; wait");
    let (ready, mut on_ready) = tokio::sync::mpsc::unbounded_channel();
    let (_cancel, mut cancelled) = watch::channel(false);
    let mut on_line = |_, line: &str| {
        ready.send(line.to_owned()).expect("the test is listening");
    };
    let mut stdout = Vec::new();
    tokio::select! {
        exit = run_process(&spec, &mut cancelled, &mut on_line, None) => panic!("the step ended by itself: {exit:?}"),
        () = async {
            while let Some(line) = on_ready.recv().await {
                let done = line == "ready";
                stdout.push(line);
                if done {
                    break;
                }
            }
        } => {}
    }
    let run = Run { exit: exit(None, None), stdout, stderr: Vec::new() };
    assert_exited(run.pid("bg"));
    assert_exited(run.pid("leader"));
}

#[tokio::test]
async fn a_step_printing_faster_than_its_lines_are_taken_waits_for_them() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let done = dir.path().join("done");
    // 4.1 MB: far more than the pipe (1 MiB), one read (64 KiB) and the channel's 8 KiB budget
    // hold together.
    const N_LINES: usize = 600_000;
    const HELD: usize = (1 << 20) + (64 << 10) + (8 << 10);
    let spec = bash(&format!("seq 1 {N_LINES}; touch '{}'", done.display()));
    let (sender, mut receiver) = ferry_runner::events::channel(8 * 1024);
    let (_cancel, mut cancelled) = watch::channel(false);
    let step = tokio::spawn({
        let sender = sender.clone();
        async move {
            let mut on_line = |_, line: &str| {
                sender.send(0, JobEvent::Line { step_idx: 0, text: line.to_owned() });
            };
            run_process(&spec, &mut cancelled, &mut on_line, Some(&sender)).await.expect("the step runs")
        }
    });
    drop(sender);
    // While the output still to be taken is more than the pipe, one read and the channel hold,
    // `seq` cannot be done, so the step cannot have reached its `touch`. Without back-pressure
    // it would be done in milliseconds, long before the lines are taken here.
    let mut untaken: usize = (1..=N_LINES).map(|n| n.to_string().len() + 1).sum();
    let mut lines = Vec::new();
    while let Some((_, event)) = receiver.recv().await {
        match event {
            JobEvent::Line { text, .. } => {
                untaken -= text.len() + 1;
                lines.push(text);
            }
            other => panic!("unexpected event {other:?}"),
        }
        if lines.len() % 10_000 == 0 && untaken > HELD {
            assert!(!done.exists(), "the step got past its output with {untaken} bytes not taken");
        }
    }
    let exit = step.await.expect("the step task finishes");
    assert!(exit.success(), "{exit:?}");
    assert!(done.exists());
    assert_eq!(lines.len(), N_LINES);
    assert!(lines.iter().enumerate().all(|(idx, line)| *line == (idx + 1).to_string()), "lines lost or reordered");
}

/// `<tmp>/{data/{secret.key, runner/work.txt}, beside.txt}` and a confinement keeping steps out
/// of `data` but for `data/runner`.
fn confined_layout() -> (tempfile::TempDir, PathBuf, std::sync::Arc<ferry_runner::isolation::Confinement>) {
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data");
    std::fs::create_dir_all(data.join("runner")).expect("mkdir");
    std::fs::write(data.join("secret.key"), "the server's key").expect("write");
    std::fs::write(data.join("runner").join("work.txt"), "the job's file").expect("write");
    std::fs::write(root.path().join("beside.txt"), "a file beside").expect("write");
    let confinement =
        ferry_runner::isolation::Confinement::new(&data, &[data.join("runner")]).expect("the folders exist");
    (root, data, std::sync::Arc::new(confinement))
}

#[tokio::test]
async fn a_confined_step_cannot_reach_the_protected_folder_but_its_own_and_the_rest() {
    let (root, data, confinement) = confined_layout();
    let script = "cat secret.key || echo 'no key'\n\
                  echo new > ferry.db || echo 'no write'\n\
                  rm secret.key || echo 'no remove'\n\
                  cat runner/work.txt && echo && echo written > runner/new.txt && cat runner/new.txt\n\
                  cat ../beside.txt && echo\n\
                  ( exec 3< /proc/$PPID/mem ) 2>/dev/null || echo 'no memory'";
    let mut spec = bash(script);
    spec.working_dir = data.clone();
    spec.confinement = Some(confinement);
    let run = run(&spec).await;
    assert_eq!(
        run.stdout,
        ["no key", "no write", "no remove", "the job's file", "written", "a file beside", "no memory"],
        "{:?}",
        run.stderr
    );
    assert!(run.exit.success(), "{:?}", run.stderr);
    assert_eq!(std::fs::read_to_string(data.join("secret.key")).expect("kept"), "the server's key");
    assert!(!data.join("ferry.db").exists());
    // The process that started it is not confined.
    assert_eq!(std::fs::read_to_string(data.join("secret.key")).expect("readable here"), "the server's key");
    drop(root);
}

#[tokio::test]
async fn a_step_gets_only_the_environment_it_is_given() {
    let mut spec = bash("env | grep -v '^_=' | grep -v '^PWD=' | grep -v '^SHLVL=' | sort");
    spec.env = vec![("ONE".to_owned(), "1".to_owned())];
    let run = run(&spec).await;
    assert_eq!(run.stdout, ["ONE=1"], "the test process's own variables (CARGO_*, PATH) stay out");
}

#[tokio::test]
async fn a_file_made_beside_the_protected_folder_after_a_step_is_reachable_by_the_next() {
    let (root, data, confinement) = confined_layout();
    let mut spec = bash("cat ../late.txt 2>/dev/null || echo 'not there'");
    spec.working_dir = data.clone();
    spec.confinement = Some(confinement);
    assert_eq!(run(&spec).await.stdout, ["not there"]);
    // The ruleset the first step was confined with is not reused: its folder changed.
    std::fs::write(root.path().join("late.txt"), "made later").expect("write");
    assert_eq!(run(&spec).await.stdout, ["made later"]);
}
