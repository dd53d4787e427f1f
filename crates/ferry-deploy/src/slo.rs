//! Service level objectives (`slos:` of a service in deploy.yml, in Sloth's dialect) compiled
//! into what watches them, without IO:
//!
//! - [`Slo::error_ratio_query`]: the PromQL query of the SLI's error ratio over a window, for
//!   one environment (the built-in SLIs select the proxy's series of the service there);
//! - [`rule_file`]: per SLO and environment, a Prometheus rule group with the recording
//!   rules of the error ratio over [`RECORDED_WINDOWS`] (Sloth's names,
//!   `slo:sli_error:ratio_rate5m` …) and the multi-window multi-burn-rate alerts of the SRE
//!   workbook ([`BURN_ALERTS`]);
//! - [`budget_remaining`] and [`status`]: the error budget left over the SLO's window.

use ferry_proto::slos::SloStatus;
use serde::{Deserialize, Serialize};

use crate::spec::DeploySpec;

/// `window:` of an SLO unless it says otherwise: 30 days.
pub const DEFAULT_WINDOW_MS: u64 = 30 * DAY_MS;
const DAY_MS: u64 = 86_400_000;

/// The text a custom SLI's queries hold where the window goes (Sloth's placeholder).
pub const WINDOW_PLACEHOLDER: &str = "{{.window}}";

/// The windows whose error ratio is recorded (`slo:sli_error:ratio_rate{window}`), as PromQL
/// writes them: what the burn-rate alerts compare.
pub const RECORDED_WINDOWS: [&str; 5] = ["5m", "30m", "1h", "6h", "3d"];

/// A multi-window burn-rate alert: it fires while the error ratio over both windows of any of
/// its pairs is above `factor` times the budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnAlert {
    /// The `severity` label.
    pub severity: &'static str,
    /// `(factor, long window, short window)`.
    pub pairs: &'static [(f64, &'static str, &'static str)],
}

/// The SRE workbook's pairs for a 30-day budget: a page when 2 % of it burns in an hour or
/// 5 % in six hours, a ticket when 10 % burns in three days.
pub const BURN_ALERTS: [BurnAlert; 2] = [
    BurnAlert { severity: "page", pairs: &[(14.4, "1h", "5m"), (6.0, "6h", "30m")] },
    BurnAlert { severity: "ticket", pairs: &[(1.0, "3d", "6h")] },
];

/// The name of the burn-rate alerts (told apart by `severity`).
pub const ALERT_NAME: &str = "ErrorBudgetBurn";

/// The proxy's request counter, by `code_class` (`5xx` …).
const REQUESTS: &str = "ferry_proxy_requests_total";
/// The requests no healthy replica could take (answered 503 by the proxy).
const UNROUTED: &str = "ferry_proxy_unrouted_requests_total";
/// The proxy's histogram of the time to a response's headers.
const DURATION: &str = "ferry_proxy_request_duration_seconds";

/// An objective of a service: the share of good events it promises over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    pub name: String,
    /// In percent, strictly between 0 and 100.
    pub objective: f64,
    pub window_ms: u64,
    pub sli: Sli,
}

/// What counts as a failed event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sli {
    /// `proxy-availability`: the requests Ferry's proxy answered with a 5xx, or could not
    /// route to a healthy replica, over all it received.
    ProxyAvailability,
    /// `proxy-latency: 250ms`: the requests whose response headers took longer than a bound
    /// of the proxy's latency histogram ([`ferry_proto::agent::LATENCY_BUCKETS_MS`]), over all.
    ProxyLatency { threshold_ms: f64 },
    /// `errors:` and `total:` queries, each holding [`WINDOW_PLACEHOLDER`].
    Ratio { errors: String, total: String },
}

/// The built-in SLIs by name.
pub const BUILT_IN_SLIS: &[&str] = &["proxy-availability", "proxy-latency"];

/// A window as PromQL writes it, in its largest whole unit: `30d`, `6h`, `90m`, `1500ms`.
pub fn promql_duration(ms: u64) -> String {
    for (unit, size) in [("d", DAY_MS), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// A number as PromQL and the rule file read it back (`99.9`, `14.4`, `1`).
fn number(value: f64) -> String {
    format!("{value}")
}

/// The label matchers of the proxy's series of one service in one environment.
fn proxy_selector(project: &str, service: &str, environment: &str) -> String {
    format!("project=\"{}\",service=\"{}\",environment=\"{}\"", escape(project), escape(service), escape(environment))
}

/// A label value inside PromQL's double quotes.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

impl Slo {
    /// `1 − objective`, as a ratio: the share of events that may fail.
    pub fn budget(&self) -> f64 {
        budget_ratio(self.objective)
    }

    /// The window as PromQL writes it.
    pub fn window(&self) -> String {
        promql_duration(self.window_ms)
    }

    /// The PromQL query of the SLI's error ratio over `window` (a PromQL duration) for
    /// `service` of `project` in `environment`: one sample, `NaN` when no event was counted,
    /// none when the series are missing.
    pub fn error_ratio_query(&self, project: &str, service: &str, environment: &str, window: &str) -> String {
        let selector = proxy_selector(project, service, environment);
        match &self.sli {
            Sli::ProxyAvailability => format!(
                "sum(rate({REQUESTS}{{{selector},code_class=\"5xx\"}}[{window}]) or rate({UNROUTED}{{{selector}}}[{window}])) \
                 / sum(rate({REQUESTS}{{{selector}}}[{window}]) or rate({UNROUTED}{{{selector}}}[{window}]))"
            ),
            Sli::ProxyLatency { threshold_ms } => {
                let le = number(threshold_ms / 1000.0);
                format!(
                    "1 - sum(rate({DURATION}_bucket{{{selector},le=\"{le}\"}}[{window}])) \
                     / sum(rate({DURATION}_count{{{selector}}}[{window}]))"
                )
            }
            Sli::Ratio { errors, total } => format!(
                "({}) / ({})",
                errors.replace(WINDOW_PLACEHOLDER, window),
                total.replace(WINDOW_PLACEHOLDER, window)
            ),
        }
    }
}

/// The name of the recorded error ratio over `window` (Sloth's).
pub fn recorded_ratio(window: &str) -> String {
    format!("slo:sli_error:ratio_rate{window}")
}

/// The budget left when `error_ratio` of the events failed over the window: 1 − error_ratio /
/// budget (1: untouched, 0: spent, below 0: overspent).
pub fn budget_remaining(objective: f64, error_ratio: f64) -> f64 {
    1.0 - error_ratio / budget_ratio(objective)
}

/// `(100 − objective) / 100` without the float's noise (`100 − 99.9` is 0.09999999999999432),
/// so that an error ratio of exactly the budget leaves exactly nothing.
fn budget_ratio(objective: f64) -> f64 {
    ((100.0 - objective) * 1e9).round() / 1e11
}

/// The status of a budget: no data without an error ratio (no event counted), exhausted when
/// nothing is left.
pub fn status(error_ratio: Option<f64>, objective: f64) -> SloStatus {
    match error_ratio.filter(|ratio| ratio.is_finite()) {
        None => SloStatus::NoData,
        Some(ratio) if budget_remaining(objective, ratio) <= 0.0 => SloStatus::Exhausted,
        Some(_) => SloStatus::Ok,
    }
}

/// The rule group name of an SLO of a service in an environment.
pub fn group_name(service: &str, environment: &str, slo: &str) -> String {
    format!("slo:{service}:{environment}:{slo}")
}

/// The Prometheus rule file that watches every SLO of `spec` in every environment its
/// service is deployed to: one group each (see [`group_name`]), the recording rules of the
/// error ratio over [`RECORDED_WINDOWS`] then the [`BURN_ALERTS`], all labelled with
/// `project`, `service`, `environment` and `slo`. Empty (`groups: []`) without SLOs. It reads
/// in `ferry_rules` and in Prometheus alike.
pub fn rule_file(project: &str, spec: &DeploySpec) -> String {
    let mut out = String::from("groups:");
    let mut any = false;
    for service in &spec.services {
        for slo in &service.slos {
            for deploy in &service.deploy {
                any = true;
                group(&mut out, project, &service.name, &deploy.environment, slo);
            }
        }
    }
    if !any {
        out.push_str(" []");
    }
    out.push('\n');
    out
}

fn group(out: &mut String, project: &str, service: &str, environment: &str, slo: &Slo) {
    let labels = [("project", project), ("service", service), ("environment", environment), ("slo", slo.name.as_str())];
    out.push_str(&format!("\n  - name: {}\n    rules:\n", quote(&group_name(service, environment, &slo.name))));
    for window in RECORDED_WINDOWS {
        out.push_str(&format!("      - record: {}\n", recorded_ratio(window)));
        out.push_str(&format!(
            "        expr: {}\n",
            quote(&slo.error_ratio_query(project, service, environment, window))
        ));
        labels_yaml(out, &labels);
    }
    let selector = proxy_selector(project, service, environment) + &format!(",slo=\"{}\"", escape(&slo.name));
    let objective = number(slo.objective);
    let window = slo.window();
    for alert in BURN_ALERTS {
        let pairs: Vec<String> = alert
            .pairs
            .iter()
            .map(|(factor, long, short)| {
                let threshold = format!("({} * (100 - {objective}) / 100)", number(*factor));
                let (long, short) = (recorded_ratio(long), recorded_ratio(short));
                format!("({long}{{{selector}}} > {threshold} and {short}{{{selector}}} > {threshold})")
            })
            .collect();
        let burns: Vec<String> = alert
            .pairs
            .iter()
            .map(|(factor, long, short)| format!("{}× over {long} and {short}", number(*factor)))
            .collect();
        out.push_str(&format!("      - alert: {ALERT_NAME}\n"));
        out.push_str(&format!("        expr: {}\n", quote(&pairs.join(" or "))));
        let mut alert_labels = labels.to_vec();
        alert_labels.push(("severity", alert.severity));
        labels_yaml(out, &alert_labels);
        out.push_str("        annotations:\n");
        let summary = format!(
            "{service} in {environment} burns the error budget of SLO {} ({objective} % over {window}) too fast",
            slo.name
        );
        let description = format!(
            "The error ratio is {{{{ $value | humanizePercentage }}}} over the long window, above {} times the \
             budget of {} %. Burn rates that fire it: {}.",
            burn_words(alert),
            budget_percent(slo.objective),
            burns.join(", or ")
        );
        out.push_str(&format!("          summary: {}\n", quote(&summary)));
        out.push_str(&format!("          description: {}\n", quote(&description)));
    }
}

/// `100 − objective` without the float's noise: `0.1` for 99.9.
pub fn budget_percent(objective: f64) -> String {
    number(((100.0 - objective) * 1e9).round() / 1e9)
}

/// A rule's `labels:`.
fn labels_yaml(out: &mut String, labels: &[(&str, &str)]) {
    out.push_str("        labels:\n");
    for (name, value) in labels {
        out.push_str(&format!("          {name}: {}\n", quote(value)));
    }
}

/// `14.4 or 6`: the factors of an alert's pairs, in words.
fn burn_words(alert: BurnAlert) -> String {
    let factors: Vec<String> = alert.pairs.iter().map(|(factor, _, _)| number(*factor)).collect();
    factors.join(" or ")
}

/// A YAML double-quoted string.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests;
