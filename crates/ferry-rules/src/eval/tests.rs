//! A group evaluated step by step over an in-memory store: the alert lifecycle, recorded
//! series, `ALERTS`, stale markers and restoring `for` after a restart.

use super::*;
use crate::file::load_rule_file;

const RULES: &str = r#"
groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: job:up:sum == 0
        for: 2m
        keep_firing_for: 1m
        labels: {severity: "{{ if eq $value 0.0 }}page{{ end }}"}
        annotations: {summary: "{{ $labels.job }} has {{ $value }} up"}
"#;

fn group() -> Group {
    load_rule_file("rules.yml", RULES).unwrap_or_else(|error| panic!("{error}")).groups.remove(0)
}

fn up(storage: &MemoryStorage, t: i64, v: f64) {
    storage.add(Labels::new([("__name__", "up"), ("job", "api"), ("instance", "a")]), t, v);
}

/// The alert's state after evaluating at each minute with `up` values in turn.
fn lifecycle(values: &[f64]) -> Vec<String> {
    let group = group();
    let storage = MemoryStorage::default();
    let mut state = GroupState::default();
    let mut trace = Vec::new();
    for (minute, v) in values.iter().enumerate() {
        let t = minute as i64 * 60_000;
        up(&storage, t, *v);
        eval_group(&group, &mut state, &storage, t, &EvalOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let alerts: Vec<String> = state.rules[1]
            .active
            .values()
            .map(|a| format!("{}@{}", a.state.as_str(), a.active_at_ms / 60_000))
            .collect();
        trace.push(format!("{minute}:{}", alerts.join(",")));
    }
    trace
}

#[test]
fn an_alert_is_pending_for_its_for_then_fires_and_keeps_firing_for_its_keep_firing_for() {
    assert_eq!(
        lifecycle(&[1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]),
        ["0:", "1:pending@1", "2:pending@1", "3:firing@1", "4:firing@1", "5:inactive@1", "6:inactive@1"]
    );
    // A pending alert that clears is forgotten at once.
    assert_eq!(lifecycle(&[0.0, 1.0, 0.0]), ["0:pending@0", "1:", "2:pending@2"]);
}

#[test]
fn alerts_and_recorded_series_are_written_and_go_stale() {
    let group = group();
    let storage = MemoryStorage::default();
    let mut state = GroupState::default();
    for minute in 0..4 {
        let t = minute * 60_000;
        up(&storage, t, if minute < 3 { 0.0 } else { 1.0 });
        eval_group(&group, &mut state, &storage, t, &EvalOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    }
    let query = |q: &str, t: i64| match ferry_promql::instant_query(&storage, q, t, &QueryOptions::default()) {
        Ok(value) => value.data_json()["result"].to_string(),
        Err(error) => error.to_string(),
    };
    assert_eq!(
        query("ALERTS", 120_000),
        r#"[{"metric":{"__name__":"ALERTS","alertname":"Down","alertstate":"firing","job":"api","severity":"page"},"value":[120.0,"1"]}]"#
    );
    assert_eq!(
        query("ALERTS_FOR_STATE", 60_000),
        r#"[{"metric":{"__name__":"ALERTS_FOR_STATE","alertname":"Down","job":"api","severity":"page"},"value":[60.0,"0"]}]"#
    );
    // Keep-firing holds the alert at minute 3; annotations follow the newest value.
    assert_eq!(
        state.rules[1].active.values().next().map(|a| a.annotations.clone()),
        Some(vec![("summary".to_owned(), "api has 0 up".to_owned())])
    );
    assert_eq!(
        query("job:up:sum", 180_000),
        r#"[{"metric":{"__name__":"job:up:sum","job":"api"},"value":[180.0,"1"]}]"#
    );
}

#[test]
fn a_restart_restores_when_an_alert_became_active() {
    let group = group();
    let storage = MemoryStorage::default();
    let mut state = GroupState::default();
    for minute in 0..2 {
        let t = minute * 60_000;
        up(&storage, t, 0.0);
        eval_group(&group, &mut state, &storage, t, &EvalOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    }
    // A new process: fresh state, the same store.
    let mut restarted = GroupState::default();
    let t = 150_000;
    up(&storage, t, 0.0);
    eval_group(&group, &mut restarted, &storage, t, &EvalOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let alert = restarted.rules[1].active.values().next().cloned().unwrap_or_else(|| panic!("no alert"));
    assert_eq!((alert.active_at_ms, alert.state), (0, AlertState::Firing));
}

#[test]
fn a_limit_refuses_a_rule_that_gives_too_much() {
    let mut group = group();
    group.limit = 1;
    let storage = MemoryStorage::default();
    storage.add(Labels::new([("__name__", "up"), ("job", "a")]), 0, 1.0);
    storage.add(Labels::new([("__name__", "up"), ("job", "b")]), 0, 1.0);
    let mut state = GroupState::default();
    eval_group(&group, &mut state, &storage, 0, &EvalOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state.rules[0].last_error.as_deref(), Some("exceeded limit 1 with 2 series"));
}
