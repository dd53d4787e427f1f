//! Ferry's HTTP server: the API (`/api/v1`, bearer tokens with roles), forge webhooks
//! (`/hooks/{forge}/{project}`), probes (`/healthz`, `/readyz`) and Prometheus `/metrics`,
//! over the state in `ferry-store`. The API's OpenAPI document, generated from the handlers,
//! is served at `/api/v1/openapi.json`. The web UI (`/`, `/login`, `/ui/…`) is rendered by the
//! same binary from the same data (`ui.rs`).
//!
//! ```no_run
//! # async fn example() -> Result<(), ferry_server::ServerError> {
//! let config = ferry_server::ServerConfig::new("./ferry-data".into());
//! let server = ferry_server::bind(&config).await?;
//! println!("listening on http://{}", server.local_addr());
//! server.run(std::future::pending()).await
//! # }
//! ```
//!
//! The data directory holds the SQLite database (unless `database` names another), the key
//! secrets are encrypted with (`secret.key`) and, after the first start, the first admin
//! token (`admin.token`); both files are readable by their owner only. Artifacts' bytes are
//! blobs under `blobs/sha256/` (`blobs.rs`).

mod alerting;
mod api;
mod auth;
mod blob_reads;
mod blobs;
mod data_dir;
mod deployments;
mod dora;
mod forward;
mod hooks;
mod incidents;
mod local_runner;
mod log_feed;
mod metrics;
mod openapi;
mod outbound;
mod pipeline;
mod probes;
mod prometheus;
mod releases;
mod remote_write;
mod repo_url;
mod retention;
mod router;
mod rules;
mod runtime;
mod scrape;
mod secret_box;
mod slos;
mod tar;
mod ui;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_model::Clock;
use ferry_store::{Store, StoreError};
use tokio::net::TcpListener;
use tracing::info;

pub use alerting::{AlertingError, Alertmanager};
pub use local_runner::{LocalRunner, Refusal, UpcomingCommit};
pub use router::{Access, Reach};
pub use runtime::LocalService;

/// Where the server listens unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// How to start the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Holds `ferry.db` (the default database), `secret.key` and `admin.token`; created if missing.
    pub data_dir: PathBuf,
    /// The address to listen on; port 0 picks a free port (see [`Server::local_addr`]).
    pub listen: SocketAddr,
    /// A database URL for [`Store::open`]; `None` is the SQLite file `<data_dir>/ferry.db`.
    pub database: Option<String>,
    /// How often each project's repository is polled for new commits (a fallback for missed
    /// webhooks) and `on.schedule` checked; zero turns both off.
    pub poll_interval: std::time::Duration,
    /// How long a claimed job's lease lasts without a heartbeat before it is failed as
    /// "runner lost" (runners heartbeat at a third of it).
    pub lease_ms: i64,
    /// How long an artifact is kept after its upload; then the supervisor deletes it, and its
    /// blobs once no other artifact references them.
    pub artifact_retention: std::time::Duration,
    /// How often the supervisor looks for expired artifacts and unreferenced blobs.
    pub artifact_sweep_interval: std::time::Duration,
    /// The address people and forges reach this server at (`https://ferry.example.com`), for
    /// links in commit statuses and `github.server_url`; `None`: `http://<listen address>`, and
    /// commit statuses carry no link.
    pub public_url: Option<String>,
    /// How long a web UI login lasts, from the login (not renewed by use); then the person
    /// logs in again. The session cookie is `Secure` when `public_url` is `https://`.
    pub session_ttl: std::time::Duration,
    /// How long one git command the server runs (a fetch of a project's repository, a read of
    /// its workflows) may take before it is killed (with every process it started) and its
    /// trigger or poll fails saying so.
    pub git_timeout: std::time::Duration,
    /// Where reusable workflows of other repositories (`uses:
    /// owner/repo/.github/workflows/x.yml@ref`) are read from when a run is planned: the
    /// actions source the embedded runner fetches actions from. `None`: such calls fail the run,
    /// saying so.
    pub workflow_source: Option<WorkflowSourceRef>,
    /// What the server scrapes into its metrics store: its own `/metrics` and the configured
    /// targets (`[metrics]` in `ferry.toml`).
    pub scrape: ScrapeConfig,
    /// Prometheus rule files evaluated against the metrics store (besides each project's
    /// `.ferry/alerts/*.yml`); read at start, where an error stops the start.
    pub rule_files: Vec<PathBuf>,
    /// How often a rule group without an `interval` is evaluated.
    pub rule_interval: std::time::Duration,
    /// An Alertmanager configuration file (`alertmanager.yml`) that routes alerts to
    /// receivers; `None`: alerts are kept and listed, silences work, nothing is sent.
    pub alertmanager_config: Option<PathBuf>,
}

pub use forward::{DEFAULT_QUEUE as DEFAULT_REMOTE_WRITE_QUEUE, RemoteAuth, RemoteWriteConfig};
pub use scrape::{ScrapeConfig, ScrapeJob};

pub use pipeline::calls::{WorkflowSource, WorkflowSourceError};

/// A shared [`WorkflowSource`]; two are equal when they are the same one.
#[derive(Clone)]
pub struct WorkflowSourceRef(pub Arc<dyn WorkflowSource>);

impl std::fmt::Debug for WorkflowSourceRef {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WorkflowSource")
    }
}

impl PartialEq for WorkflowSourceRef {
    fn eq(&self, other: &WorkflowSourceRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for WorkflowSourceRef {}

/// The default [`ServerConfig::session_ttl`]: a working day.
pub const DEFAULT_SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(12 * 60 * 60);

/// The default [`ServerConfig::git_timeout`]: a clone of a large repository fits, a remote
/// that never answers is given up on.
pub const DEFAULT_GIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The default [`ServerConfig::artifact_retention`], GitHub's default: 90 days.
pub const DEFAULT_ARTIFACT_RETENTION: std::time::Duration = std::time::Duration::from_secs(90 * 24 * 60 * 60);

/// The default [`ServerConfig::poll_interval`]: often enough that schedules fire in their minute.
pub const DEFAULT_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

impl ServerConfig {
    /// The defaults for a data directory: [`DEFAULT_LISTEN`] and SQLite in the directory.
    pub fn new(data_dir: PathBuf) -> ServerConfig {
        ServerConfig {
            data_dir,
            listen: DEFAULT_LISTEN,
            database: None,
            poll_interval: DEFAULT_POLL_INTERVAL,
            lease_ms: ferry_proto::runner::LEASE_MS,
            artifact_retention: DEFAULT_ARTIFACT_RETENTION,
            artifact_sweep_interval: std::time::Duration::from_secs(60),
            public_url: None,
            session_ttl: DEFAULT_SESSION_TTL,
            git_timeout: DEFAULT_GIT_TIMEOUT,
            workflow_source: None,
            scrape: ScrapeConfig::default(),
            rule_files: Vec::new(),
            rule_interval: std::time::Duration::from_secs(60),
            alertmanager_config: None,
        }
    }

    /// The database URL the server opens.
    pub fn database_url(&self) -> String {
        match &self.database {
            Some(url) => url.clone(),
            None => self.data_dir.join("ferry.db").display().to_string(),
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A file or directory of the data directory could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    DataDir {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `secret.key` exists but does not hold a key.
    #[error("{} does not hold a 32-byte key; restore it from a backup (secrets cannot be read without it)", path.display())]
    BadKey { path: PathBuf },
    /// Opening or migrating the database failed.
    #[error("opening the database: {0}")]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A configured rule file has errors (each at file:line:col).
    #[error("reading the rule files:\n{0}")]
    Rules(rules::RuleFilesError),
    /// Serving connections failed.
    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),
    /// The Alertmanager configuration cannot be read or has errors.
    #[error(transparent)]
    Alerting(#[from] alerting::AlertingError),
}

/// What every handler shares; cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) secret_box: Arc<secret_box::SecretBox>,
    pub(crate) data_dir: PathBuf,
    pub(crate) pipeline: Arc<PipelineState>,
    /// Artifacts' bytes, under `<data_dir>/blobs`.
    pub(crate) blobs: blobs::Blobs,
    /// The blobs each runner's held jobs may read, as far as known (`blob_reads.rs`).
    pub(crate) blob_reads: Arc<blob_reads::BlobReads>,
    /// The room webhook bodies being read share, a permit per byte (`hooks.rs`).
    pub(crate) hook_bodies: Arc<tokio::sync::Semaphore>,
    /// How the web UI's sessions last and their cookie is sent.
    pub(crate) session: SessionSettings,
    /// The cache service jobs reach with their runtime token (`runtime.rs`).
    pub(crate) runtime: Arc<runtime::CacheService>,
    /// What deployments share: their lock and the agents' wake-up (`deployments.rs`).
    pub(crate) deploy: Arc<deployments::DeployState>,
    /// The metrics store in `<data_dir>/metrics`, opened by the first call that needs it
    /// (`prometheus.rs`).
    pub(crate) metrics: prometheus::MetricsStore,
    /// Each scrape target's last scrape (`scrape.rs`).
    pub(crate) scrape_health: scrape::Health,
    /// What is queued for `[metrics.remote_write]`, when the server forwards (`forward.rs`).
    pub(crate) forwarder: Option<Arc<forward::Forwarder>>,
    /// The Prometheus-compatible API that answers `/prometheus` queries instead of the
    /// store (`prometheus.rs`).
    pub(crate) query_backend: Option<Arc<prometheus::QueryBackend>>,
    /// The rule groups evaluated over the metrics store and their alerts (`rules.rs`).
    pub(crate) rules: Arc<rules::Rules>,
    /// Alert routing (`alerting.rs`).
    pub(crate) alertmanager: Arc<Alertmanager>,
}

impl axum::extract::FromRef<AppState> for Arc<runtime::CacheService> {
    fn from_ref(state: &AppState) -> Arc<runtime::CacheService> {
        state.runtime.clone()
    }
}

/// See [`ServerConfig::session_ttl`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionSettings {
    pub(crate) ttl_ms: i64,
    /// The cookie is sent only over HTTPS (the public URL is `https://`).
    pub(crate) secure: bool,
}

/// What the pipeline machinery shares across requests and the supervisor.
pub(crate) struct PipelineState {
    /// Where the coordinator and the supervisor read the time ([`SystemClock`] but in tests).
    pub(crate) clock: Arc<dyn Clock>,
    /// Serialises `pipeline::advance`, so two events of one run are planned one after the
    /// other, and holds the drivers of unfinished runs it keeps between calls.
    pub(crate) advance_lock: tokio::sync::Mutex<pipeline::RunCache>,
    /// Wakes waiting claims when jobs are enqueued.
    pub(crate) jobs_queued: tokio::sync::Notify,
    /// Bumped whenever a job or run completes or is cancelled; log followers wait on it.
    pub(crate) logs_changed: tokio::sync::watch::Sender<u64>,
    /// Log chunks as they are stored, for live viewers.
    pub(crate) log_feed: log_feed::LogFeed,
    /// The last commit a run was started for, told to the embedded runner
    /// ([`LocalRunner::upcoming_commits`]) so it checks the commit out while its job is planned.
    pub(crate) upcoming: tokio::sync::watch::Sender<Option<UpcomingCommit>>,
    /// How often repositories are polled for new commits and schedules checked (zero: never).
    pub(crate) poll_interval: std::time::Duration,
    /// See [`ServerConfig::lease_ms`].
    pub(crate) lease_ms: i64,
    /// See [`ServerConfig::artifact_retention`].
    pub(crate) artifact_retention: std::time::Duration,
    /// See [`ServerConfig::artifact_sweep_interval`].
    pub(crate) artifact_sweep_interval: std::time::Duration,
    /// Posts commit statuses to forges (`pipeline/status.rs`).
    pub(crate) forge_status: pipeline::StatusSender,
    /// See [`ServerConfig::public_url`]; without a trailing `/`.
    pub(crate) public_url: Option<String>,
    /// What `github.server_url` says: the public URL, or the address the server listens on.
    pub(crate) server_url: String,
    /// See [`ServerConfig::git_timeout`].
    pub(crate) git_timeout: std::time::Duration,
    /// See [`ServerConfig::workflow_source`].
    pub(crate) workflow_source: Option<Arc<dyn WorkflowSource>>,
    /// Turns `true` when the server's shutdown signal fires: open log streams end then, so
    /// the graceful shutdown does not wait for runs that will not complete.
    pub(crate) shutting_down: tokio::sync::watch::Sender<bool>,
}

/// A server bound to its address, not yet serving.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    admin_token_file: Option<PathBuf>,
    state: AppState,
    scrape: ScrapeConfig,
}

/// Prepares the data directory, opens the database, creates the first admin token when the
/// database has no token yet, and binds the listen address.
///
/// # Errors
/// [`ServerError::DataDir`] and [`ServerError::BadKey`] for the data directory's files,
/// [`ServerError::Store`] when the database cannot be opened, [`ServerError::Bind`] when the
/// address is taken or not allowed.
pub async fn bind(config: &ServerConfig) -> Result<Server, ServerError> {
    bind_with_clock(config, Arc::new(SystemClock)).await
}

/// [`bind`] with the clock the run coordinator and the supervisor read (leases, schedules),
/// for tests that move time instead of waiting for it.
///
/// # Errors
/// As [`bind`].
pub async fn bind_with_clock(config: &ServerConfig, clock: Arc<dyn Clock>) -> Result<Server, ServerError> {
    data_dir::create(&config.data_dir)?;
    let secret_box = secret_box::SecretBox::load_or_create(&config.data_dir.join("secret.key"))?;
    if config.database.is_none() {
        data_dir::private_database(&config.data_dir.join("ferry.db"))?;
    }
    let rules = rules::Rules::load(&config.rule_files, config.rule_interval).map_err(ServerError::Rules)?;
    let store = Store::open(&config.database_url()).await?;
    hooks::seal_webhook_secrets(&store, &secret_box).await?;
    let admin_token_file = auth::ensure_admin_token(&store, &config.data_dir).await?;
    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| ServerError::Bind { addr: config.listen, source })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind { addr: config.listen, source })?;
    let pipeline = PipelineState {
        clock,
        advance_lock: tokio::sync::Mutex::new(pipeline::RunCache::default()),
        jobs_queued: tokio::sync::Notify::new(),
        logs_changed: tokio::sync::watch::Sender::new(0),
        upcoming: tokio::sync::watch::Sender::new(None),
        log_feed: log_feed::LogFeed::new(),
        poll_interval: config.poll_interval,
        lease_ms: config.lease_ms,
        artifact_retention: config.artifact_retention,
        artifact_sweep_interval: config.artifact_sweep_interval,
        forge_status: pipeline::StatusSender::new(),
        public_url: config.public_url.as_ref().map(|url| url.trim_end_matches('/').to_owned()),
        server_url: config
            .public_url
            .as_ref()
            .map_or_else(|| format!("http://{local_addr}"), |url| url.trim_end_matches('/').to_owned()),
        git_timeout: config.git_timeout,
        workflow_source: config.workflow_source.as_ref().map(|source| source.0.clone()),
        shutting_down: tokio::sync::watch::Sender::new(false),
    };
    // git runs in other folders, so the mirrors' paths must not be relative.
    let data_dir = std::path::absolute(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    // Uploads a previous life of the server left unfinished cannot be committed any more.
    let staging = data_dir.join("cache-uploads");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|source| ServerError::DataDir {
        action: "creating",
        path: staging.clone(),
        source,
    })?;
    let backend = runtime::store_backend::StoreBackend {
        store: store.clone(),
        blobs: blobs::Blobs::new(&data_dir),
        key: secret_box.runtime_key(),
    };
    let runtime =
        runtime::CacheService::new(Box::new(backend), &pipeline.server_url, staging, runtime::uploads::DEFAULT_BUDGET);
    let alertmanager = Alertmanager::start(
        store.clone(),
        pipeline.clock.clone(),
        config.alertmanager_config.as_deref(),
        format!("{}/alertmanager", pipeline.server_url),
    )
    .await?;
    let state = AppState {
        alertmanager: Arc::new(alertmanager),
        runtime: Arc::new(runtime),
        deploy: Arc::new(deployments::DeployState::new()),
        metrics: prometheus::MetricsStore::default(),
        scrape_health: scrape::Health::default(),
        forwarder: config.scrape.remote_write.as_ref().map(|remote| Arc::new(forward::Forwarder::new(remote.queue))),
        query_backend: config.scrape.query_backend.as_deref().map(|url| Arc::new(prometheus::QueryBackend::new(url))),
        rules: Arc::new(rules),
        store,
        secret_box: Arc::new(secret_box),
        blobs: blobs::Blobs::new(&data_dir),
        blob_reads: Arc::default(),
        data_dir,
        pipeline: Arc::new(pipeline),
        hook_bodies: hooks::body_budget(),
        session: SessionSettings {
            ttl_ms: i64::try_from(config.session_ttl.as_millis()).unwrap_or(i64::MAX),
            secure: config.public_url.as_ref().is_some_and(|url| url.to_ascii_lowercase().starts_with("https://")),
        },
    };
    Ok(Server { listener, local_addr, admin_token_file, state, scrape: config.scrape.clone() })
}

/// [`bind`], then [`Server::run`].
///
/// # Errors
/// As [`bind`] and [`Server::run`].
pub async fn serve(
    config: &ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    bind(config).await?.run(shutdown).await
}

impl Server {
    /// The pending and firing alerts of the rules the server evaluates, as plain data for
    /// whoever routes notifications; shared with the server once it runs.
    pub fn alerts(&self) -> AlertsHandle {
        AlertsHandle(self.state.rules.clone())
    }

    /// The address the server listens on (with the real port when the config said port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Registers (or registers again) the runner `name` with `labels`, for a runner inside
    /// this process (`ferry server`'s embedded runner): its token, and the [`LocalRunner`] it
    /// hands its event batches to. Jobs it held before a restart are failed as lost.
    ///
    /// # Errors
    /// [`ServerError::Store`] when the database fails.
    pub async fn local_runner(&self, name: &str, labels: &[String]) -> Result<LocalRunner, ServerError> {
        let (runner_id, token) =
            api::runner::register_local(&self.state, name, labels).await.map_err(ServerError::Store)?;
        Ok(LocalRunner::new(self.state.clone(), runner_id, token))
    }

    /// The token of agent `name` (the host's own, `local`) for `ferry server` to hand to the
    /// agent process it starts: `existing` (the one it kept) while it still works, else a new
    /// one, registering the agent when it is not yet.
    ///
    /// # Errors
    /// [`ServerError::Store`] when the database fails.
    pub async fn local_agent_token(&self, name: &str, existing: Option<&str>) -> Result<String, ServerError> {
        api::agents::register_local(&self.state, name, existing).await.map_err(ServerError::Store)
    }

    /// Alert routing, for what in this process fires alerts (the rules evaluator calls
    /// [`Alertmanager::push`]).
    pub fn alertmanager(&self) -> Arc<Alertmanager> {
        self.state.alertmanager.clone()
    }

    /// The file the first admin token was written to, when this start created it.
    pub fn admin_token_file(&self) -> Option<&Path> {
        self.admin_token_file.as_deref()
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight (log streams
    /// that follow a run end at once, saying the server stops) and closes the database.
    ///
    /// # Errors
    /// [`ServerError::Serve`] when accepting connections fails.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        info!(addr = %self.local_addr, "serving on http://{}", self.local_addr);
        let store = self.state.store.clone();
        pipeline::spawn_supervisor(self.state.clone());
        scrape::spawn(&self.state, &self.scrape, self.local_addr);
        if let (Some(forwarder), Some(remote)) = (&self.state.forwarder, &self.scrape.remote_write) {
            forward::spawn(
                forwarder.clone(),
                remote.clone(),
                outbound::client(std::time::Duration::from_secs(10)),
                self.state.pipeline.shutting_down.subscribe(),
            );
        }
        rules::spawn(self.state.clone());
        incidents::spawn(self.state.clone());
        deployments::analysis::spawn(self.state.clone());
        slos::spawn(self.state.clone());
        tokio::spawn(self.state.alertmanager.clone().run(self.state.pipeline.shutting_down.subscribe()));
        let pipeline = self.state.pipeline.clone();
        let shutdown = async move {
            shutdown.await;
            pipeline.shutting_down.send_replace(true);
        };
        let app = router::router(self.state).layer(axum::middleware::from_fn(request_span));
        let res = axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await;
        store.close().await;
        res.map_err(ServerError::Serve)
    }
}

/// Runs each request in a `request` span (method and path; never the query, which may hold a
/// token), so what it logs, and `advance` when it moves a run, can be told apart by request.
async fn request_span(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let span = tracing::info_span!("request", method = %request.method(), path = %request.uri().path());
    tracing::Instrument::instrument(next.run(request), span).await
}

/// Every route the server answers, as (method, path) in the order of the route table; the
/// OpenAPI document at `/api/v1/openapi.json` describes exactly these.
pub fn routes() -> Vec<(String, &'static str)> {
    router::routes().into_iter().map(|route| (route.method.to_string(), route.path)).collect()
}

/// What a URL carries as it is (RFC 3986's unreserved characters: letters, digits, `-._~`);
/// every other byte is percent-encoded.
pub(crate) const URL_UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Every route the server answers, as (method, path, who may call it) in the order of the
/// route table; the route sweep test calls each as the access says.
pub fn route_access() -> Vec<(String, &'static str, Access)> {
    router::routes().into_iter().map(|route| (route.method.to_string(), route.path, route.access)).collect()
}

/// The server's alerts, readable while it runs ([`Server::alerts`]).
#[derive(Clone)]
pub struct AlertsHandle(Arc<rules::Rules>);

impl AlertsHandle {
    /// Every pending and firing alert now: labels (with `alertname`), annotations, state, since
    /// when, value.
    pub fn active(&self) -> Vec<ferry_rules::Alert> {
        rules::active_alerts(&self.0)
    }
}

/// The system's clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// Milliseconds since the Unix epoch, as the store takes times.
pub(crate) fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}
