//! What the tests share: a service written in Python 3's standard library, desired states
//! made from a few numbers, a supervisor driven until a condition holds, plain HTTP GETs, and
//! a guard that kills the replicas a test leaves behind (they outlive the agent by design).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_agent::dir::AgentDir;
use ferry_agent::supervisor::Supervisor;
use ferry_proto::agent::{
    AgentEvent, DeploymentOrder, DesiredState, HealthSpec, Probe, ProcessSpec, ReleaseSpec, StrategySpec, Unit,
    UnitKey, UnitStatus,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The service every test runs: answers `/` with its release and greeting (with 500 when
/// `FAIL` is set), `/healthz` with 200 unless a file `unhealthy` is in its folder, prints its
/// secret once at start.
pub const SERVER_PY: &str = r#"
import http.server, os, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            code = 500 if os.path.exists("unhealthy") else 200
            body = b"ok\n" if code == 200 else b"sick\n"
        else:
            code = 500 if os.environ.get("FAIL") else 200
            body = ("release %s says %s from %d\n" % (os.environ.get("RELEASE"), os.environ.get("GREETING"), os.getpid())).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, format, *args):
        pass
port = int(os.environ["PORT"])
print("listening on %d with key %s" % (port, os.environ.get("API_KEY", "")), flush=True)
print("to stderr", file=sys.stderr, flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

/// The secret the service's release carries.
pub const SECRET: &str = "s3cr3t-9f8e7d";

pub fn key() -> UnitKey {
    UnitKey { project: "shop".into(), service: "web".into(), environment: "staging".into() }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("local_addr").port()
}

/// Release `number` running `command` (the service by default), with its files already in
/// the agent's directory.
pub fn release(dir: &Path, number: i64, command: &str) -> ReleaseSpec {
    let folder = dir.join("releases/shop/web").join(number.to_string());
    std::fs::create_dir_all(&folder).expect("create_dir_all");
    std::fs::write(folder.join("server.py"), SERVER_PY).expect("write");
    let mut env = BTreeMap::new();
    env.insert("RELEASE".to_owned(), number.to_string());
    env.insert("GREETING".to_owned(), "hello".to_owned());
    env.insert("API_KEY".to_owned(), SECRET.to_owned());
    ReleaseSpec {
        number,
        files: vec![],
        process: ProcessSpec::Run { command: command.to_owned() },
        env,
        secret_keys: vec!["API_KEY".to_owned()],
    }
}

pub const SERVE: &str = "exec python3 server.py";

/// A unit serving `release` with `replicas` replicas behind a proxy on `port`.
pub fn unit(port: u16, replicas: u32, release: Option<ReleaseSpec>) -> Unit {
    Unit {
        key: key(),
        port,
        bind: "127.0.0.1".into(),
        replicas,
        health: HealthSpec {
            probe: Probe::Http { path: "/healthz".into() },
            interval_ms: 100,
            timeout_ms: 2000,
            healthy_after: 1,
            unhealthy_after: 2,
            start_timeout_ms: 20_000,
        },
        drain_timeout_ms: 1000,
        response_timeout_ms: 60_000,
        trusted_proxies: Vec::new(),
        tls: Vec::new(),
        stop_grace_ms: 2000,
        release,
        deployment: None,
        metrics: None,
    }
}

pub fn order(id: i64, release: ReleaseSpec) -> DeploymentOrder {
    DeploymentOrder {
        id,
        release,
        strategy: StrategySpec::Rolling { max_surge: 1, max_unavailable: 0 },
        analysis: None,
        verify_ms: 0,
        is_rollback: false,
        cancel: None,
        verdict: None,
    }
}

pub fn desired(generation: i64, units: Vec<Unit>) -> DesiredState {
    DesiredState { generation, units }
}

/// A supervisor on a temporary directory, driven by the test.
pub struct Driven {
    pub temp: tempfile::TempDir,
    pub supervisor: Option<Supervisor>,
    pub events: Vec<AgentEvent>,
    pub lines: Vec<ferry_proto::agent::ServiceLogLine>,
}

impl Driven {
    /// A supervisor whose directory is prepared by `prepare` (release folders, a state file)
    /// before it starts with `desired`.
    pub fn start(prepare: impl FnOnce(&Path) -> DesiredState) -> Driven {
        let temp = tempfile::tempdir().expect("tempdir");
        let desired = prepare(temp.path());
        let dir = Arc::new(AgentDir::open(temp.path()).expect("open"));
        let state = dir.load_state().expect("load_state");
        let supervisor = Supervisor::start(dir, state, Some(desired));
        Driven { temp, supervisor: Some(supervisor), events: Vec::new(), lines: Vec::new() }
    }

    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    pub fn supervisor(&mut self) -> &mut Supervisor {
        self.supervisor.as_mut().expect("the supervisor runs")
    }

    /// Ticks until `done` holds of the units' statuses, for at most 30 s.
    pub async fn until(&mut self, what: &str, mut done: impl FnMut(&[UnitStatus], &[AgentEvent]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let supervisor = self.supervisor.as_mut().expect("the supervisor runs");
            let lines = supervisor.tick(None).await;
            self.lines.extend(lines);
            self.events.extend(supervisor.take_events());
            if done(&supervisor.statuses(), &self.events) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited 30 s for {what}; statuses: {:#?}; events: {:#?}",
                supervisor.statuses(),
                self.events
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ticks until `GET path` on `port` answers and `ok` holds of (status, body).
    pub async fn until_get(&mut self, port: u16, path: &str, ok: impl Fn(u16, &str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let supervisor = self.supervisor.as_mut().expect("the supervisor runs");
            self.lines.extend(supervisor.tick(None).await);
            self.events.extend(supervisor.take_events());
            if let Some((status, body)) = get(port, path).await
                && ok(status, &body)
            {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "waited 30 s for GET {path} on {port}; statuses: {:#?}; events: {:#?}",
                supervisor.statuses(),
                self.events
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Kills every replica the directory's state file lists, when the test ends.
pub struct Reaper(pub PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        let Ok(text) = std::fs::read_to_string(self.0.join("state.json")) else { return };
        let Ok(state) = serde_json::from_str::<ferry_agent::dir::RuntimeState>(&text) else { return };
        for replica in state.replicas {
            if let Some(pid) = rustix::process::Pid::from_raw(replica.pid.cast_signed()) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
        }
    }
}

impl Drop for Driven {
    fn drop(&mut self) {
        // Stop the replicas before the directory goes (the reaper reads its state file).
        if let Some(supervisor) = self.supervisor.take() {
            supervisor.detach();
        }
        drop(Reaper(self.temp.path().to_owned()));
    }
}

/// `GET path` on 127.0.0.1:`port`: the status and body, or `None` when nothing answers.
pub async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let status = answer.split_whitespace().nth(1)?.parse().ok()?;
        let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
        Some((status, body))
    };
    tokio::time::timeout(Duration::from_secs(10), attempt).await.ok().flatten()
}

/// The replicas' pids of the one unit.
pub fn pids(statuses: &[UnitStatus]) -> Vec<u32> {
    statuses.iter().flat_map(|unit| unit.replicas.iter().filter_map(|replica| replica.pid)).collect()
}

/// Runs `git` in `dir`, which must succeed.
pub fn git(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

/// A real server in this process with project `web`, whose `.ferry/deploy.yml` is `deploy`;
/// agent `agent` registered with it and running from `<temp>/agent`; and release 1 of
/// service `web` made by hand from `service` (its `server.py`), which the agent deploys.
pub struct Delivery {
    /// Kills the replicas before the directory goes.
    _reaper: Reaper,
    pub temp: tempfile::TempDir,
    pub url: String,
    pub admin_token: String,
    pub admin: ferry_client::Client,
    /// The agent's own client, with its token.
    pub agent_client: ferry_client::Client,
    stop_server: tokio::sync::oneshot::Sender<()>,
    stop_agent: tokio::sync::oneshot::Sender<()>,
    agent: tokio::task::JoinHandle<Result<(), ferry_agent::AgentError>>,
}

impl Delivery {
    pub async fn start(deploy: &str, agent: &str, service: &str) -> Delivery {
        use sha2::Digest as _;
        let temp = tempfile::tempdir().expect("tempdir");
        let reaper = Reaper(temp.path().join("agent"));
        let repo = temp.path().join("repo");
        std::fs::create_dir_all(repo.join(".ferry")).expect("create_dir_all");
        std::fs::write(repo.join(".ferry/deploy.yml"), deploy).expect("write");
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "deploy.yml"]);

        let config = ferry_server::ServerConfig {
            listen: "127.0.0.1:0".parse().expect("an address"),
            poll_interval: Duration::ZERO,
            ..ferry_server::ServerConfig::new(temp.path().join("data"))
        };
        let server = ferry_server::bind(&config).await.expect("bind");
        let url = format!("http://{}", server.local_addr());
        let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = server_stopped.await;
        }));
        let admin_token = std::fs::read_to_string(temp.path().join("data/admin.token")).expect("read_to_string");
        let admin_token = admin_token.trim().to_owned();
        let admin = ferry_client::Client::new(&url, &admin_token).expect("new");
        admin.create_project("web", &repo.display().to_string(), Some("main"), None).await.expect("create_project");
        let registration = ferry_proto::agent::AgentRegistration { name: agent.into(), labels: vec![] };
        let registered = admin.register_agent(&registration).await.expect("register_agent");
        let agent_client = ferry_client::Client::new(&url, &registered.token).expect("new");
        let options = ferry_agent::agent::AgentOptions {
            dir: AgentDir::open(&temp.path().join("agent")).expect("open"),
            token: registered.token.clone(),
            client: Some(agent_client.clone()),
            hello: ferry_proto::agent::AgentHello {
                labels: None,
                hostname: "box".into(),
                version: "0.1.0".into(),
                docker: false,
            },
            metrics_listen: None,
            bind: None,
        };
        let (stop_agent, agent_stopped) = tokio::sync::oneshot::channel::<()>();
        let agent = tokio::spawn(ferry_agent::agent::run_agent(options, async {
            let _ = agent_stopped.await;
        }));

        let file = temp.path().join("server.py");
        std::fs::write(&file, service).expect("write");
        let digest = hex::encode(sha2::Sha256::digest(service.as_bytes()));
        admin.upload_project_blob("web", &digest, &file).await.expect("upload_project_blob");
        let files = vec![ferry_proto::artifacts::ArtifactFile {
            path: "server.py".into(),
            sha256: digest,
            size: service.len() as u64,
            mode: 0o644,
        }];
        let request = ferry_proto::releases::ReleaseRequest {
            service: "web".into(),
            run_id: None,
            files: Some(files),
            commit: None,
        };
        admin.create_release("web", &request).await.expect("create_release");
        Delivery { _reaper: reaper, temp, url, admin_token, admin, agent_client, stop_server, stop_agent, agent }
    }

    /// Stops the agent, which must stop cleanly, then the server.
    pub async fn stop(self) {
        self.stop_agent.send(()).expect("send");
        self.agent.await.expect("the agent task ends").expect("the agent stops cleanly");
        let _ = self.stop_server.send(());
    }
}
