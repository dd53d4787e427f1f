//! A headless Chromium for tests of the web UI, from Debian's `chromium` package, driven over
//! the Chrome DevTools Protocol (CDP).
//!
//! Start: `/usr/bin/chromium --headless=new` in its own process group with a fresh profile
//! in a temporary directory and `--remote-debugging-port=0`; Chromium writes the port it
//! picked and the browser's websocket path into `<profile>/DevToolsActivePort`, which we poll
//! (bounded) and connect to. Each [`Page`] is a new target with its own websocket.
//!
//! Stop: as for PostgreSQL (`postgres.rs`), a watchdog `sh` in its own process group holds
//! the other end of a pipe only this process writes to. It learns Chromium's pid as its first
//! line. When the [`Browser`] is dropped, we ask Chromium to close (so it reaps its own
//! renderers), kill its process group if it does not exit in time, and then tell the
//! watchdog; if this process dies instead, the kernel closes the pipe. Either way the
//! watchdog sends the group SIGTERM, then SIGKILL to whatever still runs, and deletes the
//! directory. The one gap: a process killed between spawning Chromium and writing its pid
//! (a few instructions) leaves that Chromium running.

mod cdp;
mod page;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::json;

pub use cdp::Event;
pub use page::Page;

/// Debian's launcher script; it reads `/etc/chromium.d` and execs `/usr/lib/chromium/chromium`,
/// so the pid we spawn is the browser's.
const CHROMIUM: &str = "/usr/bin/chromium";

/// How long Chromium may take to write `DevToolsActivePort`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long Chromium may take to exit after `Browser.close` before its group is killed.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often start-up and [`Page::wait_for`] look again.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Stops process group `$pid` (read from stdin) and deletes `$1` once stdin closes.
/// A constant script: the path arrives as an argument, never spliced into the text.
const WATCHDOG: &str = r#"
root=$1
read -r pid
case $pid in *[!0-9]* | '') pid= ;; esac
read -r _ignored
# Whether a member of process group $pid still runs. Zombies do not count: when this
# process died, the init of some containers never reaps Chromium's orphans.
running() {
    for stat in /proc/[0-9]*/stat; do
        { read -r line < "$stat"; } 2>/dev/null || continue
        set -- ${line##*) }
        if [ "$3" = "$pid" ] && [ "$1" != Z ]; then return 0; fi
    done
    return 1
}
if [ -n "$pid" ]; then
    for signal in TERM KILL; do
        running || break
        kill -"$signal" "-$pid" 2>/dev/null
        n=0
        while running && [ "$n" -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
    done
fi
rm -rf "$root"
"#;

/// What went wrong starting or driving Chromium.
#[derive(Debug, thiserror::Error)]
pub enum ChromiumError {
    #[error("chromium is not installed: apt-get install chromium (scripts/test installs it)")]
    NotInstalled,
    #[error("chromium did not start: {reason}\n{log}")]
    Start { reason: String, log: String },
    #[error("chromium did not answer {method} within {timeout:?}")]
    NoResponse { method: String, timeout: Duration },
    #[error("chromium refused {method}: {message}")]
    Protocol { method: String, message: String },
    #[error("chromium sent a message that is not JSON: {0}")]
    InvalidMessage(#[source] serde_json::Error),
    #[error("JavaScript threw: {0}")]
    Js(String),
    #[error("navigating to {url} failed: {error}")]
    Navigation { url: String, error: String },
    #[error("{url} did not finish loading within {timeout:?}")]
    LoadTimeout { url: String, timeout: Duration },
    #[error("timed out after {timeout:?} waiting for `{condition}` on {url}; last result: {last}\npage text: {text}")]
    WaitTimeout { condition: String, timeout: Duration, url: String, last: String, text: String },
    #[error("no element matches {selector:?}")]
    NoElement { selector: String },
    #[error("the element {selector:?} has no size to click on")]
    NotVisible { selector: String },
    #[error("the DevTools websocket: {0}")]
    WebSocket(#[from] Box<tungstenite::Error>),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<tungstenite::Error> for ChromiumError {
    fn from(error: tungstenite::Error) -> Self {
        ChromiumError::WebSocket(Box::new(error))
    }
}

/// A running headless Chromium with its own temporary profile. Dropping it stops Chromium,
/// its renderers and helpers, and deletes the profile; so does the watchdog if the test
/// process dies first.
///
/// ```no_run
/// # fn example() -> Result<(), ferry_testkit::ChromiumError> {
/// let browser = ferry_testkit::Browser::start()?;
/// let mut page = browser.new_page()?;
/// page.goto("http://127.0.0.1:8080/")?;
/// page.click("#login")?;
/// page.wait_for("document.title === 'Runs'", std::time::Duration::from_secs(5))?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Browser {
    port: u16,
    /// The browser target, which creates pages and closes Chromium.
    connection: Mutex<cdp::Connection>,
    process: Process,
}

impl Browser {
    /// Starts Chromium and connects to it.
    ///
    /// # Errors
    /// [`ChromiumError::NotInstalled`] without `/usr/bin/chromium`; [`ChromiumError::Start`]
    /// (with Chromium's output) when it exits or does not write its DevTools port in time.
    pub fn start() -> Result<Browser, ChromiumError> {
        if !Path::new(CHROMIUM).exists() {
            return Err(ChromiumError::NotInstalled);
        }
        let root = tempfile::Builder::new().prefix("ferry-chromium-").tempdir()?.keep();
        let profile = root.join("profile");

        // The watchdog starts before Chromium so that nothing can leave the directory behind.
        let mut watchdog = Command::new("sh")
            .args(["-c", WATCHDOG, "ferry-chromium-watchdog"])
            .arg(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let watchdog_stdin = watchdog.stdin.take().expect("stdin was piped");
        let mut process = Process { chromium: None, watchdog: Some((watchdog, watchdog_stdin)), root };

        let log = std::fs::File::create(process.root.join("chromium.log"))?;
        let chromium = Command::new(CHROMIUM)
            .args([
                "--headless=new",
                // Root in a container: no user namespaces for the sandbox, and a small /dev/shm.
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                "--no-first-run",
                "--no-default-browser-check",
                // Nothing but the pages under test talks to the network.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--disable-breakpad",
                "--password-store=basic",
                "--use-mock-keychain",
                "--mute-audio",
                "--window-size=1280,800",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()?;
        let pid = chromium.id();
        process.chromium = Some(chromium);
        if let Some((_, stdin)) = &mut process.watchdog {
            writeln!(stdin, "{pid}")?;
        }

        let (port, path) = process.devtools_address(&profile)?;
        let connection = cdp::Connection::open(port, &path)?;
        Ok(Browser { port, connection: Mutex::new(connection), process })
    }

    /// Opens a new tab on `about:blank` with the `Page`, `Runtime` and `Network` domains
    /// enabled, so its [`Page::take_events`] include loads, console calls, uncaught
    /// exceptions and requests.
    ///
    /// # Errors
    /// When Chromium refuses or does not answer.
    pub fn new_page(&self) -> Result<Page<'_>, ChromiumError> {
        let target = self.connection().call("Target.createTarget", json!({ "url": "about:blank" }))?;
        let target_id = target.get("targetId").and_then(|id| id.as_str()).ok_or_else(|| ChromiumError::Protocol {
            method: "Target.createTarget".to_owned(),
            message: format!("no targetId in {target}"),
        })?;
        let connection = cdp::Connection::open(self.port, &format!("/devtools/page/{target_id}"))?;
        Page::attach(connection)
    }

    /// Chromium's pid, which is also its process group.
    pub fn pid(&self) -> u32 {
        self.process.chromium.as_ref().map(Child::id).expect("start sets chromium before it returns")
    }

    /// The temporary directory holding the profile and `chromium.log`; deleted on drop.
    pub fn dir(&self) -> &Path {
        &self.process.root
    }

    fn connection(&self) -> std::sync::MutexGuard<'_, cdp::Connection> {
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A clean exit lets Chromium reap its renderers; `Process::drop` kills what is left.
        if self.connection().call("Browser.close", json!({})).is_ok() {
            let deadline = Instant::now() + CLOSE_TIMEOUT;
            if let Some(chromium) = &mut self.process.chromium {
                while matches!(chromium.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(POLL_INTERVAL);
                }
            }
        }
    }
}

/// Chromium and its watchdog; dropping it stops both and deletes `root`.
#[derive(Debug)]
struct Process {
    chromium: Option<Child>,
    watchdog: Option<(Child, ChildStdin)>,
    root: PathBuf,
}

impl Process {
    /// Waits (bounded) for `DevToolsActivePort`: the port on its first line, the browser's
    /// websocket path on its second.
    fn devtools_address(&mut self, profile: &Path) -> Result<(u16, String), ChromiumError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let contents = std::fs::read_to_string(profile.join("DevToolsActivePort")).unwrap_or_default();
            let mut lines = contents.lines();
            if let (Some(Ok(port)), Some(path)) = (lines.next().map(str::parse::<u16>), lines.next()) {
                return Ok((port, path.to_owned()));
            }
            let exited = match &mut self.chromium {
                Some(chromium) => chromium.try_wait()?,
                None => None,
            };
            let reason = match exited {
                Some(status) => format!("it exited with {status}"),
                None if Instant::now() > deadline => format!("no DevToolsActivePort within {START_TIMEOUT:?}"),
                None => {
                    std::thread::sleep(POLL_INTERVAL);
                    continue;
                }
            };
            let log = std::fs::read_to_string(self.root.join("chromium.log")).unwrap_or_default();
            return Err(ChromiumError::Start { reason, log });
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Some(mut chromium) = self.chromium.take() {
            if matches!(chromium.try_wait(), Ok(None)) {
                let _ = rustix::process::kill_process_group(
                    rustix::process::Pid::from_child(&chromium),
                    rustix::process::Signal::KILL,
                );
            }
            let _ = chromium.wait();
        }
        if let Some((mut watchdog, mut stdin)) = self.watchdog.take() {
            // A line (or the closed pipe) wakes the watchdog; then wait until it has cleaned up.
            let _ = stdin.write_all(b"stop\n");
            drop(stdin);
            let _ = watchdog.wait();
        }
    }
}
