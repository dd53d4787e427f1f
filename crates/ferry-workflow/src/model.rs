//! The typed workflow the engine consumes: what a `.github/workflows/*.yml` or
//! `.ferry/workflows/*.yml` file says, with a [`Span`] on every user-written string so that
//! runtime errors (an expression failing to evaluate, a bad matrix value) can point at
//! `file:line:col` too.
//!
//! The model is built by [`crate::parse_workflow`] even when the file has errors: fields whose
//! value was unusable are left empty (`None`, empty maps), and the diagnostics say why.
//! Strings that may contain `${{ }}` expressions are kept verbatim as [`Text`]; evaluating them
//! is the engine's job (see [`crate::expr::Template`]).

use indexmap::IndexMap;
use serde::Serialize;

use crate::span::Span;

mod action;
mod job;
mod step;
mod trigger;

pub use action::{Action, ActionInput, ActionOutput, Runs};
pub use job::{Environment, Job, JobSecrets, Matrix, RunsOn, Strategy};
pub use step::{Retry, Step, StepKind};
pub use trigger::{
    CallInput, CallInputType, CallOutput, CallSecret, DispatchInput, DispatchInputType, RefFilters, Trigger,
    TriggerKind, WorkflowCall,
};

/// A value together with where it is written in the source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// A user-written string (possibly holding `${{ }}` expressions) and the span of its YAML
/// scalar. Booleans and numbers written where a string is expected (`FOO: 1`) are kept as the
/// text they were written as, which is what GitHub passes on.
pub type Text = Spanned<String>;

impl Text {
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Whether the text holds an expression and so must be evaluated before use.
    pub fn has_expression(&self) -> bool {
        self.value.contains("${{")
    }
}

/// A value that may instead be written as a `${{ }}` expression evaluated at run time
/// (`timeout-minutes: ${{ inputs.timeout }}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrExpr<T> {
    Value(Spanned<T>),
    Expr(Text),
}

impl<T> OrExpr<T> {
    pub fn span(&self) -> Span {
        match self {
            OrExpr::Value(value) => value.span,
            OrExpr::Expr(text) => text.span,
        }
    }
}

/// Environment variables in the order written: name → value.
pub type Env = IndexMap<String, Text>;

/// One workflow file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workflow {
    /// `name:`; GitHub shows the file path when absent.
    pub name: Option<Text>,
    /// `run-name:`, may hold expressions over `github` and `inputs`.
    pub run_name: Option<Text>,
    /// The events under `on:`, in the order written.
    pub on: Vec<Trigger>,
    pub env: Env,
    pub defaults: Defaults,
    pub concurrency: Option<Concurrency>,
    /// `permissions:` as written (`read-all`, `{}`, or scope → level), as JSON.
    pub permissions: Option<Spanned<serde_json::Value>>,
    /// Jobs by id, in the order written.
    pub jobs: IndexMap<String, Job>,
}

impl Workflow {
    /// The trigger for `event` (`push`, `pull_request`, …), if the workflow listens to it.
    pub fn trigger(&self, event: &str) -> Option<&Trigger> {
        self.on.iter().find(|trigger| trigger.event.value == event)
    }
}

/// `defaults: run:` at workflow or job level.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Defaults {
    pub shell: Option<Text>,
    pub working_directory: Option<Text>,
}

/// `concurrency:` as a group name alone or as `{ group, cancel-in-progress }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Concurrency {
    pub group: Text,
    /// `false` when not written.
    pub cancel_in_progress: Option<OrExpr<bool>>,
}
