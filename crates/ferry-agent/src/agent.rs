//! The agent's main loop: loads what its directory keeps and serves it at once, then talks to
//! the server when it has one — says hello, long-polls the desired state (kept on disk,
//! secrets sealed, before it is applied), reports every second and at once on a change, and
//! ships its replicas' output and what it scraped (`scrape.rs`). While the server is away it
//! goes on serving and retries with backoff, saying so once, not per retry.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_client::{Client, ClientError};
use ferry_proto::agent::{
    AgentEvent, AgentHello, AgentReport, DesiredState, MetricsSpec, ServiceLogBatch, ServiceLogLine, UnitKey,
    UnitStatus,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{mpsc, watch};

use crate::AgentError;
use crate::dir::AgentDir;
use crate::scrape::Outbox;
use crate::seal::Sealer;
use crate::supervisor::Supervisor;

/// How often the supervisor reconciles.
const TICK: Duration = Duration::from_millis(250);
/// How often a report goes out when nothing changed.
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// How long one desired-state poll waits on the server.
const POLL_WAIT_MS: u64 = 25_000;
/// The most lines one log batch carries.
const BATCH_LINES: usize = 500;
/// The most lines waiting to be shipped; beyond it the oldest are dropped.
const MAX_WAITING_LINES: usize = 20_000;
/// The longest pause between retries while the server is away.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What an agent runs with.
#[derive(Debug)]
pub struct AgentOptions {
    /// Its directory (`--dir`), locked by [`AgentDir::open`] before anything else is done
    /// (registering included), so a second agent on it changes nothing.
    pub dir: AgentDir,
    /// The agent token: it seals the secrets kept on disk, and the client sends it.
    pub token: String,
    /// The server; `None` serves what the directory holds and nothing else (tests).
    pub client: Option<Client>,
    /// What it says in its hello.
    pub hello: AgentHello,
    /// Where it serves `/metrics` (its proxies' counts, Prometheus text), if anywhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The address every proxy listens on instead of its environment's `bind:` (`--bind`):
    /// one interface of this host, or one of two agents on one machine.
    pub bind: Option<std::net::IpAddr>,
}

/// Runs the agent until `shutdown` completes; its replicas keep running after it.
///
/// # Errors
/// [`AgentError::Io`] or [`AgentError::BadFile`] when the directory cannot be used, or
/// `/metrics` cannot be served.
pub async fn run_agent(options: AgentOptions, shutdown: impl Future<Output = ()>) -> Result<(), AgentError> {
    let dir = Arc::new(options.dir);
    let sealer = Arc::new(Sealer::from_token(&options.token));
    let bind = options.bind;
    let with_bind = move |mut desired: DesiredState| {
        if let Some(bind) = bind {
            for unit in &mut desired.units {
                unit.bind = bind.to_string();
            }
        }
        desired
    };
    let desired = dir.load_desired(&sealer)?.map(with_bind);
    let metrics_specs = |desired: &DesiredState| -> BTreeMap<UnitKey, MetricsSpec> {
        desired.units.iter().filter_map(|unit| Some((unit.key.clone(), unit.metrics.clone()?))).collect()
    };
    let mut specs = desired.as_ref().map(metrics_specs).unwrap_or_default();
    if let Some(desired) = &desired {
        // A desired state written by hand is sealed from now on.
        dir.save_desired(&sealer, desired)?;
    }
    let state = dir.load_state()?;
    let mut supervisor = Supervisor::start(Arc::clone(&dir), state, desired);
    tracing::info!(dir = %dir.root().display(), "agent serving generation {} from {}", supervisor.generation(), dir.root().display());

    let events = Arc::new(Mutex::new(Vec::<AgentEvent>::new()));
    let (status_tx, status_rx) = watch::channel((supervisor.generation(), supervisor.statuses()));
    let (desired_tx, mut desired_rx) = mpsc::channel::<DesiredState>(4);
    let (lines_tx, lines_rx) = mpsc::channel::<ServiceLogLine>(MAX_WAITING_LINES);
    let proxies = Arc::new(Mutex::new(Vec::new()));
    let outbox = Arc::new(Outbox::default());
    let (targets_tx, targets_rx) = watch::channel(Vec::new());
    let (name_tx, name_rx) = watch::channel(None);
    let mut tasks = Vec::new();
    if let Some(addr) = options.metrics_listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(AgentError::io("listening for /metrics on", addr.to_string()))?;
        tracing::info!("serving /metrics on {}", listener.local_addr().map_or(addr, |bound| bound));
        tasks.push(tokio::spawn(serve_metrics(listener, Arc::clone(&proxies), Arc::clone(&outbox))));
    }
    if let Some(client) = &options.client {
        tasks.push(tokio::spawn(poll_desired(
            client.clone(),
            options.hello.clone(),
            Arc::clone(&dir),
            Arc::clone(&sealer),
            supervisor.generation(),
            desired_tx,
            name_tx,
        )));
        tasks.push(tokio::spawn(send_reports(client.clone(), status_rx, Arc::clone(&events))));
        tasks.push(tokio::spawn(ship_logs(client.clone(), lines_rx)));
        tasks.push(tokio::spawn(crate::scrape::scrape(name_rx, targets_rx, Arc::clone(&proxies), Arc::clone(&outbox))));
        tasks.push(tokio::spawn(crate::scrape::push(client.clone(), Arc::clone(&outbox))));
    } else {
        drop((desired_tx, status_rx, lines_rx, name_tx, name_rx, targets_rx));
    }

    let mut shutdown = std::pin::pin!(shutdown);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(desired) = desired_rx.recv() => {
                tracing::info!("desired state generation {} with {} units", desired.generation, desired.units.len());
                specs = metrics_specs(&desired);
                supervisor.set_desired(with_bind(desired));
            }
            _ = tick.tick() => {}
        }
        let lines = supervisor.tick(options.client.as_ref()).await;
        for line in lines {
            // A full queue drops the line: output never holds the supervisor up.
            let _ = lines_tx.try_send(line);
        }
        if let Ok(mut shared) = proxies.lock() {
            *shared = supervisor.proxies();
        }
        let new_events = supervisor.take_events();
        let had_events = !new_events.is_empty();
        if let Ok(mut pending) = events.lock() {
            pending.extend(new_events);
        }
        let statuses = supervisor.statuses();
        let targets = crate::scrape::targets(&specs, &statuses);
        targets_tx.send_if_modified(|current| {
            let changed = *current != targets;
            if changed {
                *current = targets;
            }
            changed
        });
        status_tx.send_if_modified(|current| {
            let changed = had_events || current.0 != supervisor.generation() || current.1 != statuses;
            if changed {
                *current = (supervisor.generation(), statuses);
            }
            changed
        });
    }
    for task in tasks {
        task.abort();
    }
    supervisor.shutdown().await;
    tracing::info!("agent stopped; its replicas keep running for the next agent to adopt");
    Ok(())
}

/// Answers `GET /metrics` with every proxy's counts and the push queue's as Prometheus text;
/// anything else 404. A plain HTTP/1.1 exchange per connection, closed after the answer.
async fn serve_metrics(
    listener: tokio::net::TcpListener,
    proxies: Arc<Mutex<Vec<(UnitKey, ferry_proxy::Proxy)>>>,
    outbox: Arc<Outbox>,
) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let proxies = Arc::clone(&proxies);
        let outbox = Arc::clone(&outbox);
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < 8192 {
                match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => head.extend_from_slice(&buf[..n]),
                    _ => return,
                }
            }
            let head = String::from_utf8_lossy(&head);
            let path = head.split_whitespace().nth(1).unwrap_or("");
            let answer = if head.starts_with("GET ") && (path == "/metrics" || path.starts_with("/metrics?")) {
                let proxies = proxies.lock().map(|proxies| proxies.clone()).unwrap_or_default();
                let body = crate::scrape::own_metrics(&proxies, &outbox);
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n".to_owned()
            };
            let _ = stream.write_all(answer.as_bytes()).await;
        });
    }
}

/// Logs the server's absence once, and its return.
pub(crate) struct Absence {
    since: Option<String>,
    backoff: Duration,
}

impl Absence {
    pub(crate) fn new() -> Absence {
        Absence { since: None, backoff: Duration::from_secs(1) }
    }

    /// Notes a failed call; how long to wait before the next.
    pub(crate) fn failed(&mut self, what: &str, error: &ClientError) -> Duration {
        if self.since.is_none() {
            tracing::warn!(%error, "{what}: {error}; serving what the agent has and retrying");
            self.since = Some(what.to_owned());
        }
        let wait = self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        wait
    }

    /// Notes a call that went through; whether the server was away before it.
    pub(crate) fn succeeded(&mut self) -> bool {
        self.backoff = Duration::from_secs(1);
        if self.since.take().is_some() {
            tracing::info!("the server answers again");
            return true;
        }
        false
    }
}

/// Says hello, then long-polls the desired state; each new one is kept on disk and handed to
/// the supervisor. Says hello again after the server was away. The name the server knows the
/// agent by goes to `name_tx` (the scraper's `instance` label).
async fn poll_desired(
    client: Client,
    hello: AgentHello,
    dir: Arc<AgentDir>,
    sealer: Arc<Sealer>,
    mut generation: i64,
    desired_tx: mpsc::Sender<DesiredState>,
    name_tx: watch::Sender<Option<String>>,
) {
    let mut absence = Absence::new();
    let mut greeted = false;
    // The first poll takes whatever the server has, even of the generation kept here: its
    // secrets may have changed, and a server that lost its state starts again lower.
    let mut after = 0;
    loop {
        if !greeted {
            match client.agent_hello(&hello).await {
                Ok(welcome) => {
                    tracing::info!(
                        agent.id = welcome.id,
                        "connected to the server as agent {} (id {})",
                        welcome.name,
                        welcome.id
                    );
                    absence.succeeded();
                    greeted = true;
                    name_tx.send_if_modified(|name| {
                        let changed = name.as_deref() != Some(welcome.name.as_str());
                        if changed {
                            *name = Some(welcome.name.clone());
                        }
                        changed
                    });
                }
                Err(error) => {
                    let wait = absence.failed("saying hello to the server", &error);
                    tokio::time::sleep(wait).await;
                    continue;
                }
            }
        }
        match client.desired_state(after, POLL_WAIT_MS).await {
            Ok(desired) => {
                if absence.succeeded() {
                    greeted = false;
                }
                let Some(desired) = desired else { continue };
                generation = desired.generation;
                after = generation;
                if let Err(error) = dir.save_desired(&sealer, &desired) {
                    tracing::warn!(%error, "keeping the desired state: {error}");
                }
                if desired_tx.send(desired).await.is_err() {
                    return;
                }
            }
            Err(error) => {
                let wait = absence.failed("polling the desired state", &error);
                after = after.min(generation);
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// Sends a report every second, and at once when what runs changed; events stay pending
/// until a report carrying them was answered.
async fn send_reports(
    client: Client,
    mut status_rx: watch::Receiver<(i64, Vec<UnitStatus>)>,
    events: Arc<Mutex<Vec<AgentEvent>>>,
) {
    let mut absence = Absence::new();
    loop {
        let (generation, units) = status_rx.borrow_and_update().clone();
        let pending: Vec<AgentEvent> = events.lock().map(|events| events.clone()).unwrap_or_default();
        let report = AgentReport { generation, units, events: pending };
        let wait = match client.agent_report(&report).await {
            Ok(()) => {
                absence.succeeded();
                if let Ok(mut events) = events.lock() {
                    let sent = report.events.len().min(events.len());
                    events.drain(..sent);
                }
                REPORT_EVERY
            }
            Err(error) => absence.failed("reporting to the server", &error),
        };
        // A change wakes the loop at once; without one, the next report is a heartbeat.
        let _ = tokio::time::timeout(wait, status_rx.changed()).await;
    }
}

/// Ships replicas' output in batches; keeps what could not be sent (up to a bound) and
/// retries.
async fn ship_logs(client: Client, mut lines_rx: mpsc::Receiver<ServiceLogLine>) {
    let mut absence = Absence::new();
    let mut waiting: Vec<ServiceLogLine> = Vec::new();
    loop {
        if waiting.is_empty() {
            match lines_rx.recv().await {
                Some(line) => waiting.push(line),
                None => return,
            }
        }
        while waiting.len() < MAX_WAITING_LINES {
            match lines_rx.try_recv() {
                Ok(line) => waiting.push(line),
                Err(_) => break,
            }
        }
        let n = waiting.len().min(BATCH_LINES);
        let batch = ServiceLogBatch { lines: waiting[..n].to_vec() };
        match client.agent_logs(&batch).await {
            Ok(()) => {
                absence.succeeded();
                waiting.drain(..n);
            }
            Err(error) if error.is_transient() => {
                let wait = absence.failed("shipping replicas' output", &error);
                tokio::time::sleep(wait).await;
            }
            Err(error) => {
                tracing::warn!(%error, "the server refused {n} lines of output: {error}");
                waiting.drain(..n);
            }
        }
    }
}
