//! Docker actions, as GitHub's runner runs them: `runs.using: docker` with `image: Dockerfile`
//! (built once per content of the action's folder) or `image: docker://…`, and `uses:
//! docker://image` steps. The container gets the inputs as `INPUT_*`, the step's environment,
//! `args` (with expressions) and `entrypoint`, the workspace at `/github/workspace` (its working
//! directory) and the runner files under `/github/file_commands`; its output goes through the
//! step's workflow commands and masking like a `run:` step's, and the runner files are read
//! back the same way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_model::Conclusion;
use ferry_workflow::expr::Value;
use ferry_workflow::model::Text;
use serde_json::Map;
use tokio::sync::watch;

use super::contexts::{Contexts, EvalFailure, Evaluate as _};
use super::step::{Script, StepResult, StepRunner};
use crate::docker::{ContainerSpec, DockerHost};
use crate::events::EventSender;
use crate::process::{Output, ProcessExit, ProcessSpec};

/// A Docker action's container, ready to run once the step's environment is known.
#[derive(Debug, Clone)]
pub struct ActionContainer {
    host: Arc<DockerHost>,
    image: String,
    entrypoint: Option<Vec<String>>,
    args: Vec<String>,
    /// Host folder → where the container sees it, longest host path first.
    mounts: Vec<(PathBuf, String)>,
    /// Variables of the job's environment the container does not get (the host's own, and
    /// `PATH`, which is the image's).
    dropped: Vec<String>,
    job: String,
    /// The job's network, when it has services: the action reaches them by name.
    network: Option<String>,
}

impl ActionContainer {
    /// Runs the container with `spec`'s environment (host paths translated) and timeout;
    /// `spec.program` and `spec.args` are not used.
    pub async fn run(
        &self,
        spec: &ProcessSpec,
        cancel: &mut watch::Receiver<bool>,
        output: &mut dyn Output,
        backpressure: Option<&EventSender>,
    ) -> std::io::Result<ProcessExit> {
        let mut env = super::containers::container_env(&spec.env, &self.mounts, &self.dropped);
        env.push(("HOME".to_owned(), "/github/home".to_owned()));
        let container = ContainerSpec {
            name: format!("ferry_{}_action_{}", self.job, unique()),
            image: self.image.clone(),
            env: env.into_iter().map(|(name, value)| format!("{name}={value}")).collect(),
            cmd: Some(self.args.clone()),
            entrypoint: self.entrypoint.clone(),
            working_dir: Some("/github/workspace".to_owned()),
            labels: crate::docker::labels(&self.host, &self.job),
            binds: self.mounts.iter().map(|(host, inside)| format!("{}:{inside}", host.display())).collect(),
            network: self.network.clone(),
            ..ContainerSpec::default()
        };
        crate::docker::run_container(
            &self.host.engine,
            &container,
            spec.timeout,
            spec.kill_grace,
            cancel,
            output,
            backpressure,
        )
        .await
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// What a Docker action's `runs:` says.
pub(super) struct DockerRuns<'a> {
    pub image: &'a Text,
    pub args: &'a [Text],
    pub entrypoint: Option<&'a Text>,
    pub env: &'a ferry_workflow::model::Env,
}

/// A Docker action ready to run in one of its stages (`pre-entrypoint`, the main entrypoint,
/// `post-entrypoint`): its image on the engine, its `args` and environment evaluated. Every
/// stage gets the same `args`, as on GitHub.
#[derive(Clone)]
pub(super) struct PreparedAction {
    host: Arc<DockerHost>,
    image: String,
    args: Vec<String>,
    inputs: Map<String, Value>,
    /// The step's environment with the action's `runs.env`.
    env: Map<String, Value>,
}

impl PreparedAction {
    /// Runs the stage with `entrypoint` (`None`: the image's own) as step `step_idx`; `state`
    /// (what earlier stages saved) as `STATE_*`.
    pub async fn run(
        &self,
        runner: &mut StepRunner<'_>,
        step_idx: usize,
        entrypoint: Option<String>,
        state: &[(String, String)],
        contexts: &Contexts,
    ) -> StepResult {
        let mut env = self.env.clone();
        for (name, value) in state {
            env.insert(format!("STATE_{name}"), Value::String(value.clone()));
        }
        let entrypoint = entrypoint.map(|entrypoint| vec![entrypoint]);
        let args = self.args.clone();
        run_in_image(runner, step_idx, &self.host, &self.image, entrypoint, args, &self.inputs, env, contexts).await
    }
}

/// Why a Docker action's image could not be made ready.
#[derive(Debug, thiserror::Error)]
pub(super) enum DockerActionError {
    /// Hashing the action's folder (which names its image) failed.
    #[error(transparent)]
    Hash(#[from] super::contexts::HashFilesReadError),
    #[error(transparent)]
    Engine(#[from] crate::docker::DockerError),
}

/// Prepares the Docker action in `dir` (its `action.yml` says `runs`) with its evaluated
/// `inputs` (defaults applied) and the step's `env`: builds or pulls its image and evaluates
/// `args` and `runs.env`. `Ok(Err(error))`: it cannot run here (the error is for the log).
#[expect(clippy::too_many_arguments, reason = "the pieces of one step, as for a composite action")]
pub(super) async fn prepare(
    runner: &mut StepRunner<'_>,
    step_idx: usize,
    reference: &str,
    dir: &Path,
    action_file: &str,
    runs: &DockerRuns<'_>,
    inputs: Map<String, Value>,
    env: Map<String, Value>,
    contexts: &Contexts,
) -> Result<Result<PreparedAction, DockerActionError>, EvalFailure> {
    let mut inner = contexts.clone();
    inner.set("inputs", Value::Object(inputs.clone()));
    let args = runs.args.iter().map(|arg| inner.render(action_file, arg)).collect::<Result<Vec<_>, _>>()?;
    let mut env = env;
    for (name, text) in runs.env {
        env.insert(name.clone(), Value::String(inner.render(action_file, text)?));
    }
    let host = match super::containers::docker_host(runner.setup, &mut runner.docker).await {
        Ok(host) => host,
        Err(error) => return Ok(Err(error.into())),
    };
    let image = match runs.image.value.strip_prefix("docker://") {
        Some(image) => match host.engine.ensure_image(image, None).await {
            Ok(()) => image.to_owned(),
            Err(error) => return Ok(Err(error.into())),
        },
        None => match built_image(runner, step_idx, &host, reference, dir, &runs.image.value).await {
            Ok(tag) => tag,
            Err(error) => return Ok(Err(error)),
        },
    };
    Ok(Ok(PreparedAction { host, image, args, inputs, env }))
}

/// Runs the main entrypoint of the Docker action in `dir`; the prepared action, for its
/// `post-entrypoint`, when it could run at all.
#[expect(clippy::too_many_arguments, reason = "the pieces of one step, as for a composite action")]
pub(super) async fn run_action(
    runner: &mut StepRunner<'_>,
    step_idx: usize,
    reference: &str,
    dir: &Path,
    action_file: &str,
    runs: &DockerRuns<'_>,
    inputs: Map<String, Value>,
    env: Map<String, Value>,
    state: &[(String, String)],
    contexts: &Contexts,
) -> Result<(StepResult, Option<PreparedAction>), EvalFailure> {
    let mut inner = contexts.clone();
    inner.set("inputs", Value::Object(inputs.clone()));
    let entrypoint = runs.entrypoint.map(|text| inner.render(action_file, text)).transpose()?;
    let prepared = match prepare(runner, step_idx, reference, dir, action_file, runs, inputs, env, contexts).await? {
        Ok(prepared) => prepared,
        Err(error) => return Ok((failed(runner, step_idx, &error.to_string()), None)),
    };
    let res = prepared.run(runner, step_idx, entrypoint, state, contexts).await;
    Ok((res, Some(prepared)))
}

/// Runs a `uses: docker://image` step: `with: args` (split into words) and `with:
/// entrypoint`, the other inputs as `INPUT_*`.
pub(super) async fn run_image_step(
    runner: &mut StepRunner<'_>,
    step_idx: usize,
    image: &str,
    inputs: Map<String, Value>,
    env: Map<String, Value>,
    contexts: &Contexts,
) -> StepResult {
    let host = match super::containers::docker_host(runner.setup, &mut runner.docker).await {
        Ok(host) => host,
        Err(error) => return failed(runner, step_idx, &error.to_string()),
    };
    if let Err(error) = host.engine.ensure_image(image, None).await {
        return failed(runner, step_idx, &error.to_string());
    }
    let text = |name: &str| inputs.get(name).and_then(Value::as_str).filter(|text| !text.is_empty());
    let args = match text("args").map(crate::shell::split_words) {
        Some(Some(args)) => args,
        Some(None) => return failed(runner, step_idx, "`with: args` has an unclosed quote"),
        None => Vec::new(),
    };
    let entrypoint = text("entrypoint").map(|entrypoint| vec![entrypoint.to_owned()]);
    run_in_image(runner, step_idx, &host, image, entrypoint, args, &inputs, env, contexts).await
}

fn failed(runner: &StepRunner<'_>, step_idx: usize, message: &str) -> StepResult {
    runner.line(step_idx, &format!("error: {message}"));
    StepResult { outcome: Conclusion::Failure, outputs: Map::new() }
}

/// The tag of the action's image built from its Dockerfile, built when the engine lacks it: one
/// per content of the action's folder, so a changed action is built again and an unchanged
/// one never.
async fn built_image(
    runner: &StepRunner<'_>,
    step_idx: usize,
    host: &DockerHost,
    reference: &str,
    dir: &Path,
    dockerfile: &str,
) -> Result<String, DockerActionError> {
    let digest = super::contexts::hash_files(dir, &["**".to_owned()])?;
    let tag = format!("ferry-action:{}", digest.get(..24).unwrap_or(&digest));
    if host.engine.has_image(&tag).await? {
        return Ok(tag);
    }
    runner.line(step_idx, &format!("Building the image of action `{reference}` from {dockerfile} as {tag}"));
    let labels = HashMap::from([("ferry.action".to_owned(), reference.to_owned())]);
    let mut progress = |line: &str| runner.line(step_idx, line);
    host.engine.build_image(dir, dockerfile, &tag, labels, &mut progress).await?;
    Ok(tag)
}

#[expect(clippy::too_many_arguments, reason = "what one container run of an action needs")]
async fn run_in_image(
    runner: &mut StepRunner<'_>,
    step_idx: usize,
    host: &Arc<DockerHost>,
    image: &str,
    entrypoint: Option<Vec<String>>,
    args: Vec<String>,
    inputs: &Map<String, Value>,
    mut env: Map<String, Value>,
    contexts: &Contexts,
) -> StepResult {
    let setup = runner.setup;
    for (name, value) in inputs {
        let name = format!("INPUT_{}", name.replace(' ', "_").to_ascii_uppercase());
        env.insert(name, value.clone());
    }
    if let Some(runtime) = crate::job::job_runtime_env(setup, true) {
        env.extend(runtime.map(|(name, value)| (name, Value::String(value))));
    }
    let home = setup.temp.join("_github_home");
    let workflow = setup.temp.join("_github_workflow");
    for dir in [&home, &workflow, &setup.files] {
        if let Err(error) = std::fs::create_dir_all(dir) {
            return failed(runner, step_idx, &format!("preparing {}: {error}", dir.display()));
        }
    }
    let mut mounts = vec![
        (setup.workspace.clone(), "/github/workspace".to_owned()),
        (setup.files.clone(), "/github/file_commands".to_owned()),
        (home, "/github/home".to_owned()),
        (workflow, "/github/workflow".to_owned()),
        (setup.temp.clone(), "/github/runner_temp".to_owned()),
    ];
    mounts.sort_by_key(|(host, _)| std::cmp::Reverse(host.as_os_str().len()));
    let mut dropped: Vec<String> = crate::isolation::host_env(std::env::vars_os(), &setup.isolation.pass_env)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    dropped.extend(["PATH".to_owned(), "HOME".to_owned()]);
    let container = ActionContainer {
        host: host.clone(),
        image: image.to_owned(),
        entrypoint,
        args,
        mounts,
        dropped,
        job: setup.job_id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect(),
        network: contexts
            .values
            .get("job")
            .and_then(|job| job.get("container"))
            .and_then(|container| container.get("network"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let script = Script {
        text: String::new(),
        shell: None,
        working_directory: None,
        env,
        timeout: None,
        retry: None,
        action_path: None,
        step_id: None,
        command: None,
        extra_env: Vec::new(),
        action_container: Some(container),
    };
    runner.run_script(step_idx, script).await
}
