//! Forwarding to a remote-write endpoint (`[metrics.remote_write]`): what the server stores
//! is sent on with the configured credentials; a batch answered 503 is sent again and arrives
//! whole; a batch refused with 400 is dropped; `/metrics` counts both.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferry_promql::Labels;
use ferry_server::{RemoteAuth, RemoteWriteConfig};

use crate::TestServer;

/// One request the endpoint took, and what it answered.
struct Received {
    authorization: String,
    encoding: String,
    names: Vec<String>,
    status: u16,
}

/// A remote-write endpoint on loopback: 503 to the first request, 400 to a batch holding
/// `refused_total`, 204 else.
fn endpoint() -> (u16, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (index, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut raw = Vec::new();
            let mut buf = [0_u8; 8192];
            let (head, body) = loop {
                let Ok(n) = stream.read(&mut buf) else { break (String::new(), Vec::new()) };
                raw.extend_from_slice(&buf[..n]);
                let Some(end) = raw.windows(4).position(|window| window == b"\r\n\r\n") else {
                    if n == 0 {
                        break (String::new(), Vec::new());
                    }
                    continue;
                };
                let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|value| value.trim().parse().ok())
                    .unwrap_or(0);
                if raw.len() >= end + 4 + length || n == 0 {
                    break (head, raw[end + 4..].to_vec());
                }
            };
            let header = |name: &str| {
                head.lines()
                    .find_map(|line| line.strip_prefix(name))
                    .map(|value| value.trim().to_owned())
                    .unwrap_or_default()
            };
            let decoded = ferry_promql::remote_write::decode(&body).expect("a remote-write body");
            let mut names: Vec<String> =
                decoded.samples.iter().filter_map(|(labels, _, _)| labels.get("__name__").map(str::to_owned)).collect();
            names.dedup();
            let status = if index == 0 {
                503
            } else if names.iter().any(|name| name == "refused_total") {
                400
            } else {
                204
            };
            let _ = write!(stream, "HTTP/1.1 {status} Answer\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let received = Received {
                authorization: header("authorization:"),
                encoding: header("content-encoding:"),
                names,
                status,
            };
            if tx.send(received).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

#[test]
fn stored_samples_are_forwarded_retried_after_a_5xx_and_dropped_after_a_4xx() {
    let (port, received) = endpoint();
    let server = TestServer::start_configured(|config| {
        config.scrape.scrape_self = false;
        config.scrape.remote_write = Some(RemoteWriteConfig {
            url: format!("http://127.0.0.1:{port}/api/v1/write"),
            auth: Some(RemoteAuth::Bearer("s3cr3t".into())),
            queue: 1_000,
        });
    });
    let authorization = format!("Bearer {}", server.admin);
    let write = |name: &str| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
        let sample = (Labels::new([("__name__", name)]), i64::try_from(now).expect("a time"), 1.0);
        let body = ferry_promql::remote_write::encode(&[sample]);
        let headers = [("Authorization", authorization.as_str()), ("Content-Type", "application/x-protobuf")];
        let res = server.request("POST", "/prometheus/api/v1/write", &headers, &body);
        assert_eq!(res.status, 204, "{}", res.body);
    };
    let next = || received.recv_timeout(Duration::from_secs(60)).expect("the server forwards");

    write("orders_total");
    let first = next();
    assert_eq!((first.status, first.names.as_slice()), (503, &["orders_total".to_owned()][..]));
    let again = next();
    assert_eq!((again.status, again.names.as_slice()), (204, &["orders_total".to_owned()][..]), "sent again whole");
    assert_eq!((again.authorization.as_str(), again.encoding.as_str()), ("bearer s3cr3t", "snappy"));

    write("refused_total");
    assert_eq!(next().status, 400);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = server.call("GET", "/metrics", None, None).body;
        let counted = ["ferry_remote_write_samples_sent_total 1", "ferry_remote_write_samples_dropped_total 1"]
            .iter()
            .all(|line| metrics.lines().any(|have| have == *line));
        if counted {
            break;
        }
        assert!(Instant::now() < deadline, "never counted: {metrics}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
