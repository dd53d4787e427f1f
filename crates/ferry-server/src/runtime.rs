//! The runtime services a job's steps and actions reach through `ACTIONS_RUNTIME_URL`,
//! `ACTIONS_CACHE_URL` and `ACTIONS_RESULTS_URL` with `ACTIONS_RUNTIME_TOKEN`: GitHub's cache
//! service, in both protocols the `@actions/cache` versions in use speak, so JavaScript
//! actions that bundle it (`Swatinem/rust-cache`, `setup-node` with `cache:`, …) save and
//! restore through Ferry.
//!
//! - The legacy one (`legacy.rs`): `GET {ACTIONS_CACHE_URL}_apis/artifactcache/cache?keys=&version=`
//!   answers an `archiveLocation`; `POST …/caches` reserves an upload, `PATCH …/caches/{id}`
//!   sends chunks with `Content-Range`, `POST …/caches/{id}` commits it with its size.
//! - The results service (`twirp.rs`): twirp JSON at `/twirp/github.actions.results.api.v1.CacheService/…`
//!   on the host of `ACTIONS_RESULTS_URL` (the toolkit resolves `/twirp/…` against it, so its
//!   path is dropped): `CreateCacheEntry` answers a signed upload URL the Azure Blob SDK
//!   uploads to (`blob.rs`: one `PUT` with `x-ms-blob-type: BlockBlob`, or blocks and a block
//!   list), `FinalizeCacheEntryUpload` commits it, `GetCacheEntryDownloadURL` answers a
//!   signed download URL.
//!
//! One [`CacheService`] holds what both share: the uploads being made (`uploads.rs`: staged in
//! a folder, bounded per entry and in total, never restorable before they are committed
//! whole), the signed URLs (random tickets in the query, which the server never logs), and a
//! [`CacheBackend`] that says who a token is and keeps the entries: the server's store with
//! its scopes by ref (`store_backend.rs`, tokens in `token.rs`) or `ferry run`'s cache folder
//! (`folder.rs`, served by [`LocalService`] on loopback for the run's duration). Entries are
//! immutable per scope, key and version, as on GitHub; an entry matches a lookup only with
//! the version the toolkit sends (a hash of the paths and the compression).

pub(crate) mod blob;
pub(crate) mod folder;
pub(crate) mod legacy;
pub(crate) mod store_backend;
pub(crate) mod token;
pub(crate) mod twirp;
pub(crate) mod uploads;

use std::collections::HashMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tracing::error;

/// A future a [`CacheBackend`] returns.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The largest entry the service takes, GitHub's limit.
pub(crate) const MAX_ENTRY_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// How long a signed URL and an upload left without a request stay valid.
pub(crate) const TICKET_TTL: Duration = Duration::from_secs(60 * 60);

/// Longest key GitHub accepts.
const MAX_KEY_LEN: usize = 512;

/// Most keys one lookup may name (the key and its restore keys), as on GitHub.
const MAX_KEYS: usize = 10;

/// Who called the service, as its [`CacheBackend`] vouched for the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// For messages and logs: `job 12 of run 4`, `ferry run`.
    pub(crate) name: String,
    /// The project whose entries it reaches (0 for `ferry run`).
    pub(crate) project_id: i64,
    pub(crate) run_id: Option<i64>,
    pub(crate) job_id: Option<i64>,
    /// Where its saves go (the run's ref on the server).
    pub(crate) save_scope: String,
    /// Where it restores from, in search order.
    pub(crate) readable: Vec<String>,
}

/// An entry a lookup found, and the file that holds its archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) key: String,
    pub(crate) version: String,
    pub(crate) scope: String,
    pub(crate) archive: PathBuf,
    pub(crate) size: u64,
    /// Milliseconds since the Unix epoch.
    pub(crate) created_at: i64,
}

/// Why the service refused a request; each protocol answers it in its own shape.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RuntimeError {
    /// No token, or one that is not a live job's.
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// The scope has the entry (or another job is uploading it): entries are immutable.
    #[error("{0}")]
    Taken(String),
    /// Over the entry's size or the service's upload budget.
    #[error("{0}")]
    TooLarge(String),
    /// Logged; the caller is told to look at the server's log.
    #[error("{0}")]
    Internal(String),
}

impl RuntimeError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            RuntimeError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            RuntimeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            RuntimeError::NotFound(_) => StatusCode::NOT_FOUND,
            RuntimeError::Taken(_) => StatusCode::CONFLICT,
            RuntimeError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            RuntimeError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message a client sees: an internal error's details stay in the log.
    pub(crate) fn public_message(&self) -> String {
        match self {
            RuntimeError::Internal(message) => {
                error!(%message, "the cache service failed: {message}");
                "the cache service failed; see the server's log".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl From<ferry_store::StoreError> for RuntimeError {
    fn from(error: ferry_store::StoreError) -> RuntimeError {
        match error {
            ferry_store::StoreError::Conflict(message) => RuntimeError::Taken(message),
            other => RuntimeError::Internal(other.to_string()),
        }
    }
}

/// The refusal in the legacy protocol's shape: `{"message": …}`, which the toolkit's HTTP
/// client shows.
impl IntoResponse for RuntimeError {
    fn into_response(self) -> Response {
        (self.status(), Json(ferry_proto::runtime::LegacyError { message: self.public_message() })).into_response()
    }
}

/// Where a job's entries are kept and who its tokens are: the server's store or a folder.
pub(crate) trait CacheBackend: Send + Sync {
    /// The caller `token` (from `Authorization: Bearer`) stands for.
    fn authorize<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, RuntimeError>>;

    /// The entry to restore for `keys` (the key, then the restore keys) with `version`: in
    /// each readable scope in turn, the first key exactly, else the newest entry whose key
    /// starts with it, else the same for each further key.
    fn lookup<'a>(
        &'a self,
        caller: &'a Caller,
        keys: &'a [String],
        version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Found>, RuntimeError>>;

    /// Whether the caller's save scope has an entry under `key` and `version`.
    fn exists<'a>(
        &'a self,
        caller: &'a Caller,
        key: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<bool, RuntimeError>>;

    /// Keeps the whole archive `archive` (given up: moved or removed) as the entry `key` and
    /// `version` of the caller's save scope; its id.
    ///
    /// # Errors
    /// [`RuntimeError::Taken`] when the scope has that entry already.
    fn save<'a>(
        &'a self,
        caller: &'a Caller,
        key: &'a str,
        version: &'a str,
        archive: &'a Path,
        size: u64,
    ) -> BoxFuture<'a, Result<i64, RuntimeError>>;
}

/// The cache service: a backend, the uploads in flight and the download tickets.
pub(crate) struct CacheService {
    backend: Box<dyn CacheBackend>,
    /// Where signed URLs point: the service's own address, without a trailing `/`.
    base_url: String,
    uploads: uploads::Uploads,
    downloads: Mutex<HashMap<u64, Download>>,
}

/// A signed download URL's ticket.
struct Download {
    ticket: String,
    archive: PathBuf,
    size: u64,
    expires: Instant,
}

impl std::fmt::Debug for CacheService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheService").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl CacheService {
    /// A service over `backend` reached at `base_url`, staging uploads in `staging` (on the
    /// file system the backend keeps its archives on, so saving renames) up to `budget`
    /// bytes in all.
    pub(crate) fn new(backend: Box<dyn CacheBackend>, base_url: &str, staging: PathBuf, budget: u64) -> CacheService {
        CacheService {
            backend,
            base_url: base_url.trim_end_matches('/').to_owned(),
            uploads: uploads::Uploads::new(staging, budget),
            downloads: Mutex::new(HashMap::new()),
        }
    }

    /// A signed URL that downloads `found`'s archive, without a token, for [`TICKET_TTL`].
    fn download_url(&self, found: &Found) -> String {
        let ticket = new_ticket();
        let now = Instant::now();
        let mut downloads = self.downloads.lock().expect("no thread panics holding the download tickets");
        downloads.retain(|_, download| download.expires > now);
        let id = loop {
            let id = u64::from_le_bytes(crate::data_dir::random_bytes::<8>()) >> 12;
            if !downloads.contains_key(&id) {
                break id;
            }
        };
        downloads.insert(
            id,
            Download {
                ticket: ticket.clone(),
                archive: found.archive.clone(),
                size: found.size,
                expires: now + TICKET_TTL,
            },
        );
        format!("{}/_apis/ferry-cache/archives/{id}?sig={ticket}", self.base_url)
    }

    /// The archive and size a download ticket stands for.
    fn download(&self, id: u64, sig: &str) -> Result<(PathBuf, u64), RuntimeError> {
        let downloads = self.downloads.lock().expect("no thread panics holding the download tickets");
        match downloads.get(&id) {
            Some(download) if download.expires > Instant::now() && same(&download.ticket, sig) => {
                Ok((download.archive.clone(), download.size))
            }
            _ => Err(RuntimeError::NotFound(format!(
                "cache archive {id} is not here or its signed URL expired; look the entry up again"
            ))),
        }
    }
}

/// A random ticket for a signed URL: 32 bytes in hex.
pub(crate) fn new_ticket() -> String {
    hex::encode(crate::data_dir::random_bytes::<32>())
}

/// Constant-time equality of two secrets.
pub(crate) fn same(expected: &str, given: &str) -> bool {
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// Checks a key and the version the toolkit sends with it.
pub(crate) fn check_entry_name(key: &str, version: &str) -> Result<(), RuntimeError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || key.contains(',') {
        return Err(RuntimeError::BadRequest(format!(
            "cache key {key:?} must be 1 to {MAX_KEY_LEN} characters without commas"
        )));
    }
    if version.is_empty() || version.len() > 128 || !version.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
        return Err(RuntimeError::BadRequest(format!(
            "cache version {version:?} must be 1 to 128 letters and digits (the toolkit sends a SHA-256 in hex)"
        )));
    }
    Ok(())
}

/// Checks the keys of a lookup.
fn check_lookup(keys: &[String], version: &str) -> Result<(), RuntimeError> {
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(RuntimeError::BadRequest(format!("a lookup names 1 to {MAX_KEYS} keys, not {}", keys.len())));
    }
    keys.iter().try_for_each(|key| check_entry_name(key, version))
}

/// The caller of a request, from its `Authorization: Bearer` runtime token.
pub(crate) struct RuntimeCaller(pub(crate) Caller);

impl<S: Send + Sync> FromRequestParts<S> for RuntimeCaller
where
    Arc<CacheService>: FromRef<S>,
{
    type Rejection = RuntimeError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<RuntimeCaller, RuntimeError> {
        let service = Arc::<CacheService>::from_ref(state);
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                RuntimeError::Unauthenticated(
                    "the cache service needs `Authorization: Bearer $ACTIONS_RUNTIME_TOKEN`".to_owned(),
                )
            })?;
        service.backend.authorize(token).await.map(RuntimeCaller)
    }
}

/// The routes of the service, as (method, path, handler) over any state that holds the
/// service; the server's route table and [`LocalService`] both list them.
pub(crate) fn routes<S>() -> Vec<(axum::http::Method, &'static str, axum::routing::MethodRouter<S>)>
where
    S: Clone + Send + Sync + 'static,
    Arc<CacheService>: FromRef<S>,
{
    use axum::http::Method as M;
    use axum::routing::{get, patch, post, put};
    vec![
        (M::GET, legacy::LOOKUP, get(legacy::lookup)),
        (M::POST, legacy::RESERVE, post(legacy::reserve)),
        (M::PATCH, legacy::CACHE, patch(legacy::upload_chunk)),
        (M::POST, legacy::CACHE, post(legacy::commit)),
        (M::POST, twirp::CREATE, post(twirp::create_cache_entry)),
        (M::POST, twirp::FINALIZE, post(twirp::finalize_cache_entry_upload)),
        (M::POST, twirp::DOWNLOAD_URL, post(twirp::get_cache_entry_download_url)),
        (M::PUT, blob::UPLOAD, put(blob::upload)),
        (M::GET, blob::ARCHIVE, get(blob::download)),
    ]
}

/// The cache service of `ferry run`: served on loopback for the run's duration, over a
/// cache folder, for one token, and also on the container engine's bridge for the run's
/// containers when asked ([`LocalService::start_on`]). Stops when dropped.
#[derive(Debug)]
pub struct LocalService {
    url: String,
    container_url: Option<String>,
    token: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LocalService {
    /// Serves the service on `127.0.0.1` (a port the system picks) over the cache folder
    /// `cache` (its `toolkit/` folder holds the archives).
    ///
    /// # Errors
    /// When the folder cannot be made or the port bound.
    pub async fn start(cache: &Path) -> std::io::Result<LocalService> {
        LocalService::start_on(cache, None).await
    }

    /// [`LocalService::start`], and with `containers` (the container engine's bridge
    /// gateway, an address of this host that containers reach and nothing beyond the host
    /// does) also on that address, for steps and actions that run in containers: loopback is
    /// theirs, not the host's. Both answer for the same token and folder; each signs URLs to
    /// itself, so a client is sent back where it came from.
    ///
    /// # Errors
    /// When the folder cannot be made or a port bound.
    pub async fn start_on(cache: &Path, containers: Option<std::net::IpAddr>) -> std::io::Result<LocalService> {
        let root = cache.join("toolkit");
        tokio::fs::create_dir_all(root.join(".uploads")).await?;
        let token = format!("ferryl_{}", new_ticket());
        let (url, task) = serve_folder(&root, &token, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        let mut tasks = vec![task];
        let mut container_url = None;
        if let Some(address) = containers {
            let (url, task) = serve_folder(&root, &token, SocketAddr::from((address, 0))).await?;
            tasks.push(task);
            container_url = Some(url);
        }
        Ok(LocalService { url, container_url, token, tasks })
    }

    /// The service's address, `http://127.0.0.1:PORT` (without a trailing `/`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its address for containers, `http://GATEWAY:PORT`, when it was asked to serve them.
    pub fn container_url(&self) -> Option<&str> {
        self.container_url.as_deref()
    }

    /// The run's `ACTIONS_RUNTIME_TOKEN`.
    pub fn token(&self) -> &str {
        &self.token
    }
}

/// Serves the cache service over the folder `root` for `token` on `address`: its URL and
/// the task serving it.
async fn serve_folder(
    root: &Path,
    token: &str,
    address: SocketAddr,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let backend = folder::FolderBackend::new(root.to_path_buf(), token.to_owned());
    let service = Arc::new(CacheService::new(Box::new(backend), &url, root.join(".uploads"), uploads::DEFAULT_BUDGET));
    let router = routes::<Arc<CacheService>>()
        .into_iter()
        .fold(axum::Router::new(), |router, (_, path, endpoint)| router.route(path, endpoint))
        .fallback(async || RuntimeError::NotFound("the cache service has no such route".to_owned()))
        .with_state(service);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            error!(%error, "the local cache service stopped: {error}");
        }
    });
    Ok((url, task))
}

impl Drop for LocalService {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests;
