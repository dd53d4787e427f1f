//! The headers the backend and the client see: `X-Forwarded-*` added, `Host` kept,
//! hop-by-hop headers removed both ways, end-to-end ones kept.

use ferry_proxy::ProxyOptions;
use hyper::Request;

use crate::support::{TestBackend, empty, header_lines, http1_client, proxy_to, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_are_added_and_hop_by_hop_ones_removed() {
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let request = Request::get(format!("http://{}/headers", proxy.local_addr()))
        .header("host", "shop.example:8002")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-proto", "https")
        .header("connection", "x-hop")
        .header("x-hop", "1")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("proxy-connection", "keep-alive")
        .header("x-end", "kept")
        .body(empty())
        .expect("a request");
    let answer = send(&http1_client(), request).await;

    let seen = header_lines(&answer.body);
    assert_eq!(seen.get("x-forwarded-for").map(String::as_str), Some("203.0.113.7, 127.0.0.1"));
    assert_eq!(seen.get("x-forwarded-proto").map(String::as_str), Some("http"));
    assert_eq!(seen.get("x-forwarded-host").map(String::as_str), Some("shop.example:8002"));
    assert_eq!(seen.get("host").map(String::as_str), Some("shop.example:8002"));
    assert_eq!(seen.get("x-end").map(String::as_str), Some("kept"));
    for hop in ["x-hop", "keep-alive", "te", "proxy-connection", "connection"] {
        assert_eq!(seen.get(hop), None, "{hop} reached the backend: {}", answer.body);
    }
    // The answer's own hop-by-hop headers stay between the backend and the proxy.
    assert_eq!(answer.headers.get("x-hop-reply"), None);
    assert_eq!(answer.headers.get("x-end-reply").map(|v| v.as_bytes()), Some(&b"1"[..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_forwarded_for_headers_are_joined_in_order() {
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let request = Request::get(format!("http://{}/headers", proxy.local_addr()))
        .header("x-forwarded-for", "198.51.100.1, 198.51.100.2")
        .header("x-forwarded-for", "198.51.100.3")
        .body(empty())
        .expect("a request");
    let seen = header_lines(&send(&http1_client(), request).await.body);
    assert_eq!(
        seen.get("x-forwarded-for").map(String::as_str),
        Some("198.51.100.1, 198.51.100.2, 198.51.100.3, 127.0.0.1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_proto_and_host_pass_through_only_from_a_trusted_hop() {
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let client = http1_client();
    let forwarded = |proxy: &ferry_proxy::Proxy| {
        Request::get(format!("http://{}/headers", proxy.local_addr()))
            .header("host", "internal:8002")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "shop.example")
            .body(empty())
            .expect("a request")
    };
    let seen_by_backend = |body: &str| {
        let seen = header_lines(body);
        (seen.get("x-forwarded-proto").cloned(), seen.get("x-forwarded-host").cloned())
    };

    // The tests' client connects from 127.0.0.1: not a trusted hop by default.
    let answer = send(&client, forwarded(&proxy)).await;
    assert_eq!(seen_by_backend(&answer.body), (Some("http".into()), Some("internal:8002".into())));

    proxy.set_options(ProxyOptions { trusted_hops: vec!["127.0.0.1".parse().expect("an IP")], ..Default::default() });
    let answer = send(&client, forwarded(&proxy)).await;
    assert_eq!(seen_by_backend(&answer.body), (Some("https".into()), Some("shop.example".into())));
}
