//! A run's log framed for programs, `application/vnd.ferry.log-stream`: what
//! `GET /api/v1/runs/{id}/logs` answers a request that accepts it (browsers get Server-Sent
//! Events). Each frame is a head, one line of JSON ([`LogFrameHead`]); a `chunk` head is
//! followed by `bytes` bytes of the chunk's text, its lines as the step wrote them (UTF-8,
//! each ending in `\n`), so log text is neither quoted nor unquoted on its way to a viewer.
//! An empty line between frames keeps a quiet stream alive; the `end` frame is the last, or an
//! `error` frame when the server could not send the whole log (its database failed, it is
//! shutting down): the log is then not complete, and the message says why.
//!
//! ```text
//! {"type":"chunk","job_id":3,"step_idx":0,"seq":1,"bytes":12}
//! hello
//! world
//! {"type":"end"}
//! ```

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The media type of a framed log stream.
pub const LOG_STREAM_TYPE: &str = "application/vnd.ferry.log-stream";

/// The most text one chunk frame may announce; a stream's chunks are a runner's batches, at
/// most 2 MiB.
pub const MAX_CHUNK_BYTES: u64 = 64 << 20;

/// The longest head line a reader accepts.
pub const MAX_HEAD_BYTES: usize = 4096;

/// A frame's head, one line of JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LogFrameHead {
    /// A chunk of a step's log, numbered `seq` (1, 2, 3… per step, without gaps); its text,
    /// `bytes` bytes, follows the head.
    Chunk { job_id: i64, step_idx: i64, seq: i64, bytes: u64 },
    /// Every chunk was sent; the stream is over.
    End,
    /// The stream is over before every chunk was sent; `message` says why.
    Error { message: String },
}

impl LogFrameHead {
    /// The head of chunk `seq` of a step whose text is `text`.
    #[must_use]
    pub fn chunk(job_id: i64, step_idx: i64, seq: i64, text: &[u8]) -> LogFrameHead {
        let bytes = u64::try_from(text.len()).unwrap_or(u64::MAX);
        LogFrameHead::Chunk { job_id, step_idx, seq, bytes }
    }

    /// The head line, `\n` included.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a frame head is plain JSON");
        line.push(b'\n');
        line
    }
}

/// A whole frame of a log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFrame {
    Chunk(LogChunkText),
    End,
    /// The server cut the stream short, saying why.
    Error(String),
}

/// A chunk of a step's log with its text as one string of whole lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunkText {
    pub job_id: i64,
    pub step_idx: i64,
    pub seq: i64,
    /// Lines, each ending in `\n`.
    pub text: String,
}

impl LogChunkText {
    /// The text's lines without their line ends, as [`str::lines`] gives them (`\r\n` ends a
    /// line too), found with `memchr`: a chunk of a step that prints fast has thousands.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        let text = self.text.as_str();
        let mut start = 0;
        let mut ends = memchr::memchr_iter(b'\n', text.as_bytes());
        std::iter::from_fn(move || {
            let line = match ends.next() {
                Some(end) => {
                    let line = &text[start..end];
                    start = end + 1;
                    line.strip_suffix('\r').unwrap_or(line)
                }
                // What follows the last line end, unless nothing does.
                None if start < text.len() => {
                    let line = &text[start..];
                    start = text.len();
                    line
                }
                None => return None,
            };
            Some(line)
        })
    }
}

/// Reads frames from a log stream's bytes as they arrive, in pieces of any size.
#[derive(Debug, Default)]
pub struct LogStreamDecoder {
    /// The head line read so far.
    head: Vec<u8>,
    /// The chunk whose text is being read, and the text so far.
    text: Option<(LogChunkHead, Vec<u8>)>,
    frames: VecDeque<LogFrame>,
    ended: bool,
    failed: Option<FrameError>,
}

#[derive(Debug, Clone, Copy)]
struct LogChunkHead {
    job_id: i64,
    step_idx: i64,
    seq: i64,
    bytes: usize,
}

impl LogStreamDecoder {
    #[must_use]
    pub fn new() -> LogStreamDecoder {
        LogStreamDecoder::default()
    }

    /// Reads `input`, the stream's next bytes; whole frames wait for [`LogStreamDecoder::next_frame`].
    pub fn push(&mut self, mut input: &[u8]) {
        while !input.is_empty() && self.failed.is_none() {
            if self.ended {
                self.failed = Some(FrameError::AfterEnd);
                return;
            }
            if let Some((head, text)) = &mut self.text {
                let take = (head.bytes - text.len()).min(input.len());
                text.extend_from_slice(&input[..take]);
                input = &input[take..];
                if text.len() == head.bytes {
                    let (head, text) = self.text.take().expect("a chunk is being read");
                    match chunk_text(head, text) {
                        Ok(chunk) => self.frames.push_back(LogFrame::Chunk(chunk)),
                        Err(error) => self.failed = Some(error),
                    }
                }
                continue;
            }
            let Some(newline) = memchr::memchr(b'\n', input) else {
                self.head.extend_from_slice(input);
                if self.head.len() > MAX_HEAD_BYTES {
                    self.failed = Some(FrameError::LongHead);
                }
                return;
            };
            self.head.extend_from_slice(&input[..newline]);
            input = &input[newline + 1..];
            let line = std::mem::take(&mut self.head);
            if let Err(error) = self.start_frame(&line) {
                self.failed = Some(error);
            }
        }
    }

    fn start_frame(&mut self, line: &[u8]) -> Result<(), FrameError> {
        if line.is_empty() {
            // A keep-alive.
            return Ok(());
        }
        if line.len() > MAX_HEAD_BYTES {
            return Err(FrameError::LongHead);
        }
        let head: LogFrameHead = serde_json::from_slice(line).map_err(|error| FrameError::Head {
            error: error.to_string(),
            line: String::from_utf8_lossy(line).into_owned(),
        })?;
        match head {
            LogFrameHead::Chunk { job_id, step_idx, seq, bytes } => {
                let bytes = (bytes <= MAX_CHUNK_BYTES)
                    .then(|| usize::try_from(bytes).ok())
                    .flatten()
                    .ok_or(FrameError::LongChunk { job_id, step_idx, seq, bytes })?;
                let head = LogChunkHead { job_id, step_idx, seq, bytes };
                if bytes == 0 {
                    self.frames.push_back(LogFrame::Chunk(chunk_text(head, Vec::new())?));
                } else {
                    self.text = Some((head, Vec::with_capacity(bytes)));
                }
            }
            LogFrameHead::End => {
                self.ended = true;
                self.frames.push_back(LogFrame::End);
            }
            LogFrameHead::Error { message } => {
                self.ended = true;
                self.frames.push_back(LogFrame::Error(message));
            }
        }
        Ok(())
    }

    /// The next whole frame, `Ok(None)` while more bytes are needed for it.
    ///
    /// # Errors
    /// What is wrong with the stream (a head that is not JSON of a frame, text that is not
    /// UTF-8 or does not end a line, bytes after the end), once every frame before the fault
    /// was taken.
    pub fn next_frame(&mut self) -> Result<Option<LogFrame>, FrameError> {
        match (self.frames.pop_front(), &self.failed) {
            (Some(frame), _) => Ok(Some(frame)),
            (None, Some(error)) => Err(error.clone()),
            (None, None) => Ok(None),
        }
    }

    /// Whether the bytes read so far end between two frames (a stream may stop there only
    /// after its end frame).
    #[must_use]
    pub fn is_between_frames(&self) -> bool {
        self.head.is_empty() && self.text.is_none()
    }
}

fn chunk_text(head: LogChunkHead, text: Vec<u8>) -> Result<LogChunkText, FrameError> {
    let LogChunkHead { job_id, step_idx, seq, .. } = head;
    let text = String::from_utf8(text).map_err(|error| FrameError::NotUtf8 {
        job_id,
        step_idx,
        seq,
        error: error.utf8_error(),
    })?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(FrameError::NoLineEnd { job_id, step_idx, seq });
    }
    Ok(LogChunkText { job_id, step_idx, seq, text })
}

/// What is wrong with a framed log stream ([`LogStreamDecoder::next_frame`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("a log frame's head is longer than {MAX_HEAD_BYTES} bytes")]
    LongHead,
    #[error("a log frame's head is not a chunk, end or error frame: {error}: {line}")]
    Head { error: String, line: String },
    #[error(
        "chunk {seq} of step {step_idx} of job {job_id} says {bytes} bytes follow, more than the {MAX_CHUNK_BYTES} a chunk may have"
    )]
    LongChunk { job_id: i64, step_idx: i64, seq: i64, bytes: u64 },
    #[error("chunk {seq} of step {step_idx} of job {job_id} is not UTF-8: {error}")]
    NotUtf8 { job_id: i64, step_idx: i64, seq: i64, error: std::str::Utf8Error },
    #[error("chunk {seq} of step {step_idx} of job {job_id} does not end with a line end (`\\n`)")]
    NoLineEnd { job_id: i64, step_idx: i64, seq: i64 },
    #[error("the log stream goes on after its end frame")]
    AfterEnd,
}

#[cfg(test)]
mod tests;
