//! The DORA keys computed from what happened, without IO: a unit's (one service in one
//! environment) deployments with the commits each brought, and its incidents, in; the
//! report `ferry dora` prints, its weekly trend and the failures behind it, out. Time is
//! passed in (`Window`), in whole seconds since the Unix epoch.
//!
//! The rules are the and `docs/dora.md`'s, in one place: a deployment is in a
//! window when it finished in it; an incident is attributed to the deployment it names, else
//! to the deployment that first brought the commit it names, else to the last successful
//! deployment that finished before it started; medians and p90 are by nearest rank.

mod attribution;
mod csv;
mod keys;
mod tiers;
mod trend;

pub use attribution::{Rollout, attributed_deployment};
pub use csv::{CsvError, DEPLOYMENTS_HEADER, INCIDENTS_HEADER, parse_deployments, parse_incidents};
pub use keys::{Failure, attributions, failures, project_report, report};
pub use tiers::{change_failure_tier, frequency_tier, lead_time_tier, recovery_tier};
pub use trend::{Week, weekly};

pub use ferry_proto::dora::{DeploymentOutcome as Outcome, DoraReport, Tier};

/// One second, one day and one week in seconds.
pub const DAY: i64 = 86_400;
pub const WEEK: i64 = 7 * DAY;

/// A commit a deployment brought: reachable from its commit and not from the previous
/// deployment's of the same unit. `at` is the committer date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub at: i64,
}

/// A finished deployment of the unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: i64,
    /// When it began reaching users; `None` for one imported from outside, which counts from
    /// its finish.
    pub started_at: Option<i64>,
    pub finished_at: i64,
    pub outcome: Outcome,
    pub commits: Vec<Commit>,
}

impl Deployment {
    /// When the deployment started, or finished for an imported one.
    #[must_use]
    pub fn began(&self) -> i64 {
        self.started_at.unwrap_or(self.finished_at)
    }

    fn succeeded(&self) -> bool {
        self.outcome == Outcome::Succeeded
    }
}

/// An incident of the unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    pub id: i64,
    pub started_at: i64,
    /// When service was restored; `None` while it is open.
    pub resolved_at: Option<i64>,
    pub caused_by_deployment: Option<i64>,
    pub caused_by_commit: Option<String>,
}

impl Incident {
    /// Whether the incident was open at `at`: started at or before it, not yet resolved.
    fn open_at(&self, at: i64) -> bool {
        self.started_at <= at && self.resolved_at.is_none_or(|resolved| at < resolved)
    }
}

/// What the keys are computed from: a unit's deployments (any order) and incidents. The
/// store may hand over only a window's slice of the history as long as it holds every
/// deployment and incident the rules look at (see `ferry-store`'s `dora` module).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub deployments: Vec<Deployment>,
    pub incidents: Vec<Incident>,
}

/// The window: `from` inclusive, `to` exclusive, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: i64,
    pub to: i64,
}

impl Window {
    /// The window of `length` seconds that ends at `to`.
    #[must_use]
    pub fn ending(to: i64, length: i64) -> Window {
        Window { from: to.saturating_sub(length), to }
    }

    /// Whether `at` lies in the window.
    #[must_use]
    pub fn holds(&self, at: i64) -> bool {
        self.from <= at && at < self.to
    }

    /// The window's length in days (fractional).
    #[must_use]
    pub fn days(&self) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "a window's length in seconds is far below 2^52")]
        let seconds = (self.to - self.from).max(0) as f64;
        seconds / DAY as f64
    }
}

/// The ⌈p·n⌉-th smallest of `values` (sorted here), so always an observed value; `None` for
/// none. `p` is in hundredths (50 for the median, 90 for p90) to keep it exact.
#[must_use]
pub fn nearest_rank(values: &mut [i64], percent: usize) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (percent * values.len()).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

/// Formats seconds since the epoch as RFC 3339 (UTC, whole seconds).
#[must_use]
pub fn rfc3339(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map_or_else(|| at.to_string(), |time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A time or a window that is not one Ferry reads; the message says what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{text:?} is not an RFC 3339 time ({reason}); write e.g. 2026-01-31T14:05:00Z")]
    Time { text: String, reason: String },
    #[error("window {0:?} needs a unit: d, w, h or m (e.g. 30d)")]
    WindowUnit(String),
    #[error("window {0:?} must be a whole number from 1 up to ten years (e.g. 30d)")]
    WindowLength(String),
}

/// Reads an RFC 3339 time into seconds since the epoch (fractions dropped).
///
/// # Errors
/// [`InputError::Time`] saying what is wrong with `text`.
pub fn parse_rfc3339(text: &str) -> Result<i64, InputError> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.timestamp())
        .map_err(|error| InputError::Time { text: text.to_owned(), reason: error.to_string() })
}

/// Reads a window's length: a number and a unit (`30d`, `12w`, `48h`, `90m`).
///
/// # Errors
/// [`InputError::WindowUnit`] or [`InputError::WindowLength`].
pub fn parse_window(text: &str) -> Result<i64, InputError> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_seconds = match unit {
        "d" => DAY,
        "w" => WEEK,
        "h" => 3600,
        "m" => 60,
        _ => return Err(InputError::WindowUnit(text.to_owned())),
    };
    match number.parse::<i64>() {
        Ok(n) if n > 0 && n <= 3660 * DAY / unit_seconds => Ok(n * unit_seconds),
        _ => Err(InputError::WindowLength(text.to_owned())),
    }
}

#[cfg(test)]
mod tests;
