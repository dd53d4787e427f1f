//! [`http_recorder`]: a loopback HTTP "server" that records the head of each request, for tests
//! of what a client (git, above all) sends to a remote: its headers, never the credentials it
//! must not show.

use std::io::{Read, Write};
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
