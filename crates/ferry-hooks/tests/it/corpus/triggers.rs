//! Corpus events against sample `on:` blocks, through `Trigger::matches` (which calls
//! `ferry_workflow::filter::event_matches`): what the server will do to decide which workflows
//! a hook starts.

use ferry_hooks::{HookEvent, parse};
use ferry_workflow::{Dialect, parse_workflow};

use super::payloads;

/// Whether a workflow with `on` starts for the corpus payload `file`.
fn starts(on: &str, file: &str) -> bool {
    let payload = payloads().into_iter().find(|payload| payload.file == file).expect("a corpus file");
    let event = parse(payload.forge, &payload.event, &payload.body).expect("the payload parses");
    let trigger = event.trigger().expect("the event triggers workflows");
    let src = format!("on:\n{on}\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n");
    let (workflow, diagnostics) = parse_workflow(&src, Dialect::GitHub);
    assert!(diagnostics.is_empty(), "{on}: {diagnostics:?}");
    let workflow = workflow.expect("a workflow");
    trigger.matches(&workflow.on)
}

const GITHUB_PUSH: &str = "github__push__woodpecker__HookPush.json";
const GITLAB_PUSH: &str = "gitlab__push_hook__woodpecker__HookPush.json";
const GITLAB_PARTIAL_PUSH: &str = "gitlab__push_hook__go-gitlab__push.json";
const GITLAB_TAG: &str = "gitlab__tag_push_hook__woodpecker__HookTag.json";
const GITEA_PR: &str = "gitea__pull_request__woodpecker__HookPullRequestUpdated.json";

#[test]
fn pushes_match_branch_and_path_filters() {
    let table: &[(&str, &str, bool)] = &[
        ("  push:", GITHUB_PUSH, true),
        ("  push:\n    branches: [main]", GITHUB_PUSH, true),
        ("  push:\n    branches: [release/*]", GITHUB_PUSH, false),
        ("  push:\n    branches-ignore: [main]", GITHUB_PUSH, false),
        ("  push:\n    paths: ['pipeline/**']", GITHUB_PUSH, true),
        ("  push:\n    paths: ['docs/**']", GITHUB_PUSH, false),
        ("  push:\n    paths-ignore: ['**/*.go']", GITHUB_PUSH, false),
        ("  push:\n    tags: ['v*']", GITHUB_PUSH, false),
        ("  pull_request:", GITHUB_PUSH, false),
        ("  push:\n    paths: ['cmd/**']", GITLAB_PUSH, true),
        ("  push:\n    paths: ['web/**']", GITLAB_PUSH, false),
        // Two of four commits listed: the paths are unknown, so path filters match.
        ("  push:\n    paths: ['nothing/**']", GITLAB_PARTIAL_PUSH, true),
        ("  push:\n    branches: [main]", GITLAB_PARTIAL_PUSH, false),
    ];
    for &(on, file, expected) in table {
        assert_eq!(starts(on, file), expected, "{file} with on:\n{on}");
    }
}

#[test]
fn gitlab_tag_pushes_match_tag_filters() {
    let table: &[(&str, bool)] = &[
        ("  push:\n    tags: ['v*']", true),
        ("  push:\n    tags: ['release-*']", false),
        ("  push:\n    branches: [main]", false),
        // GitHub ignores path filters for tag pushes.
        ("  push:\n    tags: ['v*']\n    paths: ['docs/**']", true),
    ];
    for &(on, expected) in table {
        assert_eq!(starts(on, GITLAB_TAG), expected, "on:\n{on}");
    }
}

#[test]
fn pull_requests_match_their_base_branch() {
    assert!(starts("  pull_request:\n    branches: [main]", GITEA_PR));
    assert!(!starts("  pull_request:\n    branches: [develop]", GITEA_PR));
    assert!(!starts("  push:", GITEA_PR));
}

#[test]
fn ping_triggers_nothing() {
    let payload = payloads().into_iter().find(|payload| payload.event == "ping").expect("a ping in the corpus");
    let event = parse(payload.forge, &payload.event, &payload.body).expect("ping parses");
    assert_eq!(event, HookEvent::Ping);
    assert_eq!(event.trigger(), None);
}

const GITHUB_PR_OPENED: &str = "github__pull_request__octokit-webhooks__pull_request.opened.payload.json";
const FORGEJO_PR_LABELED: &str = "forgejo__pull_request__woodpecker__HookPullRequestLabelAdded.json";
const GITLAB_MR_OPENED: &str = "gitlab__merge_request_hook__go-gitlab__merge_request.json";
const GITHUB_RELEASE: &str = "github__release__octokit-webhooks__release.published.payload.json";

#[test]
fn activity_types_decide_which_pull_request_actions_start_a_workflow() {
    let table: &[(&str, &str, bool)] = &[
        ("  pull_request:", GITHUB_PR_OPENED, true),
        ("  pull_request:\n    types: [closed]", GITHUB_PR_OPENED, false),
        ("  pull_request:\n    types: [opened, labeled]", GITHUB_PR_OPENED, true),
        ("  pull_request:", GITEA_PR, true),
        ("  pull_request:\n    types: [opened]", GITEA_PR, false),
        // A label added: only workflows that list `labeled` start, not the default types.
        ("  pull_request:", FORGEJO_PR_LABELED, false),
        ("  pull_request:\n    types: [labeled]", FORGEJO_PR_LABELED, true),
        // GitLab's `open` is GitHub's `opened`.
        ("  pull_request:", GITLAB_MR_OPENED, true),
        ("  pull_request:\n    types: [opened]", GITLAB_MR_OPENED, true),
        ("  pull_request:\n    types: [synchronize]", GITLAB_MR_OPENED, false),
        ("  release:", GITHUB_RELEASE, true),
        ("  release:\n    types: [published]", GITHUB_RELEASE, true),
        ("  release:\n    types: [created]", GITHUB_RELEASE, false),
    ];
    for &(on, file, expected) in table {
        assert_eq!(starts(on, file), expected, "{file} with on:\n{on}");
    }
}
