//! Releases through the server: a successful run whose workflow uploads the artifact a
//! service's `release:` names makes a release by itself, a developer makes one from a run or
//! from files uploaded to the project (and only those: a digest of another project's blob is
//! refused), releases are numbered per service and list the commits since the previous one;
//! and environment secrets are never answered.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{ProtocolRunner, TestRepo, TestServer};

const WORKFLOW: &str = r#"
on: workflow_dispatch
jobs:
  package:
    runs-on: linux
    steps:
      - run: make dist
"#;

const DEPLOY: &str = "
environments:
  staging: { auto-deploy: true }
services:
  web:
    run: python3 server.py
    release: { workflow: ci.yml, job: package, artifact: site }
    deploy:
      staging: { port: 8001 }
  api:
    run: ./api
    deploy:
      staging: { port: 8002 }
";

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

fn start() -> (TestServer, TestRepo) {
    let repo = TestRepo::new(&[(".github/workflows/ci.yml", WORKFLOW), (".ferry/deploy.yml", DEPLOY)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    (server, repo)
}

/// Polls `what` until it gives a value, for up to 20 s.
fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `ci.yml` on `git_ref` (the project's branch when `None`) by hand as a protocol
/// runner: its job uploads artifacts `site` and `api` and concludes `conclusion`. The run's id.
fn run_ci(server: &TestServer, git_ref: Option<&str>, conclusion: &str) -> i64 {
    let body = json!({"workflow": "ci.yml", "git_ref": git_ref});
    let res = server.call("POST", "/api/v1/projects/web/trigger", Some(&server.admin), Some(&body));
    assert_eq!(res.status, 201, "{}", res.body);
    let run_id = res.json()["runs"][0]["id"].as_i64().expect("a run id");
    let runner = ProtocolRunner::register(server, &format!("r{run_id}"), &["linux"]);
    let job = runner.claim(1000).expect("the package job");
    let job_id = job["job_id"].as_i64().expect("a job id");
    for (name, path, text) in [("site", "server.py", "print('hello')\n"), ("api", "api", "#!/bin/sh\n")] {
        let digest = sha256(text.as_bytes());
        assert_eq!(runner.request("PUT", &format!("/api/v1/runner/blobs/{digest}"), text.as_bytes()).status, 204);
        let files = json!([{"path": path, "sha256": digest, "size": text.len(), "mode": 0o755}]);
        let res =
            runner.call(&format!("/api/v1/runner/jobs/{job_id}/artifacts"), &json!({"name": name, "files": files}));
        assert_eq!(res.status, 201, "{}", res.body);
    }
    runner.finish(&job, &["built"], conclusion, json!({}));
    wait_for("the run to conclude", || {
        let run = server.call("GET", &format!("/api/v1/runs/{run_id}"), Some(&server.admin), None).json();
        (run["run"]["status"] == "completed").then_some(())
    });
    run_id
}

fn releases(server: &TestServer, query: &str) -> Vec<Value> {
    let res = server.call("GET", &format!("/api/v1/projects/web/releases{query}"), Some(&server.admin), None);
    assert_eq!(res.status, 200, "{}", res.body);
    res.json().as_array().expect("a list").clone()
}

#[test]
fn a_successful_run_makes_the_release_its_deploy_yml_names_and_a_developer_one_from_its_artifact() {
    let (server, repo) = start();
    // Neither a failed run nor a successful one on another branch than `release:`'s makes a
    // release: the first release is the matching run's.
    let failed = run_ci(&server, None, "failure");
    repo.branch("feature");
    run_ci(&server, Some("feature"), "success");
    let run_id = run_ci(&server, None, "success");
    let release = wait_for("the automatic release", || releases(&server, "?service=web").pop());
    assert_eq!(
        (release["number"].as_i64(), release["run_id"].as_i64(), release["commit"].as_str()),
        (Some(1), Some(run_id), Some(repo.head().as_str())),
        "{release}"
    );
    assert_eq!(release["files"][0]["path"], "server.py", "the `site` artifact's files: {release}");
    assert_eq!(release["commits"][0]["message"], "add workflows", "{release}");
    assert_eq!(release["deploy_spec"], DEPLOY);
    assert_eq!(release["branch"], "main");
    let one = server.call("GET", "/api/v1/projects/web/releases/web/1", Some(&server.token("viewer")), None);
    assert_eq!((one.status, one.json()), (200, release.clone()));
    assert_eq!(server.call("GET", "/api/v1/projects/web/releases/web/2", Some(&server.admin), None).status, 404);

    // `api` has no `release:`: a developer makes it from the artifact named after it.
    let developer = server.token("developer");
    let create = |body: Value| server.call("POST", "/api/v1/projects/web/releases", Some(&developer), Some(&body));
    let res = create(json!({"service": "api", "run_id": run_id}));
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!((res.json()["number"].as_i64(), res.json()["files"][0]["path"].as_str()), (Some(1), Some("api")));
    assert_eq!(res.json()["author"], "developer", "the token's name: {}", res.body);
    // A run makes one release per service, by hand or not.
    for service in ["api", "web"] {
        let again = create(json!({"service": service, "run_id": run_id}));
        assert_eq!(again.status, 409, "{}", again.body);
        assert!(again.body.contains(&format!("run {run_id} already made release 1 of {service}")), "{}", again.body);
    }
    let refused = create(json!({"service": "web", "run_id": failed}));
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("has not concluded success (failure)"), "{}", refused.body);
    let undeclared = create(json!({"service": "db", "run_id": run_id}));
    assert_eq!(undeclared.status, 422, "{}", undeclared.body);
    assert!(undeclared.body.contains("declares no service \\\"db\\\" (it declares: web, api)"), "{}", undeclared.body);
    let both = create(json!({"service": "web", "run_id": run_id, "files": []}));
    assert_eq!(both.status, 422, "{}", both.body);
    let viewer = server.call(
        "POST",
        "/api/v1/projects/web/releases",
        Some(&server.token("viewer")),
        Some(&json!({"service": "api", "run_id": run_id})),
    );
    assert_eq!(viewer.status, 403, "{}", viewer.body);

    let listed: Vec<(String, i64)> = releases(&server, "")
        .iter()
        .map(|release| {
            (release["service"].as_str().unwrap_or_default().to_owned(), release["number"].as_i64().unwrap_or(0))
        })
        .collect();
    assert_eq!(listed, [("api".to_owned(), 1), ("web".to_owned(), 1)], "newest first");
}

#[test]
fn a_release_from_files_names_only_blobs_its_project_uploaded() {
    let (server, repo) = start();
    let other_repo = TestRepo::new(&[(".ferry/deploy.yml", DEPLOY)]);
    let body = json!({"name": "other", "repo": other_repo.path().display().to_string()});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    let developer = server.token("developer");
    let text = "print('hello')\n";
    let digest = sha256(text.as_bytes());
    let missing = |project: &str| -> Value {
        let res = server.call(
            "POST",
            &format!("/api/v1/projects/{project}/blobs/missing"),
            Some(&developer),
            Some(&json!({"digests": [digest]})),
        );
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()["digests"].clone()
    };
    let put = |project: &str, bytes: &[u8]| {
        let auth = format!("Bearer {developer}");
        server.request(
            "PUT",
            &format!("/api/v1/projects/{project}/blobs/{digest}"),
            &[("Authorization", auth.as_str())],
            bytes,
        )
    };
    assert_eq!(missing("web"), json!([digest]));
    assert_eq!(put("web", b"other bytes").status, 422, "the digest is checked");
    assert_eq!(put("web", text.as_bytes()).status, 204);
    assert_eq!(missing("web"), json!([]));

    let files = json!([{"path": "server.py", "sha256": digest, "size": text.len(), "mode": 0o644}]);
    let create = |project: &str, body: Value| {
        server.call("POST", &format!("/api/v1/projects/{project}/releases"), Some(&developer), Some(&body))
    };
    let first = create("web", json!({"service": "web", "files": files}));
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!((first.json()["number"].as_i64(), first.json()["run_id"].clone()), (Some(1), Value::Null));
    assert_eq!(first.json()["commit"].as_str(), Some(repo.head().as_str()), "the branch's head");
    assert_eq!(first.json()["branch"], "main");

    // The commits since the previous release, newest first.
    repo.commit(&[("README", "one")], "Write a README");
    let head = repo.commit(&[("README", "two")], "Say more in the README");
    let second = create("web", json!({"service": "web", "files": files, "commit": "main"}));
    assert_eq!(second.status, 201, "{}", second.body);
    assert_eq!(second.json()["commits"].as_array().map(Vec::len), Some(2), "{}", second.body);
    assert_eq!(second.json()["commits"][0]["sha"], head.as_str());
    assert_eq!(second.json()["commits"][1]["message"], "Write a README");
    assert_eq!(second.json()["number"], 2);
    let by_id = create("web", json!({"service": "web", "files": files, "commit": head}));
    assert_eq!(
        (by_id.json()["number"].clone(), by_id.json()["branch"].clone()),
        (json!(3), Value::Null),
        "{}",
        by_id.body
    );

    // Another project knows the digest, and the server has the blob: it is still missing
    // there, and naming it is refused until that project uploads the bytes itself.
    assert_eq!(missing("other"), json!([digest]));
    let foreign = create("other", json!({"service": "web", "files": files}));
    assert_eq!(foreign.status, 422, "{}", foreign.body);
    assert!(
        foreign.body.contains(&format!("blob {digest} of server.py was not uploaded to project other")),
        "{}",
        foreign.body
    );
    assert_eq!(put("other", text.as_bytes()).status, 204);
    assert_eq!(create("other", json!({"service": "web", "files": files})).status, 201);

    let unknown = create("web", json!({"service": "web", "files": files, "commit": "no-such-branch"}));
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    let bare = TestRepo::new(&[("README", "no deploy.yml")]);
    let body = json!({"name": "bare", "repo": bare.path().display().to_string()});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    assert_eq!(put("bare", text.as_bytes()).status, 204);
    let without = create("bare", json!({"service": "web", "files": files}));
    assert_eq!(without.status, 422, "{}", without.body);
    assert!(without.body.contains("has no .ferry/deploy.yml"), "{}", without.body);

    // A deploy.yml with errors refuses the release with its diagnostics.
    let broken =
        TestRepo::new(&[(".ferry/deploy.yml", &DEPLOY.replace("port: 8001 }", "port: 8001, strategy: rollin }"))]);
    let body = json!({"name": "broken", "repo": broken.path().display().to_string()});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    assert_eq!(put("broken", text.as_bytes()).status, 204);
    let refused = create("broken", json!({"service": "web", "files": files}));
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("unknown strategy `rollin`") && refused.body.contains("[unknown-strategy]"),
        "{}",
        refused.body
    );
}

#[test]
fn environment_secrets_are_kept_apart_and_never_answered() {
    let (server, _repo) = start();
    let developer = server.token("developer");
    let put = |path: &str, value: &str| {
        let res = server.call("PUT", path, Some(&developer), Some(&json!({"value": value})));
        assert_eq!(res.status, 204, "{}", res.body);
    };
    put("/api/v1/projects/web/secrets/DB_PASSWORD", "project-pw");
    put("/api/v1/projects/web/secrets/DB_PASSWORD?environment=production", "production-pw");
    put("/api/v1/projects/web/vars/REGION?environment=production", "us");
    let list = |path: &str| -> String {
        let res = server.call("GET", path, Some(&server.token("viewer")), None);
        assert_eq!(res.status, 200, "{}", res.body);
        res.body
    };
    let production = list("/api/v1/projects/web/secrets?environment=production");
    assert!(production.contains("DB_PASSWORD") && !production.contains("production-pw"), "{production}");
    assert!(!list("/api/v1/projects/web/secrets").contains("-pw"));
    assert!(list("/api/v1/projects/web/vars?environment=production").contains("\"us\""));
    assert_eq!(list("/api/v1/projects/web/vars"), "[]");
    let bad = server.call("GET", "/api/v1/projects/web/vars?environment=no%20spaces", Some(&developer), None);
    assert_eq!(bad.status, 400, "{}", bad.body);
    let res = server.call(
        "DELETE",
        "/api/v1/projects/web/secrets/DB_PASSWORD?environment=production",
        Some(&developer),
        None,
    );
    assert_eq!(res.status, 204, "{}", res.body);
    assert_eq!(list("/api/v1/projects/web/secrets?environment=production"), "[]");
    assert!(list("/api/v1/projects/web/secrets").contains("DB_PASSWORD"), "the project's own stays");
}
