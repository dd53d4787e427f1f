//! Templates as rule files write them, expanded as Prometheus expands them.

use super::{ALERT_VARIABLES, Template, Value, alert_context};
use crate::eval::RuleError;
use ferry_promql::Labels;
use std::sync::Arc;

fn expand(text: &str, labels: &[(&str, &str)], value: f64) -> String {
    let query = |q: &str| -> Result<Value, RuleError> {
        Ok(Value::List(Arc::new(vec![
            Value::sample(Value::labels([("instance", "b"), ("q", q)]), 2.0),
            Value::sample(Value::labels([("instance", "a"), ("q", q)]), 1.0),
        ])))
    };
    let labels = Labels::new(labels.iter().copied());
    let external = Labels::new([("environment", "production")]);
    let template = match Template::parse("t", text, ALERT_VARIABLES) {
        Ok(template) => template,
        Err(error) => return format!("parse error: {error}"),
    };
    let mut cx = alert_context(&labels, &external, "http://ferry", value, &query);
    template.execute(&mut cx).unwrap_or_else(|error| format!("exec error: {error}"))
}

#[test]
fn alert_templates_expand_as_prometheus_does() {
    let labels = [("instance", "web-1:9100"), ("job", "node")];
    assert_eq!(expand("Instance {{ $labels.instance }} down", &labels, 1.0), "Instance web-1:9100 down");
    assert_eq!(expand("{{$labels.missing}}|", &labels, 1.0), "|");
    assert_eq!(expand("{{ $value | humanize }}", &labels, 12345.0), "12.35k");
    assert_eq!(expand("{{ $value | humanizePercentage }}", &labels, 0.1234), "12.34%");
    assert_eq!(expand("{{ printf \"%.2f\" $value }}", &labels, 2.0 / 3.0), "0.67");
    assert_eq!(expand("{{ $value | printf \"%.0f\" }}", &labels, 2.6), "3");
    assert_eq!(expand("{{ .Labels.job }} {{ .Value }}", &labels, 0.5), "node 0.5");
    assert_eq!(
        expand("{{ if eq .ExternalLabels.environment \"production\" }}prod{{ else }}other{{ end }}", &labels, 1.0),
        "prod"
    );
    assert_eq!(
        expand(
            "{{ if eq $externalLabels.environment \"x\" }}x{{ else if gt $value 1.0 }}big{{ else }}small{{ end }}",
            &labels,
            2.0
        ),
        "big"
    );
    assert_eq!(expand("{{ with $labels.job -}}\n  job={{ . }}\n{{- end }}", &labels, 1.0), "job=node");
    assert_eq!(
        expand("{{ $s := \"\" }}{{ if gt $value 1.0 }}{{ $s = \"s\" }}{{ end }}item{{ $s }}", &labels, 2.0),
        "items"
    );
    assert_eq!(
        expand(
            "{{ range query \"up\" | sortByLabel \"instance\" }}{{ .Labels.instance }}={{ .Value }};{{ end }}",
            &labels,
            1.0
        ),
        "a=1;b=2;"
    );
    assert_eq!(expand("{{ with query \"up\" }}{{ . | first | value }}{{ end }}", &labels, 1.0), "2");
    assert_eq!(expand("{{ \"43200\" | humanizeDuration }}", &labels, 1.0), "12h 0m 0s");
    assert_eq!(expand("{{ $labels.job | toUpper }} {{ title \"a b\" }}", &labels, 1.0), "NODE A B");
    assert_eq!(expand("{{/* a comment */}}x", &labels, 1.0), "x");
    assert_eq!(expand("{{ $labels }}", &labels, 1.0), "map[instance:web-1:9100 job:node]");
}

#[test]
fn unknown_functions_and_variables_are_parse_errors_naming_them() {
    assert_eq!(
        expand("{{ humanise $value }}", &[], 1.0),
        "parse error: template: t:1: function \"humanise\" not defined"
    );
    assert_eq!(expand("{{ $nope }}", &[], 1.0), "parse error: template: t:1: undefined variable \"$nope\"");
    assert_eq!(expand("{{ if 1 }}x", &[], 1.0), "parse error: template: t:1: unexpected EOF");
    assert_eq!(
        expand("a\n{{ .Nope }}", &[], 1.0),
        "exec error: template: t:2: can't evaluate field Nope in type struct"
    );
}
