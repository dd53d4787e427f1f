//! Cache scopes and matching as GitHub documents them, on rows made here.

use ferry_proto::artifacts::CacheLookup;
use ferry_store::{CacheEntry, Run, Status};

use super::{Scopes, restored, scopes};

fn run(event: &str, git_ref: &str, trigger_info: &str) -> Run {
    Run {
        id: 12,
        project_id: 1,
        number: 3,
        workflow_file: ".github/workflows/ci.yml".to_owned(),
        workflow_name: "CI".to_owned(),
        event: event.to_owned(),
        git_ref: git_ref.to_owned(),
        sha: "0123abcd".to_owned(),
        status: Status::InProgress,
        conclusion: None,
        trigger_actor: "alice".to_owned(),
        trigger_info: trigger_info.to_owned(),
        created_at: 0,
        started_at: None,
        finished_at: None,
        workflow_src: String::new(),
        title: String::new(),
        author: String::new(),
        cancel_requested_at: None,
        error: None,
        rerun_of: None,
        from_fork: false,
        approved_by: String::new(),
    }
}

fn scopes_of(event: &str, git_ref: &str, trigger_info: &str) -> Scopes {
    scopes(&run(event, git_ref, trigger_info), "main")
}

fn owned(scopes: &[&str]) -> Vec<String> {
    scopes.iter().map(|scope| (*scope).to_owned()).collect()
}

#[test]
fn a_branch_restores_its_own_entries_then_the_default_branch_s_and_saves_its_own() {
    let feature = scopes_of("push", "refs/heads/feature", "{}");
    assert_eq!(
        feature,
        Scopes { own: "refs/heads/feature".to_owned(), readable: owned(&["refs/heads/feature", "refs/heads/main"]) }
    );
    let main = scopes_of("workflow_dispatch", "refs/heads/main", "{}");
    assert_eq!(main, Scopes { own: "refs/heads/main".to_owned(), readable: owned(&["refs/heads/main"]) });
    let tag = scopes_of("push", "refs/tags/v1.0.0", "{}");
    assert_eq!(tag.readable, owned(&["refs/tags/v1.0.0", "refs/heads/main"]));
}

#[test]
fn a_pull_request_saves_under_its_merge_ref_and_restores_from_its_base_and_the_default_branch() {
    let pull = scopes_of("pull_request", "refs/heads/release", r#"{"forge": "github", "pull_request": 7}"#);
    assert_eq!(
        pull,
        Scopes {
            own: "refs/pull/7/merge".to_owned(),
            readable: owned(&["refs/pull/7/merge", "refs/heads/release", "refs/heads/main"])
        }
    );
    let into_main = scopes_of("pull_request", "refs/heads/main", r#"{"pull_request": 8}"#);
    assert_eq!(into_main.readable, owned(&["refs/pull/8/merge", "refs/heads/main"]));
    // Without the number, never the base branch's scope.
    let unknown = scopes_of("pull_request", "refs/heads/main", "{}");
    assert_eq!(unknown.own, "refs/ferry/runs/12");
}

#[test]
fn a_fork_s_run_saves_only_under_its_own_scope_whatever_its_event() {
    let fork = Run { from_fork: true, ..run("pull_request", "refs/heads/main", r#"{"pull_request": 7}"#) };
    assert_eq!(scopes(&fork, "main").own, "refs/pull/7/merge");
    // A fork's run of another event (a re-run recorded oddly, a future event) never saves
    // into the branch it names.
    let other = Run { from_fork: true, ..run("push", "refs/heads/main", "{}") };
    assert_eq!(scopes(&other, "main").own, "refs/ferry/runs/12");
}

fn entry(key: &str) -> CacheEntry {
    CacheEntry {
        id: 0,
        project_id: 1,
        scope: "refs/heads/main".to_owned(),
        key: key.to_owned(),
        version: String::new(),
        digest: String::new(),
        size: 0,
        run_id: None,
        job_id: None,
        created_at: 0,
        expires_at: None,
    }
}

#[test]
fn the_key_matches_exactly_then_as_a_prefix_before_the_restore_keys() {
    // Newest first, as the store lists them.
    let entries: Vec<CacheEntry> = ["deps-linux-2", "deps-linux", "deps-mac-1", "deps-linux-1"].map(entry).to_vec();
    let found = |key: &str, restore_keys: &[&str]| {
        let lookup = CacheLookup {
            key: key.to_owned(),
            restore_keys: restore_keys.iter().map(|key| (*key).to_owned()).collect(),
        };
        restored(&entries, &lookup).map_or("none", |entry| entry.key.as_str()).to_owned()
    };
    assert_eq!(found("deps-linux-1", &["deps-"]), "deps-linux-1");
    assert_eq!(found("deps-linux", &[]), "deps-linux", "an exact key beats a newer prefix match");
    assert_eq!(found("deps-lin", &["deps-mac-"]), "deps-linux-2", "the key as a prefix, newest first");
    assert_eq!(found("deps-win-1", &["deps-mac-", "deps-"]), "deps-mac-1");
    assert_eq!(found("deps-win-1", &[" ", "deps-linux"]), "deps-linux");
    assert_eq!(found("deps-win-1", &["deps-win-"]), "none");
}
