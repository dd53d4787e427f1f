//! Deployments through the server, with the test playing the agent over the protocol: a
//! release made by hand goes to the auto-deploy environment, the agent is sent its desired
//! state and fetches the release's files, its report of success promotes the release to the
//! environment after, which waits for an approval (not by the release's author), and a
//! reported rollback is recorded with its reason; status, output and refusals too; the
//! server measures `analysis.queries` by its clock and sends a failed verdict to the agent.
//! On SQLite and on PostgreSQL.

use std::time::Duration;

use ferry_model::Clock as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{TestRepo, TestServer};

const DEPLOY: &str = "
environments:
  staging: { auto-deploy: true }
  production: { after: staging, approvals: 1, branches: [main] }
services:
  web:
    run: python3 server.py
    health: { http: /healthz }
    deploy:
      staging: { port: 18001, strategy: rolling }
      production: { port: 18002, replicas: 2, strategy: canary, canary: { steps: [ { weight: 50, pause: 1s } ] } }
";

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The test as an agent: its token and the generation it has.
struct Agent<'a> {
    server: &'a TestServer,
    token: String,
}

impl Agent<'_> {
    fn desired(&self, after: i64) -> Value {
        let res = self.server.call(
            "GET",
            &format!("/api/v1/agent/desired?after={after}&wait_ms=5000"),
            Some(&self.token),
            None,
        );
        assert_eq!(res.status, 200, "{}", res.body);
        res.json()
    }

    /// Reports that deployment `id` of `environment` ended with `outcome`; staging's one
    /// replica of release 1 is healthy (a report tells all the agent runs).
    fn report(&self, generation: i64, environment: &str, id: i64, outcome: &str, reason: &str) {
        let replicas =
            json!([{"id": "web-1", "release": 1, "state": "healthy", "port": 40001, "pid": 7, "restarts": 0}]);
        let mut units = vec![json!({
            "key": {"project": "web", "service": "web", "environment": environment},
            "release": 1,
            "replicas": replicas,
            "traffic": [],
            "deployment": {"id": id, "steps": [{"name": "start 1 replica of release 1", "at": 5}], "outcome": outcome, "reason": reason},
        })];
        if environment != "staging" {
            let key = json!({"project": "web", "service": "web", "environment": "staging"});
            units.push(json!({"key": key, "release": 1, "replicas": replicas, "traffic": []}));
        }
        let body = json!({
            "generation": generation,
            "units": units,
            "events": [{"key": {"project": "web", "service": "web", "environment": environment}, "at": 6, "kind": "health", "message": "web-1 is healthy"}],
        });
        let res = self.server.call("POST", "/api/v1/agent/report", Some(&self.token), Some(&body));
        assert_eq!(res.status, 204, "{}", res.body);
    }
}

fn deployments(server: &TestServer, query: &str) -> Vec<Value> {
    let res = server.call("GET", &format!("/api/v1/projects/web/deployments{query}"), Some(&server.admin), None);
    assert_eq!(res.status, 200, "{}", res.body);
    res.json().as_array().expect("a list").clone()
}

fn deliver(server: &TestServer) {
    let repo = TestRepo::new(&[(".ferry/deploy.yml", DEPLOY)]);
    let body = json!({"name": "web", "repo": repo.path().display().to_string()});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    let res = server.call("POST", "/api/v1/agents", Some(&server.admin), Some(&json!({"name": "local"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let agent = Agent { server, token: res.json()["token"].as_str().expect("a token").to_owned() };
    let hello = json!({"hostname": "box", "version": "0.1.0"});
    assert_eq!(server.call("POST", "/api/v1/agent/hello", Some(&agent.token), Some(&hello)).json()["name"], "local");
    let author = server.token("developer");
    let res = server.call(
        "POST",
        "/api/v1/tokens",
        Some(&server.admin),
        Some(&json!({"name": "reviewer", "role": "developer"})),
    );
    let reviewer = res.json()["token"].as_str().expect("a token").to_owned();

    // Nothing to deploy yet.
    let res = server.call(
        "POST",
        "/api/v1/projects/web/deployments",
        Some(&author),
        Some(&json!({"service": "web", "environment": "staging"})),
    );
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.json()["error"].as_str().is_some_and(|error| error.contains("no release yet")), "{}", res.body);

    // A release by hand goes to staging by itself.
    let text = "print('hello')\n";
    let digest = sha256(text.as_bytes());
    let auth = format!("Bearer {author}");
    let res = server.request(
        "PUT",
        &format!("/api/v1/projects/web/blobs/{digest}"),
        &[("Authorization", auth.as_str())],
        text.as_bytes(),
    );
    assert_eq!(res.status, 204, "{}", res.body);
    let files = json!([{"path": "server.py", "sha256": digest, "size": text.len(), "mode": 0o644}]);
    let res = server.call(
        "POST",
        "/api/v1/projects/web/releases",
        Some(&author),
        Some(&json!({"service": "web", "files": files})),
    );
    assert_eq!(res.status, 201, "{}", res.body);
    let listed = deployments(server, "?environment=staging");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let staging = &listed[0];
    assert_eq!(
        (staging["outcome"].as_str(), staging["triggered_by"].as_str(), staging["strategy"].as_str()),
        (Some("in_progress"), Some("auto"), Some("rolling"))
    );
    let staging_id = staging["id"].as_i64().expect("an id");

    // The agent is sent the order and may fetch the release's file, and only that.
    let desired = agent.desired(0);
    let unit = &desired["units"][0];
    assert_eq!(
        (unit["port"].as_u64(), unit["deployment"]["id"].as_i64()),
        (Some(18001), Some(staging_id)),
        "{desired}"
    );
    assert_eq!(unit["deployment"]["release"]["files"][0]["sha256"], digest.as_str());
    let res = server.call("GET", &format!("/api/v1/agent/blobs/{digest}"), Some(&agent.token), None);
    assert_eq!((res.status, res.body.as_str()), (200, text));
    let other = sha256(b"not a release file");
    assert_eq!(server.call("GET", &format!("/api/v1/agent/blobs/{other}"), Some(&agent.token), None).status, 404);
    let generation = desired["generation"].as_i64().expect("a generation");
    let res =
        server.call("GET", &format!("/api/v1/agent/desired?after={generation}&wait_ms=0"), Some(&agent.token), None);
    assert_eq!(res.status, 204, "nothing newer: {}", res.body);

    // Success in staging promotes the release to production, which waits for an approval;
    // a follower of the deployment's events sees it go from in progress to succeeded.
    let path = format!("/api/v1/deployments/{staging_id}/events");
    let events = crate::pipeline::open_stream(server, &path, "text/event-stream");
    agent.report(generation, "staging", staging_id, "succeeded", "1 replica of release 1 healthy");
    let events = crate::pipeline::read_stream(events);
    assert_eq!(events.header("content-type"), Some("text/event-stream"));
    assert!(events.body.ends_with("event: end\ndata: {}\n\n"), "{}", events.body);
    let outcomes: Vec<String> = events
        .body
        .split("\n\n")
        .filter_map(|event| event.strip_prefix("event: deployment\ndata: "))
        .map(|data| {
            serde_json::from_str::<Value>(data).expect("a deployment")["outcome"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    assert_eq!(outcomes.first().map(String::as_str), Some("in_progress"), "{}", events.body);
    assert_eq!(outcomes.last().map(String::as_str), Some("succeeded"), "{}", events.body);
    let staging = server.call("GET", &format!("/api/v1/deployments/{staging_id}"), Some(&server.admin), None).json();
    assert_eq!(
        (staging["outcome"].as_str(), staging["steps"][0]["name"].as_str()),
        (Some("succeeded"), Some("start 1 replica of release 1"))
    );
    let production = deployments(server, "?environment=production");
    assert_eq!(production.len(), 1, "{production:?}");
    let production = &production[0];
    assert_eq!(
        (production["outcome"].as_str(), production["triggered_by"].as_str()),
        (Some("waiting"), Some("promotion"))
    );
    assert!(production["reason"].as_str().is_some_and(|reason| reason.contains("1 more approval(s)")), "{production}");
    let production_id = production["id"].as_i64().expect("an id");
    let approve = |token: &str| {
        server.call(
            "POST",
            &format!("/api/v1/deployments/{production_id}/approve"),
            Some(token),
            Some(&json!({"comment": "ship it"})),
        )
    };
    // The plan of production: release 1 is to come there.
    let plan = server.call("GET", "/api/v1/projects/web/plan?environment=production", Some(&server.admin), None);
    assert_eq!(plan.status, 200, "{}", plan.body);
    let changes = plan.json()["changes"].clone();
    assert!(
        changes.as_array().is_some_and(|changes| changes.iter().any(|change| change["service"] == "web")),
        "{changes}"
    );

    // The environments page shows it waiting, with the Approve button.
    let cookie = server.login(&reviewer);
    let page = server.request("GET", "/ui/projects/web/environments", &[("Cookie", cookie.as_str())], b"");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&format!("data-deployment-id=\"{production_id}\"")), "{}", page.body);
    assert!(page.body.contains("release 1 waiting"), "{}", page.body);
    let res = approve(&author);
    assert_eq!(res.status, 403, "the release's author: {}", res.body);
    let res = approve(&reviewer);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        (res.json()["outcome"].as_str(), res.json()["approvals"][0]["by"].as_str()),
        (Some("in_progress"), Some("reviewer"))
    );

    // The agent rolls production back: recorded with its reason.
    let desired = agent.desired(generation);
    let generation = desired["generation"].as_i64().expect("a generation");
    let units = desired["units"].as_array().expect("units");
    let staging_unit = units.iter().find(|unit| unit["key"]["environment"] == "staging").expect("staging");
    assert_eq!((staging_unit["release"]["number"].as_i64(), staging_unit.get("deployment")), (Some(1), None));
    let production_unit = units.iter().find(|unit| unit["key"]["environment"] == "production").expect("production");
    assert_eq!(production_unit["deployment"]["strategy"]["kind"], "canary");
    let reason = "error rate 0.31 > 0.05 over 212 requests of release 1";
    agent.report(generation, "production", production_id, "rolled_back", reason);
    let production =
        server.call("GET", &format!("/api/v1/deployments/{production_id}"), Some(&server.admin), None).json();
    assert_eq!((production["outcome"].as_str(), production["reason"].as_str()), (Some("rolled_back"), Some(reason)));
    let res = server.call("POST", &format!("/api/v1/deployments/{production_id}/cancel"), Some(&reviewer), None);
    assert_eq!(res.status, 409, "over: {}", res.body);

    // Status: each environment's release and replicas, as the agent reported them.
    let status =
        server.call("GET", "/api/v1/projects/web/status?environment=staging", Some(&server.admin), None).json();
    let service = &status["environments"][0]["services"][0];
    assert_eq!(status["environments"][0]["name"], "staging");
    assert_eq!(
        (service["name"].as_str(), service["url"].as_str(), service["release"].as_i64()),
        (Some("web"), Some("http://127.0.0.1:18001"), Some(1))
    );
    assert_eq!(service["replicas"], json!([{"release": 1, "healthy": true}]));
    assert_eq!(service["events"][0]["message"], "web-1 is healthy");

    // Output: stored per unit and read after a line.
    let lines = json!({"lines": [
        {"key": {"project": "web", "service": "web", "environment": "staging"}, "replica": "web-1", "release": 1, "stream": "stdout", "at": 7, "text": "listening"},
        {"key": {"project": "web", "service": "web", "environment": "staging"}, "replica": "web-1", "release": 1, "stream": "stderr", "at": 8, "text": "GET /healthz"},
    ]});
    assert_eq!(server.call("POST", "/api/v1/agent/logs", Some(&agent.token), Some(&lines)).status, 204);
    let page = server.call("GET", "/api/v1/projects/web/services/web/staging/logs", Some(&server.admin), None).json();
    assert_eq!(page["lines"].as_array().map(Vec::len), Some(2), "{page}");
    let before_last = page["next"].as_i64().expect("next") - 1;
    let path = format!("/api/v1/projects/web/services/web/staging/logs?after={before_last}");
    let page = server.call("GET", &path, Some(&server.admin), None).json();
    assert_eq!(page["lines"][0]["text"], "GET /healthz");
    // A follower's read waits for the next line (a long poll) instead of answering empty.
    let path = format!("/api/v1/projects/web/services/web/staging/logs?after={}&wait_ms=20000", page["next"]);
    let later = std::thread::scope(|scope| {
        let reader = scope.spawn(|| server.call("GET", &path, Some(&server.admin), None).json());
        let line = json!({"lines": [
            {"key": {"project": "web", "service": "web", "environment": "staging"}, "replica": "web-1", "release": 1, "stream": "stdout", "at": 9, "text": "later"},
        ]});
        assert_eq!(server.call("POST", "/api/v1/agent/logs", Some(&agent.token), Some(&line)).status, 204);
        reader.join().expect("the reader")
    });
    assert_eq!(later["lines"][0]["text"], "later", "{later}");
    let path = "/api/v1/projects/web/services/web/staging/logs?wait_ms=30001";
    assert_eq!(server.call("GET", path, Some(&server.admin), None).status, 400);

    // A release that does not exist, an environment the file lacks.
    let res = server.call(
        "POST",
        "/api/v1/projects/web/deployments",
        Some(&author),
        Some(&json!({"service": "web", "environment": "staging", "release": 9})),
    );
    assert_eq!(res.status, 422, "{}", res.body);
    let res = server.call(
        "POST",
        "/api/v1/projects/web/deployments",
        Some(&author),
        Some(&json!({"service": "web", "environment": "qa"})),
    );
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.json()["error"].as_str().is_some_and(|error| error.contains("declares no environment qa")),
        "{}",
        res.body
    );
}

#[test]
fn a_release_is_delivered_through_its_gates_on_sqlite() {
    deliver(&TestServer::start());
}

#[test]
fn a_release_is_delivered_through_its_gates_on_postgres() {
    let db = ferry_testkit::TestDb::postgres();
    deliver(&TestServer::start_on(Some(db.url().to_owned())));
}

/// A deploy.yml whose staging judges release `{{release}}` by `ratio` (its last value in the
/// hour, so the test's clock may run ahead of the sample).
const MEASURED: &str = r#"
environments:
  staging: { auto-deploy: true }
services:
  web:
    run: python3 server.py
    deploy:
      staging:
        port: 18001
        analysis:
          queries:
            - name: error-ratio
              query: 'last_over_time(ratio{release="{{release}}"}[1h])'
              interval: 10s
              success: result < 0.01
              failure: result >= 0.05
"#;

/// The server measures a deployment's query over its metrics store by its own clock, keeps
/// the measurement on the deployment, and puts the failed verdict into the agent's order.
fn analysis_queries_are_measured(database: Option<String>) {
    let clock = ferry_testkit::FakeClock::at(1_796_032_830_000);
    let server = TestServer::start_on_with_clock(database, std::sync::Arc::new(clock.clone()));
    let repo = TestRepo::new(&[(".ferry/deploy.yml", MEASURED)]);
    let body = json!({"name": "web", "repo": repo.path().display().to_string()});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    let res = server.call("POST", "/api/v1/agents", Some(&server.admin), Some(&json!({"name": "local"})));
    let agent = Agent { server: &server, token: res.json()["token"].as_str().expect("a token").to_owned() };
    let hello = json!({"hostname": "box", "version": "0.1.0"});
    assert_eq!(server.call("POST", "/api/v1/agent/hello", Some(&agent.token), Some(&hello)).status, 200);
    // Release 1 fails one request in five, by its own metrics, at the clock's time.
    let auth = format!("Bearer {}", server.admin);
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/openmetrics-text")];
    let samples = "# TYPE ratio gauge\nratio{release=\"1\"} 0.2 1796032830\n# EOF\n";
    assert_eq!(server.request("POST", "/api/v1/metrics/import", &headers, samples.as_bytes()).status, 200);

    let text = "print('hello')\n";
    let digest = sha256(text.as_bytes());
    let res = server.request(
        "PUT",
        &format!("/api/v1/projects/web/blobs/{digest}"),
        &[("Authorization", auth.as_str())],
        text.as_bytes(),
    );
    assert_eq!(res.status, 204, "{}", res.body);
    let files = json!([{"path": "server.py", "sha256": digest, "size": text.len(), "mode": 0o644}]);
    let release = json!({"service": "web", "files": files});
    assert_eq!(server.call("POST", "/api/v1/projects/web/releases", Some(&server.admin), Some(&release)).status, 201);
    let id = deployments(&server, "")[0]["id"].as_i64().expect("an id");
    let before = agent.desired(0);
    assert!(before["units"][0]["deployment"].get("verdict").is_none(), "nothing measured yet: {before}");

    // The first measurement comes one interval after the server saw the deployment: move the
    // clock an interval at a time until it has been taken.
    let deployment = (0..300)
        .find_map(|_| {
            clock.advance(Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(100));
            let deployment = server.call("GET", &format!("/api/v1/deployments/{id}"), Some(&server.admin), None).json();
            deployment["analysis"]["queries"][0]["measurements"]
                .as_array()
                .is_some_and(|m| !m.is_empty())
                .then_some(deployment)
        })
        .expect("a measurement within 300 intervals");
    let query = &deployment["analysis"]["queries"][0];
    let reason = "query error-ratio: 0.2 >= 0.05 (measurement 1; 1 failed, failure-limit 0)";
    assert_eq!(
        (query["name"].as_str(), query["phase"].as_str(), query["reason"].as_str()),
        (Some("error-ratio"), Some("failed"), Some(reason)),
        "{deployment:#}"
    );
    let measurement = &query["measurements"][0];
    assert_eq!(
        (measurement["value"].as_f64(), measurement["phase"].as_str(), measurement["message"].as_str()),
        (Some(0.2), Some("failed"), Some("0.2 >= 0.05")),
        "{deployment:#}"
    );
    let at = measurement["at"].as_i64().expect("a time");
    assert!(at > 1_796_032_830_000 && at <= clock.now_ms(), "measured by the server's clock: {at}");
    assert_eq!(deployment["outcome"], "in_progress", "the agent rolls it back, not the server");

    let desired = agent.desired(before["generation"].as_i64().expect("a generation"));
    let verdict = &desired["units"][0]["deployment"]["verdict"];
    assert_eq!(verdict["failure"], reason, "{desired:#}");
    assert_eq!(verdict["queries"], json!([{"name": "error-ratio", "successes": 0, "done": false}]), "{desired:#}");
}

#[test]
fn analysis_queries_are_measured_and_their_failure_reaches_the_agent_on_sqlite() {
    analysis_queries_are_measured(None);
}

#[test]
fn analysis_queries_are_measured_and_their_failure_reaches_the_agent_on_postgres() {
    let db = ferry_testkit::TestDb::postgres();
    analysis_queries_are_measured(Some(db.url().to_owned()));
}
