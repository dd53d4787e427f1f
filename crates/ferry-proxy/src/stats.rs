//! What the proxy counts, per release, since it was bound: answers by status class, errors
//! (5xx answers, the proxy's own 502s included), and the time to the response's headers over
//! [`LATENCY_BUCKETS_MS`]. Requests no backend could take (503) have no release: they are
//! counted apart.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ferry_proto::agent::{LATENCY_BUCKETS_MS, ReleaseTraffic};
use hyper::StatusCode;

/// The status classes counted, in order: 1xx … 5xx.
pub(crate) const CODE_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// One release's counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ReleaseStats {
    /// Answers per status class ([`CODE_CLASSES`]).
    pub(crate) by_class: [u64; 5],
    /// Per [`LATENCY_BUCKETS_MS`] bucket, not cumulative, the last one for the rest.
    pub(crate) buckets: [u64; LATENCY_BUCKETS_MS.len() + 1],
    pub(crate) latency_sum_ms: f64,
}

impl ReleaseStats {
    pub(crate) fn requests(&self) -> u64 {
        self.by_class.iter().sum()
    }

    pub(crate) fn errors(&self) -> u64 {
        self.by_class[4]
    }

    fn record(&mut self, status: StatusCode, elapsed: Duration) {
        let class_idx = usize::from(status.as_u16() / 100).clamp(1, 5) - 1;
        self.by_class[class_idx] += 1;
        let ms = elapsed.as_secs_f64() * 1000.0;
        let bucket_idx = LATENCY_BUCKETS_MS.iter().position(|&bound| ms <= bound).unwrap_or(LATENCY_BUCKETS_MS.len());
        self.buckets[bucket_idx] += 1;
        self.latency_sum_ms += ms;
    }
}

/// A proxy's counts.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    releases: Mutex<BTreeMap<i64, ReleaseStats>>,
    unrouted: AtomicU64,
}

impl Stats {
    /// Counts an answer of a backend of `release` (or the proxy's 502 for it).
    pub(crate) fn record(&self, release: i64, status: StatusCode, elapsed: Duration) {
        let mut releases = self.releases.lock().unwrap_or_else(PoisonError::into_inner);
        releases.entry(release).or_default().record(status, elapsed);
    }

    /// Counts a request no backend could take.
    pub(crate) fn record_unrouted(&self) {
        self.unrouted.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn unrouted(&self) -> u64 {
        self.unrouted.load(Ordering::Relaxed)
    }

    /// Every release's counts, by release.
    pub(crate) fn snapshot(&self) -> BTreeMap<i64, ReleaseStats> {
        self.releases.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn traffic(&self) -> Vec<ReleaseTraffic> {
        let snapshot = self.snapshot();
        snapshot
            .into_iter()
            .map(|(release, stats)| ReleaseTraffic {
                release,
                requests: stats.requests(),
                errors: stats.errors(),
                latency_buckets: stats.buckets.to_vec(),
                latency_sum_ms: stats.latency_sum_ms,
            })
            .collect()
    }
}
