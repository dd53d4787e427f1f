//! The runtime services for jobs' containers when the server's URL is loopback.
//!
//! A server whose URL is `http://127.0.0.1:PORT` (its default) gives jobs that address for
//! the cache service `@actions/cache` speaks; inside a container, loopback is the container
//! itself. A runner with a container engine then serves a [`Relay`] on the engine's bridge
//! gateway (the host's address on the containers' side; nothing beyond the host reaches it)
//! and gives actions in containers its address instead. The relay passes on only the
//! runtime services' paths ([`ferry_proto::runtime::RUNTIME_PATHS`]), which answer only a
//! running job's `ACTIONS_RUNTIME_TOKEN` or a URL the service signed, and rewrites the
//! server's address in their JSON answers (the URLs it signs for uploads and downloads) to
//! its own, so a client is sent back through the relay. The server stays on loopback.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tracing::{debug, warn};

/// The largest JSON answer rewritten; the services' answers are a few hundred bytes.
const MAX_JSON_BYTES: usize = 1 << 20;

/// A server's runtime services on a loopback address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upstream {
    /// `http://127.0.0.1:8080`, as the server writes it before the paths it signs.
    origin: String,
    /// `127.0.0.1:8080`: where to connect.
    authority: String,
    /// The base URL's own path: `""`, or `/ferry`.
    prefix: String,
}

impl Upstream {
    /// The services at `url` when it is plain HTTP on a loopback host, which containers do
    /// not reach; `None` for any other URL (containers reach it as the host does).
    pub(crate) fn loopback(url: &str) -> Option<Upstream> {
        let rest = url.strip_prefix("http://")?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (authority, None),
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let is_loopback =
            bare.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !is_loopback {
            return None;
        }
        let path = path.trim_end_matches('/');
        Some(Upstream {
            origin: format!("http://{authority}"),
            authority: format!("{host}:{}", port.unwrap_or("80")),
            prefix: if path.is_empty() { String::new() } else { format!("/{path}") },
        })
    }
}

/// A relay to an [`Upstream`], serving until dropped.
#[derive(Debug)]
pub(crate) struct Relay {
    upstream: Upstream,
    /// `http://GATEWAY:PORT` with the upstream's path: what containers are given.
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What every connection of a relay shares.
struct Shared {
    upstream: Upstream,
    /// `http://GATEWAY:PORT`, written in place of the upstream's origin.
    origin: String,
}

impl Relay {
    /// Serves a relay to `upstream` on `address` (a port the system picks).
    ///
    /// # Errors
    /// The address cannot be bound (the bridge is gone, or not this host's).
    pub(crate) async fn start(address: IpAddr, upstream: Upstream) -> std::io::Result<Relay> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(address, 0)).await?;
        let origin = format!("http://{}", listener.local_addr()?);
        let url = format!("{origin}{}", upstream.prefix);
        let shared = Arc::new(Shared { upstream: upstream.clone(), origin });
        let task = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // Out of descriptors, say: the next accept may succeed.
                        warn!(%error, "the runtime relay could not accept a connection: {error}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| answer(shared.clone(), request));
                    let served = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    if let Err(error) = served {
                        debug!(%error, "a connection to the runtime relay ended: {error}");
                    }
                });
            }
        });
        Ok(Relay { upstream, url, task })
    }

    /// The upstream it relays to.
    pub(crate) fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// Its URL for containers, in place of the upstream's.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

/// Why a request could not be relayed; the client gets 502 with it.
#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("connecting to the server at {authority}: {source}")]
    Connect { authority: String, source: std::io::Error },
    #[error("talking to the server: {0}")]
    Http(#[from] hyper::Error),
    #[error("reading the server's answer: {0}")]
    Body(Box<dyn std::error::Error + Send + Sync>),
}

type RelayBody = UnsyncBoxBody<Bytes, hyper::Error>;

async fn answer(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<RelayBody>, std::convert::Infallible> {
    let path = request.uri().path();
    // A path is passed on as it came: one that climbs out of the services' is refused here.
    let climbs = path.split('/').any(|segment| segment == ".." || segment == ".");
    let is_runtime = !climbs
        && path
            .strip_prefix(shared.upstream.prefix.as_str())
            .is_some_and(|path| ferry_proto::runtime::RUNTIME_PATHS.iter().any(|runtime| path.starts_with(runtime)));
    if !is_runtime {
        return Ok(plain(StatusCode::NOT_FOUND, "only the runtime services are relayed here".to_owned()));
    }
    Ok(match forward(&shared, request).await {
        Ok(response) => response,
        Err(error) => {
            warn!(%error, "the runtime relay could not reach the server: {error}");
            plain(StatusCode::BAD_GATEWAY, error.to_string())
        }
    })
}

async fn forward(shared: &Shared, mut request: Request<Incoming>) -> Result<Response<RelayBody>, RelayError> {
    let authority = &shared.upstream.authority;
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|source| RelayError::Connect { authority: authority.clone(), source })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            debug!(%error, "the runtime relay's connection to the server ended: {error}");
        }
    });
    if let Ok(host) = HeaderValue::from_str(authority) {
        request.headers_mut().insert(header::HOST, host);
    }
    let response = sender.send_request(request).await?;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        return Ok(response.map(BodyExt::boxed_unsync));
    }
    let (mut parts, body) = response.into_parts();
    let bytes = Limited::new(body, MAX_JSON_BYTES).collect().await.map_err(RelayError::Body)?.to_bytes();
    let text = String::from_utf8_lossy(&bytes).replace(&shared.upstream.origin, &shared.origin);
    parts.headers.remove(header::CONTENT_LENGTH);
    Ok(Response::from_parts(parts, full(text)))
}

fn full(text: String) -> RelayBody {
    Full::new(Bytes::from(text)).map_err(|never| match never {}).boxed_unsync()
}

fn plain(status: StatusCode, message: String) -> Response<RelayBody> {
    let mut response = Response::new(full(message));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests;
