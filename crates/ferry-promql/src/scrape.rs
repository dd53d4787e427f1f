//! What one scrape of a target adds to the store, as Prometheus' scrape loop decides it: the
//! exposed samples with the target's labels, the report series (`up`,
//! `scrape_duration_seconds`, `scrape_samples_scraped`, `scrape_series_added`), and stale
//! markers for series the previous scrape had and this one has not, so a series that stops
//! being exposed ends at once instead of lingering for the 5-minute lookback.
//!
//! The rules followed (Prometheus' defaults, `honor_labels: false`, `honor_timestamps: true`):
//! - a scraped label that a target label also names is kept as `exported_<name>` and the
//!   target's value wins;
//! - a sample's own timestamp is kept; such samples are left out of staleness tracking;
//! - a failed scrape (no answer, a timeout, an error status, text that does not parse) stores
//!   `up` 0 and marks every series of the previous scrape stale;
//! - a target that goes away marks its series stale ([`ScrapeState::forget`]).
//!
//! Pure: the caller fetched the body and passes the time.

use std::collections::BTreeSet;

use crate::exposition::{Format, parse};
use crate::labels::{Labels, METRIC_NAME};
use crate::storage::stale_nan;

/// What a scraper's `Accept` asks for: OpenMetrics first, the text format else.
pub const ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// Why a scrape got nothing to store, in the words a target's `lastError` shows ("server
/// returned HTTP status 500", "context deadline exceeded: …").
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScrapeFailure(pub String);

impl ScrapeFailure {
    pub fn new(text: impl Into<String>) -> ScrapeFailure {
        ScrapeFailure(text.into())
    }
}

/// A target's answer as a scrape reads it: the text and its format (from `Content-Type`).
///
/// # Errors
/// [`ScrapeFailure`] when the status is not 2xx, or the body is not UTF-8.
pub fn read_answer(status: u16, content_type: Option<&str>, body: Vec<u8>) -> Result<(String, Format), ScrapeFailure> {
    if !(200..300).contains(&status) {
        return Err(ScrapeFailure(format!("server returned HTTP status {status}")));
    }
    let openmetrics = content_type.is_some_and(|value| value.starts_with("application/openmetrics-text"));
    let text = String::from_utf8(body).map_err(|_| ScrapeFailure::new("the answer is not UTF-8 text"))?;
    Ok((text, if openmetrics { Format::OpenMetrics } else { Format::Text }))
}

/// What the scraper fetched: the body and its format, or why there is none.
#[derive(Clone, Debug)]
pub enum Fetched<'a> {
    Body { text: &'a str, format: Format },
    Failed(String),
}

/// A target's memory between scrapes: the series its last scrape stored without their own
/// timestamps.
#[derive(Clone, Debug, Default)]
pub struct ScrapeState {
    seen: BTreeSet<Labels>,
}

/// One scrape's result: samples to store, and the error when the scrape failed (shown as the
/// target's `lastError`).
#[derive(Clone, Debug, Default)]
pub struct Scraped {
    pub samples: Vec<(Labels, i64, f64)>,
    pub error: Option<String>,
}

impl ScrapeState {
    /// The samples one scrape at `t_ms`, which took `duration_s`, adds for a target with
    /// `target` labels (`job`, `instance` and any configured ones).
    pub fn scrape(&mut self, target: &Labels, fetched: Fetched<'_>, t_ms: i64, duration_s: f64) -> Scraped {
        let parsed = match fetched {
            Fetched::Body { text, format } => {
                parse(text, format).map_err(|error| format!("the answer is not valid: {error}"))
            }
            Fetched::Failed(error) => Err(error),
        };
        let mut scraped = Scraped::default();
        let mut seen = BTreeSet::new();
        let (up, exposed, added) = match parsed {
            Ok(exposition) => {
                let exposed = exposition.samples.len();
                let mut added = 0;
                for sample in exposition.samples {
                    let labels = with_target(sample.labels, target);
                    let t = match sample.timestamp_ms {
                        Some(t) => t,
                        None => {
                            if !self.seen.contains(&labels) {
                                added += 1;
                            }
                            seen.insert(labels.clone());
                            t_ms
                        }
                    };
                    scraped.samples.push((labels, t, sample.value));
                }
                (1.0, exposed, added)
            }
            Err(error) => {
                scraped.error = Some(error);
                (0.0, 0, 0)
            }
        };
        for gone in self.seen.difference(&seen) {
            scraped.samples.push((gone.clone(), t_ms, stale_nan()));
        }
        self.seen = seen;
        for (name, value) in [
            ("up", up),
            ("scrape_duration_seconds", duration_s),
            ("scrape_samples_scraped", count(exposed)),
            ("scrape_samples_post_metric_relabeling", count(exposed)),
            ("scrape_series_added", count(added)),
        ] {
            let mut labels = target.clone();
            labels.set(METRIC_NAME, name.to_owned());
            scraped.samples.push((labels, t_ms, value));
        }
        scraped
    }

    /// Stale markers at `t_ms` for everything the target's last scrape stored, report series
    /// included: what a target that went away leaves.
    pub fn forget(&mut self, target: &Labels, t_ms: i64) -> Vec<(Labels, i64, f64)> {
        let mut samples: Vec<_> =
            std::mem::take(&mut self.seen).into_iter().map(|labels| (labels, t_ms, stale_nan())).collect();
        for name in [
            "up",
            "scrape_duration_seconds",
            "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling",
            "scrape_series_added",
        ] {
            let mut labels = target.clone();
            labels.set(METRIC_NAME, name.to_owned());
            samples.push((labels, t_ms, stale_nan()));
        }
        samples
    }
}

/// A count as a sample value (exact below 2^53, far beyond any scrape).
fn count(n: usize) -> f64 {
    u32::try_from(n).map_or(f64::from(u32::MAX), f64::from)
}

/// The scraped labels with the target's: on a clash the scraped one becomes `exported_<name>`.
fn with_target(mut labels: Labels, target: &Labels) -> Labels {
    for (name, value) in target.iter() {
        if let Some(theirs) = labels.get(name).map(str::to_owned) {
            labels.set(&format!("exported_{name}"), theirs);
        }
        labels.set(name, value.to_owned());
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::is_stale_nan;

    fn target() -> Labels {
        Labels::new([("job", "api"), ("instance", "127.0.0.1:9000")])
    }

    fn text(body: &str) -> Fetched<'_> {
        Fetched::Body { text: body, format: Format::Text }
    }

    fn value_of(scraped: &Scraped, name: &str) -> Vec<(String, f64)> {
        scraped
            .samples
            .iter()
            .filter(|(labels, _, _)| labels.get(METRIC_NAME) == Some(name))
            .map(|(labels, _, value)| (labels.to_string(), *value))
            .collect()
    }

    #[test]
    fn samples_get_the_target_labels_and_the_report_series_count_them() {
        let mut state = ScrapeState::default();
        let scraped = state.scrape(
            &target(),
            text("requests_total{code=\"200\"} 7\nrequests_total{code=\"500\"} 1\n"),
            10_000,
            0.25,
        );
        assert_eq!(scraped.error, None);
        assert_eq!(
            value_of(&scraped, "requests_total"),
            vec![
                ("requests_total{code=\"200\", instance=\"127.0.0.1:9000\", job=\"api\"}".to_owned(), 7.0),
                ("requests_total{code=\"500\", instance=\"127.0.0.1:9000\", job=\"api\"}".to_owned(), 1.0),
            ]
        );
        assert_eq!(value_of(&scraped, "up")[0].1, 1.0);
        assert_eq!(value_of(&scraped, "scrape_duration_seconds")[0].1, 0.25);
        assert_eq!(value_of(&scraped, "scrape_samples_scraped")[0].1, 2.0);
        assert_eq!(value_of(&scraped, "scrape_series_added")[0].1, 2.0);
        assert!(scraped.samples.iter().all(|(_, t, _)| *t == 10_000));
        // The second scrape adds no series.
        let again = state.scrape(
            &target(),
            text("requests_total{code=\"200\"} 8\nrequests_total{code=\"500\"} 1\n"),
            20_000,
            0.1,
        );
        assert_eq!(value_of(&again, "scrape_series_added")[0].1, 0.0);
    }

    #[test]
    fn a_series_that_disappears_gets_a_stale_marker_and_a_failed_scrape_marks_all() {
        let mut state = ScrapeState::default();
        state.scrape(&target(), text("a 1\nb 2\n"), 1_000, 0.0);
        let second = state.scrape(&target(), text("a 1\n"), 2_000, 0.0);
        let stale: Vec<_> =
            second.samples.iter().filter(|(_, _, v)| is_stale_nan(*v)).map(|(l, t, _)| (l.to_string(), *t)).collect();
        assert_eq!(stale, vec![("b{instance=\"127.0.0.1:9000\", job=\"api\"}".to_owned(), 2_000)]);

        let failed = state.scrape(&target(), Fetched::Failed("connection refused".into()), 3_000, 0.0);
        assert_eq!(failed.error.as_deref(), Some("connection refused"));
        assert_eq!(value_of(&failed, "up")[0].1, 0.0);
        assert!(value_of(&failed, "a").iter().all(|(_, v)| is_stale_nan(*v)) && value_of(&failed, "a").len() == 1);

        let bad = ScrapeState::default().scrape(&target(), text("a{ 1\n"), 4_000, 0.0);
        assert!(bad.error.as_deref().is_some_and(|e| e.starts_with("the answer is not valid: line 1")), "{bad:?}");
        assert_eq!(value_of(&bad, "up")[0].1, 0.0);
    }

    #[test]
    fn target_labels_win_and_the_scraped_ones_are_kept_as_exported() {
        let mut state = ScrapeState::default();
        let scraped = state.scrape(&target(), text("x{job=\"batch\",instance=\"inner\"} 1\n"), 1_000, 0.0);
        assert_eq!(
            value_of(&scraped, "x")[0].0,
            "x{exported_instance=\"inner\", exported_job=\"batch\", instance=\"127.0.0.1:9000\", job=\"api\"}"
        );
    }

    #[test]
    fn exposed_timestamps_are_kept_and_not_tracked_for_staleness() {
        let mut state = ScrapeState::default();
        let scraped = state.scrape(&target(), text("old 5 1234\n"), 9_000, 0.0);
        assert_eq!(scraped.samples.iter().find(|(l, _, _)| l.get(METRIC_NAME) == Some("old")).map(|s| s.1), Some(1234));
        let next = state.scrape(&target(), text(""), 10_000, 0.0);
        assert!(next.samples.iter().all(|(_, _, v)| !is_stale_nan(*v)));
        let forgotten = state.forget(&target(), 11_000);
        assert_eq!(forgotten.len(), 5, "only the report series: {forgotten:?}");
    }
}
