//! Outcomes and conclusions of steps, jobs and runs, named as GitHub Actions names them.

use serde::{Deserialize, Serialize};

/// How a step, job or run ended.
///
/// For steps GitHub distinguishes the *outcome* (what the process did) from the *conclusion*
/// (the outcome after `continue-on-error` is applied); both use these values.
/// `Neutral` is Ferry's own: a job marked allow-failure that failed concludes neutral and does
/// not fail its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    Skipped,
    Neutral,
}

impl Conclusion {
    /// The word GitHub and Ferry's reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
            Conclusion::Neutral => "neutral",
        }
    }

    /// The conclusion of a step whose outcome is `self`: with `continue-on-error` a failure
    /// is concluded as a success, as GitHub does.
    pub fn with_continue_on_error(self, continue_on_error: bool) -> Conclusion {
        match self {
            Conclusion::Failure if continue_on_error => Conclusion::Success,
            other => other,
        }
    }

    /// Whether a dependent job sees this as its need having succeeded.
    pub fn is_successful(self) -> bool {
        matches!(self, Conclusion::Success | Conclusion::Neutral)
    }
}

impl std::fmt::Display for Conclusion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status the status functions (`success()`, `failure()`, `cancelled()`) see while a job
/// runs: the combined result of everything that ran before the expression is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobStatus {
    #[default]
    Success,
    Failure,
    Cancelled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_on_error_turns_only_failure_into_success() {
        let cases = [
            (Conclusion::Failure, true, Conclusion::Success),
            (Conclusion::Failure, false, Conclusion::Failure),
            (Conclusion::Cancelled, true, Conclusion::Cancelled),
            (Conclusion::Skipped, true, Conclusion::Skipped),
            (Conclusion::Success, true, Conclusion::Success),
        ];
        for (outcome, continue_on_error, want) in cases {
            assert_eq!(outcome.with_continue_on_error(continue_on_error), want, "{outcome} {continue_on_error}");
        }
    }

    #[test]
    fn conclusions_serialize_as_github_words() {
        let json = serde_json::to_string(&[Conclusion::Success, Conclusion::Neutral]).expect("serializable");
        assert_eq!(json, r#"["success","neutral"]"#);
    }
}
