//! [`Status`]: where a run, a job or a step is in its lifecycle, the same words in the store,
//! on the wire and in the UI.

use serde::{Deserialize, Serialize};

/// The lifecycle of runs, jobs and steps: queued, then in progress, then completed (with a
/// [`crate::Conclusion`]). A run of a pull request from a fork may first be waiting for a
/// developer's approval, planning no job until then; a job with `environment:` may be waiting
/// at the environment's gates before a runner gets it; steps never wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Waiting,
    Queued,
    InProgress,
    Completed,
}

impl Status {
    /// The word stored in the database and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::Queued => "queued",
            Status::InProgress => "in_progress",
            Status::Completed => "completed",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_serialize_as_the_words_the_store_keeps() {
        for status in [Status::Waiting, Status::Queued, Status::InProgress, Status::Completed] {
            let json = serde_json::to_string(&status).expect("serializable");
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<Status>(&json).expect("reads back"), status);
        }
    }
}
