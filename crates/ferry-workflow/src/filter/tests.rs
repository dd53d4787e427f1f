//! Table tests for filter patterns (cases from GitHub's filter pattern cheat sheet) and for
//! deciding whether an event starts a workflow.

use super::*;
use crate::parse::{Dialect, parse_workflow};

#[test]
fn patterns_match_like_github_documents() {
    let table: &[(&str, &str, bool)] = &[
        ("feature/*", "feature/my-branch", true),
        ("feature/*", "feature/your/branch", false),
        ("feature/**", "feature/beta-a/my-branch", true),
        ("feature/**", "feature/", true),
        ("main", "main", true),
        ("main", "mainline", false),
        ("releases/mona-the-octocat", "releases/mona-the-octocat", true),
        ("*", "main", true),
        ("*", "releases/v1", false),
        ("**", "all/the/branches", true),
        ("*feature", "mona-feature", true),
        ("v2*", "v2.0", true),
        ("v2*", "v1.0", false),
        ("v[12].[0-9]+.[0-9]+", "v1.10.1", true),
        ("v[12].[0-9]+.[0-9]+", "v2.0.0", true),
        ("v[12].[0-9]+.[0-9]+", "v3.0.0", false),
        ("v[12].[0-9]+.[0-9]+", "v1..1", false),
        ("*.jsx?", "page.js", true),
        ("*.jsx?", "page.jsx", true),
        ("*.jsx?", "page.jsxx", false),
        ("**.js", "index.js", true),
        ("**.js", "js/index.js", true),
        ("**.js", "src/js/app.js", true),
        ("docs/*", "docs/README.md", true),
        ("docs/*", "docs/file.txt", true),
        ("docs/*", "docs/dir/file.txt", false),
        ("docs/**", "docs/mona/octocat.txt", true),
        ("docs/**/*.md", "docs/a/b/c.md", true),
        ("docs/**/*.md", "docs/c.md", true),
        ("**/docs/**", "docs/hello.md", true),
        ("**/docs/**", "dir/docs/my-file.txt", true),
        ("**/docs/**", "space/docs/plan/space.doc", true),
        ("**/README.md", "README.md", true),
        ("**/README.md", "js/README.md", true),
        ("**/*src/**", "a/src/app.js", true),
        ("**/*src/**", "my-src/code/js/app.js", true),
        ("**/*-post.md", "my-post.md", true),
        ("**/*-post.md", "path/their-post.md", true),
        ("**/migrate-*.sql", "migrate-10909.sql", true),
        ("**/migrate-*.sql", "db/migrate-v1.0.sql", true),
        ("*.md", "README.md", true),
        ("*.md", "docs/README.md", false),
        ("\\*literal", "*literal", true),
        ("\\*literal", "xliteral", false),
        ("[a-c]x", "bx", true),
        ("[a-c]x", "dx", false),
    ];
    for &(pattern, text, expected) in table {
        let compiled = Pattern::parse(pattern).expect("valid pattern");
        assert_eq!(compiled.is_match(text), expected, "{pattern:?} on {text:?}");
    }
}

#[test]
fn invalid_patterns_say_why() {
    for (pattern, problem) in [
        ("[abc", "a `[` is never closed by `]`"),
        ("v[]", "`[]` matches nothing"),
        ("[z-a]", "the range `z-a` is reversed"),
        ("ends\\", "it ends with a lone `\\`"),
        ("!", "the pattern is empty"),
    ] {
        assert_eq!(
            validate_pattern(pattern).map_err(|error| error.to_string()),
            Err(problem.to_owned()),
            "{pattern:?}"
        );
    }
}

#[test]
fn later_patterns_override_earlier_ones() {
    let patterns = ["releases/**", "!releases/**-alpha", "releases/special-alpha"];
    assert!(list_matches(&patterns, "releases/10"));
    assert!(!list_matches(&patterns, "releases/10-alpha"));
    assert!(list_matches(&patterns, "releases/special-alpha"));
    assert!(!list_matches(&["!main"], "main"));
    assert!(!list_matches(&["!main"], "other"), "a list of exclusions alone includes nothing");
    let paths = ["sub-project/**", "!sub-project/docs/**"];
    assert!(list_matches(&paths, "sub-project/src/a.rs"));
    assert!(!list_matches(&paths, "sub-project/docs/a.md"));
}

fn decide(on: &str, event: &str, git_ref: &str, paths: Option<&[&str]>) -> bool {
    let src = format!("on:\n{on}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n");
    let (workflow, diagnostics) = parse_workflow(&src, Dialect::GitHub);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let workflow = workflow.expect("a workflow");
    let paths: Option<Vec<String>> = paths.map(|paths| paths.iter().map(|p| (*p).to_owned()).collect());
    event_matches(&workflow.on, event, git_ref, paths.as_deref())
}

#[test]
fn events_match_their_filters() {
    type Case<'a> = (&'a str, &'a str, &'a str, Option<&'a [&'a str]>, bool);
    let table: &[Case] = &[
        ("  push:", "push", "refs/heads/main", None, true),
        ("  push:", "push", "refs/tags/v1", None, true),
        ("  push:", "pull_request", "refs/heads/main", None, false),
        ("  push:\n    branches: [main]", "push", "refs/heads/main", None, true),
        ("  push:\n    branches: [main]", "push", "refs/heads/dev", None, false),
        ("  push:\n    branches: [main]", "push", "refs/tags/v1", None, false),
        ("  push:\n    tags: ['v*']", "push", "refs/tags/v1", None, true),
        ("  push:\n    tags: ['v*']", "push", "refs/heads/main", None, false),
        ("  push:\n    branches-ignore: ['dependabot/**']", "push", "refs/heads/dependabot/npm/x", None, false),
        ("  push:\n    branches-ignore: ['dependabot/**']", "push", "refs/heads/main", None, true),
        ("  push:\n    branches: [main]\n    tags: ['v*']", "push", "refs/tags/v2", None, true),
        ("  push:\n    paths: ['src/**']", "push", "refs/heads/main", Some(&["src/a.rs"]), true),
        ("  push:\n    paths: ['src/**']", "push", "refs/heads/main", Some(&["docs/a.md"]), false),
        ("  push:\n    paths: ['src/**']", "push", "refs/heads/main", None, true),
        ("  push:\n    paths: ['src/**']", "push", "refs/tags/v1", Some(&["docs/a.md"]), true),
        ("  push:\n    paths-ignore: ['docs/**']", "push", "refs/heads/main", Some(&["docs/a.md"]), false),
        ("  push:\n    paths-ignore: ['docs/**']", "push", "refs/heads/main", Some(&["docs/a.md", "src/b.rs"]), true),
        ("  pull_request:\n    branches: [main]", "pull_request", "refs/heads/main", None, true),
        ("  pull_request:\n    branches: [main]", "pull_request", "refs/heads/other", None, false),
        ("  workflow_dispatch:", "workflow_dispatch", "refs/heads/any", None, true),
        ("  schedule:\n    - cron: '0 0 * * *'", "schedule", "refs/heads/main", None, true),
    ];
    for &(on, event, git_ref, paths, expected) in table {
        assert_eq!(decide(on, event, git_ref, paths), expected, "{on:?} {event} {git_ref} {paths:?}");
    }
}

fn decide_activity(on: &str, event: &str, activity: Option<&str>) -> bool {
    let src = format!("on:\n{on}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: x\n");
    let (workflow, diagnostics) = parse_workflow(&src, Dialect::GitHub);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    activity_matches(&workflow.expect("a workflow").on, event, activity)
}

#[test]
fn activity_types_select_pull_request_actions_with_githubs_defaults() {
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, bool);
    let table: &[Case] = &[
        // No `types:`: pull requests run for opened, synchronize and reopened only.
        ("  pull_request:", "pull_request", Some("opened"), true),
        ("  pull_request:", "pull_request", Some("synchronize"), true),
        ("  pull_request:", "pull_request", Some("reopened"), true),
        ("  pull_request:", "pull_request", Some("labeled"), false),
        ("  pull_request:", "pull_request", Some("closed"), false),
        ("  pull_request:", "pull_request", Some("edited"), false),
        ("  pull_request_target:\n    branches: [main]", "pull_request_target", Some("closed"), false),
        ("  pull_request:\n    branches: [main]", "pull_request", Some("opened"), true),
        // Written types replace the defaults.
        ("  pull_request:\n    types: [labeled, closed]", "pull_request", Some("labeled"), true),
        ("  pull_request:\n    types: [labeled, closed]", "pull_request", Some("closed"), true),
        ("  pull_request:\n    types: [labeled, closed]", "pull_request", Some("opened"), false),
        ("  pull_request:\n    types: closed", "pull_request", Some("closed"), true),
        // Other events: every activity unless `types:` says otherwise.
        ("  release:", "release", Some("created"), true),
        ("  release:\n    types: [published]", "release", Some("published"), true),
        ("  release:\n    types: [published]", "release", Some("created"), false),
        ("  issues:\n    types: opened", "issues", Some("opened"), true),
        ("  issues:\n    types: opened", "issues", Some("closed"), false),
        // Without an activity (a push, `ferry run --event`) nothing is filtered.
        ("  pull_request:\n    types: [closed]", "pull_request", None, true),
        ("  push:", "push", None, true),
    ];
    for &(on, event, activity, expected) in table {
        assert_eq!(decide_activity(on, event, activity), expected, "{on:?} {event} {activity:?}");
    }
}
