//! Who may do what: the route sweep (every row of the route table called without a token,
//! with too small a role, with another project's token and with the right one), tokens and
//! runners scoped to projects, listing and revoking runners, and the web UI's sessions.

use ferry_server::{Access, Reach};
use ferry_store::Role;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{ProtocolRunner, TestRepo, TestServer};

const WORKFLOW: &str = "\
on: workflow_dispatch
jobs:
  build:
    runs-on: linux
    steps:
      - run: echo \"$TOKEN\"
        env:
          TOKEN: ${{ secrets.TOKEN }}
";

/// The routes anyone may call; a new route that is not among them needs a role in the table.
const PUBLIC: &[&str] = &["GET /healthz", "GET /readyz", "GET /metrics", "POST /hooks/{forge}/{project}"];

/// A server with projects `web` and `api` on one repository, each with the secret `TOKEN`.
fn two_projects() -> (TestServer, TestRepo) {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW)]);
    let server = TestServer::start();
    for name in ["web", "api"] {
        let body = json!({"name": name, "repo": repo.path().display().to_string()});
        assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
        let secret = json!({"value": format!("{name}-secret")});
        let res =
            server.call("PUT", &format!("/api/v1/projects/{name}/secrets/TOKEN"), Some(&server.admin), Some(&secret));
        assert_eq!(res.status, 204, "{}", res.body);
    }
    (server, repo)
}

/// Starts a run of `project`'s workflow; its id.
fn trigger(server: &TestServer, project: &str) -> i64 {
    let body = json!({"workflow": "ci.yml"});
    let res = server.call("POST", &format!("/api/v1/projects/{project}/trigger"), Some(&server.admin), Some(&body));
    assert_eq!(res.status, 201, "{}", res.body);
    res.json()["runs"][0]["id"].as_i64().expect("a run id")
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The ids a route's path needs, from the sweep's fixture.
struct Fixture {
    run_id: i64,
    job_id: i64,
    token_id: i64,
    runner_id: i64,
    agent_id: i64,
    deployment_id: i64,
    incident_id: i64,
    digest: String,
}

impl Fixture {
    /// `path` with its parameters filled in.
    fn path(&self, path: &str) -> String {
        let id = if path.starts_with("/api/v1/tokens/") {
            self.token_id
        } else if path.starts_with("/api/v1/runners/") {
            self.runner_id
        } else if path.starts_with("/api/v1/runner/jobs/") {
            self.job_id
        } else if path.starts_with("/api/v1/agents/") {
            self.agent_id
        } else if path.starts_with("/api/v1/deployments/") {
            self.deployment_id
        } else if path.starts_with("/api/v1/incidents/") {
            self.incident_id
        } else {
            self.run_id
        };
        let path = if path.starts_with("/api/v1/runs/") { path.replace("{name}", "dist") } else { path.to_owned() };
        path.replace("{id}", &id.to_string())
            .replace("{name}", "web")
            .replace("{key}", "TOKEN")
            .replace("{service}", "site")
            .replace("{environment}", "staging")
            .replace("{sha256}", &self.digest)
            .replace("{service}", "web")
            .replace("{number}", "1")
    }
}

fn role_name(role: Role) -> &'static str {
    role.as_str()
}

#[test]
fn route_sweep_every_row_of_the_table_is_refused_to_whom_it_should_be() {
    let (server, _repo) = two_projects();
    // Project web: a run whose job runner `r1` holds, with a log and an artifact.
    let run_id = trigger(&server, "web");
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let job = runner.claim(5_000).expect("web's job");
    let job_id = job["job_id"].as_i64().expect("a job id");
    runner.send(
        &job,
        1,
        json!([
            {"type": "step_started", "step_idx": 0, "name": "Run step", "at": 1},
            {"type": "lines", "step_idx": 0, "lines": ["built"]},
        ]),
    );
    let digest = sha256(b"bundle");
    assert_eq!(runner.request("PUT", &format!("/api/v1/runner/blobs/{digest}"), b"bundle").status, 204);
    let manifest = json!({"name": "dist", "files": [{"path": "app.js", "sha256": digest, "size": 6, "mode": 420}]});
    let res = runner.call(&format!("/api/v1/runner/jobs/{job_id}/artifacts"), &manifest);
    assert_eq!(res.status, 201, "{}", res.body);
    let var = json!({"value": "eu"});
    assert_eq!(server.call("PUT", "/api/v1/projects/web/vars/TOKEN", Some(&server.admin), Some(&var)).status, 204);

    let (_, agent_token) = register_agent(&server, "host-1");
    let (gone_agent, revoked_agent) = register_agent(&server, "host-gone");
    let res = server.call("DELETE", &format!("/api/v1/agents/{gone_agent}"), Some(&server.admin), None);
    assert_eq!(res.status, 200, "{}", res.body);
    let unscoped: Vec<(Role, String)> =
        [Role::Viewer, Role::Developer, Role::Admin].map(|role| (role, server.token(role_name(role)))).to_vec();
    let token_of = |role: Role| unscoped.iter().find(|(has, _)| *has == role).map(|(_, token)| token.clone());
    let api_admin = server.scoped_token("admin", Some(&["api"]));
    let web_admin = server.scoped_token("admin", Some(&["web"]));
    let api_runner = ProtocolRunner::register_for(&server, "api-1", &["linux"], Some(&["api"]));
    let revoked = ProtocolRunner::register(&server, "gone", &["linux"]);
    let gone_id = listed_runner(&server, "gone")["id"].as_i64().expect("an id");
    assert_eq!(server.call("DELETE", &format!("/api/v1/runners/{gone_id}"), Some(&server.admin), None).status, 200);
    ProtocolRunner::register(&server, "sacrificed", &["linux"]);
    let body = json!({"name": "sacrificed", "role": "viewer"});
    assert_eq!(server.call("POST", "/api/v1/tokens", Some(&server.admin), Some(&body)).status, 201);
    let fixture = Fixture {
        run_id,
        job_id,
        token_id: server.with_store(async |store| {
            let tokens = store.tokens().list().await.expect("tokens");
            tokens.iter().find(|token| token.name == "sacrificed").expect("the token to revoke").id
        }),
        runner_id: listed_runner(&server, "sacrificed")["id"].as_i64().expect("an id"),
        agent_id: register_agent(&server, "sacrificed").0,
        deployment_id: server.with_store(async |store| {
            let project = store.projects().by_name("web").await.expect("projects").expect("web");
            let new = ferry_store::NewDeployment {
                project_id: project.id,
                service: "site",
                environment: "staging",
                release: Some(1),
                strategy: "rolling",
                status: ferry_store::DeploymentStatus::Waiting,
                reason: None,
                triggered_by: "admin",
                rollback_of: None,
                is_rollback: false,
                agent_id: None,
                hosts: &[],
                author: "ada",
                commits: "[]",
                gates: "[]",
                target: "{}",
                job_id: None,
                run_id: None,
                commit_sha: None,
                url: None,
            };
            store.deployments().create(&new, 1).await.expect("a deployment").id
        }),
        incident_id: {
            let body = json!({"service": "site", "title": "down"});
            let res = server.call("POST", "/api/v1/projects/web/incidents", Some(&server.admin), Some(&body));
            assert_eq!(res.status, 201, "{}", res.body);
            res.json()["id"].as_i64().expect("an incident's id")
        },
        digest,
    };

    let runtime_token = job["runtime"]["token"].as_str().expect("the job's runtime token");
    let table = ferry_server::route_access();
    assert_eq!(table.len(), ferry_server::routes().len(), "the sweep reads the router's own table");
    let mut public = Vec::new();
    for (method, path, access) in &table {
        let url = fixture.path(path);
        let call = |token: Option<&str>| server.call(method, &url, token, Some(&json!({})));
        let row = format!("{method} {path}");
        match access {
            Access::Public => public.push(row),
            Access::Token(role, reach) => {
                let named = if path.starts_with("/api/v1/projects/{name}") {
                    Some(Reach::Project)
                } else if path.starts_with("/api/v1/runs/{id}") {
                    Some(Reach::Run)
                } else if path.starts_with("/api/v1/deployments/{id}") {
                    Some(Reach::Deployment)
                } else if path.starts_with("/api/v1/incidents/{id}") {
                    Some(Reach::Incident)
                } else {
                    None
                };
                let consistent =
                    named.map_or(matches!(reach, Reach::Any | Reach::AllProjects), |named| named == *reach);
                assert!(consistent, "{row}: a route that names a project or run must check it ({reach:?})");
                let res = call(None);
                assert_eq!(res.status, 401, "{row} without a token: {}", res.body);
                for (below, token) in unscoped.iter().filter(|(has, _)| has < role) {
                    let res = call(Some(token));
                    assert_eq!(res.status, 403, "{row} with a {} token: {}", role_name(*below), res.body);
                }
                match reach {
                    Reach::Project | Reach::Run | Reach::Deployment | Reach::Incident => {
                        let res = call(Some(&api_admin));
                        assert_eq!(res.status, 404, "{row} with a token for project api only: {}", res.body);
                        let what = match reach {
                            Reach::Project => "project web".to_owned(),
                            Reach::Run => format!("run {run_id}"),
                            Reach::Incident => format!("incident {}", fixture.incident_id),
                            _ => format!("deployment {}", fixture.deployment_id),
                        };
                        assert_eq!(res.json()["error"], format!("{what} not found"), "{row}: as if it did not exist");
                    }
                    Reach::AllProjects => {
                        let res = call(Some(&web_admin));
                        assert_eq!(res.status, 403, "{row} with a token scoped to projects: {}", res.body);
                    }
                    Reach::Any => {
                        let res = call(Some(&api_admin));
                        assert!(![401, 403, 404].contains(&res.status), "{row} with a scoped token: {res:?}");
                    }
                }
                let right = token_of(*role).expect("a token of each role");
                if path.ends_with("/events") {
                    // A stream of events that goes on while its deployment does: its head only.
                    let status = stream_status(&server, &url, &right);
                    assert!(![401, 403].contains(&status), "{row} with a {} token: {status}", role_name(*role));
                    continue;
                }
                let res = call(Some(&right));
                assert!(![401, 403].contains(&res.status), "{row} with a {} token: {res:?}", role_name(*role));
            }
            Access::Runner => {
                for (who, token) in [("no token", None), ("an admin's API token", Some(server.admin.as_str()))] {
                    let res = call(token);
                    assert_eq!(res.status, 401, "{row} with {who}: {}", res.body);
                }
                let res = call(Some(revoked.token()));
                assert_eq!(res.status, 401, "{row} with a revoked runner's token: {}", res.body);
                if path.contains("/jobs/{id}") {
                    // Refused: 409 (not its job) once the body is one the route reads.
                    let res = call(Some(api_runner.token()));
                    assert!(res.status >= 400, "{row} by a runner of project api for web's job: {res:?}");
                }
                let res = call(Some(runner.token()));
                assert!(![401, 403].contains(&res.status), "{row} with the job's runner: {res:?}");
            }
            Access::Agent => {
                for (who, token) in [
                    ("no token", None),
                    ("an admin's API token", Some(server.admin.as_str())),
                    ("a runner's token", Some(runner.token())),
                    ("a revoked agent's token", Some(revoked_agent.as_str())),
                ] {
                    let res = call(token);
                    assert_eq!(res.status, 401, "{row} with {who}: {}", res.body);
                }
                let res = call(Some(&agent_token));
                assert!(![401, 403].contains(&res.status), "{row} with an agent's token: {res:?}");
            }
            Access::Runtime => {
                let api_token = token_of(Role::Admin).expect("an admin token");
                for (who, token) in [
                    ("no token", None),
                    ("an admin's API token", Some(api_token.as_str())),
                    ("the job's runner's token", Some(runner.token())),
                ] {
                    let res = call(token);
                    assert_eq!(res.status, 401, "{row} with {who}: {}", res.body);
                }
                let res = call(Some(runtime_token));
                assert!(![401, 403].contains(&res.status), "{row} with the job's runtime token: {res:?}");
            }
            Access::Signed => {
                // The ticket in the query is the credential: without one, or with a wrong one,
                // nothing is found, whatever token comes with it.
                for token in [None, Some(server.admin.as_str()), Some(runtime_token)] {
                    let res = call(token);
                    assert!([400, 404].contains(&res.status), "{row} without its ticket: {res:?}");
                    let res = server.call(method, &format!("{url}?sig=00"), token, None);
                    assert_eq!(res.status, 404, "{row} with a wrong ticket: {res:?}");
                }
            }
        }
    }
    assert_eq!(public, PUBLIC, "only these routes are public; give a new route its role in router.rs");
}

/// Registers agent `name`: its id and token.
fn register_agent(server: &TestServer, name: &str) -> (i64, String) {
    let res = server.call("POST", "/api/v1/agents", Some(&server.admin), Some(&json!({"name": name})));
    assert_eq!(res.status, 201, "{}", res.body);
    let agent = res.json();
    let token = agent["token"].as_str().expect("a token").to_owned();
    assert!(token.starts_with("ferrya_"), "{token}");
    (agent["id"].as_i64().expect("an id"), token)
}

/// The runner called `name` as `GET /api/v1/runners` lists it.
fn listed_runner(server: &TestServer, name: &str) -> Value {
    let res = server.call("GET", "/api/v1/runners", Some(&server.admin), None);
    assert_eq!(res.status, 200, "{}", res.body);
    res.json().as_array().expect("a list").iter().find(|runner| runner["name"] == name).cloned().expect("listed")
}

#[test]
fn a_runner_for_some_projects_never_claims_another_projects_job_or_gets_its_secrets() {
    let (server, _repo) = two_projects();
    let web_runner = ProtocolRunner::register_for(&server, "web-1", &["linux"], Some(&["web"]));
    let api_run = trigger(&server, "api");
    assert_eq!(web_runner.claim(0), None, "the only queued job is project api's");
    let web_run = trigger(&server, "web");
    let job = web_runner.claim(5_000).expect("project web's job");
    assert_eq!(job["run_id"].as_i64(), Some(web_run), "{job}");
    assert_eq!(job["secrets"], json!({"TOKEN": "web-secret"}), "only its project's secrets");
    assert!(!job.to_string().contains("api-secret"), "{job}");
    let api_job = ProtocolRunner::register(&server, "any-1", &["linux"]).claim(5_000).expect("api's job");
    assert_eq!(api_job["run_id"].as_i64(), Some(api_run), "an unscoped runner takes it");

    // Every runner route that names a job answers 409 to a runner that does not hold it.
    let api_job_id = api_job["job_id"].as_i64().expect("a job id");
    let framed = crate::event_batch(1, json!([{"type": "step_started", "step_idx": 0, "name": "x", "at": 1}]));
    let headers = [
        ("Authorization", &*format!("Bearer {}", web_runner.token())),
        ("Content-Type", ferry_proto::runner::EVENT_BATCH_TYPE),
    ];
    let res = server.request("POST", &format!("/api/v1/runner/jobs/{api_job_id}/events"), &headers, &framed);
    assert_eq!(res.status, 409, "events: {}", res.body);
    for (path, body) in [
        ("heartbeat", json!({})),
        ("complete", json!({"conclusion": "success", "outputs": {}})),
        ("cache/lookup", json!({"key": "k", "restore_keys": []})),
        ("artifacts", json!({"name": "dist", "files": []})),
    ] {
        let res = web_runner.call(&format!("/api/v1/runner/jobs/{api_job_id}/{path}"), &body);
        assert_eq!(res.status, 409, "{path}: {}", res.body);
    }
    let res = web_runner.request("GET", &format!("/api/v1/runner/jobs/{api_job_id}/artifacts"), b"");
    assert_eq!(res.status, 409, "listing artifacts: {}", res.body);

    let listed = listed_runner(&server, "web-1");
    assert_eq!(listed["projects"], json!(["web"]));
    assert_eq!(listed_runner(&server, "any-1")["projects"], Value::Null, "every project");
    let res = server.call(
        "POST",
        "/api/v1/runners",
        Some(&server.admin),
        Some(&json!({"name": "x", "labels": [], "projects": ["nope"]})),
    );
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.json()["error"].as_str().is_some_and(|error| error.contains("\"nope\"")), "{}", res.body);
    let empty = json!({"name": "x", "role": "viewer", "projects": []});
    let res = server.call("POST", "/api/v1/tokens", Some(&server.admin), Some(&empty));
    assert_eq!(res.status, 400, "a scope of no project is a mistake: {}", res.body);
}

#[test]
fn a_token_for_one_project_cannot_read_anothers_runs_logs_or_artifacts() {
    let (server, _repo) = two_projects();
    let web_run = trigger(&server, "web");
    let api_run = trigger(&server, "api");
    let web_viewer = server.scoped_token("viewer", Some(&["web"]));
    let res = server.call("GET", "/api/v1/projects", Some(&web_viewer), None);
    let names: Vec<Value> =
        res.json().as_array().expect("a list").iter().map(|project| project["name"].clone()).collect();
    assert_eq!(names, [json!("web")], "the list shows only its projects");
    for path in [
        "/api/v1/projects/api".to_owned(),
        "/api/v1/projects/api/runs".to_owned(),
        "/api/v1/projects/api/secrets".to_owned(),
        format!("/api/v1/runs/{api_run}"),
        format!("/api/v1/runs/{api_run}/logs"),
        format!("/api/v1/runs/{api_run}/artifacts"),
        format!("/api/v1/runs/{api_run}/artifacts/dist"),
    ] {
        assert_eq!(server.call("GET", &path, Some(&web_viewer), None).status, 404, "{path}");
    }
    for path in ["/api/v1/projects/web/runs".to_owned(), format!("/api/v1/runs/{web_run}")] {
        assert_eq!(server.call("GET", &path, Some(&web_viewer), None).status, 200, "{path}");
    }
    let listed = server.call("GET", "/api/v1/tokens", Some(&server.admin), None).json();
    let scoped = listed.as_array().expect("tokens").iter().find(|token| token["projects"] == json!(["web"]));
    assert!(scoped.is_some(), "the token list shows each token's projects: {listed}");

    // The web UI shows a session the same: its projects, and 404 for the others'.
    let session = server.login(&web_viewer);
    let index = server.request("GET", "/", &[("Cookie", &session)], b"");
    assert!(index.body.contains("/ui/projects/web") && !index.body.contains("/ui/projects/api"), "{}", index.body);
    for path in ["/ui/projects/api".to_owned(), format!("/ui/runs/{api_run}")] {
        assert_eq!(server.request("GET", &path, &[("Cookie", &session)], b"").status, 404, "{path}");
    }
    assert_eq!(server.request("GET", &format!("/ui/runs/{web_run}"), &[("Cookie", &session)], b"").status, 200);
}

#[test]
fn revoking_a_runner_stops_its_token_and_fails_its_job_at_once() {
    let (server, _repo) = two_projects();
    let run_id = trigger(&server, "web");
    let runner = ProtocolRunner::register(&server, "r1", &["linux"]);
    let job = runner.claim(5_000).expect("a job");
    let listed = listed_runner(&server, "r1");
    assert_eq!(listed["busy"], json!([{"job_id": job["job_id"], "run_id": run_id, "name": "build"}]), "{listed}");
    assert!(listed["last_seen_at"].is_i64() && listed["revoked_at"].is_null(), "{listed}");
    assert!(!listed.to_string().contains(runner.token()), "never its token");
    let id = listed["id"].as_i64().expect("an id");

    let res = server.call("DELETE", &format!("/api/v1/runners/{id}"), Some(&server.admin), None);
    assert_eq!(res.status, 200, "{}", res.body);
    let revoked = res.json();
    assert!(revoked["revoked_at"].is_i64() && revoked["busy"] == json!([]), "{revoked}");
    assert_eq!(runner.call("/api/v1/runner/claim", &json!({"wait_ms": 0})).status, 401);
    let detail = server.call("GET", &format!("/api/v1/runs/{run_id}"), Some(&server.admin), None).json();
    let build = &detail["jobs"][0];
    assert_eq!(
        (build["conclusion"].as_str(), build["reason"].as_str()),
        (Some("failure"), Some("runner lost: its token was revoked")),
        "{detail}"
    );
    assert_eq!(server.call("DELETE", "/api/v1/runners/999", Some(&server.admin), None).status, 404);
}

#[test]
fn a_session_holds_an_id_not_the_token_and_ends_at_logout_or_revocation() {
    let (server, _repo) = two_projects();
    let developer = server.token("developer");
    let session = server.login(&developer);
    assert!(!session.contains(&developer), "{session}");
    let page = |cookie: &str| server.request("GET", "/", &[("Cookie", cookie)], b"");
    assert_eq!(page(&session).status, 200);
    let api = |cookie: &str| server.request("GET", "/api/v1/projects", &[("Cookie", cookie)], b"");
    assert_eq!(api(&session).status, 200, "the API takes the session too");
    let as_token = format!("ferry_session={developer}");
    assert_eq!(page(&as_token).status, 303, "a token is no session id");

    let form = [("Cookie", session.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
    let res = server.request("POST", "/logout", &form, b"");
    assert_eq!((res.status, res.header("location")), (303, Some("/login")));
    assert_eq!(page(&session).status, 303, "a kept copy of the cookie no longer works after logout");
    assert_eq!(api(&session).status, 401);

    let again = server.login(&developer);
    assert_eq!(page(&again).status, 200);
    let id = server.with_store(async |store| {
        store.tokens().list().await.expect("tokens").into_iter().find(|token| token.name == "developer").expect("it").id
    });
    assert_eq!(server.call("DELETE", &format!("/api/v1/tokens/{id}"), Some(&server.admin), None).status, 204);
    assert_eq!(page(&again).status, 303, "revoking the token ends its sessions");
}

#[test]
fn a_login_link_starts_a_session_for_its_token_once() {
    let server = TestServer::start();
    let viewer = server.token("viewer");
    let res = server.call("POST", "/api/v1/login-links", Some(&viewer), None);
    assert_eq!(res.status, 201, "{}", res.body);
    let url = res.json()["url"].as_str().expect("a url").to_owned();
    let path = &url[url.find("/login/link/").expect("the link's path")..];
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.contains(&viewer), "the link never carries the token: {url}");

    let res = server.request("GET", path, &[], b"");
    assert_eq!((res.status, res.header("location")), (303, Some("/")), "{}", res.body);
    let cookie = res.header("set-cookie").expect("a session cookie");
    let session = cookie.split(';').next().expect("name=value").to_owned();
    assert!(cookie.contains("Max-Age=43200"), "a full session: {cookie}");
    assert_eq!(server.request("GET", "/", &[("Cookie", &session)], b"").status, 200);
    // The session acts as the viewer: it reads, but may not act on what needs a developer.
    let create = server.request(
        "POST",
        "/api/v1/projects",
        &[("Cookie", &session), ("X-Ferry-CSRF", "1"), ("Content-Type", "application/json")],
        br#"{"name": "x", "repo": "/nowhere"}"#,
    );
    assert_eq!(create.status, 403, "{}", create.body);

    let again = server.request("GET", path, &[], b"");
    assert_eq!(again.status, 401, "a link works once");
    assert!(again.body.contains("used already or has expired"), "{}", again.body);
    let ticket_as_cookie = format!("ferry_session={}", &path["/login/link/".len()..]);
    assert_eq!(
        server.request("GET", "/", &[("Cookie", &ticket_as_cookie)], b"").status,
        303,
        "a used ticket is no session"
    );
    assert_eq!(server.request("GET", "/login/link/not-a-ticket", &[], b"").status, 401);
    assert_eq!(server.call("POST", "/api/v1/login-links", None, None).status, 401);
}

#[test]
fn a_session_expires_and_its_cookie_is_secure_behind_https() {
    let server = TestServer::start_configured(|config| {
        config.public_url = Some("https://ferry.example.com".to_owned());
        config.session_ttl = std::time::Duration::ZERO;
    });
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let res = server.request("POST", "/login", &form, format!("token={}", server.admin).as_bytes());
    let cookie = res.header("set-cookie").expect("a cookie");
    assert!(cookie.ends_with("; Max-Age=0; Secure"), "{cookie}");
    let session = cookie.split(';').next().expect("name=value");
    let res = server.request("GET", "/", &[("Cookie", session)], b"");
    assert_eq!((res.status, res.header("location")), (303, Some("/login")), "the session has expired");
    let cleared = res.header("set-cookie").expect("the cookie is cleared");
    assert!(cleared.starts_with("ferry_session=;") && cleared.contains("Max-Age=0"), "{cleared}");

    let plain = TestServer::start();
    let res = plain.request("POST", "/login", &form, format!("token={}", plain.admin).as_bytes());
    let cookie = res.header("set-cookie").expect("a cookie");
    assert!(!cookie.contains("Secure") && cookie.contains("Max-Age=43200"), "{cookie}");
}

/// The status of `GET path` with `token`, read from the answer's head alone (the body of an
/// event stream does not end).
fn stream_status(server: &TestServer, path: &str, token: &str) -> u16 {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(server.addr).expect("connecting");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: ferry\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("sending");
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n") {
        assert_eq!(stream.read(&mut byte).expect("reading the status line"), 1, "the answer ended in its status line");
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line")
}
