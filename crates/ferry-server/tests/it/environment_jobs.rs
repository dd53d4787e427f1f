//! Workflow jobs with `environment:` through the server, the test playing the runner: a job
//! waits at its environment's gates (`after:`, `approvals:` from `.ferry/deploy.yml`), is
//! approved by a developer who did not start the run and then claimed with the environment's
//! secrets and variables, and is recorded as a deployment with the job's outcome; a job on a
//! branch the environment refuses fails with the rule in words; a fork's pull request gets
//! nothing of the environment; cancelling the run cancels a waiting job and its deployment.
//! The first on SQLite and PostgreSQL.

use serde_json::{Value, json};

use crate::{ProtocolRunner, TestRepo, TestServer};

const DEPLOY: &str = "
environments:
  staging: {}
  production: { after: staging, approvals: 1, branches: [main] }
services:
  web:
    run: python3 server.py
    deploy:
      staging: { port: 18101 }
      production: { port: 18102 }
";

const WORKFLOW: &str = r#"
on: workflow_dispatch
jobs:
  staging:
    runs-on: linux
    environment: staging
    steps:
      - run: ./deploy staging
  production:
    needs: staging
    runs-on: linux
    strategy:
      matrix:
        target: [production]
    environment:
      name: ${{ matrix.target }}
      url: https://example.test/run-${{ github.run_number }}
    steps:
      - run: ./deploy "$TOKEN" ${{ vars.REGION }}
        env:
          TOKEN: ${{ secrets.TOKEN }}
"#;

/// A server with project `web` on a repository holding [`DEPLOY`] and [`WORKFLOW`], a
/// `dev` branch, the secret `TOKEN` (the project's and production's) and production's
/// variable `REGION`.
fn server_on(database: Option<String>) -> (TestServer, TestRepo) {
    let repo = TestRepo::new(&[(".ferry/deploy.yml", DEPLOY), (".github/workflows/deploy.yml", WORKFLOW)]);
    repo.branch("dev");
    let server = crate::hooks::with_repo_project(TestServer::start_on(database), &repo.path());
    let put = |path: &str, value: &str| {
        let res = server.call("PUT", path, Some(&server.admin), Some(&json!({"value": value})));
        assert_eq!(res.status, 204, "{path}: {}", res.body);
    };
    put("/api/v1/projects/web/secrets/TOKEN", "project-token");
    put("/api/v1/projects/web/secrets/TOKEN?environment=production", "production-token");
    put("/api/v1/projects/web/vars/REGION?environment=production", "eu-west");
    (server, repo)
}

/// Dispatches the workflow on `git_ref` as `token`; the run's id.
fn dispatch(server: &TestServer, token: &str, git_ref: &str) -> i64 {
    let body = json!({"workflow": "deploy.yml", "git_ref": git_ref});
    let res = server.call("POST", "/api/v1/projects/web/trigger", Some(token), Some(&body));
    assert_eq!(res.status, 201, "{}", res.body);
    res.json()["runs"][0]["id"].as_i64().expect("a run id")
}

fn run(server: &TestServer, id: i64) -> Value {
    let res = server.call("GET", &format!("/api/v1/runs/{id}"), Some(&server.admin), None);
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()
}

/// The run's job whose key is `key`.
fn job(server: &TestServer, run_id: i64, key: &str) -> Value {
    let detail = run(server, run_id);
    detail["jobs"].as_array().into_iter().flatten().find(|job| job["key"] == key).cloned().unwrap_or_else(|| {
        panic!("run {run_id} has no job {key}: {detail:#}");
    })
}

fn deployment(server: &TestServer, id: i64) -> Value {
    let res = server.call("GET", &format!("/api/v1/deployments/{id}"), Some(&server.admin), None);
    assert_eq!(res.status, 200, "{}", res.body);
    res.json()
}

fn approved_job_gets_the_environment_and_is_recorded(database: Option<String>) {
    let (server, repo) = server_on(database);
    let author = server.token("developer");
    let res = server.call(
        "POST",
        "/api/v1/tokens",
        Some(&server.admin),
        Some(&json!({"name": "reviewer", "role": "developer"})),
    );
    let reviewer = res.json()["token"].as_str().expect("a token").to_owned();
    let runner = ProtocolRunner::register(&server, "box", &["linux"]);
    let run_id = dispatch(&server, &author, "main");

    // Staging has no gates: the job goes at once, and its deployment starts when claimed.
    let staging = runner.claim(5000).expect("the staging job");
    assert_eq!(staging["secrets"]["TOKEN"], "project-token", "staging has no TOKEN of its own");
    let staging_job = job(&server, run_id, "staging");
    let staging_id = staging_job["deployment"].as_i64().expect("a deployment");
    assert_eq!(staging_job["environment"], "staging");
    assert_eq!(deployment(&server, staging_id)["outcome"], "in_progress");
    runner.finish(&staging, &["deployed"], "success", json!({}));
    let shown = deployment(&server, staging_id);
    assert_eq!((shown["outcome"].as_str(), shown["strategy"].as_str()), (Some("succeeded"), Some("job")));

    // Production waits for an approval (`after: staging` passed: this commit succeeded there).
    let production_job = job(&server, run_id, "production");
    assert_eq!(production_job["status"], "waiting", "{production_job:#}");
    let production_id = production_job["deployment"].as_i64().expect("a deployment");
    let reason = production_job["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("1 more approval(s)") && reason.contains("not by the run's actor developer"), "{reason}");
    assert!(reason.ends_with(&format!("(deployment {production_id})")), "names what to approve: {reason}");
    assert!(runner.claim(0).is_none(), "a job waiting at its gates is not handed to a runner");
    let waiting = deployment(&server, production_id);
    assert_eq!(waiting["outcome"], "waiting");
    assert_eq!(
        waiting["gates"].as_array().map(|gates| gates.iter().map(|gate| gate["passed"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(true), json!(true), json!(false)]),
        "branches and after pass, approvals wait: {waiting:#}"
    );

    // The environments page offers the Approve button for it.
    let cookie = server.login(&reviewer);
    let page = server.request("GET", "/ui/projects/web/environments", &[("Cookie", cookie.as_str())], b"");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&format!("data-deployment-id=\"{production_id}\"")), "{}", page.body);

    let approve = |token: &str| {
        server.call("POST", &format!("/api/v1/deployments/{production_id}/approve"), Some(token), Some(&json!({})))
    };
    let res = approve(&author);
    assert_eq!(res.status, 403, "the run's actor may not approve: {}", res.body);
    let res = approve(&reviewer);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["outcome"], "queued");

    // Claimed now, with production's secret and variable on top of the project's.
    let production = runner.claim(5000).expect("the approved production job");
    assert_eq!(production["secrets"]["TOKEN"], "production-token");
    assert_eq!(production["contexts"]["vars"]["REGION"], "eu-west");
    assert_eq!(deployment(&server, production_id)["outcome"], "in_progress");
    runner.finish(&production, &["exit 3"], "failure", json!({}));

    let shown = deployment(&server, production_id);
    let sha = repo.head();
    assert_eq!(
        (
            shown["outcome"].as_str(),
            shown["service"].as_str(),
            shown["environment"].as_str(),
            shown["release"].clone(),
            shown["commit"].as_str(),
            shown["url"].as_str(),
            shown["run"].as_i64(),
            shown["triggered_by"].as_str(),
        ),
        (
            Some("failed"),
            Some("production"),
            Some("production"),
            Value::Null,
            Some(sha.as_str()),
            Some("https://example.test/run-1"),
            Some(run_id),
            Some("developer"),
        ),
        "{shown:#}"
    );
    assert!(shown["finished_at"].as_i64().is_some(), "{shown:#}");
    assert_eq!(shown["approvals"][0]["by"], "reviewer");
    let listed = server.call("GET", "/api/v1/projects/web/deployments", Some(&server.admin), None).json();
    let ids: Vec<i64> = listed.as_array().into_iter().flatten().filter_map(|shown| shown["id"].as_i64()).collect();
    assert_eq!(ids, [production_id, staging_id], "newest first");
    // DORA counts the job's deployment: production's one deployment failed. (The window ends
    // later than now: a window holds what finished before its end's whole second.)
    let path = "/api/v1/projects/web/dora?service=production&until=2030-01-01T00:00:00Z&window=3650d";
    let report = server.call("GET", path, Some(&server.admin), None).json();
    let failures = &report["change_failure_rate"];
    assert_eq!((failures["failed"].as_i64(), failures["total"].as_i64()), (Some(1), Some(1)), "{report:#}");
}

#[test]
fn an_approved_job_gets_its_environment_and_is_recorded_as_a_deployment_on_sqlite() {
    approved_job_gets_the_environment_and_is_recorded(None);
}

#[test]
fn an_approved_job_gets_its_environment_and_is_recorded_as_a_deployment_on_postgres() {
    let db = ferry_testkit::TestDb::postgres();
    approved_job_gets_the_environment_and_is_recorded(Some(db.url().to_owned()));
}

#[test]
fn a_job_on_a_branch_the_environment_refuses_fails_with_the_rule() {
    let (server, repo) = server_on(None);
    let runner = ProtocolRunner::register(&server, "box", &["linux"]);
    let run_id = dispatch(&server, &server.token("developer"), "dev");
    let staging = runner.claim(5000).expect("the staging job");
    runner.finish(&staging, &["deployed"], "success", json!({}));

    let detail = run(&server, run_id);
    assert_eq!(detail["run"]["conclusion"], "failure", "{detail:#}");
    let production = job(&server, run_id, "production");
    let sha = repo.head();
    let refusal = format!(
        "refused: production takes only commits of main (branches:), and commit {} was made from branch dev",
        &sha[..7]
    );
    assert_eq!(
        (production["status"].as_str(), production["conclusion"].as_str(), production["reason"].as_str()),
        (Some("completed"), Some("failure"), Some(refusal.as_str())),
        "{production:#}"
    );
    let shown = deployment(&server, production["deployment"].as_i64().expect("a deployment"));
    assert_eq!((shown["outcome"].as_str(), shown["reason"].as_str()), (Some("failed"), Some(refusal.as_str())));
    assert!(runner.claim(0).is_none(), "nothing more to run");
}

#[test]
fn a_fork_s_pull_request_job_gets_nothing_of_its_environment() {
    let workflow = "on: pull_request\njobs:\n  preview:\n    runs-on: linux\n    environment: staging\n    \
                    steps:\n      - run: echo ${{ secrets.TOKEN }}\n";
    let repo = TestRepo::new(&[(".ferry/deploy.yml", DEPLOY), (".github/workflows/preview.yml", workflow)]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    for path in [
        "/api/v1/projects/web/secrets/TOKEN?environment=staging",
        "/api/v1/projects/web/vars/REGION?environment=staging",
    ] {
        let res = server.call("PUT", path, Some(&server.admin), Some(&json!({"value": "staging-only"})));
        assert_eq!(res.status, 204, "{path}: {}", res.body);
    }
    let runner = ProtocolRunner::register(&server, "box", &["linux"]);
    let body = crate::forks::pull_request(&repo.head(), 2, "mallory");
    let res = crate::hooks::github(&server, "web", "pull_request", &body, crate::hooks::SECRET);
    assert_eq!(res.status, 202, "{}", res.body);

    let job = runner.claim(5000).expect("the fork's job (staging has no gates)");
    assert_eq!(job["secrets"], json!({}), "{job:#}");
    assert_eq!(job["contexts"]["vars"].get("REGION"), None, "{job:#}");
    runner.finish(&job, &["ok"], "success", json!({}));
    let run_id = job["run_id"].as_i64().expect("a run");
    let id = self::job(&server, run_id, "preview")["deployment"].as_i64().expect("still recorded as a deployment");
    assert_eq!(deployment(&server, id)["outcome"], "succeeded");
}

#[test]
fn cancelling_a_run_cancels_its_job_waiting_at_a_gate_and_the_deployment() {
    let (server, _repo) = server_on(None);
    let runner = ProtocolRunner::register(&server, "box", &["linux"]);
    let run_id = dispatch(&server, &server.token("developer"), "main");
    let staging = runner.claim(5000).expect("the staging job");
    runner.finish(&staging, &["deployed"], "success", json!({}));
    let id = job(&server, run_id, "production")["deployment"].as_i64().expect("a deployment");
    assert_eq!(deployment(&server, id)["outcome"], "waiting");

    let res = server.call("POST", &format!("/api/v1/runs/{run_id}/cancel"), Some(&server.admin), None);
    assert!(res.status < 300, "{}", res.body);
    let production = job(&server, run_id, "production");
    assert_eq!(
        (production["status"].as_str(), production["conclusion"].as_str()),
        (Some("completed"), Some("cancelled"))
    );
    assert_eq!(deployment(&server, id)["outcome"], "cancelled");
    assert!(runner.claim(0).is_none(), "nothing is handed out");
}
