//! What can go wrong talking to a Ferry server, sorted by what a caller does about it:
//! fix the settings ([`ClientError::BadUrl`], [`ClientError::BadToken`]), try again later
//! ([`ClientError::is_transient`]), or act on the server's refusal ([`ClientError::status`]).

use std::time::Duration;

/// A failed call to the Ferry server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{url}` is not a Ferry server address: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("the token cannot be sent in an HTTP header: it holds a line break or another control character")]
    BadToken,
    /// No connection could be made.
    #[error(
        "cannot reach the Ferry server at {url}: {message} (is `ferry server` running? set --server or FERRY_SERVER)"
    )]
    Unreachable { url: String, message: String },
    /// The connection broke while the request or its answer was on its way.
    #[error("lost the connection to the Ferry server at {url}: {message}")]
    Connection { url: String, message: String },
    #[error("the Ferry server at {url} did not answer {method} {path} within {} s", .timeout.as_secs_f64())]
    Timeout { url: String, method: String, path: String, timeout: Duration },
    /// The server refused: `message` is the `error` of its `{"error": …}` body.
    #[error("{message} ({status} from {method} {path})")]
    Http { status: u16, method: String, path: String, message: String },
    /// The server answered success with a body that is not what the route promises.
    #[error("the answer to {method} {path} is not what Ferry expects: {message}")]
    Unexpected { method: String, path: String, message: String },
}

impl ClientError {
    /// The HTTP status the server refused with, if it answered at all.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the same request may succeed later unchanged: the server could not be reached,
    /// the connection broke, no answer came in time, or a proxy in front of the server said it
    /// is unavailable (502, 503, 504).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable { .. } | ClientError::Connection { .. } | ClientError::Timeout { .. } => true,
            ClientError::Http { status, .. } => matches!(status, 502..=504),
            ClientError::BadUrl { .. } | ClientError::BadToken | ClientError::Unexpected { .. } => false,
        }
    }
}
