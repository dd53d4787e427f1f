//! The commit status request for a forge, as data: which URL, which headers, which body.
//! Pure, so each forge's rules are tested on payloads without a network.
//!
//! Where the forge's API is comes from the webhook payload the run started from:
//! - GitHub: `repository.url` when it is an API URL (it has `/repos/` in its path, as in
//!   `https://api.github.com/repos/o/r` or GitHub Enterprise's `…/api/v3/repos/o/r`), else
//!   `https://api.github.com/repos/{repository.full_name}` (for an Enterprise host named by
//!   `repository.html_url`, `https://<host>/api/v3/repos/…`).
//! - Gitea and Forgejo: the instance's base URL is `repository.html_url` (or
//!   `repository.clone_url`) less `/{full_name}` (so an instance below a path prefix works),
//!   and the API is below it at `/api/v1`.
//! - GitLab: the instance's base URL is `project.web_url` less `/{path_with_namespace}`; the
//!   project is named by `project.id`.
//!
//! A payload missing what a forge needs gets no request, and [`NoStatus`] says what was missing.

use ferry_hooks::Forge;
use ferry_model::Conclusion;
use serde_json::{Value, json};

/// What is reported about a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reported {
    /// The run waits for another run of the project to let go of its `concurrency:` group.
    Waiting,
    /// The run, of a pull request from a fork, waits for a developer's approval.
    AwaitingApproval,
    /// The run's first jobs were queued.
    Started,
    /// The run completed.
    Concluded(Conclusion),
    /// The run failed before any job was planned (its workflow has errors, its
    /// `concurrency:` does not evaluate); [`StatusFacts::error`] says why.
    NotPlanned,
}

/// Everything the request is made from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatusFacts<'a> {
    pub(crate) forge: Forge,
    /// The webhook body the run started from.
    pub(crate) payload: &'a Value,
    /// The commit the run ran on.
    pub(crate) sha: &'a str,
    /// The run's workflow file (its path; the context uses its file name).
    pub(crate) workflow_file: &'a str,
    /// The run's number in its project, for the description.
    pub(crate) run_number: i64,
    pub(crate) reported: Reported,
    /// Why the run failed without running, for [`Reported::NotPlanned`]'s description.
    pub(crate) error: Option<&'a str>,
    /// The run's page in Ferry's UI, when the server knows its own public URL.
    pub(crate) target_url: Option<&'a str>,
}

/// A commit status request, ready to send: always a `POST`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StatusRequest {
    pub(crate) url: String,
    /// Header names and values, the token's header among them.
    pub(crate) headers: Vec<(&'static str, String)>,
    /// JSON text; empty for GitLab, which takes the status in the query.
    pub(crate) body: String,
}

/// The headers whose values are the token.
const SECRET_HEADERS: &[&str] = &["Authorization", "PRIVATE-TOKEN"];

/// The longest description GitHub takes; longer ones are cut to it with `…`.
const MAX_DESCRIPTION: usize = 140;

impl std::fmt::Debug for StatusRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token stays out of logs and panics.
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| (*name, if SECRET_HEADERS.contains(name) { "<redacted>" } else { value.as_str() }))
            .collect();
        f.debug_struct("StatusRequest")
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

/// Why a run's status cannot be reported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NoStatus {
    #[error("the webhook payload has no `{0}`")]
    Missing(&'static str),
    #[error("the webhook payload's `{field}` is not usable here: {value:?}")]
    Unusable { field: &'static str, value: String },
}

/// The request that reports `facts` to its forge with `token`.
///
/// # Errors
/// [`NoStatus`] when the payload lacks what the forge's API needs, or holds something that
/// cannot go into a URL (a commit that is not hex, a repository name with `?`).
pub(crate) fn status_request(facts: &StatusFacts<'_>, token: &str) -> Result<StatusRequest, NoStatus> {
    if facts.sha.is_empty() || !facts.sha.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(NoStatus::Unusable { field: "sha", value: facts.sha.to_owned() });
    }
    let file = facts.workflow_file.rsplit('/').next().unwrap_or(facts.workflow_file);
    let context = format!("ferry/{file}");
    let description = match facts.reported {
        Reported::Waiting => format!("Run {} is waiting for its concurrency group", facts.run_number),
        Reported::AwaitingApproval => {
            format!("Run {} comes from a fork and waits for a developer's approval", facts.run_number)
        }
        Reported::Started => format!("Run {} is running", facts.run_number),
        Reported::Concluded(conclusion) => format!("Run {} concluded {}", facts.run_number, conclusion.as_str()),
        Reported::NotPlanned => {
            // The reason's first line: the rest lists every error, which the run's page shows.
            let reason = facts.error.and_then(|error| error.lines().next()).unwrap_or("it could not be planned");
            format!("Run {} failed: {}", facts.run_number, reason.trim().trim_end_matches(':'))
        }
    };
    let description = shortened(&description);
    match facts.forge {
        Forge::GitHub => {
            let repo = github_repo_url(facts.payload)?;
            let body = status_body(github_state(facts.reported), &context, &description, facts.target_url);
            Ok(StatusRequest {
                url: format!("{repo}/statuses/{}", facts.sha),
                headers: vec![
                    ("Authorization", format!("Bearer {token}")),
                    ("Accept", "application/vnd.github+json".to_owned()),
                    ("User-Agent", "ferry".to_owned()),
                    ("Content-Type", "application/json".to_owned()),
                ],
                body,
            })
        }
        Forge::Gitea | Forge::Forgejo => {
            let full_name = full_name(facts.payload)?;
            let base = gitea_base_url(facts.payload, full_name)?;
            let body = status_body(github_state(facts.reported), &context, &description, facts.target_url);
            Ok(StatusRequest {
                url: format!("{base}/api/v1/repos/{full_name}/statuses/{}", facts.sha),
                headers: vec![
                    ("Authorization", format!("token {token}")),
                    ("Accept", "application/json".to_owned()),
                    ("User-Agent", "ferry".to_owned()),
                    ("Content-Type", "application/json".to_owned()),
                ],
                body,
            })
        }
        Forge::GitLab => {
            let project_id = facts.payload.pointer("/project/id").or_else(|| facts.payload.get("project_id"));
            let project_id = project_id.and_then(Value::as_u64).ok_or(NoStatus::Missing("project.id"))?;
            let base = gitlab_base_url(facts.payload)?;
            let mut query = vec![
                ("state", gitlab_state(facts.reported)),
                ("name", context.as_str()),
                ("description", description.as_str()),
            ];
            if let Some(target_url) = facts.target_url {
                query.push(("target_url", target_url));
            }
            let query: Vec<String> =
                query.into_iter().map(|(key, value)| format!("{key}={}", percent_encode(value))).collect();
            Ok(StatusRequest {
                url: format!("{base}/api/v4/projects/{project_id}/statuses/{}?{}", facts.sha, query.join("&")),
                headers: vec![("PRIVATE-TOKEN", token.to_owned()), ("User-Agent", "ferry".to_owned())],
                body: String::new(),
            })
        }
    }
}

/// GitHub's (and Gitea's) commit state for what is reported.
fn github_state(reported: Reported) -> &'static str {
    match reported {
        Reported::Waiting | Reported::AwaitingApproval | Reported::Started => "pending",
        Reported::Concluded(Conclusion::Success | Conclusion::Skipped | Conclusion::Neutral) => "success",
        Reported::Concluded(Conclusion::Failure) | Reported::NotPlanned => "failure",
        Reported::Concluded(Conclusion::Cancelled) => "error",
    }
}

/// GitLab's commit state for what is reported.
fn gitlab_state(reported: Reported) -> &'static str {
    match reported {
        Reported::Waiting | Reported::AwaitingApproval => "pending",
        Reported::Started => "running",
        Reported::Concluded(Conclusion::Success | Conclusion::Skipped | Conclusion::Neutral) => "success",
        Reported::Concluded(Conclusion::Failure) | Reported::NotPlanned => "failed",
        Reported::Concluded(Conclusion::Cancelled) => "canceled",
    }
}

/// `text` cut to [`MAX_DESCRIPTION`] characters, the last of them `…` when cut.
fn shortened(text: &str) -> String {
    if text.chars().count() <= MAX_DESCRIPTION {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_DESCRIPTION - 1).collect();
    cut.push('…');
    cut
}

fn status_body(state: &str, context: &str, description: &str, target_url: Option<&str>) -> String {
    let mut body = json!({"state": state, "context": context, "description": description});
    if let Some(target_url) = target_url {
        body["target_url"] = Value::String(target_url.to_owned());
    }
    body.to_string()
}

/// `repository.full_name`, checked to be `owner/repo` with nothing a URL would read
/// differently.
fn full_name(payload: &Value) -> Result<&str, NoStatus> {
    let full_name = payload
        .pointer("/repository/full_name")
        .and_then(Value::as_str)
        .ok_or(NoStatus::Missing("repository.full_name"))?;
    let usable = full_name.split('/').count() == 2
        && full_name.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && full_name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_./".contains(&byte));
    if usable {
        Ok(full_name)
    } else {
        Err(NoStatus::Unusable { field: "repository.full_name", value: full_name.to_owned() })
    }
}

/// The API URL of the GitHub repository, without a trailing `/`.
fn github_repo_url(payload: &Value) -> Result<String, NoStatus> {
    if let Some(url) = payload.pointer("/repository/url").and_then(Value::as_str)
        && let Some((_, path)) = split_http_url(url)
        && path.contains("/repos/")
    {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    let full_name = full_name(payload)?;
    let html_url = payload.pointer("/repository/html_url").and_then(Value::as_str);
    match html_url.and_then(split_http_url) {
        Some((origin, _)) if origin != "https://github.com" => Ok(format!("{origin}/api/v3/repos/{full_name}")),
        _ => Ok(format!("https://api.github.com/repos/{full_name}")),
    }
}

/// The Gitea or Forgejo instance's base URL, without a trailing `/`.
fn gitea_base_url(payload: &Value, full_name: &str) -> Result<String, NoStatus> {
    let candidates = [("/repository/html_url", ""), ("/repository/clone_url", ".git")];
    for (pointer, suffix) in candidates {
        let Some(url) = payload.pointer(pointer).and_then(Value::as_str) else { continue };
        let Some((origin, path)) = split_http_url(url) else { continue };
        let path = path.trim_end_matches('/');
        // An instance below a path prefix keeps it; a URL of another shape gives the host.
        let prefix = path.strip_suffix(suffix).and_then(|path| path.strip_suffix(full_name)?.strip_suffix('/'));
        return Ok(format!("{origin}{}", prefix.unwrap_or("")));
    }
    Err(NoStatus::Missing("repository.html_url"))
}

/// The GitLab instance's base URL, without a trailing `/`.
fn gitlab_base_url(payload: &Value) -> Result<String, NoStatus> {
    let web_url =
        payload.pointer("/project/web_url").and_then(Value::as_str).ok_or(NoStatus::Missing("project.web_url"))?;
    let (origin, path) = split_http_url(web_url)
        .ok_or_else(|| NoStatus::Unusable { field: "project.web_url", value: web_url.to_owned() })?;
    let namespace = payload.pointer("/project/path_with_namespace").and_then(Value::as_str).unwrap_or_default();
    let path = path.trim_end_matches('/');
    let prefix =
        (!namespace.is_empty()).then(|| path.strip_suffix(namespace)?.strip_suffix('/')).flatten().unwrap_or("");
    Ok(format!("{origin}{prefix}"))
}

/// An `http://` or `https://` URL as its origin (`https://host:port`) and path (`/…` or
/// empty); `None` for other schemes, no host, or characters a URL must not hold.
fn split_http_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    if url.bytes().any(|byte| byte.is_ascii_whitespace() || byte.is_ascii_control() || b"?#@\\".contains(&byte)) {
        return None;
    }
    let host_len = rest.find('/').unwrap_or(rest.len());
    if host_len == 0 {
        return None;
    }
    let origin_len = url.len() - rest.len() + host_len;
    Some((&url[..origin_len], &url[origin_len..]))
}

/// `text` for a URL query: unreserved characters as they are, every other byte as `%XX`.
fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, crate::URL_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests;
