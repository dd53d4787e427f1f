//! Health checks against real listeners on loopback, and their counting.

use ferry_proto::agent::{HealthSpec, Probe, ReplicaState};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::*;

/// A listener answering every connection with `status`; its port.
async fn answering(status: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("an answer");
    let port = listener.local_addr().expect("local_addr").port();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    port
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("local_addr").port()
}

const SECOND: Duration = Duration::from_secs(5);

#[tokio::test]
async fn http_passes_on_2xx_and_3xx_and_fails_on_5xx_or_no_listener() {
    let http = Probe::Http { path: "/healthz".into() };
    check(&http, answering(200).await, SECOND).await.expect("an answer");
    check(&http, answering(302).await, SECOND).await.expect("an answer");
    let err = check(&http, answering(500).await, SECOND).await.expect_err("it fails");
    assert_eq!(err, CheckError::Failed("GET /healthz answered 500".into()));
    let err = check(&http, closed_port(), SECOND).await.expect_err("it fails");
    assert!(
        matches!(&err, CheckError::Inconclusive(message) if message.starts_with("connecting to 127.0.0.1:")),
        "{err:?}"
    );
}

#[tokio::test]
async fn tcp_and_command_checks() {
    check(&Probe::Tcp, answering(200).await, SECOND).await.expect("an answer");
    check(&Probe::Tcp, closed_port(), SECOND).await.expect_err("it fails");
    check(&Probe::Command { command: "test \"$PORT\" = 4321".into() }, 4321, SECOND).await.expect("an answer");
    let err = check(&Probe::Command { command: "exit 3".into() }, 4321, SECOND).await.expect_err("it fails");
    assert!(matches!(&err, CheckError::Inconclusive(message) if message.contains("exit status: 3")), "{err:?}");
}

#[tokio::test]
async fn a_command_over_its_timeout_fails_and_its_group_is_killed() {
    let temp = tempfile::tempdir().expect("tempdir");
    let marker = temp.path().join("pid");
    let command = format!("sleep 30 & echo $! > {}; wait", marker.display());
    let err = check(&Probe::Command { command }, 1, Duration::from_millis(500)).await.expect_err("it fails");
    assert_eq!(err, CheckError::Inconclusive("no answer within 500 ms".into()));
    let pid: i32 = std::fs::read_to_string(&marker).expect("read_to_string").trim().parse().expect("parse");
    let pid = rustix::process::Pid::from_raw(pid).expect("from_raw");
    // The killed `sleep` is gone or a zombie about to be reaped by init; poll with a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rustix::process::test_kill_process(pid).is_ok()
        && !std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero()))
            .is_ok_and(|stat| stat.contains(") Z "))
    {
        assert!(std::time::Instant::now() < deadline, "the check's `sleep` outlived its timeout");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn healthy_after_passes_in_a_row_unhealthy_after_failures_in_a_row() {
    let spec = HealthSpec {
        probe: Probe::Tcp,
        interval_ms: 1000,
        timeout_ms: 1000,
        healthy_after: 2,
        unhealthy_after: 3,
        start_timeout_ms: 60_000,
    };
    let mut health = Health::default();
    for _ in 0..5 {
        health.record(&spec, Err(CheckError::Inconclusive("connection refused".into())));
    }
    assert_eq!(health.state, ReplicaState::Starting, "not yet listening is still starting");
    health.record(&spec, Ok(()));
    assert_eq!(health.state, ReplicaState::Starting);
    health.record(&spec, Ok(()));
    assert_eq!(health.state, ReplicaState::Healthy);
    health.record(&spec, Err(CheckError::Inconclusive("down".into())));
    health.record(&spec, Err(CheckError::Failed("down".into())));
    assert_eq!(health.state, ReplicaState::Healthy, "two failures are not three");
    health.record(&spec, Err(CheckError::Inconclusive("still down".into())));
    assert_eq!(health.state, ReplicaState::Unhealthy);
    assert_eq!(health.message.as_deref(), Some("still down"));
    health.record(&spec, Ok(()));
    assert_eq!(health.state, ReplicaState::Unhealthy, "one pass is not two");
    health.record(&spec, Ok(()));
    assert_eq!(health.state, ReplicaState::Healthy);
    assert_eq!(health.message, None);
}

#[test]
fn a_starting_replica_that_answers_unhealthy_is_unhealthy_after_that_many_answers() {
    let spec = HealthSpec {
        probe: Probe::Http { path: "/healthz".into() },
        interval_ms: 1000,
        timeout_ms: 1000,
        healthy_after: 2,
        unhealthy_after: 3,
        start_timeout_ms: 60_000,
    };
    let mut health = Health::default();
    health.record(&spec, Err(CheckError::Failed("GET /healthz answered 500".into())));
    health.record(&spec, Err(CheckError::Failed("GET /healthz answered 500".into())));
    health.record(&spec, Err(CheckError::Inconclusive("connection refused".into())));
    assert_eq!(health.state, ReplicaState::Starting, "a refusal between answers starts the count again");
    for _ in 0..2 {
        health.record(&spec, Err(CheckError::Failed("GET /healthz answered 503".into())));
    }
    assert_eq!(health.state, ReplicaState::Starting, "two unhealthy answers are not three");
    health.record(&spec, Err(CheckError::Failed("GET /healthz answered 503".into())));
    assert_eq!(health.state, ReplicaState::Unhealthy);
    assert_eq!(health.message.as_deref(), Some("GET /healthz answered 503"));
}
