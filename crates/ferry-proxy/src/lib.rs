//! Ferry's reverse proxy, which the agent runs: one listener per service and environment, in
//! front of the service's replicas.
//!
//! - Clients speak HTTP/1.1 (keep-alive) or HTTP/2 (h2c, prior knowledge); backends are
//!   reached over the proxy's own keep-alive HTTP/1.1 connections, a few kept per backend
//!   ([`pool`]). Bodies are streamed both ways, `Upgrade`s
//!   (WebSockets) are passed through, `X-Forwarded-*` added, hop-by-hop headers removed
//!   ([`forward`]).
//! - The agent decides which replicas are healthy and how much traffic each release gets:
//!   [`Proxy::set_routes`] replaces the table at once ([`routes`]); a replica leaving it takes
//!   no new request, and [`Proxy::drain`] waits for the ones it has.
//! - A backend that does not answer a request's headers within the response timeout gets the
//!   client a 504; the hops in front of the proxy whose `X-Forwarded-Proto` and
//!   `-Host` are believed are listed too ([`ProxyOptions`], [`Proxy::set_options`]).
//! - Per release it counts requests, errors and a latency histogram ([`Proxy::traffic`], fed
//!   to the rollout's analysis), exported as Prometheus text by [`render_metrics`].
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use ferry_proxy::{Backend, Proxy, Routes};
//! let proxy = Proxy::bind("127.0.0.1:8002".parse().expect("an address")).await?;
//! let backend = Backend { id: "web-7-1".into(), release: 7, addr: "127.0.0.1:41000".parse().expect("an address") };
//! proxy.set_routes(Routes { backends: vec![backend], weights: vec![] });
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use ferry_proto::agent::ReleaseTraffic;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

mod forward;
mod metrics;
mod pool;
mod routes;
mod stats;
mod tls;

pub use metrics::render_metrics;
pub use routes::{Backend, Routes};
pub use tls::{TlsCert, TlsError};

use routes::{BackendLoad, Choice, Table};

/// How often the files of the proxy's certificates are looked at for a change.
pub const TLS_RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// How long a client may take over its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a backend may take to answer when nothing else is set: nginx's
/// `proxy_read_timeout`.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// How the proxy treats the requests it forwards; [`Proxy::set_options`] changes them while
/// it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyOptions {
    /// How long a backend may take to answer a request's headers (the body may stream for
    /// longer): past it the client gets 504 and the request counts as an error of the
    /// backend's release.
    pub response_timeout: Duration,
    /// The addresses of the hops in front of the proxy (a load balancer that terminates TLS)
    /// whose `X-Forwarded-Proto` and `X-Forwarded-Host` are passed on to the backend. From any
    /// other client they are replaced by `http` and the request's `Host`: a client cannot
    /// pretend to have come over HTTPS.
    pub trusted_hops: Vec<IpAddr>,
}

impl Default for ProxyOptions {
    fn default() -> ProxyOptions {
        ProxyOptions { response_timeout: DEFAULT_RESPONSE_TIMEOUT, trusted_hops: Vec::new() }
    }
}
/// What the listener does with a new connection.
#[derive(Debug, Clone)]
enum TlsState {
    /// Plain HTTP.
    Off,
    /// TLS with these certificates.
    On(Arc<tls::Tls>),
    /// TLS was asked for but no certificate could be read: connections are closed at once
    /// (nothing is served in the clear on a port meant for TLS).
    Unusable,
}

impl TlsState {
    fn tls(&self) -> Option<Arc<tls::Tls>> {
        match self {
            TlsState::On(tls) => Some(tls.clone()),
            TlsState::Off | TlsState::Unusable => None,
        }
    }
}

/// A running proxy: one listener and its routing table. Cheap to clone; every clone is the
/// same proxy. It serves until [`Proxy::shutdown`], or until its last clone is dropped (which
/// stops the listener the same way, without waiting).
#[derive(Debug, Clone)]
pub struct Proxy {
    shared: Arc<Shared>,
    _handle: Arc<StopOnDrop>,
}

/// Held by every clone of a [`Proxy`] (and not by its connections): the last one dropped
/// stops the listener.
#[derive(Debug)]
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// What the listener's connections and the agent's handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    local_addr: SocketAddr,
    table: RwLock<Table>,
    /// Every backend of the table, and those that left it with requests in flight.
    loads: Mutex<HashMap<String, Arc<BackendLoad>>>,
    /// The connections to each backend address of the table.
    pools: Mutex<HashMap<SocketAddr, Arc<pool::Pool>>>,
    pub(crate) stats: stats::Stats,
    options: RwLock<ProxyOptions>,
    /// Whether the listener terminates TLS, and with which certificates.
    tls: RwLock<TlsState>,
    /// Whether the task that reloads changed certificates runs.
    tls_watched: AtomicBool,
    stopping: AtomicBool,
    stop: Notify,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl Shared {
    /// Chooses a backend under the table's lock (see [`Table::pick`]).
    pub(crate) fn pick(&self, exclude: Option<&str>) -> Option<Choice> {
        self.table.read().unwrap_or_else(PoisonError::into_inner).pick(exclude)
    }

    /// The response timeout, and whether `client` is a trusted hop.
    pub(crate) fn request_options(&self, client: IpAddr) -> (Duration, bool) {
        let options = self.options.read().unwrap_or_else(PoisonError::into_inner);
        let client = client.to_canonical();
        (options.response_timeout, options.trusted_hops.iter().any(|hop| hop.to_canonical() == client))
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.stop.notify_waiters();
    }

    async fn stopped(&self) {
        loop {
            let notified = self.stop.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.stopping.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

impl Proxy {
    /// Binds `addr` and starts serving, with no backend (every request gets 503 until
    /// [`Proxy::set_routes`]).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            local_addr,
            table: RwLock::new(Table::default()),
            loads: Mutex::new(HashMap::new()),
            pools: Mutex::new(HashMap::new()),
            stats: stats::Stats::default(),
            options: RwLock::new(ProxyOptions::default()),
            tls: RwLock::new(TlsState::Off),
            tls_watched: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
            acceptor: Mutex::new(None),
        });
        let acceptor = tokio::spawn(accept(listener, shared.clone()));
        *shared.acceptor.lock().unwrap_or_else(PoisonError::into_inner) = Some(acceptor);
        Ok(Proxy { _handle: Arc::new(StopOnDrop(shared.clone())), shared })
    }

    /// The address it listens on (with the port the system chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Replaces the routing table at once: the backends that may take new requests (only
    /// healthy replicas; the agent decides health) and the weight per release (percent;
    /// releases not listed get no traffic; empty = all releases share equally by backend).
    /// A listed release without a backend gets nothing: its share goes to the others.
    pub fn set_routes(&self, routes: Routes) {
        // The table's lock first, as in `drain`: no request is choosing a backend while the
        // loads of the backends that leave are looked at, so none is missed by a drain.
        let mut table = self.shared.table.write().unwrap_or_else(PoisonError::into_inner);
        let mut loads = self.shared.loads.lock().unwrap_or_else(PoisonError::into_inner);
        let mut pools = self.shared.pools.lock().unwrap_or_else(PoisonError::into_inner);
        *table = Table::build(&routes, &mut loads, &mut pools);
    }

    /// Replaces the options (the defaults until then) for the requests that come next.
    pub fn set_options(&self, options: ProxyOptions) {
        *self.shared.options.write().unwrap_or_else(PoisonError::into_inner) = options;
    }

    /// Terminates TLS with `certs` from the next connection on (the first whose names cover
    /// the name a client asks for, else the first), or serves plain HTTP when `certs` is
    /// empty. The files are read now, and again whenever they change (looked at every
    /// [`TLS_RELOAD_INTERVAL`]). The same list as before changes nothing.
    ///
    /// # Errors
    /// A file that cannot be read, holds no PEM certificate or key, or a key that is not the
    /// certificate's: certificates in force stay; a listener that served plain HTTP closes
    /// every new connection until a call succeeds (it never serves in the clear what was
    /// meant to go over TLS).
    pub fn set_tls(&self, certs: Vec<TlsCert>) -> Result<(), TlsError> {
        let current = self.shared.tls.read().unwrap_or_else(PoisonError::into_inner).clone();
        let same = match &current {
            TlsState::Off => certs.is_empty(),
            TlsState::On(tls) => tls.files() == certs.as_slice(),
            TlsState::Unusable => false,
        };
        if same {
            return Ok(());
        }
        let state = if certs.is_empty() {
            TlsState::Off
        } else {
            match tls::Tls::new(certs) {
                Ok(tls) => TlsState::On(Arc::new(tls)),
                Err(error) => {
                    if matches!(current, TlsState::Off) {
                        *self.shared.tls.write().unwrap_or_else(PoisonError::into_inner) = TlsState::Unusable;
                    }
                    return Err(error);
                }
            }
        };
        *self.shared.tls.write().unwrap_or_else(PoisonError::into_inner) = state;
        if !self.shared.tls_watched.swap(true, Ordering::AcqRel) {
            tokio::spawn(watch_tls(self.shared.clone()));
        }
        Ok(())
    }

    /// Reads the certificates again now if their files changed (as the reload every
    /// [`TLS_RELOAD_INTERVAL`] does); `Ok(true)` when new ones are in force.
    ///
    /// # Errors
    /// As [`Proxy::set_tls`]: the certificates in force stay.
    pub fn reload_tls(&self) -> Result<bool, TlsError> {
        let current = self.shared.tls.read().unwrap_or_else(PoisonError::into_inner).tls();
        current.map_or(Ok(false), |tls| tls.reload_if_changed())
    }

    /// Waits until no request is in flight to `backend` (one no longer in the routes), or
    /// the timeout; returns how many were still in flight when it gave up. An upgraded
    /// connection (a WebSocket) counts as a request until it closes; the ones still open at
    /// the timeout are closed.
    pub async fn drain(&self, backend: &str, timeout: Duration) -> usize {
        let load = self.shared.loads.lock().unwrap_or_else(PoisonError::into_inner).get(backend).cloned();
        let Some(load) = load else { return 0 };
        let left = match tokio::time::timeout(timeout, load.idle()).await {
            Ok(()) => 0,
            Err(_) => load.in_flight(),
        };
        let table = self.shared.table.read().unwrap_or_else(PoisonError::into_inner);
        if !table.routes_to(backend) {
            if left > 0 {
                load.cut();
            }
            let mut loads = self.shared.loads.lock().unwrap_or_else(PoisonError::into_inner);
            if left == 0 && loads.get(backend).is_some_and(|kept| Arc::ptr_eq(kept, &load)) {
                loads.remove(backend);
            }
        }
        left
    }

    /// Cumulative counts per release since bind, by release.
    pub fn traffic(&self) -> Vec<ReleaseTraffic> {
        self.shared.stats.traffic()
    }

    /// Requests that found no backend (answered 503) since bind.
    pub fn unrouted(&self) -> u64 {
        self.shared.stats.unrouted()
    }

    /// Stops accepting connections and waits for the requests in flight to finish (idle
    /// keep-alive connections are closed); upgraded connections are left to their backends'
    /// drains.
    pub async fn shutdown(self) {
        self.shared.stop();
        let acceptor = self.shared.acceptor.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(acceptor) = acceptor
            && let Err(error) = acceptor.await
        {
            warn!(%error, "the proxy's listener task failed");
        }
    }
}

/// Reloads changed certificates until the proxy stops; the proxy's clones hold no reference
/// to it.
async fn watch_tls(shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(TLS_RELOAD_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = shared.stopped() => return,
        }
        let current = shared.tls.read().unwrap_or_else(PoisonError::into_inner).tls();
        match current.map(|tls| tls.reload_if_changed()) {
            Some(Ok(true)) => {
                info!(addr = %shared.local_addr, "the proxy's certificates changed: the new ones are in use")
            }
            Some(Err(error)) => {
                warn!(addr = %shared.local_addr, %error, "the proxy's certificates changed but cannot be used: the old ones stay");
            }
            Some(Ok(false)) | None => {}
        }
    }
}

/// Serves one client connection (after its TLS handshake, for a TLS listener): every
/// request goes to [`forward::handle`].
async fn serve<I>(
    shared: Arc<Shared>,
    client_addr: SocketAddr,
    https: bool,
    (builder, watcher): (Arc<auto::Builder<TokioExecutor>>, Watcher),
    io: I,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let peer = forward::Peer::new(client_addr, https);
    let service = service_fn(move |request| forward::handle(shared.clone(), peer.clone(), request));
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(error) = watcher.watch(connection.into_owned()).await {
        debug!(%error, %client_addr, "a client connection ended with an error");
    }
}

/// Accepts connections until the proxy stops, then waits for their requests to finish.
async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A timer gives HTTP/1 its header read timeout (slow clients do not hold a connection).
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, client_addr) = tokio::select! {
            res = listener.accept() => match res {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    warn!(%error, addr = %shared.local_addr, "the proxy could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shared.stopped() => break,
        };
        if let Err(error) = stream.set_nodelay(true) {
            debug!(%error, "could not set TCP_NODELAY on a client connection");
        }
        let tls = shared.tls.read().unwrap_or_else(PoisonError::into_inner).clone();
        let conn_shared = shared.clone();
        let server = (builder.clone(), graceful.watcher());
        match tls {
            TlsState::Off => {
                tokio::spawn(serve(conn_shared, client_addr, false, server, stream));
            }
            TlsState::Unusable => debug!(%client_addr, "closed a connection: the proxy's certificates cannot be used"),
            TlsState::On(tls) => {
                tokio::spawn(async move {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.acceptor().accept(stream)).await {
                        Ok(Ok(stream)) => serve(conn_shared, client_addr, true, server, stream).await,
                        Ok(Err(error)) => debug!(%error, %client_addr, "a client's TLS handshake failed"),
                        Err(_) => debug!(%client_addr, "a client's TLS handshake took too long"),
                    }
                });
            }
        }
    }
    drop(listener);
    graceful.shutdown().await;
}
