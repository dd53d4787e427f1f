//! The client against canned HTTP answers from a loopback listener (port 0): what it sends,
//! and how it reads answers, refusals and log streams.

use ferry_proto::runner::StepEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// A server that answers one request with `pieces` (written one after the other, then the
/// connection closes), and hands back the request it got.
async fn answer_once(pieces: Vec<String>) -> (Client, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("a connection");
        let mut request = Vec::new();
        let mut buf = [0; 4096];
        // The head, then as many body bytes as it announces.
        loop {
            let n = stream.read(&mut buf).await.expect("reading the request");
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some(head_end) = text.find("\r\n\r\n") {
                let length = text[..head_end]
                    .lines()
                    .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
                    .map_or(0, |length| length.trim().parse::<usize>().expect("a length"));
                if request.len() >= head_end + 4 + length || n == 0 {
                    break;
                }
            }
        }
        for piece in pieces {
            stream.write_all(piece.as_bytes()).await.expect("answering");
            stream.flush().await.expect("flushing");
        }
        String::from_utf8_lossy(&request).into_owned()
    });
    let client = Client::new(&format!("http://{addr}/"), "ferry_abc_secret").expect("a valid address");
    (client, server)
}

fn response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn only_plain_http_addresses_are_accepted() {
    assert!(Client::new("http://127.0.0.1:8080", "t").is_ok());
    assert!(Client::new("http://ferry.internal/ferry/", "t").is_ok());
    for url in ["https://ferry.example", "127.0.0.1:8080", "ftp://x", "http://x/?a=b", "not a url"] {
        let error = Client::new(url, "t").expect_err(url);
        assert!(matches!(error, ClientError::BadUrl { .. }), "{url}: {error}");
    }
    let https = Client::new("https://ferry.example", "t").expect_err("https").to_string();
    assert!(https.contains("reverse proxy"), "{https}");
    assert!(matches!(Client::new("http://x", "a\nb"), Err(ClientError::BadToken)));
}

#[test]
fn the_debug_form_hides_the_token() {
    let client = Client::new("http://127.0.0.1:1", "ferry_abc_secret").expect("valid");
    assert!(!format!("{client:?}").contains("secret"));
}

#[test]
fn path_segments_are_percent_encoded() {
    assert_eq!(segment("my-app_1.0~x"), "my-app_1.0~x");
    assert_eq!(segment("a b/c?"), "a%20b%2Fc%3F");
}

#[test]
fn refusals_keep_the_status_and_the_servers_message() {
    let error =
        refusal(&Method::POST, "/api/v1/projects", StatusCode::CONFLICT, br#"{"error": "project demo exists"}"#);
    assert_eq!(error.status(), Some(409));
    assert_eq!(error.to_string(), "project demo exists (409 from POST /api/v1/projects)");
    let error = refusal(&Method::GET, "/x", StatusCode::BAD_GATEWAY, b"");
    assert_eq!(error.to_string(), "Bad Gateway (502 from GET /x)");
    assert!(error.is_transient());
    let error = refusal(&Method::GET, "/x", StatusCode::NOT_FOUND, b"<html>nope</html>");
    assert_eq!(error.to_string(), "<html>nope</html> (404 from GET /x)");
    assert!(!error.is_transient());
}

#[tokio::test]
async fn a_claim_that_found_nothing_is_none_and_sends_the_token() {
    let (client, server) = answer_once(vec!["HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n".to_owned()]).await;
    assert_eq!(client.claim(5, &[]).await.expect("an answer"), None);
    let request = server.await.expect("the server saw the request");
    assert!(request.starts_with("POST /api/v1/runner/claim HTTP/1.1\r\n"), "{request}");
    assert!(request.contains("authorization: Bearer ferry_abc_secret\r\n"), "{request}");
    assert!(request.ends_with(r#"{"wait_ms":5}"#), "{request}");
}

#[tokio::test]
async fn a_refused_batch_says_the_job_is_gone() {
    let body = r#"{"error":"job 7 is not held by this runner"}"#;
    let (client, server) = answer_once(vec![response("409 Conflict", "application/json", body)]).await;
    let batch = EventBatch { seq: 1, events: vec![StepEvent::Lines { step_idx: 0, text: "hi\n".to_owned() }] };
    let error = client.send_events(7, &batch).await.expect_err("a refusal");
    assert_eq!(error.status(), Some(409));
    assert!(error.to_string().starts_with("job 7 is not held by this runner"), "{error}");
    let request = server.await.expect("the server saw the request");
    assert!(request.starts_with("POST /api/v1/runner/jobs/7/events "), "{request}");
    assert!(request.contains("content-type: application/vnd.ferry.event-batch\r\n"), "{request}");
    assert!(
        request.ends_with("\r\n\r\n{\"seq\":1,\"events\":[{\"type\":\"lines\",\"step_idx\":0,\"bytes\":3}]}\nhi\n"),
        "{request}"
    );
}

#[tokio::test]
async fn a_log_stream_yields_its_chunks_in_order_until_its_end_event() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n".to_owned();
    let pieces = vec![
        head,
        ": keep-alive\n\nevent: chunk\ndata: {\"job_id\":3,\"step_idx\":0,\"seq\":1,\"lines\":[\"a\"]}\n".to_owned(),
        "\nevent: chunk\ndata: {\"job_id\":3,\"step_idx\":1,\"seq\":1,\"lines\":[\"b\",\"c\"]}\n\n".to_owned(),
        "event: end\ndata: {}\n\n".to_owned(),
    ];
    let (client, server) = answer_once(pieces).await;
    let mut stream = client.logs(12, Some(3), true).await.expect("the stream opens");
    let mut lines = Vec::new();
    while let Some(chunk) = stream.next().await.expect("a chunk") {
        lines.push(format!("{}/{}/{}: {}", chunk.job_id, chunk.step_idx, chunk.seq, chunk.lines.join(",")));
    }
    assert_eq!(lines, ["3/0/1: a", "3/1/1: b,c"]);
    assert_eq!(stream.next().await.expect("still ended"), None);
    let request = server.await.expect("the server saw the request");
    assert!(request.starts_with("GET /api/v1/runs/12/logs?follow=true&job=3 "), "{request}");
}

#[tokio::test]
async fn a_raw_chunk_borrows_its_plain_lines_and_unescapes_the_others() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n".to_owned();
    let data = r#"{"job_id":3,"step_idx":0,"seq":1,"lines":["plain","a \"quote\"","\u001b[1mbold"]}"#;
    let pieces = vec![head, format!("event: chunk\ndata: {data}\n\nevent: end\ndata: {{}}\n\n")];
    let (client, _server) = answer_once(pieces).await;
    let mut stream = client.logs(12, None, false).await.expect("the stream opens");
    let raw = stream.next_raw().await.expect("a chunk").expect("not ended");
    assert_eq!(raw.framed(), None, "an event has lines, not a text");
    let chunk = raw.read().expect("a chunk");
    let lines: Vec<(&str, bool)> =
        chunk.lines.iter().map(|line| (line.as_ref(), matches!(line, std::borrow::Cow::Borrowed(_)))).collect();
    assert_eq!(lines, [("plain", true), ("a \"quote\"", false), ("\u{1b}[1mbold", false)]);
    assert_eq!(serde_json::to_string(&chunk).expect("JSON"), data, "written as it was read");
    assert!(stream.next_raw().await.expect("the end").is_none());
}

#[tokio::test]
async fn a_framed_log_stream_yields_its_chunks_with_lines_borrowed_from_the_text_as_written() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.ferry.log-stream\r\nconnection: close\r\n\r\n";
    let pieces = vec![
        head.to_owned(),
        "\n{\"type\":\"chunk\",\"job_id\":3,\"step_idx\":0,\"seq\":1,\"bytes\":22}\nplain\na \"quote\"\r\n\u{1b}"
            .to_owned(),
        "[1m\n{\"type\":\"chunk\",\"job_id\":3,\"step_idx\":1,\"seq\":1,\"bytes\":0}\n{\"type\":\"end\"}\n".to_owned(),
    ];
    let (client, server) = answer_once(pieces).await;
    let mut stream = client.logs(12, None, true).await.expect("the stream opens");
    let raw = stream.next_raw().await.expect("a chunk").expect("not ended");
    assert_eq!(raw.framed().map(|chunk| chunk.text.as_str()), Some("plain\na \"quote\"\r\n\u{1b}[1m\n"), "as written");
    let chunk = raw.read().expect("a chunk");
    let lines: Vec<(&str, bool)> =
        chunk.lines.iter().map(|line| (line.as_ref(), matches!(line, std::borrow::Cow::Borrowed(_)))).collect();
    assert_eq!(lines, [("plain", true), ("a \"quote\"", true), ("\u{1b}[1m", true)]);
    assert_eq!((chunk.job_id, chunk.step_idx, chunk.seq), (3, 0, 1));
    let empty = stream.next().await.expect("a chunk").expect("not ended");
    assert_eq!((empty.step_idx, empty.lines.len()), (1, 0));
    assert!(stream.next_raw().await.expect("the end").is_none());
    let request = server.await.expect("the server saw the request");
    assert!(
        request
            .to_ascii_lowercase()
            .contains("accept: application/json, application/vnd.ferry.log-stream, text/event-stream\r\n"),
        "{request}"
    );
}

#[tokio::test]
async fn a_broken_or_cut_framed_log_stream_is_an_error() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.ferry.log-stream\r\nconnection: close\r\n\r\n";
    let broken = format!("{head}{{\"type\":\"chunk\",\"job_id\":3,\"step_idx\":0,\"seq\":1,\"bytes\":3}}\nab");
    let (client, _server) = answer_once(vec![broken.clone(), "c{\"type\":\"end\"}\n".to_owned()]).await;
    let mut stream = client.logs(12, None, false).await.expect("the stream opens");
    let error = stream.next().await.expect_err("a chunk that does not end a line");
    assert!(matches!(error, ClientError::Unexpected { .. }), "{error}");
    assert!(error.to_string().contains("does not end with a line end"), "{error}");
    let (client, _server) = answer_once(vec![broken]).await;
    let mut stream = client.logs(12, None, false).await.expect("the stream opens");
    let error = stream.next().await.expect_err("cut inside a chunk");
    assert!(error.is_transient(), "{error}");
}

#[tokio::test]
async fn a_log_stream_cut_short_is_an_error() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n".to_owned();
    let (client, _server) = answer_once(vec![head]).await;
    let mut stream = client.logs(1, None, false).await.expect("the stream opens");
    let error = stream.next().await.expect_err("no end event");
    assert!(error.is_transient(), "{error}");
}

#[tokio::test]
async fn issue_13_a_log_stream_the_server_ends_with_an_error_is_an_error_saying_why() {
    let events = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n\
                  event: error\ndata: {\"error\":\"the database is gone\"}\n\n";
    let framed = "HTTP/1.1 200 OK\r\ncontent-type: application/vnd.ferry.log-stream\r\nconnection: close\r\n\r\n\
                  {\"type\":\"error\",\"message\":\"the database is gone\"}\n";
    for answer in [events, framed] {
        let (client, _server) = answer_once(vec![answer.to_owned()]).await;
        let mut stream = client.logs(1, None, true).await.expect("the stream opens");
        let error = stream.next().await.expect_err("an error, not the end");
        assert!(error.to_string().contains("before the log was complete: the database is gone"), "{error}");
        assert!(stream.next().await.is_err(), "never read as complete afterwards");
    }
}

#[tokio::test]
async fn an_unreachable_server_says_how_to_point_at_one() {
    // A port that was just free: nothing listens there any more.
    let addr = TcpListener::bind("127.0.0.1:0").await.expect("binding").local_addr().expect("an address");
    let client = Client::new(&format!("http://{addr}"), "t").expect("valid");
    let error = client.get_run(1).await.expect_err("nothing listens");
    assert!(matches!(error, ClientError::Unreachable { .. }), "{error}");
    assert!(error.is_transient());
    let message = error.to_string();
    assert!(message.starts_with(&format!("cannot reach the Ferry server at http://{addr}: ")), "{message}");
    assert!(message.ends_with("(is `ferry server` running? set --server or FERRY_SERVER)"), "{message}");
}
