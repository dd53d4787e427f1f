//! Reading the corpus: its manifest, each payload's body, and a one-line summary of what Ferry
//! reads from it. Every payload must parse as the event its manifest row names.

mod mangled;
mod signatures;
mod triggers;

use std::path::PathBuf;

use ferry_hooks::{Forge, HookEvent, parse};

/// One payload of the corpus, with the forge and the event header value it was sent with.
pub struct Payload {
    pub file: String,
    pub forge: Forge,
    pub event: String,
    pub body: Vec<u8>,
}

/// The corpus folder: `$FERRY_CORPUS`, or `../shared/corpus` beside the workspace root. A
/// missing corpus fails the test run: these tests are never skipped.
fn corpus_dir() -> PathBuf {
    match std::env::var_os("FERRY_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

/// Every payload named in `webhooks/MANIFEST.tsv`, read from disk.
pub fn payloads() -> Vec<Payload> {
    let dir = corpus_dir().join("webhooks");
    let manifest_path = dir.join("MANIFEST.tsv");
    let manifest = std::fs::read_to_string(&manifest_path).unwrap_or_else(|error| {
        panic!(
            "the webhook corpus is missing: cannot read {} ({error}); set FERRY_CORPUS to the corpus folder",
            manifest_path.display()
        )
    });
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next().expect("the manifest has a header").split('\t').collect();
    let column = |name: &str| header.iter().position(|column| *column == name).expect("manifest column");
    let (file_col, forge_col, event_col) = (column("file"), column("forge"), column("event"));
    let payloads: Vec<Payload> = lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let file = fields[file_col].to_owned();
            let forge = Forge::from_slug(fields[forge_col]).expect("a known forge in the manifest");
            let body = std::fs::read(dir.join(&file)).unwrap_or_else(|error| panic!("reading {file}: {error}"));
            Payload { file, forge, event: fields[event_col].to_owned(), body }
        })
        .collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("listing the webhook corpus")
        .map(|entry| entry.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = payloads.iter().map(|payload| payload.file.clone()).collect();
    listed.sort();
    assert_eq!(listed, on_disk, "every payload in the corpus is in its manifest, and only those");
    payloads
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

/// What Ferry reads from an event, on one line.
fn summary(event: &HookEvent) -> String {
    match event {
        HookEvent::Push(push) => {
            let paths = match push.changed_paths() {
                Some(paths) => format!("[{}]", paths.join(" ")),
                None => "unknown".to_owned(),
            };
            let flags: String = [(push.created, " created"), (push.deleted, " deleted"), (push.forced, " forced")]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, flag)| *flag)
                .collect();
            format!(
                "Push {} {}..{}{flags} repo={} commits={} paths={paths}",
                push.git_ref,
                short(&push.before),
                short(&push.after),
                push.repository.full_name,
                push.commits.len(),
            )
        }
        HookEvent::Tag(change) | HookEvent::Branch(change) => {
            let kind = if matches!(event, HookEvent::Tag(_)) { "Tag" } else { "Branch" };
            let sha = change.sha.as_deref().map(short).unwrap_or("-");
            format!("{kind} {:?} {} sha={sha} repo={}", change.action, change.name, change.repository.full_name)
        }
        HookEvent::PullRequest(pull) => format!(
            "PullRequest #{} {} {}@{} -> {} repo={}",
            pull.number,
            pull.action,
            pull.head_ref,
            short(&pull.head_sha),
            pull.base_ref,
            pull.repository.full_name
        ),
        HookEvent::Ping => "Ping".to_owned(),
        HookEvent::WorkflowDispatch(dispatch) => format!(
            "WorkflowDispatch {} {} inputs={}",
            dispatch.git_ref,
            dispatch.workflow,
            serde_json::Value::Object(dispatch.inputs.clone())
        ),
        HookEvent::Other { event, git_ref, action } => format!(
            "Other {event} ref={} action={}",
            git_ref.as_deref().unwrap_or("-"),
            action.as_deref().unwrap_or("-")
        ),
    }
}

#[test]
fn every_corpus_payload_parses_as_its_event() {
    let payloads = payloads();
    assert_eq!(payloads.len(), 35, "the corpus holds 35 webhook payloads");
    let found: Vec<String> = payloads
        .iter()
        .map(|payload| {
            let res = parse(payload.forge, &payload.event, &payload.body);
            let text = match &res {
                Ok(event) => summary(event),
                Err(error) => format!("ERROR {error}"),
            };
            format!("{}: {text}", payload.file)
        })
        .collect();
    let expected = EXPECTED.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<&str>>();
    let mut found_sorted = found.clone();
    found_sorted.sort();
    assert_eq!(found_sorted, expected, "\nfound:\n{}", found_sorted.join("\n"));
}

const EXPECTED: &str = r#"
forgejo__create__woodpecker__HookTag.json: Tag Created v1.0.0 sha=ef98532 repo=gordon/hello-world
forgejo__pull_request__woodpecker__HookPullRequest.json: PullRequest #1 opened feature/changes@0d1a26e -> main repo=gordon/hello-world
forgejo__pull_request__woodpecker__HookPullRequestLabelAdded.json: PullRequest #1 labeled 6543-patch-1@36b5813 -> main repo=test_it/test_ci_thing
forgejo__push__woodpecker__HookPush.json: Push refs/heads/main 4b26262..ef98532 repo=gordon/hello-world commits=1 paths=[CHANGELOG.md app/controller/application.rb]
forgejo__push__woodpecker__HookPushBranch.json: Push refs/heads/fdsafdsa 0000000..28c3613 created repo=meisam/woodpecktester commits=0 paths=unknown
gitea__create__drone-go-scm__branch_create.json: Branch Created feature sha=- repo=gogits/hello-world
gitea__create__drone-go-scm__tag_create.json: Tag Created v1.0.0 sha=599d25c repo=gogits/hello-world
gitea__delete__drone-go-scm__tag_delete.json: Tag Deleted v1.0.0 sha=- repo=gogits/hello-world
gitea__pull_request__drone-go-scm__pull_request_opened.json: PullRequest #1 opened feature@2eba238 -> master repo=jcitizen/my-repo
gitea__pull_request__woodpecker__HookPullRequestUpdated.json: PullRequest #2 synchronize test-patch-1@788ed8d -> main repo=Test-CI/multi-line-secrets
gitea__push__drone-go-scm__push.json: Push refs/heads/master 9836a96..4522cbc repo=gogits/hello-world commits=1 paths=[README.md]
gitea__push__woodpecker__HookPushMulti.json: Push refs/heads/main 6efcf5b..29be01c repo=Test-CI/multi-line-secrets commits=3 paths=[aa aaa]
github__create__drone-go-scm__tag_create.json: Tag Created v0.0.1 sha=- repo=bradrydzewski/drone-test-go
github__create__octokit-webhooks__create.payload.json: Tag Created simple-tag sha=- repo=Codertocat/Hello-World
github__delete__octokit-webhooks__delete.payload.json: Tag Deleted simple-tag sha=- repo=Codertocat/Hello-World
github__ping__octokit-webhooks__ping.payload.json: Ping
github__pull_request__drone-go-scm__pr_sync.json: PullRequest #1 synchronize master@8102e37 -> bradrydzewski-patch-1 repo=bradrydzewski/drone-test-go
github__pull_request__octokit-webhooks__pull_request.opened.payload.json: PullRequest #2 opened changes@ec26c3e -> master repo=Codertocat/Hello-World
github__pull_request__octokit-webhooks__pull_request.synchronize.payload.json: PullRequest #2 synchronize changes@ec26c3e -> master repo=Codertocat/Hello-World
github__push__drone-go-scm__push.json: Push refs/heads/master a10867b..199eddf repo=Codertocat/Hello-World commits=1 paths=[README.md]
github__push__drone-go-scm__push_tag.json: Push refs/tags/v0.0.1 0000000..d2b75aa created repo=bradrydzewski/drone-test-go commits=0 paths=unknown
github__push__octokit-webhooks__push.payload.json: Push refs/tags/simple-tag 6113728..0000000 deleted repo=Codertocat/Hello-World commits=0 paths=unknown
github__push__octokit-webhooks__push.with-new-branch.payload.json: Push refs/heads/master 0000000..6113728 created repo=Codertocat/Hello-World commits=1 paths=unknown
github__push__woodpecker__HookPush.json: Push refs/heads/main 2f78019..366701f repo=woodpecker-ci/woodpecker commits=1 paths=[pipeline/shared/replace_secrets.go pipeline/shared/replace_secrets_test.go]
github__release__octokit-webhooks__release.published.payload.json: Other release ref=refs/tags/0.0.1 action=published
github__repository_dispatch__octokit-webhooks__repository_dispatch.payload.json: Other repository_dispatch ref=refs/heads/master action=on-demand-test
github__workflow_dispatch__octokit-webhooks__workflow_dispatch.payload.json: WorkflowDispatch refs/heads/master .github/workflows/hello-world-workflow.yml inputs={"name":"Mona the Octocat"}
gitlab__merge_request_hook__go-gitlab__merge_request.json: PullRequest #1 opened ms-viewport@da15608 -> master repo=gitlabhq/gitlab-test
gitlab__push_hook__drone-go-scm__push.json: Push refs/heads/master 9217710..2adc946 repo=gitlab-org/hello-world commits=1 paths=[README.md]
gitlab__push_hook__go-gitlab__push.json: Push refs/heads/master 95790bf..da15608 repo=mike/diaspora commits=2 paths=unknown
gitlab__push_hook__woodpecker__HookPush.json: Push refs/heads/main ffe8eb4..16862e3 repo=test/woodpecker commits=1 paths=[cmd/cli/main.go]
gitlab__tag_push_hook__drone-go-scm__tag_create.json: Push refs/tags/v1.0.0 0000000..2adc946 created repo=gitlab-org/hello-world commits=1 paths=unknown
gitlab__tag_push_hook__drone-go-scm__tag_delete.json: Push refs/tags/v1.0.0 2adc946..0000000 deleted repo=gitlab-org/hello-world commits=0 paths=unknown
gitlab__tag_push_hook__go-gitlab__tag_push.json: Push refs/tags/v1.0.0 0000000..82b3d5a created repo=jsmith/example commits=1 paths=unknown
gitlab__tag_push_hook__woodpecker__HookTag.json: Push refs/tags/v22 0000000..fabed3d created repo=test/woodpecker commits=1 paths=unknown
"#;
