//! The proxy's own keep-alive connections to one backend: HTTP/1.1 connections made with
//! hyper's `client::conn::http1`, each driven by its own task, kept idle in a short stack
//! (the most recently used first) between requests.
//!
//! A connection goes back to the stack as soon as the response's last byte has passed (or at
//! once for a response without a body), from the task that forwarded the body: no task per
//! request waits for it. Taking one from the stack waits for hyper to say it is ready (it is
//! by then, or a moment later), and skips the ones the backend closed. At most [`MAX_IDLE`]
//! are kept, none idle for longer than [`IDLE_TIMEOUT`].

use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tracing::debug;

use crate::forward::ForwardBody;

/// A connection to a backend, ready for one request.
pub(crate) type Sender = http1::SendRequest<ForwardBody>;

/// Idle connections kept per backend (nginx's `keepalive 64` in the benchmark's configuration);
/// one more is closed when it comes back.
pub(crate) const MAX_IDLE: usize = 64;

/// An idle connection older than this is closed rather than used.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a connection to a backend may take to open.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why no connection to a backend could be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("cannot connect to {addr}: {source}")]
    Io { addr: SocketAddr, source: std::io::Error },
    #[error("cannot connect to {addr}: no answer within {CONNECT_TIMEOUT:?}")]
    Timeout { addr: SocketAddr },
    #[error("cannot start HTTP/1.1 on the connection to {addr}: {source}")]
    Handshake { addr: SocketAddr, source: hyper::Error },
}

/// One backend's connections.
#[derive(Debug)]
pub(crate) struct Pool {
    addr: SocketAddr,
    idle: Mutex<Vec<(Sender, Instant)>>,
}

impl Pool {
    pub(crate) fn new(addr: SocketAddr) -> Pool {
        Pool { addr, idle: Mutex::new(Vec::new()) }
    }

    /// A connection ready for a request: an idle one, or a new one; and whether it was idle
    /// (a request that a reused connection could not take may be sent again on a new one).
    pub(crate) async fn checkout(&self) -> Result<(Sender, bool), ConnectError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let Some((mut sender, since)) = idle else { break };
            if sender.is_closed() || since.elapsed() > IDLE_TIMEOUT {
                continue;
            }
            if sender.is_ready() || sender.ready().await.is_ok() {
                return Ok((sender, true));
            }
        }
        self.connect().await.map(|sender| (sender, false))
    }

    /// A new connection, its task spawned.
    pub(crate) async fn connect(&self) -> Result<Sender, ConnectError> {
        let addr = self.addr;
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => return Err(ConnectError::Io { addr, source }),
            Err(_) => return Err(ConnectError::Timeout { addr }),
        };
        if let Err(error) = stream.set_nodelay(true) {
            debug!(%error, %addr, "could not set TCP_NODELAY on a backend connection");
        }
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|source| ConnectError::Handshake { addr, source })?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                debug!(%error, %addr, "a backend connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Keeps `sender` for a later request (its response is over), unless the stack is full.
    pub(crate) fn put(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        // The oldest are at the bottom: drop those that waited too long.
        let stale = idle.iter().take_while(|(_, since)| now.duration_since(*since) > IDLE_TIMEOUT).count();
        idle.drain(..stale);
        if idle.len() < MAX_IDLE {
            idle.push((sender, now));
        }
    }

    /// Keeps `sender` once hyper says it is ready again (when the request's body may still be
    /// going out), from a task of its own; drops it if its connection closes first.
    pub(crate) fn put_when_ready(self: std::sync::Arc<Self>, mut sender: Sender) {
        tokio::spawn(async move {
            if sender.ready().await.is_ok() {
                self.put(sender);
            }
        });
    }
}
