//! Replay tests: alerts and times in, the notifications Alertmanager would send out.

use super::*;
use crate::matcher::parse_matchers;

const CONFIG: &str = r#"
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  routes:
    - matchers: [team="db"]
      receiver: db
      group_by: [alertname, cluster]
      routes:
        - matchers: [severity="page"]
          receiver: pager
          continue: true
        - matchers: [severity="page"]
          receiver: quiet
    - matchers: [team="night"]
      receiver: hook
      mute_time_intervals: [nights]
    - matchers: [team="office"]
      receiver: hook
      active_time_intervals: [office]
receivers:
  - name: hook
    webhook_configs: [{ url: 'http://127.0.0.1:1/' }]
  - name: db
    webhook_configs: [{ url: 'http://127.0.0.1:2/', send_resolved: false }]
  - name: pager
    webhook_configs: [{ url: 'http://127.0.0.1:3/' }]
  - name: quiet
    webhook_configs: [{ url: 'http://127.0.0.1:4/' }]
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname]
time_intervals:
  - name: nights
    time_intervals: [{ times: [{ start_time: '00:00', end_time: '06:00' }] }]
  - name: office
    time_intervals: [{ times: [{ start_time: '09:00', end_time: '17:00' }] }]
"#;

const S: i64 = 1_000;
const M: i64 = 60 * S;
/// 2026-12-07T12:00:00Z, a Monday noon: inside `office`, outside `nights`.
const NOON: i64 = 1_796_644_800_000;

fn dispatcher() -> Dispatcher {
    let (config, diagnostics) = crate::config::compile(CONFIG);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    Dispatcher::new(config.expect("the test config"))
}

fn alert(labels: &str) -> Alert {
    Alert {
        labels: labels
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect(),
        annotations: Labels::new(),
        starts_at: None,
        ends_at: None,
        generator_url: String::new(),
    }
}

fn resolved(labels: &str, at: i64) -> Alert {
    Alert { ends_at: Some(at), ..alert(labels) }
}

/// Flushes what is due at `now`, records every notification as delivered, and describes them.
fn flush(dispatcher: &mut Dispatcher, now: i64) -> Vec<String> {
    let notifications = dispatcher.flush_due(now);
    notifications
        .into_iter()
        .map(|notification| {
            let alerts: Vec<String> = notification
                .alerts
                .iter()
                .map(|alert| {
                    let name =
                        alert.labels.get("instance").or(alert.labels.get("alertname")).cloned().unwrap_or_default();
                    if alert.resolved() { format!("{name}(resolved)") } else { name }
                })
                .collect();
            let line = format!(
                "+{}s {} {}: {} [{}]",
                (now - NOON) / S,
                notification.receiver,
                notification.status(),
                alerts.join(" "),
                notification.reason.as_str()
            );
            dispatcher.sent(notification.entry);
            line
        })
        .collect()
}

/// Steps through `until` in steps of one second, receiving `inputs` at their times.
fn replay(dispatcher: &mut Dispatcher, inputs: Vec<(i64, Vec<Alert>)>, until: i64) -> String {
    let mut lines = Vec::new();
    let mut t = NOON;
    while t <= NOON + until {
        for (at, alerts) in &inputs {
            if NOON + at == t {
                dispatcher.receive(alerts.clone(), t);
            }
        }
        if dispatcher.next_flush().is_some_and(|next| next <= t) {
            lines.extend(flush(dispatcher, t));
        }
        t += S;
    }
    lines.join("\n")
}

#[test]
fn a_group_waits_then_batches_then_repeats() {
    let mut dispatcher = dispatcher();
    // Alerts without `endsAt` resolve five minutes after they were last received, so their
    // source sends them again every minute, as Prometheus does.
    let mut inputs = vec![(10 * S, vec![alert("alertname=Down,instance=b")])];
    for minute in 0..=75 {
        let mut alerts = vec![alert("alertname=Down,instance=a")];
        if minute >= 1 {
            alerts.push(alert("alertname=Down,instance=b"));
            alerts.push(alert("alertname=Down,instance=c"));
        }
        inputs.push((minute * M, alerts));
    }
    let trace = replay(&mut dispatcher, inputs, 75 * M);
    // The flush at +3930s is exactly an hour after the last notification: not yet past
    // `repeat_interval` (Alertmanager compares strictly), so the repeat waits a group interval.
    insta::assert_snapshot!(trace, @r"
    +30s hook firing: a b [first notification]
    +330s hook firing: a b c [new alerts added]
    +4230s hook firing: a b c [repeat interval elapsed]
    ");
}

#[test]
fn resolved_alerts_are_sent_once_when_send_resolved() {
    let mut dispatcher = dispatcher();
    let trace = replay(
        &mut dispatcher,
        vec![
            (
                0,
                vec![
                    alert("alertname=Disk,instance=a"),
                    Alert { ends_at: Some(NOON + 400 * S), ..alert("alertname=Disk,instance=b") },
                ],
            ),
            (60 * S, vec![resolved("alertname=Disk,instance=a", NOON + 60 * S)]),
        ],
        20 * M,
    );
    insta::assert_snapshot!(trace, @r"
    +30s hook firing: a b [first notification]
    +330s hook firing: a(resolved) b [some alerts resolved]
    +630s hook resolved: b(resolved) [all alerts resolved]
    ");
}

#[test]
fn without_send_resolved_only_firing_alerts_are_sent() {
    let mut dispatcher = dispatcher();
    let trace = replay(
        &mut dispatcher,
        vec![
            (
                0,
                vec![
                    alert("alertname=Slow,team=db,cluster=x,instance=a"),
                    alert("alertname=Slow,team=db,cluster=x,instance=b"),
                ],
            ),
            (60 * S, vec![resolved("alertname=Slow,team=db,cluster=x,instance=a", NOON + 60 * S)]),
            (400 * S, vec![resolved("alertname=Slow,team=db,cluster=x,instance=b", NOON + 400 * S)]),
        ],
        20 * M,
    );
    // The log forgets `b` silently when it resolves: nothing is sent to `db` then.
    insta::assert_snapshot!(trace, @"+30s db firing: a b [first notification]");
    assert!(dispatcher.log().all(|entry| entry.firing.is_empty()));
}

#[test]
fn continue_sends_to_both_routes() {
    let mut dispatcher = dispatcher();
    let trace =
        replay(&mut dispatcher, vec![(0, vec![alert("alertname=Lag,team=db,cluster=x,severity=page")])], 40 * S);
    insta::assert_snapshot!(trace, @r"
    +30s pager firing: Lag [first notification]
    +30s quiet firing: Lag [first notification]
    ");
}

#[test]
fn silences_and_inhibition_hold_alerts_back() {
    let mut dispatcher = dispatcher();
    let silence = Silence {
        id: "s1".to_owned(),
        matchers: parse_matchers(r#"instance="a""#).expect("the test's input is valid"),
        starts_at: NOON,
        ends_at: NOON + 10 * M,
        updated_at: NOON,
        created_by: "ops".to_owned(),
        comment: "maintenance".to_owned(),
    };
    dispatcher.add_silence(silence, NOON).expect("the test's input is valid");
    let trace = replay(
        &mut dispatcher,
        vec![
            (0, vec![alert("alertname=Cpu,instance=a"), alert("alertname=Mem,instance=b,severity=warning")]),
            (0, vec![alert("alertname=Mem,instance=c,severity=critical")]),
        ],
        40 * S,
    );
    insta::assert_snapshot!(trace, @"+30s hook firing: c [first notification]");
    let states: Vec<(&str, Vec<String>, Vec<u64>)> = dispatcher
        .alerts(NOON + 40 * S)
        .into_iter()
        .map(|status| (status.state, status.silenced_by, status.inhibited_by.iter().map(|_| 1).collect()))
        .collect();
    assert!(states.contains(&("suppressed", vec!["s1".to_owned()], vec![])), "{states:?}");
    assert!(states.contains(&("suppressed", vec![], vec![1])), "{states:?}");
    // Expired, the silence lets `a` through at the group's next flush.
    dispatcher.expire_silence("s1", NOON + 60 * S).expect("the test's input is valid");
    dispatcher.receive(
        vec![
            alert("alertname=Cpu,instance=a"),
            alert("alertname=Mem,instance=b,severity=warning"),
            alert("alertname=Mem,instance=c,severity=critical"),
        ],
        NOON + 60 * S,
    );
    assert_eq!(flush(&mut dispatcher, NOON + 330 * S), ["+330s hook firing: a [first notification]"]);
    assert_eq!(dispatcher.expire_silence("s1", NOON + 400 * S), Err(SilenceError::AlreadyExpired("s1".to_owned())));
}

#[test]
fn time_intervals_mute_and_activate_routes() {
    let mut dispatcher = dispatcher();
    // Noon: `nights` does not mute, `office` is active.
    let trace = replay(
        &mut dispatcher,
        vec![(0, vec![alert("alertname=A,team=night"), alert("alertname=B,team=office")])],
        40 * S,
    );
    insta::assert_snapshot!(trace, @r"
    +30s hook firing: A [first notification]
    +30s hook firing: B [first notification]
    ");
    // At 03:00 the night route is muted and the office route is not active.
    let mut dispatcher = self::dispatcher();
    let three_am = NOON - 9 * 60 * M;
    dispatcher.receive(vec![alert("alertname=A,team=night"), alert("alertname=B,team=office")], three_am);
    assert!(dispatcher.flush_due(three_am + 30 * S).is_empty());
}

#[test]
fn a_restored_dispatcher_does_not_notify_again() {
    let mut dispatcher = dispatcher();
    dispatcher.receive(vec![alert("alertname=Down,instance=a")], NOON);
    assert_eq!(flush(&mut dispatcher, NOON + 30 * S), ["+30s hook firing: a [first notification]"]);
    let state = State {
        alerts: dispatcher.alerts(NOON).into_iter().map(|status| status.alert).collect(),
        log: dispatcher.log().cloned().collect(),
        silences: dispatcher.silences().cloned().collect(),
    };
    // A crash and a restart a minute later; the alert is sent again by its source.
    let config = dispatcher.config().clone();
    let mut restored = Dispatcher::restore(config.clone(), state.clone(), NOON + 90 * S);
    restored.receive(vec![alert("alertname=Down,instance=a")], NOON + 90 * S);
    // The alert is older than group_wait: the group flushes at once, and the log says sent.
    assert_eq!(restored.next_flush(), Some(NOON + 90 * S));
    assert!(flush(&mut restored, NOON + 90 * S).is_empty());
    // Without the log, the same restart would notify again.
    let mut forgetful = Dispatcher::restore(config, State { log: Vec::new(), ..state }, NOON + 90 * S);
    assert_eq!(flush(&mut forgetful, NOON + 90 * S).len(), 1);
}

#[test]
fn alerts_without_an_end_resolve_after_the_resolve_timeout() {
    let mut dispatcher = dispatcher();
    let trace = replay(&mut dispatcher, vec![(0, vec![alert("alertname=Once,instance=a")])], 12 * M);
    insta::assert_snapshot!(trace, @r"
    +30s hook firing: a [first notification]
    +330s hook resolved: a(resolved) [all alerts resolved]
    ");
    let removed = dispatcher.collect_garbage(NOON + 12 * M);
    assert_eq!(removed.alerts.len(), 1);
    assert_eq!(dispatcher.next_flush(), None);
}
