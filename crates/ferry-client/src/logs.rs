//! A run's log as it streams from `GET /api/v1/runs/{id}/logs`: Server-Sent Events whose
//! `chunk` events carry a [`LogChunkView`] each, in order, and whose `end` event says
//! everything was sent.

use std::collections::VecDeque;

use ferry_proto::runs::LogChunkView;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::ClientError;
use crate::sse::{SseEvent, SseParser};

/// The chunks of a log stream, read with [`LogStream::next`].
#[derive(Debug)]
pub struct LogStream {
    base: String,
    path: String,
    body: Incoming,
    parser: SseParser,
    pending: VecDeque<SseEvent>,
    ended: bool,
}

impl LogStream {
    pub(crate) fn new(base: String, path: String, body: Incoming) -> LogStream {
        LogStream { base, path, body, parser: SseParser::new(), pending: VecDeque::new(), ended: false }
    }

    /// The next chunk, or `None` once the server said the log ended. Waits for as long as the
    /// server takes (a followed run may be quiet for minutes); keep-alives are skipped.
    ///
    /// # Errors
    /// [`ClientError::Connection`] when the stream broke or ended without its `end` event,
    /// [`ClientError::Unexpected`] for a chunk that is not a [`LogChunkView`].
    pub async fn next(&mut self) -> Result<Option<LogChunkView>, ClientError> {
        loop {
            if self.ended {
                return Ok(None);
            }
            while let Some(event) = self.pending.pop_front() {
                match event.event.as_str() {
                    "chunk" => {
                        return serde_json::from_str(&event.data).map(Some).map_err(|error| ClientError::Unexpected {
                            method: "GET".to_owned(),
                            path: self.path.clone(),
                            message: format!("a log chunk: {error}"),
                        });
                    }
                    "end" => {
                        self.ended = true;
                        return Ok(None);
                    }
                    // Events this client does not know yet are for newer clients.
                    _ => {}
                }
            }
            let broke = |message: String| ClientError::Connection { url: self.base.clone(), message };
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        self.pending.extend(self.parser.push(data));
                    }
                }
                Some(Err(error)) => return Err(broke(crate::error_chain(&error))),
                None => return Err(broke("the log stream ended before the server said it was complete".to_owned())),
            }
        }
    }
}
