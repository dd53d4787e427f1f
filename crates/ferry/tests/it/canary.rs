//! Canary analysis by PromQL end to end: `ferry server`, a real `ferry agent`, and
//! `analysis.queries` reading a metric the test writes into the server's store (`ferry metrics
//! import`) with the release's label. A canary whose query passes waits for a successful
//! measurement, then completes; one whose query fails is rolled back by its agent with the
//! query's reason, and the release before it goes on serving.

use serde_json::Value;

use crate::delivery::{SERVER_PY, make_release, project_with_agent};
use crate::harness::{free_port, get_ok};
use crate::runner::{client_command, get_json, output_within, start_server, text, wait_for};

/// A canary with one query on `canary_error_ratio` of the release being deployed.
const DEPLOY_YML: &str = r#"environments:
  staging: { verify: 1s }
services:
  web:
    run: exec python3 server.py
    health: { http: /healthz, interval: 100ms, healthy-after: 1 }
    deploy:
      staging:
        port: PORT
        replicas: 1
        strategy: canary
        canary: { steps: [ { weight: 50, pause: 1s } ] }
        analysis:
          queries:
            - name: error-ratio
              query: 'canary_error_ratio{service="{{service}}",release="{{release}}"}'
              interval: 1s
              success: result < 0.01
              failure: result >= 0.05
              failure-limit: 1
"#;

#[test]
fn a_canary_whose_query_passes_completes_and_one_whose_query_fails_is_rolled_back_with_its_reason() {
    let scratch = tempfile::Builder::new().prefix("ferry-canary-it-").tempdir().expect("temp dir");
    let port = free_port();
    let (server, url, admin) = start_server(scratch.path());
    let agent_dir = scratch.path().join("agent");
    let deploy_yml = DEPLOY_YML.replace("PORT", &port.to_string());
    let (_repo, _cleanup) = project_with_agent(scratch.path(), &agent_dir, &url, &admin, &deploy_yml);
    for (name, greeting) in [("one", "hello one"), ("two", "hello two"), ("three", "hello three")] {
        make_release(scratch.path(), &url, &admin, name, &SERVER_PY.replace("\"hello\"", &format!("\"{greeting}\"")));
    }
    // The error ratio of each release, as a service's own metrics would say: releases 1 and 2
    // are fine, release 3 fails one request in five.
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() - 1;
    let samples = scratch.path().join("ratios.om");
    std::fs::write(
        &samples,
        format!(
            "# TYPE canary_error_ratio gauge\n\
             canary_error_ratio{{service=\"web\",release=\"1\"}} 0.001 {at}\n\
             canary_error_ratio{{service=\"web\",release=\"2\"}} 0.001 {at}\n\
             canary_error_ratio{{service=\"web\",release=\"3\"}} 0.2 {at}\n# EOF\n"
        ),
    )
    .expect("write");
    let imported =
        output_within(client_command(&url, &admin, &["metrics", "import", samples.to_str().expect("UTF-8")]));
    assert!(imported.status.success(), "{}", text(&imported));
    let deploy = |release: &str| -> Value {
        let args = ["deploy", "web", "web", "--env", "staging", "--release", release, "--wait", "--json"];
        let out = output_within(client_command(&url, &admin, &args));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            let agent_log = std::fs::read_to_string(scratch.path().join("agent.stderr")).unwrap_or_default();
            panic!("{}\n--- server\n{}\n--- agent\n{agent_log}", text(&out), server.stderr())
        })
    };

    assert_eq!(deploy("1")["outcome"], "succeeded", "a first deployment, measured too");
    let second = deploy("2");
    assert_eq!(second["outcome"], "succeeded", "{second}");
    let id = second["id"].as_i64().expect("an id");
    let deployment = get_json(&url, &admin, &format!("/api/v1/deployments/{id}"));
    let query = &deployment["analysis"]["queries"][0];
    assert_eq!(
        (query["name"].as_str(), query["phase"].as_str()),
        (Some("error-ratio"), Some("successful")),
        "{deployment:#}"
    );
    let measurements = query["measurements"].as_array().expect("measurements");
    // The canary's pause waited for this success: the deployment could not complete without it.
    assert!(!measurements.is_empty(), "{deployment:#}");
    for measurement in measurements {
        assert_eq!(
            (measurement["phase"].as_str(), measurement["value"].as_f64()),
            (Some("successful"), Some(0.001)),
            "{deployment:#}"
        );
        assert_eq!(measurement["message"], "0.001 < 0.01", "{deployment:#}");
    }
    let steps: Vec<&str> =
        deployment["steps"].as_array().expect("steps").iter().filter_map(|step| step["name"].as_str()).collect();
    assert!(steps.contains(&"weight 50 % to release 2 for 1s and a successful measurement of each query"), "{steps:?}");
    assert_eq!(wait_for("release 2 to serve", || get_ok(port).filter(|answer| answer == "hello two")), "hello two");

    let third = deploy("3");
    assert_eq!(third["outcome"], "rolled_back", "{third}");
    assert_eq!(third["reason"], "query error-ratio: 0.2 >= 0.05 (measurement 2; 2 failed, failure-limit 1)", "{third}");
    let id = third["id"].as_i64().expect("an id").to_string();
    let shown = output_within(client_command(&url, &admin, &["deployment", &id]));
    assert!(shown.status.success(), "{}", text(&shown));
    let said = String::from_utf8_lossy(&shown.stdout);
    assert!(said.contains("query error-ratio failed 0 successful, 2 failed, 0 inconclusive"), "{said}");
    assert!(said.contains("error-ratio: failed 0.2 >= 0.05"), "{said}");
    let status = get_json(&url, &admin, "/api/v1/projects/web/status?environment=staging");
    assert_eq!(status["environments"][0]["services"][0]["release"], 2, "{status}");
    wait_for("release 2 to serve alone again", || {
        let answers: Vec<String> = (0..10).filter_map(|_| get_ok(port)).collect();
        (answers.len() == 10 && answers.iter().all(|answer| answer == "hello two")).then_some(())
    });
}
