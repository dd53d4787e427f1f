//! Forwarding one request: the backend is chosen from the routing table, the request goes to
//! it over a pooled HTTP/1.1 connection with its hop-by-hop headers removed (RFC 9110 §7.6.1)
//! and `X-Forwarded-For` / `-Proto` / `-Host` added, and the answer comes back streamed. An
//! `Upgrade` (WebSocket) that the backend accepts with 101 becomes a tunnel of bytes both ways.
//! A backend that refuses the connection gets a bodiless idempotent request retried once on
//! another backend; otherwise the proxy answers 502, 504 when the backend's answer did not
//! begin within the response timeout, and 503 when no backend may take it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{Either, Empty};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::{self, PathAndQuery, Scheme};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tracing::{debug, warn};

use crate::Shared;
use crate::routes::{Choice, InFlight};

/// The body sent to a backend: the client's, streamed, or none (then the request may be
/// sent again).
pub(crate) type ForwardBody = Either<Incoming, Empty<Bytes>>;

/// The pooled client to the backends (HTTP/1.1, keep-alive).
pub(crate) type BackendClient = Client<HttpConnector, ForwardBody>;

pub(crate) fn backend_client() -> BackendClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector)
}

/// The body of the proxy's answers: the backend's, streamed, holding the request's claim on
/// the backend until it is sent; or a short text of the proxy's own.
#[derive(Debug)]
pub(crate) enum ProxyBody {
    Backend { body: Incoming, in_flight: Option<InFlight> },
    Text(Option<Bytes>),
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ProxyBody::Backend { body, in_flight } => {
                let poll = Pin::new(body).poll_frame(cx);
                if matches!(poll, Poll::Ready(None | Some(Err(_)))) {
                    // The request is over once its last byte went out: release the backend
                    // now rather than when hyper drops the body.
                    in_flight.take();
                }
                poll
            }
            ProxyBody::Text(text) => Poll::Ready(text.take().map(|text| Ok(Frame::data(text)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Backend { body, .. } => body.is_end_stream(),
            ProxyBody::Text(text) => text.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Backend { body, .. } => body.size_hint(),
            ProxyBody::Text(text) => SizeHint::with_exact(text.as_ref().map_or(0, |text| text.len() as u64)),
        }
    }
}

fn text(status: StatusCode, message: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::Text(Some(Bytes::from_static(message.as_bytes()))));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// Handles one request from a client at `client_addr`.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    client_addr: SocketAddr,
    mut request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let started = Instant::now();
    let (response_timeout, trusted) = shared.request_options(client_addr.ip());
    if request.method() == Method::CONNECT {
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, "this proxy does not tunnel CONNECT requests\n"));
    }
    let upgrade = upgrade_protocol(&request);
    let client_upgrade = upgrade.is_some().then(|| hyper::upgrade::on(&mut request));
    let (parts, body) = request.into_parts();
    let mut headers = parts.headers;
    let host = headers.get(header::HOST).cloned().or_else(|| {
        let authority = parts.uri.authority()?;
        HeaderValue::from_str(authority.as_str()).ok()
    });
    remove_hop_by_hop(&mut headers);
    if let Some(protocol) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, protocol);
    }
    add_forwarded(&mut headers, client_addr, host.as_ref(), trusted);
    if let Some(host) = host {
        headers.insert(header::HOST, host);
    }
    let path = parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
    let method = parts.method;
    // A request without a body can be sent again when its backend refused the connection.
    let retryable = body.is_end_stream() && is_idempotent(&method);
    let mut body = if body.is_end_stream() { Either::Right(Empty::new()) } else { Either::Left(body) };

    // The backend that refused the connection, and its release.
    let mut refused: Option<(Arc<str>, i64)> = None;
    loop {
        let choice = shared.pick(refused.as_ref().map(|(id, _)| &**id));
        let Some(Choice { id, release, addr, authority, in_flight }) = choice else {
            if let Some((_, release)) = refused {
                shared.stats.record(release, StatusCode::BAD_GATEWAY, started.elapsed());
                return Ok(text(
                    StatusCode::BAD_GATEWAY,
                    "bad gateway: the service's replica refused the connection and no other one takes requests\n",
                ));
            }
            shared.stats.record_unrouted();
            return Ok(text(
                StatusCode::SERVICE_UNAVAILABLE,
                "service unavailable: no healthy replica of this service takes requests right now\n",
            ));
        };
        let mut uri_parts = uri::Parts::default();
        uri_parts.scheme = Some(Scheme::HTTP);
        uri_parts.authority = Some(authority);
        uri_parts.path_and_query = Some(path.clone());
        let Ok(uri) = Uri::from_parts(uri_parts) else {
            return Ok(text(StatusCode::BAD_REQUEST, "bad request: the request's path is not a valid URI\n"));
        };
        let mut forward = Request::new(std::mem::replace(&mut body, Either::Right(Empty::new())));
        *forward.method_mut() = method.clone();
        *forward.uri_mut() = uri;
        *forward.version_mut() = Version::HTTP_11;
        // Only a retryable request may need its headers again.
        *forward.headers_mut() = if retryable { headers.clone() } else { std::mem::take(&mut headers) };
        let Ok(res) = tokio::time::timeout(response_timeout, shared.client.request(forward)).await else {
            warn!(backend = %id, %addr, "backend {id} at {addr} did not answer within {response_timeout:?}");
            shared.stats.record(release, StatusCode::GATEWAY_TIMEOUT, started.elapsed());
            return Ok(text(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway timeout: the service's replica did not begin its answer within the proxy's response timeout\n",
            ));
        };
        match res {
            Ok(response) => {
                let status = response.status();
                shared.stats.record(release, status, started.elapsed());
                return Ok(answer(response, in_flight, client_upgrade));
            }
            Err(error) if error.is_connect() && retryable && refused.is_none() => {
                debug!(backend = %id, %addr, %error, "backend {id} refused a connection, retrying on another");
                refused = Some((id, release));
            }
            Err(error) => {
                warn!(backend = %id, %addr, %error, "backend {id} at {addr} did not answer");
                shared.stats.record(release, StatusCode::BAD_GATEWAY, started.elapsed());
                return Ok(text(StatusCode::BAD_GATEWAY, "bad gateway: the service's replica did not answer\n"));
            }
        }
    }
}

/// The client's answer from the backend's: hop-by-hop headers removed, the body streamed;
/// a 101 to an upgrade starts the tunnel.
fn answer(
    mut response: Response<Incoming>,
    in_flight: InFlight,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<ProxyBody> {
    if response.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_upgrade) = client_upgrade
    {
        let protocol = response.headers().get(header::UPGRADE).cloned();
        let backend_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(tunnel(client_upgrade, backend_upgrade, in_flight));
        let (mut parts, _) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        parts.headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        if let Some(protocol) = protocol {
            parts.headers.insert(header::UPGRADE, protocol);
        }
        return Response::from_parts(parts, ProxyBody::Text(None));
    }
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    let in_flight = (!body.is_end_stream()).then_some(in_flight);
    Response::from_parts(parts, ProxyBody::Backend { body, in_flight })
}

/// Copies bytes both ways between an upgraded client and backend connection until either
/// closes, or the backend's drain gives up.
async fn tunnel(
    client_upgrade: hyper::upgrade::OnUpgrade,
    backend_upgrade: hyper::upgrade::OnUpgrade,
    in_flight: InFlight,
) {
    let (client, backend) = match tokio::try_join!(client_upgrade, backend_upgrade) {
        Ok(both) => both,
        Err(error) => {
            debug!(%error, "an upgraded connection could not be set up");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut backend = TokioIo::new(backend);
    tokio::select! {
        res = tokio::io::copy_bidirectional(&mut client, &mut backend) => {
            if let Err(error) = res {
                debug!(%error, "an upgraded connection ended with an error");
            }
        }
        () = in_flight.load().cut_off() => debug!("an upgraded connection was closed at the end of its backend's drain"),
    }
}

/// The protocol a request asks to upgrade to (`Connection: upgrade` with `Upgrade: P`,
/// HTTP/1.1 only).
fn upgrade_protocol(request: &Request<Incoming>) -> Option<HeaderValue> {
    if request.version() != Version::HTTP_11 {
        return None;
    }
    let headers = request.headers();
    let asks = headers.get_all(header::CONNECTION).iter().any(|value| has_token(value, "upgrade"));
    asks.then(|| headers.get(header::UPGRADE).cloned()).flatten()
}

fn has_token(value: &HeaderValue, token: &str) -> bool {
    value.to_str().is_ok_and(|value| value.split(',').any(|item| item.trim().eq_ignore_ascii_case(token)))
}

/// The headers RFC 9110 §7.6.1 says concern one connection only, with `Proxy-Connection`
/// (which old clients send) and the proxy authentication pair.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
];

/// Removes the hop-by-hop headers and those `Connection` names.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(&HOP_BY_HOP) {
        headers.remove(name);
    }
}

/// Appends the client's address to `X-Forwarded-For` and says how and to which host the
/// client connected (`X-Forwarded-Proto: http`, `X-Forwarded-Host`). From a `trusted` hop (a
/// load balancer in front of the proxy) the values it gives for these two are kept, since it
/// saw the original connection; from anyone else they are replaced: the proxy is the edge.
pub(crate) fn add_forwarded(
    headers: &mut HeaderMap,
    client_addr: SocketAddr,
    host: Option<&HeaderValue>,
    trusted: bool,
) {
    const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
    let client_ip = client_addr.ip().to_string();
    if headers.contains_key(&FORWARDED_FOR) {
        let mut chain: Vec<&str> =
            headers.get_all(&FORWARDED_FOR).iter().filter_map(|value| value.to_str().ok()).map(str::trim).collect();
        chain.retain(|item| !item.is_empty());
        chain.push(&client_ip);
        if let Ok(value) = HeaderValue::from_str(&chain.join(", ")) {
            headers.insert(FORWARDED_FOR, value);
        }
    } else if let Ok(value) = HeaderValue::try_from(client_ip) {
        // The common case, a client that is the first hop: no list to join.
        headers.insert(FORWARDED_FOR, value);
    }
    // A trusted hop's own values stand; each one it did not give is the proxy's.
    if !(trusted && headers.contains_key(&FORWARDED_PROTO)) {
        headers.insert(FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if !(trusted && headers.contains_key(&FORWARDED_HOST)) {
        match host {
            Some(host) => headers.insert(FORWARDED_HOST, host.clone()),
            None => headers.remove(FORWARDED_HOST),
        };
    }
}

fn is_idempotent(method: &Method) -> bool {
    [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE, Method::PUT, Method::DELETE].contains(method)
}

#[cfg(test)]
mod tests;
