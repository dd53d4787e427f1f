//! `ferry server`: reads the configuration (flags and FERRY_* variables over `ferry.toml` over
//! defaults), sets up logging, starts `ferry_server` and stops it on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use ferry_server::ServerConfig;
use serde::Deserialize;

use crate::cli::ServerArgs;

/// The server as its embedded runner sees it in this process: batches handed over in memory,
/// the server's copy of a job's repository to check it out of, and the commits runs start for.
#[derive(Debug)]
struct InProcess {
    server: ferry_server::LocalRunner,
    upcoming: tokio::sync::Mutex<tokio::sync::watch::Receiver<Option<ferry_server::UpcomingCommit>>>,
}

impl ferry_runner::agent::LocalRepositories for InProcess {
    fn repository_of(&self, job_id: i64) -> std::pin::Pin<Box<dyn Future<Output = Option<PathBuf>> + Send + '_>> {
        Box::pin(self.server.repository_of(job_id))
    }

    fn next_commit(
        &self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Option<ferry_runner::agent::UpcomingCommit>> + Send + '_>> {
        Box::pin(async move {
            let mut upcoming = self.upcoming.lock().await;
            loop {
                upcoming.changed().await.ok()?;
                if let Some(commit) = upcoming.borrow_and_update().clone() {
                    let ferry_server::UpcomingCommit { repo, sha, source } = commit;
                    return Some(ferry_runner::agent::UpcomingCommit { repo, sha, source });
                }
            }
        })
    }
}

impl ferry_runner::agent::EventSink for InProcess {
    fn send_events(
        &self,
        job_id: i64,
        batch: Arc<ferry_proto::runner::EventBatch>,
    ) -> ferry_runner::agent::SinkFuture<'_> {
        Box::pin(async move {
            // A refusal reads as the events route's answer would, so the agent acts on it alike.
            self.server.record_events(job_id, batch).await.map_err(|refusal| ferry_client::ClientError::Http {
                status: refusal.status,
                method: "POST".to_owned(),
                path: format!("/api/v1/runner/jobs/{job_id}/events"),
                message: refusal.message,
            })
        })
    }
}

/// The name of the host's own agent, which `ferry server` starts.
const LOCAL_AGENT: &str = "local";

/// Starts the host's local agent as a process of its own, in its own process group, so that
/// stopping or killing the server never stops a service: `ferry agent --name local --dir
/// DATA_DIR/agent`, with the token kept in `DATA_DIR/agent.token` (owner-only). When an agent
/// already runs on that directory (its lock is held), none is started.
async fn start_local_agent(server: &ferry_server::Server, data_dir: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    use std::os::unix::process::CommandExt as _;

    let token_path = data_dir.join("agent.token");
    let existing = std::fs::read_to_string(&token_path).ok();
    let token = server
        .local_agent_token(LOCAL_AGENT, existing.as_deref().map(str::trim))
        .await
        .context("registering the local agent")?;
    if existing.as_deref().map(str::trim) != Some(token.as_str()) {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&token_path)
            .with_context(|| format!("writing {}", token_path.display()))?;
        writeln!(file, "{token}").with_context(|| format!("writing {}", token_path.display()))?;
    }
    let dir = std::path::absolute(data_dir.join("agent")).context("finding the agent's directory")?;
    // An agent that still runs from an earlier server (agents outlive it by design) holds the
    // directory's lock: it goes on serving, and a new one would only exit at once.
    match ferry_agent::dir::AgentDir::open(&dir) {
        Ok(free) => drop(free),
        Err(ferry_agent::AgentError::Locked { .. }) => {
            println!("ferry: the local agent already runs on {}", dir.display());
            return Ok(());
        }
        Err(error) => return Err(error).with_context(|| format!("opening {}", dir.display())),
    }
    let log_path = dir.join("agent.log");
    let log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let mut addr = server.local_addr();
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let exe = std::env::current_exe().context("finding the ferry binary")?;
    let mut child = std::process::Command::new(exe)
        .args(["agent", "--name", LOCAL_AGENT, "--dir"])
        .arg(&dir)
        .env("FERRY_SERVER", format!("http://{addr}"))
        .env("FERRY_TOKEN", &token)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().context("sharing the agent's log")?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("starting `ferry agent`")?;
    println!("ferry: started the local agent (pid {}, log {})", child.id(), log_path.display());
    // Reaped when it exits (at once if another agent took the directory since the check
    // above); it is not stopped with the server.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// The config file read when `--config` is not given, if it exists.
const DEFAULT_CONFIG: &str = "ferry.toml";

pub fn main(args: ServerArgs) -> anyhow::Result<ExitCode> {
    serve(args, None)
}

/// What runs beside the server once it listens, given the address it answers at
/// (`ferry up`'s delivery of its example).
pub type OnReady = Box<dyn FnOnce(String) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Runs the server until Ctrl-C or SIGTERM, with `on_ready` started beside it once it listens.
pub fn serve(args: ServerArgs, on_ready: Option<OnReady>) -> anyhow::Result<ExitCode> {
    crate::logging::init()?;
    let file = match &args.config {
        Some(path) => Some(read_config(path)?),
        None if Path::new(DEFAULT_CONFIG).is_file() => Some(read_config(Path::new(DEFAULT_CONFIG))?),
        None => None,
    };
    let slots = args.runner_slots.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, usize::from));
    let ConfigFile { server: file, metrics } = file.unwrap_or_default();
    let scrape = metrics.scrape_config()?;
    let pass_env = runner_pass_env(&args, &file);
    ferry_runner::isolation::check_pass_env(&pass_env)?;
    let actions_url = actions_url(&args, &file);
    ferry_runner::isolation::protect_this_process();
    let no_agent = args.no_agent;
    let mut config = server_config(args, file);
    config.scrape = scrape;
    // Other repositories' reusable workflows come from the same actions source as the
    // embedded runner's actions, kept in its store (in its work folder, `DATA_DIR/runner`).
    let data_dir = std::path::absolute(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    let actions = ferry_runner::actions::ActionsSource::new(&actions_url, data_dir.join("runner").join("actions"))
        .context("--actions-url (FERRY_ACTIONS_URL)")?;
    config.workflow_source = Some(ferry_server::WorkflowSourceRef(Arc::new(RemoteWorkflows { actions })));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async {
        let server = ferry_server::bind(&config).await.context("starting the server")?;
        if let Some(path) = server.admin_token_file() {
            println!("ferry: wrote the first admin token to {}", path.display());
        }
        println!("ferry server listening on http://{}", server.local_addr());
        if !no_agent && let Err(error) = start_local_agent(&server, &config.data_dir).await {
            tracing::warn!(error = %format!("{error:#}"), "the local agent was not started: {error:#}");
        }
        if let Some(on_ready) = on_ready {
            let mut addr = server.local_addr();
            if addr.ip().is_unspecified() {
                addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            tokio::spawn(on_ready(format!("http://{addr}")));
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let runner = if slots == 0 {
            None
        } else {
            let labels = embedded_labels();
            let local =
                server.local_runner(EMBEDDED_RUNNER, &labels).await.context("registering the embedded runner")?;
            let client = ferry_client::Client::new(&format!("http://{}", server.local_addr()), local.token())?;
            let upcoming = tokio::sync::Mutex::new(local.upcoming_commits());
            let local = Arc::new(InProcess { server: local, upcoming });
            let work_dir =
                std::path::absolute(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone()).join("runner");
            std::fs::create_dir_all(&work_dir).with_context(|| format!("creating {}", work_dir.display()))?;
            // Steps work in the data directory's runner/ folder and must not reach the rest.
            let confinement =
                ferry_runner::isolation::Confinement::new(&config.data_dir, std::slice::from_ref(&work_dir))?;
            let credentials = vec![local.server.token().to_owned()];
            // Named after its folder: servers sharing an engine never remove each other's
            // containers, and a restarted one finds what it left.
            let docker = crate::runner::docker_host(&format!("server:{}", work_dir.display())).await;
            let options = ferry_runner::agent::AgentOptions {
                labels,
                slots,
                work_dir,
                events: Some(local.clone()),
                repositories: Some(local),
                isolation: ferry_runner::isolation::Isolation {
                    pass_env: pass_env.into(),
                    confinement: Some(Arc::new(confinement)),
                },
                credentials,
                actions_url,
                docker,
            };
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(ferry_runner::agent::run_agent(client, options, async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })))
        };
        let signalled = async move {
            shutdown_signal().await;
            // Running jobs are cancelled and reported before the server stops answering.
            let _ = stop_tx.send(true);
            if let Some(runner) = runner {
                match runner.await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => tracing::warn!(%error, "the embedded runner stopped: {error}"),
                    Err(error) => tracing::warn!(%error, "the embedded runner failed: {error}"),
                }
            }
        };
        server.run(signalled).await.context("serving")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The name the runner inside `ferry server` registers under.
const EMBEDDED_RUNNER: &str = "embedded";

/// The embedded runner's labels: a self-hosted runner's, plus GitHub's hosted Linux labels,
/// since this host is where such jobs run when nothing else is set up.
fn embedded_labels() -> Vec<String> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    };
    ["self-hosted", "linux", arch, "ferry", "ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04"]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// The `[server]` table of `ferry.toml`.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    database: Option<String>,
    /// Host variables the embedded runner's steps get besides the basics, by name.
    runner_pass_env: Option<Vec<String>>,
    /// Where the embedded runner fetches actions from.
    actions_url: Option<String>,
    /// Prometheus rule files evaluated against the metrics store; relative to the file.
    rule_files: Option<Vec<PathBuf>>,
    /// The Alertmanager configuration file alerts are routed by.
    alertmanager_config: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    metrics: MetricsSection,
}

/// The `[metrics]` table of `ferry.toml`: what the server scrapes.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct MetricsSection {
    /// How often each target is scraped unless its job says otherwise.
    #[serde(default = "default_scrape_interval", deserialize_with = "duration")]
    scrape_interval: std::time::Duration,
    /// How long a scrape may take unless its job says otherwise.
    #[serde(default = "default_scrape_timeout", deserialize_with = "duration")]
    scrape_timeout: std::time::Duration,
    /// Whether the server scrapes its own `/metrics` (job `ferry`).
    #[serde(default = "yes")]
    scrape_self: bool,
    #[serde(default)]
    scrape: Vec<ScrapeSection>,
    /// Where everything stored is forwarded to.
    remote_write: Option<RemoteWriteSection>,
    /// A Prometheus-compatible API that answers the `/prometheus` queries.
    query_backend: Option<String>,
}

impl Default for MetricsSection {
    fn default() -> MetricsSection {
        MetricsSection {
            scrape_interval: default_scrape_interval(),
            scrape_timeout: default_scrape_timeout(),
            scrape_self: true,
            scrape: Vec::new(),
            remote_write: None,
            query_backend: None,
        }
    }
}

/// `[metrics.remote_write]`.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct RemoteWriteSection {
    url: String,
    bearer_token: Option<String>,
    basic_auth: Option<BasicAuthSection>,
    /// The most samples waiting to be sent.
    #[serde(default = "default_remote_write_queue")]
    queue: usize,
}

/// `basic_auth = { username, password }` of `[metrics.remote_write]`.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct BasicAuthSection {
    username: String,
    password: String,
}

fn default_remote_write_queue() -> usize {
    ferry_server::DEFAULT_REMOTE_WRITE_QUEUE
}

/// One `[[metrics.scrape]]` job.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct ScrapeSection {
    job: String,
    targets: Vec<String>,
    #[serde(default = "default_scheme")]
    scheme: String,
    #[serde(default = "default_metrics_path")]
    path: String,
    #[serde(default, deserialize_with = "optional_duration")]
    interval: Option<std::time::Duration>,
    #[serde(default, deserialize_with = "optional_duration")]
    timeout: Option<std::time::Duration>,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
}

fn default_scrape_interval() -> std::time::Duration {
    ferry_server::ScrapeConfig::default().interval
}

fn default_scrape_timeout() -> std::time::Duration {
    ferry_server::ScrapeConfig::default().timeout
}

fn yes() -> bool {
    true
}

fn default_scheme() -> String {
    "http".to_owned()
}

fn default_metrics_path() -> String {
    "/metrics".to_owned()
}

/// A duration written as in deploy.yml: `15s`, `1m30s`, `500ms`.
fn duration<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<std::time::Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    match ferry_deploy::duration::parse_duration(&text) {
        Ok(0) => {
            Err(serde::de::Error::custom(format!("`{text}` is zero; a scrape needs a positive interval and timeout")))
        }
        Ok(millis) => Ok(std::time::Duration::from_millis(millis)),
        Err(error) => Err(serde::de::Error::custom(error.to_string())),
    }
}

fn optional_duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<std::time::Duration>, D::Error> {
    duration(deserializer).map(Some)
}

impl MetricsSection {
    /// The server's scrape configuration; a job with a scheme other than http/https, a path
    /// without its leading `/`, or no targets is refused with what to write instead.
    fn scrape_config(self) -> anyhow::Result<ferry_server::ScrapeConfig> {
        let mut jobs = Vec::new();
        for job in self.scrape {
            if job.scheme != "http" && job.scheme != "https" {
                bail!("[[metrics.scrape]] job {:?}: scheme {:?} is not http or https", job.job, job.scheme);
            }
            if !job.path.starts_with('/') {
                bail!("[[metrics.scrape]] job {:?}: path {:?} must start with `/`", job.job, job.path);
            }
            if job.targets.is_empty() || job.targets.iter().any(|target| target.is_empty() || target.contains('/')) {
                bail!(
                    "[[metrics.scrape]] job {:?}: targets must be `host:port` entries, e.g. [\"127.0.0.1:9100\"]",
                    job.job
                );
            }
            jobs.push(ferry_server::ScrapeJob {
                job: job.job,
                targets: job.targets,
                scheme: job.scheme,
                path: job.path,
                interval: job.interval,
                timeout: job.timeout,
                labels: job.labels,
            });
        }
        let remote_write = match self.remote_write {
            Some(remote) => {
                http_url(&remote.url, "[metrics.remote_write] url", "http://prometheus:9090/api/v1/write")?;
                if remote.queue == 0 {
                    bail!("[metrics.remote_write] queue is 0; give the most samples that may wait, e.g. 100000");
                }
                let auth = match (remote.bearer_token, remote.basic_auth) {
                    (Some(_), Some(_)) => {
                        bail!(
                            "[metrics.remote_write] gives both bearer_token and basic_auth; keep the one the endpoint takes"
                        )
                    }
                    (Some(token), None) => Some(ferry_server::RemoteAuth::Bearer(token)),
                    (None, Some(basic)) => {
                        Some(ferry_server::RemoteAuth::Basic { username: basic.username, password: basic.password })
                    }
                    (None, None) => None,
                };
                Some(ferry_server::RemoteWriteConfig { url: remote.url, auth, queue: remote.queue })
            }
            None => None,
        };
        if let Some(url) = &self.query_backend {
            http_url(url, "[metrics] query_backend", "http://prometheus:9090")?;
        }
        Ok(ferry_server::ScrapeConfig {
            interval: self.scrape_interval,
            timeout: self.scrape_timeout,
            scrape_self: self.scrape_self,
            jobs,
            remote_write,
            query_backend: self.query_backend,
        })
    }
}

/// Checks that `url` is an `http://` or `https://` URL with a host, saying where (`what`) and
/// giving `example` when it is not.
fn http_url(url: &str, what: &str, example: &str) -> anyhow::Result<()> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    if rest.is_none_or(|rest| rest.is_empty() || rest.starts_with('/')) {
        bail!("{what} {url:?} is not an http:// or https:// URL with a host; write it like {example:?}");
    }
    Ok(())
}

/// Reads a config file; a relative `data_dir` is relative to the file.
fn read_config(path: &Path) -> anyhow::Result<ConfigFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut file: ConfigFile = toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new(""));
    file.server.data_dir = file.server.data_dir.map(|dir| base.join(dir));
    file.server.rule_files =
        file.server.rule_files.map(|files| files.into_iter().map(|file| base.join(file)).collect());
    file.server.alertmanager_config = file.server.alertmanager_config.map(|file| base.join(file));
    Ok(file)
}

/// The host variables the embedded runner passes to steps: the file's, then the flag's.
fn runner_pass_env(args: &ServerArgs, file: &ServerSection) -> Vec<String> {
    let mut names: Vec<String> = file.runner_pass_env.iter().flatten().cloned().collect();
    for name in &args.runner_pass_env {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// Where the embedded runner fetches actions from: the flag's (or `FERRY_ACTIONS_URL`), the
/// file's, else GitHub.
fn actions_url(args: &ServerArgs, file: &ServerSection) -> String {
    args.actions_url
        .clone()
        .or_else(|| file.actions_url.clone())
        .unwrap_or_else(|| ferry_runner::actions::DEFAULT_ACTIONS_URL.to_owned())
}

/// The server's [`ferry_server::WorkflowSource`]: an actions source, read as `ferry run`
/// reads it.
struct RemoteWorkflows {
    actions: ferry_runner::actions::ActionsSource,
}

impl ferry_server::WorkflowSource for RemoteWorkflows {
    fn read<'a>(
        &'a self,
        uses: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<String, ferry_server::WorkflowSourceError>> + Send + 'a>> {
        Box::pin(async move {
            // A tag or branch resolves anew for each run, as it does for a runner's jobs.
            crate::run::reusable::read_remote(&self.actions.for_run(), uses)
                .await
                .map_err(|error| ferry_server::WorkflowSourceError(format!("{error:#}")))
        })
    }
}

/// Flags (and their FERRY_* variables) win over the file, the file over the defaults.
fn server_config(args: ServerArgs, file: ServerSection) -> ServerConfig {
    let data_dir = args.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("./ferry-data"));
    let defaults = ServerConfig::new(data_dir);
    ServerConfig {
        listen: args.listen.or(file.listen).unwrap_or(ferry_server::DEFAULT_LISTEN),
        database: args.database.or(file.database),
        poll_interval: args.poll_interval.map_or(defaults.poll_interval, std::time::Duration::from_secs),
        public_url: args.public_url,
        alertmanager_config: args.alertmanager_config.or(file.alertmanager_config),
        artifact_retention: args
            .artifact_retention_days
            .map_or(defaults.artifact_retention, |days| std::time::Duration::from_secs(days * 24 * 60 * 60)),
        rule_files: file.rule_files.unwrap_or_default(),
        ..defaults
    }
}

/// Completes on Ctrl-C or SIGTERM (what service managers send); if a handler cannot be
/// installed, only the other one stops the server (or the runner).
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        res = tokio::signal::ctrl_c() => {
            if res.is_err() {
                std::future::pending::<()>().await;
            }
        }
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests;
