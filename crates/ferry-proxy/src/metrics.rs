//! The Prometheus text exposition (version 0.0.4) of every proxy's counts, for the agent's
//! `/metrics`:
//!
//! - `ferry_proxy_requests_total{project,service,environment,release,code_class}` (counter;
//!   `code_class` is `1xx` … `5xx`, the proxy's own 502s in `5xx`);
//! - `ferry_proxy_request_duration_seconds{project,service,environment,release}` (histogram
//!   of the time to the response's headers, over `LATENCY_BUCKETS_MS`);
//! - `ferry_proxy_unrouted_requests_total{project,service,environment}` (counter of the
//!   requests no healthy replica could take, answered 503).

use std::fmt::Write as _;

use ferry_proto::agent::{LATENCY_BUCKETS_MS, UnitKey};

use crate::Proxy;
use crate::stats::{CODE_CLASSES, ReleaseStats};

/// Prometheus text exposition of every proxy's counts, for the agent's `/metrics`.
pub fn render_metrics(units: &[(&UnitKey, &Proxy)]) -> String {
    let snapshots: Vec<_> = units
        .iter()
        .map(|(key, proxy)| (unit_labels(key), proxy.shared.stats.snapshot(), proxy.shared.stats.unrouted()))
        .collect();
    let mut out = String::new();
    out.push_str(
        "# HELP ferry_proxy_requests_total Requests answered through Ferry's proxy, by release and status class.\n",
    );
    out.push_str("# TYPE ferry_proxy_requests_total counter\n");
    for (labels, releases, _) in &snapshots {
        for (release, stats) in releases {
            for (class, count) in CODE_CLASSES.iter().zip(stats.by_class) {
                let _ = writeln!(
                    out,
                    "ferry_proxy_requests_total{{{labels},release=\"{release}\",code_class=\"{class}\"}} {count}"
                );
            }
        }
    }
    out.push_str(
        "# HELP ferry_proxy_request_duration_seconds Time from a request to its response's headers, by release.\n",
    );
    out.push_str("# TYPE ferry_proxy_request_duration_seconds histogram\n");
    for (labels, releases, _) in &snapshots {
        for (release, stats) in releases {
            histogram(&mut out, &format!("{labels},release=\"{release}\""), stats);
        }
    }
    out.push_str("# HELP ferry_proxy_unrouted_requests_total Requests no healthy replica could take (answered 503).\n");
    out.push_str("# TYPE ferry_proxy_unrouted_requests_total counter\n");
    for (labels, _, unrouted) in &snapshots {
        let _ = writeln!(out, "ferry_proxy_unrouted_requests_total{{{labels}}} {unrouted}");
    }
    out
}

fn histogram(out: &mut String, labels: &str, stats: &ReleaseStats) {
    const NAME: &str = "ferry_proxy_request_duration_seconds";
    let mut cumulative = 0;
    for (bound_ms, count) in LATENCY_BUCKETS_MS.iter().zip(stats.buckets) {
        cumulative += count;
        let _ = writeln!(out, "{NAME}_bucket{{{labels},le=\"{}\"}} {cumulative}", bound_ms / 1000.0);
    }
    let total = stats.requests();
    let _ = writeln!(out, "{NAME}_bucket{{{labels},le=\"+Inf\"}} {total}");
    let _ = writeln!(out, "{NAME}_sum{{{labels}}} {}", stats.latency_sum_ms / 1000.0);
    let _ = writeln!(out, "{NAME}_count{{{labels}}} {total}");
}

fn unit_labels(key: &UnitKey) -> String {
    format!(
        "project=\"{}\",service=\"{}\",environment=\"{}\"",
        escape(&key.project),
        escape(&key.service),
        escape(&key.environment)
    )
}

/// A label value as the exposition format quotes it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests;
