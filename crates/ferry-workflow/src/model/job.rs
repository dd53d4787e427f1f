//! A job: where it runs, what it waits for, its matrix, and its steps (or the reusable
//! workflow it calls).

use indexmap::IndexMap;
use serde::Serialize;

use super::{Concurrency, Defaults, Env, OrExpr, Spanned, Step, StepKind, Text};

/// One entry under `jobs:`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// The job id (the key under `jobs:`).
    pub id: Text,
    pub name: Option<Text>,
    /// Ids of the jobs this one waits for. Every id names a job of the workflow and the graph
    /// has no cycle, unless a diagnostic says otherwise.
    pub needs: Vec<Text>,
    /// `if:` as written, with or without `${{ }}` (parse with [`crate::expr::Condition`]).
    #[serde(rename = "if")]
    pub if_: Option<Text>,
    /// `None` for a job that calls a reusable workflow (`uses:`).
    pub runs_on: Option<RunsOn>,
    pub environment: Option<Environment>,
    /// Output name → template over `steps.*.outputs`.
    pub outputs: IndexMap<String, Text>,
    pub env: Env,
    pub defaults: Defaults,
    /// Minutes; GitHub's default is 360.
    pub timeout_minutes: Option<OrExpr<f64>>,
    pub continue_on_error: Option<OrExpr<bool>>,
    pub strategy: Option<Strategy>,
    /// `container:` as written (an image string or a mapping), as JSON.
    pub container: Option<Spanned<serde_json::Value>>,
    /// `services:` as written, as JSON.
    pub services: Option<Spanned<serde_json::Value>>,
    pub concurrency: Option<Concurrency>,
    pub permissions: Option<Spanned<serde_json::Value>>,
    /// Empty for a reusable-workflow call.
    pub steps: Vec<Step>,
    /// A reusable workflow: `owner/repo/.github/workflows/x.yml@ref`, `./.github/workflows/x.yml`
    /// or `$/.github/workflows/x.yml`.
    pub uses: Option<Text>,
    /// Inputs passed to the reusable workflow.
    pub with: IndexMap<String, Text>,
    pub secrets: Option<JobSecrets>,
    /// Ferry extension (`.ferry/workflows` only): the job may fail without failing the run.
    pub allow_failure: bool,
}

impl Job {
    /// Whether the job needs a container engine as written: a `container:`, `services:` or a
    /// `docker://` step (also within `parallel:`). An action from a repository may need one
    /// too (`runs.using: docker`), which only its `action.yml` tells.
    #[must_use]
    pub fn needs_container_engine(&self) -> bool {
        fn docker_step(step: &Step) -> bool {
            match &step.kind {
                StepKind::Uses { uses, .. } => uses.value.trim_start().starts_with("docker://"),
                StepKind::Parallel(steps) => steps.iter().any(docker_step),
                _ => false,
            }
        }
        self.container.is_some() || self.services.is_some() || self.steps.iter().any(docker_step)
    }
}

/// `runs-on:`: labels a runner must all have, optionally within a runner group. A single
/// string is one label (it may be an expression that evaluates to a label or a list).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunsOn {
    Labels(Vec<Text>),
    Group { group: Option<Text>, labels: Vec<Text> },
}

/// `environment:` as a name or `{ name, url }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Environment {
    pub name: Text,
    pub url: Option<Text>,
}

/// `secrets:` of a reusable-workflow call.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobSecrets {
    /// `secrets: inherit`.
    Inherit,
    Map(IndexMap<String, Text>),
}

/// `strategy:`: how the matrix fans the job out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Strategy {
    pub matrix: Option<Matrix>,
    /// `true` when not written.
    pub fail_fast: Option<OrExpr<bool>>,
    pub max_parallel: Option<OrExpr<f64>>,
}

/// `strategy.matrix:`.
#[expect(clippy::large_enum_variant, reason = "one matrix per job: boxing would buy nothing")]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Matrix {
    /// Dimensions (name → list of values, or an expression string that yields one) plus
    /// `include`/`exclude` (lists of objects, or expression strings), all as JSON.
    Map {
        dimensions: IndexMap<String, Spanned<serde_json::Value>>,
        include: Option<Spanned<serde_json::Value>>,
        exclude: Option<Spanned<serde_json::Value>>,
    },
    /// The whole matrix as one expression (`${{ fromJSON(needs.plan.outputs.matrix) }}`).
    Expr(Text),
}
