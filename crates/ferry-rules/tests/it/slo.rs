//! The proof of the SLOs' burn-rate alerts: the rule file `ferry_deploy::slo::rule_file`
//! compiles from a deploy.yml, fed synthetic proxy counters at one-minute steps, must fire
//! the page alert on an error spike, only the ticket alert on a slow burn, and nothing
//! without errors, at the minutes computed by hand below, in Debian's `promtool test rules`
//! and in `ferry-rules` alike.
//!
//! The SLO is 99.9 % (a budget of 0.1 %). Six hours of clean traffic come first, so each
//! window holds whole minutes of samples and `rate` does not extrapolate: each error ratio
//! is the errors over the requests counted in the window.

use std::process::Command;

use crate::run_file;

const DEPLOY: &str = "
environments: { production: { error-budget: hold } }
services:
  web:
    run: ./web
    deploy: { production: { port: 8002 } }
    slos:
      - name: availability
        objective: 99.9
        sli: proxy-availability
";

const SERIES: &str =
    r#"ferry_proxy_requests_total{project="shop",service="web",environment="production",release="1",code_class="#;

/// A test file of `input` (promtool's `input_series` items) and `checks` (its
/// `alert_rule_test` items) over the compiled rules.
fn test_file(input: &str, checks: &str) -> String {
    format!(
        "rule_files: [slo.rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{input}    alert_rule_test:\n{checks}"
    )
}

fn series(code_class: &str, values: &str) -> String {
    format!("      - series: '{SERIES}\"{code_class}\"}}'\n        values: '{values}'\n")
}

/// One expected alert of the SLO, with its severity and the error ratio of its long window
/// as `humanizePercentage` writes it.
fn alert(severity: &str, ratio: &str) -> String {
    let (factors, pairs) = match severity {
        "page" => ("14.4 or 6", "14.4× over 1h and 5m, or 6× over 6h and 30m"),
        _ => ("1", "1× over 3d and 6h"),
    };
    format!(
        "          - exp_labels: {{ project: shop, service: web, environment: production, slo: availability, severity: {severity} }}
            exp_annotations:
              summary: \"web in production burns the error budget of SLO availability (99.9 % over 30d) too fast\"
              description: \"The error ratio is {ratio} over the long window, above {factors} times the budget of 0.1 %. Burn rates that fire it: {pairs}.\"
"
    )
}

fn check(minute: u32, alerts: &[String]) -> String {
    let alerts = if alerts.is_empty() { " []\n".to_owned() } else { format!("\n{}", alerts.concat()) };
    format!("      - eval_time: {minute}m\n        alertname: ErrorBudgetBurn\n        exp_alerts:{alerts}")
}

/// Runs `test` over the compiled rules through promtool and ferry-rules: (passed, output) of each.
fn run_both(test: &str) -> [(bool, String); 2] {
    let (spec, diagnostics) = ferry_deploy::compile(DEPLOY);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let rules = ferry_deploy::slo::rule_file("shop", &spec.expect("a spec"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("slo.rules.yml"), &rules).expect("writing the rules");
    std::fs::write(dir.path().join("slo.test.yml"), test).expect("writing the test");
    let output = Command::new("promtool")
        .args(["test", "rules", "slo.test.yml"])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|error| panic!("running promtool (Debian's `prometheus` package): {error}"));
    let promtool = (
        output.status.success(),
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    );
    let report = run_file(&dir.path().join("slo.test.yml"), "slo.test.yml");
    [promtool, (report.passed, format!("{}{}", report.stdout, report.stderr))]
}

fn assert_passes(test: &str) {
    for (tool, (passed, output)) in ["promtool", "ferry-rules"].into_iter().zip(run_both(test)) {
        assert!(passed, "{tool} failed:\n{output}\n--- test file:\n{test}");
    }
}

/// 100 requests a minute; from minute 361 on, 10 of them fail (a 10 % error ratio, a burn
/// rate of 100). At minute 360 + k, the hour before holds 10k errors in 6000 requests: the
/// page's pair 14.4 × 0.1 % = 1.44 % over 1h (and 5m, at 10 %) is passed at k = 9
/// (1.5 %; k = 8 gives 1.33 %); its other pair, 0.6 % over 6h (10k / 36000), only at
/// k = 22. The ticket (0.1 % over 3d and 6h) fires from k = 4: over 3d, the 10k errors of
/// 36000 + 100k requests since minute 0.
#[test]
fn an_error_spike_pages_once_an_hour_burns_fourteen_times_the_budget() {
    let input = series("2xx", "0+100x360 36090+90x119") + &series("5xx", "0x360 10+10x119");
    let checks = [
        check(363, &[]),
        // k = 4: 40 / 36400 over 3d, 40 / 36000 over 6h.
        check(364, &[alert("ticket", "0.1099%")]),
        // k = 8: 80 / 36800 over 3d; the hour holds 80 / 6000 = 1.33 %.
        check(368, &[alert("ticket", "0.2174%")]),
        // k = 9: 90 / 6000 = 1.5 % over the hour.
        check(369, &[alert("page", "1.5%"), alert("ticket", "0.2439%")]),
    ]
    .concat();
    assert_passes(&test_file(&input, &checks));
}

/// 1000 requests a minute of which 3 fail from the start: 0.3 %, a burn rate of 3 (the
/// budget of 30 days spent in 10). Above 1× over 3d and 6h: a ticket; below 6× and 14.4×:
/// no page.
#[test]
fn a_slow_burn_opens_only_a_ticket() {
    let input = series("2xx", "0+997x480") + &series("5xx", "0+3x480");
    let checks = [check(420, &[alert("ticket", "0.3%")]), check(480, &[alert("ticket", "0.3%")])].concat();
    assert_passes(&test_file(&input, &checks));
}

#[test]
fn without_errors_nothing_fires() {
    let input = series("2xx", "0+100x480") + &series("5xx", "0x480");
    let checks = [check(60, &[]), check(420, &[]), check(480, &[])].concat();
    assert_passes(&test_file(&input, &checks));
}

/// The expectation is wrong on purpose (the spike's page expected a minute early): both
/// tools must fail it, so the tests above can fail.
#[test]
fn a_page_expected_a_minute_early_fails_in_both() {
    let input = series("2xx", "0+100x360 36090+90x119") + &series("5xx", "0x360 10+10x119");
    let checks = check(368, &[alert("page", "1.333%"), alert("ticket", "0.2174%")]);
    for (tool, (passed, output)) in ["promtool", "ferry-rules"].into_iter().zip(run_both(&test_file(&input, &checks))) {
        assert!(!passed, "{tool} passed a wrong expectation:\n{output}");
    }
}
