//! Webhooks: signed events record runs; refused ones answer their status and record nothing.

use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::{Response, TestRepo, TestServer};

pub(crate) const SECRET: &str = "hook-s3cret";

/// A server with project `web` whose webhook secret is [`SECRET`].
pub(crate) fn server_with_project() -> TestServer {
    with_project(TestServer::start())
}

fn with_project(server: TestServer) -> TestServer {
    let body = json!({"name": "web", "repo": "/srv/web.git", "webhook_secret": SECRET});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    server
}

pub(crate) fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!("sha256={}", tag.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
}

/// A GitHub hook for `event` with `body`, signed with `secret`.
pub(crate) fn github(server: &TestServer, project: &str, event: &str, body: &[u8], secret: &str) -> Response {
    let signature = signature(secret, body);
    let headers =
        [("X-GitHub-Event", event), ("X-Hub-Signature-256", signature.as_str()), ("Content-Type", "application/json")];
    server.request("POST", &format!("/hooks/github/{project}"), &headers, body)
}

/// A project `web` on the repository at `repo`.
pub(crate) fn with_repo_project(server: TestServer, repo: &std::path::Path) -> TestServer {
    let body = json!({"name": "web", "repo": repo.display().to_string(), "webhook_secret": SECRET});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    server
}

fn push_body_at(sha: &str) -> Vec<u8> {
    let body = String::from_utf8(push_body()).expect("UTF-8");
    body.replace("2222222222222222222222222222222222222222", sha).into_bytes()
}

fn push_body() -> Vec<u8> {
    json!({
        "ref": "refs/heads/main",
        "before": "1111111111111111111111111111111111111111",
        "after": "2222222222222222222222222222222222222222",
        "repository": {"full_name": "octo/web"},
        "sender": {"login": "alice"},
        "commits": [{"id": "2222222222222222222222222222222222222222", "message": "fix", "added": ["src/a.rs"], "modified": ["README.md"], "removed": []}],
    })
    .to_string()
    .into_bytes()
}

fn n_runs(server: &TestServer) -> usize {
    server.with_store(async |store| {
        let project = store.projects().by_name("web").await.expect("read").expect("web");
        store.runs().list(project.id, i64::MAX, 100).await.expect("runs").len()
    })
}

#[test]
fn a_signed_github_push_queues_a_run_of_each_workflow_its_filters_match() {
    let repo = TestRepo::new(&[
        (
            ".github/workflows/ci.yml",
            "on: { push: { branches: [main] } }\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n",
        ),
        (
            ".github/workflows/release.yml",
            "on: { push: { branches: [release] } }\njobs:\n  ship: { runs-on: linux, steps: [{ run: 'true' }] }\n",
        ),
        (
            ".github/workflows/docs.yml",
            "on: { push: { paths: ['docs/**'] } }\njobs:\n  docs: { runs-on: linux, steps: [{ run: 'true' }] }\n",
        ),
    ]);
    let server = with_repo_project(TestServer::start(), &repo.path());
    let body = push_body_at(&repo.head());
    let res = github(&server, "web", "push", &body, SECRET);
    assert_eq!(res.status, 202, "{}", res.body);
    let runs = res.json()["runs"].as_array().cloned().expect("runs");
    assert_eq!(runs.len(), 1, "only ci.yml matches branch main and paths src/a.rs, README.md: {runs:?}");
    assert_eq!((runs[0]["number"].as_i64(), runs[0]["workflow"].as_str()), (Some(1), Some(".github/workflows/ci.yml")));
    let id = runs[0]["run"].as_i64().expect("a run id");
    let run = server.with_store(async |store| store.runs().get(id).await.expect("the run"));
    assert_eq!(
        (run.event.as_str(), run.git_ref.as_str(), run.sha.as_str()),
        ("push", "refs/heads/main", repo.head().as_str())
    );
    assert_eq!(
        (run.status.as_str(), run.trigger_actor.as_str(), run.title.as_str()),
        ("in_progress", "alice", "add workflows")
    );
    let info: serde_json::Value = serde_json::from_str(&run.trigger_info).expect("JSON");
    assert_eq!(info["changed_paths"], json!(["README.md", "src/a.rs"]));
    assert_eq!(
        (info["forge"].as_str(), info["payload"]["after"].as_str()),
        (Some("github"), Some(repo.head().as_str()))
    );
    let jobs = server.with_store(async |store| store.jobs().list_for_run(id).await.expect("jobs"));
    assert_eq!(
        jobs.iter().map(|job| (job.job_key.as_str(), job.status.as_str())).collect::<Vec<_>>(),
        [("build", "queued")]
    );
    let second = github(&server, "web", "push", &body, SECRET);
    assert_eq!(second.json()["runs"][0]["number"], 2);
}

#[test]
fn a_push_runs_the_workflow_files_of_both_folders_and_no_other_file() {
    let push = "on: push\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[
        (".github/workflows/ci.yml", push),
        (".github/workflows/lint.yaml", push),
        (".github/workflows/notes.txt", push),
        (".github/workflows/nested/deeper.yml", push),
        (".ferry/workflows/deploy.yml", push),
        ("ci.yml", push),
    ]);
    let server = with_repo_project(TestServer::start(), &repo.path());
    let res = github(&server, "web", "push", &push_body_at(&repo.head()), SECRET);
    assert_eq!(res.status, 202, "{}", res.body);
    let workflows: Vec<String> = res.json()["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|run| run["workflow"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(workflows, [".ferry/workflows/deploy.yml", ".github/workflows/ci.yml", ".github/workflows/lint.yaml"]);
}

#[test]
fn a_push_whose_repository_cannot_be_read_is_kept_as_a_failed_run() {
    let server = server_with_project();
    let res = github(&server, "web", "push", &push_body(), SECRET);
    assert_eq!(res.status, 202, "{}", res.body);
    let id = res.json()["runs"][0]["run"].as_i64().expect("a run id");
    let run = server.with_store(async |store| store.runs().get(id).await.expect("the run"));
    assert_eq!((run.status.as_str(), run.conclusion.map(|c| c.as_str())), ("completed", Some("failure")));
    let error = run.error.unwrap_or_default();
    assert!(error.contains("reading the repository") && error.contains("/srv/web.git"), "{error}");
}

#[test]
fn a_ping_answers_200_and_records_nothing() {
    let server = server_with_project();
    let res = github(&server, "web", "ping", br#"{"zen": "Keep it logically awesome.", "hook_id": 1}"#, SECRET);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(n_runs(&server), 0);
}

#[test]
fn refused_hooks_answer_their_status_and_record_nothing() {
    let server = server_with_project();
    let no_secret = json!({"name": "bare", "repo": "/srv/bare.git"});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&no_secret)).status, 201);
    let table: &[(&str, &str, &[u8], &str, u16)] = &[
        ("bad signature", "push", &push_body(), "wrong-secret", 401),
        ("malformed JSON", "push", b"{not json", SECRET, 400),
        ("missing field", "push", br#"{"ref": "refs/heads/main"}"#, SECRET, 400),
        ("unknown event", "", &push_body(), SECRET, 400),
    ];
    for (what, event, body, secret, status) in table {
        let res = github(&server, "web", event, body, secret);
        assert_eq!(res.status, *status, "{what}: {}", res.body);
        assert!(res.json()["error"].is_string(), "{what}: {}", res.body);
    }
    let unsigned = server.request("POST", "/hooks/github/web", &[("X-GitHub-Event", "push")], &push_body());
    assert_eq!(unsigned.status, 401, "{}", unsigned.body);
    assert_eq!(github(&server, "bare", "push", &push_body(), "").status, 403);
    assert_eq!(github(&server, "nope", "push", &push_body(), SECRET).status, 404);
    let res = server.request("POST", "/hooks/bitbucket/web", &[], b"{}");
    assert_eq!(res.status, 404, "{}", res.body);
    assert_eq!(n_runs(&server), 0);
}

#[test]
fn a_body_over_the_limit_is_refused_with_413_before_it_is_read() {
    let server = server_with_project();
    let head = format!(
        "POST /hooks/github/web HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-GitHub-Event: push\r\nContent-Length: {}\r\n\r\n{{",
        ferry_hooks::MAX_BODY + 1
    );
    let res = server.send_raw(head.as_bytes());
    assert_eq!(res.status, 413, "{}", res.body);
    assert!(res.json()["error"].is_string(), "{}", res.body);
    assert_eq!(n_runs(&server), 0);
}

#[test]
fn a_chunked_body_over_the_limit_is_refused_with_413() {
    let server = server_with_project();
    let chunk = vec![b' '; 1024 * 1024];
    // Signed (wrongly: which is only known at the end), so the body is read until the limit.
    let signature = signature("wrong-secret", b"");
    let mut raw = format!("POST /hooks/github/web HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: {signature}\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes();
    for _ in 0..=ferry_hooks::MAX_BODY / chunk.len() {
        raw.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        raw.extend_from_slice(&chunk);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let res = server.send_raw(&raw);
    assert_eq!(res.status, 413, "{}", res.body);
    assert_eq!(n_runs(&server), 0);
}

#[test]
fn a_gitlab_push_with_the_secret_token_records_a_run_on_postgres() {
    let db = ferry_testkit::TestDb::postgres();
    let server = with_project(TestServer::start_on(Some(db.url().to_owned())));
    let body = json!({
        "ref": "refs/tags/v1",
        "before": "0000000000000000000000000000000000000000",
        "after": "3333333333333333333333333333333333333333",
        "project": {"path_with_namespace": "octo/web"},
        "commits": [],
    })
    .to_string();
    let wrong = [("X-Gitlab-Event", "Tag Push Hook"), ("X-Gitlab-Token", "nope")];
    assert_eq!(server.request("POST", "/hooks/gitlab/web", &wrong, body.as_bytes()).status, 401);
    let headers = [("X-Gitlab-Event", "Tag Push Hook"), ("X-Gitlab-Token", SECRET)];
    let res = server.request("POST", "/hooks/gitlab/web", &headers, body.as_bytes());
    assert_eq!(res.status, 202, "{}", res.body);
    assert_eq!(n_runs(&server), 1);
    let id = res.json()["runs"][0]["run"].as_i64().expect("a run id");
    let run = server.with_store(async |store| store.runs().get(id).await.expect("the run"));
    assert_eq!((run.event.as_str(), run.git_ref.as_str()), ("push", "refs/tags/v1"));
    assert!(run.error.as_deref().unwrap_or_default().contains("reading the repository"), "{:?}", run.error);
    assert!(server.dir.path().join("data/admin.token").exists());
    assert!(!server.dir.path().join("data/ferry.db").exists(), "the database is PostgreSQL");
}

/// A GitHub hook as [`github`] sends it, with delivery id `delivery`.
fn github_delivery(server: &TestServer, body: &[u8], secret: &str, delivery: &str) -> Response {
    let signature = signature(secret, body);
    let headers = [
        ("X-GitHub-Event", "push"),
        ("X-Hub-Signature-256", signature.as_str()),
        ("X-GitHub-Delivery", delivery),
        ("Content-Type", "application/json"),
    ];
    server.request("POST", "/hooks/github/web", &headers, body)
}

#[test]
fn issue_13_a_delivery_sent_twice_starts_its_runs_once() {
    let repo = TestRepo::new(&[(
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n",
    )]);
    let server = with_repo_project(TestServer::start(), &repo.path());
    let body = push_body_at(&repo.head());
    // A forged request cannot take the id before the real delivery comes.
    let forged = github_delivery(&server, &body, "wrong-secret", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(forged.status, 401, "{}", forged.body);
    let first = github_delivery(&server, &body, SECRET, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(first.status, 202, "{}", first.body);
    let again = github_delivery(&server, &body, SECRET, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!((again.status, again.json()["status"].as_str()), (200, Some("repeat")), "{}", again.body);
    assert_eq!(n_runs(&server), 1);
    let other = github_delivery(&server, &body, SECRET, "a-second-delivery");
    assert_eq!(other.status, 202, "{}", other.body);
    assert_eq!(n_runs(&server), 2);
    // Forgotten after a day (the supervisor's sweep): the id is taken again.
    let swept = server.with_store(async |store| store.deliveries().sweep(i64::MAX).await.expect("sweep"));
    assert_eq!(swept, 2);
    let later = github_delivery(&server, &body, SECRET, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(later.status, 202, "{}", later.body);
    assert_eq!(n_runs(&server), 3);
}

/// Sends the head of a request whose body never comes, and reads the answer: a server that
/// waits for the body answers nothing, and the read gives up after a minute.
fn answer_without_body(server: &TestServer, head: &str) -> Response {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connecting");
    stream.set_read_timeout(Some(std::time::Duration::from_secs(60))).expect("a read timeout");
    stream.write_all(head.as_bytes()).expect("sending the head");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("an answer before the body was sent (the server waited for it)");
    crate::Response::parse(&answer)
}

#[test]
fn issue_13_what_the_headers_tell_is_refused_before_the_body_is_read() {
    let server = server_with_project();
    let no_secret = json!({"name": "bare", "repo": "/srv/bare.git"});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&no_secret)).status, 201);
    let head = |project: &str, extra: &str| {
        format!(
            "POST /hooks/github/{project} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-GitHub-Event: push\r\n{extra}Content-Length: 20000000\r\n\r\n"
        )
    };
    let table: &[(&str, String, u16)] = &[
        ("no such project", head("nope", ""), 404),
        ("a project without a webhook secret", head("bare", "X-Hub-Signature-256: sha256=00\r\n"), 403),
        ("no signature", head("web", ""), 401),
        ("a malformed signature", head("web", "X-Hub-Signature-256: sha256=zz\r\n"), 401),
    ];
    for (what, head, status) in table {
        let res = answer_without_body(&server, head);
        assert_eq!(res.status, *status, "{what}: {}", res.body);
    }
    let gitlab = "POST /hooks/gitlab/web HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: wrong\r\nContent-Length: 20000000\r\n\r\n";
    assert_eq!(answer_without_body(&server, gitlab).status, 401, "a wrong GitLab token");
}

/// This process's peak resident memory (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("a VmHWM line");
    let kib: u64 = line.split_whitespace().nth(1).and_then(|kib| kib.parse().ok()).expect("VmHWM in kB");
    kib * 1024
}

/// Issue 13's attack: 40 bodies of 26 MB at once, all with a wrong signature. The server holds
/// at most `BODY_BUDGET` (50 MiB) of bodies at once, whatever the number of requests; before,
/// it held every body whole (958 MB peak in the issue). Nothing is timed: the test compares
/// the process's peak resident memory (server and client are this process) before and after.
#[test]
fn issue_13_parallel_large_bodies_with_bad_signatures_keep_memory_bounded() {
    let server = server_with_project();
    let body = std::sync::Arc::new(vec![b' '; 26_000_000]);
    let before = peak_rss();
    let answers: Vec<Option<u16>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..40)
            .map(|_| {
                let body = body.clone();
                let addr = server.addr;
                scope.spawn(move || {
                    use std::io::{Read, Write};
                    let head = format!(
                        "POST /hooks/github/web HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: sha256={}\r\nContent-Length: {}\r\n\r\n",
                        "0".repeat(64),
                        body.len()
                    );
                    let mut stream = std::net::TcpStream::connect(addr).expect("connecting");
                    // A refused request may be closed before all of its body was sent.
                    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
                    let mut answer = Vec::new();
                    stream.read_to_end(&mut answer).ok()?;
                    (!answer.is_empty()).then(|| crate::Response::parse(&answer).status)
                })
            })
            .collect();
        threads.into_iter().map(|thread| thread.join().expect("a client thread")).collect()
    });
    let grown = peak_rss().saturating_sub(before);
    eprintln!(
        "peak RSS grew by {} MiB for 40 parallel 26 MB bad-signature webhooks; answers: {answers:?}",
        grown >> 20
    );
    for answer in answers.iter().flatten() {
        assert!(matches!(answer, 401 | 503), "{answers:?}");
    }
    assert!(answers.iter().flatten().any(|answer| *answer == 401), "some bodies were read and refused: {answers:?}");
    assert!(grown < 200 << 20, "peak RSS grew by {} MiB", grown >> 20);
    assert_eq!(n_runs(&server), 0);
}

#[test]
fn issue_13_a_webhook_secret_kept_in_plain_text_is_sealed_at_start_and_still_verifies() {
    let db = ferry_testkit::TestDb::sqlite();
    let project_id = {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let store = ferry_store::Store::open(db.url()).await.expect("the store");
            let old =
                ferry_store::NewProject { name: "web", repo: "/srv/web.git", branch: "main", webhook_secret: SECRET };
            let project = store.projects().create(&old, 0).await.expect("a project written in plain text");
            store.close().await;
            project.id
        })
    };
    let server = TestServer::start_on(Some(db.url().to_owned()));
    let stored = server.with_store(async |store| store.projects().get(project_id).await.expect("web").webhook_secret);
    assert!(stored.starts_with("sealed1:") && !stored.contains(SECRET), "{stored}");
    let ping = br#"{"zen": "Design for failure.", "hook_id": 1}"#;
    assert_eq!(github(&server, "web", "ping", ping, SECRET).status, 200);
    assert_eq!(github(&server, "web", "ping", ping, "wrong").status, 401);
    // A project created now is sealed at once.
    let body = json!({"name": "new", "repo": "/srv/new.git", "webhook_secret": "new-s3cret"});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    let stored = server
        .with_store(async |store| store.projects().by_name("new").await.expect("read").expect("new").webhook_secret);
    assert!(stored.starts_with("sealed1:") && !stored.contains("new-s3cret"), "{stored}");
    assert_eq!(github(&server, "new", "ping", ping, "new-s3cret").status, 200);
}

/// The workflow files the runs answering a hook are of (none for a 200 answer).
fn started_workflows(res: &Response) -> Vec<String> {
    assert!(res.status == 202 || res.status == 200, "{} {}", res.status, res.body);
    res.json()["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|run| run["workflow"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn pull_request_activities_start_only_the_workflows_whose_types_hold_them() {
    let workflow = |on: &str| format!("on: {on}\njobs:\n  build: {{ runs-on: linux, steps: [{{ run: 'true' }}] }}\n");
    let repo = TestRepo::new(&[
        (".github/workflows/default.yml", &workflow("pull_request")),
        (".github/workflows/labels.yml", &workflow("{ pull_request: { types: [labeled] } }")),
        (".github/workflows/closed.yml", &workflow("{ pull_request: { types: [closed, opened] } }")),
        (".github/workflows/push.yml", &workflow("push")),
    ]);
    let server = with_repo_project(TestServer::start(), &repo.path());
    let github_pull = |action: &str| {
        let body = json!({
            "action": action, "number": 7,
            "pull_request": {
                "title": "change",
                "head": {"ref": "feature", "sha": repo.head(), "repo": {"id": 1}},
                "base": {"ref": "main", "repo": {"id": 1}},
            },
            "repository": {"id": 1, "full_name": "octo/web"},
            "sender": {"login": "alice"},
        });
        started_workflows(&github(&server, "web", "pull_request", body.to_string().as_bytes(), SECRET))
    };
    assert_eq!(github_pull("opened"), [".github/workflows/closed.yml", ".github/workflows/default.yml"]);
    assert_eq!(github_pull("synchronize"), [".github/workflows/default.yml"]);
    assert_eq!(github_pull("labeled"), [".github/workflows/labels.yml"]);
    assert_eq!(github_pull("closed"), [".github/workflows/closed.yml"]);
    assert!(github_pull("edited").is_empty(), "no workflow takes an edit");

    let gitlab_merge_request = |action: &str| {
        let body = json!({
            "user": {"username": "alice"},
            "project": {"path_with_namespace": "octo/web"},
            "object_attributes": {
                "iid": 3, "title": "change", "source_branch": "feature", "target_branch": "main",
                "last_commit": {"id": repo.head()}, "action": action,
            },
        });
        let headers = [("X-Gitlab-Event", "Merge Request Hook"), ("X-Gitlab-Token", SECRET)];
        started_workflows(&server.request("POST", "/hooks/gitlab/web", &headers, body.to_string().as_bytes()))
    };
    // GitLab's `open`, `update`, `merge` are GitHub's `opened`, `edited` (no new commits), `closed`.
    assert_eq!(gitlab_merge_request("open"), [".github/workflows/closed.yml", ".github/workflows/default.yml"]);
    assert!(gitlab_merge_request("update").is_empty());
    assert_eq!(gitlab_merge_request("merge"), [".github/workflows/closed.yml"]);
}
