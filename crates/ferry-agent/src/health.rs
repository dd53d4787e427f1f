//! Health checks of a replica: `http` (GET the path on `127.0.0.1:$PORT`; a 2xx or 3xx
//! answer passes), `tcp` (a connection is accepted) and `command` (`sh -c` with `$PORT` set
//! exits 0), each within the check's timeout; and the counting that turns checks into a
//! replica's state: `healthy_after` passes in a row make it healthy, `unhealthy_after`
//! failures in a row unhealthy. A replica that never passed stays `starting` while its checks
//! are inconclusive (it may not listen or answer yet; Kubernetes' startup probes work the
//! same), and `start_timeout_ms` judges it; but an answer that says it is unhealthy (an http
//! status other than 2xx or 3xx) counts towards `unhealthy_after` from the first check, so a
//! broken release is rolled back in a few checks rather than at the start timeout.

use std::time::Duration;

use ferry_proto::agent::{HealthSpec, Probe, ReplicaState};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// The most of an answer an http check reads: its status line.
const STATUS_LINE_MAX: usize = 1024;

/// Why a check failed, in words ("GET /healthz answered 500", "no answer within 2000 ms").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The replica did not answer (refused, timed out, no HTTP), or a command failed: a replica
    /// that never passed may simply not be up yet.
    #[error("{0}")]
    Inconclusive(String),
    /// The replica answered, and the answer says it is unhealthy.
    #[error("{0}")]
    Failed(String),
}

/// Runs one check of `probe` against the replica on `port`.
///
/// # Errors
/// Why it failed, and whether that says the replica is unhealthy or only not up yet.
pub async fn check(probe: &Probe, port: u16, timeout: Duration) -> Result<(), CheckError> {
    let attempt = async {
        match probe {
            Probe::Http { path } => check_http(path, port).await,
            Probe::Tcp => TcpStream::connect(("127.0.0.1", port))
                .await
                .map(drop)
                .map_err(|error| CheckError::Inconclusive(format!("connecting to 127.0.0.1:{port}: {error}"))),
            Probe::Command { command } => check_command(command, port).await,
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(res) => res,
        Err(_) => Err(CheckError::Inconclusive(format!("no answer within {} ms", timeout.as_millis()))),
    }
}

async fn check_http(path: &str, port: u16) -> Result<(), CheckError> {
    let no_answer = |what: String| move |error: std::io::Error| CheckError::Inconclusive(format!("{what}: {error}"));
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).await.map_err(no_answer(format!("connecting to 127.0.0.1:{port}")))?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: ferry-agent\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.map_err(no_answer(format!("sending GET {path}")))?;
    let mut head = Vec::with_capacity(128);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|pair| pair == b"\r\n") && head.len() < STATUS_LINE_MAX {
        let n = stream.read(&mut buf).await.map_err(no_answer(format!("reading the answer to GET {path}")))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| CheckError::Inconclusive(format!("GET {path} got no HTTP answer")))?;
    if (200..400).contains(&status) { Ok(()) } else { Err(CheckError::Failed(format!("GET {path} answered {status}"))) }
}

/// Runs a command check; a failure is inconclusive (the replica may not be up yet).
async fn check_command(command: &str, port: u16) -> Result<(), CheckError> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("PORT", port.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| CheckError::Inconclusive(format!("starting `{command}`: {error}")))?;
    // On a timeout this future is dropped: the group goes with it, not only `sh`.
    let group = child.id().and_then(|pid| rustix::process::Pid::from_raw(pid.cast_signed()));
    let _guard = GroupGuard(group);
    let status =
        child.wait().await.map_err(|error| CheckError::Inconclusive(format!("waiting for `{command}`: {error}")))?;
    if status.success() { Ok(()) } else { Err(CheckError::Inconclusive(format!("`{command}` exited with {status}"))) }
}

/// Kills a check command's process group when its check ends, whatever the way.
struct GroupGuard(Option<rustix::process::Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // ESRCH: the group is gone already.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// What the checks of one replica say so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub state: ReplicaState,
    /// Why the last check failed, while the replica is not healthy.
    pub message: Option<String>,
    passes: u32,
    failures: u32,
}

impl Default for Health {
    fn default() -> Self {
        Health { state: ReplicaState::Starting, message: None, passes: 0, failures: 0 }
    }
}

impl Health {
    /// Counts one check's result.
    pub fn record(&mut self, spec: &HealthSpec, res: Result<(), CheckError>) {
        match res {
            Ok(()) => {
                self.passes = self.passes.saturating_add(1);
                self.failures = 0;
                if self.passes >= spec.healthy_after.max(1) {
                    self.state = ReplicaState::Healthy;
                    self.message = None;
                }
            }
            Err(error) => {
                // A replica that never passed and gave no answer is still starting: only
                // `start_timeout_ms` ends that. An unhealthy answer counts from the first.
                let counts = self.state != ReplicaState::Starting || matches!(error, CheckError::Failed(_));
                self.failures = if counts { self.failures.saturating_add(1) } else { 0 };
                self.passes = 0;
                if counts && self.failures >= spec.unhealthy_after.max(1) {
                    self.state = ReplicaState::Unhealthy;
                }
                self.message = Some(error.to_string());
            }
        }
    }
}

/// Checks the replica on `port` every `interval_ms` until the receiver is gone, publishing
/// its [`Health`] after each check.
pub async fn watch_replica(spec: HealthSpec, port: u16, health: watch::Sender<Health>) {
    let interval = Duration::from_millis(spec.interval_ms.max(100));
    let timeout = Duration::from_millis(spec.timeout_ms.max(100));
    loop {
        let res = check(&spec.probe, port, timeout).await;
        health.send_if_modified(|health| {
            let before = health.clone();
            health.record(&spec, res);
            *health != before
        });
        if health.is_closed() {
            return;
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests;
