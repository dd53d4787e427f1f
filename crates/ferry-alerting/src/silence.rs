//! Silences: matchers and a time window during which matching alerts send nothing. A
//! silence is expired by moving its end to now; it stays listed until it is old.

use serde::{Deserialize, Serialize};

use crate::alert::Labels;
use crate::matcher::{self, Matcher};

/// One silence, as Alertmanager's API v2 describes it (times in milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<Matcher>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub updated_at: i64,
    pub created_by: String,
    pub comment: String,
}

/// Where a silence is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SilenceState {
    Pending,
    Active,
    Expired,
}

impl SilenceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SilenceState::Pending => "pending",
            SilenceState::Active => "active",
            SilenceState::Expired => "expired",
        }
    }
}

/// How long an expired silence stays listed (Alertmanager's default retention).
pub const SILENCE_RETENTION_MS: i64 = 120 * 3_600_000;

/// A silence that cannot be made as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SilenceError {
    #[error("a silence needs at least one matcher")]
    NoMatchers,
    #[error("a silence must match something: every matcher here also matches an empty label")]
    MatchesEverything,
    #[error("a silence must end after it starts")]
    EndsBeforeStart,
    #[error("a silence must end in the future")]
    EndsInPast,
    #[error("silence {0} not found")]
    NotFound(String),
    #[error("silence {0} has already expired")]
    AlreadyExpired(String),
}

impl Silence {
    pub fn state(&self, now: i64) -> SilenceState {
        if self.ends_at <= now {
            SilenceState::Expired
        } else if self.starts_at > now {
            SilenceState::Pending
        } else {
            SilenceState::Active
        }
    }

    /// Whether it mutes an alert with `labels` at `now`.
    pub fn mutes(&self, labels: &Labels, now: i64) -> bool {
        self.state(now) == SilenceState::Active && matcher::matches_all(&self.matchers, labels)
    }

    /// The checks Alertmanager makes before it stores a silence.
    ///
    /// # Errors
    /// No matchers, matchers that match everything, or a window that is empty or over.
    pub fn validate(&self, now: i64) -> Result<(), SilenceError> {
        if self.matchers.is_empty() {
            return Err(SilenceError::NoMatchers);
        }
        if self.matchers.iter().all(|matcher| matcher.matches_value("")) {
            return Err(SilenceError::MatchesEverything);
        }
        if self.ends_at <= self.starts_at {
            return Err(SilenceError::EndsBeforeStart);
        }
        if self.ends_at <= now {
            return Err(SilenceError::EndsInPast);
        }
        Ok(())
    }
}
