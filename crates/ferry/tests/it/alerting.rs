//! Alert routing with real processes: `ferry server --alertmanager-config` notifies a webhook
//! receiver on loopback, is killed with SIGKILL and started again on the same data
//! directory, and sends no notification again for what it had sent (no duplicate storm);
//! `ferry silence` and `ferry alerts` work against it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use serde_json::{Value, json};

use crate::runner::{PATIENCE, Process, client_command, output_within, start_server_with, text};

fn start(dir: &Path, config: &Path) -> (Process, String, String) {
    start_server_with(dir, |command| {
        command.arg("--alertmanager-config").arg(config).env("FERRY_NO_AGENT", "1").env("FERRY_RUNNER_SLOTS", "0");
    })
}

/// `POST /alertmanager/api/v2/alerts` as Prometheus sends it.
fn post_alerts(url: &str, token: &str, alerts: &Value) {
    let addr = url.strip_prefix("http://").expect("an http URL");
    let body = alerts.to_string();
    let mut stream = TcpStream::connect(addr).expect("connecting");
    let request = format!(
        "POST /alertmanager/api/v2/alerts HTTP/1.1\r\nHost: ferry\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("sending");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reading");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

fn alert(instance: &str) -> Value {
    json!({"labels": {"alertname": "Down", "instance": instance}, "startsAt": "2026-12-07T10:00:00Z"})
}

fn instances(message: &Value) -> Vec<String> {
    message["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|alert| alert["labels"]["instance"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_server_killed_after_notifying_does_not_notify_again_after_its_restart() {
    let scratch = tempfile::Builder::new().prefix("ferry-alerting-it-").tempdir().expect("temp dir");
    let (hook, received) = ferry_testkit::http_receiver();
    let config = scratch.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 1h\n\
             receivers:\n  - name: hook\n    webhook_configs: [{{ url: '{hook}' }}]\n"
        ),
    )
    .expect("the config");

    let (mut server, url, admin) = start(scratch.path(), &config);
    post_alerts(&url, &admin, &json!([alert("a")]));
    let first = received.recv_timeout(PATIENCE).unwrap_or_else(|_| panic!("no notification:\n{}", server.stderr()));
    assert_eq!(instances(&first), ["a"], "{first:#}");
    assert_eq!(first["notification_reason"], "first notification");

    // The notification log is written once the receiver answered; wait until it is in the
    // database (the server logs it after the write), then kill the server without warning.
    crate::runner::wait_for("the notification to be recorded", || {
        server.stderr().contains("notified hook (webhook)").then_some(())
    });
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("the server is gone");

    let (server, url, admin) = start(scratch.path(), &config);
    // Prometheus sends its firing alerts again; the restored group is old enough to flush at
    // once, and its log says `a` was sent. Then a new alert joins the group.
    post_alerts(&url, &admin, &json!([alert("a")]));
    post_alerts(&url, &admin, &json!([alert("a"), alert("b")]));
    let next = received.recv_timeout(PATIENCE).unwrap_or_else(|_| panic!("no notification:\n{}", server.stderr()));
    // A server that forgot what it sent would send `a` again first, or call this the first
    // notification of the group.
    assert_eq!(instances(&next), ["a", "b"], "{next:#}\n{}", server.stderr());
    assert_eq!(next["notification_reason"], "new alerts added", "{next:#}");

    // Silences and the alert list through the CLI.
    let added = output_within(client_command(
        &url,
        &admin,
        &[
            "silence",
            "add",
            "alertname=Down",
            "instance=~\"a|b\"",
            "--duration",
            "2h",
            "--comment",
            "maintenance",
            "--json",
        ],
    ));
    assert!(added.status.success(), "{}", text(&added));
    let id =
        serde_json::from_slice::<Value>(&added.stdout).expect("JSON")["silenceID"].as_str().expect("an id").to_owned();
    let alerts = output_within(client_command(&url, &admin, &["alerts", "--json"]));
    assert!(alerts.status.success(), "{}", text(&alerts));
    let alerts: Value = serde_json::from_slice(&alerts.stdout).expect("JSON");
    assert!(
        alerts.as_array().is_some_and(
            |list| list.len() == 2 && list.iter().all(|alert| alert["status"]["silencedBy"] == json!([id]))
        ),
        "{alerts:#}"
    );
    let listed = output_within(client_command(&url, &admin, &["silence", "list"]));
    assert!(String::from_utf8_lossy(&listed.stdout).contains("maintenance"), "{}", text(&listed));
    let expired = output_within(client_command(&url, &admin, &["silence", "expire", &id]));
    assert!(expired.status.success(), "{}", text(&expired));
    let again = output_within(client_command(&url, &admin, &["silence", "expire", &id]));
    assert!(!again.status.success(), "{}", text(&again));
}

#[test]
fn a_paging_alert_opens_one_incident_and_a_server_killed_while_it_is_open_opens_no_second() {
    let scratch = tempfile::Builder::new().prefix("ferry-incidents-it-").tempdir().expect("temp dir");
    let config = scratch.path().join("alertmanager.yml");
    std::fs::write(&config, "route:\n  receiver: none\nreceivers:\n  - name: none\n").expect("the config");
    let repo = crate::harness::Repo::new(&[("README", "one")]);
    let (mut server, url, admin) = start(scratch.path(), &config);
    let ferry = |url: &str, args: &[&str]| output_within(client_command(url, &admin, args));
    let added = ferry(&url, &["project", "add", "shop", "--repo", &repo.path().display().to_string()]);
    assert!(added.status.success(), "{}", text(&added));
    let paging = json!([{
        "labels": {"alertname": "Errors", "severity": "page", "project": "shop", "service": "web"},
        "annotations": {"summary": "5xx above 5 %"},
    }]);
    post_alerts(&url, &admin, &paging);
    let open = |url: &str| {
        let listed = ferry(url, &["incident", "list", "shop", "--open", "--json"]);
        assert!(listed.status.success(), "{}", text(&listed));
        serde_json::from_slice::<Value>(&listed.stdout).expect("JSON")
    };
    let before = open(&url);
    assert_eq!(before.as_array().map(Vec::len), Some(1), "{before:#}");
    assert_eq!(
        (before[0]["opened_by"].as_str(), before[0]["title"].as_str()),
        (Some("alert"), Some("Errors: 5xx above 5 %"))
    );
    let id = before[0]["id"].as_i64().expect("an id").to_string();

    // Killed while the incident is open; Prometheus sends its firing alert again to the
    // restarted server, which finds the alert's episode in the incident.
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("the server is gone");
    let (server, url, _) = start(scratch.path(), &config);
    post_alerts(&url, &admin, &paging);
    let after = open(&url);
    assert_eq!(after.as_array().map(Vec::len), Some(1), "{after:#}\n{}", server.stderr());
    assert_eq!(after[0]["id"], before[0]["id"]);
    let shown = ferry(&url, &["incident", "show", &id, "--json"]);
    assert!(shown.status.success(), "{}", text(&shown));
    let detail: Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    let firing = detail["timeline"].as_array().into_iter().flatten().filter(|e| e["kind"] == "alert_firing").count();
    assert_eq!(firing, 1, "{detail:#}");

    let acked = ferry(&url, &["incident", "ack", &id]);
    assert!(acked.status.success(), "{}", text(&acked));
    assert!(String::from_utf8_lossy(&acked.stdout).contains("acked"), "{}", text(&acked));
    let shown = ferry(&url, &["incident", "show", &id]);
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("Errors firing: 5xx above 5 %") && shown.contains("acknowledged by"), "{shown}");
    let resolved = ferry(&url, &["incident", "resolve", &id, "--json"]);
    assert!(resolved.status.success(), "{}", text(&resolved));
    assert_eq!(open(&url), json!([]));
}
