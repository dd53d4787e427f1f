//! The `github` context of a run, built the same way by `ferry run` and by the server from
//! the facts each has (the repository, the event, the run's number).
//!
//! The ids (`actor_id`, `repository_id`, `repository_owner_id`) come from the event's payload
//! as each forge sends it, and `api_url`/`graphql_url` from the forge and its web address: the
//! payload's, else the project's (what its last webhook said, or a well-known host in its
//! repository's URL, [`forge_of_repo_url`]), so a dispatch, poll or schedule run of a Gitea or
//! GitLab project gets its forge's API too. Without either (`ferry run`) they are GitHub's
//! defaults ("0", `https://api.github.com`).

use serde_json::{Map, Value, json};

/// What the `github` context is made from.
#[derive(Debug, Clone, Default)]
pub struct GithubFacts<'a> {
    /// `owner/name`.
    pub repository: &'a str,
    pub actor: &'a str,
    pub event_name: &'a str,
    /// `github.event`: the event's payload.
    pub event: &'a Value,
    /// Where the payload is written for steps (`GITHUB_EVENT_PATH`); may be empty.
    pub event_path: &'a str,
    /// The full ref (`refs/heads/main`), or a commit id when detached.
    pub git_ref: &'a str,
    pub sha: &'a str,
    /// The workflow's `name:`, else its file.
    pub workflow_name: &'a str,
    /// The workflow file relative to the repository.
    pub workflow_file: &'a str,
    pub run_id: &'a str,
    pub run_number: &'a str,
    pub run_attempt: &'a str,
    /// The forge's web address (`https://github.com`).
    pub server_url: &'a str,
    /// The forge whose webhook started the run, else the project's (`github`, `gitea`,
    /// `forgejo`, `gitlab`), or empty.
    pub forge: &'a str,
    /// The forge's web address (`https://gitea.example.com`) when the payload does not give
    /// it (a dispatch, poll or schedule run), or empty.
    pub forge_url: &'a str,
    /// How many days artifacts are kept by default (`github.retention_days`).
    pub retention_days: &'a str,
}

/// The id at `pointer` in the payload, as text; "0" when it has none.
fn id_at(event: &Value, pointers: &[&str]) -> String {
    pointers
        .iter()
        .find_map(|pointer| match event.pointer(pointer) {
            Some(Value::Number(id)) => Some(id.to_string()),
            Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "0".to_owned())
}

/// The web address of the forge that sent `event`: the repository's (`html_url`, GitLab's
/// `web_url`) without the repository's path; `None` when the payload does not say.
pub fn forge_web_url(forge: &str, event: &Value) -> Option<String> {
    let base = |web: &str, path: &str| -> Option<String> {
        let web = event.pointer(web)?.as_str()?;
        let path = event.pointer(path)?.as_str()?;
        web.strip_suffix(path).map(|base| base.trim_end_matches('/').to_owned()).filter(|base| !base.is_empty())
    };
    match forge {
        "gitlab" => base("/project/web_url", "/project/path_with_namespace"),
        "github" | "gitea" | "forgejo" => base("/repository/html_url", "/repository/full_name"),
        _ => None,
    }
}

/// The forge and web address of a repository URL on a well-known host (`github.com`,
/// `gitlab.com`, `codeberg.org`): `https://…`, `ssh://git@…` or `git@host:owner/repo`.
/// Other hosts could be any forge, so they give `None`.
pub fn forge_of_repo_url(url: &str) -> Option<(&'static str, &'static str)> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = host_port.split(':').next().unwrap_or_default().to_ascii_lowercase();
    match host.as_str() {
        "github.com" | "www.github.com" => Some(("github", "https://github.com")),
        "gitlab.com" | "www.gitlab.com" => Some(("gitlab", "https://gitlab.com")),
        "codeberg.org" => Some(("forgejo", "https://codeberg.org")),
        _ => None,
    }
}

/// `api_url` and `graphql_url` of `forge` at the web address `web` (GitHub's when unknown).
fn api_urls(forge: &str, web: Option<&str>) -> (String, String) {
    let github = ("https://api.github.com".to_owned(), "https://api.github.com/graphql".to_owned());
    let Some(base) = web.map(|web| web.trim_end_matches('/')).filter(|base| !base.is_empty()) else { return github };
    match forge {
        "gitlab" => (format!("{base}/api/v4"), format!("{base}/api/graphql")),
        // Gitea and Forgejo have no GraphQL API.
        "gitea" | "forgejo" => (format!("{base}/api/v1"), String::new()),
        // GitHub Enterprise Server answers below its own address.
        "github" if base != "https://github.com" => (format!("{base}/api/v3"), format!("{base}/api/graphql")),
        _ => github,
    }
}

/// The `github` context (without `job` and `workspace`, which are per job).
pub fn github_context(facts: &GithubFacts<'_>) -> Map<String, Value> {
    let (ref_name, ref_type) = match facts.git_ref.strip_prefix("refs/heads/") {
        Some(branch) => (branch, "branch"),
        None => match facts.git_ref.strip_prefix("refs/tags/") {
            Some(tag) => (tag, "tag"),
            None => (facts.git_ref, "branch"),
        },
    };
    let owner = facts.repository.split('/').next().unwrap_or("");
    let pull_request = facts.event.get("pull_request");
    let head_ref = pull_request.and_then(|pr| pr.pointer("/head/ref")).and_then(Value::as_str).unwrap_or("");
    let base_ref = pull_request.and_then(|pr| pr.pointer("/base/ref")).and_then(Value::as_str).unwrap_or("");
    let web = forge_web_url(facts.forge, facts.event);
    let (api_url, graphql_url) = api_urls(facts.forge, web.as_deref().or(Some(facts.forge_url)));
    // GitHub, Gitea and Forgejo send `sender` and `repository`; GitLab `user_id` (push) or
    // `user` and `project`.
    let actor_id = id_at(facts.event, &["/sender/id", "/user_id", "/user/id"]);
    let repository_id = id_at(facts.event, &["/repository/id", "/project/id", "/project_id"]);
    let repository_owner_id = id_at(facts.event, &["/repository/owner/id", "/project/namespace_id"]);
    let github = json!({
        "action": "", "action_path": "", "action_ref": "", "action_repository": "",
        "actor": facts.actor, "actor_id": actor_id, "triggering_actor": facts.actor,
        "api_url": api_url, "graphql_url": graphql_url,
        "server_url": facts.server_url,
        "base_ref": base_ref, "head_ref": head_ref,
        "event": facts.event, "event_name": facts.event_name, "event_path": facts.event_path,
        "ref": facts.git_ref, "ref_name": ref_name, "ref_type": ref_type, "ref_protected": false,
        "repository": facts.repository, "repository_id": repository_id, "repository_owner": owner,
        "repository_owner_id": repository_owner_id,
        "repositoryUrl": format!("{}/{}.git", facts.server_url, facts.repository),
        "retention_days": facts.retention_days,
        "run_id": facts.run_id, "run_number": facts.run_number, "run_attempt": facts.run_attempt,
        "secret_source": "None",
        "sha": facts.sha, "token": "",
        "workflow": facts.workflow_name,
        "workflow_ref": format!("{}/{}@{}", facts.repository, facts.workflow_file, facts.git_ref),
        "workflow_sha": facts.sha,
    });
    match github {
        Value::Object(github) => github,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests;
