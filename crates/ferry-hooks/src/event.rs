//! The events Ferry reads from webhooks, the same shape for every forge, and the trigger each
//! one means for a workflow's `on:`.

use serde_json::{Map, Value};

/// A webhook's event, read from any forge.
#[derive(Debug, Clone, PartialEq)]
pub enum HookEvent {
    /// Commits pushed to a branch or a tag, including creating and deleting it. GitLab's
    /// `Tag Push Hook` is one too: it is the same git event, which GitHub sends as `push` and
    /// workflows select with `on: push: tags:`.
    Push(Push),
    /// A tag was created or deleted: GitHub's, Gitea's and Forgejo's `create`/`delete` events
    /// with `ref_type: tag`.
    Tag(RefChange),
    /// A branch was created or deleted (`create`/`delete` with `ref_type: branch`).
    Branch(RefChange),
    /// Something happened to a pull request (GitHub, Gitea, Forgejo `pull_request`) or a merge
    /// request (GitLab `Merge Request Hook`).
    PullRequest(PullRequest),
    /// GitHub's `ping`, sent when a webhook is created. Nothing runs.
    Ping,
    /// A workflow started by hand on GitHub (`workflow_dispatch`).
    WorkflowDispatch(WorkflowDispatch),
    /// Any other event (`release`, `repository_dispatch`, `issues`, GitLab's `Pipeline Hook`…),
    /// kept by the name in its event header so that it can still match `on:`.
    Other {
        event: String,
        /// The ref GitHub would run the workflow on: `refs/tags/<tag>` for a release, the
        /// repository's default branch otherwise, when the payload says.
        git_ref: Option<String>,
        /// The payload's `action` (`published`, `created`…), matched against `on.<event>.types`.
        action: Option<String>,
    },
}

/// A push: the ref, the old and new commits, and the commits in between as the forge lists them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Push {
    /// The full ref: `refs/heads/main`, `refs/tags/v1`.
    pub git_ref: String,
    /// The commit the ref pointed at before; forty zeros when the push created the ref.
    pub before: String,
    /// The commit the ref points at now; forty zeros when the push deleted the ref.
    pub after: String,
    pub created: bool,
    pub deleted: bool,
    /// A force push (GitHub says so; the other forges do not, and this is false).
    pub forced: bool,
    pub repository: Repository,
    /// Who pushed: GitHub's `pusher.name`, Gitea's `pusher.login`, GitLab's `user_username`.
    pub pusher: Option<String>,
    /// The account that sent the hook (`sender.login`; GitLab's `user_username`).
    pub sender: Option<String>,
    /// The newest commit, when the forge names it (GitHub, newer Gitea); else the last of
    /// `commits`.
    pub head_commit: Option<Commit>,
    /// The commits the forge lists, oldest first; possibly fewer than were pushed.
    pub commits: Vec<Commit>,
    /// How many commits were pushed, when the forge says (GitLab `total_commits_count`, newer
    /// Gitea and Forgejo `total_commits`).
    pub total_commits: Option<u64>,
}

/// The repository a hook is about.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Repository {
    /// `owner/name` (GitLab: `project.path_with_namespace`).
    pub full_name: String,
    /// The HTTPS clone URL (GitLab: `project.git_http_url`).
    pub clone_url: Option<String>,
    /// The SSH clone URL.
    pub ssh_url: Option<String>,
    pub default_branch: Option<String>,
    /// The repository's web page.
    pub html_url: Option<String>,
}

/// One commit as a push payload lists it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Commit {
    pub id: String,
    pub message: String,
    pub author: Person,
    /// As the forge wrote it (RFC 3339).
    pub timestamp: Option<String>,
    /// Changed paths; `None` when the forge left the list out.
    pub added: Option<Vec<String>>,
    pub modified: Option<Vec<String>>,
    pub removed: Option<Vec<String>>,
}

/// A commit's author.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Person {
    pub name: Option<String>,
    pub email: Option<String>,
    /// The forge account, when the forge knows it.
    pub username: Option<String>,
}

/// Whether a branch or tag was made or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefAction {
    Created,
    Deleted,
}

/// A branch or tag created or deleted, from `create`/`delete` events.
#[derive(Debug, Clone, PartialEq)]
pub struct RefChange {
    pub action: RefAction,
    /// The short name: `v1.0.0`, `feature`.
    pub name: String,
    /// The commit, when the forge says (Gitea and Forgejo on create).
    pub sha: Option<String>,
    pub repository: Repository,
    pub sender: Option<String>,
}

/// A pull or merge request event.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequest {
    /// GitHub's activity name: `opened`, `synchronize`, `closed`, `reopened`, `edited`,
    /// `labeled`… Gitea's `synchronized` and GitLab's `open`/`update`/`close`/`reopen`/`merge`
    /// are translated; other names are kept as the forge sent them.
    pub action: String,
    /// The number shown on the forge (GitLab: the merge request's `iid`).
    pub number: u64,
    pub title: String,
    /// The source branch's name and newest commit.
    pub head_ref: String,
    pub head_sha: String,
    /// The target branch's name.
    pub base_ref: String,
    /// The repository the source branch lives in, `None` when the payload does not name it (a
    /// deleted fork): GitHub's, Gitea's and Forgejo's `pull_request.head.repo` (its id, else
    /// its `full_name`), GitLab's `source_project_id`.
    pub head_repository: Option<String>,
    /// The repository the pull request targets, named the same way: `pull_request.base.repo`,
    /// GitLab's `target_project_id`.
    pub base_repository: Option<String>,
    pub repository: Repository,
    pub sender: Option<String>,
}

impl PullRequest {
    /// Whether the pull request comes from a fork: its head repository is not its base
    /// repository, or the payload does not say (untrusted unless shown otherwise). GitHub gives
    /// such runs no secrets and a read-only token; a pull request within the repository is
    /// trusted as a push is.
    pub fn from_fork(&self) -> bool {
        match (&self.head_repository, &self.base_repository) {
            (Some(head), Some(base)) => head != base,
            _ => true,
        }
    }
}

/// A workflow started by hand (GitHub `workflow_dispatch`).
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowDispatch {
    /// The full ref to run on.
    pub git_ref: String,
    /// The inputs as given (values are usually strings).
    pub inputs: Map<String, Value>,
    /// The workflow file, e.g. `.github/workflows/release.yml`.
    pub workflow: String,
    pub repository: Repository,
    pub sender: Option<String>,
}

/// What a workflow's `on:` is matched against: the arguments of
/// `ferry_workflow::filter::event_matches`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// GitHub Actions' event name: `push`, `pull_request`, `create`, `delete`,
    /// `workflow_dispatch`, or the forge's own name for other events.
    pub event: String,
    /// The full ref: the pushed ref; for pull requests the base branch; empty when unknown.
    pub git_ref: String,
    /// Every path added, modified or removed by the pushed commits, sorted and without
    /// duplicates; `None` when they cannot be known from the payload.
    ///
    /// `None` means that `paths` and `paths-ignore` filters are treated as matching, as GitHub
    /// does when it cannot tell. That happens when the forge lists fewer commits than were
    /// pushed (GitLab's and newer Gitea's totals; GitHub and older Gitea list at most
    /// [`COMMIT_CAP`] commits, so a full list may be truncated), when a commit has no path
    /// lists, and for pushes that create or delete a ref (the diff is against a base the
    /// payload does not name). Events other than pushes never carry paths.
    pub changed_paths: Option<Vec<String>>,
    /// The activity (`opened`, `labeled`, `published`…) for `on.<event>.types`; `None` for
    /// events that have none (pushes, branch and tag changes, dispatches).
    pub activity: Option<String>,
}

/// GitHub lists at most this many commits in a push payload; Ferry assumes the same of forges
/// that do not send a total, so a push listing this many commits has unknown paths.
pub const COMMIT_CAP: usize = 20;

impl HookEvent {
    /// The trigger this event means for `on:`, or `None` for [`HookEvent::Ping`].
    pub fn trigger(&self) -> Option<Trigger> {
        let activity = match self {
            HookEvent::PullRequest(pull) => Some(pull.action.clone()),
            HookEvent::Other { action, .. } => action.clone(),
            _ => None,
        };
        let (event, git_ref, changed_paths) = match self {
            HookEvent::Push(push) => ("push".to_owned(), push.git_ref.clone(), push.changed_paths()),
            HookEvent::Tag(change) => (change.action.event().to_owned(), format!("refs/tags/{}", change.name), None),
            HookEvent::Branch(change) => {
                (change.action.event().to_owned(), format!("refs/heads/{}", change.name), None)
            }
            HookEvent::PullRequest(pull) => ("pull_request".to_owned(), format!("refs/heads/{}", pull.base_ref), None),
            HookEvent::Ping => return None,
            HookEvent::WorkflowDispatch(dispatch) => ("workflow_dispatch".to_owned(), dispatch.git_ref.clone(), None),
            HookEvent::Other { event, git_ref, .. } => (event.clone(), git_ref.clone().unwrap_or_default(), None),
        };
        Some(Trigger { event, git_ref, changed_paths, activity })
    }
}

impl Trigger {
    /// Whether a workflow listening to `on` runs for this trigger: its event is listed, its
    /// branch, tag and path filters accept the ref and paths (unknown paths match), and its
    /// activity `types:` (or GitHub's defaults) hold the activity (see
    /// `ferry_workflow::filter::event_matches` and `activity_matches`).
    pub fn matches(&self, on: &[ferry_workflow::model::Trigger]) -> bool {
        ferry_workflow::filter::event_matches(on, &self.event, &self.git_ref, self.changed_paths.as_deref())
            && ferry_workflow::filter::activity_matches(on, &self.event, self.activity.as_deref())
    }
}

impl RefAction {
    /// GitHub's event name for this change.
    pub fn event(self) -> &'static str {
        match self {
            RefAction::Created => "create",
            RefAction::Deleted => "delete",
        }
    }
}

impl Push {
    /// The union of the commits' added, modified and removed paths, or `None` when the payload
    /// cannot tell them all (see [`Trigger::changed_paths`]).
    pub fn changed_paths(&self) -> Option<Vec<String>> {
        if self.created || self.deleted || self.commits.is_empty() {
            return None;
        }
        let complete = match self.total_commits {
            Some(total) => u64::try_from(self.commits.len()).is_ok_and(|listed| listed >= total),
            None => self.commits.len() < COMMIT_CAP,
        };
        if !complete {
            return None;
        }
        let mut paths = Vec::new();
        for commit in &self.commits {
            for list in [&commit.added, &commit.modified, &commit.removed] {
                paths.extend(list.as_ref()?.iter().cloned());
            }
        }
        paths.sort();
        paths.dedup();
        Some(paths)
    }
}

#[cfg(test)]
mod tests;
