//! Draining a backend that left the routes: it takes no new request, the ones it has finish,
//! and the drain gives up at its timeout (closing upgraded connections); shutting the proxy
//! down lets requests in flight finish too.

use std::time::Duration;

use hyper::StatusCode;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::protocols::upgrade;
use crate::support::{TestBackend, get, http1_client, proxy_to, routes, spread};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_waits_for_the_request_in_flight_while_new_ones_go_elsewhere() {
    let old = TestBackend::start("old", 1).await;
    let new = TestBackend::start("new", 2).await;
    let proxy = proxy_to(&[&old], &[]).await;
    let slow = tokio::spawn({
        let proxy = proxy.clone();
        async move { get(&http1_client(), &proxy, "/gate").await }
    });
    old.wait_at_gate().await;

    proxy.set_routes(routes(&[&new], &[]));
    let drain = tokio::spawn({
        let proxy = proxy.clone();
        async move { proxy.drain("old", Duration::from_secs(120)).await }
    });
    assert_eq!(spread(&proxy, 20).await.get("new"), Some(&20));
    assert_eq!(old.hits(), 1);
    // The gate is closed, so the request cannot have finished, nor the drain.
    assert!(!drain.is_finished());

    old.open_gate(1);
    assert_eq!(drain.await.expect("the drain"), 0);
    let answer = slow.await.expect("the slow request");
    assert_eq!((answer.status, answer.body.as_str()), (StatusCode::OK, "opened"));
    // A backend nothing is in flight to drains at once, and so does an unknown one.
    assert_eq!(proxy.drain("old", Duration::from_secs(120)).await, 0);
    assert_eq!(proxy.drain("nobody", Duration::from_secs(120)).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_gives_up_at_its_timeout_and_closes_upgraded_connections() {
    let old = TestBackend::start("old", 1).await;
    let proxy = proxy_to(&[&old], &[]).await;
    let slow = tokio::spawn({
        let proxy = proxy.clone();
        async move { get(&http1_client(), &proxy, "/gate").await }
    });
    old.wait_at_gate().await;
    let stream = TcpStream::connect(proxy.local_addr()).await.expect("connect");
    let (reply, mut socket) = upgrade(stream).await;
    assert!(reply.starts_with("HTTP/1.1 101"), "{reply}");

    proxy.set_routes(routes(&[], &[]));
    assert_eq!(proxy.drain("old", Duration::from_millis(100)).await, 2);

    // The WebSocket was closed by the proxy; the plain request was left to finish.
    let mut rest = Vec::new();
    let read = socket.read_to_end(&mut rest).await;
    assert!(read.is_err() || rest.is_empty(), "{read:?} {rest:?}");
    old.open_gate(1);
    assert_eq!(slow.await.expect("the slow request").body, "opened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_accepting_and_lets_the_request_in_flight_finish() {
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let addr = proxy.local_addr();
    let slow = tokio::spawn({
        let proxy = proxy.clone();
        async move { get(&http1_client(), &proxy, "/gate").await }
    });
    backend.wait_at_gate().await;

    let shutdown = tokio::spawn(proxy.shutdown());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "the proxy still accepts connections");
        tokio::task::yield_now().await;
    }
    assert!(!shutdown.is_finished());

    backend.open_gate(1);
    assert_eq!(slow.await.expect("the slow request").body, "opened");
    shutdown.await.expect("the shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_handle_stops_the_listener() {
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let addr = proxy.local_addr();
    let clone = proxy.clone();
    drop(proxy);
    assert_eq!(get(&http1_client(), &clone, "/").await.body, "b");
    drop(clone);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "the proxy still accepts connections");
        tokio::task::yield_now().await;
    }
}
