//! What the proxy answers when no backend can: 503 without a backend, 502 when the backend
//! refuses (after one retry elsewhere for a bodiless idempotent request), and how these and
//! the backends' own 5xx are counted.

use std::net::SocketAddr;
use std::time::Duration;

use ferry_proxy::{Backend, Proxy, ProxyOptions, Routes};
use hyper::{Request, StatusCode};

use crate::support::{TestBackend, get, http1_client, proxy_to, send, text};

/// An address on which nothing listens: a port the system gave and took back.
/// An address that refuses connections: a socket bound but not listening, kept bound so that
/// no other listener of the test run (another test's proxy) takes its port.
async fn refusing_addr() -> (tokio::net::TcpSocket, SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.bind("127.0.0.1:0".parse().expect("an address")).expect("bind");
    let addr = socket.local_addr().expect("an address");
    (socket, addr)
}

fn errors_by_release(proxy: &Proxy) -> Vec<(i64, u64, u64)> {
    proxy.traffic().iter().map(|t| (t.release, t.requests, t.errors)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_backend_the_proxy_answers_503_with_a_short_text() {
    let proxy = proxy_to(&[], &[]).await;
    let answer = get(&http1_client(), &proxy, "/").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.body, "service unavailable: no healthy replica of this service takes requests right now\n");
    assert_eq!(proxy.unrouted(), 1);
    assert!(proxy.traffic().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_retried_on_another_backend_for_a_bodiless_get() {
    let live = TestBackend::start("live", 1).await;
    let (_refusing, addr) = refusing_addr().await;
    let dead = Backend { id: "dead".into(), release: 1, addr };
    let proxy = Proxy::bind("127.0.0.1:0".parse().expect("an address")).await.expect("bind");
    proxy.set_routes(Routes { backends: vec![dead, live.backend()], weights: vec![] });

    let client = http1_client();
    for _ in 0..10 {
        let answer = get(&client, &proxy, "/").await;
        assert_eq!((answer.status, answer.body.as_str()), (StatusCode::OK, "live"));
    }
    assert_eq!(live.hits(), 10);
    assert_eq!(errors_by_release(&proxy), [(1, 10, 0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_502_counted_as_an_error_of_its_release() {
    let (_refusing, addr) = refusing_addr().await;
    let dead = Backend { id: "dead".into(), release: 4, addr };
    let proxy = Proxy::bind("127.0.0.1:0".parse().expect("an address")).await.expect("bind");
    proxy.set_routes(Routes { backends: vec![dead], weights: vec![(4, 100)] });
    let client = http1_client();

    // A GET has nowhere else to go.
    let answer = get(&client, &proxy, "/").await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert!(answer.body.starts_with("bad gateway:"), "{}", answer.body);
    // A POST with a body is not retried.
    let request = Request::post(format!("http://{}/echo", proxy.local_addr())).body(text("x")).expect("a request");
    let answer = send(&client, request).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);

    assert_eq!(errors_by_release(&proxy), [(4, 2, 2)]);
    assert_eq!(proxy.unrouted(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backends_5xx_are_counted_as_errors_and_4xx_are_not() {
    let backend = TestBackend::start("b", 9).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let client = http1_client();
    for status in [500, 503, 404, 200] {
        let answer = get(&client, &proxy, &format!("/status/{status}")).await;
        assert_eq!(answer.status.as_u16(), status);
    }
    assert_eq!(errors_by_release(&proxy), [(9, 4, 2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_gets_400_and_the_proxy_goes_on() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.local_addr()).await.expect("connect");
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n").await.expect("write");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.expect("read");
    assert!(String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 400"), "{}", String::from_utf8_lossy(&reply));

    assert_eq!(get(&http1_client(), &proxy, "/").await.body, "b");
    assert_eq!(backend.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_does_not_answer_within_the_response_timeout_is_a_504_counted_as_an_error() {
    let backend = TestBackend::start("slow", 3).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    proxy.set_options(ProxyOptions { response_timeout: Duration::from_millis(50), ..Default::default() });
    let client = http1_client();

    // The gate stays closed: the backend never answers this one.
    let answer = get(&client, &proxy, "/gate").await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(answer.body.starts_with("gateway timeout:"), "{}", answer.body);
    // The proxy goes on serving, and the backend's other answers come through.
    assert_eq!(get(&client, &proxy, "/").await.body, "slow");
    assert_eq!(errors_by_release(&proxy), [(3, 2, 1)]);
}
