//! A minimal Chrome DevTools Protocol client over one blocking websocket: commands carry an
//! id and the caller waits for the response with that id; events that arrive meanwhile are
//! kept, oldest first, until someone takes them.
//!
//! Blocking with a read timeout on the socket keeps it free of an async runtime, so tests of
//! any kind (sync or `#[tokio::test]`) can use it; tungstenite resumes a partly read frame
//! after a timeout, so a deadline never corrupts the stream.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

use super::ChromiumError;

/// How long one command may wait for its response.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Events kept at most; older ones are dropped (network events add up over a long test).
const MAX_EVENTS: usize = 10_000;

/// A CDP event: `Page.loadEventFired`, `Runtime.exceptionThrown`, …
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub method: String,
    pub params: Value,
}

#[derive(Debug)]
pub(crate) struct Connection {
    socket: WebSocket<TcpStream>,
    next_id: u64,
    events: VecDeque<Event>,
}

impl Connection {
    /// Connects to `ws://127.0.0.1:{port}{path}`.
    pub(crate) fn open(port: u16, path: &str) -> Result<Connection, ChromiumError> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        // Bounds the handshake; `read_until` sets its own timeout for every read after it.
        stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
        let url = format!("ws://127.0.0.1:{port}{path}");
        let (socket, _response) = tungstenite::client(url.as_str(), stream).map_err(|error| match error {
            tungstenite::HandshakeError::Failure(error) => ChromiumError::from(error),
            tungstenite::HandshakeError::Interrupted(_) => ChromiumError::NoResponse {
                method: format!("the websocket handshake with {url}"),
                timeout: COMMAND_TIMEOUT,
            },
        })?;
        Ok(Connection { socket, next_id: 1, events: VecDeque::new() })
    }

    /// Sends `method` and returns its `result`; a CDP error becomes [`ChromiumError::Protocol`].
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Result<Value, ChromiumError> {
        let id = self.next_id;
        self.next_id += 1;
        let command = json!({ "id": id, "method": method, "params": params });
        self.socket.send(Message::text(command.to_string()))?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let mut response = self
            .read_until(deadline, |message| message.get("id").and_then(Value::as_u64) == Some(id))?
            .ok_or_else(|| ChromiumError::NoResponse { method: method.to_owned(), timeout: COMMAND_TIMEOUT })?;
        if let Some(error) = response.get("error") {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("unknown error");
            return Err(ChromiumError::Protocol { method: method.to_owned(), message: message.to_owned() });
        }
        Ok(response.get_mut("result").map(Value::take).unwrap_or(Value::Null))
    }

    /// The first kept or incoming event named `method`, or `None` at the deadline.
    pub(crate) fn wait_event(&mut self, method: &str, deadline: Instant) -> Result<Option<Event>, ChromiumError> {
        if let Some(event_idx) = self.events.iter().position(|event| event.method == method) {
            return Ok(self.events.remove(event_idx));
        }
        let is_wanted = |message: &Value| message.get("method").and_then(Value::as_str) == Some(method);
        let Some(mut message) = self.read_until(deadline, is_wanted)? else { return Ok(None) };
        let params = message.get_mut("params").map(Value::take).unwrap_or(Value::Null);
        Ok(Some(Event { method: method.to_owned(), params }))
    }

    /// Forgets kept events named `method`, so a later wait sees only new ones.
    pub(crate) fn discard_events(&mut self, method: &str) {
        self.events.retain(|event| event.method != method);
    }

    pub(crate) fn take_events(&mut self) -> Vec<Event> {
        self.events.drain(..).collect()
    }

    /// Reads messages until one satisfies `is_wanted` (returned) or the deadline passes
    /// (`None`), keeping the events read on the way.
    fn read_until(
        &mut self,
        deadline: Instant,
        is_wanted: impl Fn(&Value) -> bool,
    ) -> Result<Option<Value>, ChromiumError> {
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Ok(None);
            }
            self.socket.get_mut().set_read_timeout(Some(remaining))?;
            let text = match self.socket.read() {
                Ok(Message::Text(text)) => text,
                // Pings are answered by tungstenite; CDP sends nothing else we need.
                Ok(_) => continue,
                Err(tungstenite::Error::Io(error))
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let mut message: Value = serde_json::from_str(text.as_str()).map_err(ChromiumError::InvalidMessage)?;
            if is_wanted(&message) {
                return Ok(Some(message));
            }
            if let Some(method) = message.get("method").and_then(Value::as_str) {
                let method = method.to_owned();
                let params = message.get_mut("params").map(Value::take).unwrap_or(Value::Null);
                if self.events.len() == MAX_EVENTS {
                    self.events.pop_front();
                }
                self.events.push_back(Event { method, params });
            }
        }
    }
}
