//! The SLO compilation: queries of each kind of SLI, the rule file's groups, recording rules
//! and burn-rate alerts, and the budget arithmetic, against hand-written expectations.

use ferry_proto::slos::SloStatus;

use super::*;

const DEPLOY: &str = r#"
environments:
  staging: {}
  production: { error-budget: hold }
services:
  web:
    run: ./web
    deploy:
      staging: { port: 8001 }
      production: { port: 8002 }
    slos:
      - name: availability
        objective: 99.9
        sli: proxy-availability
      - name: latency
        objective: 99
        window: 7d
        sli: { proxy-latency: 250ms }
      - name: checkout
        objective: 99.5
        sli:
          errors: sum(rate(checkout_failures_total[{{.window}}]))
          total: sum(rate(checkout_requests_total[{{.window}}]))
"#;

fn spec() -> DeploySpec {
    let (spec, diagnostics) = crate::compile(DEPLOY);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    spec.expect("a spec")
}

fn slo(name: &str) -> Slo {
    spec().service("web").and_then(|web| web.slos.iter().find(|slo| slo.name == name).cloned()).expect("the SLO")
}

#[test]
fn the_slos_read_with_their_defaults() {
    let spec = spec();
    let web = spec.service("web").expect("web");
    let read: Vec<(&str, f64, u64, &Sli)> =
        web.slos.iter().map(|slo| (slo.name.as_str(), slo.objective, slo.window_ms, &slo.sli)).collect();
    assert_eq!(
        read,
        [
            ("availability", 99.9, 30 * 86_400_000, &Sli::ProxyAvailability),
            ("latency", 99.0, 7 * 86_400_000, &Sli::ProxyLatency { threshold_ms: 250.0 }),
            (
                "checkout",
                99.5,
                30 * 86_400_000,
                &Sli::Ratio {
                    errors: "sum(rate(checkout_failures_total[{{.window}}]))".to_owned(),
                    total: "sum(rate(checkout_requests_total[{{.window}}]))".to_owned()
                }
            ),
        ]
    );
    assert_eq!(
        spec.environments.iter().map(|environment| environment.error_budget).collect::<Vec<_>>(),
        [crate::ErrorBudgetPolicy::None, crate::ErrorBudgetPolicy::Hold]
    );
}

#[test]
fn each_sli_gives_its_error_ratio_query() {
    assert_eq!(
        slo("availability").error_ratio_query("shop", "web", "production", "1h"),
        "sum(rate(ferry_proxy_requests_total{project=\"shop\",service=\"web\",environment=\"production\",code_class=\"5xx\"}[1h]) \
         or rate(ferry_proxy_unrouted_requests_total{project=\"shop\",service=\"web\",environment=\"production\"}[1h])) \
         / sum(rate(ferry_proxy_requests_total{project=\"shop\",service=\"web\",environment=\"production\"}[1h]) \
         or rate(ferry_proxy_unrouted_requests_total{project=\"shop\",service=\"web\",environment=\"production\"}[1h]))"
    );
    assert_eq!(
        slo("latency").error_ratio_query("shop", "web", "staging", "5m"),
        "1 - sum(rate(ferry_proxy_request_duration_seconds_bucket{project=\"shop\",service=\"web\",environment=\"staging\",le=\"0.25\"}[5m])) \
         / sum(rate(ferry_proxy_request_duration_seconds_count{project=\"shop\",service=\"web\",environment=\"staging\"}[5m]))"
    );
    assert_eq!(
        slo("checkout").error_ratio_query("shop", "web", "production", "30d"),
        "(sum(rate(checkout_failures_total[30d]))) / (sum(rate(checkout_requests_total[30d])))"
    );
}

#[test]
fn windows_are_written_as_promql_reads_them() {
    assert_eq!(
        [30 * 86_400_000, 3_600_000, 90 * 60_000, 1_500, 45_000].map(promql_duration),
        ["30d", "1h", "90m", "1500ms", "45s"]
    );
    assert_eq!((slo("availability").window(), slo("latency").window()), ("30d".to_owned(), "7d".to_owned()));
}

#[test]
fn the_budget_left_is_one_minus_errors_over_the_budget() {
    // 99.9 %: a budget of 0.1 % of the events.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(budget_remaining(99.9, 0.0), 1.0));
    assert!(close(budget_remaining(99.9, 0.0005), 0.5));
    assert!(close(budget_remaining(99.9, 0.001), 0.0));
    assert!(close(budget_remaining(99.9, 0.003), -2.0));
    assert!(close(slo("latency").budget(), 0.01));
    // Exactly the budget spent leaves exactly nothing, not a float's noise below it.
    assert_eq!(budget_remaining(99.9, 0.001), 0.0);
    assert_eq!(
        [Some(0.0005), Some(0.001), Some(0.003), None, Some(f64::NAN)].map(|ratio| status(ratio, 99.9)),
        [SloStatus::Ok, SloStatus::Exhausted, SloStatus::Exhausted, SloStatus::NoData, SloStatus::NoData]
    );
    assert_eq!([budget_percent(99.9), budget_percent(99.0), budget_percent(99.95)], ["0.1", "1", "0.05"]);
}

#[test]
fn the_rule_file_has_a_group_per_slo_and_environment() {
    let file = rule_file("shop", &spec());
    let groups: Vec<&str> = file.lines().filter_map(|line| line.strip_prefix("  - name: ")).collect();
    assert_eq!(
        groups,
        [
            "\"slo:web:staging:availability\"",
            "\"slo:web:production:availability\"",
            "\"slo:web:staging:latency\"",
            "\"slo:web:production:latency\"",
            "\"slo:web:staging:checkout\"",
            "\"slo:web:production:checkout\"",
        ]
    );
    // Each group: five recording rules, then the page and ticket alerts.
    let rules: Vec<&str> = file
        .lines()
        .filter_map(|line| line.strip_prefix("      - record: ").or_else(|| line.strip_prefix("      - alert: ")))
        .take(7)
        .collect();
    assert_eq!(
        rules,
        [
            "slo:sli_error:ratio_rate5m",
            "slo:sli_error:ratio_rate30m",
            "slo:sli_error:ratio_rate1h",
            "slo:sli_error:ratio_rate6h",
            "slo:sli_error:ratio_rate3d",
            "ErrorBudgetBurn",
            "ErrorBudgetBurn",
        ]
    );
    let sel = r#"project=\"shop\",service=\"web\",environment=\"production\",slo=\"availability\""#;
    let page = format!(
        r#"        expr: "(slo:sli_error:ratio_rate1h{{{sel}}} > (14.4 * (100 - 99.9) / 100) and slo:sli_error:ratio_rate5m{{{sel}}} > (14.4 * (100 - 99.9) / 100)) or (slo:sli_error:ratio_rate6h{{{sel}}} > (6 * (100 - 99.9) / 100) and slo:sli_error:ratio_rate30m{{{sel}}} > (6 * (100 - 99.9) / 100))""#
    );
    assert!(file.lines().any(|line| line == page), "{file}");
    let ticket = format!(
        r#"        expr: "(slo:sli_error:ratio_rate3d{{{sel}}} > (1 * (100 - 99.9) / 100) and slo:sli_error:ratio_rate6h{{{sel}}} > (1 * (100 - 99.9) / 100))""#
    );
    assert!(file.lines().any(|line| line == ticket), "{file}");
    assert!(file.contains(
        "          summary: \"web in production burns the error budget of SLO availability (99.9 % over 30d) too fast\"\n"
    ));
    assert!(file.contains("          severity: \"page\"\n") && file.contains("          severity: \"ticket\"\n"));
}

#[test]
fn a_file_without_slos_has_no_groups() {
    let (spec, _) = crate::compile(
        "environments: { staging: {} }\nservices: { web: { run: x, deploy: { staging: { port: 1 } } } }\n",
    );
    assert_eq!(rule_file("shop", &spec.expect("a spec")), "groups: []\n");
}
