//! End-to-end tests of the server: each test starts the real server in this process on
//! 127.0.0.1:0 with a temporary data directory (SQLite in it) and talks HTTP/1.1 to it.

mod access;
mod alerting;
mod artifacts;
mod auth;
mod capabilities;
mod contract;
mod corpus;
mod deployments;
mod dora;
mod environment_jobs;
mod forge_status;
mod forks;
mod forward;
mod hardening;
mod hooks;
mod incidents;
mod openapi;
mod pipeline;
mod probes;
mod projects;
mod prometheus;
mod releases;
mod reusable;
mod rules;
mod runtime;
mod slos;
mod ui;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use ferry_model::Clock;
use ferry_proto::runner::EVENT_BATCH_TYPE;
use ferry_server::ServerConfig;
use ferry_store::Store;
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

/// A server running on its own runtime, with a data directory that is deleted on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    /// The admin token the first start wrote to `admin.token`.
    pub admin: String,
    pub dir: tempfile::TempDir,
    /// The database URL the server uses.
    database: String,
    rt: Runtime,
    stop: Option<oneshot::Sender<()>>,
    /// What [`TestServer::restart`] starts again.
    config: ServerConfig,
    clock: Arc<dyn Clock>,
    serving: Option<tokio::task::JoinHandle<Result<(), ferry_server::ServerError>>>,
}

impl TestServer {
    /// A server on SQLite in its data directory.
    pub fn start() -> TestServer {
        TestServer::start_on(None)
    }

    /// A server on the database `database` names (`None`: SQLite in the data directory).
    pub fn start_on(database: Option<String>) -> TestServer {
        TestServer::start_with(database, |_| {})
    }

    /// A server on SQLite whose configuration `configure` changes (faster leases, polling).
    pub fn start_configured(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_with(None, configure)
    }

    /// A server on SQLite with a runner `name` registered in its process, as `ferry server`'s
    /// embedded runner is.
    pub fn start_with_local_runner(name: &str, labels: &[String]) -> (TestServer, ferry_server::LocalRunner) {
        let mut local = None;
        let server = TestServer::start_with_hook(
            None,
            Arc::new(ferry_server::SystemClock),
            |_| {},
            |server, rt| {
                local = Some(rt.block_on(server.local_runner(name, labels)).expect("a local runner"));
            },
        );
        (server, local.expect("registered"))
    }

    fn start_with(database: Option<String>, configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_with_hook(database, Arc::new(ferry_server::SystemClock), configure, |_, _| {})
    }

    /// Starts a server whose coordinator and supervisor read `clock` (and which polls as
    /// `configure` says).
    pub fn start_with_clock(clock: Arc<dyn Clock>, configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_with_hook(None, clock, configure, |_, _| {})
    }

    /// A server on `database` (SQLite in its data directory when `None`) reading `clock`.
    pub fn start_on_with_clock(database: Option<String>, clock: Arc<dyn Clock>) -> TestServer {
        TestServer::start_with_hook(database, clock, |_| {}, |_, _| {})
    }

    /// Starts a server; `before_run` sees it bound, before it serves.
    fn start_with_hook(
        database: Option<String>,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut ServerConfig),
        before_run: impl FnOnce(&ferry_server::Server, &Runtime),
    ) -> TestServer {
        let dir = tempfile::Builder::new().prefix("ferry-server-it-").tempdir().expect("temp dir");
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("an address"),
            database: database.clone(),
            poll_interval: std::time::Duration::ZERO,
            ..ServerConfig::new(dir.path().join("data"))
        };
        configure(&mut config);
        let server = rt.block_on(ferry_server::bind_with_clock(&config, clock.clone())).expect("the server starts");
        before_run(&server, &rt);
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = rt.spawn(server.run(async {
            let _ = stopped.await;
        }));
        // A server on a database that has tokens (a restart) writes no admin.token.
        let admin = std::fs::read_to_string(dir.path().join("data/admin.token")).unwrap_or_default();
        let database = database.unwrap_or_else(|| config.database_url());
        TestServer {
            addr,
            admin: admin.trim().to_owned(),
            database,
            dir,
            rt,
            stop: Some(stop),
            config,
            clock,
            serving: Some(serving),
        }
    }

    /// Stops the server, waits until it has stopped, and starts it again on the same data
    /// directory, database and clock (a new port).
    pub fn restart(mut self) -> TestServer {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            let _ = self.rt.block_on(serving);
        }
        let server = self
            .rt
            .block_on(ferry_server::bind_with_clock(&self.config, self.clock.clone()))
            .expect("the server starts again");
        self.addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        self.serving = Some(self.rt.spawn(server.run(async {
            let _ = stopped.await;
        })));
        self.stop = Some(stop);
        self
    }

    /// Runs a future on the server's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }

    /// Runs `f` on a second handle on the server's database.
    pub fn with_store<T>(&self, f: impl AsyncFnOnce(&Store) -> T) -> T {
        self.rt.block_on(async {
            let store = Store::open(&self.database).await.expect("opening the store");
            let res = f(&store).await;
            store.close().await;
            res
        })
    }

    /// A request with an optional bearer token and JSON body.
    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Response {
        let mut headers = Vec::new();
        let auth;
        if let Some(token) = token {
            auth = format!("Bearer {token}");
            headers.push(("Authorization", auth.as_str()));
        }
        let body = body.map(Value::to_string).unwrap_or_default();
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        self.request(method, path, &headers, body.as_bytes())
    }

    /// A request with these headers and body (`Content-Length` is added).
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut raw = head.into_bytes();
        raw.extend_from_slice(body);
        self.send_raw(&raw)
    }

    /// Sends `raw` bytes as they are and reads the answer until the server closes.
    pub fn send_raw(&self, raw: &[u8]) -> Response {
        let mut stream = TcpStream::connect(self.addr).expect("connecting");
        stream.write_all(raw).expect("sending");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("reading the answer");
        Response::parse(&answer)
    }

    /// Creates a token with `role` as the admin and returns its plaintext.
    pub fn token(&self, role: &str) -> String {
        self.scoped_token(role, None)
    }

    /// Creates a token with `role` for `projects` (`None`: every project) as the admin and
    /// returns its plaintext.
    pub fn scoped_token(&self, role: &str, projects: Option<&[&str]>) -> String {
        let body = serde_json::json!({"name": role, "role": role, "projects": projects});
        let res = self.call("POST", "/api/v1/tokens", Some(&self.admin), Some(&body));
        assert_eq!(res.status, 201, "{}", res.body);
        res.json()["token"].as_str().expect("a token").to_owned()
    }

    /// Logs in through the form with `token`; returns the `Cookie` header value that carries
    /// the session.
    pub fn login(&self, token: &str) -> String {
        let form = [("Content-Type", "application/x-www-form-urlencoded")];
        let res = self.request("POST", "/login", &form, format!("token={token}").as_bytes());
        assert_eq!(res.status, 303, "{}", res.body);
        let cookie = res.header("set-cookie").expect("a session cookie");
        cookie.split(';').next().expect("a name=value").to_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The test acting as a runner over HTTP: it registers and then speaks the protocol step by
/// step, so each step of the protocol is visible in the test.
pub struct ProtocolRunner<'a> {
    server: &'a TestServer,
    token: String,
}

impl<'a> ProtocolRunner<'a> {
    pub fn register(server: &'a TestServer, name: &str, labels: &[&str]) -> ProtocolRunner<'a> {
        ProtocolRunner::register_for(server, name, labels, None)
    }

    /// Registers a runner that claims only the jobs of `projects` (`None`: every project).
    pub fn register_for(
        server: &'a TestServer,
        name: &str,
        labels: &[&str],
        projects: Option<&[&str]>,
    ) -> ProtocolRunner<'a> {
        let body = json!({"name": name, "labels": labels, "projects": projects});
        let res = server.call("POST", "/api/v1/runners", Some(&server.admin), Some(&body));
        assert_eq!(res.status, 201, "{}", res.body);
        let token = res.json()["token"].as_str().expect("a token").to_owned();
        assert!(token.starts_with("ferryr_"), "{token}");
        ProtocolRunner { server, token }
    }

    /// A runner registered some other way, with its token.
    pub fn with_token(server: &'a TestServer, token: &str) -> ProtocolRunner<'a> {
        ProtocolRunner { server, token: token.to_owned() }
    }

    /// The runner's token.
    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn claim(&self, wait_ms: u64) -> Option<Value> {
        let res = self.call("/api/v1/runner/claim", &json!({"wait_ms": wait_ms}));
        match res.status {
            200 => Some(res.json()),
            204 => None,
            status => panic!("claim answered {status}: {}", res.body),
        }
    }

    pub fn call(&self, path: &str, body: &Value) -> Response {
        self.server.call("POST", path, Some(&self.token), Some(body))
    }

    /// A request with the runner's token and a raw body.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Response {
        let auth = format!("Bearer {}", self.token);
        self.server.request(method, path, &[("Authorization", auth.as_str())], body)
    }

    /// Sends batch `seq` of step events for a claimed job; returns the server's control
    /// answer (`{"cancel": …}`).
    /// A `lines` event is written as `{"type": "lines", "step_idx": …, "lines": [..]}` and
    /// sent in the protocol's framing: its head says how many bytes of text follow.
    pub fn send(&self, job: &Value, seq: i64, events: Value) -> Value {
        let res = self.send_body(job, EVENT_BATCH_TYPE, &event_batch(seq, events));
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()
    }

    /// Posts `body` as a batch of step events with content type `content_type`.
    pub fn send_body(&self, job: &Value, content_type: &str, body: &[u8]) -> Response {
        let id = job["job_id"].as_i64().expect("a job id");
        let auth = format!("Bearer {}", self.token);
        let headers = [("Authorization", auth.as_str()), ("Content-Type", content_type)];
        self.server.request("POST", &format!("/api/v1/runner/jobs/{id}/events"), &headers, body)
    }

    /// Completes a claimed job.
    pub fn complete(&self, job: &Value, conclusion: &str, outputs: Value) {
        let id = job["job_id"].as_i64().expect("a job id");
        let res = self.call(
            &format!("/api/v1/runner/jobs/{id}/complete"),
            &json!({"conclusion": conclusion, "outputs": outputs}),
        );
        assert_eq!(res.status, 204, "{}", res.body);
    }

    /// Runs a claimed job's one step: its lines, then the conclusion and outputs.
    pub fn finish(&self, job: &Value, lines: &[&str], conclusion: &str, outputs: Value) {
        self.send(
            job,
            1,
            json!([
                {"type": "step_started", "step_idx": 0, "name": "Run step", "at": 1},
                {"type": "lines", "step_idx": 0, "lines": lines},
                {"type": "step_finished", "step_idx": 0, "outcome": conclusion, "conclusion": conclusion, "at": 2},
            ]),
        );
        self.complete(job, conclusion, outputs);
    }
}

/// A git repository in a temporary directory with one commit of `files`.
pub struct TestRepo {
    dir: tempfile::TempDir,
}

impl TestRepo {
    pub fn new(files: &[(&str, &str)]) -> TestRepo {
        let dir = tempfile::Builder::new().prefix("ferry-repo-").tempdir().expect("temp dir");
        let repo = TestRepo { dir };
        repo.git(&["init", "--quiet", "--initial-branch=main"]);
        repo.commit(files, "add workflows");
        repo
    }

    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Writes `files` and commits them with `message`; returns the new commit.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, text) in files {
            let path = self.dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        self.git(&["add", "-A"]);
        // The author is Ada whatever identity the environment gives git (scripts/test sets
        // GIT_AUTHOR_NAME, which overrides `-c user.name`).
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(self.dir.path())
            .args(["commit", "--quiet", "-m", message])
            .envs([("GIT_AUTHOR_NAME", "Ada"), ("GIT_AUTHOR_EMAIL", "ada@ferry.invalid")])
            .envs([("GIT_COMMITTER_NAME", "Ada"), ("GIT_COMMITTER_EMAIL", "ada@ferry.invalid")])
            .output()
            .expect("git");
        assert!(out.status.success(), "git commit: {}", String::from_utf8_lossy(&out.stderr));
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Makes branch `name` at the current commit.
    pub fn branch(&self, name: &str) {
        self.git(&["branch", name]);
    }

    fn git(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("git").arg("-C").arg(self.dir.path()).args(args).output().expect("git");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    fn parse(raw: &[u8]) -> Response {
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        let mut lines = head.lines();
        let status = lines.next().and_then(|line| line.split(' ').nth(1)).and_then(|code| code.parse().ok());
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let chunked = headers.iter().any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
        let body = if chunked { dechunk(body) } else { body.to_owned() };
        Response { status: status.expect("a status line"), headers, body }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}

/// Frames batch `seq` of `events` as the runner protocol does: one JSON line of heads, where a
/// `lines` event carries the byte length of its text, then the texts back to back, each line
/// ending in a newline.
pub fn event_batch(seq: i64, events: Value) -> Vec<u8> {
    let mut texts = String::new();
    let heads: Vec<Value> = events
        .as_array()
        .expect("an array of events")
        .iter()
        .map(|event| match event.get("lines") {
            Some(lines) => {
                let before = texts.len();
                for line in lines.as_array().expect("an array of lines") {
                    texts.push_str(line.as_str().expect("a line"));
                    texts.push('\n');
                }
                json!({"type": "lines", "step_idx": event["step_idx"], "bytes": texts.len() - before})
            }
            None => event.clone(),
        })
        .collect();
    let mut body = serde_json::to_vec(&json!({"seq": seq, "events": heads})).expect("JSON");
    body.push(b'\n');
    body.extend_from_slice(texts.as_bytes());
    body
}
