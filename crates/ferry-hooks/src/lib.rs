//! Forge webhooks, from raw request to the trigger a workflow's `on:` is matched against.
//!
//! A request for `POST /hooks/{forge}/{project}` goes through four pure steps; the server does
//! the IO around them (reading at most [`MAX_BODY`] bytes, looking up the project's secret):
//!
//! 1. [`check_size`]: bodies over [`MAX_BODY`] are refused ([`HookError::TooLarge`]).
//! 2. [`verify`]: the body's HMAC-SHA256 signature (GitHub, Gitea, Forgejo) or the secret token
//!    (GitLab) is checked against the project's secret, in constant time.
//! 3. [`event_name`] + [`parse`]: the event header and the JSON body become a typed
//!    [`HookEvent`]; a payload missing what Ferry needs is [`HookError::Malformed`] and says
//!    which field.
//! 4. [`HookEvent::trigger`]: GitHub Actions' event name, the ref and the changed paths;
//!    [`Trigger::matches`] checks them against a workflow's `on:` through
//!    `ferry_workflow::filter::event_matches`.
//!
//! [`receive`] does 1–3 in order. A server that streams the body uses [`BodyCheck`] for 1 and
//! 2: it refuses what the headers already tell before reading a byte. Every [`HookError`] maps to a 4xx status
//! ([`HookError::status`]): a refused hook stores nothing and runs nothing.
//!
//! ```
//! use ferry_hooks::{Forge, HookEvent, receive};
//!
//! let body = br#"{"ref": "refs/heads/main", "before": "a", "after": "b",
//!                 "project": {"path_with_namespace": "octo/hello"}, "commits": []}"#;
//! let headers = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "s3cret")];
//! let event = receive(Forge::GitLab, &headers[..], body, b"s3cret").expect("a valid push");
//! let HookEvent::Push(push) = &event else { panic!("a push") };
//! assert_eq!(push.git_ref, "refs/heads/main");
//! assert_eq!(event.trigger().expect("pushes trigger").event, "push");
//! ```

mod error;
mod event;
mod parse;
mod verify;

pub use error::HookError;
pub use event::{
    COMMIT_CAP, Commit, HookEvent, Person, PullRequest, Push, RefAction, RefChange, Repository, Trigger,
    WorkflowDispatch,
};
pub use parse::parse;
pub use verify::{BodyCheck, Headers, MAX_DELIVERY_ID, delivery_id, event_name, verify};

/// The largest body Ferry accepts: GitHub's own cap on webhook payloads (25 MiB).
pub const MAX_BODY: usize = 25 * 1024 * 1024;

/// A forge that sends webhooks, named in the hook's URL (`/hooks/github/{project}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Forge {
    GitHub,
    Gitea,
    Forgejo,
    GitLab,
}

impl Forge {
    /// Every forge, in the order of [`Forge::slug`]s in the documentation.
    pub const ALL: [Forge; 4] = [Forge::GitHub, Forge::Gitea, Forge::Forgejo, Forge::GitLab];

    /// The forge's name in URLs and configuration: `github`, `gitea`, `forgejo`, `gitlab`.
    pub fn slug(self) -> &'static str {
        match self {
            Forge::GitHub => "github",
            Forge::Gitea => "gitea",
            Forge::Forgejo => "forgejo",
            Forge::GitLab => "gitlab",
        }
    }

    /// The forge a URL segment names (ASCII case ignored), if any.
    pub fn from_slug(slug: &str) -> Option<Forge> {
        Forge::ALL.into_iter().find(|forge| forge.slug().eq_ignore_ascii_case(slug))
    }
}

impl std::fmt::Display for Forge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Forge::GitHub => "GitHub",
            Forge::Gitea => "Gitea",
            Forge::Forgejo => "Forgejo",
            Forge::GitLab => "GitLab",
        })
    }
}

/// Refuses a body of `len` bytes when it is over [`MAX_BODY`]. The server calls this with the
/// `Content-Length` before reading, and stops reading at `MAX_BODY + 1` bytes.
///
/// # Errors
/// [`HookError::TooLarge`] when `len > MAX_BODY`.
pub fn check_size(len: usize) -> Result<(), HookError> {
    if len > MAX_BODY { Err(HookError::TooLarge { limit: MAX_BODY }) } else { Ok(()) }
}

/// Checks a whole request and reads its event: [`check_size`], then [`verify`] (so nothing of
/// an unsigned body is looked at), then [`event_name`] and [`parse`].
///
/// # Errors
/// The first [`HookError`] of those steps.
pub fn receive<H: Headers + ?Sized>(
    forge: Forge,
    headers: &H,
    body: &[u8],
    secret: &[u8],
) -> Result<HookEvent, HookError> {
    check_size(body.len())?;
    verify(forge, headers, body, secret)?;
    let event = event_name(forge, headers)?;
    parse(forge, event, body)
}

#[cfg(test)]
mod tests;
