//! Evaluating the expressions of a workflow's texts against any [`Context`], with failures
//! phrased with the place they happened (`ci.yml:12:9: …`). `ferry run`, the server's planner
//! and the runner all evaluate through these, so a job's `if:` means the same everywhere.

use crate::expr::{self, Condition, Context, Template, Value};
use crate::model::{OrExpr, Text};

/// An evaluation failure, already phrased with the place it happened (`ci.yml:12:9: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalFailure(pub String);

/// The evaluations every context offers; implemented for every [`Context`].
pub trait Evaluate: Context {
    /// The text with its expressions replaced by their values.
    ///
    /// # Errors
    /// A syntax or evaluation error, located in `file`.
    fn render(&self, file: &str, text: &Text) -> Result<String, EvalFailure>
    where
        Self: Sized,
    {
        if !text.has_expression() {
            return Ok(text.value.clone());
        }
        let template = Template::parse(&text.value).map_err(|error| located(file, text, &error.message))?;
        template.render(self).map_err(|error| located(file, text, &error.message))
    }

    /// The value of a text: a lone `${{ expr }}` keeps its type (a list, a number).
    ///
    /// # Errors
    /// A syntax or evaluation error, located in `file`.
    fn value(&self, file: &str, text: &Text) -> Result<Value, EvalFailure>
    where
        Self: Sized,
    {
        let template = Template::parse(&text.value).map_err(|error| located(file, text, &error.message))?;
        template.evaluate(self).map_err(|error| located(file, text, &error.message))
    }

    /// An `if:` condition; `None` (no `if:`) means `success()`.
    ///
    /// # Errors
    /// A syntax or evaluation error, located in `file`.
    fn condition(&self, file: &str, text: Option<&Text>) -> Result<bool, EvalFailure>
    where
        Self: Sized,
    {
        let Some(text) = text else { return Ok(self.job_status() == ferry_model::JobStatus::Success) };
        let condition = Condition::parse(&text.value).map_err(|error| located(file, text, &error.message))?;
        condition.evaluate(self).map_err(|error| located(file, text, &error.message))
    }

    /// A boolean setting that may be an expression; `default` when it is not set.
    ///
    /// # Errors
    /// A syntax or evaluation error, located in `file`.
    fn boolean(&self, file: &str, value: Option<&OrExpr<bool>>, default: bool) -> Result<bool, EvalFailure>
    where
        Self: Sized,
    {
        match value {
            None => Ok(default),
            Some(OrExpr::Value(value)) => Ok(value.value),
            Some(OrExpr::Expr(text)) => Ok(expr::is_truthy(&self.value(file, text)?)),
        }
    }

    /// A number setting that may be an expression.
    ///
    /// # Errors
    /// A syntax or evaluation error, or a value that is not a number, located in `file`.
    fn number(&self, file: &str, value: Option<&OrExpr<f64>>) -> Result<Option<f64>, EvalFailure>
    where
        Self: Sized,
    {
        match value {
            None => Ok(None),
            Some(OrExpr::Value(value)) => Ok(Some(value.value)),
            Some(OrExpr::Expr(text)) => {
                let value = self.value(file, text)?;
                let number = match &value {
                    Value::Number(number) => number.as_f64(),
                    Value::String(text) => text.trim().parse().ok(),
                    _ => None,
                };
                number.map(Some).ok_or_else(|| located(file, text, &format!("expected a number, got `{value}`")))
            }
        }
    }
}

impl<T: Context> Evaluate for T {}

fn located(file: &str, text: &Text, message: &str) -> EvalFailure {
    EvalFailure(format!("{file}:{}:{}: {message}", text.span.start.line, text.span.start.col))
}
