//! GitLab's payload shapes: `Push Hook`, `Tag Push Hook` and `Merge Request Hook`.

use super::github::{commit, is_zero_sha};
use super::json::Node;
use crate::{HookError, HookEvent, PullRequest, Push, Repository};

pub(super) fn parse(event: &str, value: &serde_json::Value) -> Result<HookEvent, HookError> {
    Ok(match event {
        "Push Hook" => HookEvent::Push(push(Node::root(value, "Push Hook"))?),
        // A tag push is a push of `refs/tags/…`: GitHub sends the same as `push`.
        "Tag Push Hook" => HookEvent::Push(push(Node::root(value, "Tag Push Hook"))?),
        "Merge Request Hook" => HookEvent::PullRequest(merge_request(Node::root(value, "Merge Request Hook"))?),
        _ => HookEvent::Other {
            event: event.to_owned(),
            git_ref: value
                .pointer("/project/default_branch")
                .and_then(serde_json::Value::as_str)
                .map(|branch| format!("refs/heads/{branch}")),
            action: None,
        },
    })
}

fn push(root: Node<'_>) -> Result<Push, HookError> {
    let git_ref = root.str("ref")?;
    let before = root.str("before")?;
    let after = root.str("after")?;
    let commits = root.items("commits")?.iter().map(|item| commit(item.node())).collect::<Result<Vec<_>, _>>()?;
    let user = root.opt_str("user_username")?;
    Ok(Push {
        created: is_zero_sha(&before),
        deleted: is_zero_sha(&after),
        forced: false,
        repository: project(root)?,
        pusher: user.clone(),
        sender: user,
        head_commit: commits.iter().find(|commit| commit.id == after).cloned(),
        total_commits: root.opt_u64("total_commits_count")?,
        commits,
        git_ref,
        before,
        after,
    })
}

fn merge_request(root: Node<'_>) -> Result<PullRequest, HookError> {
    let attributes = root.object("object_attributes")?;
    let attributes = attributes.node();
    let last_commit = attributes.object("last_commit")?;
    let action = attributes.opt_str("action")?.unwrap_or_default();
    // GitHub's names for GitLab's actions; `update` without `oldrev` changed no commits.
    let action = match action.as_str() {
        "open" => "opened".to_owned(),
        "reopen" => "reopened".to_owned(),
        "close" | "merge" => "closed".to_owned(),
        "update" if attributes.opt_str("oldrev")?.is_some() => "synchronize".to_owned(),
        "update" => "edited".to_owned(),
        _ => action,
    };
    let sender = match root.opt_object("user")? {
        Some(user) => user.node().opt_str("username")?,
        None => None,
    };
    Ok(PullRequest {
        action,
        number: attributes.opt_u64("iid")?.ok_or_else(|| HookError::Malformed {
            message: "Merge Request Hook payload: `object_attributes.iid` is missing".to_owned(),
        })?,
        title: attributes.opt_str("title")?.unwrap_or_default(),
        head_ref: attributes.str("source_branch")?,
        head_sha: last_commit.node().str("id")?,
        base_ref: attributes.str("target_branch")?,
        head_repository: attributes.opt_u64("source_project_id")?.map(|id| format!("id:{id}")),
        base_repository: attributes.opt_u64("target_project_id")?.map(|id| format!("id:{id}")),
        repository: project(root)?,
        sender,
    })
}

fn project(root: Node<'_>) -> Result<Repository, HookError> {
    let project = root.object("project")?;
    let project = project.node();
    Ok(Repository {
        full_name: project.str("path_with_namespace")?,
        clone_url: project.opt_str("git_http_url")?,
        ssh_url: project.opt_str("git_ssh_url")?,
        default_branch: project.opt_str("default_branch")?,
        html_url: project.opt_str("web_url")?,
    })
}
