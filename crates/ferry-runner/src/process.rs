//! Runs one step's process: its own process group, output line by line, timeout and cancel.
//!
//! One task does everything: it reads stdout and stderr, waits for the process and watches the
//! timeout and the cancel signal in a single `select!` loop, so a step costs one spawn and no
//! extra threads, timers or polling (a timer exists only while a timeout or grace is pending).
//! The runtime must have IO and time enabled.
//!
//! The process leads a new process group. On timeout or cancel the whole group gets SIGTERM, and
//! SIGKILL once `kill_grace` has passed. When the leader exits, whatever is left of its group
//! (background jobs such as `sleep 1000 &`) is killed with SIGKILL, as GitHub's runner cleans up
//! orphans. Output already in the pipes is still read; a process that left the group (`setsid`)
//! but holds a pipe open cannot delay the end for more than [`DRAIN_LIMIT`]. Should this process
//! die without killing a group (SIGKILL), the [`watchdog`] kills it.
//!
//! The process starts from a cleared environment: [`ProcessSpec::env`] is all it gets (see
//! [`crate::isolation`]). With [`ProcessSpec::confinement`] it is spawned from a fresh thread
//! that first restricts itself with that Landlock ruleset, so the process inherits it.

use std::ffi::OsStr;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rustix::process::{Pid, Signal, kill_process_group};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep, sleep_until};

use crate::events::EventSender;
use crate::isolation::Confinement;

mod watchdog;

/// Where a step's output lines go: [`Output::line`] for each, then [`Output::flush`] after
/// the lines of each read of the pipes, so a consumer can pass lines on in bulk. Any
/// `FnMut(Stream, &str)` closure is an `Output` that needs no flush.
pub trait Output: Send {
    fn line(&mut self, stream: Stream, line: &str);
    /// Several whole lines at once: `text` is lines joined by `\n`, without the last one's,
    /// each of them possibly ending in `\r`. By default, [`Output::line`] for each line without
    /// its `\r`; a consumer that passes most lines on untouched can take them in one piece.
    fn lines(&mut self, stream: Stream, text: &str) {
        for line in split_lines(text) {
            self.line(stream, line.strip_suffix('\r').unwrap_or(line));
        }
    }
    /// A piece of a line longer than [`MAX_LINE`] whose rest is still to come: the next call
    /// of [`Output::line`] or [`Output::lines`] for `stream` (possibly with an empty first
    /// line) ends it. By default, a line of its own.
    fn piece(&mut self, stream: Stream, piece: &str) {
        self.line(stream, piece);
    }
    /// The lines delivered since the last flush are all there is for now.
    fn flush(&mut self) {}
}

impl<F: FnMut(Stream, &str) + Send> Output for F {
    fn line(&mut self, stream: Stream, line: &str) {
        self(stream, line);
    }
}

/// Output lines longer than this reach [`Output::line`] in pieces of at most this many bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// A pipe's first buffer; most steps' lines fit.
const INITIAL_BUFFER: usize = 8 * 1024;

/// The most a pipe is read at once, once a step prints faster than it is read. Larger reads
/// were slower: each read's text is one allocation, and glibc maps (and the kernel zeroes) every
/// one above 128 KiB afresh.
const READ_LIMIT: usize = 64 << 10;

/// The size a step's pipes are made (where the system allows it): a step that prints a lot
/// then writes on while the runner is busy, instead of waking it for every 64 KiB.
const PIPE_SIZE: usize = 1 << 20;

/// How long output is still read after the process and its group are gone, for pipes held open
/// by processes that escaped the group.
pub const DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// What to run and how.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    pub working_dir: PathBuf,
    /// The process's whole environment (nothing of this process's is inherited); a later
    /// entry for the same name wins.
    pub env: Vec<(String, String)>,
    /// The Landlock ruleset the process is confined to, if any.
    pub confinement: Option<Arc<Confinement>>,
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL on timeout or cancel.
    pub kill_grace: Duration,
    /// Whether processes the step left running in its group (`./server &`) outlive it, as on
    /// GitHub, where they live until the job ends; the caller then kills the group with
    /// [`kill_group`]. Otherwise they are killed as soon as the step's process exits.
    pub keep_background: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessExit {
    /// The exit code, when the process exited by itself.
    pub code: Option<i32>,
    /// The signal that ended the process, when one did.
    pub signal: Option<i32>,
    /// The timeout passed and the process was terminated.
    pub timed_out: bool,
    /// Cancel was requested and the process was terminated (or never started, when cancel was
    /// already requested; then `code` and `signal` are `None`).
    pub cancelled: bool,
    /// With [`ProcessSpec::keep_background`], the process group the caller must kill later.
    pub group: Option<i32>,
}

impl ProcessExit {
    /// Exit code 0, neither timed out nor cancelled.
    #[must_use]
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out && !self.cancelled
    }
}

/// Runs `spec` to its end and delivers each output line to `output`.
///
/// stdin is `/dev/null`. Lines are lossy UTF-8 without their `\n` (nor a `\r` before it); a
/// last line without a newline is delivered too, and a line longer than [`MAX_LINE`] arrives in
/// pieces (never splitting a UTF-8 character). Lines of one stream arrive in order; stdout and
/// stderr are read concurrently, so their relative order is only as good as the timing.
///
/// `cancel` turning `true` terminates the process like a timeout; a dropped sender never cancels.
/// Dropping the returned future kills the process group.
///
/// With `backpressure`, the pipes are read only while that channel is writable: lines go to
/// `output` no faster than the channel's receiver takes them, and a step that prints faster
/// waits in its writes (see [`crate::events`]).
///
/// # Errors
/// The process could not be started (the message names the program and working directory), or
/// reading its output or waiting for it failed.
pub async fn run_process(
    spec: &ProcessSpec,
    cancel: &mut watch::Receiver<bool>,
    output: &mut dyn Output,
    backpressure: Option<&EventSender>,
) -> io::Result<ProcessExit> {
    if *cancel.borrow_and_update() {
        return Ok(ProcessExit { code: None, signal: None, timed_out: false, cancelled: true, group: None });
    }
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .current_dir(&spec.working_dir)
        .env_clear()
        .envs(spec.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // Only matters if this function fails before the group guard exists.
        .kill_on_drop(true);
    let spawned = match &spec.confinement {
        None => command.spawn(),
        Some(confinement) => spawn_confined(command, confinement.clone()).await,
    };
    let mut child = spawned.map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot start `{}` in {}: {error}", spec.program, spec.working_dir.display()),
        )
    })?;
    let group = child.id().and_then(|id| i32::try_from(id).ok()).and_then(Pid::from_raw).map(GroupGuard::new);
    let (Some(mut group), Some(stdout), Some(stderr)) = (group, child.stdout.take(), child.stderr.take()) else {
        return Err(io::Error::other("spawned process has no pid or pipes"));
    };
    tracing::debug!(pid = group.pgid.as_raw_nonzero(), program = %spec.program, "started step process");

    for pipe in [stdout.as_fd(), stderr.as_fd()] {
        // Only a larger buffer: the pipe keeps the size it has when the system says no.
        let _ = rustix::pipe::fcntl_setpipe_size(pipe, PIPE_SIZE);
    }
    let mut stdout = Pipe::new(stdout);
    let mut stderr = Pipe::new(stderr);
    let mut status: Option<ExitStatus> = None;
    let mut phase = Phase::Running;
    let mut timer: Option<Pin<Box<Sleep>>> =
        spec.timeout.map(|timeout| Box::pin(sleep_until(Instant::now() + timeout)));
    let mut watch_cancel = true;
    let (mut timed_out, mut cancelled) = (false, false);

    while stdout.open || stderr.open || status.is_none() {
        let writable = backpressure.is_none_or(EventSender::is_writable);
        tokio::select! {
            read = stdout.read(), if stdout.open && writable => stdout.deliver(read?, Stream::Stdout, output),
            read = stderr.read(), if stderr.open && writable => stderr.deliver(read?, Stream::Stderr, output),
            () = caught_up(backpressure), if !writable => {}
            exit = child.wait(), if status.is_none() => {
                status = Some(exit?);
                // Orphans of the step die with it (their pipes then close and reading ends),
                // unless they are to live on; then reading stops after DRAIN_LIMIT.
                if spec.keep_background && !timed_out && !cancelled {
                    group.release();
                } else {
                    group.disarm();
                }
                phase = Phase::Draining;
                arm(&mut timer, DRAIN_LIMIT);
            }
            changed = cancel.changed(), if watch_cancel && phase == Phase::Running => match changed {
                Ok(()) if *cancel.borrow_and_update() => {
                    cancelled = true;
                    phase = Phase::Terminating;
                    group.terminate(spec.kill_grace);
                    arm(&mut timer, spec.kill_grace);
                }
                Ok(()) => {}
                Err(_) => watch_cancel = false,
            },
            () = wait(&mut timer) => match phase {
                Phase::Running => {
                    tracing::debug!(pid = group.pgid.as_raw_nonzero(), "step process timed out");
                    timed_out = true;
                    phase = Phase::Terminating;
                    group.terminate(spec.kill_grace);
                    arm(&mut timer, spec.kill_grace);
                }
                Phase::Terminating => {
                    group.signal(Signal::KILL);
                    timer = None;
                }
                // Output waiting for the channel is not output held open by an escaped process.
                Phase::Draining if !writable => arm(&mut timer, DRAIN_LIMIT),
                Phase::Draining => {
                    tracing::warn!(
                        program = %spec.program,
                        "step output still open {DRAIN_LIMIT:?} after the step ended (a process left its group?); \
                         no longer reading it"
                    );
                    break;
                }
            },
        }
    }
    stdout.finish(Stream::Stdout, output);
    stderr.finish(Stream::Stderr, output);
    let status = status.expect("the loop runs until the process has exited");
    let group = (!group.armed && group.released).then(|| group.pgid.as_raw_nonzero().get());
    Ok(ProcessExit { code: status.code(), signal: status.signal(), timed_out, cancelled, group })
}

/// Spawns `command` from a fresh thread confined to `confinement`: the process inherits the
/// thread's Landlock domain, and the thread ends with it, leaving the rest of this process
/// unrestricted (Landlock restricts a thread, and its domain can never be lifted).
async fn spawn_confined(
    mut command: tokio::process::Command,
    confinement: Arc<Confinement>,
) -> io::Result<tokio::process::Child> {
    let runtime = tokio::runtime::Handle::current();
    let (spawned_tx, spawned) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name("ferry-confined-spawn".to_owned()).spawn(move || {
        // The child's pipes and exit are registered with the runtime.
        let _runtime = runtime.enter();
        let _ = spawned_tx.send(confinement.restrict_current_thread().and_then(|()| command.spawn()));
    })?;
    spawned.await.map_err(|_| io::Error::other("the thread starting the confined step ended early"))?
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The timer, if any, is the timeout.
    Running,
    /// SIGTERM sent; the timer, if any, is the SIGKILL deadline.
    Terminating,
    /// The process has exited; the timer bounds reading what is left in the pipes.
    Draining,
}

/// Sets the timer to fire `after` from now, reusing its allocation when there is one.
fn arm(timer: &mut Option<Pin<Box<Sleep>>>, after: Duration) {
    let deadline = Instant::now() + after;
    match timer {
        Some(sleep) => sleep.as_mut().reset(deadline),
        None => *timer = Some(Box::pin(sleep_until(deadline))),
    }
}

async fn caught_up(backpressure: Option<&EventSender>) {
    match backpressure {
        Some(events) => events.writable().await,
        None => std::future::pending().await,
    }
}

async fn wait(timer: &mut Option<Pin<Box<Sleep>>>) {
    match timer {
        Some(sleep) => sleep.as_mut().await,
        None => std::future::pending().await,
    }
}

/// The step's process group; killed with SIGKILL when dropped, so an abandoned step leaves no
/// processes behind.
///
/// The group is signalled once more right after its leader has been reaped ([`GroupGuard::disarm`]):
/// its id cannot be reused while any member lives, and a new process would have to make itself
/// leader of a new group with exactly that id in between for the signal to go astray.
struct GroupGuard {
    pgid: Pid,
    armed: bool,
    /// Left alive on purpose; the caller kills it later.
    released: bool,
}

impl GroupGuard {
    /// Also has the [`watchdog`] guard the group until it is killed.
    fn new(pid: Pid) -> Self {
        watchdog::guard(pid.as_raw_nonzero().get());
        Self { pgid: pid, armed: true, released: false }
    }

    /// Leaves what is left of the group alive; the caller kills it with [`kill_group`].
    fn release(&mut self) {
        self.armed = false;
        self.released = true;
    }

    /// Kills what is left of the group now and not again on drop.
    fn disarm(&mut self) {
        if self.armed {
            self.signal(Signal::KILL);
            watchdog::release(self.pgid.as_raw_nonzero().get());
            self.armed = false;
        }
    }

    fn signal(&self, signal: Signal) {
        if let Err(error) = kill_process_group(self.pgid, signal) {
            // ESRCH: every process of the group is gone already.
            if error != rustix::io::Errno::SRCH {
                tracing::warn!(pgid = self.pgid.as_raw_nonzero(), %error, ?signal, "cannot signal step process group");
            }
        }
    }

    /// Sends SIGTERM, or SIGKILL at once when there is no grace.
    fn terminate(&self, grace: Duration) {
        self.signal(if grace.is_zero() { Signal::KILL } else { Signal::TERM });
    }
}

/// Kills what is left of a process group a step left running (see
/// [`ProcessSpec::keep_background`]). A group that is already gone is not an error.
pub fn kill_group(pgid: i32) {
    if let Some(pid) = Pid::from_raw(pgid) {
        GroupGuard { pgid: pid, armed: false, released: false }.signal(Signal::KILL);
        watchdog::release(pgid);
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// One output pipe and its unfinished line.
struct Pipe<R> {
    reader: R,
    buf: Vec<u8>,
    len: usize,
    open: bool,
    /// Pieces of the unfinished line went out already, so its end must too, even empty.
    in_pieces: bool,
}

impl<R: AsyncRead + Unpin> Pipe<R> {
    fn new(reader: R) -> Self {
        Self { reader, buf: Vec::new(), len: 0, open: true, in_pieces: false }
    }

    /// Reads more output; cancel-safe, as `select!` needs.
    async fn read(&mut self) -> io::Result<usize> {
        self.spare();
        self.reader.read(&mut self.buf[self.len..]).await
    }

    /// Room after the unfinished line, never empty: the buffer starts small and doubles while a
    /// line does not fit (`deliver` never leaves an unfinished line of [`MAX_LINE`] behind, and
    /// grows the buffer to [`READ_LIMIT`] at once when a read filled it).
    fn spare(&mut self) -> &mut [u8] {
        if self.len == self.buf.len() {
            let size = (self.buf.len() * 2).clamp(INITIAL_BUFFER, READ_LIMIT);
            self.buf.resize(size, 0);
        }
        &mut self.buf[self.len..]
    }

    fn deliver(&mut self, n_read: usize, stream: Stream, output: &mut dyn Output) {
        if n_read == 0 {
            self.open = false;
            return;
        }
        if self.len + n_read == self.buf.len() && self.buf.len() < READ_LIMIT {
            // The read filled the buffer: output is flowing, so read more at a time (fewer
            // reads and wake-ups for a step that prints a lot).
            self.buf.resize(READ_LIMIT, 0);
        }
        let searched = self.len;
        self.len += n_read;
        let mut line_start = 0;
        if let Some(last_newline) = memchr::memrchr(b'\n', &self.buf[searched..self.len]) {
            let lines_end = searched + last_newline;
            // One check of the whole read instead of one per line: most output is UTF-8.
            match std::str::from_utf8(&self.buf[..lines_end]) {
                Ok(text) => output.lines(stream, text),
                Err(_) => {
                    for line in self.buf[..lines_end].split(|&byte| byte == b'\n') {
                        emit(line.strip_suffix(b"\r").unwrap_or(line), stream, output);
                    }
                }
            }
            line_start = lines_end + 1;
            self.in_pieces = false;
        }
        // An unfinished line that has grown to MAX_LINE goes out in pieces.
        while self.len - line_start >= MAX_LINE {
            let piece_end = line_start + chunk_end(&self.buf[line_start..line_start + MAX_LINE]);
            output.piece(stream, &String::from_utf8_lossy(&self.buf[line_start..piece_end]));
            line_start = piece_end;
            self.in_pieces = true;
        }
        output.flush();
        self.buf.copy_within(line_start..self.len, 0);
        self.len -= line_start;
    }

    /// Delivers a last line that had no newline.
    fn finish(&mut self, stream: Stream, output: &mut dyn Output) {
        if self.len > 0 || self.in_pieces {
            emit(&self.buf[..self.len], stream, output);
            self.len = 0;
            self.in_pieces = false;
            output.flush();
        }
    }
}

/// The lines of `text`, split at each `\n` (a text without one is one line): memchr's line
/// ends, as lines are short and std's `split` pays per line.
pub fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', text.as_bytes()).chain([text.len()]).map(move |end| {
        let line = &text[start..end];
        start = end + 1;
        line
    })
}

fn emit(line: &[u8], stream: Stream, output: &mut dyn Output) {
    output.line(stream, &String::from_utf8_lossy(line));
}

/// Where to cut a full buffer so no UTF-8 character is split: before a trailing incomplete
/// sequence, else at the end.
fn chunk_end(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(3) {
        let byte = bytes[len - back];
        if byte & 0xC0 == 0x80 {
            continue;
        }
        let width = match byte {
            0xF0.. => 4,
            0xE0.. => 3,
            0xC0.. => 2,
            _ => 1,
        };
        return if width > back && back < len { len - back } else { len };
    }
    len
}

/// Whether `program` can be run: a path to an executable file, or a name found in `path` (a
/// `PATH` value; the step's, which may differ from this process's).
#[must_use]
pub fn on_path(program: &str, path: Option<&OsStr>) -> bool {
    let is_executable = |file: &Path| {
        file.metadata().is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        return is_executable(Path::new(program));
    }
    path.is_some_and(|path| std::env::split_paths(path).any(|dir| is_executable(&dir.join(program))))
}

#[cfg(test)]
mod tests;
