//! Unit tests of the header rules.

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("a name"),
            HeaderValue::from_str(value).expect("a value"),
        );
    }
    map
}

fn names(map: &HeaderMap) -> Vec<String> {
    let mut names: Vec<String> = map.keys().map(|name| name.as_str().to_owned()).collect();
    names.sort();
    names
}

#[test]
fn hop_by_hop_headers_and_those_connection_names_are_removed() {
    let mut map = headers(&[
        ("connection", "close, X-Trace"),
        ("connection", "x-other,,bad name"),
        ("x-trace", "1"),
        ("x-other", "1"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("te", "trailers"),
        ("upgrade", "websocket"),
        ("proxy-connection", "keep-alive"),
        ("proxy-authorization", "Basic eA=="),
        ("content-type", "text/plain"),
        ("content-length", "3"),
        ("trailer", "x-checksum"),
    ]);
    remove_hop_by_hop(&mut map);
    assert_eq!(names(&map), ["content-length", "content-type", "trailer"]);
}

#[test]
fn forwarded_headers_append_the_client_and_replace_proto_and_host() {
    let client: SocketAddr = "[2001:db8::1]:5000".parse().expect("an address");
    let mut map = headers(&[("x-forwarded-proto", "https"), ("x-forwarded-host", "spoofed"), ("x-forwarded-for", " ")]);
    add_forwarded(&mut map, &ip_value(client), None, false, false);
    assert_eq!(map["x-forwarded-for"], "2001:db8::1");
    assert_eq!(map["x-forwarded-proto"], "http");
    assert!(!map.contains_key("x-forwarded-host"));

    let mut map = headers(&[("x-forwarded-for", "10.0.0.1")]);
    add_forwarded(
        &mut map,
        &ip_value("127.0.0.1:1".parse().expect("an address")),
        Some(&HeaderValue::from_static("a.example")),
        false,
        false,
    );
    assert_eq!(map["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
    assert_eq!(map["x-forwarded-host"], "a.example");
}

#[test]
fn a_trusted_hop_keeps_its_proto_and_host_and_gets_the_proxys_where_it_gave_none() {
    let hop: SocketAddr = "10.0.0.2:5000".parse().expect("an address");
    let host = HeaderValue::from_static("internal:8002");
    let mut map = headers(&[("x-forwarded-proto", "https"), ("x-forwarded-host", "shop.example")]);
    add_forwarded(&mut map, &ip_value(hop), Some(&host), false, true);
    assert_eq!(
        (map["x-forwarded-proto"].as_bytes(), map["x-forwarded-host"].as_bytes()),
        (&b"https"[..], &b"shop.example"[..])
    );

    let mut map = headers(&[]);
    add_forwarded(&mut map, &ip_value(hop), Some(&host), false, true);
    assert_eq!(
        (map["x-forwarded-proto"].as_bytes(), map["x-forwarded-host"].as_bytes()),
        (&b"http"[..], &b"internal:8002"[..])
    );
}

#[test]
fn over_tls_the_proto_is_https_and_a_clients_own_is_replaced() {
    let client: SocketAddr = "192.0.2.7:5000".parse().expect("an address");
    let mut map = headers(&[("x-forwarded-proto", "http")]);
    add_forwarded(&mut map, &ip_value(client), None, true, false);
    assert_eq!(map["x-forwarded-proto"], "https");
}

#[test]
fn only_idempotent_methods_are_retried() {
    let retried: Vec<&str> = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"]
        .into_iter()
        .filter(|method| is_idempotent(&Method::from_bytes(method.as_bytes()).expect("a method")))
        .collect();
    assert_eq!(retried, ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
}
