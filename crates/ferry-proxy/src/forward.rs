//! Forwarding one request: the backend is chosen from the routing table, the request goes to
//! it over one of the proxy's keep-alive HTTP/1.1 connections to it ([`crate::pool`]) with its hop-by-hop headers removed (RFC 9110 §7.6.1)
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
use std::time::Instant;

use http_body_util::{Either, Empty};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::PathAndQuery;
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tracing::{debug, warn};

use crate::Shared;
use crate::pool::{Pool, Sender};
use crate::routes::{Choice, InFlight};

/// The body sent to a backend: the client's, streamed, or none (then the request may be
/// sent again).
pub(crate) type ForwardBody = Either<Incoming, Empty<Bytes>>;

/// The body of the proxy's answers: the backend's, streamed, holding the request's claim on
/// the backend and its connection until it is sent; or a short text of the proxy's own.
#[derive(Debug)]
pub(crate) enum ProxyBody {
    Backend { body: Incoming, in_flight: Option<InFlight>, conn: Option<(Sender, Arc<Pool>)> },
    Text(Option<Bytes>),
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            ProxyBody::Backend { body, in_flight, conn } => {
                let poll = Pin::new(&mut *body).poll_frame(cx);
                // hyper stops asking for frames once a body says it has ended (a response with
                // a length, after its last byte): that is its end as much as `None` is.
                let ended = match &poll {
                    Poll::Ready(None) => true,
                    Poll::Ready(Some(Ok(_))) => body.is_end_stream(),
                    _ => false,
                };
                match &poll {
                    _ if ended => {
                        // The response is over once its last byte went out: its connection
                        // may take the next request, and the backend is released now rather
                        // than when hyper drops the body.
                        if let Some((sender, pool)) = conn.take() {
                            pool.put(sender);
                        }
                        in_flight.take();
                    }
                    Poll::Ready(Some(Err(_))) => {
                        conn.take();
                        in_flight.take();
                    }
                    _ => {}
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

/// How sending one request to a backend failed.
enum SendError {
    /// No connection could be opened: the request did not leave, and may go elsewhere.
    Connect(crate::pool::ConnectError),
    /// The backend did not answer.
    Http(hyper::Error),
}

/// Sends `request` to the backend of `pool` on `sender`. A connection that was idle may have
/// been closed by the backend just before the request was written: the request, given back
/// unsent, then goes once more on a new connection.
async fn send(
    pool: &Pool,
    mut sender: Sender,
    reused: bool,
    request: Request<ForwardBody>,
) -> Result<(Response<Incoming>, Sender), SendError> {
    match sender.try_send_request(request).await {
        Ok(response) => Ok((response, sender)),
        Err(mut error) => match error.take_message() {
            Some(request) if reused => {
                debug!(error = %error.error(), "an idle backend connection could not take a request, sending it on a new one");
                let mut sender = pool.connect().await.map_err(SendError::Connect)?;
                match sender.send_request(request).await {
                    Ok(response) => Ok((response, sender)),
                    Err(error) => Err(SendError::Http(error)),
                }
            }
            _ => Err(SendError::Http(error.into_error())),
        },
    }
}

/// The client end of one connection, as every request on it sees it.
#[derive(Debug)]
pub(crate) struct Peer {
    pub(crate) addr: SocketAddr,
    /// `addr`'s IP as a header value, made once per connection.
    pub(crate) ip: HeaderValue,
    /// Whether the proxy terminated TLS on the connection.
    pub(crate) https: bool,
}

impl Peer {
    pub(crate) fn new(addr: SocketAddr, https: bool) -> Arc<Peer> {
        Arc::new(Peer { addr, ip: ip_value(addr), https })
    }
}

/// Handles one request from the client `peer`.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    peer: Arc<Peer>,
    mut request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let started = Instant::now();
    let (response_timeout, trusted) = shared.request_options(peer.addr.ip());
    let deadline = tokio::time::Instant::from_std(started + response_timeout);
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
    add_forwarded(&mut headers, &peer.ip, host.as_ref(), peer.https, trusted);
    let has_host = host.is_some();
    if let Some(host) = host {
        headers.insert(header::HOST, host);
    }
    let path = parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
    let method = parts.method;
    // A request without a body can be sent again when its backend refused the connection.
    let bodiless = body.is_end_stream();
    let retryable = bodiless && is_idempotent(&method);
    let body = if bodiless { Either::Right(Empty::new()) } else { Either::Left(body) };

    // The backend that refused the connection, and its release.
    let mut refused: Option<(Arc<str>, i64)> = None;
    loop {
        let choice = shared.pick(refused.as_ref().map(|(id, _)| &**id));
        let Some(Choice { id, release, addr, authority, pool, in_flight }) = choice else {
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
        let timed_out = || {
            warn!(backend = %id, %addr, "backend {id} at {addr} did not answer within {response_timeout:?}");
            shared.stats.record(release, StatusCode::GATEWAY_TIMEOUT, started.elapsed());
            Ok(text(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway timeout: the service's replica did not begin its answer within the proxy's response timeout\n",
            ))
        };
        let checkout = match tokio::time::timeout_at(deadline, pool.checkout()).await {
            Err(_) => return timed_out(),
            Ok(checkout) => checkout,
        };
        let (sender, reused) = match checkout {
            Ok(checkout) => checkout,
            Err(error) if retryable && refused.is_none() => {
                debug!(backend = %id, %addr, %error, "backend {id} refused a connection, retrying on another");
                refused = Some((id, release));
                continue;
            }
            Err(error) => {
                warn!(backend = %id, %addr, %error, "backend {id} at {addr} did not answer");
                shared.stats.record(release, StatusCode::BAD_GATEWAY, started.elapsed());
                return Ok(text(StatusCode::BAD_GATEWAY, "bad gateway: the service's replica did not answer\n"));
            }
        };
        // From here on the request goes to this backend: its headers and body are moved.
        let mut forward = Request::new(body);
        *forward.method_mut() = method;
        *forward.uri_mut() = path.into();
        *forward.version_mut() = Version::HTTP_11;
        if !has_host && let Ok(value) = HeaderValue::from_str(authority.as_str()) {
            headers.insert(header::HOST, value);
        }
        *forward.headers_mut() = headers;
        let Ok(res) = tokio::time::timeout_at(deadline, send(&pool, sender, reused, forward)).await else {
            return timed_out();
        };
        return match res {
            Ok((response, sender)) => {
                let status = response.status();
                shared.stats.record(release, status, started.elapsed());
                Ok(answer(response, in_flight, (sender, pool), bodiless, client_upgrade))
            }
            Err(SendError::Connect(error)) => {
                warn!(backend = %id, %addr, %error, "backend {id} at {addr} did not answer");
                shared.stats.record(release, StatusCode::BAD_GATEWAY, started.elapsed());
                Ok(text(StatusCode::BAD_GATEWAY, "bad gateway: the service's replica did not answer\n"))
            }
            Err(SendError::Http(error)) => {
                warn!(backend = %id, %addr, %error, "backend {id} at {addr} did not answer");
                shared.stats.record(release, StatusCode::BAD_GATEWAY, started.elapsed());
                Ok(text(StatusCode::BAD_GATEWAY, "bad gateway: the service's replica did not answer\n"))
            }
        };
    }
}

/// The client's answer from the backend's: hop-by-hop headers removed, the body streamed;
/// a 101 to an upgrade starts the tunnel. The connection goes back to its pool when the
/// response is over: at once without a body, after its last byte otherwise; when the
/// request had a body, once hyper says the connection is ready (the body may still be going
/// out).
fn answer(
    mut response: Response<Incoming>,
    in_flight: InFlight,
    (sender, pool): (Sender, Arc<Pool>),
    bodiless: bool,
    client_upgrade: Option<hyper::upgrade::OnUpgrade>,
) -> Response<ProxyBody> {
    if response.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_upgrade) = client_upgrade
    {
        // The connection becomes the tunnel: it never goes back.
        drop(sender);
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
    let ended = body.is_end_stream();
    let conn = if !bodiless {
        pool.put_when_ready(sender);
        None
    } else if ended {
        pool.put(sender);
        None
    } else {
        Some((sender, pool))
    };
    let in_flight = (!ended).then_some(in_flight);
    Response::from_parts(parts, ProxyBody::Backend { body, in_flight, conn })
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
    // One pass over the names finds the hop-by-hop ones present (usually none in a request,
    // `Connection: keep-alive` in a response), rather than a lookup per name.
    let mut present: [Option<HeaderName>; 8] = Default::default();
    let mut n_present = 0;
    for name in headers.keys() {
        if n_present < present.len() && HOP_BY_HOP.contains(name) {
            present[n_present] = Some(name.clone());
            n_present += 1;
        }
    }
    if n_present == 0 {
        return;
    }
    // The headers `Connection` names, beyond its usual tokens (which are no header, or one
    // removed anyway).
    let mut named = Vec::new();
    for value in headers.get_all(header::CONNECTION) {
        for token in value.to_str().into_iter().flat_map(|value| value.split(',')).map(str::trim) {
            let usual = ["", "keep-alive", "close", "upgrade"].iter().any(|usual| token.eq_ignore_ascii_case(usual));
            if !usual && let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                named.push(name);
            }
        }
    }
    for name in named.iter().chain(present[..n_present].iter().flatten()) {
        headers.remove(name);
    }
}

/// A client's address as a header value, made once per connection.
pub(crate) fn ip_value(client_addr: SocketAddr) -> HeaderValue {
    HeaderValue::try_from(client_addr.ip().to_string()).expect("an IP address is a valid header value")
}

/// Appends the client's address (`client_ip`, from [`ip_value`]) to `X-Forwarded-For` and
/// says how and to which host the client connected (`X-Forwarded-Proto: http`, or `https`
/// when the proxy terminated TLS; `X-Forwarded-Host`). From a `trusted` hop (a
/// load balancer in front of the proxy) the values it gives for these two are kept, since it
/// saw the original connection; from anyone else they are replaced: the proxy is the edge.
pub(crate) fn add_forwarded(
    headers: &mut HeaderMap,
    client_ip: &HeaderValue,
    host: Option<&HeaderValue>,
    https: bool,
    trusted: bool,
) {
    const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
    if headers.contains_key(&FORWARDED_FOR) {
        let mut chain: Vec<&str> =
            headers.get_all(&FORWARDED_FOR).iter().filter_map(|value| value.to_str().ok()).map(str::trim).collect();
        chain.retain(|item| !item.is_empty());
        chain.push(client_ip.to_str().unwrap_or_default());
        if let Ok(value) = HeaderValue::from_str(&chain.join(", ")) {
            headers.insert(FORWARDED_FOR, value);
        }
    } else {
        // The common case, a client that is the first hop: no list to join.
        headers.insert(FORWARDED_FOR, client_ip.clone());
    }
    // A trusted hop's own values stand; each one it did not give is the proxy's.
    if !(trusted && headers.contains_key(&FORWARDED_PROTO)) {
        headers.insert(FORWARDED_PROTO, HeaderValue::from_static(if https { "https" } else { "http" }));
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
