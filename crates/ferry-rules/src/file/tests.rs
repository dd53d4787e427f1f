//! Rule files read and refused with positions.

use super::*;

fn errors(src: &str) -> String {
    match load_rule_file("rules.yml", src) {
        Ok(_) => "ok".to_owned(),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_rule_file_reads_into_groups_and_rules() {
    let src = r#"
groups:
  - name: node
    interval: 30s
    limit: 10
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {team: infra}
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        keep_firing_for: 10m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} down"
"#;
    let file = load_rule_file("rules.yml", src).unwrap_or_else(|error| panic!("{error}"));
    let group = &file.groups[0];
    assert_eq!((group.name.as_str(), group.interval_ms, group.limit), ("node", Some(30_000), 10));
    assert_eq!(group.rules[0].kind, RuleKind::Recording);
    let alert = &group.rules[1];
    assert_eq!((alert.name.as_str(), alert.for_ms, alert.keep_firing_for_ms), ("InstanceDown", 300_000, 600_000));
    assert_eq!(alert.span.start.line, 10);
    assert!(alert.annotations[0].template.is_some());
}

#[test]
fn mistakes_are_reported_at_their_line_and_column() {
    let src = r#"groups:
  - name: g
    rules:
      - record: "bad name"
        expr: up
      - alert: A
        expr: up ==
      - alert: B
        expr: up
        annotations:
          summary: "{{ humanise $value }}"
      - record: r
        expr: up
        for: 5m
      - alret: C
  - name: g
"#;
    insta::assert_snapshot!(errors(src), @r#"
    rules.yml:4:17: invalid recording rule name: bad name (use letters, digits, `_` and `:`)
    rules.yml:7:15: could not parse expression: invalid promql query (fix the PromQL query)
    rules.yml:11:20: summary: template: __alert_B:1: function "humanise" not defined (fix the Go template)
    rules.yml:14:9: invalid field 'for' in recording rule (remove it)
    rules.yml:15:9: unknown key `alret` in a rule (did you mean `alert`?)
    rules.yml:15:9: one of 'record' or 'alert' must be set (add `record:` or `alert:`)
    rules.yml:16:5: groupname: "g" is repeated in the same file (give each group of a file its own name)
    "#);
}
