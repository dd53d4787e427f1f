//! Judging a new release by its traffic: the proxy's cumulative counts less those at the
//! deployment's start, the error rate and the p99 latency from the latency buckets, and a
//! breach of the `analysis:` limits said in words ("error rate 0.31 > 0.05 over 212 requests
//! of release 7").

use ferry_proto::agent::{AnalysisFigures, AnalysisSpec, LATENCY_BUCKETS_MS, ReleaseTraffic};

/// Counts of no requests for `release`.
pub fn zero_traffic(release: i64) -> ReleaseTraffic {
    ReleaseTraffic {
        release,
        requests: 0,
        errors: 0,
        latency_buckets: vec![0; LATENCY_BUCKETS_MS.len() + 1],
        latency_sum_ms: 0.0,
    }
}

/// The requests counted in `now` but not yet in `baseline` (the same release's counts
/// earlier): what this deployment's analysis judges. Counts that went down (the proxy
/// restarted) start again from zero.
pub fn since(now: &ReleaseTraffic, baseline: &ReleaseTraffic) -> ReleaseTraffic {
    let restarted = now.requests < baseline.requests;
    let minus = |a: u64, b: u64| if restarted { a } else { a.saturating_sub(b) };
    let buckets = (0..=LATENCY_BUCKETS_MS.len())
        .map(|idx| {
            minus(
                now.latency_buckets.get(idx).copied().unwrap_or(0),
                baseline.latency_buckets.get(idx).copied().unwrap_or(0),
            )
        })
        .collect();
    ReleaseTraffic {
        release: now.release,
        requests: minus(now.requests, baseline.requests),
        errors: minus(now.errors, baseline.errors),
        latency_buckets: buckets,
        latency_sum_ms: if restarted {
            now.latency_sum_ms
        } else {
            (now.latency_sum_ms - baseline.latency_sum_ms).max(0.0)
        },
    }
}

/// The upper bound (ms) of the bucket that holds the 99th percentile of `traffic`'s
/// latencies; `f64::INFINITY` when it is the last bucket, which has no bound; `None` without
/// requests.
pub fn p99_ms(traffic: &ReleaseTraffic) -> Option<f64> {
    let total: u64 = traffic.latency_buckets.iter().sum();
    if total == 0 {
        return None;
    }
    // The rank of the 99th percentile: the smallest count whose share reaches 99 %.
    let rank = total.saturating_mul(99).div_ceil(100).max(1);
    let mut seen = 0;
    for (idx, count) in traffic.latency_buckets.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return Some(LATENCY_BUCKETS_MS.get(idx).copied().unwrap_or(f64::INFINITY));
        }
    }
    Some(f64::INFINITY)
}

/// The figures of `traffic` as reported with a deployment (an unbounded p99 as the last
/// bucket's bound).
pub fn figures(traffic: &ReleaseTraffic) -> AnalysisFigures {
    let error_rate = if traffic.requests == 0 { 0.0 } else { traffic.errors as f64 / traffic.requests as f64 };
    let last_bound = LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.len() - 1];
    AnalysisFigures {
        requests: traffic.requests,
        errors: traffic.errors,
        error_rate,
        p99_latency_ms: p99_ms(traffic).map(|p99| p99.min(last_bound)),
    }
}

/// Why `traffic` (this deployment's requests of its release) breaches `spec`, in words; `None`
/// while it is within the limits or has served fewer than `min_requests`.
pub fn breach(spec: &AnalysisSpec, traffic: &ReleaseTraffic) -> Option<String> {
    if traffic.requests < spec.min_requests.max(1) {
        return None;
    }
    let over = format!("over {} requests of release {}", traffic.requests, traffic.release);
    let rate = traffic.errors as f64 / traffic.requests as f64;
    if let Some(max) = spec.max_error_rate
        && rate > max
    {
        let digits = decimals(max).max(2);
        return Some(format!("error rate {rate:.digits$} > {max:.digits$} {over}"));
    }
    if let Some(max) = spec.max_p99_latency_ms
        && let Some(p99) = p99_ms(traffic)
        && p99 > max
    {
        let shown = if p99.is_finite() {
            format!("{}ms", trim(p99))
        } else {
            format!("over {}ms", trim(LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.len() - 1]))
        };
        return Some(format!("p99 latency {shown} > {}ms {over}", trim(max)));
    }
    None
}

/// How many decimals `value` needs to be shown as written (at most 6).
fn decimals(value: f64) -> usize {
    (0..6)
        .find(|&digits| ((value * 10f64.powi(digits as i32)).round() / 10f64.powi(digits as i32) - value).abs() < 1e-12)
        .unwrap_or(6)
}

/// `500` for 500.0, `2.5` for 2.5.
fn trim(value: f64) -> String {
    let digits = decimals(value);
    format!("{value:.digits$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(release: i64, requests: u64, errors: u64, buckets: &[(usize, u64)]) -> ReleaseTraffic {
        let mut traffic = zero_traffic(release);
        traffic.requests = requests;
        traffic.errors = errors;
        for (idx, count) in buckets {
            traffic.latency_buckets[*idx] = *count;
        }
        traffic
    }

    fn spec(max_error_rate: Option<f64>, max_p99_latency_ms: Option<f64>, min_requests: u64) -> AnalysisSpec {
        AnalysisSpec { max_error_rate, max_p99_latency_ms, min_requests, queries: Vec::new() }
    }

    #[test]
    fn the_error_rate_breach_reads_as_in_the_issue() {
        let traffic = traffic(7, 212, 66, &[(3, 212)]);
        assert_eq!(
            breach(&spec(Some(0.05), None, 20), &traffic).as_deref(),
            Some("error rate 0.31 > 0.05 over 212 requests of release 7")
        );
        assert_eq!(
            breach(&spec(Some(0.001), None, 20), &traffic).as_deref(),
            Some("error rate 0.311 > 0.001 over 212 requests of release 7")
        );
        assert_eq!(breach(&spec(Some(0.5), None, 20), &traffic), None, "within the limit");
        assert_eq!(breach(&spec(Some(0.05), None, 213), &traffic), None, "too few requests to judge");
    }

    #[test]
    fn the_p99_is_the_upper_bound_of_its_bucket() {
        // 98 fast requests (≤ 5ms) and 2 slow ones (≤ 1000ms): the 99th is slow.
        let slow = traffic(7, 100, 0, &[(3, 98), (10, 2)]);
        assert_eq!(p99_ms(&slow), Some(1000.0));
        assert_eq!(
            breach(&spec(None, Some(500.0), 20), &slow).as_deref(),
            Some("p99 latency 1000ms > 500ms over 100 requests of release 7")
        );
        // 99 fast and 1 slow: the 99th is still fast.
        let fast = traffic(7, 100, 0, &[(3, 99), (10, 1)]);
        assert_eq!(p99_ms(&fast), Some(5.0));
        assert_eq!(breach(&spec(None, Some(500.0), 20), &fast), None);
        let unbounded = traffic(7, 10, 0, &[(LATENCY_BUCKETS_MS.len(), 10)]);
        assert_eq!(p99_ms(&unbounded), Some(f64::INFINITY));
        assert_eq!(figures(&unbounded).p99_latency_ms, Some(60_000.0));
        assert_eq!(
            breach(&spec(None, Some(2.5), 1), &unbounded).as_deref(),
            Some("p99 latency over 60000ms > 2.5ms over 10 requests of release 7")
        );
        assert_eq!(p99_ms(&zero_traffic(7)), None);
    }

    #[test]
    fn only_this_deployments_requests_count() {
        let before = traffic(7, 1000, 500, &[(3, 1000)]);
        let after = traffic(7, 1100, 501, &[(3, 1100)]);
        let delta = since(&after, &before);
        assert_eq!((delta.requests, delta.errors, delta.latency_buckets[3]), (100, 1, 100));
        assert_eq!(breach(&spec(Some(0.05), None, 20), &delta), None, "the old errors are not this deployment's");
        let restarted = traffic(7, 10, 1, &[(3, 10)]);
        assert_eq!(since(&restarted, &before).requests, 10, "a restarted proxy counts from zero");
        let figures = figures(&delta);
        assert_eq!((figures.requests, figures.errors, figures.error_rate), (100, 1, 0.01));
    }
}
