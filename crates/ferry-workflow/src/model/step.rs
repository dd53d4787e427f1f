//! A step: a shell command, an action, or a group of steps run in parallel.

use serde::Serialize;

use super::{Env, OrExpr, Text};
use crate::span::Span;

/// One entry of `steps:`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub id: Option<Text>,
    pub name: Option<Text>,
    #[serde(rename = "if")]
    pub if_: Option<Text>,
    pub env: Env,
    pub continue_on_error: Option<OrExpr<bool>>,
    pub timeout_minutes: Option<OrExpr<f64>>,
    /// `background: true`: the step runs while the following steps go on.
    pub background: Option<OrExpr<bool>>,
    /// Ferry extension (`.ferry/workflows` only).
    pub retry: Option<Retry>,
    pub kind: StepKind,
    /// The whole step entry.
    pub span: Span,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// `run:` a script with `shell` (else the job's or workflow's default, else bash/pwsh) in
    /// `working-directory`.
    Run { run: Text, shell: Option<Text>, working_directory: Option<Text> },
    /// `uses:` an action (`owner/repo@ref`, `owner/repo/path@ref`, `./path`, `$/path`,
    /// `docker://image`) `with:` inputs (kept in order; values as written).
    Uses { uses: Text, with: indexmap::IndexMap<String, Text> },
    /// `parallel:` steps that run at the same time.
    Parallel(Vec<Step>),
    /// `wait:` for background steps (by id), or `wait-all: true` (empty list).
    Wait(Vec<Text>),
    /// `cancel:` a background step (by id).
    Cancel(Text),
    /// The step was too broken to say (a diagnostic explains); the engine must not run it.
    Invalid,
}

/// Ferry's `retry:`. `retry: 3` is `{ attempts: 3 }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retry {
    /// Total attempts, at least 1.
    pub attempts: u32,
    /// Seconds to wait before the second attempt (default 0).
    pub delay_seconds: f64,
    /// Factor applied to the delay after each further attempt (default 1).
    pub backoff: f64,
    /// Exit codes that cause a retry; `None` means any non-zero code.
    pub on_exit_codes: Option<Vec<i32>>,
    pub span: Span,
}

impl Retry {
    /// The delay in seconds before attempt `attempt` (1-based; the first attempt has none).
    pub fn delay_before(&self, attempt: u32) -> f64 {
        if attempt <= 1 {
            return 0.0;
        }
        let exponent = i32::try_from(attempt - 2).unwrap_or(i32::MAX);
        self.delay_seconds * self.backoff.powi(exponent)
    }

    /// Whether a failure with `exit_code` is retried (attempts permitting).
    pub fn retries_exit_code(&self, exit_code: i32) -> bool {
        match &self.on_exit_codes {
            None => exit_code != 0,
            Some(codes) => codes.contains(&exit_code),
        }
    }
}
