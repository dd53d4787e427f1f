//! Which server URLs the runtime relay stands in for.

use super::*;

#[test]
fn only_plain_http_on_a_loopback_host_is_relayed() {
    let upstream = Upstream::loopback("http://127.0.0.1:8080").expect("loopback");
    assert_eq!(
        (upstream.origin.as_str(), upstream.authority.as_str(), upstream.prefix.as_str()),
        ("http://127.0.0.1:8080", "127.0.0.1:8080", "")
    );
    let upstream = Upstream::loopback("http://localhost/ferry/").expect("loopback");
    assert_eq!((upstream.authority.as_str(), upstream.prefix.as_str()), ("localhost:80", "/ferry"));
    let upstream = Upstream::loopback("http://[::1]:9000").expect("loopback");
    assert_eq!(upstream.authority, "[::1]:9000");
    for url in ["http://ferry.example.com", "https://127.0.0.1:8080", "http://10.0.0.2:8080", "http://[::2]:1"] {
        assert_eq!(Upstream::loopback(url), None, "{url}");
    }
}

/// Sends `request` (a whole HTTP/1.1 request) to `origin` (`http://host:port`) and returns the
/// status and body of the answer.
async fn send(origin: &str, request: String) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = origin.strip_prefix("http://").expect("an http origin");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("the relay answers");
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line");
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_passes_on_only_the_runtime_services_and_signs_its_own_address() {
    let cache = tempfile::tempdir().expect("a temp dir");
    let service = ferry_server::LocalService::start(cache.path()).await.expect("the service starts");
    let upstream = Upstream::loopback(service.url()).expect("the service is on loopback");
    // Loopback stands for the bridge gateway here: only the address differs.
    let relay = Relay::start(IpAddr::from([127, 0, 0, 1]), upstream).await.expect("the relay starts");
    assert_ne!(relay.url(), service.url());
    let body = r#"{"key":"k1","version":"abc123"}"#;
    let create = format!(
        "POST /twirp/github.actions.results.api.v1.CacheService/CreateCacheEntry HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        service.token(),
        body.len()
    );
    let (status, answer) = send(relay.url(), create).await;
    assert_eq!(status, 200, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).expect("JSON");
    let signed = answer["signed_upload_url"].as_str().unwrap_or_default();
    assert!(signed.starts_with(&format!("{}/_apis/ferry-cache/uploads/", relay.url())), "{answer}");
    // Without the job's token the service refuses, through the relay as without it.
    let lookup =
        "GET /_apis/artifactcache/cache?keys=k1&version=abc123 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_eq!(send(relay.url(), lookup.to_owned()).await.0, 401);
    // Nothing else is passed on.
    for path in ["/healthz", "/_apis/artifactcache/../../api/v1/projects"] {
        let other = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let refused = (404, "only the runtime services are relayed here".to_owned());
        assert_eq!(send(relay.url(), other).await, refused, "{path}");
    }
}
