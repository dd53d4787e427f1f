//! The configuration reader: inheritance down the route tree, both matcher syntaxes, and
//! every problem reported at its line:column.

use super::*;

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{}:{} {:?} [{}] {}", d.span.start.line, d.span.start.col, d.severity, d.code, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

const TREE: &str = r#"
global:
  resolve_timeout: 1m
  smtp_smarthost: 'localhost:25'
  smtp_from: 'am@example.org'
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['service=~"db|cache"', severity="critical"]
      receiver: pager
      repeat_interval: 1h
      continue: true
    - match: { team: infra }
      match_re: { env: 'prod.*' }
      receiver: mails
      group_by: ['...']
      mute_time_intervals: [nights]
receivers:
  - name: default
    webhook_configs: [{ url: 'http://127.0.0.1:5001/' }]
  - name: pager
    slack_configs: [{ api_url: 'https://hooks.slack.com/x', channel: '#ops' }]
  - name: mails
    email_configs: [{ to: 'ops@example.org' }]
time_intervals:
  - name: nights
    time_intervals:
      - times: [{ start_time: '22:00', end_time: '24:00' }]
        weekdays: ['monday:friday']
"#;

#[test]
fn routes_inherit_and_keys_are_alertmanagers() {
    let (config, diagnostics) = compile(TREE);
    assert_eq!(render(&diagnostics), "");
    let config = config.expect("a config");
    assert_eq!(config.global.resolve_timeout_ms, 60_000);
    let [pager, mails] = &config.route.routes[..] else { panic!("two child routes") };
    assert_eq!(pager.key, r#"{}/{service=~"db|cache",severity="critical"}"#);
    assert_eq!(pager.group_by, GroupBy::Labels(vec!["alertname".to_owned()]));
    assert_eq!((pager.group_wait_ms, pager.group_interval_ms, pager.repeat_interval_ms), (10_000, 300_000, 3_600_000));
    assert!(pager.continue_matching);
    assert_eq!(mails.key, r#"{}/{env=~"prod.*",team="infra"}"#);
    assert_eq!(mails.group_by, GroupBy::All);
    assert_eq!(mails.repeat_interval_ms, 4 * 3_600_000);
    let Some(Integration::Email(email)) = config.receiver("mails").map(|r| &r.integrations[0]) else {
        panic!("an email integration")
    };
    assert_eq!((email.from.as_str(), email.smarthost.as_str()), ("am@example.org", "localhost:25"));
    assert_eq!(config.time_intervals["nights"].len(), 1);
}

#[test]
fn matching_follows_continue_and_falls_back_to_the_parent() {
    let (config, _) = compile(TREE);
    let config = config.expect("a config");
    let labels = |pairs: &[(&str, &str)]| -> crate::Labels {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    };
    let receivers = |pairs: &[(&str, &str)]| -> Vec<String> {
        config.route.matching(&labels(pairs)).iter().map(|route| route.receiver.clone()).collect()
    };
    assert_eq!(
        receivers(&[("service", "db"), ("severity", "critical"), ("team", "infra"), ("env", "prod")]),
        ["pager", "mails"]
    );
    assert_eq!(receivers(&[("service", "db"), ("severity", "warning")]), ["default"]);
    assert_eq!(receivers(&[("team", "infra"), ("env", "production")]), ["mails"]);
}

#[test]
fn problems_are_reported_at_their_line_and_column() {
    let src = r#"route:
  receiver: defualt
  group_wait: 30
  matchers: ['severity']
  routes:
    - receiver: default
      mute_time_intervals: [weekend]
      grup_by: [a]
receivers:
  - name: default
    webhook_configs: [{ url: 'ftp://x' }]
    pagerduty_configs: [{ routing_key: k }]
  - name: mail
    email_configs: [{ to: a@b.c }]
templates: ['/etc/x/*.tmpl']
"#;
    let (_, diagnostics) = compile(src);
    insta::assert_snapshot!(render(&diagnostics), @r#"
    2:13 Error [unknown-receiver] receiver `defualt` is not defined in `receivers:`
    3:15 Error [bad-duration] `30` has no unit or an unknown one (units: y, w, d, h, m, s, ms)
    4:3 Error [root-route-matchers] the root route must not have matchers: every alert enters it
    4:14 Error [bad-matcher] bad matcher: `severity`: expected an operator (=, !=, =~, !~) after `severity`, e.g. `severity="value"`
    7:29 Error [unknown-time-interval] time interval `weekend` is not defined
    8:7 Error [unknown-key] unknown key `grup_by` in a route
    11:23 Error [bad-url] a webhook config needs `url:` with an http:// or https:// address
    12:5 Warning [unsupported-integration] `pagerduty_configs` is not supported: alerts routed to this receiver are not sent to pagerduty
    14:21 Error [missing-key] an email config needs `from:` (or `global.smtp_from`)
    14:21 Error [missing-key] an email config needs `smarthost:` (or `global.smtp_smarthost`)
    15:1 Warning [unsupported-setting] notification template files are not read; Ferry renders its default texts
    "#);
}

#[test]
fn a_file_that_is_not_a_config_says_so() {
    assert!(compile("").0.is_none());
    assert_eq!(render(&compile("").1), "1:1 Error [empty-file] the file holds no Alertmanager configuration");
    let (config, diagnostics) = compile("route: [1]\nreceivers: []\n");
    assert!(config.is_none());
    assert!(render(&diagnostics).contains("[wrong-type]"), "{}", render(&diagnostics));
    assert!(compile_valid("receivers: []\n").is_err());
}
