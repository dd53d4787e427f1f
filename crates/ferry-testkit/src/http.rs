//! Loopback HTTP "servers" for tests: [`http_recorder`] records the head of each request, for
//! tests of what a client (git, above all) sends to a remote: its headers, never the
//! credentials it must not show; [`http_receiver`] takes JSON bodies as a webhook receiver
//! does (alert notifications).

use std::io::{BufRead, BufReader, Read, Write};
use std::sync::mpsc;

/// Starts a loopback listener that records the head (request line and headers) of each
/// request it gets and answers each with `answer` (`None`: never answers, holding the
/// connection open); its port and the heads, in order.
///
/// # Panics
/// When no loopback port can be bound.
#[must_use]
pub fn http_recorder(answer: Option<&'static str>) -> (u16, mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("an address").port();
    let (heads, received) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut byte = [0; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let _ = heads.send(String::from_utf8_lossy(&head).into_owned());
            match answer {
                Some(answer) => drop(stream.write_all(answer.as_bytes())),
                None => held.push(stream),
            }
        }
    });
    (port, received)
}

/// An answer that tells git the repository does not exist.
pub const NOT_FOUND: &str = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// An HTTP receiver on loopback that answers every request `200 OK`: its URL (`/hook` on
/// its port; any path is taken) and every request's body read as JSON (`null` when it is
/// not), in order.
///
/// # Panics
/// When no loopback port can be bound.
#[must_use]
pub fn http_receiver() -> (String, mpsc::Receiver<serde_json::Value>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    let (bodies, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let Ok(read_half) = stream.try_clone() else { continue };
            let mut reader = BufReader::new(read_half);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if bodies.send(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null)).is_err() {
                return;
            }
        }
    });
    (url, received)
}
