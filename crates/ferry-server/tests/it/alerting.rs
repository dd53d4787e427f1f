//! Alert routing end to end: alerts posted to Alertmanager's API reach receivers on
//! loopback as Alertmanager would send them (the webhook's version-4 body, Slack's
//! incoming-webhook payload, an email over SMTP), and silences hold them back.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use ferry_testkit::http_receiver;

use crate::TestServer;

/// How long to wait for a notification before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

/// An SMTP sink on loopback: every message's envelope and text.
fn smtp_sink() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("an address").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
            let _ = stream.write_all(b"220 sink ESMTP\r\n");
            let mut transcript = String::new();
            let mut in_data = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        let _ = stream.write_all(b"250 queued\r\n");
                    } else {
                        transcript.push_str(&line);
                    }
                    continue;
                }
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let answer: &[u8] = match verb.as_str() {
                    "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                    "DATA" => {
                        in_data = true;
                        b"354 go on\r\n"
                    }
                    "QUIT" => {
                        let _ = stream.write_all(b"221 bye\r\n");
                        break;
                    }
                    _ => {
                        transcript.push_str(&line);
                        b"250 ok\r\n"
                    }
                };
                let _ = stream.write_all(answer);
            }
            if !transcript.is_empty() && tx.send(transcript).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

fn server_with(config: &str) -> (TestServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("alertmanager.yml");
    std::fs::write(&path, config).expect("the config");
    let server = TestServer::start_configured(|config| config.alertmanager_config = Some(path));
    (server, dir)
}

fn post_alerts(server: &TestServer, alerts: Value) {
    let res = server.call("POST", "/alertmanager/api/v2/alerts", Some(&server.admin), Some(&alerts));
    assert_eq!(res.status, 200, "{}", res.body);
}

#[test]
fn a_webhook_gets_alertmanagers_version_4_message() {
    let (url, received) = http_receiver();
    let (server, _dir) = server_with(&format!(
        "route: {{ receiver: hook, group_by: [alertname], group_wait: 0s }}\n\
         receivers: [{{ name: web.hook, webhook_configs: [{{ url: '{url}' }}] }}, {{ name: hook, webhook_configs: [{{ url: '{url}' }}] }}]\n"
    ));
    post_alerts(
        &server,
        json!([
            {"labels": {"alertname": "DiskFull", "instance": "db-2", "severity": "page"},
             "annotations": {"summary": "disk full"}, "startsAt": "2026-12-07T10:00:00Z",
             "generatorURL": "http://prometheus/graph"},
            {"labels": {"alertname": "DiskFull", "instance": "db-1", "severity": "page"},
             "annotations": {"summary": "disk full", "runbook": "r1"}, "startsAt": "2026-12-07T10:00:00.5Z"},
        ]),
    );
    let mut message = received.recv_timeout(PATIENCE).expect("a notification");
    message["externalURL"] = json!("[server]/alertmanager");
    insta::assert_snapshot!(serde_json::to_string_pretty(&message).expect("JSON"), @r#"
    {
      "receiver": "hook",
      "status": "firing",
      "alerts": [
        {
          "status": "firing",
          "labels": {
            "alertname": "DiskFull",
            "instance": "db-1",
            "severity": "page"
          },
          "annotations": {
            "runbook": "r1",
            "summary": "disk full"
          },
          "startsAt": "2026-12-07T10:00:00.5Z",
          "endsAt": "0001-01-01T00:00:00Z",
          "generatorURL": "",
          "fingerprint": "ba67171fec121609"
        },
        {
          "status": "firing",
          "labels": {
            "alertname": "DiskFull",
            "instance": "db-2",
            "severity": "page"
          },
          "annotations": {
            "summary": "disk full"
          },
          "startsAt": "2026-12-07T10:00:00Z",
          "endsAt": "0001-01-01T00:00:00Z",
          "generatorURL": "http://prometheus/graph",
          "fingerprint": "d31c79056b60cdbe"
        }
      ],
      "notification_reason": "first notification",
      "groupLabels": {
        "alertname": "DiskFull"
      },
      "commonLabels": {
        "alertname": "DiskFull",
        "severity": "page"
      },
      "commonAnnotations": {
        "summary": "disk full"
      },
      "routeLabels": {},
      "externalURL": "[server]/alertmanager",
      "version": "4",
      "groupKey": "{}:{alertname=\"DiskFull\"}",
      "truncatedAlerts": 0
    }
    "#);
    // The listing says the same alerts are active and whom they go to.
    let listed = server.call("GET", "/alertmanager/api/v2/alerts", Some(&server.token("viewer")), None).json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed:#}");
    assert_eq!(listed[0]["status"]["state"], "active");
    assert_eq!(listed[0]["receivers"], json!([{"name": "hook"}]));
}

#[test]
fn slack_gets_an_incoming_webhook_payload_and_email_goes_over_smtp() {
    let (url, received) = http_receiver();
    let (smtp_port, mails) = smtp_sink();
    let (server, _dir) = server_with(&format!(
        "global: {{ smtp_from: 'ferry@example.org', smtp_smarthost: '127.0.0.1:{smtp_port}', smtp_require_tls: false }}\n\
         route: {{ receiver: team, group_by: [alertname], group_wait: 0s }}\n\
         receivers:\n\
         - name: team\n\
         \x20 slack_configs: [{{ api_url: '{url}', channel: '#ops', text: '{{{{ .CommonAnnotations.summary }}}}' }}]\n\
         \x20 email_configs: [{{ to: 'ops@example.org' }}]\n"
    ));
    post_alerts(
        &server,
        json!([{"labels": {"alertname": "HighLatency", "service": "api"}, "annotations": {"summary": "p99 over 2s"}}]),
    );
    let slack = received.recv_timeout(PATIENCE).expect("a Slack message");
    assert_eq!(slack["channel"], "#ops", "{slack:#}");
    assert_eq!(slack["username"], "Alertmanager");
    let attachment = &slack["attachments"][0];
    assert_eq!(attachment["title"], "[FIRING:1] HighLatency (api)", "{slack:#}");
    assert_eq!(attachment["text"], "p99 over 2s");
    assert_eq!(attachment["color"], "danger");
    // The text is quoted-printable: undo its soft line breaks and `=3D`.
    let mail = mails.recv_timeout(PATIENCE).expect("an email").replace("=\r\n", "").replace("=3D", "=");
    assert!(mail.contains("MAIL FROM:<ferry@example.org>"), "{mail}");
    assert!(mail.contains("RCPT TO:<ops@example.org>"), "{mail}");
    assert!(mail.contains("Subject: [FIRING:1] HighLatency (api)"), "{mail}");
    assert!(mail.contains("[firing] alertname=HighLatency service=api"), "{mail}");
}

#[test]
fn a_silence_holds_an_alert_back_until_it_is_expired() {
    let (url, received) = http_receiver();
    let (server, _dir) = server_with(&format!(
        "route: {{ receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1s }}\n\
         receivers: [{{ name: hook, webhook_configs: [{{ url: '{url}' }}] }}]\n"
    ));
    let developer = server.token("developer");
    let silence = json!({
        "matchers": [{"name": "alertname", "value": "Noisy", "isRegex": false}],
        "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z",
        "createdBy": "", "comment": "known"
    });
    let created = server.call("POST", "/alertmanager/api/v2/silences", Some(&developer), Some(&silence));
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.json()["silenceID"].as_str().expect("an id").to_owned();
    let everything = json!({"matchers": [{"name": "x", "value": ".*", "isRegex": true}],
        "startsAt": "2026-01-01T00:00:00Z", "endsAt": "2999-01-01T00:00:00Z", "createdBy": "a", "comment": "b"});
    let refused = server.call("POST", "/alertmanager/api/v2/silences", Some(&developer), Some(&everything));
    assert_eq!(refused.status, 400, "{}", refused.body);

    post_alerts(&server, json!([{"labels": {"alertname": "Noisy"}}, {"labels": {"alertname": "Real"}}]));
    // The silenced group sends nothing; the other one arrives.
    let first = received.recv_timeout(PATIENCE).expect("a notification");
    assert_eq!(first["groupLabels"], json!({"alertname": "Real"}), "{first:#}");
    let listed = server.call("GET", "/alertmanager/api/v2/alerts", Some(&developer), None).json();
    let noisy = listed.as_array().into_iter().flatten().find(|alert| alert["labels"]["alertname"] == "Noisy");
    let noisy = noisy.expect("the silenced alert is listed");
    assert_eq!(noisy["status"]["state"], "suppressed");
    assert_eq!(noisy["status"]["silencedBy"], json!([id]));
    let silences = server.call("GET", "/alertmanager/api/v2/silences", Some(&developer), None).json();
    assert_eq!(silences[0]["createdBy"], "developer", "{silences:#}");
    assert_eq!(silences[0]["status"]["state"], "active");

    let expired = server.call("DELETE", &format!("/alertmanager/api/v2/silence/{id}"), Some(&developer), None);
    assert_eq!(expired.status, 200, "{}", expired.body);
    let again = server.call("DELETE", &format!("/alertmanager/api/v2/silence/{id}"), Some(&developer), None);
    assert_eq!(again.status, 400, "{}", again.body);
    let next = received.recv_timeout(PATIENCE).expect("the alert once its silence ended");
    assert_eq!(next["groupLabels"], json!({"alertname": "Noisy"}), "{next:#}");
}

#[test]
fn a_server_with_an_invalid_alertmanager_config_does_not_start_and_says_where() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("alertmanager.yml");
    std::fs::write(&path, "route:\n  receiver: nobody\nreceivers: []\n").expect("the config");
    let data = tempfile::tempdir().expect("a data dir");
    let config = ferry_server::ServerConfig {
        listen: "127.0.0.1:0".parse().expect("an address"),
        alertmanager_config: Some(path),
        ..ferry_server::ServerConfig::new(data.path().join("data"))
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let Err(error) = rt.block_on(ferry_server::bind(&config)) else { panic!("the server started") };
    let message = error.to_string();
    assert!(
        message.contains(
            "alertmanager.yml: the Alertmanager configuration has 1 error: 2:13: receiver `nobody` is not defined"
        ),
        "{message}"
    );
}
