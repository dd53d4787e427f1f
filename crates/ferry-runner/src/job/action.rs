//! `uses:` steps: the actions Ferry does itself (see `builtin.rs`), local composite and Docker
//! actions (`./path`, `docker://image`, see `docker_action.rs`),
//! and remote actions found in a local actions directory. Anything else is a clear
//! error naming the action.

use std::path::{Path, PathBuf};

use ferry_model::{Conclusion, JobStatus};
use ferry_workflow::expr::Value;
use ferry_workflow::model::{Runs, Text};
use indexmap::IndexMap;
use serde_json::Map;

use super::builtin;
use super::contexts::{Contexts, EvalFailure, Evaluate as _};
use super::step::{StepResult, StepRunner};

/// Runs a `uses:` step with its evaluated `with:` inputs.
pub(super) async fn run_uses(
    runner: &mut StepRunner<'_>,
    step_idx: usize,
    uses: &Text,
    with: &IndexMap<String, Text>,
    env: Map<String, Value>,
    contexts: &mut Contexts,
) -> Result<StepResult, EvalFailure> {
    let reference = contexts.render(&runner.file, uses)?;
    let mut inputs = Map::new();
    for (name, text) in with {
        inputs.insert(name.to_ascii_lowercase(), Value::String(contexts.render(&runner.file, text)?));
    }
    if let Some(builtin) = builtin::builtin(&reference) {
        return Ok(builtin::run_builtin(runner, step_idx, builtin, &inputs, contexts).await);
    }
    if let Some(image) = reference.strip_prefix("docker://") {
        return Ok(super::docker_action::run_image_step(runner, step_idx, image, inputs, env, contexts).await);
    }
    let Some(dir) = resolve(runner, &reference) else {
        runner.line(step_idx, &format!("error: {}", unavailable(&reference)));
        return Ok(StepResult { outcome: Conclusion::Failure, outputs: Map::new() });
    };
    run_action_dir(runner, step_idx, &reference, &dir, inputs, env, contexts).await
}

fn unavailable(reference: &str) -> String {
    let name = reference.split('@').next().unwrap_or(reference);
    format!(
        "action `{reference}` is not available here: `ferry run` does not download actions. \
         Put a copy (with its action.yml) in .ferry/actions/{name}/ of the repository, or replace the step with a `run:` step"
    )
}

/// Where the action's files are: `./path` in the workspace, `owner/repo[/path]@ref` in an
/// actions directory.
fn resolve(runner: &StepRunner<'_>, reference: &str) -> Option<PathBuf> {
    if let Some(local) = reference.strip_prefix("./") {
        return Some(runner.setup.workspace.join(local));
    }
    let name = reference.split('@').next()?;
    runner.setup.action_dirs.iter().map(|dir| dir.join(name)).find(|dir| action_file(dir).is_some())
}

fn action_file(dir: &Path) -> Option<PathBuf> {
    ["action.yml", "action.yaml"].into_iter().map(|name| dir.join(name)).find(|path| path.is_file())
}

async fn run_action_dir(
    runner: &mut StepRunner<'_>,
    step_idx: usize,
    reference: &str,
    dir: &Path,
    mut inputs: Map<String, Value>,
    env: Map<String, Value>,
    contexts: &mut Contexts,
) -> Result<StepResult, EvalFailure> {
    let failed = |runner: &StepRunner<'_>, message: String| {
        runner.line(step_idx, &format!("error: {message}"));
        Ok(StepResult { outcome: Conclusion::Failure, outputs: Map::new() })
    };
    let Some(path) = action_file(dir) else {
        return failed(runner, format!("action `{reference}`: no action.yml or action.yaml in {}", dir.display()));
    };
    let src = match std::fs::read_to_string(&path) {
        Ok(src) => src,
        Err(error) => return failed(runner, format!("reading {}: {error}", path.display())),
    };
    let (action, diagnostics) = ferry_workflow::parse_action(&src);
    let action_file_name = path.display().to_string();
    if let Some(diagnostic) = diagnostics.iter().find(|diagnostic| diagnostic.is_error()) {
        let start = diagnostic.span.start;
        return failed(runner, format!("{action_file_name}:{}:{}: {}", start.line, start.col, diagnostic.message));
    }
    let Some(action) = action else {
        return failed(runner, format!("{action_file_name}: not a valid action"));
    };
    let steps = match &action.runs {
        Some(Runs::Composite { steps }) => Some(steps),
        Some(Runs::Docker { .. }) => None,
        _ => {
            return failed(
                runner,
                format!("action `{reference}` is not a composite or Docker action; `ferry run` runs only those here"),
            );
        }
    };

    // Inputs: given with `with:`, else the action's defaults (which may hold expressions).
    for (name, input) in &action.inputs {
        let key = name.to_ascii_lowercase();
        if inputs.contains_key(&key) {
            continue;
        }
        let value = match &input.default {
            Some(default) => Value::String(contexts.render(&action_file_name, default)?),
            None => {
                if input.required.as_ref().is_some_and(|required| required.value) {
                    // GitHub only warns about a missing required input, and passes "".
                    runner.line(step_idx, &format!("warning: input required and not supplied: {name}"));
                }
                Value::String(String::new())
            }
        };
        inputs.insert(key, value);
    }

    let Some(steps) = steps else {
        let Some(Runs::Docker { image, args, entrypoint, pre_entrypoint, env: runs_env, .. }) = &action.runs else {
            return failed(runner, format!("action `{reference}`: not a Docker action"));
        };
        let runs = super::docker_action::DockerRuns {
            image,
            args,
            entrypoint: entrypoint.as_ref(),
            pre_entrypoint: pre_entrypoint.as_ref(),
            env: runs_env,
        };
        return super::docker_action::run_action(
            runner,
            step_idx,
            reference,
            dir,
            &action_file_name,
            &runs,
            inputs,
            env,
            contexts,
        )
        .await;
    };
    let mut inner = contexts.clone();
    inner.set("inputs", Value::Object(inputs));
    inner.set("steps", Value::Object(Map::new()));
    inner.set("env", Value::Object(env));
    if let Some(github) = inner.values.get_mut("github").and_then(Value::as_object_mut) {
        github.insert("action_path".to_owned(), Value::String(dir.display().to_string()));
    }
    let outer_status = inner.status;
    // Errors inside the action name the action's file, not the workflow.
    let file = std::mem::replace(&mut runner.file, action_file_name.clone());
    for inner_step in steps {
        runner.run_step(step_idx, inner_step, &mut inner).await;
    }
    let mut outputs = Map::new();
    let mut error = None;
    for (name, output) in &action.outputs {
        if let Some(value) = &output.value {
            match inner.render(&runner.file, value) {
                Ok(text) => {
                    outputs.insert(name.clone(), Value::String(text));
                }
                Err(failure) => error = Some(failure),
            }
        }
    }
    runner.file = file;
    // The composite's environment changes (`$GITHUB_ENV`) are already in the runner's env.
    let outcome = match inner.status {
        status if status == outer_status => Conclusion::Success,
        JobStatus::Cancelled => Conclusion::Cancelled,
        _ => Conclusion::Failure,
    };
    if let Some(error) = error {
        return Err(error);
    }
    Ok(StepResult { outcome, outputs })
}
