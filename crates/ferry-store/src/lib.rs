//! Ferry's server state on SQLite (a file, WAL, the default) or PostgreSQL: the only crate that
//! knows SQL.
//!
//! Open a [`Store`] from a URL and reach each entity through its repository:
//!
//! ```no_run
//! # async fn example() -> Result<(), ferry_store::StoreError> {
//! use ferry_store::{NewProject, Store};
//! let store = Store::open("/var/lib/ferry/ferry.db").await?;
//! let project = store
//!     .projects()
//!     .create(&NewProject { name: "web", repo: "/srv/web.git", branch: "main", webhook_secret: "s" }, 0)
//!     .await?;
//! # let _ = project;
//! # Ok(())
//! # }
//! ```
//!
//! Both backends run the same SQL through sqlx's `Any` driver: queries use `$1` placeholders
//! (which SQLite also understands) and only portable types (64-bit integers, text, bytes).
//! Where the backends differ (claiming a job) the repository says so.
//!
//! Time is never read here: every method that records or compares a time takes `now` in
//! milliseconds since the Unix epoch, so tests control lease expiry.

mod agents;
mod alertmanager;
mod artifacts;
mod concurrency;
mod deliveries;
mod deployments;
mod dora;
mod incidents;
mod jobs;
mod logs;
mod projects;
mod releases;
mod runners;
mod runs;
mod secrets;
mod services;
mod sessions;
mod steps;
mod tokens;

use std::str::FromStr;

use sqlx::AnyConnection;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, ConnectOptions, Connection, Row, SqlSafeStr, Transaction};

pub use agents::{Agent, AgentHelloRecord, Agents, NewAgent};
pub use alertmanager::{AlertStateKind, Alertmanager, AlertmanagerState};
pub use artifacts::{Artifact, Artifacts, CacheEntries, CacheEntry, NewArtifact, NewCacheEntry};
pub use concurrency::{Acquired, ConcurrencyGroups};
pub use deliveries::Deliveries;
pub use deployments::{Deployment, DeploymentHost, DeploymentStatus, Deployments, HostReport, NewDeployment};
pub use dora::{BroughtCommit, Dora, Incident, LedgerDeployment, NewIncident, NewLedgerDeployment, UnitHistory};
pub use ferry_model::{Conclusion, Status};
pub use incidents::{ALERT_ACTOR, ActionKind, IncidentAction, IncidentAlert, Incidents, NewIncidentAlert};
pub use jobs::{AppendedChunk, Job, JobGate, JobState, Jobs, Lease, NewJob, Recorded, StepEvent};
pub use logs::{LogChunk, Logs, StepLog};
pub use projects::{NewProject, Project, Projects};
pub use releases::{NewRelease, ProjectBlobs, Release, ReleaseCommit, Releases};
pub use runners::{NewRunner, Runner, Runners};
pub use runs::{NewRun, Run, RunFilter, RunState, Runs};
pub use secrets::{Secret, Secrets, Variable, Variables};
pub use services::{NewServiceLogLine, ServiceEvent, ServiceEvents, ServiceLogLine, ServiceLogs, UnitRef};
pub use sessions::Sessions;
pub use steps::{NewStep, Step, Steps};
pub use tokens::{ApiToken, NewApiToken, Role, Tokens};

/// What can go wrong talking to the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the caller named does not exist (or is not in a state the call applies to).
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    /// A uniqueness rule or a state rule refused the write.
    #[error("conflicting write to {0}")]
    Conflict(String),
    /// The database failed or returned something this crate cannot read.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The URL names no backend this store supports.
    #[error("unsupported database URL {0:?}: use a file path, sqlite://… or postgres://…")]
    UnsupportedUrl(String),
}

impl StoreError {
    pub(crate) fn not_found(entity: &'static str, id: impl ToString) -> StoreError {
        StoreError::NotFound { entity, id: id.to_string() }
    }
}

/// Turns a unique-constraint violation into [`StoreError::Conflict`] naming `what`.
pub(crate) fn conflict_on_unique(what: impl Fn() -> String) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() || db.is_foreign_key_violation() => {
            StoreError::Conflict(what())
        }
        _ => StoreError::Db(error),
    }
}

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database; cheap to clone (it wraps a connection pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

static SQLITE_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/sqlite/0001_init.sql")),
    (2, "pipelines", include_str!("../migrations/sqlite/0002_pipelines.sql")),
    (3, "compressed_logs", include_str!("../migrations/sqlite/0003_compressed_logs.sql")),
    (4, "cache_scopes", include_str!("../migrations/sqlite/0004_cache_scopes.sql")),
    (5, "run_names", include_str!("../migrations/sqlite/0005_run_names.sql")),
    (6, "webhook_deliveries", include_str!("../migrations/sqlite/0006_webhook_deliveries.sql")),
    (7, "access", include_str!("../migrations/sqlite/0007_access.sql")),
    (8, "run_list_indexes", include_str!("../migrations/sqlite/0008_run_list_indexes.sql")),
    (9, "metric_totals", include_str!("../migrations/sqlite/0009_metric_totals.sql")),
    (10, "cache_versions", include_str!("../migrations/sqlite/0010_cache_versions.sql")),
    (13, "project_forge", include_str!("../migrations/sqlite/0013_project_forge.sql")),
    (14, "releases", include_str!("../migrations/sqlite/0014_releases.sql")),
    (15, "deployments", include_str!("../migrations/sqlite/0015_deployments.sql")),
    (16, "environment_jobs", include_str!("../migrations/sqlite/0016_environment_jobs.sql")),
    (17, "dora", include_str!("../migrations/sqlite/0017_dora.sql")),
    (18, "deployment_hosts", include_str!("../migrations/sqlite/0018_deployment_hosts.sql")),
    (19, "deployment_cancel", include_str!("../migrations/sqlite/0019_deployment_cancel.sql")),
    (21, "alertmanager", include_str!("../migrations/sqlite/0021_alertmanager.sql")),
    (23, "incident_alerts", include_str!("../migrations/sqlite/0023_incident_alerts.sql")),
    (26, "deployment_measurements", include_str!("../migrations/sqlite/0026_deployment_measurements.sql")),
];
static POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/postgres/0001_init.sql")),
    (2, "pipelines", include_str!("../migrations/postgres/0002_pipelines.sql")),
    (3, "compressed_logs", include_str!("../migrations/postgres/0003_compressed_logs.sql")),
    (4, "cache_scopes", include_str!("../migrations/postgres/0004_cache_scopes.sql")),
    (5, "run_names", include_str!("../migrations/postgres/0005_run_names.sql")),
    (6, "webhook_deliveries", include_str!("../migrations/postgres/0006_webhook_deliveries.sql")),
    (7, "access", include_str!("../migrations/postgres/0007_access.sql")),
    (8, "run_list_indexes", include_str!("../migrations/postgres/0008_run_list_indexes.sql")),
    (9, "metric_totals", include_str!("../migrations/postgres/0009_metric_totals.sql")),
    (10, "cache_versions", include_str!("../migrations/postgres/0010_cache_versions.sql")),
    (13, "project_forge", include_str!("../migrations/postgres/0013_project_forge.sql")),
    (14, "releases", include_str!("../migrations/postgres/0014_releases.sql")),
    (15, "deployments", include_str!("../migrations/postgres/0015_deployments.sql")),
    (16, "environment_jobs", include_str!("../migrations/postgres/0016_environment_jobs.sql")),
    (17, "dora", include_str!("../migrations/postgres/0017_dora.sql")),
    (18, "deployment_hosts", include_str!("../migrations/postgres/0018_deployment_hosts.sql")),
    (19, "deployment_cancel", include_str!("../migrations/postgres/0019_deployment_cancel.sql")),
    (21, "alertmanager", include_str!("../migrations/postgres/0021_alertmanager.sql")),
    (23, "incident_alerts", include_str!("../migrations/postgres/0023_incident_alerts.sql")),
    (26, "deployment_measurements", include_str!("../migrations/postgres/0026_deployment_measurements.sql")),
];

impl Store {
    /// Opens the database `url` names and applies pending migrations.
    ///
    /// `postgres://…` (or `postgresql://…`) opens PostgreSQL; `sqlite://…` or a plain file path
    /// opens (creating it if missing) an SQLite file in WAL mode (`synchronous = NORMAL`) with
    /// foreign keys enforced and a 5 s busy timeout (writers queue behind each other). A path is put into an sqlx URL as
    /// it is, so `?` starts URL parameters and paths with `?` or `#` in their names are not
    /// supported.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`] for another scheme, [`StoreError::Db`] when connecting
    /// fails, [`StoreError::Migrate`] when the schema cannot be brought up to date (for example
    /// a migration this binary knows was changed after it was applied).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            (Backend::Sqlite, sqlite_url(path))
        } else if url.contains("://") {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        } else {
            (Backend::Sqlite, sqlite_url(url))
        };
        let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
        if backend == Backend::Sqlite {
            // The journal mode is stored in the file; switching needs the only connection.
            let mut conn = options.connect().await?;
            sqlx::query("PRAGMA journal_mode = WAL").execute(&mut conn).await?;
            conn.close().await?;
        }
        let max_connections = match backend {
            Backend::Sqlite => 4,
            Backend::Postgres => 8,
        };
        let mut pool_options = AnyPoolOptions::new().max_connections(max_connections);
        if backend == Backend::Sqlite {
            // In WAL mode NORMAL syncs at checkpoints, not at every commit: a commit survives
            // the process being killed (the WAL is written before the commit returns; the
            // crash tests kill the server), and power loss can only undo the last commits,
            // never corrupt the file. Syncing every commit made each write wait for ext4's
            // journal, which the runner's workspace churn kept busy.
            pool_options = pool_options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA synchronous = NORMAL").execute(conn).await?;
                    Ok(())
                })
            });
        }
        let pool = pool_options.connect_with(options).await?;
        let store = Store { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers (a readiness probe).
    ///
    /// # Errors
    /// [`StoreError::Db`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection; later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let files = match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
        };
        let migrations = files
            .iter()
            .map(|&(version, description, sql)| {
                sqlx::migrate::Migration::new(
                    version,
                    description.into(),
                    sqlx::migrate::MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect::<Vec<_>>();
        let migrator = sqlx::migrate::Migrator { migrations: migrations.into(), ..sqlx::migrate::Migrator::DEFAULT };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so a transaction that reads before it writes waits for other
    /// writers instead of failing when it upgrades.
    async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Alert routing's durable state: alerts, silences, the notification log.
    pub fn alertmanager(&self) -> Alertmanager<'_> {
        Alertmanager { store: self }
    }
    /// Incidents as alerts open them: their alerts, acks and actions.
    pub fn incidents(&self) -> Incidents<'_> {
        Incidents { store: self }
    }
    /// Projects: name, repository, branch, webhook secret.
    pub fn projects(&self) -> Projects<'_> {
        Projects { store: self }
    }
    /// A project's encrypted secrets (ciphertext and nonce only).
    pub fn secrets(&self) -> Secrets<'_> {
        Secrets { store: self }
    }
    /// A project's plain variables.
    pub fn variables(&self) -> Variables<'_> {
        Variables { store: self }
    }
    /// API tokens, looked up by prefix and stored hashed.
    pub fn tokens(&self) -> Tokens<'_> {
        Tokens { store: self }
    }
    /// Registered runners, their labels and token hashes.
    pub fn runners(&self) -> Runners<'_> {
        Runners { store: self }
    }
    /// The web UI's login sessions, stored hashed.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions { store: self }
    }
    /// Runs, numbered per project.
    pub fn runs(&self) -> Runs<'_> {
        Runs { store: self }
    }
    /// Jobs and the durable queue runners claim them from.
    pub fn jobs(&self) -> Jobs<'_> {
        Jobs { store: self }
    }
    /// Steps of jobs.
    pub fn steps(&self) -> Steps<'_> {
        Steps { store: self }
    }
    /// Step logs in sequence-numbered chunks.
    pub fn logs(&self) -> Logs<'_> {
        Logs { store: self }
    }
    /// Artifact metadata.
    pub fn artifacts(&self) -> Artifacts<'_> {
        Artifacts { store: self }
    }
    /// Cache entry metadata.
    pub fn cache(&self) -> CacheEntries<'_> {
        CacheEntries { store: self }
    }
    /// Releases, numbered per project and service.
    pub fn releases(&self) -> Releases<'_> {
        Releases { store: self }
    }
    /// Blobs a project's people uploaded for releases made from files.
    pub fn project_blobs(&self) -> ProjectBlobs<'_> {
        ProjectBlobs { store: self }
    }
    /// Concurrency groups held by runs.
    pub fn concurrency(&self) -> ConcurrencyGroups<'_> {
        ConcurrencyGroups { store: self }
    }
    /// Agents: hosts that run services, their tokens, desired-state generations and reports.
    pub fn agents(&self) -> Agents<'_> {
        Agents { store: self }
    }
    /// Deployments of releases to environments, with their gates and outcomes.
    pub fn deployments(&self) -> Deployments<'_> {
        Deployments { store: self }
    }
    /// The DORA keys' events: the ledger of finished deployments, their commits, incidents.
    pub fn dora(&self) -> Dora<'_> {
        Dora { store: self }
    }
    /// What agents told about the services they run.
    pub fn service_events(&self) -> ServiceEvents<'_> {
        ServiceEvents { store: self }
    }
    /// The output of services' replicas.
    pub fn service_logs(&self) -> ServiceLogs<'_> {
        ServiceLogs { store: self }
    }
    /// Webhook delivery ids seen lately, so a delivery sent again starts nothing.
    pub fn deliveries(&self) -> Deliveries<'_> {
        Deliveries { store: self }
    }
}

/// Which projects a token or runner reaches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProjectScope {
    /// Every project, present and future.
    #[default]
    All,
    /// Only these projects (by id); none when empty.
    Projects(Vec<i64>),
}

impl ProjectScope {
    /// Whether project `project_id` is in the scope.
    pub fn allows(&self, project_id: i64) -> bool {
        match self {
            ProjectScope::All => true,
            ProjectScope::Projects(ids) => ids.contains(&project_id),
        }
    }
}

/// The owner tables of a [`ProjectScope`]: `api_tokens` (rows in `api_token_projects`,
/// keyed by `token_id`) and `runners` (`runner_projects`, `runner_id`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum ScopeOwner {
    Token,
    Runner,
}

impl ScopeOwner {
    fn tables(self) -> (&'static str, &'static str, &'static str) {
        match self {
            ScopeOwner::Token => ("api_tokens", "api_token_projects", "token_id"),
            ScopeOwner::Runner => ("runners", "runner_projects", "runner_id"),
        }
    }
}

/// Replaces the scope of token or runner `id`, inside the caller's transaction.
pub(crate) async fn write_scope(
    tx: &mut Transaction<'static, Any>,
    owner: ScopeOwner,
    id: i64,
    scope: &ProjectScope,
) -> Result<(), StoreError> {
    let (table, rows, col) = owner.tables();
    let scoped = i64::from(matches!(scope, ProjectScope::Projects(_)));
    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE {table} SET scoped = $1 WHERE id = $2")))
        .bind(scoped)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {rows} WHERE {col} = $1")))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    if let ProjectScope::Projects(ids) = scope {
        let mut ids = ids.clone();
        ids.sort_unstable();
        ids.dedup();
        for project_id in ids {
            sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {rows} ({col}, project_id) VALUES ($1, $2)")))
                .bind(id)
                .bind(project_id)
                .execute(&mut **tx)
                .await
                .map_err(conflict_on_unique(|| format!("project {project_id} (it does not exist)")))?;
        }
    }
    Ok(())
}

/// The scope of token or runner `id`, whose row says `scoped`.
pub(crate) async fn read_scope(
    store: &Store,
    owner: ScopeOwner,
    id: i64,
    scoped: i64,
) -> Result<ProjectScope, StoreError> {
    if scoped == 0 {
        return Ok(ProjectScope::All);
    }
    let (_, rows, col) = owner.tables();
    let ids: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT project_id FROM {rows} WHERE {col} = $1 ORDER BY project_id"
    )))
    .bind(id)
    .fetch_all(&store.pool)
    .await?;
    Ok(ProjectScope::Projects(ids))
}

/// How long completed rows of a table took, as a histogram: how many fall in each bucket
/// (`bounds_ms` are the buckets' upper bounds; one more bucket takes the rest), their sum and
/// their count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Durations {
    pub per_bucket: Vec<u64>,
    pub sum_ms: i64,
    pub count: u64,
}

/// The upper bounds of the duration histograms' buckets, in milliseconds; one more bucket
/// takes the rest. The store keeps totals per bucket (`metric_totals`, whose migration repeats
/// these bounds), so changing them needs a migration that counts again.
pub const DURATION_BUCKETS_MS: [i64; 10] =
    [100, 500, 1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000];

impl Store {
    /// [`Durations`] of completed runs or steps (`metric`), from their totals: no scan.
    async fn durations(&self, metric: &str) -> Result<Durations, StoreError> {
        let rows = sqlx::query("SELECT label, n, sum_ms FROM metric_totals WHERE metric = $1")
            .bind(metric)
            .fetch_all(&self.pool)
            .await?;
        let mut durations = Durations { per_bucket: vec![0; DURATION_BUCKETS_MS.len() + 1], ..Durations::default() };
        for row in rows {
            let label: String = row.try_get("label")?;
            let n_rows: i64 = row.try_get("n")?;
            let total: i64 = row.try_get("sum_ms")?;
            let slot = label.parse::<usize>().ok().and_then(|idx| durations.per_bucket.get_mut(idx));
            let Some(slot) = slot else { return Err(decode_error("label", &label)) };
            *slot += u64::try_from(n_rows).unwrap_or_default();
            durations.count += u64::try_from(n_rows).unwrap_or_default();
            durations.sum_ms += total;
        }
        Ok(durations)
    }

    /// How long completed runs took (from start to finish), bucketed by [`DURATION_BUCKETS_MS`].
    pub async fn run_durations(&self) -> Result<Durations, StoreError> {
        self.durations("run_duration").await
    }

    /// How long completed steps took, bucketed by [`DURATION_BUCKETS_MS`].
    pub async fn step_durations(&self) -> Result<Durations, StoreError> {
        self.durations("step_duration").await
    }
}

/// Adds one to the total `metric`/`label` and `sum_ms` to its sum, in the caller's transaction.
async fn add_to_total(conn: &mut AnyConnection, metric: &str, label: &str, sum_ms: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO metric_totals (metric, label, n, sum_ms) VALUES ($1, $2, 1, $3)
         ON CONFLICT (metric, label) DO UPDATE SET n = metric_totals.n + 1, sum_ms = metric_totals.sum_ms + excluded.sum_ms",
    )
    .bind(metric)
    .bind(label)
    .bind(sum_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts a completed run or step (`metric`) that ran from `started_at` to `finished_at` in
/// its duration histogram; one that never started is not counted.
async fn add_duration(
    conn: &mut AnyConnection,
    metric: &str,
    started_at: Option<i64>,
    finished_at: Option<i64>,
) -> Result<(), StoreError> {
    let (Some(started_at), Some(finished_at)) = (started_at, finished_at) else { return Ok(()) };
    let duration = finished_at - started_at;
    let bucket = DURATION_BUCKETS_MS.iter().position(|bound| duration <= *bound).unwrap_or(DURATION_BUCKETS_MS.len());
    add_to_total(conn, metric, &bucket.to_string(), duration).await
}

/// The sqlx URL of the SQLite file at `path`, created if missing.
fn sqlite_url(path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("sqlite://{path}{sep}mode=rwc")
}

/// Reads a status column.
fn status_col(row: &AnyRow, col: &str) -> Result<Status, StoreError> {
    let text: String = row.try_get(col)?;
    match text.as_str() {
        "queued" => Ok(Status::Queued),
        "in_progress" => Ok(Status::InProgress),
        "completed" => Ok(Status::Completed),
        _ => Err(decode_error(col, &text)),
    }
}

/// Reads a nullable conclusion column.
fn conclusion_col(row: &AnyRow, col: &str) -> Result<Option<Conclusion>, StoreError> {
    let text: Option<String> = row.try_get(col)?;
    let Some(text) = text else { return Ok(None) };
    let conclusion =
        [Conclusion::Success, Conclusion::Failure, Conclusion::Cancelled, Conclusion::Skipped, Conclusion::Neutral]
            .into_iter()
            .find(|conclusion| conclusion.as_str() == text);
    conclusion.map(Some).ok_or_else(|| decode_error(col, &text))
}

/// Reads a column that holds a JSON list of strings.
fn labels_col(row: &AnyRow, col: &str) -> Result<Vec<String>, StoreError> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|_| decode_error(col, &text))
}

fn labels_json(labels: &[String]) -> String {
    serde_json::to_string(labels).expect("a list of strings always serialises")
}

fn decode_error(col: &str, value: &str) -> StoreError {
    StoreError::Db(sqlx::Error::ColumnDecode {
        index: col.to_owned(),
        source: format!("unexpected value {value:?}").into(),
    })
}

#[cfg(test)]
mod tests;
