//! Deciding how a ready job runs: its `if:`, its matrix and its instances' names, and the
//! `strategy` settings that must be known before it starts. Pure: the caller passes the
//! contexts the job sees (`github`, `inputs`, `vars`, `secrets`, `needs`), so `ferry run` and
//! the server plan jobs the same way.

use ferry_model::{Conclusion, JobStatus};
use ferry_workflow::expr::{Context, EvalFailure, Evaluate, Value, to_display_string};
use ferry_workflow::model::{DispatchInputType, Job, Matrix, RunsOn, Text, TriggerKind, Workflow};
use serde_json::Map;

use crate::driver::{ExpandJob, ExpansionRecord, JobPlan, PlannedInstance};
use crate::{ExpandRequest, Expansion, JobSpec, expand_matrix, instance_name};

/// The contexts a job-level expression sees, and its status.
#[derive(Debug, Clone)]
pub struct Scope {
    pub values: Map<String, Value>,
    pub status: JobStatus,
}

impl Context for Scope {
    fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    fn job_status(&self) -> JobStatus {
        self.status
    }
}

impl Scope {
    /// The scope of `run` (the run's contexts by name) with `needs` and `status`.
    pub fn new(run: &Map<String, Value>, needs: &Map<String, Value>, status: JobStatus) -> Scope {
        let mut values = run.clone();
        values.insert("needs".to_owned(), Value::Object(needs.clone()));
        Scope { values, status }
    }
}

/// `strategy.fail-fast` and `strategy.max-parallel`, which must be known before the job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrategySettings {
    pub fail_fast: bool,
    pub max_parallel: Option<usize>,
}

/// The job's strategy settings, evaluated in the run's contexts (`run`).
///
/// # Errors
/// An expression in them that does not evaluate.
pub fn strategy_settings(run: &Map<String, Value>, file: &str, job: &Job) -> Result<StrategySettings, EvalFailure> {
    let Some(strategy) = &job.strategy else { return Ok(StrategySettings { fail_fast: true, max_parallel: None }) };
    let scope = Scope::new(run, &Map::new(), JobStatus::Success);
    let fail_fast = scope.boolean(file, strategy.fail_fast.as_ref(), true)?;
    let max_parallel = scope.number(file, strategy.max_parallel.as_ref())?.map(|n| n.max(1.0) as usize);
    Ok(StrategySettings { fail_fast, max_parallel })
}

/// The job's name before matrix values are added: its `name:` when literal, else its id.
pub fn base_name(job_id: &str, job: &Job) -> String {
    match &job.name {
        Some(name) if !name.has_expression() => name.value.clone(),
        _ => job_id.to_owned(),
    }
}

/// Evaluates a ready job's `if:` and matrix in `scope` (see [`Scope::new`]), and names its
/// instances.
///
/// # Errors
/// An expression that does not evaluate, or a matrix that is not one.
pub fn expand_job(
    scope: &Scope,
    file: &str,
    job_id: &str,
    job: &Job,
    request: &ExpandRequest,
) -> Result<Expansion, EvalFailure> {
    let uses_status_function = match &job.if_ {
        Some(text) => ferry_workflow::expr::Condition::parse(&text.value)
            .map(|condition| condition.expressions().iter().any(|(expr, _)| expr.uses_status_function()))
            .unwrap_or(false),
        None => false,
    };
    // Without a status function, a job runs only when every job it needs succeeded.
    let needs_fine = request.needs_succeeded && request.status == JobStatus::Success;
    if !uses_status_function && !needs_fine {
        return Ok(Expansion::Skip);
    }
    if !scope.condition(file, job.if_.as_ref())? {
        return Ok(Expansion::Skip);
    }
    let combinations = match job.strategy.as_ref().and_then(|strategy| strategy.matrix.as_ref()) {
        None => vec![Map::new()],
        Some(matrix) => {
            let matrix = matrix_value(scope, file, matrix)?;
            expand_matrix(&matrix).map_err(|error| EvalFailure(format!("job `{job_id}`: {error}")))?
        }
    };
    let mut instances = Vec::new();
    for combination in combinations {
        let name = match &job.name {
            Some(name) if name.has_expression() => {
                let mut scope = scope.clone();
                scope.values.insert("matrix".to_owned(), Value::Object(combination.clone()));
                let rendered = scope.render(file, name)?;
                if name.value.contains("matrix") { rendered } else { instance_name(&rendered, &combination) }
            }
            _ => instance_name(&base_name(job_id, job), &combination),
        };
        instances.push((name, combination));
    }
    Ok(Expansion::Instances(instances))
}

/// Decides how a ready job runs ([`crate::Action::Expand`]): its `if:`, matrix and names
/// evaluated in the run's contexts (`run`) and the job's `needs`. An expression that does not
/// evaluate concludes the job failure, with the reason in the record.
pub fn decide(run: &Map<String, Value>, file: &str, job: &Job, expand: &ExpandJob) -> ExpansionRecord {
    let scope = Scope::new(run, &expand.needs, expand.request.status);
    let plan = match expand_job(&scope, file, &expand.job_id, job, &expand.request) {
        Ok(Expansion::Skip) => JobPlan::Skip,
        Ok(Expansion::Conclude(conclusion)) => JobPlan::Conclude { conclusion, error: None, outputs: Map::new() },
        // Only a call has legs, and a job decided here calls nothing.
        Ok(Expansion::Legs(_)) => {
            JobPlan::Conclude { conclusion: Conclusion::Success, error: None, outputs: Map::new() }
        }
        Ok(Expansion::Instances(instances)) => JobPlan::Instances {
            instances: instances
                .into_iter()
                .map(|(name, matrix)| PlannedInstance { name, matrix, inputs: None, leg: None })
                .collect(),
        },
        Err(error) => JobPlan::Conclude { conclusion: Conclusion::Failure, error: Some(error.0), outputs: Map::new() },
    };
    ExpansionRecord::of(plan, expand)
}

/// The driver's view of a workflow's jobs: ids, `needs` and strategy settings evaluated in
/// the run's contexts (`run`); a strategy that does not evaluate keeps the defaults (its
/// matrix fails the job when it is decided).
pub fn job_specs(run: &Map<String, Value>, file: &str, workflow: &Workflow) -> Vec<JobSpec> {
    workflow
        .jobs
        .iter()
        .map(|(id, job)| {
            let strategy =
                strategy_settings(run, file, job).unwrap_or(StrategySettings { fail_fast: true, max_parallel: None });
            JobSpec {
                id: id.clone(),
                needs: job.needs.iter().map(|need| need.value.clone()).collect(),
                fail_fast: strategy.fail_fast,
                max_parallel: strategy.max_parallel,
                legs_of: None,
            }
        })
        .collect()
}

/// The matrix as one JSON object, with every expression in it evaluated.
fn matrix_value(scope: &Scope, file: &str, matrix: &Matrix) -> Result<Value, EvalFailure> {
    let evaluate = |value: &Value, span: ferry_workflow::Span| -> Result<Value, EvalFailure> {
        evaluate_strings(scope, file, value, span)
    };
    match matrix {
        Matrix::Expr(text) => scope.value(file, text),
        Matrix::Map { dimensions, include, exclude } => {
            let mut object = Map::new();
            for (key, value) in dimensions {
                object.insert(key.clone(), evaluate(&value.value, value.span)?);
            }
            for (key, value) in [("include", include), ("exclude", exclude)] {
                if let Some(value) = value {
                    object.insert(key.to_owned(), evaluate(&value.value, value.span)?);
                }
            }
            Ok(Value::Object(object))
        }
    }
}

/// `value` with every string that holds an expression replaced by the expression's value.
fn evaluate_strings(
    scope: &Scope,
    file: &str,
    value: &Value,
    span: ferry_workflow::Span,
) -> Result<Value, EvalFailure> {
    Ok(match value {
        Value::String(text) if text.contains("${{") => scope.value(file, &Text { value: text.clone(), span })?,
        Value::Array(list) => {
            Value::Array(list.iter().map(|item| evaluate_strings(scope, file, item, span)).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| Ok((key.clone(), evaluate_strings(scope, file, item, span)?)))
                .collect::<Result<_, EvalFailure>>()?,
        ),
        other => other.clone(),
    })
}

/// Why the inputs given to a `workflow_dispatch` cannot start it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchInputError {
    /// A choice input was given a value that is not one of its options.
    #[error("--input {name}={value}: choose one of {}", options.join(", "))]
    NotAnOption { name: String, value: String, options: Vec<String> },
    /// A required input has no value.
    #[error("input `{name}` is required; pass it with --input {name}=<value>")]
    Missing { name: String },
}

/// `workflow_dispatch` inputs: the declared defaults, overridden by `given`, typed as
/// declared (booleans, numbers); a choice must be one of its options. With `check_required`,
/// a required input that has no value is an error.
///
/// # Errors
/// The input that is not one of its options or is missing, and how to pass it.
pub fn dispatch_inputs(
    workflow: &Workflow,
    given: &[(String, String)],
    check_required: bool,
) -> Result<Map<String, Value>, DispatchInputError> {
    let declared = workflow.trigger("workflow_dispatch").and_then(|trigger| match &trigger.kind {
        TriggerKind::Dispatch(inputs) => Some(inputs),
        _ => None,
    });
    let mut inputs = Map::new();
    for (name, input) in declared.into_iter().flatten() {
        if let Some(default) = &input.default {
            let text = match &default.value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            inputs.insert(name.clone(), typed(&input.kind, &text));
        }
    }
    for (key, text) in given {
        let Some(input) = declared.and_then(|declared| declared.get(key)) else {
            inputs.insert(key.clone(), Value::String(text.clone()));
            continue;
        };
        if let DispatchInputType::Choice { options } = &input.kind
            && !options.iter().any(|option| option.value == *text)
        {
            return Err(DispatchInputError::NotAnOption {
                name: key.clone(),
                value: text.clone(),
                options: options.iter().map(|option| option.value.clone()).collect(),
            });
        }
        inputs.insert(key.clone(), typed(&input.kind, text));
    }
    if check_required {
        for (name, input) in declared.into_iter().flatten() {
            if input.required && !inputs.contains_key(name) {
                return Err(DispatchInputError::Missing { name: name.clone() });
            }
        }
    }
    Ok(inputs)
}

/// `github.event.inputs` of a `workflow_dispatch`: every input as the string GitHub's event
/// payload holds (`true`, `41`), where the `inputs` context keeps their declared types.
#[must_use]
pub fn event_inputs(inputs: &Map<String, Value>) -> Map<String, Value> {
    inputs.iter().map(|(name, value)| (name.clone(), Value::String(to_display_string(value)))).collect()
}

fn typed(kind: &DispatchInputType, text: &str) -> Value {
    match kind {
        DispatchInputType::Boolean => Value::Bool(text.trim().eq_ignore_ascii_case("true")),
        DispatchInputType::Number => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| Value::String(text.to_owned()), Value::Number),
        _ => Value::String(text.to_owned()),
    }
}

/// The labels of a job's `runs-on`, expressions evaluated in `scope` (with its matrix); a
/// job without `runs-on` needs no label.
///
/// # Errors
/// An expression that does not evaluate.
pub fn runs_on_labels(scope: &Scope, file: &str, job: &Job) -> Result<Vec<String>, EvalFailure> {
    let texts = match &job.runs_on {
        None => return Ok(Vec::new()),
        Some(RunsOn::Labels(labels)) | Some(RunsOn::Group { labels, .. }) => labels,
    };
    let mut labels = Vec::new();
    for text in texts {
        match scope.value(file, text)? {
            Value::Array(list) => labels.extend(list.iter().map(ferry_workflow::expr::to_display_string)),
            value => labels.push(ferry_workflow::expr::to_display_string(&value)),
        }
    }
    labels.retain(|label| !label.is_empty());
    Ok(labels)
}

#[cfg(test)]
mod tests;
