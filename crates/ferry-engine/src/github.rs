//! The `github` context of a run, built the same way by `ferry run` and by the server from
//! the facts each has (the repository, the event, the run's number).

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
    let github = json!({
        "action": "", "action_path": "", "action_ref": "", "action_repository": "",
        "actor": facts.actor, "actor_id": "0", "triggering_actor": facts.actor,
        "api_url": "https://api.github.com", "graphql_url": "https://api.github.com/graphql",
        "server_url": facts.server_url,
        "base_ref": base_ref, "head_ref": head_ref,
        "event": facts.event, "event_name": facts.event_name, "event_path": facts.event_path,
        "ref": facts.git_ref, "ref_name": ref_name, "ref_type": ref_type, "ref_protected": false,
        "repository": facts.repository, "repository_id": "0", "repository_owner": owner, "repository_owner_id": "0",
        "repositoryUrl": format!("{}/{}.git", facts.server_url, facts.repository),
        "retention_days": "90",
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
