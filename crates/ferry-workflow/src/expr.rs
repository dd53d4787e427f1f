//! The `${{ }}` expression language as GitHub documents it.
//!
//! PLACEHOLDER API: the signatures below are the contract the rest of Ferry codes against; the
//! bodies are being written (see the expression work). Do not call these before they land.

use std::ops::Range;

use ferry_model::JobStatus;

/// Values are JSON values; numbers are doubles as in GitHub's evaluator.
pub type Value = serde_json::Value;

/// What an expression can see while it is evaluated.
pub trait Context {
    /// The context named `name` (lowercase: `github`, `env`, `matrix`, …), if available here.
    fn get(&self, name: &str) -> Option<&Value>;

    /// What `success()`, `failure()` and `cancelled()` see.
    fn job_status(&self) -> JobStatus {
        JobStatus::Success
    }

    /// `hashFiles(patterns…)`: the hex SHA-256 described by GitHub, or why it failed.
    fn hash_files(&self, patterns: &[String]) -> Result<String, String> {
        let _ = patterns;
        Err("hashFiles is not available here".to_owned())
    }
}

/// A syntax error: `range` is a byte range of the text given to the parser.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub message: String,
    pub range: Range<usize>,
}

/// An evaluation error (a bad `fromJSON` argument, `hashFiles` failing, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EvalError {
    pub message: String,
    pub range: Range<usize>,
}

/// A parsed expression: the text inside `${{ }}`, or a bare `if:` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {}

impl Expr {
    /// Whether the expression calls `success()`, `failure()`, `cancelled()` or `always()`.
    pub fn uses_status_function(&self) -> bool {
        unimplemented!()
    }

    /// Every top-level context the expression reads, lowercase, with its byte range.
    pub fn contexts(&self) -> Vec<(String, Range<usize>)> {
        unimplemented!()
    }
}

/// Parses an expression. Unknown functions and wrong argument counts are syntax errors here,
/// as they are on GitHub.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    let _ = src;
    unimplemented!()
}

/// Evaluates `expr` against `ctx`.
pub fn evaluate(expr: &Expr, ctx: &dyn Context) -> Result<Value, EvalError> {
    let _ = (expr, ctx);
    unimplemented!()
}

/// GitHub's truthiness: false, 0, -0, NaN, "" and null are false; everything else is true.
pub fn is_truthy(value: &Value) -> bool {
    let _ = value;
    unimplemented!()
}

/// The text a value becomes when interpolated into a string.
pub fn to_display_string(value: &Value) -> String {
    let _ = value;
    unimplemented!()
}

/// A string that may hold `${{ }}` expressions between literal text.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {}

impl Template {
    /// Parses `text`; error ranges are byte ranges of `text`.
    pub fn parse(text: &str) -> Result<Template, ExprError> {
        let _ = text;
        unimplemented!()
    }

    /// True when the text has no expression.
    pub fn is_literal(&self) -> bool {
        unimplemented!()
    }

    /// Each expression with the byte offset in the template text where its inner source starts.
    pub fn expressions(&self) -> Vec<(&Expr, usize)> {
        unimplemented!()
    }

    /// The value: a template that is exactly one `${{ expr }}` yields the expression's value
    /// (so `${{ fromJSON('[1,2]') }}` is an array); otherwise the rendered string.
    pub fn evaluate(&self, ctx: &dyn Context) -> Result<Value, EvalError> {
        let _ = ctx;
        unimplemented!()
    }

    /// The rendered string.
    pub fn render(&self, ctx: &dyn Context) -> Result<String, EvalError> {
        let _ = ctx;
        unimplemented!()
    }
}

/// An `if:` condition, written with or without `${{ }}`. As on GitHub, a condition that calls
/// no status function is evaluated as `success() && (condition)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {}

impl Condition {
    /// Parses `text`; error ranges are byte ranges of `text`.
    pub fn parse(text: &str) -> Result<Condition, ExprError> {
        let _ = text;
        unimplemented!()
    }

    pub fn evaluate(&self, ctx: &dyn Context) -> Result<bool, EvalError> {
        let _ = ctx;
        unimplemented!()
    }

    /// The parsed expression(s) and the byte offset each starts at in the condition text.
    pub fn expressions(&self) -> Vec<(&Expr, usize)> {
        unimplemented!()
    }
}

/// The context names GitHub defines.
pub const CONTEXTS: &[&str] =
    &["github", "env", "vars", "secrets", "inputs", "matrix", "strategy", "needs", "steps", "job", "jobs", "runner"];
