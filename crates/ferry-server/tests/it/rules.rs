//! Rules on the server: a configured rule file and a project's `.ferry/alerts/*.yml`
//! evaluated over imported metrics on the server's clock, the `rules` and `alerts` routes in
//! Prometheus' shapes, `ALERTS` written back, and an alert's state kept across a restart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{TestRepo, TestServer};

/// The first sample's time, milliseconds (a whole minute).
const T0: i64 = 1_796_032_800_000;

const RULES: &str = r#"
groups:
  - name: availability
    interval: 10s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: ApiDown
        expr: job:up:sum == 0
        for: 1m
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.job }} is down ({{ $value }} up)"
"#;

/// `up` of one target at 0 every 15 s from T0 for 15 minutes.
fn import_down(server: &TestServer) {
    let mut text = String::new();
    for step in 0..60 {
        text.push_str(&format!("up{{job=\"api\",instance=\"a\"}} 0 {}\n", T0 / 1000 + step * 15));
    }
    text.push_str("# EOF\n");
    let auth = format!("Bearer {}", server.admin);
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/openmetrics-text")];
    let res = server.request("POST", "/api/v1/metrics/import", &headers, text.as_bytes());
    assert_eq!(res.status, 200, "{}", res.body);
}

/// Calls `path` until `done` holds for its JSON (the evaluation loop runs once a second).
pub(crate) fn until(server: &TestServer, token: &str, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let res = server.call("GET", path, Some(token), None);
        assert_eq!(res.status, 200, "{}", res.body);
        let body = res.json();
        if done(&body) {
            return body;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{path} did not get there: {body:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A server with [`RULES`] configured, and the folder of the rule file (read at each start).
fn server_with_rules(clock: &ferry_testkit::FakeClock) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, RULES).expect("writing the rule file");
    let server = TestServer::start_with_clock(Arc::new(clock.clone()), |config| {
        config.rule_files = vec![file.clone()];
    });
    (server, dir)
}

fn alert_state(body: &Value) -> (String, String) {
    let alert = &body["data"]["alerts"][0];
    (alert["state"].as_str().unwrap_or("none").to_owned(), alert["activeAt"].as_str().unwrap_or("").to_owned())
}

#[test]
fn a_configured_alert_goes_pending_then_fires_and_keeps_its_state_across_a_restart() {
    let clock = ferry_testkit::FakeClock::at(T0);
    let (server, _rules_dir) = server_with_rules(&clock);
    import_down(&server);
    let viewer = server.token("viewer");
    // The group's first evaluation may have run before the import; the next one, 10 s later
    // on the server's clock, sees the target down.
    clock.advance(Duration::from_secs(10));
    let pending = until(&server, &viewer, "/prometheus/api/v1/alerts", |body| alert_state(body).0 == "pending");
    let mut alert = pending["data"]["alerts"][0].clone();
    // Active since the first evaluation that saw the import (10:00:00 or 10:00:10).
    let active_at = alert["activeAt"].take();
    assert!(active_at == "2026-11-30T10:00:00Z" || active_at == "2026-11-30T10:00:10Z", "{active_at}");
    assert_eq!(
        alert.to_string(),
        r#"{"labels":{"alertname":"ApiDown","job":"api","severity":"page"},"annotations":{"summary":"api is down (0 up)"},"state":"pending","activeAt":null,"value":"0e+00"}"#
    );
    let rules = server.call("GET", "/prometheus/api/v1/rules?type=alert", Some(&viewer), None).json();
    let group = &rules["data"]["groups"][0];
    assert_eq!((group["name"].as_str(), group["interval"].as_f64()), (Some("availability"), Some(10.0)));
    let rule = &group["rules"][0];
    assert_eq!(
        (
            rule["type"].as_str(),
            rule["name"].as_str(),
            rule["state"].as_str(),
            rule["duration"].as_f64(),
            rule["health"].as_str()
        ),
        (Some("alerting"), Some("ApiDown"), Some("pending"), Some(60.0), Some("ok"))
    );
    assert_eq!(group["rules"].as_array().map(Vec::len), Some(1), "type=alert leaves the recording rule out");
    // 30 s later it is still pending; then the server restarts.
    clock.advance(Duration::from_secs(30));
    until(&server, &viewer, "/prometheus/api/v1/rules", |body| {
        body["data"]["groups"][0]["lastEvaluation"] == "2026-11-30T10:00:40Z"
    });
    let server = server.restart();
    // At 10:01:20, 70 s or more after it became active, it fires: the restarted server took the time it became
    // active from ALERTS_FOR_STATE (else it would be pending since the restart).
    clock.advance(Duration::from_secs(40));
    until(&server, &viewer, "/prometheus/api/v1/rules", |body| {
        body["data"]["groups"][0]["rules"][1]["alerts"][0]["state"] == "firing"
    });
    let firing = server.call("GET", "/prometheus/api/v1/alerts", Some(&viewer), None).json();
    assert_eq!(alert_state(&firing), ("firing".to_owned(), active_at.as_str().unwrap_or("").to_owned()));
    // ALERTS is written back to the store.
    let res = server.call(
        "GET",
        &format!("/prometheus/api/v1/query?query=ALERTS%7Balertstate%3D%22firing%22%7D&time={}", (T0 + 80_000) / 1000),
        Some(&viewer),
        None,
    );
    let metrics: Vec<String> = res.json()["data"]["result"]
        .as_array()
        .map(|result| result.iter().map(|sample| sample["metric"].to_string()).collect())
        .unwrap_or_default();
    assert!(
        metrics.contains(
            &r#"{"__name__":"ALERTS","alertname":"ApiDown","alertstate":"firing","job":"api","severity":"page"}"#
                .to_owned()
        ),
        "{metrics:?}"
    );
}

#[test]
fn a_bad_configured_rule_file_stops_the_start_with_its_position() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n")
        .expect("writing");
    let mut config = ferry_server::ServerConfig::new(dir.path().join("data"));
    config.listen = "127.0.0.1:0".parse().expect("an address");
    config.rule_files = vec![file.clone()];
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let error = rt.block_on(ferry_server::bind(&config)).err().map(|error| error.to_string()).unwrap_or_default();
    assert_eq!(
        error,
        format!(
            "reading the rule files:\n{}:5:15: could not parse expression: invalid promql query (fix the PromQL query)",
            file.display()
        )
    );
}

#[test]
fn a_projects_alerts_folder_is_evaluated_from_its_default_branch() {
    let repo = TestRepo::new(&[(
        ".ferry/alerts/app.yml",
        "groups:\n  - name: app\n    rules:\n      - record: app:heartbeat\n        expr: vector(1)\n",
    )]);
    let clock = ferry_testkit::FakeClock::at(T0);
    let server =
        crate::hooks::with_repo_project(TestServer::start_with_clock(Arc::new(clock.clone()), |_| {}), &repo.path());
    let viewer = server.token("viewer");
    // Projects' rule files are read again every minute of the server's clock.
    clock.advance(Duration::from_secs(60));
    let rules = until(&server, &viewer, "/prometheus/api/v1/rules", |body| {
        body["data"]["groups"][0]["lastEvaluation"] != "0001-01-01T00:00:00Z" && body["data"]["groups"][0].is_object()
    });
    let group = &rules["data"]["groups"][0];
    assert_eq!(
        (group["file"].as_str(), group["rules"][0]["type"].as_str()),
        (Some("web/.ferry/alerts/app.yml"), Some("recording"))
    );
    let res = server.call(
        "GET",
        &format!("/prometheus/api/v1/query?query=app:heartbeat&time={}", (T0 + 60_000) / 1000),
        Some(&viewer),
        None,
    );
    assert_eq!(res.json()["data"]["result"][0]["value"][1], "1");
}

#[test]
fn a_firing_alert_of_the_rules_is_routed_to_the_alertmanager_configs_webhook() {
    let clock = ferry_testkit::FakeClock::at(T0);
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).expect("writing the rule file");
    let (url, received) = ferry_testkit::http_receiver();
    let routing = dir.path().join("alertmanager.yml");
    std::fs::write(
        &routing,
        format!("route: {{ receiver: oncall, group_by: [alertname], group_wait: 0s }}\nreceivers: [{{ name: oncall, webhook_configs: [{{ url: '{url}' }}] }}]\n"),
    )
    .expect("writing the routing");
    let server = TestServer::start_with_clock(Arc::new(clock.clone()), |config| {
        config.rule_files = vec![rules.clone()];
        config.alertmanager_config = Some(routing.clone());
    });
    import_down(&server);
    let viewer = server.token("viewer");
    clock.advance(Duration::from_secs(10));
    until(&server, &viewer, "/prometheus/api/v1/alerts", |body| alert_state(body).0 == "pending");
    // Nothing is routed while the alert is pending; once its minute has passed, it fires.
    assert!(received.try_recv().is_err(), "a pending alert is not routed");
    clock.advance(Duration::from_secs(70));
    until(&server, &viewer, "/prometheus/api/v1/alerts", |body| alert_state(body).0 == "firing");
    let message = received.recv_timeout(Duration::from_secs(30)).expect("the webhook's notification");
    assert_eq!(
        (message["status"].as_str(), message["receiver"].as_str()),
        (Some("firing"), Some("oncall")),
        "{message:#}"
    );
    let alert = &message["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "ApiDown", "{message:#}");
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["annotations"]["summary"], "api is down (0 up)");
}
