//! SLOs through the server, on its fake clock: the proxy's counters of the hour before put
//! in the store by the import (10 % of the requests fail, against a 99 % objective over one
//! hour), the budgets `GET /api/v1/projects/{name}/slos` answers, the burn-rate rules
//! compiled from the project's deploy.yml evaluated with the others (the page alert fires),
//! and a production deployment held by `error-budget: hold` until clean traffic refills the
//! budget, or by `error-budget: approval` until someone approves.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::{TestRepo, TestServer};

/// Now on the server's clock at the start, milliseconds (2026-11-30T10:00:00Z).
const T0: i64 = 1_796_032_800_000;

fn deploy_yml(policy: &str) -> String {
    format!(
        "
environments:
  production: {{ error-budget: {policy} }}
services:
  web:
    run: python3 server.py
    deploy:
      production: {{ port: 18102 }}
    slos:
      - name: availability
        objective: 99
        window: 1h
        sli: proxy-availability
"
    )
}

/// The proxy's counters of `web` in production at each minute `from..=to` (minutes from
/// T0) with `good` and `failed` requests a minute, continuing from `start` (good, failed).
fn counters(from: i64, to: i64, start: (i64, i64), good: i64, failed: i64) -> String {
    let mut text = String::from("# TYPE ferry_proxy_requests counter\n");
    let labels = r#"project="web",service="web",environment="production",release="1""#;
    for minute in from..=to {
        let at = T0 / 1000 + minute * 60;
        let steps = minute - from;
        text.push_str(&format!(
            "ferry_proxy_requests_total{{{labels},code_class=\"2xx\"}} {} {at}\n",
            start.0 + good * steps
        ));
        text.push_str(&format!(
            "ferry_proxy_requests_total{{{labels},code_class=\"5xx\"}} {} {at}\n",
            start.1 + failed * steps
        ));
    }
    text.push_str("# EOF\n");
    text
}

/// Stores OpenMetrics `text` (every sample with its time) through the import, as the admin.
pub(crate) fn import(server: &TestServer, text: &str) {
    let auth = format!("Bearer {}", server.admin);
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/openmetrics-text")];
    let res = server.request("POST", "/api/v1/metrics/import", &headers, text.as_bytes());
    assert_eq!(res.status, 200, "{}", res.body);
}

/// Calls `path` until `done` holds for its JSON (the server's loops run once a second).
fn until(server: &TestServer, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let res = server.call("GET", path, Some(&server.admin), None);
        assert_eq!(res.status, 200, "{}", res.body);
        let body = res.json();
        if done(&body) {
            return body;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{path} did not get there: {body:#}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A server on a fake clock at T0 with project `web` (its deploy.yml with `error-budget:
/// policy`), the `local` agent registered, release 1 of `web` made by `author`, and the hour
/// before T0 of 90 good and 10 failed requests a minute in the store.
fn spent_budget(policy: &str) -> (TestServer, TestRepo, ferry_testkit::FakeClock, String) {
    let repo = TestRepo::new(&[(".ferry/deploy.yml", &deploy_yml(policy))]);
    let clock = ferry_testkit::FakeClock::at(T0);
    let server =
        crate::hooks::with_repo_project(TestServer::start_with_clock(Arc::new(clock.clone()), |_| {}), &repo.path());
    let res = server.call("POST", "/api/v1/agents", Some(&server.admin), Some(&json!({"name": "local"})));
    assert_eq!(res.status, 201, "{}", res.body);
    let author = server.token("developer");
    let text = "print('hello')\n";
    let digest: String = Sha256::digest(text.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect();
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
    import(&server, &counters(-60, 0, (0, 0), 90, 10));
    (server, repo, clock, author)
}

fn deploy(server: &TestServer, token: &str) -> Value {
    let body = json!({"service": "web", "environment": "production"});
    let res = server.call("POST", "/api/v1/projects/web/deployments", Some(token), Some(&body));
    assert_eq!(res.status, 201, "{}", res.body);
    res.json()
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn a_spent_budget_holds_a_production_deployment_until_clean_traffic_refills_it() {
    let (server, _repo, clock, author) = spent_budget("hold");
    // At T0 the hour holds 600 failed of 6000 requests: 10 % errors against a budget of
    // 1 %, so 1 − 0.1 / 0.01 = −9 of the budget is left, and the last hour burns it 10×.
    let viewer = server.token("viewer");
    let res = server.call("GET", "/api/v1/projects/web/slos", Some(&viewer), None);
    assert_eq!(res.status, 200, "{}", res.body);
    let slo = &res.json()[0];
    assert_eq!(
        (slo["service"].as_str(), slo["environment"].as_str(), slo["slo"].as_str(), slo["window"].as_str()),
        (Some("web"), Some("production"), Some("availability"), Some("1h"))
    );
    assert_eq!((slo["objective"].as_f64(), slo["status"].as_str()), (Some(99.0), Some("exhausted")));
    assert!(close(slo["error_ratio"].as_f64(), 0.1), "{slo}");
    assert!(close(slo["budget_remaining"].as_f64(), -9.0), "{slo}");
    assert!(close(slo["burn_rate_1h"].as_f64(), 10.0), "{slo}");
    let filtered = server.call("GET", "/api/v1/projects/web/slos?environment=staging", Some(&viewer), None);
    assert_eq!(filtered.json(), json!([]));

    let deployment = deploy(&server, &author);
    let id = deployment["id"].as_i64().expect("an id");
    assert_eq!(deployment["outcome"], "waiting", "{deployment}");
    assert_eq!(
        deployment["reason"],
        "waiting for the error budget to recover (error-budget: hold): SLO availability of web has spent its error \
         budget (-900 % left: 10.000 % errors over 1h, objective 99 %)"
    );

    // The rules of the SLO are read with the project's (a minute on) and the page alert
    // fires: 10 % over 6h and 30m is above 6 × 1 %.
    clock.advance(Duration::from_secs(60));
    let alerts = until(&server, "/prometheus/api/v1/alerts", |body| {
        body["data"]["alerts"].as_array().is_some_and(|alerts| {
            alerts.iter().any(|alert| alert["labels"]["severity"] == "page" && alert["state"] == "firing")
        })
    });
    let page = alerts["data"]["alerts"]
        .as_array()
        .and_then(|alerts| alerts.iter().find(|alert| alert["labels"]["severity"] == "page"))
        .expect("the page alert");
    assert_eq!(
        (page["labels"]["alertname"].as_str(), page["labels"]["slo"].as_str(), page["labels"]["environment"].as_str()),
        (Some("ErrorBudgetBurn"), Some("availability"), Some("production"))
    );
    let rules = server.call("GET", "/prometheus/api/v1/rules", Some(&viewer), None).json();
    let group = rules["data"]["groups"]
        .as_array()
        .and_then(|groups| groups.iter().find(|group| group["name"] == "slo:web:production:availability"))
        .expect("the SLO's group")
        .clone();
    assert_eq!(group["file"], "web/.ferry/deploy.yml");
    assert_eq!(group["rules"].as_array().map(Vec::len), Some(7), "{group:#}");
    assert_eq!(
        server.call("GET", &format!("/api/v1/deployments/{id}"), Some(&viewer), None).json()["outcome"],
        "waiting"
    );

    // The errors stop: an hour and ten minutes of clean traffic later, the window holds no
    // error, and the deployment goes on at the next judgement.
    import(&server, &counters(1, 70, (5400 + 100, 600), 100, 0));
    clock.advance(Duration::from_secs(69 * 60));
    let started = until(&server, &format!("/api/v1/deployments/{id}"), |body| body["outcome"] != "waiting");
    // Released by its gates: queued for its agent, or already taken by it.
    assert!(["queued", "in_progress"].contains(&started["outcome"].as_str().unwrap_or_default()), "{started}");
    let gate = started["gates"].as_array().and_then(|gates| gates.iter().find(|gate| gate["kind"] == "error-budget"));
    assert_eq!(gate.map(|gate| gate["passed"].clone()), Some(json!(true)), "{started}");
    let slo = &server.call("GET", "/api/v1/projects/web/slos", Some(&viewer), None).json()[0];
    assert_eq!((slo["status"].as_str(), slo["budget_remaining"].as_f64()), (Some("ok"), Some(1.0)), "{slo}");
}

#[test]
fn with_error_budget_approval_a_spent_budget_waits_for_one_approval() {
    let (server, _repo, _clock, author) = spent_budget("approval");
    let deployment = deploy(&server, &author);
    let id = deployment["id"].as_i64().expect("an id");
    assert_eq!(deployment["outcome"], "waiting", "{deployment}");
    assert!(
        deployment["reason"]
            .as_str()
            .is_some_and(|reason| reason.starts_with("waiting for an approval (error-budget: approval")),
        "{deployment}"
    );
    let approve = |token: &str| {
        server.call(
            "POST",
            &format!("/api/v1/deployments/{id}/approve"),
            Some(token),
            Some(&json!({"comment": "hotfix"})),
        )
    };
    assert_eq!(approve(&author).status, 403, "the release's author may not approve it");
    let res = server.call(
        "POST",
        "/api/v1/tokens",
        Some(&server.admin),
        Some(&json!({"name": "reviewer", "role": "developer"})),
    );
    let reviewer = res.json()["token"].as_str().expect("a token").to_owned();
    let res = approve(&reviewer);
    assert_eq!(res.status, 200, "{}", res.body);
    // Released: queued for its agent, or already taken by it.
    assert!(["queued", "in_progress"].contains(&res.json()["outcome"].as_str().unwrap_or_default()), "{}", res.body);
}

#[test]
fn a_project_without_slos_lists_none_and_a_bad_filter_is_refused() {
    let repo = TestRepo::new(&[(
        ".ferry/deploy.yml",
        "environments: { production: {} }\nservices: { web: { run: x, deploy: { production: { port: 1 } } } }\n",
    )]);
    let server = crate::hooks::with_repo_project(TestServer::start(), &repo.path());
    let res = server.call("GET", "/api/v1/projects/web/slos", Some(&server.admin), None);
    assert_eq!((res.status, res.json()), (200, json!([])));
    let res = server.call("GET", "/api/v1/projects/web/slos?service=no%20such", Some(&server.admin), None);
    assert_eq!(res.status, 400, "{}", res.body);
    let res = server.call("GET", "/api/v1/projects/nope/slos", Some(&server.admin), None);
    assert_eq!(res.status, 404, "{}", res.body);
}
