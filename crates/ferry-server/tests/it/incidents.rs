//! Incidents from alerts (issue 17): a project's paging rule fires while a deployment rolls
//! out and opens an incident attributed to it, whose owner (deploy.yml's `owner:`) is told on
//! a loopback webhook; the agent's rollback joins it instead of opening a second one, the
//! metric recovers and the incident resolves by itself at the alert's end, and the DORA keys
//! count it. The alerts page and the incident page with its timeline and buttons run in a
//! real Chromium.

use std::sync::Arc;
use std::time::Duration;

use ferry_model::Clock as _;
use ferry_testkit::Browser;
use serde_json::{Value, json};

use crate::rules::until;
use crate::ui::{assert_no_script_errors, logged_in, url};
use crate::{TestRepo, TestServer};

const DEPLOY: &str = "
environments:
  production: { auto-deploy: true }
services:
  web:
    run: python3 server.py
    owner: oncall
    health: { http: /healthz }
    deploy:
      production: { port: 18301, strategy: rolling }
";

const ALERTS: &str = r#"
groups:
  - name: web
    interval: 10s
    rules:
      - alert: WebErrors
        expr: web_errors > 0
        labels: {severity: page, service: web}
        annotations: {summary: "web answers errors"}
"#;

/// How long the server may take to get where a test waits for.
const WAIT: Duration = Duration::from_secs(30);

/// The next `FerryIncident` message the owner's webhook got.
fn told(received: &std::sync::mpsc::Receiver<Value>) -> Value {
    let message = received.recv_timeout(WAIT).expect("a notification of the owner");
    assert_eq!(message["alerts"][0]["labels"]["alertname"], "FerryIncident", "{message:#}");
    message
}

/// Project `web` with [`DEPLOY`] and [`ALERTS`], an agent, and release 1 going to production:
/// the deployment in progress and the agent's token.
fn rolling_out(server: &TestServer) -> (TestRepo, Value, String) {
    let repo = TestRepo::new(&[(".ferry/deploy.yml", DEPLOY), (".ferry/alerts/web.yml", ALERTS)]);
    let body = json!({"name": "web", "repo": repo.path().display().to_string()});
    assert_eq!(server.call("POST", "/api/v1/projects", Some(&server.admin), Some(&body)).status, 201);
    let res = server.call("POST", "/api/v1/agents", Some(&server.admin), Some(&json!({"name": "local"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let agent = res.json()["token"].as_str().expect("a token").to_owned();
    let hello = json!({"hostname": "box", "version": "0.1.0"});
    assert_eq!(server.call("POST", "/api/v1/agent/hello", Some(&agent), Some(&hello)).status, 200);
    crate::ui::release_by_hand(server);
    let listed = server.call("GET", "/api/v1/projects/web/deployments", Some(&server.admin), None).json();
    let deployment = listed[0].clone();
    assert_eq!(deployment["outcome"], "in_progress", "{listed:#}");
    (repo, deployment, agent)
}

/// `web_errors` of the service every 15 s from `from` (ms): 1 for two minutes, then 0 for
/// thirteen.
fn import_errors(server: &TestServer, from: i64) {
    let mut text = String::new();
    for step in 0..60 {
        let value = if step < 8 { 1 } else { 0 };
        text.push_str(&format!("web_errors{{service=\"web\"}} {value} {}\n", from / 1000 + step * 15));
    }
    text.push_str("# EOF\n");
    let auth = format!("Bearer {}", server.admin);
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/openmetrics-text")];
    let res = server.request("POST", "/api/v1/metrics/import", &headers, text.as_bytes());
    assert_eq!(res.status, 200, "{}", res.body);
}

#[test]
fn an_incident_opened_by_an_alert_during_a_rollout_is_closed_by_the_rollback() {
    let clock = ferry_testkit::FakeClock::at_system_time();
    let dir = tempfile::tempdir().expect("temp dir");
    let (hook, received) = ferry_testkit::http_receiver();
    let routing = dir.path().join("alertmanager.yml");
    std::fs::write(
        &routing,
        format!(
            "route: {{ receiver: team }}\nreceivers:\n  - name: team\n  - name: oncall\n    webhook_configs: [{{ url: '{hook}', send_resolved: true }}]\n"
        ),
    )
    .expect("writing the routing");
    let server = TestServer::start_with_clock(Arc::new(clock.clone()), |config| {
        config.alertmanager_config = Some(routing.clone());
    });
    let (_repo, deployment, agent) = rolling_out(&server);
    let deployment_id = deployment["id"].as_i64().expect("an id");
    let started_at = deployment["started_at"].as_i64().expect("started");
    import_errors(&server, started_at);

    // A minute on (the server's clock), the project's rule files are read and the rule fires
    // at its first evaluation: the deployment is still rolling out.
    let ahead = started_at + 60_000 - clock.now_ms();
    clock.advance(Duration::from_millis(u64::try_from(ahead.max(60_000)).expect("positive")));
    let fired_at = clock.now_ms();
    let listed = until(&server, &server.admin, "/api/v1/projects/web/incidents", |body| {
        body.as_array().is_some_and(|l| !l.is_empty())
    });
    let incident = &listed[0];
    assert_eq!(
        (
            incident["opened_by"].as_str(),
            incident["title"].as_str(),
            incident["caused_by_deployment"].as_i64(),
            incident["owner"].as_str(),
            incident["started_at"].as_i64(),
            incident["resolved_at"].as_i64(),
        ),
        (
            Some("alert"),
            Some("WebErrors: web answers errors"),
            Some(deployment_id),
            Some("oncall"),
            Some(fired_at),
            None
        ),
        "{incident:#}"
    );
    let id = incident["id"].as_i64().expect("an id");
    let opened = told(&received);
    let alert = &opened["alerts"][0];
    assert_eq!(opened["receiver"], "oncall");
    assert_eq!((alert["status"].as_str(), alert["annotations"]["action"].as_str()), (Some("firing"), Some("opened")));
    assert_eq!(alert["labels"]["incident"], id.to_string());
    assert_eq!((alert["labels"]["project"].as_str(), alert["labels"]["service"].as_str()), (Some("web"), Some("web")));

    // A developer acknowledges it; the owner hears of it.
    let developer = server.token("developer");
    let res = server.call("POST", &format!("/api/v1/incidents/{id}/ack"), Some(&developer), None);
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!((res.json()["acked_at"].as_i64(), res.json()["acked_by"].as_str()), (Some(fired_at), Some("developer")));
    assert_eq!(told(&received)["alerts"][0]["annotations"]["action"], "acked");
    let viewer = server.token("viewer");
    assert_eq!(server.call("POST", &format!("/api/v1/incidents/{id}/ack"), Some(&viewer), None).status, 403);

    // The agent rolls the deployment back: the rollback joins the incident (no second one).
    let res = server.call("GET", "/api/v1/agent/desired?after=0&wait_ms=5000", Some(&agent), None);
    assert_eq!(res.status, 200, "{}", res.body);
    let generation = res.json()["generation"].as_i64().expect("a generation");
    let key = json!({"project": "web", "service": "web", "environment": "production"});
    let report = json!({
        "generation": generation,
        "units": [{
            "key": key, "release": 1, "traffic": [],
            "replicas": [{"id": "web-1", "release": 1, "state": "healthy", "port": 40001, "pid": 7, "restarts": 0}],
            "deployment": {"id": deployment_id, "steps": [], "outcome": "rolled_back", "reason": "error rate 0.4 > 0.05"},
        }],
        "events": [],
    });
    let res = server.call("POST", "/api/v1/agent/report", Some(&agent), Some(&report));
    assert_eq!(res.status, 204, "{}", res.body);
    let rolled_back = server.call("GET", &format!("/api/v1/deployments/{deployment_id}"), Some(&viewer), None).json();
    assert_eq!(rolled_back["outcome"], "rolled_back", "{rolled_back:#}");
    let listed = server.call("GET", "/api/v1/projects/web/incidents", Some(&viewer), None).json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed:#}");
    assert_eq!(listed[0]["resolved_at"], Value::Null, "the alert still fires");

    // After the rollback the errors stop: at the rule's next evaluation (before the end its
    // firing alert was last sent with) the alert resolves, and with it the incident.
    clock.advance(Duration::from_secs(120));
    let recovered_at = clock.now_ms();
    let resolved = until(&server, &server.admin, &format!("/api/v1/incidents/{id}"), |body| {
        body["incident"]["resolved_at"].is_i64()
    });
    assert_eq!(resolved["incident"]["resolved_at"].as_i64(), Some(recovered_at), "{resolved:#}");
    assert_eq!(resolved["incident"]["resolved_by"], Value::Null, "it resolved by itself");
    let message = told(&received);
    assert_eq!(
        (message["status"].as_str(), message["alerts"][0]["annotations"]["action"].as_str()),
        (Some("resolved"), Some("resolved"))
    );
    let timeline: Vec<(String, Option<i64>)> = resolved["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .map(|entry| (entry["kind"].as_str().unwrap_or("").to_owned(), entry["deployment"].as_i64()))
        .collect();
    for expected in [
        ("deployment_started", Some(deployment_id)),
        ("deployment_finished", Some(deployment_id)),
        ("alert_firing", None),
        ("opened", None),
        ("acked", None),
        ("alert_resolved", None),
        ("resolved", None),
    ] {
        let expected = (expected.0.to_owned(), expected.1);
        assert_eq!(timeline.iter().filter(|entry| **entry == expected).count(), 1, "{expected:?} in {timeline:?}");
    }
    let times: Vec<i64> =
        resolved["timeline"].as_array().into_iter().flatten().filter_map(|e| e["at"].as_i64()).collect();
    assert!(times.is_sorted(), "{times:?}");
    let finished = resolved["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|entry| entry["kind"] == "deployment_finished")
        .expect("the rollback");
    assert_eq!(finished["outcome"], "rolled_back");

    // The DORA keys count the failure, restored when the incident resolved.
    let until_time = ferry_dora::rfc3339(recovered_at / 1000 + 3600);
    let report = server
        .call("GET", &format!("/api/v1/projects/web/dora?service=web&until={until_time}"), Some(&viewer), None)
        .json();
    let rolled_back_at = rolled_back["finished_at"].as_i64().expect("finished");
    assert_eq!(report["change_failure_rate"]["failed"], 1, "{report:#}");
    assert_eq!(report["recovery_time"]["failures"], 1, "{report:#}");
    assert_eq!(
        report["recovery_time"]["median_seconds"].as_i64(),
        Some(recovered_at / 1000 - rolled_back_at / 1000),
        "{report:#}"
    );
    let open = server.call("GET", "/api/v1/projects/web/incidents?open=true", Some(&viewer), None).json();
    assert_eq!(open, json!([]));
}

#[test]
fn an_alert_without_a_service_or_below_page_opens_nothing_and_one_unit_gets_one_incident() {
    let server = TestServer::start();
    let repo = TestRepo::new(&[("README", "one")]);
    let server = crate::hooks::with_repo_project(server, &repo.path());
    let post = |alerts: Value| {
        let auth = format!("Bearer {}", server.admin);
        let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
        let res = server.request("POST", "/alertmanager/api/v2/alerts", &headers, alerts.to_string().as_bytes());
        assert_eq!(res.status, 200, "{}", res.body);
    };
    post(json!([
        {"labels": {"alertname": "A", "severity": "warning", "project": "web", "service": "web"}},
        {"labels": {"alertname": "B", "severity": "page", "project": "web"}},
        {"labels": {"alertname": "C", "severity": "page", "project": "nope", "service": "web"}},
    ]));
    let listed = server.call("GET", "/api/v1/projects/web/incidents", Some(&server.admin), None).json();
    assert_eq!(listed, json!([]));
    post(json!([
        {"labels": {"alertname": "D", "severity": "page", "project": "web", "service": "web"}},
        {"labels": {"alertname": "E", "severity": "page", "project": "web", "service": "web", "environment": "production"}},
        {"labels": {"alertname": "F", "severity": "page", "project": "web", "service": "web", "environment": "staging"}},
    ]));
    let listed = server.call("GET", "/api/v1/projects/web/incidents", Some(&server.admin), None).json();
    let units: Vec<&str> =
        listed.as_array().expect("a list").iter().filter_map(|i| i["environment"].as_str()).collect();
    assert_eq!(units.len(), 2, "one incident per unit: {listed:#}");
    assert!(units.contains(&"production") && units.contains(&"staging"), "{listed:#}");
    let production = listed.as_array().into_iter().flatten().find(|i| i["environment"] == "production").expect("one");
    let id = production["id"].as_i64().expect("an id");
    let detail = server.call("GET", &format!("/api/v1/incidents/{id}"), Some(&server.token("viewer")), None).json();
    let firing = detail["timeline"].as_array().into_iter().flatten().filter(|e| e["kind"] == "alert_firing").count();
    assert_eq!(firing, 2, "D and E joined one incident: {detail:#}");
    assert_eq!(server.call("GET", "/api/v1/incidents/99999", Some(&server.admin), None).status, 404);
}

#[test]
fn the_alerts_page_and_an_incident_page_with_its_timeline_ack_and_resolve_in_chromium() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: slow\n    interval: 1s\n    rules:\n      - alert: SlowBurn\n        expr: vector(1)\n        for: 1h\n        annotations: {summary: burning slowly}\n",
    )
    .expect("writing the rules");
    let server = TestServer::start_configured(|config| config.rule_files = vec![rules.clone()]);
    let repo = TestRepo::new(&[("README", "one")]);
    let server = crate::hooks::with_repo_project(server, &repo.path());
    let auth = format!("Bearer {}", server.admin);
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];
    let alerts = json!([
        {"labels": {"alertname": "Errors", "severity": "page", "project": "web", "service": "web"}, "annotations": {"summary": "5xx above 5 %"}},
        {"labels": {"alertname": "DiskFull", "instance": "db-1"}},
    ]);
    let res = server.request("POST", "/alertmanager/api/v2/alerts", &headers, alerts.to_string().as_bytes());
    assert_eq!(res.status, 200, "{}", res.body);
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": false}],
        "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2100-01-01T00:00:00Z", "createdBy": "ops", "comment": "resizing",
    });
    let res = server.call("POST", "/alertmanager/api/v2/silences", Some(&server.admin), Some(&silence));
    assert_eq!(res.status, 200, "{}", res.body);
    let id = server.call("GET", "/api/v1/projects/web/incidents", Some(&server.admin), None).json()[0]["id"]
        .as_i64()
        .expect("the incident");

    // The rule's alert is pending for an hour once the rule was evaluated.
    until(&server, &server.admin, "/prometheus/api/v1/alerts", |body| body["data"]["alerts"][0]["state"] == "pending");
    let browser = Browser::start().expect("starting chromium");
    let mut page = logged_in(&browser, &server);
    page.goto(&url(&server, "/")).expect("the projects");
    page.click("#alerts-link").expect("the Alerts link");
    page.wait_for("!!document.querySelector('#firing')", WAIT).expect("the alerts page");
    let firing = page.text("#firing").expect("firing");
    assert!(firing.contains("Errors") && firing.contains("5xx above 5 %") && !firing.contains("DiskFull"), "{firing}");
    let silenced = page.text("#silenced").expect("silenced");
    assert!(silenced.contains("DiskFull") && silenced.contains("silenced by"), "{silenced}");
    assert!(page.text("#silences").expect("silences").contains("resizing"));
    assert!(page.text("#pending").expect("pending").contains("SlowBurn"), "evaluated before the page was asked for");
    page.goto(&url(&server, "/ui/projects/web")).expect("the project");
    page.click("#incidents-link").expect("the Incidents link");
    page.wait_for("!!document.querySelector('#incidents')", WAIT).expect("the incidents");
    page.click(&format!("tr[data-incident-id='{id}'] a")).expect("the incident's link");
    page.wait_for("!!document.querySelector('#timeline')", WAIT).expect("the incident page");
    let kinds = page.eval("[...document.querySelectorAll('#timeline li')].map(li => li.dataset.kind)").expect("kinds");
    assert_eq!(kinds, json!(["alert_firing", "opened"]));
    assert!(page.text("#timeline").expect("timeline").contains("Errors firing: 5xx above 5 %"));
    page.click("button[data-action=ack-incident]").expect("Ack");
    page.wait_for("!!document.querySelector('#acked')", WAIT).expect("acknowledged");
    assert!(page.text("#acked").expect("acked").contains("admin"));
    page.click("button[data-action=resolve-incident]").expect("Resolve");
    page.wait_for("!!document.querySelector('[data-state=resolved]')", WAIT).expect("resolved");
    let kinds = page.eval("[...document.querySelectorAll('#timeline li')].map(li => li.dataset.kind)").expect("kinds");
    assert_eq!(kinds, json!(["alert_firing", "opened", "acked", "resolved"]));
    let detail = server.call("GET", &format!("/api/v1/incidents/{id}"), Some(&server.admin), None).json();
    assert_eq!(detail["incident"]["resolved_by"], "admin", "{detail:#}");
    assert_no_script_errors(&mut page);
}
