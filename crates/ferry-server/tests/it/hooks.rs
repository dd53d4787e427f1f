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
    let mut raw = b"POST /hooks/github/web HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-GitHub-Event: push\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
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
