//! Server-Sent Events, parsed as the HTML standard says: the stream is split into lines (at
//! `\n`, `\r\n` or `\r`, even when a line end is split across two reads), a line `field: value`
//! adds to the event being built, a line starting with `:` is a comment (servers send them as
//! keep-alives), and a blank line ends the event. Only `event` and `data` matter to Ferry;
//! `id` and `retry` are read and dropped.

/// One event: its type (`message` when the server named none) and its data lines joined
/// with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// Turns the bytes of an event stream, in pieces as they arrive, into events.
#[derive(Debug, Default)]
pub struct SseParser {
    /// The bytes of a line not ended yet.
    line: Vec<u8>,
    /// The last piece ended with `\r`: a `\n` starting the next one belongs to that line end.
    after_cr: bool,
    /// The first line was read; a byte-order mark before it is dropped.
    past_first_line: bool,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    #[must_use]
    pub fn new() -> SseParser {
        SseParser::default()
    }

    /// Reads the next piece of the stream; returns the events it completed, in order.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if self.after_cr && !bytes.is_empty() {
            self.after_cr = false;
            bytes = bytes.strip_prefix(b"\n").unwrap_or(bytes);
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', bytes) {
            self.line.extend_from_slice(&bytes[..end]);
            let line = std::mem::take(&mut self.line);
            if let Some(event) = self.line_ended(&line) {
                events.push(event);
            }
            let crlf = bytes[end] == b'\r' && bytes.get(end + 1) == Some(&b'\n');
            if bytes[end] == b'\r' && end + 1 == bytes.len() {
                self.after_cr = true;
            }
            bytes = &bytes[end + if crlf { 2 } else { 1 }..];
        }
        self.line.extend_from_slice(bytes);
        events
    }

    fn line_ended(&mut self, mut line: &[u8]) -> Option<SseEvent> {
        if !self.past_first_line {
            self.past_first_line = true;
            line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        }
        if line.is_empty() {
            let event = self.event.take();
            // An event without data is not dispatched, but its type is forgotten all the same.
            let data = self.data.take()?;
            return Some(SseEvent { event: event.unwrap_or_else(|| "message".to_owned()), data });
        }
        if line.starts_with(b":") {
            return None;
        }
        // A log chunk's data line is a megabyte: checked whole first, which is much faster.
        let line = match std::str::from_utf8(line) {
            Ok(line) => std::borrow::Cow::Borrowed(line),
            Err(_) => String::from_utf8_lossy(line),
        };
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests;
