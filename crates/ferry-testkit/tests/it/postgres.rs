//! The PostgreSQL `TestDb` starts, isolates databases and leaves no server behind, whether
//! its users drop it or the process dies.

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::TestDb;

/// Set in a child copy of this binary that starts PostgreSQL, prints the URL and aborts.
const ABORT_CHILD: &str = "FERRY_TESTKIT_ABORT_CHILD";

fn port_of(url: &str) -> u16 {
    let after_host = url.split("127.0.0.1:").nth(1).expect("a loopback URL");
    after_host.split('/').next().and_then(|port| port.parse().ok()).expect("a port in the URL")
}

fn accepts_connections(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Waits (bounded) until nothing listens on `port` any more.
fn wait_until_closed(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if !accepts_connections(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[tokio::test]
async fn postgres_databases_share_a_server_that_stops_with_its_last_user() {
    let first = TestDb::postgres();
    let second = TestDb::postgres();
    assert_ne!(first.url(), second.url(), "each TestDb has its own database");
    let port = port_of(first.url());
    assert_eq!(port_of(second.url()), port, "one server per process");

    let store = first.open().await;
    let project = ferry_store::NewProject { name: "web", repo: "r", branch: "main", webhook_secret: "s" };
    store.projects().create(&project, 1).await.expect("create");
    let other = second.open().await;
    assert_eq!(other.projects().list().await.expect("list"), [], "databases are isolated");
    store.close().await;
    other.close().await;

    drop(first);
    assert!(accepts_connections(port), "still in use by the second TestDb");
    drop(second);
    assert!(!accepts_connections(port), "stopped when the last TestDb was dropped");
}

#[test]
fn postgres_is_stopped_when_the_process_dies() {
    if std::env::var_os(ABORT_CHILD).is_some() {
        let db = TestDb::postgres();
        println!("{}", db.url());
        std::process::abort();
    }
    let exe = std::env::current_exe().expect("the test binary");
    let output = Command::new(exe)
        .args(["--exact", "postgres::postgres_is_stopped_when_the_process_dies", "--nocapture"])
        .env(ABORT_CHILD, "1")
        .stderr(Stdio::null())
        .output()
        .expect("running the child");
    assert!(!output.status.success(), "the child aborts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let url = stdout.lines().find(|line| line.starts_with("postgres://")).expect("the child printed its URL");
    assert!(wait_until_closed(port_of(url)), "the watchdog stopped the aborted process's server");
}
