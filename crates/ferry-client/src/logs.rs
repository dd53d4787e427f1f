//! A run's log as it streams from `GET /api/v1/runs/{id}/logs`: framed
//! (`application/vnd.ferry.log-stream`, see `ferry_proto::log_stream`), which the client asks
//! for, or Server-Sent Events whose `chunk` events carry a [`LogChunkView`] each, from a
//! server that does not frame; either way chunks in order, then an end that says everything
//! was sent.

use std::borrow::Cow;
use std::collections::VecDeque;

use ferry_proto::log_stream::{LogChunkText, LogFrame, LogStreamDecoder};
use ferry_proto::runs::LogChunkView;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::{Deserialize, Serialize};

use crate::ClientError;
use crate::sse::{SseEvent, SseParser};

/// The chunks of a log stream, read with [`LogStream::next`].
#[derive(Debug)]
pub struct LogStream {
    base: String,
    path: String,
    body: Incoming,
    reader: Reader,
    ended: bool,
}

/// How the stream's bytes become chunks.
#[derive(Debug)]
enum Reader {
    Framed(LogStreamDecoder),
    Events { parser: SseParser, pending: VecDeque<SseEvent> },
}

impl LogStream {
    pub(crate) fn new(base: String, path: String, body: Incoming, framed: bool) -> LogStream {
        let reader = if framed {
            Reader::Framed(LogStreamDecoder::new())
        } else {
            Reader::Events { parser: SseParser::new(), pending: VecDeque::new() }
        };
        LogStream { base, path, body, reader, ended: false }
    }

    /// The next chunk, or `None` once the server said the log ended. Waits for as long as the
    /// server takes (a followed run may be quiet for minutes); keep-alives are skipped.
    ///
    /// # Errors
    /// [`ClientError::Connection`] when the stream broke or ended without its end,
    /// [`ClientError::Unexpected`] for a chunk that is not a [`LogChunkView`] or a broken frame.
    pub async fn next(&mut self) -> Result<Option<LogChunkView>, ClientError> {
        let Some(raw) = self.next_raw().await? else { return Ok(None) };
        let chunk = raw.read()?;
        Ok(Some(LogChunkView {
            job_id: chunk.job_id,
            step_idx: chunk.step_idx,
            seq: chunk.seq,
            lines: chunk.lines.into_iter().map(Cow::into_owned).collect(),
        }))
    }

    /// The next chunk as it came, to be read with [`RawChunk::read`] without a `String` per
    /// line (a step that prints fast sends thousands of lines a chunk); `None` once the
    /// server said the log ended.
    ///
    /// # Errors
    /// [`ClientError::Connection`] when the stream broke or ended without its end (the
    /// server's reason when it said one), [`ClientError::Unexpected`] for a broken frame.
    pub async fn next_raw(&mut self) -> Result<Option<RawChunk>, ClientError> {
        loop {
            if self.ended {
                return Ok(None);
            }
            match &mut self.reader {
                Reader::Framed(decoder) => match decoder.next_frame() {
                    Ok(Some(LogFrame::Chunk(chunk))) => {
                        return Ok(Some(RawChunk { path: self.path.clone(), data: Data::Framed(chunk) }));
                    }
                    Ok(Some(LogFrame::End)) => {
                        self.ended = true;
                        return Ok(None);
                    }
                    Ok(Some(LogFrame::Error(message))) => {
                        return Err(cut_short(&self.base, &message));
                    }
                    Ok(None) => {}
                    Err(message) => return Err(unexpected(&self.path, format!("the log stream: {message}"))),
                },
                Reader::Events { pending, .. } => {
                    while let Some(event) = pending.pop_front() {
                        match event.event.as_str() {
                            "chunk" => {
                                return Ok(Some(RawChunk { path: self.path.clone(), data: Data::Event(event.data) }));
                            }
                            "end" => {
                                self.ended = true;
                                return Ok(None);
                            }
                            "error" => {
                                let message = serde_json::from_str::<serde_json::Value>(&event.data)
                                    .ok()
                                    .and_then(|data| data["error"].as_str().map(str::to_owned))
                                    .unwrap_or(event.data);
                                return Err(cut_short(&self.base, &message));
                            }
                            // Events this client does not know yet are for newer clients.
                            _ => {}
                        }
                    }
                }
            }
            let broke = |message: String| ClientError::Connection { url: self.base.clone(), message };
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        match &mut self.reader {
                            Reader::Framed(decoder) => decoder.push(data),
                            Reader::Events { parser, pending } => pending.extend(parser.push(data)),
                        }
                    }
                }
                Some(Err(error)) => return Err(broke(crate::error_chain(&error))),
                None => return Err(broke("the log stream ended before the server said it was complete".to_owned())),
            }
        }
    }
}

/// The error of a stream the server ended before the log was complete.
fn cut_short(base: &str, message: &str) -> ClientError {
    ClientError::Connection {
        url: base.to_owned(),
        message: format!("the server ended the log stream before the log was complete: {message}"),
    }
}

fn unexpected(path: &str, message: String) -> ClientError {
    ClientError::Unexpected { method: "GET".to_owned(), path: path.to_owned(), message }
}

/// A chunk as [`LogStream::next_raw`] read it.
#[derive(Debug)]
pub struct RawChunk {
    path: String,
    data: Data,
}

#[derive(Debug)]
enum Data {
    /// A frame's text, as the step wrote it.
    Framed(LogChunkText),
    /// A `chunk` event's data, JSON.
    Event(String),
}

impl RawChunk {
    /// The chunk when it came framed: its lines as one text, each ending in `\n`, as the
    /// step wrote them (a `\r` before a line end kept); `None` for an event.
    #[must_use]
    pub fn framed(&self) -> Option<&LogChunkText> {
        match &self.data {
            Data::Framed(chunk) => Some(chunk),
            Data::Event(_) => None,
        }
    }

    /// The chunk, its lines borrowed from what came wherever they need no unescaping (a
    /// framed chunk's always do).
    ///
    /// # Errors
    /// [`ClientError::Unexpected`] for event data that is not a [`LogChunkView`].
    pub fn read(&self) -> Result<LogChunkRef<'_>, ClientError> {
        match &self.data {
            Data::Framed(chunk) => Ok(LogChunkRef {
                job_id: chunk.job_id,
                step_idx: chunk.step_idx,
                seq: chunk.seq,
                lines: chunk.lines().map(Cow::Borrowed).collect(),
            }),
            Data::Event(data) => {
                serde_json::from_str(data).map_err(|error| unexpected(&self.path, format!("a log chunk: {error}")))
            }
        }
    }
}

/// A [`LogChunkView`] whose lines borrow from the event they came in; it is written as JSON
/// the same way.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogChunkRef<'a> {
    pub job_id: i64,
    pub step_idx: i64,
    pub seq: i64,
    #[serde(borrow, deserialize_with = "borrowed_lines")]
    pub lines: Vec<Cow<'a, str>>,
}

/// Lines borrowed where they can be: serde borrows a `Cow` only where it is a field of its own.
fn borrowed_lines<'de: 'a, 'a, D: serde::Deserializer<'de>>(lines: D) -> Result<Vec<Cow<'a, str>>, D::Error> {
    #[derive(Deserialize)]
    struct Line<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Vec::<Line<'a>>::deserialize(lines)?.into_iter().map(|line| line.0).collect())
}
