//! Test files run in memory, with promtool's report.

use super::*;

const RULES: &str = r#"
groups:
  - name: alerts
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "Instance {{ $labels.instance }} down"
          description: "{{ $labels.instance }} of job {{ $labels.job }} has been down for more than 5 minutes."
      - alert: AlwaysFiring
        expr: 1
  - name: rules
    rules:
      - record: job:test:count_over_time1m
        expr: sum without(instance) (count_over_time(test[1m]))
      - record: fixed_data
        expr: 1
"#;

fn run(test: &str) -> TestReport {
    run_test_file("test.yml", test, &|pattern| {
        if pattern == "rules.yml" {
            vec![RuleSource { path: "rules.yml".to_owned(), text: Ok(RULES.to_owned()) }]
        } else {
            Vec::new()
        }
    })
}

#[test]
fn passing_tests_report_success() {
    let report = run(r#"
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="prometheus", instance="localhost:9090"}'
        values: "0+0x1440"
    promql_expr_test:
      - expr: count(ALERTS) by (alertname, alertstate)
        eval_time: 4m
        exp_samples:
          - labels: '{alertname="AlwaysFiring",alertstate="firing"}'
            value: 1
          - labels: '{alertname="InstanceDown",alertstate="pending"}'
            value: 1
    alert_rule_test:
      - eval_time: 1d
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {severity: page, instance: "localhost:9090", job: prometheus}
            exp_annotations:
              summary: "Instance localhost:9090 down"
              description: "localhost:9090 of job prometheus has been down for more than 5 minutes."
      - eval_time: 0
        alertname: InstanceDown
  - interval: 1s
    input_series:
      - series: 'test{job="test", instance="x:0"}'
        values: "0+1x120"
    promql_expr_test:
      # Prometheus 2 ranges include both ends: 61 samples (Prometheus 3 counts 60).
      - expr: job:test:count_over_time1m
        eval_time: 1m
        exp_samples:
          - value: 61
            labels: 'job:test:count_over_time1m{job="test"}'
      - expr: timestamp(job:test:count_over_time1m)
        eval_time: 2m59s999ms
        exp_samples:
          - value: 120
            labels: '{job="test"}'
"#);
    assert_eq!(
        (report.stdout.as_str(), report.stderr.as_str(), report.passed),
        ("Unit Testing:  test.yml\n  SUCCESS\n\n", "", true)
    );
}

#[test]
fn failing_tests_report_as_promtool_does() {
    let report = run(r#"
rule_files:
  - rules.yml
  - missing-*.yml

tests:
  - interval: 1m
    name: "Failing test"
    input_series:
      - series: test
        values: '0'
    promql_expr_test:
      - expr: test
        eval_time: 0m
        exp_samples:
          - value: 1
            labels: test
    alert_rule_test:
      - eval_time: 0m
        alertname: Test
        exp_alerts:
          - exp_labels: {}
  - interval: 1m
    name: Failing alert test
    input_series:
      - series: 'up{job="test"}'
        values: 0x10
    alert_rule_test:
      - eval_time: 5m
        alertname: InstanceDown
        exp_alerts: []
"#);
    assert!(!report.passed);
    assert_eq!(report.stdout, "Unit Testing:  test.yml\n\n\n\n\n");
    insta::assert_snapshot!(report.stderr, @r#"
      WARNING: no file match pattern missing-*.yml
      FAILED:
        name: Failing test,
        alertname: Test, time: 0s, 
            exp:[
                0:
                  Labels:{alertname="Test"}
                  Annotations:{}
                ], 
            got:[]
        expr: "test", time: 0s,
            exp: {__name__="test"} 1E+00
            got: {__name__="test"} 0E+00
        name: Failing alert test,
        alertname: InstanceDown, time: 5m, 
            exp:[], 
            got:[
                0:
                  Labels:{alertname="InstanceDown", job="test", severity="page"}
                  Annotations:{description=" of job test has been down for more than 5 minutes.", summary="Instance  down"}
                ]
    "#);
}

#[test]
fn unknown_fields_are_refused_as_yaml_v2_refuses_them() {
    let report = run("rule_files: [rules.yml]\ntests:\n  - intervall: 1m\n");
    assert_eq!(
        report.stderr,
        "  FAILED:\nyaml: unmarshal errors:\n  line 3: field intervall not found in type main.testGroup\n"
    );
}
