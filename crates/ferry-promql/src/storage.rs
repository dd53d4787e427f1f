//! What the evaluator needs of a store: the series whose labels match, with their samples in a
//! time range. Stale markers (a special NaN) are samples too; the evaluator interprets them.

use crate::labels::Labels;
use promql_parser::label::Matcher;

/// The bits of the NaN Prometheus writes when a series goes stale (a target disappeared or
/// stopped exposing it): an instant selector sees nothing from that sample on.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The stale marker as a value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether a value is the stale marker (and not any other NaN).
pub fn is_stale_nan(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// One series as a store returns it: its samples sorted by time, one per timestamp.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    /// `(milliseconds since the epoch, value)`, ascending.
    pub samples: Vec<(i64, f64)>,
}

/// A store failed to answer.
#[derive(Debug, thiserror::Error)]
#[error("reading series from the store: {0}")]
pub struct StorageError(pub String);

/// A store of series the evaluator can query.
pub trait Storage {
    /// Every series that matches all `matchers` and has a sample in `[mint, maxt]`
    /// (milliseconds, both ends included), with exactly its samples in that range.
    ///
    /// # Errors
    /// When the store cannot be read.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, StorageError>;
}

impl Storage for Vec<Series> {
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, StorageError> {
        Ok(self
            .iter()
            .filter(|series| {
                matchers.iter().all(|matcher| matcher.is_match(series.labels.get(&matcher.name).unwrap_or("")))
            })
            .map(|series| Series {
                labels: series.labels.clone(),
                samples: series.samples.iter().copied().filter(|(t, _)| (mint..=maxt).contains(t)).collect(),
            })
            .filter(|series| !series.samples.is_empty())
            .collect())
    }
}
