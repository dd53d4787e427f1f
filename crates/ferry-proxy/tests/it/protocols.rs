//! What passes through: bodies streamed both ways (never held whole), HTTP/2 clients in
//! front of HTTP/1.1 backends, keep-alive, and an upgrade to a WebSocket.

use http_body_util::{BodyExt, Channel};
use hyper::body::{Bytes, Frame};
use hyper::{Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{TestBackend, empty, get, header_lines, http1_client, http2_client, proxy_to, send, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_streams_through_both_ways() {
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    // 32 MiB in 256 chunks of 128 KiB, each chunk a different byte.
    let (mut sender, body) = Channel::<Bytes, Box<dyn std::error::Error + Send + Sync>>::new(4);
    tokio::spawn(async move {
        for chunk_idx in 0..256u32 {
            let chunk = Bytes::from(vec![(chunk_idx % 251) as u8; 128 * 1024]);
            if sender.send_data(chunk).await.is_err() {
                return;
            }
        }
    });
    let request = Request::post(format!("http://{}/echo", proxy.local_addr())).body(body.boxed()).expect("a request");
    let response = http1_client().request(request).await.expect("an answer");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut received = Vec::with_capacity(32 << 20);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("a frame").into_data() {
            received.extend_from_slice(&data);
        }
    }
    assert_eq!(received.len(), 32 << 20);
    for (chunk_idx, chunk) in received.chunks(128 * 1024).enumerate() {
        assert!(chunk.iter().all(|&byte| byte == (chunk_idx % 251) as u8), "chunk {chunk_idx} differs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_piece_of_a_body_comes_back_before_the_next_is_sent() {
    // Were either direction buffered whole, the first piece could not come back while the
    // request is still open: this would wait forever.
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let (mut sender, body) = Channel::<Bytes, Box<dyn std::error::Error + Send + Sync>>::new(1);
    let request = Request::post(format!("http://{}/echo", proxy.local_addr())).body(body.boxed()).expect("a request");
    let client = http1_client();
    let pending = tokio::spawn(async move { client.request(request).await });
    sender.send_data(Bytes::from_static(b"ping 0")).await.expect("send");
    let response = pending.await.expect("the task").expect("an answer");
    let mut body = response.into_body();
    for piece_idx in 0..5 {
        let mut got = Vec::new();
        while got.len() < 6 {
            let frame = body.frame().await.expect("more body").expect("a frame");
            got.extend_from_slice(&frame.into_data().unwrap_or_default());
        }
        assert_eq!(got, format!("ping {piece_idx}").as_bytes());
        if piece_idx < 4 {
            sender.send_data(Bytes::from(format!("ping {}", piece_idx + 1))).await.expect("send");
        }
    }
    drop(sender);
    assert!(body.frame().await.is_none_or(|frame| frame.is_ok_and(|frame: Frame<Bytes>| frame.is_trailers())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_client_is_served_by_an_http1_backend() {
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let client = http2_client();

    let answer = get(&client, &proxy, "/headers").await;
    assert_eq!(answer.status, StatusCode::OK);
    let seen = header_lines(&answer.body);
    assert_eq!(seen.get("version").map(String::as_str), Some("HTTP/1.1"));
    // HTTP/2 has no Host header: the request's authority becomes it.
    let authority = proxy.local_addr().to_string();
    assert_eq!(seen.get("host"), Some(&authority));
    assert_eq!(seen.get("x-forwarded-host"), Some(&authority));

    let request =
        Request::post(format!("http://{}/echo", proxy.local_addr())).body(text("over h2")).expect("a request");
    let answer = send(&client, request).await;
    assert_eq!((answer.status, answer.body.as_str()), (StatusCode::OK, "over h2"));

    // Many streams at once on the one connection.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = client.clone();
        let url = format!("http://{}/", proxy.local_addr());
        tasks.push(tokio::spawn(async move {
            let request = Request::get(url).body(empty()).expect("a request");
            send(&client, request).await.body
        }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("the task"), "b");
    }
    assert_eq!(proxy.traffic()[0].requests, 22);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_serves_many_requests_on_one_client_connection() {
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let mut stream = TcpStream::connect(proxy.local_addr()).await.expect("connect");
    for _ in 0..3 {
        stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.expect("write");
        let reply = read_reply(&mut stream).await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(reply.ends_with("\r\n\r\nb"), "{reply}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_keeps_its_connection_to_a_backend_and_opens_another_once_the_backend_closes_it() {
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let client = http1_client();
    for _ in 0..20 {
        assert_eq!(get(&client, &proxy, "/").await.body, "b");
    }
    assert_eq!(backend.connections(), 1, "one request after the other: one connection to the backend");
    // The backend closes the connection after this answer: the next request gets a new one.
    assert_eq!(get(&client, &proxy, "/close").await.body, "closing");
    for _ in 0..3 {
        assert_eq!(get(&client, &proxy, "/").await.body, "b");
    }
    assert_eq!(backend.connections(), 2);
    assert_eq!(proxy.traffic()[0].errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_upgrade_passes_through_and_bytes_flow_both_ways() {
    let backend = TestBackend::start("b", 1).await;
    let proxy = proxy_to(&[&backend], &[]).await;
    let stream = TcpStream::connect(proxy.local_addr()).await.expect("connect");
    let (reply, mut stream) = upgrade(stream).await;
    assert!(reply.starts_with("HTTP/1.1 101"), "{reply}");
    let lower = reply.to_ascii_lowercase();
    assert!(lower.contains("upgrade: websocket"), "{reply}");
    assert!(lower.contains("connection: upgrade"), "{reply}");
    assert!(lower.contains("sec-websocket-accept: test"), "{reply}");

    // A masked text frame "hello", as a browser sends it, then raw bytes: all come back.
    let frame = [0x81, 0x85, 1, 2, 3, 4, b'h' ^ 1, b'e' ^ 2, b'l' ^ 3, b'l' ^ 4, b'o' ^ 1];
    for message in [&frame[..], b"second message"] {
        stream.write_all(message).await.expect("write");
        let mut echoed = vec![0; message.len()];
        stream.read_exact(&mut echoed).await.expect("read the echo");
        assert_eq!(echoed, message);
    }
    assert_eq!(proxy.traffic()[0].requests, 1);
}

/// Sends a WebSocket handshake on `stream` and reads the answer's head.
pub async fn upgrade(mut stream: TcpStream) -> (String, TcpStream) {
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .expect("write the handshake");
    let reply = read_head(&mut stream).await;
    (reply, stream)
}

/// Reads up to the end of an answer's head (`\r\n\r\n`), byte by byte (nothing after it).
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = stream.read_u8().await.expect("read the head");
        head.push(byte);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads one answer with a `content-length`.
async fn read_reply(stream: &mut TcpStream) -> String {
    let head = read_head(stream).await;
    let length: usize = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
        .and_then(|value| value.trim().parse().ok())
        .expect("a content-length");
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.expect("read the body");
    head + &String::from_utf8_lossy(&body)
}
