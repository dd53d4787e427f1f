//! The test backends and clients: a small hyper server that says who it is, echoes bodies
//! and headers, holds requests at a gate, answers a chosen status, and accepts an upgrade;
//! and helpers that send requests through the proxy.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferry_proxy::{Backend, Proxy, Routes};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// A backend of one release. Its routes:
/// - `GET /` answers its id;
/// - `GET /headers` answers the request's version and headers, one `name: value` a line;
/// - `POST /echo` streams the request's body back;
/// - `GET /status/N` answers status N;
/// - `GET /close` answers and closes the connection (`Connection: close`);
/// - `GET /gate` answers only once the test opens the gate ([`TestBackend::open_gate`]);
/// - an `Upgrade: websocket` request gets 101 and then its bytes echoed.
pub struct TestBackend {
    pub id: String,
    pub release: i64,
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    /// Requests waiting at the gate.
    pub waiting: Arc<Semaphore>,
}

impl TestBackend {
    pub async fn start(id: &str, release: i64) -> TestBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a backend");
        let addr = listener.local_addr().expect("the backend's address");
        let backend = TestBackend {
            id: id.to_owned(),
            release,
            addr,
            hits: Arc::new(AtomicUsize::new(0)),
            connections: Arc::new(AtomicUsize::new(0)),
            gate: Arc::new(Semaphore::new(0)),
            waiting: Arc::new(Semaphore::new(0)),
        };
        let state = Arc::new(BackendState {
            id: id.to_owned(),
            hits: backend.hits.clone(),
            gate: backend.gate.clone(),
            waiting: backend.waiting.clone(),
        });
        let connections = backend.connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                connections.fetch_add(1, Ordering::SeqCst);
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| serve(state.clone(), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        backend
    }

    pub fn backend(&self) -> Backend {
        Backend { id: self.id.clone(), release: self.release, addr: self.addr }
    }

    /// Requests it has received.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Connections it has accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Lets `n` requests waiting at `/gate` (or to come) answer.
    pub fn open_gate(&self, n: usize) {
        self.gate.add_permits(n);
    }

    /// Waits until a request has reached `/gate`.
    pub async fn wait_at_gate(&self) {
        self.waiting.acquire().await.expect("the semaphore is never closed").forget();
    }
}

struct BackendState {
    id: String,
    hits: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
    waiting: Arc<Semaphore>,
}

async fn serve(state: Arc<BackendState>, mut request: Request<Incoming>) -> Result<Response<TestBody>, Infallible> {
    state.hits.fetch_add(1, Ordering::SeqCst);
    let path = request.uri().path().to_owned();
    if request.headers().get("upgrade").is_some_and(|value| value == "websocket") {
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            let Ok(upgraded) = upgrade.await else { return };
            let mut io = TokioIo::new(upgraded);
            let mut buf = [0u8; 4096];
            loop {
                match io.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if io.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-accept", "test")
            .body(text(""))
            .expect("a valid response");
        return Ok(response);
    }
    let response = match (request.method().clone(), path.as_str()) {
        (_, "/") => Response::builder().header("x-backend", &state.id).body(text(&state.id)),
        (_, "/headers") => {
            let mut lines = format!("version: {:?}\n", request.version());
            for (name, value) in request.headers() {
                lines.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("?")));
            }
            Response::builder()
                .header("connection", "x-hop-reply")
                .header("x-hop-reply", "1")
                .header("x-end-reply", "1")
                .body(text(&lines))
        }
        (Method::POST, "/echo") => Response::builder().body(request.into_body().map_err(Into::into).boxed()),
        (_, "/gate") => {
            state.waiting.add_permits(1);
            state.gate.acquire().await.expect("the semaphore is never closed").forget();
            Response::builder().body(text("opened"))
        }
        (_, "/close") => Response::builder().header("connection", "close").body(text("closing")),
        (_, status) if status.starts_with("/status/") => {
            let code: u16 = status["/status/".len()..].parse().expect("a status code");
            Response::builder().status(code).body(text("as asked"))
        }
        _ => Response::builder().status(404).body(text("not found")),
    };
    Ok(response.expect("a valid response"))
}

pub fn text(text: &str) -> TestBody {
    Full::new(Bytes::from(text.to_owned())).map_err(Into::into).boxed()
}

pub fn empty() -> TestBody {
    Empty::new().map_err(Into::into).boxed()
}

/// A proxy on 127.0.0.1 port 0 routing to `backends` with `weights`.
pub async fn proxy_to(backends: &[&TestBackend], weights: &[(i64, u32)]) -> Proxy {
    let proxy = Proxy::bind("127.0.0.1:0".parse().expect("an address")).await.expect("bind the proxy");
    proxy.set_routes(routes(backends, weights));
    proxy
}

pub fn routes(backends: &[&TestBackend], weights: &[(i64, u32)]) -> Routes {
    Routes { backends: backends.iter().map(|backend| backend.backend()).collect(), weights: weights.to_vec() }
}

/// An HTTP/1.1 client with keep-alive.
pub fn http1_client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An HTTP/2 client (prior knowledge, no TLS).
pub fn http2_client() -> Client<HttpConnector, TestBody> {
    Client::builder(TokioExecutor::new()).http2_only(true).build_http()
}

/// An answer read whole: status, headers, body as text.
pub struct Answer {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

pub async fn send(client: &Client<HttpConnector, TestBody>, request: Request<TestBody>) -> Answer {
    let response = client.request(request).await.expect("the proxy answers");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("the whole body").to_bytes();
    Answer { status: parts.status, headers: parts.headers, body: String::from_utf8_lossy(&body).into_owned() }
}

/// `GET path` through `proxy`.
pub async fn get(client: &Client<HttpConnector, TestBody>, proxy: &Proxy, path: &str) -> Answer {
    let request = Request::get(format!("http://{}{path}", proxy.local_addr())).body(empty()).expect("a valid request");
    send(client, request).await
}

/// How many of `n` sequential `GET /` through `proxy` each backend answered, by id.
pub async fn spread(proxy: &Proxy, n: usize) -> BTreeMap<String, usize> {
    let client = http1_client();
    let mut counts = BTreeMap::new();
    for _ in 0..n {
        let answer = get(&client, proxy, "/").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        *counts.entry(answer.body).or_insert(0) += 1;
    }
    counts
}

/// The `name: value` lines of a `/headers` answer, as a map (repeated names joined by `|`).
pub fn header_lines(body: &str) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for line in body.lines() {
        if let Some((name, value)) = line.split_once(": ") {
            map.entry(name.to_owned())
                .and_modify(|existing| {
                    existing.push('|');
                    existing.push_str(value);
                })
                .or_insert_with(|| value.to_owned());
        }
    }
    map
}
