//! Pull requests from forks: their jobs get no secrets, and a project can make their runs wait
//! for a developer's approval ("approve and run").

use serde_json::{Value, json};

use crate::hooks::{SECRET, github};
use crate::{ProtocolRunner, TestRepo, TestServer};

const WORKFLOW: &str =
    "on: [push, pull_request]\njobs:\n  build: { runs-on: linux, steps: [{ run: 'echo ${{ secrets.TOKEN }}' }] }\n";

/// A server with project `web` on a repository holding [`WORKFLOW`], its secret `TOKEN`, and
/// `require_approval` as given.
fn server_with_secret(repo: &TestRepo, require_approval: bool) -> TestServer {
    let server = TestServer::start();
    let body = json!({"name": "web", "repo": repo.path().display().to_string(), "webhook_secret": SECRET,
        "require_approval": require_approval});
    let res = server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body));
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.json()["require_approval"], require_approval);
    let res = server.call(
        "PUT",
        "/api/v1/projects/web/secrets/TOKEN",
        Some(&server.admin),
        Some(&json!({"value": "s3cret"})),
    );
    assert!(matches!(res.status, 200 | 201 | 204), "{}", res.body);
    server
}

/// A GitHub `pull_request` body for the commit `sha`, from the repository with id `head_repo`
/// into the one with id 1, opened by `author`.
pub(crate) fn pull_request(sha: &str, head_repo: u64, author: &str) -> Vec<u8> {
    json!({
        "action": "opened", "number": 7,
        "pull_request": {
            "title": "change",
            "head": {"ref": "feature", "sha": sha, "repo": {"id": head_repo, "full_name": "someone/web"}},
            "base": {"ref": "main", "repo": {"id": 1, "full_name": "octo/web"}},
        },
        "repository": {"id": 1, "full_name": "octo/web"},
        "sender": {"login": author},
    })
    .to_string()
    .into_bytes()
}

fn push(sha: &str) -> Vec<u8> {
    json!({
        "ref": "refs/heads/main", "before": "1111111111111111111111111111111111111111", "after": sha,
        "repository": {"full_name": "octo/web"}, "sender": {"login": "alice"}, "commits": [],
    })
    .to_string()
    .into_bytes()
}

/// Sends a hook and returns the id of the one run it queued.
fn queued_run(server: &TestServer, event: &str, body: &[u8]) -> i64 {
    let res = github(server, "web", event, body, SECRET);
    assert_eq!(res.status, 202, "{}", res.body);
    let runs = res.json()["runs"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0]["run"].as_i64().expect("a run id")
}

fn run_status(server: &TestServer, id: i64) -> Value {
    let res = server.call("GET", &format!("/api/v1/runs/{id}"), Some(&server.admin), None);
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()["run"].clone()
}

#[test]
fn issue_13_a_fork_s_pull_request_job_gets_no_secrets_while_a_push_and_a_same_repository_one_do() {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let server = server_with_secret(&repo, false);
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let cases: [(&str, &str, Vec<u8>, Value); 3] = [
        ("a push", "push", push(&repo.head()), json!({"TOKEN": "s3cret"})),
        (
            "a pull request within the repository",
            "pull_request",
            pull_request(&repo.head(), 1, "bob"),
            json!({"TOKEN": "s3cret"}),
        ),
        ("a pull request from a fork", "pull_request", pull_request(&repo.head(), 2, "eve"), json!({})),
    ];
    for (what, event, body, secrets) in cases {
        let id = queued_run(&server, event, &body);
        let job = runner.claim(5_000).unwrap_or_else(|| panic!("{what}: a job"));
        assert_eq!(job["run_id"].as_i64(), Some(id), "{what}");
        assert_eq!(job["secrets"], secrets, "{what}");
        let run = server.with_store(async |store| store.runs().get(id).await.expect("the run"));
        assert_eq!(run.from_fork, secrets == json!({}), "{what}");
    }
    // Re-running a fork's run, whoever asks, keeps it a fork's.
    let fork_run = server.with_store(async |store| {
        let project = store.projects().by_name("web").await.expect("read").expect("web");
        store.runs().list(project.id, i64::MAX, 10).await.expect("runs")[0].id
    });
    let res = server.call("POST", &format!("/api/v1/runs/{fork_run}/cancel"), Some(&server.admin), None);
    assert_eq!(res.status, 202, "{}", res.body);
    let job = server.with_store(async |store| store.jobs().list_for_run(fork_run).await.expect("jobs"))[0].clone();
    let claimed = json!({"job_id": job.id});
    runner.complete(&claimed, "cancelled", json!({}));
    let res = server.call("POST", &format!("/api/v1/runs/{fork_run}/rerun"), Some(&server.admin), Some(&json!({})));
    assert_eq!(res.status, 201, "{}", res.body);
    let job = runner.claim(5_000).expect("the re-run's job");
    assert_eq!(job["secrets"], json!({}), "a re-run of a fork's run");
}

#[test]
fn issue_13_a_fork_s_run_waits_for_a_developer_s_approval_and_then_runs_without_secrets() {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let server = server_with_secret(&repo, true);
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    // A pull request within the repository does not wait.
    let inside = queued_run(&server, "pull_request", &pull_request(&repo.head(), 1, "bob"));
    assert_ne!(run_status(&server, inside)["status"], "waiting");
    let job = runner.claim(5_000).expect("the same-repository run's job");
    assert_eq!(job["run_id"].as_i64(), Some(inside));

    let id = queued_run(&server, "pull_request", &pull_request(&repo.head(), 2, "eve"));
    assert_eq!(run_status(&server, id)["status"], "waiting");
    assert_eq!(runner.claim(0), None, "a waiting run starts no job");
    let approve = format!("/api/v1/runs/{id}/approve");
    let viewer = server.token("viewer");
    assert_eq!(server.call("POST", &approve, Some(&viewer), None).status, 403);
    assert_eq!(server.call("POST", &approve, None, None).status, 401);
    // The pull request's author, even as a developer, cannot approve their own run.
    let res =
        server.call("POST", "/api/v1/tokens", Some(&server.admin), Some(&json!({"name": "eve", "role": "developer"})));
    let eve = res.json()["token"].as_str().expect("a token").to_owned();
    let res = server.call("POST", &approve, Some(&eve), None);
    assert_eq!(res.status, 403, "{}", res.body);
    assert_eq!(runner.claim(0), None, "still waiting");
    let developer = server.token("developer");
    let res = server.call("POST", &approve, Some(&developer), None);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_ne!(res.json()["status"], "waiting");
    let job = runner.claim(5_000).expect("the approved run's job");
    assert_eq!((job["run_id"].as_i64(), job["secrets"].clone()), (Some(id), json!({})));
    let run = server.with_store(async |store| store.runs().get(id).await.expect("the run"));
    assert_eq!(run.approved_by, "developer");
    let again = server.call("POST", &approve, Some(&developer), None);
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(server.call("POST", "/api/v1/runs/999/approve", Some(&developer), None).status, 404);
}

#[test]
fn issue_13_a_waiting_run_that_is_cancelled_ends_with_nothing_run() {
    let workflow = "on: pull_request\njobs:\n  build: { runs-on: linux, steps: [{ run: 'true' }] }\n  \
                    always: { runs-on: linux, if: always(), steps: [{ run: 'true' }] }\n";
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", workflow)]);
    let server = server_with_secret(&repo, true);
    let id = queued_run(&server, "pull_request", &pull_request(&repo.head(), 2, "eve"));
    assert_eq!(run_status(&server, id)["status"], "waiting");
    let res = server.call("POST", &format!("/api/v1/runs/{id}/cancel"), Some(&server.admin), None);
    assert_eq!(res.status, 202, "{}", res.body);
    let run = run_status(&server, id);
    assert_eq!((run["status"].as_str(), run["conclusion"].as_str()), (Some("completed"), Some("cancelled")));
    let jobs = server.with_store(async |store| store.jobs().list_for_run(id).await.expect("jobs"));
    assert!(jobs.is_empty(), "no job of a never-approved run was planned: {jobs:?}");
    let res = server.call("POST", &format!("/api/v1/runs/{id}/approve"), Some(&server.admin), None);
    assert_eq!(res.status, 409, "{}", res.body);
}

#[test]
fn require_approval_is_changed_by_a_developer_and_shown() {
    let server = TestServer::start();
    let body = json!({"name": "web", "repo": "/srv/web.git"});
    let res = server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body));
    assert_eq!(res.json()["require_approval"], false);
    let on = json!({"require_approval": true});
    let viewer = server.token("viewer");
    assert_eq!(server.call("PATCH", "/api/v1/projects/web", Some(&viewer), Some(&on)).status, 403);
    let developer = server.token("developer");
    let res = server.call("PATCH", "/api/v1/projects/web", Some(&developer), Some(&on));
    assert_eq!((res.status, res.json()["require_approval"].clone()), (200, json!(true)), "{}", res.body);
    let res = server.call("GET", "/api/v1/projects/web", Some(&viewer), None);
    assert_eq!(res.json()["require_approval"], true);
    let res = server.call("PATCH", "/api/v1/projects/nope", Some(&developer), Some(&on));
    assert_eq!(res.status, 404, "{}", res.body);
    let res = server.call("PATCH", "/api/v1/projects/web", Some(&developer), Some(&json!({"require_aproval": true})));
    assert_eq!(res.status, 400, "a misspelt setting is refused: {}", res.body);
}

#[test]
fn issue_13_a_run_waiting_for_approval_still_waits_after_a_restart() {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let db = ferry_testkit::TestDb::sqlite();
    let first = TestServer::start_on(Some(db.url().to_owned()));
    let body = json!({"name": "web", "repo": repo.path().display().to_string(), "webhook_secret": SECRET,
        "require_approval": true});
    assert_eq!(first.call("POST", "/api/v1/projects", Some(&first.admin), Some(&body)).status, 201);
    let id = queued_run(&first, "pull_request", &pull_request(&repo.head(), 2, "eve"));
    let admin = first.admin.clone();
    drop(first);
    // The next server resumes every unfinished run on start; a waiting one plans nothing.
    let mut server = TestServer::start_on(Some(db.url().to_owned()));
    server.admin = admin;
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let developer = server.token("developer");
    // Resuming happens in the background: approve only once a resumed run could have started.
    assert_eq!(runner.claim(1_000), None, "still waiting after the restart");
    assert_eq!(run_status(&server, id)["status"], "waiting");
    let res = server.call("POST", &format!("/api/v1/runs/{id}/approve"), Some(&developer), None);
    assert_eq!(res.status, 200, "{}", res.body);
    let job = runner.claim(5_000).expect("the approved run's job");
    assert_eq!(job["run_id"].as_i64(), Some(id));
}
