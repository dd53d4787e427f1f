//! Malformed bodies and wrong types produce `Malformed` naming the payload and the field;
//! extra and missing optional fields are tolerated; event names are checked per forge.

use super::*;
use crate::{Push, RefAction};

/// The error message `parse` gives, or the event's debug form when it succeeds.
fn message(forge: Forge, event: &str, body: &str) -> String {
    match parse(forge, event, body.as_bytes()) {
        Err(HookError::Malformed { message }) => message,
        other => format!("not Malformed: {other:?}"),
    }
}

const REPO: &str = r#""repository": {"full_name": "octo/hello"}"#;

#[test]
fn bodies_that_are_not_json_objects_are_malformed() {
    let table: &[(&str, &str)] = &[
        ("", "the body is not valid JSON: EOF while parsing a value at line 1 column 0"),
        ("{", "the body is not valid JSON: EOF while parsing an object at line 1 column 1"),
        ("payload=%7B%7D", "the body is not valid JSON: expected value at line 1 column 1"),
        ("[]", "the body is not a JSON object (set the webhook's content type to application/json)"),
        ("null", "the body is not a JSON object (set the webhook's content type to application/json)"),
        ("{} {}", "the body is not valid JSON: trailing characters at line 1 column 4"),
    ];
    for (body, expected) in table {
        assert_eq!(message(Forge::GitHub, "push", body), *expected, "{body:?}");
    }
}

#[test]
fn missing_and_mistyped_fields_are_named() {
    let table: &[(Forge, &str, String, &str)] = &[
        (Forge::GitHub, "push", "{}".to_owned(), "push payload: `ref` is missing"),
        (Forge::GitHub, "push", r#"{"ref": null}"#.to_owned(), "push payload: `ref` is missing"),
        (Forge::GitHub, "push", r#"{"ref": 5}"#.to_owned(), "push payload: `ref` should be a string, not the number 5"),
        (
            Forge::Gitea,
            "push",
            r#"{"ref": "refs/heads/main", "before": "a", "after": "b"}"#.to_owned(),
            "push payload: `repository` is missing",
        ),
        (
            Forge::Gitea,
            "push",
            r#"{"ref": "refs/heads/main", "before": "a", "after": "b", "repository": "octo/hello"}"#.to_owned(),
            "push payload: `repository` should be an object, not a string",
        ),
        (
            Forge::GitHub,
            "push",
            format!(r#"{{"ref": "refs/heads/main", "before": "a", "after": "b", {REPO}, "commits": [{{"id": "c1"}}, {{"id": 7}}]}}"#),
            "push payload: `commits[1].id` should be a string, not the number 7",
        ),
        (
            Forge::GitHub,
            "push",
            format!(r#"{{"ref": "refs/heads/main", "before": "a", "after": "b", {REPO}, "commits": [{{"id": "c1", "added": ["a", true]}}]}}"#),
            "push payload: `commits[0].added[1]` should be a string, not a boolean",
        ),
        (
            Forge::GitHub,
            "push",
            format!(r#"{{"ref": "refs/heads/main", "before": "a", "after": "b", {REPO}, "created": "yes"}}"#),
            "push payload: `created` should be a boolean, not a string",
        ),
        (
            Forge::GitHub,
            "pull_request",
            format!(r#"{{"action": "opened", "number": -1, "pull_request": {{}}, {REPO}}}"#),
            "pull_request payload: `number` should be a whole number, not the number -1",
        ),
        (
            Forge::GitHub,
            "pull_request",
            format!(r#"{{"action": "opened", "number": 1, "pull_request": {{"head": {{"ref": "x"}}, "base": {{}}}}, {REPO}}}"#),
            "pull_request payload: `pull_request.head.sha` is missing",
        ),
        (Forge::Forgejo, "create", r#"{"ref": "v1"}"#.to_owned(), "create payload: `ref_type` is missing"),
        (
            Forge::Forgejo,
            "delete",
            r#"{"ref": "v1", "ref_type": "repository"}"#.to_owned(),
            "delete payload: `ref_type` is `repository`, not `tag` or `branch`",
        ),
        (
            Forge::GitLab,
            "Push Hook",
            r#"{"ref": "refs/heads/main", "before": "a", "after": "b", "project": {"name": "hello"}}"#.to_owned(),
            "Push Hook payload: `project.path_with_namespace` is missing",
        ),
        (
            Forge::GitLab,
            "Tag Push Hook",
            r#"{"ref": "refs/tags/v1", "before": "a", "after": "b", "project": {"path_with_namespace": "o/h"}, "total_commits_count": "1"}"#.to_owned(),
            "Tag Push Hook payload: `total_commits_count` should be a whole number, not a string",
        ),
        (
            Forge::GitLab,
            "Merge Request Hook",
            r#"{"object_attributes": {"iid": 3, "source_branch": "f", "target_branch": "main"}}"#.to_owned(),
            "Merge Request Hook payload: `object_attributes.last_commit` is missing",
        ),
        (
            Forge::GitHub,
            "workflow_dispatch",
            format!(r#"{{"ref": "refs/heads/main", "inputs": [], "workflow": "ci.yml", {REPO}}}"#),
            "workflow_dispatch payload: `inputs` should be an object, not an array",
        ),
    ];
    for (forge, event, body, expected) in table {
        assert_eq!(message(*forge, event, body), *expected, "{forge} {event} {body}");
    }
}

#[test]
fn a_minimal_push_parses_and_extra_fields_are_ignored() {
    let body = format!(
        r#"{{"ref": "refs/heads/main", "before": "0000000", "after": "b", {REPO}, "future_field": {{"x": [1]}},
            "commits": [{{"id": "b", "message": "m", "author": null, "added": ["x"], "modified": [], "removed": [],
                          "unknown": true}}]}}"#
    );
    let event = parse(Forge::Gitea, "push", body.as_bytes()).expect("a valid push");
    let HookEvent::Push(push) = event else { panic!("a push: {event:?}") };
    assert_eq!(push.git_ref, "refs/heads/main");
    assert!(push.created, "before is all zeros");
    assert!(!push.deleted);
    assert_eq!(push.head_commit.as_ref().map(|commit| commit.id.as_str()), Some("b"));
    assert_eq!(push.commits[0].added, Some(vec!["x".to_owned()]));
    assert_eq!(push.repository.full_name, "octo/hello");
    assert_eq!(push.repository.clone_url, None);
    assert_eq!(push.total_commits, None);
    assert_eq!(Push { commits: Vec::new(), head_commit: None, ..push }.commits.len(), 0);
}

#[test]
fn create_and_delete_tell_tags_from_branches() {
    let tag =
        format!(r#"{{"ref": "refs/tags/v2", "ref_type": "tag", "sha": "abc", {REPO}, "sender": {{"username": "u"}}}}"#);
    let HookEvent::Tag(change) = parse(Forge::Gitea, "create", tag.as_bytes()).expect("a tag") else {
        panic!("a tag event")
    };
    assert_eq!((change.action, change.name.as_str(), change.sha.as_deref()), (RefAction::Created, "v2", Some("abc")));
    assert_eq!(change.sender.as_deref(), Some("u"));
    let branch = format!(r#"{{"ref": "feature", "ref_type": "branch", {REPO}}}"#);
    let event = parse(Forge::GitHub, "delete", branch.as_bytes()).expect("a branch");
    assert!(
        matches!(&event, HookEvent::Branch(change) if change.action == RefAction::Deleted && change.name == "feature")
    );
}

#[test]
fn event_names_are_checked_per_forge() {
    let unknown = |forge: Forge, event: &str| matches!(parse(forge, event, b"{}"), Err(HookError::UnknownEvent { .. }));
    assert!(unknown(Forge::GitHub, "Push Hook"));
    assert!(unknown(Forge::GitHub, "Push"));
    assert!(unknown(Forge::Gitea, ""));
    assert!(unknown(Forge::Forgejo, "push;rm"));
    assert!(unknown(Forge::GitLab, "push"));
    assert!(unknown(Forge::GitLab, "Push Hook!"));
    assert!(!unknown(Forge::GitLab, "Pipeline Hook"));
}

#[test]
fn other_events_are_kept_by_name() {
    let body = br#"{"action": "created", "repository": {"default_branch": "trunk"}}"#;
    let event = parse(Forge::GitHub, "issue_comment", body).expect("any object");
    assert_eq!(
        event,
        HookEvent::Other {
            event: "issue_comment".to_owned(),
            git_ref: Some("refs/heads/trunk".to_owned()),
            action: Some("created".to_owned()),
        }
    );
    let event = parse(Forge::GitLab, "Pipeline Hook", b"{}").expect("any object");
    assert_eq!(event, HookEvent::Other { event: "Pipeline Hook".to_owned(), git_ref: None, action: None });
    assert!(matches!(parse(Forge::GitHub, "release", b"[1]"), Err(HookError::Malformed { .. })));
}

#[test]
fn gitlab_merge_request_actions_get_github_names() {
    let body = |action: &str, oldrev: &str| {
        format!(
            r#"{{"user": {{"username": "jsmith"}}, "project": {{"path_with_namespace": "o/h"}},
                "object_attributes": {{"iid": 9, "title": "t", "source_branch": "f", "target_branch": "main",
                "last_commit": {{"id": "abc"}}, "action": "{action}" {oldrev}}}}}"#
        )
    };
    let table: &[(&str, &str, &str)] = &[
        ("open", "", "opened"),
        ("reopen", "", "reopened"),
        ("close", "", "closed"),
        ("merge", "", "closed"),
        ("update", r#", "oldrev": "def""#, "synchronize"),
        ("update", "", "edited"),
        ("approved", "", "approved"),
    ];
    for (action, oldrev, expected) in table {
        let event = parse(Forge::GitLab, "Merge Request Hook", body(action, oldrev).as_bytes()).expect("an MR");
        let HookEvent::PullRequest(pull) = event else { panic!("a pull request") };
        assert_eq!(pull.action, *expected, "{action} {oldrev}");
        assert_eq!((pull.number, pull.base_ref.as_str(), pull.head_sha.as_str()), (9, "main", "abc"));
        assert_eq!(pull.sender.as_deref(), Some("jsmith"));
    }
}

#[test]
fn pull_requests_from_forks_are_told_from_those_within_the_repository() {
    let github = |head: &str, base: &str| {
        format!(
            r#"{{"action": "opened", "number": 1, {REPO}, "pull_request": {{
                "head": {{"ref": "f", "sha": "abc" {head}}}, "base": {{"ref": "main" {base}}}}}}}"#
        )
    };
    let gitlab = |source: &str, target: &str| {
        format!(
            r#"{{"project": {{"path_with_namespace": "o/h"}}, "object_attributes": {{"iid": 9,
                "source_branch": "f", "target_branch": "main", "last_commit": {{"id": "abc"}}, "action": "open"
                {source} {target}}}}}"#
        )
    };
    let table: Vec<(Forge, &str, String, bool)> = vec![
        (Forge::GitHub, "pull_request", github(r#", "repo": {"id": 7}"#, r#", "repo": {"id": 7}"#), false),
        (Forge::GitHub, "pull_request", github(r#", "repo": {"id": 8}"#, r#", "repo": {"id": 7}"#), true),
        // A fork that was deleted: GitHub sends `repo: null`.
        (Forge::GitHub, "pull_request", github(r#", "repo": null"#, r#", "repo": {"id": 7}"#), true),
        // Nothing said: untrusted.
        (Forge::GitHub, "pull_request", github("", ""), true),
        (
            Forge::GitHub,
            "pull_request",
            github(r#", "repo": {"full_name": "o/h"}"#, r#", "repo": {"full_name": "o/h"}"#),
            false,
        ),
        (
            Forge::GitHub,
            "pull_request",
            github(r#", "repo": {"full_name": "eve/h"}"#, r#", "repo": {"full_name": "o/h"}"#),
            true,
        ),
        // Gitea and Forgejo also name the repository by `repo_id` beside `repo`.
        (Forge::Gitea, "pull_request", github(r#", "repo_id": 6"#, r#", "repo_id": 6"#), false),
        (Forge::Forgejo, "pull_request", github(r#", "repo_id": 9"#, r#", "repo_id": 6"#), true),
        (
            Forge::GitLab,
            "Merge Request Hook",
            gitlab(r#", "source_project_id": 14"#, r#", "target_project_id": 14"#),
            false,
        ),
        (
            Forge::GitLab,
            "Merge Request Hook",
            gitlab(r#", "source_project_id": 15"#, r#", "target_project_id": 14"#),
            true,
        ),
        (Forge::GitLab, "Merge Request Hook", gitlab("", r#", "target_project_id": 14"#), true),
    ];
    for (forge, event, body, fork) in table {
        let parsed = parse(forge, event, body.as_bytes()).unwrap_or_else(|error| panic!("{body}: {error}"));
        let HookEvent::PullRequest(pull) = parsed else { panic!("a pull request: {body}") };
        assert_eq!(pull.from_fork(), fork, "{forge} {body}");
    }
}
