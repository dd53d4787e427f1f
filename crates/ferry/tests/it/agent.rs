//! `ferry agent` as a real process: it serves the desired state its directory keeps while the
//! server is away; SIGKILLed, its replica goes on answering, and the next agent adopts it and
//! brings the proxy back; a second agent on the same directory is refused.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{free_port, get_ok};

/// Answers `GET /` with its pid, `/healthz` with 200.
const SERVER_PY: &str = r#"
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("pid %d\n" % os.getpid()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, format, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

fn until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited 30 s for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn agent(dir: &Path, stderr: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["agent", "--server", "http://127.0.0.1:9", "--token", "ferrya_test_secret", "--dir"])
        .arg(dir)
        .env("FERRY_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("spawn")
}

/// Kills the agent and the replicas its state file lists when the test ends.
struct Cleanup<'a>(&'a Path, Vec<Child>);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for child in &mut self.1 {
            let _ = child.kill();
            let _ = child.wait();
        }
        let Ok(text) = std::fs::read_to_string(self.0.join("state.json")) else { return };
        let Ok(state) = serde_json::from_str::<ferry_agent::dir::RuntimeState>(&text) else { return };
        for replica in state.replicas {
            if let Some(pid) = rustix::process::Pid::from_raw(replica.pid.cast_signed()) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

#[test]
fn a_killed_agent_leaves_its_replica_serving_and_the_next_one_adopts_it() {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("agent");
    let folder = dir.join("releases/shop/web/1");
    std::fs::create_dir_all(&folder).expect("create_dir_all");
    std::fs::write(folder.join("server.py"), SERVER_PY).expect("write");
    let port = free_port();
    let desired = json!({"generation": 1, "units": [{
        "key": {"project": "shop", "service": "web", "environment": "production"},
        "port": port, "bind": "127.0.0.1", "replicas": 1,
        "health": {"kind": "tcp", "interval_ms": 100, "timeout_ms": 1000, "healthy_after": 1,
                   "unhealthy_after": 3, "start_timeout_ms": 30000},
        "drain_timeout_ms": 1000, "stop_grace_ms": 2000,
        "release": {"number": 1, "files": [], "kind": "run", "command": "exec python3 server.py",
                    "env": {}, "secret_keys": []},
    }]});
    std::fs::write(dir.join("desired.json"), desired.to_string()).expect("write");
    let mut cleanup = Cleanup(&dir, Vec::new());

    // The server is not there: the agent serves what its directory keeps.
    cleanup.1.push(agent(&dir, Stdio::null()));
    let body = until("the proxy to answer", || get_ok(port));
    let pid: u32 = body.trim().strip_prefix("pid ").expect("strip_prefix").parse().expect("parse");

    // A second agent on the same directory is refused, and changes nothing.
    let second = agent(&dir, Stdio::piped()).wait_with_output().expect("wait_with_output");
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another ferry agent already runs with the directory"), "{stderr}");

    // SIGKILL: no chance to clean up. The replica answers on its own port; the proxy is gone.
    let mut first = cleanup.1.pop().expect("pop");
    first.kill().expect("kill");
    first.wait().expect("wait");
    let state: ferry_agent::dir::RuntimeState =
        serde_json::from_str(&std::fs::read_to_string(dir.join("state.json")).expect("read_to_string"))
            .expect("from_str");
    assert_eq!(state.replicas[0].pid, pid);
    assert_eq!(get_ok(state.replicas[0].port).as_deref(), Some(body.as_str()), "the replica outlives its agent");
    assert_eq!(get_ok(port), None);

    // The next agent adopts the same process and brings the proxy back.
    cleanup.1.push(agent(&dir, Stdio::null()));
    let again = until("the proxy to answer again", || get_ok(port));
    assert_eq!(again, body, "the adopted replica answers, not a new one");
}
