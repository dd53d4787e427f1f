//! The metrics routes' bodies: what a backfill (`POST /api/v1/metrics/import`) stored.

use serde::{Deserialize, Serialize};

/// What the store did with an import's samples: stored, or refused as older than a series'
/// newest sample or as a second value at a series' timestamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    pub appended: usize,
    pub out_of_order: usize,
    pub duplicates: usize,
}
