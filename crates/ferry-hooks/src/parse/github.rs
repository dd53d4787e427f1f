//! GitHub's payload shapes, which Gitea and Forgejo follow for the events Ferry reads.

use super::json::Node;
use crate::{
    Commit, HookError, HookEvent, Person, PullRequest, Push, RefAction, RefChange, Repository, WorkflowDispatch,
};

pub(super) fn parse(event: &str, value: &serde_json::Value) -> Result<HookEvent, HookError> {
    let root = Node::root(value, event);
    Ok(match event {
        "push" => HookEvent::Push(push(root)?),
        "create" | "delete" => {
            let action = if event == "create" { RefAction::Created } else { RefAction::Deleted };
            let ref_type = root.str("ref_type")?;
            let git_ref = root.str("ref")?;
            let (name, is_tag) = match ref_type.as_str() {
                "tag" => (git_ref.strip_prefix("refs/tags/").unwrap_or(&git_ref).to_owned(), true),
                "branch" => (git_ref.strip_prefix("refs/heads/").unwrap_or(&git_ref).to_owned(), false),
                other => {
                    return Err(HookError::Malformed {
                        message: format!("{event} payload: `ref_type` is `{other}`, not `tag` or `branch`"),
                    });
                }
            };
            let change = RefChange {
                action,
                name,
                sha: root.opt_str("sha")?,
                repository: repository(root)?,
                sender: sender(root)?,
            };
            if is_tag { HookEvent::Tag(change) } else { HookEvent::Branch(change) }
        }
        "pull_request" => HookEvent::PullRequest(pull_request(root)?),
        "ping" => HookEvent::Ping,
        "workflow_dispatch" => HookEvent::WorkflowDispatch(WorkflowDispatch {
            git_ref: root.str("ref")?,
            inputs: root.map("inputs")?,
            workflow: root.str("workflow")?,
            repository: repository(root)?,
            sender: sender(root)?,
        }),
        _ => HookEvent::Other {
            event: event.to_owned(),
            git_ref: other_ref(value),
            action: value.get("action").and_then(serde_json::Value::as_str).map(str::to_owned),
        },
    })
}

fn push(root: Node<'_>) -> Result<Push, HookError> {
    let git_ref = root.str("ref")?;
    let before = root.str("before")?;
    let after = root.str("after")?;
    let commits = root.items("commits")?.iter().map(|item| commit(item.node())).collect::<Result<Vec<_>, _>>()?;
    let head_commit = match root.opt_object("head_commit")? {
        Some(head) => Some(commit(head.node())?),
        None => commits.iter().find(|commit| commit.id == after).cloned(),
    };
    let pusher = match root.opt_object("pusher")? {
        Some(pusher) => {
            let pusher = pusher.node();
            match pusher.opt_str("login")? {
                Some(login) => Some(login),
                None => pusher.opt_str("username")?.or(pusher.opt_str("name")?),
            }
        }
        None => None,
    };
    Ok(Push {
        created: root.opt_bool("created")?.unwrap_or_else(|| is_zero_sha(&before)),
        deleted: root.opt_bool("deleted")?.unwrap_or_else(|| is_zero_sha(&after)),
        forced: root.opt_bool("forced")?.unwrap_or(false),
        repository: repository(root)?,
        sender: sender(root)?,
        pusher,
        total_commits: root.opt_u64("total_commits")?,
        head_commit,
        commits,
        git_ref,
        before,
        after,
    })
}

pub(super) fn commit(node: Node<'_>) -> Result<Commit, HookError> {
    let author = match node.opt_object("author")? {
        Some(author) => {
            let author = author.node();
            Person {
                name: author.opt_str("name")?,
                email: author.opt_str("email")?,
                username: author.opt_str("username")?,
            }
        }
        None => Person::default(),
    };
    Ok(Commit {
        id: node.str("id")?,
        message: node.opt_str("message")?.unwrap_or_default(),
        author,
        timestamp: node.opt_str("timestamp")?,
        added: node.opt_strings("added")?,
        modified: node.opt_strings("modified")?,
        removed: node.opt_strings("removed")?,
    })
}

fn pull_request(root: Node<'_>) -> Result<PullRequest, HookError> {
    let pull = root.object("pull_request")?;
    let pull = pull.node();
    let number = match root.opt_u64("number")? {
        Some(number) => number,
        None => pull
            .opt_u64("number")?
            .ok_or_else(|| HookError::Malformed { message: "pull_request payload: `number` is missing".to_owned() })?,
    };
    let head = pull.object("head")?;
    let base = pull.object("base")?;
    let action = root.str("action")?;
    Ok(PullRequest {
        // Gitea and Forgejo say `synchronized` where GitHub says `synchronize`.
        // Gitea and Forgejo also name label changes their own way.
        action: match action.as_str() {
            "synchronized" => "synchronize".to_owned(),
            "label_updated" => "labeled".to_owned(),
            "label_cleared" => "unlabeled".to_owned(),
            _ => action,
        },
        number,
        title: pull.opt_str("title")?.unwrap_or_default(),
        head_ref: head.node().str("ref")?,
        head_sha: head.node().str("sha")?,
        base_ref: base.node().str("ref")?,
        head_repository: repository_id(head.node())?,
        base_repository: repository_id(base.node())?,
        repository: repository(root)?,
        sender: sender(root)?,
    })
}

/// The repository a pull request's `head` or `base` is in: `repo.id` (stable across renames),
/// else Gitea's `repo_id`, else `repo.full_name`; `None` when the payload names none (GitHub's
/// `repo: null` for a deleted fork).
fn repository_id(side: Node<'_>) -> Result<Option<String>, HookError> {
    let repo = side.opt_object("repo")?;
    let repo = repo.as_ref().map(|repo| repo.node());
    if let Some(id) = repo.map(|repo| repo.opt_u64("id")).transpose()?.flatten().or(side.opt_u64("repo_id")?) {
        return Ok(Some(format!("id:{id}")));
    }
    Ok(repo.map(|repo| repo.opt_str("full_name")).transpose()?.flatten().map(|name| format!("name:{name}")))
}

fn repository(root: Node<'_>) -> Result<Repository, HookError> {
    let repo = root.object("repository")?;
    let repo = repo.node();
    Ok(Repository {
        full_name: repo.str("full_name")?,
        clone_url: repo.opt_str("clone_url")?,
        ssh_url: repo.opt_str("ssh_url")?,
        default_branch: repo.opt_str("default_branch")?.or(root.opt_str("default_branch")?),
        html_url: repo.opt_str("html_url")?,
    })
}

fn sender(root: Node<'_>) -> Result<Option<String>, HookError> {
    match root.opt_object("sender")? {
        Some(sender) => {
            let sender = sender.node();
            Ok(sender.opt_str("login")?.or(sender.opt_str("username")?))
        }
        None => Ok(None),
    }
}

/// The ref GitHub runs other events on: a release's tag, else the default branch. Read
/// leniently: an event Ferry does not model is never refused for its fields.
fn other_ref(value: &serde_json::Value) -> Option<String> {
    if let Some(tag) = value.pointer("/release/tag_name").and_then(serde_json::Value::as_str) {
        return Some(format!("refs/tags/{tag}"));
    }
    let branch = value.pointer("/repository/default_branch").and_then(serde_json::Value::as_str)?;
    Some(format!("refs/heads/{branch}"))
}

/// Whether `sha` is git's null object id (all zeros, SHA-1 or SHA-256 length).
pub(super) fn is_zero_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|byte| byte == b'0')
}
