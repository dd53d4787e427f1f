//! The `${{ }}` expression language as GitHub documents it.
//!
//! Choices where GitHub's documentation leaves room, following GitHub's own evaluators:
//! - Arrays and objects are equal only when they are the same instance: the same place in a
//!   context (`github.event == github.event` is true), never two `fromJSON` results.
//! - Strings compare ignoring case, by their upper-case forms (`'a' < 'B'`).
//! - Numbers print like JavaScript's `Number#toString` after rounding to 15 decimals: `1`,
//!   `2.5`, `1e+21`, `1e-7`; `-0` prints `0`.
//! - Functions see arrays and objects as the strings `Array` and `Object` (as on GitHub);
//!   interpolation into a template writes them as their `toJSON` text instead.
//! - NaN and the infinities, which JSON cannot hold, come out of [`evaluate`] as the strings
//!   `NaN`, `Infinity` and `-Infinity`; integral numbers come out as JSON integers.
//! - A template or `if:` that is one `${{ }}` with whitespace around it is that expression.
//!   GitHub reads the whitespace as text, which makes such an `if:` always true: a trap we do
//!   not copy ([`Condition::is_interpolated_text`] flags the real mixed-text case).
//! - Functions build at most 4 MiB of text, so nested `format` or `toJSON` calls cannot
//!   exhaust memory.

mod eval;
mod evaluate;
mod functions;
mod lexer;
mod parser;
mod template;
mod value;

#[cfg(test)]
mod tests;

use std::ops::Range;

use ferry_model::JobStatus;

use parser::Node;
use template::Part;
use value::Val;

pub use evaluate::{EvalFailure, Evaluate};

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
    ///
    /// # Errors
    /// Why the files could not be hashed; this default: hashing is not available here.
    fn hash_files(&self, patterns: &[String]) -> Result<String, HashFilesError> {
        let _ = patterns;
        Err(HashFilesError("hashFiles is not available here".to_owned()))
    }
}

/// Why `hashFiles` failed, in words shown to the workflow's author as they are (the host that
/// hashes knows what went wrong; the language only passes it on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HashFilesError(pub String);

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
pub struct Expr {
    root: Node,
    /// The length of the source text, in bytes.
    len: usize,
}

impl Expr {
    /// Whether the expression calls `success()`, `failure()`, `cancelled()` or `always()`.
    pub fn uses_status_function(&self) -> bool {
        let mut found = false;
        self.root.walk(&mut |node| {
            if let Node::Call { function, .. } = node {
                found |= function.is_status();
            }
        });
        found
    }

    /// Every top-level context the expression reads, lowercase, with its byte range.
    pub fn contexts(&self) -> Vec<(String, Range<usize>)> {
        let mut contexts = Vec::new();
        self.root.walk(&mut |node| {
            if let Node::Context { name, range } = node {
                contexts.push((name.clone(), range.clone()));
            }
        });
        contexts
    }

    fn eval<'a>(&'a self, ctx: &'a dyn Context) -> Result<Val<'a>, EvalError> {
        eval::eval(&self.root, ctx)
    }
}

/// Parses an expression. Unknown functions and wrong argument counts are syntax errors here,
/// as they are on GitHub. Expressions longer than 21,000 characters or nested deeper than 50
/// levels are errors too (GitHub's limits).
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    parser::parse(src).map(|root| Expr { root, len: src.len() })
}

/// Evaluates `expr` against `ctx`. A context `ctx` does not have evaluates to null.
///
/// Errors: `fromJSON` given text that is not JSON, `format` given a malformed format string or
/// too few arguments, `hashFiles` failing in `ctx`, and a function building more than 4 MiB of
/// text. The error's range is the call's range in the expression text.
pub fn evaluate(expr: &Expr, ctx: &dyn Context) -> Result<Value, EvalError> {
    expr.eval(ctx).map(Val::into_value)
}

/// GitHub's truthiness: false, 0, -0, NaN, "" and null are false; everything else is true.
pub fn is_truthy(value: &Value) -> bool {
    Val::from_ref(value).is_truthy()
}

/// The text a value becomes when interpolated into a string: null is empty, numbers are
/// written as GitHub writes them, arrays and objects as their `toJSON` text.
pub fn to_display_string(value: &Value) -> String {
    Val::from_ref(value).to_display_string()
}

/// `error` with its range moved by `offset` bytes, for expressions inside a larger text.
fn shift_eval(error: EvalError, offset: usize) -> EvalError {
    EvalError { message: error.message, range: error.range.start + offset..error.range.end + offset }
}

/// A string that may hold `${{ }}` expressions between literal text.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; error ranges are byte ranges of `text`. An expression ends at the first
    /// `}}` outside a string literal; a `${{` without one is an error pointing at it.
    pub fn parse(text: &str) -> Result<Template, ExprError> {
        template::split(text).map(|parts| Template { parts })
    }

    /// True when the text has no expression.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|part| matches!(part, Part::Literal(_)))
    }

    /// Each expression with the byte offset in the template text where its inner source starts.
    pub fn expressions(&self) -> Vec<(&Expr, usize)> {
        self.parts
            .iter()
            .filter_map(|part| match part {
                Part::Expr { expr, offset } => Some((expr, *offset)),
                Part::Literal(_) => None,
            })
            .collect()
    }

    /// The only expression when the template is exactly one `${{ expr }}`, ignoring
    /// surrounding whitespace.
    fn single(&self) -> Option<(&Expr, usize)> {
        let mut expressions = self.expressions().into_iter();
        let single = expressions.next().filter(|_| expressions.next().is_none())?;
        let blank = |part: &Part| matches!(part, Part::Literal(text) if text.trim().is_empty());
        self.parts.iter().all(|part| matches!(part, Part::Expr { .. }) || blank(part)).then_some(single)
    }

    /// The value: a template that is exactly one `${{ expr }}` yields the expression's value
    /// (so `${{ fromJSON('[1,2]') }}` is an array); otherwise the rendered string.
    pub fn evaluate(&self, ctx: &dyn Context) -> Result<Value, EvalError> {
        match self.single() {
            Some((expr, offset)) => expr.eval(ctx).map(Val::into_value).map_err(|error| shift_eval(error, offset)),
            None => self.render(ctx).map(Value::String),
        }
    }

    /// The rendered string. Errors as [`evaluate`], with ranges in the template text; a
    /// rendering longer than 4 MiB is an error too.
    pub fn render(&self, ctx: &dyn Context) -> Result<String, EvalError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Expr { expr, offset } => {
                    let value = expr.eval(ctx).map_err(|error| shift_eval(error, *offset))?;
                    out.push_str(&value.to_display_string());
                    if out.len() > functions::MAX_STRING_LEN {
                        let range = *offset..*offset + expr.len;
                        return Err(EvalError {
                            message: functions::FunctionError::TooLong { what: "this template" }.to_string(),
                            range,
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}

/// An `if:` condition, written with or without `${{ }}`. As on GitHub, a condition that calls
/// no status function is evaluated as `success() && (condition)`.
///
/// An empty condition is `success()`. Text that mixes `${{ }}` with other text, such as
/// `${{ a }} && b`, is a string on GitHub, so it is true whenever it renders non-empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    form: ConditionForm,
}

#[derive(Debug, Clone, PartialEq)]
enum ConditionForm {
    Empty,
    /// A bare expression, or the inside of the one `${{ }}` the text consists of.
    Expr {
        expr: Expr,
        offset: usize,
    },
    /// Literal text mixed with `${{ }}`.
    Template(Template),
}

impl Condition {
    /// Parses `text`; error ranges are byte ranges of `text`.
    pub fn parse(text: &str) -> Result<Condition, ExprError> {
        let form = if text.trim().is_empty() {
            ConditionForm::Empty
        } else if text.contains("${{") {
            let template = Template::parse(text)?;
            match template.single() {
                Some((expr, offset)) => ConditionForm::Expr { expr: expr.clone(), offset },
                None => ConditionForm::Template(template),
            }
        } else {
            ConditionForm::Expr { expr: parse(text)?, offset: 0 }
        };
        Ok(Condition { form })
    }

    /// Whether the condition holds; without a status function it also needs `success()`, and
    /// is not evaluated at all when the job has not succeeded. Errors as [`evaluate`], with
    /// ranges in the condition text.
    pub fn evaluate(&self, ctx: &dyn Context) -> Result<bool, EvalError> {
        let uses_status = self.expressions().iter().any(|(expr, _)| expr.uses_status_function());
        if !uses_status && ctx.job_status() != JobStatus::Success {
            return Ok(false);
        }
        match &self.form {
            ConditionForm::Empty => Ok(true),
            ConditionForm::Expr { expr, offset } => {
                expr.eval(ctx).map(|value| value.is_truthy()).map_err(|error| shift_eval(error, *offset))
            }
            ConditionForm::Template(template) => template.render(ctx).map(|text| !text.is_empty()),
        }
    }

    /// True when the text mixes `${{ }}` with other text, such as `${{ a }} && b`: GitHub
    /// reads that as a string, which is true whenever it is not empty, so it is almost
    /// certainly a mistake worth a warning.
    pub fn is_interpolated_text(&self) -> bool {
        matches!(self.form, ConditionForm::Template(_))
    }

    /// The parsed expression(s) and the byte offset each starts at in the condition text.
    pub fn expressions(&self) -> Vec<(&Expr, usize)> {
        match &self.form {
            ConditionForm::Empty => Vec::new(),
            ConditionForm::Expr { expr, offset } => vec![(expr, *offset)],
            ConditionForm::Template(template) => template.expressions(),
        }
    }
}

/// The context names GitHub defines.
pub const CONTEXTS: &[&str] =
    &["github", "env", "vars", "secrets", "inputs", "matrix", "strategy", "needs", "steps", "job", "jobs", "runner"];
