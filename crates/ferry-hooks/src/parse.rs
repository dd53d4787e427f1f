//! Reading a webhook body into a [`HookEvent`]: the event header picks the payload's shape,
//! and each field Ferry needs is looked up by path so that an error names it.
//!
//! Extra fields are ignored and optional ones may be missing or `null`: forges add fields
//! between versions, and older Gitea payloads lack fields newer ones have.

mod github;
mod gitlab;
mod json;

use crate::{Forge, HookError, HookEvent};

/// Reads `body` as the event `event` (the event header's value) from `forge`.
///
/// GitHub, Gitea and Forgejo share GitHub's payload shapes for `push`, `create`, `delete`,
/// `pull_request`, `ping` and `workflow_dispatch`; GitLab's `Push Hook`, `Tag Push Hook` and
/// `Merge Request Hook` have their own. Other well-formed event names become
/// [`HookEvent::Other`], and their body must still be a JSON object.
///
/// # Errors
/// [`HookError::UnknownEvent`] when `event` is not shaped like the forge's event names
/// (lowercase words joined by `_` for GitHub, Gitea and Forgejo; `… Hook` for GitLab);
/// [`HookError::Malformed`] when the body is not a JSON object or lacks a field Ferry needs.
pub fn parse(forge: Forge, event: &str, body: &[u8]) -> Result<HookEvent, HookError> {
    let event = event.trim();
    let known_shape = match forge {
        Forge::GitLab => {
            event.ends_with(" Hook") && event.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b' ')
        }
        Forge::GitHub | Forge::Gitea | Forge::Forgejo => {
            !event.is_empty() && event.bytes().all(|byte| byte.is_ascii_lowercase() || byte == b'_')
        }
    };
    if !known_shape {
        return Err(HookError::UnknownEvent { forge, event: event.to_owned() });
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| HookError::Malformed { message: format!("the body is not valid JSON: {error}") })?;
    if !value.is_object() {
        return Err(HookError::Malformed {
            message: "the body is not a JSON object (set the webhook's content type to application/json)".to_owned(),
        });
    }
    match forge {
        Forge::GitLab => gitlab::parse(event, &value),
        Forge::GitHub | Forge::Gitea | Forge::Forgejo => github::parse(event, &value),
    }
}

#[cfg(test)]
mod tests;
