//! Runs a command inside a running container (`docker exec`) the way [`crate::process`] runs
//! one on the host: output line by line to an [`Output`], a timeout, cancel, and an exit
//! code.
//!
//! The command is started with a pid file ([`ferry_docker::ExecRequest::pid_file`]), so a
//! timeout or cancel sends SIGTERM to it ([`Engine::signal_exec`]), and SIGKILL after the grace
//! period. Whatever is left when the job ends goes with its container.

use std::io;
use std::time::Duration;

use ferry_docker::{DockerError, ExecRequest, LogOutput};
use futures_util::StreamExt as _;
use tokio::sync::watch;
use tokio::time::Instant;

use super::Engine;
use crate::events::EventSender;
use crate::process::{DRAIN_LIMIT, MAX_LINE, Output, ProcessExit, Stream};

/// What to run in a container.
#[derive(Debug, Clone)]
pub struct ExecSpec {
    pub container: String,
    /// The command and its arguments (a program on the container's `PATH`, or a path in it).
    pub cmd: Vec<String>,
    /// `NAME=value`, on top of the container's own environment.
    pub env: Vec<String>,
    /// A directory in the container.
    pub working_dir: String,
    pub user: Option<String>,
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL on timeout or cancel.
    pub kill_grace: Duration,
    /// A file in the container the command's pid is written to, for signalling it.
    pub pid_file: String,
}

/// How often a command whose output stays open is checked for having exited (its pipes may be
/// held by something it left running).
const EXITED_CHECK: Duration = Duration::from_secs(1);

/// Runs `spec` to its end, delivering its output to `output` as [`crate::process::run_process`]
/// does (`backpressure` likewise).
///
/// # Errors
/// The engine refused to run the command, or the connection broke.
pub async fn run_exec(
    engine: &Engine,
    spec: &ExecSpec,
    cancel: &mut watch::Receiver<bool>,
    output: &mut dyn Output,
    backpressure: Option<&EventSender>,
) -> io::Result<ProcessExit> {
    if *cancel.borrow_and_update() {
        return Ok(ProcessExit { code: None, signal: None, timed_out: false, cancelled: true, group: None });
    }
    let request = ExecRequest {
        cmd: spec.cmd.clone(),
        env: spec.env.clone(),
        working_dir: Some(spec.working_dir.clone()),
        user: spec.user.clone(),
        pid_file: Some(spec.pid_file.clone()),
    };
    let started = engine.exec_attached(&spec.container, &request, MAX_LINE).await.map_err(io::Error::other)?;
    let mut stream = started.output;

    let mut stdout = Lines::default();
    let mut stderr = Lines::default();
    let mut deadline = spec.timeout.map(|timeout| Instant::now() + timeout);
    let mut kill_at: Option<Instant> = None;
    let mut drain_until: Option<Instant> = None;
    let (mut timed_out, mut cancelled) = (false, false);
    let mut watch_cancel = true;
    let mut check = tokio::time::interval(EXITED_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if let Some(events) = backpressure
            && !events.is_writable()
        {
            events.writable().await;
        }
        let next_timer = [deadline, kill_at, drain_until].into_iter().flatten().min();
        tokio::select! {
            chunk = stream.next() => {
                if !forward(chunk, [&mut stdout, &mut stderr], output)? {
                    break;
                }
            }
            changed = cancel.changed(), if watch_cancel && !cancelled && !timed_out => match changed {
                Ok(()) if *cancel.borrow_and_update() => {
                    cancelled = true;
                    signal(engine, spec, "TERM").await;
                    kill_at = Some(Instant::now() + spec.kill_grace);
                }
                Ok(()) => {}
                Err(_) => watch_cancel = false,
            },
            () = sleep_until(next_timer) => {
                let now = Instant::now();
                if drain_until.is_some_and(|until| until <= now) {
                    tracing::warn!(container = %spec.container, "step output still open {DRAIN_LIMIT:?} after the step ended; no longer reading it");
                    break;
                }
                if kill_at.is_some_and(|at| at <= now) {
                    signal(engine, spec, "KILL").await;
                    kill_at = None;
                }
                if deadline.is_some_and(|at| at <= now) {
                    deadline = None;
                    timed_out = true;
                    signal(engine, spec, "TERM").await;
                    kill_at = Some(now + spec.kill_grace);
                }
            }
            _ = check.tick(), if drain_until.is_none() => {
                if let Ok(status) = engine.exec_status(&started.id).await
                    && !status.running
                {
                    drain_until = Some(Instant::now() + DRAIN_LIMIT);
                }
            }
        }
    }
    stdout.finish(Stream::Stdout, output);
    stderr.finish(Stream::Stderr, output);
    output.flush();
    let status = engine
        .exec_status(&started.id)
        .await
        .map_err(|error| io::Error::other(format!("asking how `{}` ended: {error}", spec.cmd.join(" "))))?;
    let code = status.exit_code.and_then(|code| i32::try_from(code).ok());
    // A shell reports a process killed by signal N as 128 + N.
    let signal = code.filter(|code| (cancelled || timed_out) && *code > 128).map(|code| code - 128);
    Ok(ProcessExit { code: if signal.is_some() { None } else { code }, signal, timed_out, cancelled, group: None })
}

/// Passes one chunk of a stream of output on to `output`, line by line; `false` at the end of
/// the stream.
fn forward(
    chunk: Option<Result<LogOutput, DockerError>>,
    [stdout, stderr]: [&mut Lines; 2],
    output: &mut dyn Output,
) -> io::Result<bool> {
    match chunk {
        Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => {
            stdout.push(&message, Stream::Stdout, output);
            output.flush();
        }
        Some(Ok(LogOutput::StdErr { message })) => {
            stderr.push(&message, Stream::Stderr, output);
            output.flush();
        }
        Some(Ok(LogOutput::StdIn { .. })) => {}
        Some(Err(error)) => return Err(io::Error::other(error)),
        None => return Ok(false),
    }
    Ok(true)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Sends SIGTERM or SIGKILL to the command whose pid is in the spec's pid file.
async fn signal(engine: &Engine, spec: &ExecSpec, signal: &str) {
    if let Err(error) = engine.signal_exec(&spec.container, &spec.pid_file, signal).await {
        tracing::warn!(container = %spec.container, %error, "could not signal a step's process in its container");
    }
}

/// One stream's bytes on their way to whole lines.
#[derive(Default)]
struct Lines {
    buffer: Vec<u8>,
}

impl Lines {
    fn push(&mut self, bytes: &[u8], stream: Stream, output: &mut dyn Output) {
        self.buffer.extend_from_slice(bytes);
        if let Some(last_newline) = memchr::memrchr(b'\n', &self.buffer) {
            let text = String::from_utf8_lossy(&self.buffer[..last_newline]).into_owned();
            output.lines(stream, &text);
            self.buffer.drain(..=last_newline);
        }
        while self.buffer.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while cut > 0 && std::str::from_utf8(&self.buffer[..cut]).is_err() {
                cut -= 1;
            }
            let cut = if cut == 0 { MAX_LINE } else { cut };
            let piece = String::from_utf8_lossy(&self.buffer[..cut]).into_owned();
            output.piece(stream, &piece);
            self.buffer.drain(..cut);
        }
    }

    fn finish(&mut self, stream: Stream, output: &mut dyn Output) {
        if !self.buffer.is_empty() {
            let text = String::from_utf8_lossy(&self.buffer).into_owned();
            output.line(stream, text.strip_suffix('\r').unwrap_or(&text));
            self.buffer.clear();
        }
    }
}

/// Creates `spec`'s container, runs it to its end with its output to `output` (as
/// [`run_exec`] does), and removes it. A timeout or cancel stops it (SIGTERM, SIGKILL after
/// `kill_grace`).
///
/// # Errors
/// The engine refused to create or run it, or the connection broke.
pub async fn run_container(
    engine: &Engine,
    spec: &super::ContainerSpec,
    timeout: Option<Duration>,
    kill_grace: Duration,
    cancel: &mut watch::Receiver<bool>,
    output: &mut dyn Output,
    backpressure: Option<&EventSender>,
) -> io::Result<ProcessExit> {
    if *cancel.borrow_and_update() {
        return Ok(ProcessExit { code: None, signal: None, timed_out: false, cancelled: true, group: None });
    }
    let id = engine.start_container(spec).await.map_err(io::Error::other)?;
    let res = follow_container(engine, &id, timeout, kill_grace, cancel, output, backpressure).await;
    if let Err(error) = engine.remove_container(&id).await {
        tracing::warn!(%error, "removing the container of a Docker action: {error}");
    }
    res
}

async fn follow_container(
    engine: &Engine,
    id: &str,
    timeout: Option<Duration>,
    kill_grace: Duration,
    cancel: &mut watch::Receiver<bool>,
    output: &mut dyn Output,
    backpressure: Option<&EventSender>,
) -> io::Result<ProcessExit> {
    let mut stream = engine.follow_logs(id, 0);
    let mut stdout = Lines::default();
    let mut stderr = Lines::default();
    let mut deadline = timeout.map(|timeout| Instant::now() + timeout);
    let (mut timed_out, mut cancelled) = (false, false);
    let mut watch_cancel = true;
    let stop = |id: &str| {
        let id = id.to_owned();
        let engine = engine.clone();
        // Stopping waits out the grace period; the logs keep being read meanwhile.
        tokio::spawn(async move {
            if let Err(error) = engine.stop_container(&id, kill_grace).await {
                tracing::warn!(%error, "stopping the container of a Docker action: {error}");
            }
        })
    };
    loop {
        if let Some(events) = backpressure
            && !events.is_writable()
        {
            events.writable().await;
        }
        tokio::select! {
            chunk = stream.next() => {
                if !forward(chunk, [&mut stdout, &mut stderr], output)? {
                    break;
                }
            }
            changed = cancel.changed(), if watch_cancel && !cancelled && !timed_out => match changed {
                Ok(()) if *cancel.borrow_and_update() => {
                    cancelled = true;
                    stop(id);
                }
                Ok(()) => {}
                Err(_) => watch_cancel = false,
            },
            () = sleep_until(deadline) => {
                deadline = None;
                timed_out = true;
                stop(id);
            }
        }
    }
    stdout.finish(Stream::Stdout, output);
    stderr.finish(Stream::Stderr, output);
    output.flush();
    let code = engine
        .wait_container(id)
        .await
        .map_err(|error| io::Error::other(format!("waiting for the container: {error}")))?
        .code;
    let code = i32::try_from(code).unwrap_or(i32::MAX);
    let signal = (cancelled || timed_out).then_some(code).filter(|code| *code > 128).map(|code| code - 128);
    Ok(ProcessExit {
        code: if signal.is_some() { None } else { Some(code) },
        signal,
        timed_out,
        cancelled,
        group: None,
    })
}
