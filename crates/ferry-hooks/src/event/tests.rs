//! When a push's changed paths are known, and the trigger each event means.

use super::*;

fn commit(id: &str, added: &[&str], modified: &[&str], removed: &[&str]) -> Commit {
    let list = |paths: &[&str]| Some(paths.iter().map(|path| (*path).to_owned()).collect());
    Commit {
        id: id.to_owned(),
        added: list(added),
        modified: list(modified),
        removed: list(removed),
        ..Commit::default()
    }
}

fn push(commits: Vec<Commit>) -> Push {
    Push {
        git_ref: "refs/heads/main".to_owned(),
        before: "a".to_owned(),
        after: "b".to_owned(),
        commits,
        ..Push::default()
    }
}

#[test]
fn changed_paths_are_the_sorted_union_over_commits() {
    let push =
        push(vec![commit("1", &["src/b.rs"], &["README.md"], &[]), commit("2", &[], &["src/b.rs"], &["old.txt"])]);
    assert_eq!(push.changed_paths(), Some(vec!["README.md".to_owned(), "old.txt".to_owned(), "src/b.rs".to_owned()]));
}

#[test]
fn changed_paths_are_unknown_when_the_payload_cannot_tell() {
    let one = || commit("1", &["a"], &[], &[]);
    let capped = push((0..COMMIT_CAP).map(|_| one()).collect());
    assert_eq!(capped.changed_paths(), None, "a full list may be truncated");
    let under_cap = push((0..COMMIT_CAP - 1).map(|_| one()).collect());
    assert_eq!(under_cap.changed_paths(), Some(vec!["a".to_owned()]));
    let partial = Push { total_commits: Some(4), ..push(vec![one(), one()]) };
    assert_eq!(partial.changed_paths(), None, "two of four commits listed");
    let whole = Push { total_commits: Some(30), ..push((0..30).map(|_| one()).collect()) };
    assert_eq!(whole.changed_paths(), Some(vec!["a".to_owned()]), "a total says the list is whole");
    let no_lists = push(vec![one(), Commit { id: "2".to_owned(), ..Commit::default() }]);
    assert_eq!(no_lists.changed_paths(), None);
    assert_eq!(push(Vec::new()).changed_paths(), None);
    assert_eq!(Push { created: true, ..push(vec![one()]) }.changed_paths(), None);
    assert_eq!(Push { deleted: true, ..push(vec![one()]) }.changed_paths(), None);
}

#[test]
fn events_trigger_as_github_names_them() {
    let repository = Repository { full_name: "o/h".to_owned(), ..Repository::default() };
    let change =
        |action| RefChange { action, name: "v1".to_owned(), sha: None, repository: repository.clone(), sender: None };
    let pull = PullRequest {
        action: "opened".to_owned(),
        number: 1,
        title: String::new(),
        head_ref: "feature".to_owned(),
        head_sha: "abc".to_owned(),
        base_ref: "main".to_owned(),
        head_repository: None,
        base_repository: None,
        repository: repository.clone(),
        sender: None,
    };
    let dispatch = WorkflowDispatch {
        git_ref: "refs/heads/dev".to_owned(),
        inputs: Map::new(),
        workflow: "ci.yml".to_owned(),
        repository: repository.clone(),
        sender: None,
    };
    let table: Vec<(HookEvent, Option<(&str, &str)>)> = vec![
        (HookEvent::Push(push(Vec::new())), Some(("push", "refs/heads/main"))),
        (HookEvent::Tag(change(RefAction::Created)), Some(("create", "refs/tags/v1"))),
        (HookEvent::Tag(change(RefAction::Deleted)), Some(("delete", "refs/tags/v1"))),
        (HookEvent::Branch(change(RefAction::Created)), Some(("create", "refs/heads/v1"))),
        (HookEvent::PullRequest(pull), Some(("pull_request", "refs/heads/main"))),
        (HookEvent::Ping, None),
        (HookEvent::WorkflowDispatch(dispatch), Some(("workflow_dispatch", "refs/heads/dev"))),
        (
            HookEvent::Other { event: "release".to_owned(), git_ref: None, action: Some("published".to_owned()) },
            Some(("release", "")),
        ),
    ];
    for (event, expected) in table {
        let trigger = event.trigger();
        let found = trigger.as_ref().map(|trigger| (trigger.event.as_str(), trigger.git_ref.as_str()));
        assert_eq!(found, expected, "{event:?}");
        if !matches!(event, HookEvent::Push(_)) {
            assert_eq!(trigger.and_then(|trigger| trigger.changed_paths), None);
        }
    }
}
