//! Why a webhook was refused, and the HTTP status the server answers with.

use crate::Forge;

/// Why a webhook was refused. Every variant is a client error: the server answers with
/// [`HookError::status`], stores nothing and runs nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// The project has no webhook secret, so no hook can be authenticated: Ferry never accepts
    /// unsigned hooks. 403: the request is fine, the project is not set up to take it.
    #[error("this project has no webhook secret; set one in Ferry and in the forge's webhook settings")]
    NoSecret,
    /// The signature or token header is absent (401). `hint` says what to configure.
    #[error("the request has no `{header}` header{hint}")]
    MissingSignature { header: &'static str, hint: &'static str },
    /// The signature or token is malformed or does not match the project's secret (401).
    #[error("`{header}` {reason}")]
    BadSignature { header: &'static str, reason: &'static str },
    /// The header naming the event is absent or empty (400).
    #[error("the request has no `{header}` header saying which event it is")]
    MissingEventHeader { header: &'static str },
    /// The event header holds something that is not one of the forge's event names (400).
    #[error("`{event}` is not a {forge} webhook event name")]
    UnknownEvent { forge: Forge, event: String },
    /// The body is not JSON, or lacks a field Ferry needs, or has it with the wrong type (400).
    /// `message` names the payload and the field: "push payload: `ref` is missing".
    #[error("{message}")]
    Malformed { message: String },
    /// The body is larger than `limit` bytes (413).
    #[error("the body is larger than the {limit} bytes Ferry accepts")]
    TooLarge { limit: usize },
}

impl HookError {
    /// The HTTP status the server answers with.
    pub fn status(&self) -> u16 {
        match self {
            HookError::NoSecret => 403,
            HookError::MissingSignature { .. } | HookError::BadSignature { .. } => 401,
            HookError::MissingEventHeader { .. } | HookError::UnknownEvent { .. } | HookError::Malformed { .. } => 400,
            HookError::TooLarge { .. } => 413,
        }
    }
}
