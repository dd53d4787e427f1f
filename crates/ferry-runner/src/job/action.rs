//! `uses:` steps: the actions Ferry does itself (see `builtin.rs`), local actions (`./path`),
//! actions in a local actions directory (`.ferry/actions/`, `$FERRY_ACTIONS_DIR`: checked
//! first, they override), and actions fetched from their repositories through the job's
//! [`crate::actions::ActionsSource`]. Composite actions run their steps here (nested up to
//! GitHub's depth), JavaScript actions run on the host's Node.js as step processes with their
//! `pre` and `post` scripts, and `docker` actions and `docker://` images run in containers
//! (`docker_action.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ferry_model::{Conclusion, JobStatus};
use ferry_workflow::expr::Value;
use ferry_workflow::model::{Runs, Step, StepKind, Text};
use indexmap::IndexMap;
use serde_json::Map;

use super::builtin;
use super::contexts::{Contexts, EvalFailure, Evaluate as _};
use super::step::{Script, StepResult, StepRunner};
use super::{JobEvent, StepRecord, masked};
use crate::actions::ActionRef;

/// How many composite actions may be nested in one another: GitHub's runner refuses a
/// composite action deeper than 9 below a workflow's step, 10 levels in all.
const MAX_COMPOSITE_DEPTH: usize = 10;

/// The oldest Node.js that runs JavaScript actions; `node12` and `node16` actions run on it.
const OLDEST_NODE: u32 = 20;

/// Runs a `uses:` step with its evaluated `with:` inputs.
pub(super) async fn run_uses(
    runner: &mut StepRunner<'_>,
    step_idx: usize,
    uses: &Text,
    with: &IndexMap<String, Text>,
    env: Map<String, Value>,
    timeout: Option<std::time::Duration>,
    contexts: &mut Contexts,
) -> Result<StepResult, EvalFailure> {
    let reference = contexts.render(&runner.file, uses)?;
    let inputs = rendered_inputs(runner, with, contexts)?;
    if let Some(builtin) = builtin::builtin(&reference) {
        return Ok(builtin::run_builtin(runner, step_idx, builtin, &inputs, contexts).await);
    }
    if let Some(image) = reference.strip_prefix("docker://") {
        return Ok(super::docker_action::run_image_step(runner, step_idx, image, inputs, env, contexts).await);
    }
    let found = match locate(runner, &reference).await {
        Ok(found) => found,
        Err(error) => {
            runner.line(step_idx, &format!("error: {error}"));
            return Ok(StepResult { outcome: Conclusion::Failure, outputs: Map::new() });
        }
    };
    // As GitHub's runner, which downloads each action once while it sets the job up, the
    // line is shown once per job, by the first step that uses it.
    if let Some(download) = &found.download
        && runner.shown_downloads.insert(download.clone())
    {
        runner.line(step_idx, download);
    }
    // What the action's `pre` script saved.
    let pre_state = runner.pre_states.remove(&runner.action_path);
    let call = Call { step_idx, reference: &reference, found: &found, timeout, pre_state };
    run_action_dir(runner, call, inputs, env, contexts).await
}

fn rendered_inputs(
    runner: &StepRunner<'_>,
    with: &IndexMap<String, Text>,
    contexts: &Contexts,
) -> Result<Map<String, Value>, EvalFailure> {
    rendered_inputs_in(with, &runner.file, contexts)
}

/// The `with:` inputs evaluated, names lower-cased; `file` names the file they are in.
fn rendered_inputs_in(
    with: &IndexMap<String, Text>,
    file: &str,
    contexts: &Contexts,
) -> Result<Map<String, Value>, EvalFailure> {
    let mut inputs = Map::new();
    for (name, text) in with {
        inputs.insert(name.to_ascii_lowercase(), Value::String(contexts.render(file, text)?));
    }
    Ok(inputs)
}

/// Where an action's files are, and for one from a repository, which (`github.action_repository`
/// and `github.action_ref`).
#[derive(Clone)]
struct Found {
    dir: PathBuf,
    repository: String,
    git_ref: String,
    /// `Download action repository 'owner/repo@ref' (SHA:…)`, for one from the actions source.
    download: Option<String>,
}

/// One run of an action: the step it is, what it is, and what its `pre` script saved.
struct Call<'a> {
    step_idx: usize,
    reference: &'a str,
    found: &'a Found,
    timeout: Option<std::time::Duration>,
    pre_state: Option<Vec<(String, String)>>,
}

/// Why the action a step `uses:` cannot be found or read.
#[derive(Debug, thiserror::Error)]
pub(super) enum ActionError {
    #[error("`{reference}` is a container image, not an action with files")]
    ContainerImage { reference: String },
    #[error(
        "`{reference}` is not an action reference: write owner/repo@ref, owner/repo/path@ref, ./path or docker://image"
    )]
    NotAReference { reference: String },
    /// Not in a local actions directory, and no actions source to fetch it from.
    #[error(
        "action `{reference}` is not available here: no actions source is configured to fetch it from. \
         Put a copy (with its action.yml) in .ferry/actions/{}/ of the repository, or give --actions-url",
        reference.split('@').next().unwrap_or(reference)
    )]
    Unavailable { reference: String },
    #[error(transparent)]
    Fetch(#[from] crate::actions::ActionsError),
    #[error("action `{reference}`: no action.yml or action.yaml in {}", dir.display())]
    NoActionFile { reference: String, dir: PathBuf },
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The action file has an error, at `file:line:col`.
    #[error("{file}:{line}:{col}: {message}")]
    Invalid { file: String, line: usize, col: usize, message: String },
    #[error("{file}: not a valid action")]
    NotAnAction { file: String },
}

/// Why JavaScript actions cannot run: no usable Node.js on the host, or in the job's container.
/// Cloned: a job checks once and every JavaScript step reports the same.
#[derive(Debug, Clone, thiserror::Error)]
pub(super) enum NodeError {
    #[error("JavaScript actions need Node.js, and `node` is not on PATH: {INSTALL_NODE}")]
    NotOnPath,
    #[error("JavaScript actions need Node.js, and `{program} --version` failed ({reason}): {INSTALL_NODE}")]
    VersionFailed { program: String, reason: String },
    #[error("JavaScript actions need Node.js {OLDEST_NODE} or later, and `{program}` is `{version}`: {INSTALL_NODE}")]
    TooOld { program: String, version: String },
    #[error(
        "JavaScript actions in a `container:` job run on the host's Node.js mounted into the container, \
         and {node} is not an absolute path: set FERRY_NODE to one"
    )]
    NotAbsolute { node: String },
    #[error("starting Node.js in the job container: {reason}")]
    StartInContainer { reason: String },
    #[error(
        "JavaScript actions in a `container:` job run on the host's Node.js ({node}), mounted into the container \
         at {inside}, and it does not start in this job's image ({said}). A Node.js built for glibc needs an image \
         with glibc and the libraries it links (libstdc++, libgcc_s), such as a Debian or Ubuntu one; with \
         another image (Alpine, busybox), point FERRY_NODE at a statically linked Node.js"
    )]
    NotInImage { node: String, inside: String, said: String },
}

/// How to get a Node.js JavaScript actions can use.
const INSTALL_NODE: &str = "install Node.js 20 or later (for example `apt-get install nodejs`, or from https://nodejs.org) \
                            and put `node` on PATH, or set FERRY_NODE to its path";

/// Finds (and fetches, when needed) the action `reference` names: `./path` in the
/// workspace, else a local actions directory, else the actions source, saying which commit
/// it fetched.
async fn locate(runner: &StepRunner<'_>, reference: &str) -> Result<Found, ActionError> {
    if let Some(local) = reference.strip_prefix("./") {
        let dir = runner.setup.workspace.join(local);
        return Ok(Found { dir, repository: String::new(), git_ref: String::new(), download: None });
    }
    if reference.starts_with("docker://") {
        return Err(ActionError::ContainerImage { reference: reference.to_owned() });
    }
    let Some(action) = ActionRef::parse(reference) else {
        return Err(ActionError::NotAReference { reference: reference.to_owned() });
    };
    let repository = format!("{}/{}", action.owner, action.repo);
    let name = reference.split('@').next().unwrap_or(reference);
    if let Some(dir) = runner.setup.action_dirs.iter().map(|dir| dir.join(name)).find(|dir| action_file(dir).is_some())
    {
        return Ok(Found { dir, repository, git_ref: action.git_ref, download: None });
    }
    let Some(source) = &runner.setup.actions else {
        return Err(ActionError::Unavailable { reference: reference.to_owned() });
    };
    let fetched = source.fetch(&action.owner, &action.repo, &action.git_ref).await?;
    let download = format!("Download action repository '{repository}@{}' (SHA:{})", action.git_ref, fetched.sha);
    let dir = if action.path.is_empty() { fetched.dir } else { fetched.dir.join(&action.path) };
    Ok(Found { dir, repository, git_ref: action.git_ref, download: Some(download) })
}

fn action_file(dir: &Path) -> Option<PathBuf> {
    ["action.yml", "action.yaml"].into_iter().map(|name| dir.join(name)).find(|path| path.is_file())
}

/// Reads and parses the action in `dir`; the error is a message for the step's log.
fn read_action(reference: &str, dir: &Path) -> Result<(ferry_workflow::Action, String), ActionError> {
    let Some(path) = action_file(dir) else {
        return Err(ActionError::NoActionFile { reference: reference.to_owned(), dir: dir.to_owned() });
    };
    let src = std::fs::read_to_string(&path).map_err(|source| ActionError::Read { path: path.clone(), source })?;
    let (action, diagnostics) = ferry_workflow::parse_action(&src);
    let file_name = path.display().to_string();
    if let Some(diagnostic) = diagnostics.iter().find(|diagnostic| diagnostic.is_error()) {
        let start = diagnostic.span.start;
        return Err(ActionError::Invalid {
            file: file_name,
            line: start.line,
            col: start.col,
            message: diagnostic.message.clone(),
        });
    }
    let action = action.ok_or_else(|| ActionError::NotAnAction { file: file_name.clone() })?;
    Ok((action, file_name))
}

async fn run_action_dir(
    runner: &mut StepRunner<'_>,
    call: Call<'_>,
    mut inputs: Map<String, Value>,
    env: Map<String, Value>,
    contexts: &mut Contexts,
) -> Result<StepResult, EvalFailure> {
    let step_idx = call.step_idx;
    let failed = |runner: &StepRunner<'_>, message: String| {
        runner.line(step_idx, &format!("error: {message}"));
        Ok(StepResult { outcome: Conclusion::Failure, outputs: Map::new() })
    };
    let (action, action_file_name) = match read_action(call.reference, &call.found.dir) {
        Ok(read) => read,
        Err(error) => return failed(runner, error.to_string()),
    };
    add_default_inputs(runner, Some(step_idx), &action, &action_file_name, &mut inputs, contexts)?;
    match &action.runs {
        Some(Runs::Composite { steps }) => {
            if runner.action_depth >= MAX_COMPOSITE_DEPTH {
                return failed(
                    runner,
                    format!(
                        "composite action `{}` is nested more than {MAX_COMPOSITE_DEPTH} deep, GitHub's limit: \
                         check for actions that use each other in a cycle",
                        call.reference
                    ),
                );
            }
            run_composite(runner, &call, steps, &action, action_file_name, inputs, env, contexts).await
        }
        Some(Runs::Node { using, main, post, post_if, .. }) => {
            let node = NodeCall { using: &using.value, inputs: &inputs, env: &env };
            let res = run_node_script(runner, &call, &node, &main.value, NodePhase::Main).await;
            if let Some(post) = post {
                let mut state = call.pre_state.clone().unwrap_or_default();
                state.extend(std::mem::take(&mut runner.last_state));
                runner.post_steps.push(PostStep {
                    name: format!("Post {}", runner.step_name),
                    kind: PostKind::Node {
                        reference: call.reference.to_owned(),
                        found: call.found.clone(),
                        using: using.value.clone(),
                        script: post.value.clone(),
                        inputs,
                        env,
                    },
                    condition: post_if.clone(),
                    action_file: action_file_name,
                    state,
                });
            }
            Ok(res)
        }
        Some(Runs::Docker { image, args, entrypoint, post_entrypoint, post_if, env: runs_env, .. }) => {
            let runs = super::docker_action::DockerRuns { image, args, entrypoint: entrypoint.as_ref(), env: runs_env };
            let (reference, dir) = (call.reference, &call.found.dir);
            let pre_state = call.pre_state.clone().unwrap_or_default();
            let (res, prepared) = super::docker_action::run_action(
                runner,
                step_idx,
                reference,
                dir,
                &action_file_name,
                &runs,
                inputs,
                env,
                &pre_state,
                contexts,
            )
            .await?;
            // As on GitHub, a post entrypoint runs when the main one did.
            if let (Some(post), Some(prepared)) = (post_entrypoint, prepared) {
                let mut state = pre_state;
                state.extend(std::mem::take(&mut runner.last_state));
                runner.post_steps.push(PostStep {
                    name: format!("Post {}", runner.step_name),
                    kind: PostKind::Docker { prepared, entrypoint: post.value.clone() },
                    condition: post_if.clone(),
                    action_file: action_file_name,
                    state,
                });
            }
            Ok(res)
        }
        None => failed(runner, format!("{action_file_name}: `runs:` is missing or not valid")),
    }
}

/// Inputs not given with `with:` get the action's defaults (which may hold expressions); a
/// missing required one is warned about in the log of step `warn_to`.
fn add_default_inputs(
    runner: &StepRunner<'_>,
    warn_to: Option<usize>,
    action: &ferry_workflow::Action,
    action_file_name: &str,
    inputs: &mut Map<String, Value>,
    contexts: &Contexts,
) -> Result<(), EvalFailure> {
    for (name, input) in &action.inputs {
        let key = name.to_ascii_lowercase();
        if inputs.contains_key(&key) {
            continue;
        }
        let value = match &input.default {
            Some(default) => Value::String(contexts.render(action_file_name, default)?),
            None => {
                if let Some(step_idx) = warn_to
                    && input.required.as_ref().is_some_and(|required| required.value)
                {
                    // GitHub only warns about a missing required input, and passes "".
                    runner.line(step_idx, &format!("warning: input required and not supplied: {name}"));
                }
                Value::String(String::new())
            }
        };
        inputs.insert(key, value);
    }
    Ok(())
}

#[expect(clippy::too_many_arguments, reason = "one call site; the pieces of one composite action's run")]
async fn run_composite(
    runner: &mut StepRunner<'_>,
    call: &Call<'_>,
    steps: &[Step],
    action: &ferry_workflow::Action,
    action_file_name: String,
    inputs: Map<String, Value>,
    env: Map<String, Value>,
    contexts: &mut Contexts,
) -> Result<StepResult, EvalFailure> {
    let step_idx = call.step_idx;
    let mut inner = contexts.clone();
    inner.set("inputs", Value::Object(inputs));
    inner.set("steps", Value::Object(Map::new()));
    inner.set("env", Value::Object(env));
    if let Some(github) = inner.values.get_mut("github").and_then(Value::as_object_mut) {
        github.insert("action_path".to_owned(), Value::String(call.found.dir.display().to_string()));
        github.insert("action_repository".to_owned(), Value::String(call.found.repository.clone()));
        github.insert("action_ref".to_owned(), Value::String(call.found.git_ref.clone()));
    }
    let outer_status = inner.status;
    // Errors inside the action name the action's file, not the workflow.
    let file = std::mem::replace(&mut runner.file, action_file_name);
    runner.action_depth += 1;
    for (inner_idx, inner_step) in steps.iter().enumerate() {
        runner.action_path.push(inner_idx);
        runner.run_step(step_idx, inner_step, &mut inner).await;
        runner.action_path.pop();
    }
    runner.action_depth -= 1;
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

/// An action's `post` script (JavaScript) or `post-entrypoint` (Docker), run at the job's end.
pub(super) struct PostStep {
    /// `Post <step name>`.
    name: String,
    kind: PostKind,
    /// `post-if`; `always()` when absent.
    condition: Option<Text>,
    action_file: String,
    /// What `pre` and `main` saved (`$GITHUB_STATE`, `::save-state::`), as `STATE_*`.
    state: Vec<(String, String)>,
}

/// What a [`PostStep`] runs.
enum PostKind {
    Node {
        reference: String,
        found: Found,
        using: String,
        script: String,
        inputs: Map<String, Value>,
        env: Map<String, Value>,
    },
    Docker {
        prepared: super::docker_action::PreparedAction,
        entrypoint: String,
    },
}

/// What a JavaScript action's scripts share.
struct NodeCall<'a> {
    using: &'a str,
    inputs: &'a Map<String, Value>,
    env: &'a Map<String, Value>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum NodePhase {
    Pre,
    Main,
    Post,
}

/// Runs one script of a JavaScript action (`pre`, `main` or `post`, a path in the action's
/// folder) on the host's Node.js, as a step process: `INPUT_*` from the inputs, `STATE_*`
/// from what earlier scripts saved, the action's `GITHUB_ACTION_*` variables.
async fn run_node_script(
    runner: &mut StepRunner<'_>,
    call: &Call<'_>,
    node: &NodeCall<'_>,
    script: &str,
    phase: NodePhase,
) -> StepResult {
    let step_idx = call.step_idx;
    // Only what this script saves is its state.
    runner.last_state.clear();
    let failed = |runner: &StepRunner<'_>, message: String| {
        runner.line(step_idx, &format!("error: {message}"));
        StepResult { outcome: Conclusion::Failure, outputs: Map::new() }
    };
    let program = match node_program(runner).await {
        Ok(program) => program,
        Err(error) => return failed(runner, error.to_string()),
    };
    match node.using {
        "node20" | "node24" => {}
        old => {
            if phase != NodePhase::Post {
                runner.line(
                    step_idx,
                    &format!(
                        "warning: `{}` asks for {old}, which GitHub no longer runs; running it on Node.js {} ({program})",
                        call.reference,
                        runner.node_major.unwrap_or(OLDEST_NODE)
                    ),
                );
            }
        }
    }
    let path = call.found.dir.join(script);
    if !path.starts_with(&call.found.dir) || script.split('/').any(|part| part == "..") {
        return failed(
            runner,
            format!("action `{}`: script `{script}` is outside the action's folder", call.reference),
        );
    }
    if !path.is_file() {
        return failed(
            runner,
            format!(
                "action `{}`: its script `{script}` does not exist in {}",
                call.reference,
                call.found.dir.display()
            ),
        );
    }
    let mut extra_env: Vec<(String, String)> = node
        .inputs
        .iter()
        .map(|(name, value)| (input_variable(name), ferry_workflow::expr::to_display_string(value)))
        .collect();
    // `main` sees what `pre` saved; `post` what both saved.
    let state = match phase {
        NodePhase::Pre => Vec::new(),
        NodePhase::Main | NodePhase::Post => call.pre_state.clone().unwrap_or_default(),
    };
    extra_env.extend(state.into_iter().map(|(name, value)| (format!("STATE_{name}"), value)));
    extra_env.push(("GITHUB_ACTION_REPOSITORY".to_owned(), call.found.repository.clone()));
    extra_env.push(("GITHUB_ACTION_REF".to_owned(), call.found.git_ref.clone()));
    if let Some(env) = crate::job::job_runtime_env(runner.setup, runner.container.is_some()) {
        extra_env.extend(env);
    }
    let script = Script {
        text: String::new(),
        shell: None,
        working_directory: None,
        env: node.env.clone(),
        timeout: call.timeout,
        retry: None,
        action_path: Some(call.found.dir.clone()),
        step_id: None,
        command: Some((program, vec![path.display().to_string()])),
        extra_env,
        action_container: None,
    };
    runner.run_script(step_idx, script).await
}

/// GitHub's name for input `name`'s variable: `INPUT_` and the name upper-cased, spaces as `_`.
fn input_variable(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_ascii_uppercase())
}

/// The Node.js that runs JavaScript actions (`$FERRY_NODE`, else `node` on PATH), checked
/// once per job to be at least [`OLDEST_NODE`], and in a `container:` job to start in the
/// job's container.
async fn node_program(runner: &mut StepRunner<'_>) -> Result<String, NodeError> {
    if let Some(found) = &runner.node {
        return found.clone();
    }
    let mut found = find_node().map(|(program, major)| {
        runner.node_major = Some(major);
        program
    });
    if let (Ok(program), Some(container)) = (&found, &runner.container)
        && let Err(error) = container.check_node(program).await
    {
        found = Err(error);
    }
    runner.node = Some(found.clone());
    found
}

/// The Node.js for JavaScript actions: its path and major version, or why there is none.
pub(super) fn find_node() -> Result<(String, u32), NodeError> {
    let program = match std::env::var("FERRY_NODE") {
        Ok(program) if !program.is_empty() => program,
        _ => {
            let on_path = std::env::var_os("PATH")
                .into_iter()
                .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
                .map(|dir| dir.join("node"))
                .find(|candidate| candidate.is_file());
            match on_path {
                Some(path) => path.display().to_string(),
                None => return Err(NodeError::NotOnPath),
            }
        }
    };
    let output = std::process::Command::new(&program)
        .arg("--version")
        .env_clear()
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|error| NodeError::VersionFailed { program: program.clone(), reason: error.to_string() })?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let major = version.strip_prefix('v').and_then(|rest| rest.split('.').next()).and_then(|major| major.parse().ok());
    match major {
        Some(major) if major >= OLDEST_NODE => Ok((program, major)),
        _ => Err(NodeError::TooOld { program, version }),
    }
}

impl PostStep {
    /// Runs this post script as the job's step `step_idx` and records it.
    pub(super) async fn run(self, runner: &mut StepRunner<'_>, step_idx: usize, contexts: &mut Contexts) -> StepRecord {
        let started = std::time::Instant::now();
        let name = masked(&runner.setup.masker, &self.name);
        runner.emit(JobEvent::StepStarted { step_idx, name: name.clone() });
        let file = std::mem::replace(&mut runner.file, self.action_file.clone());
        let condition = self.condition.clone().unwrap_or_else(always);
        let outcome = match contexts.condition(&runner.file, Some(&condition)) {
            Ok(false) => Conclusion::Skipped,
            Ok(true) => match &self.kind {
                PostKind::Node { reference, found, using, script, inputs, env } => {
                    let call = Call { step_idx, reference, found, timeout: None, pre_state: Some(self.state.clone()) };
                    let node = NodeCall { using, inputs, env };
                    run_node_script(runner, &call, &node, script, NodePhase::Post).await.outcome
                }
                PostKind::Docker { prepared, entrypoint } => {
                    prepared.run(runner, step_idx, Some(entrypoint.clone()), &self.state, contexts).await.outcome
                }
            },
            Err(failure) => {
                runner.line(step_idx, &format!("error: {failure}"));
                Conclusion::Failure
            }
        };
        runner.file = file;
        if outcome == Conclusion::Failure && contexts.status == JobStatus::Success {
            contexts.status = JobStatus::Failure;
        }
        let elapsed = started.elapsed();
        runner.emit(JobEvent::StepFinished { step_idx, outcome, conclusion: outcome, elapsed });
        StepRecord { id: None, name, outcome, conclusion: outcome, elapsed }
    }
}

fn always() -> Text {
    Text { value: "always()".to_owned(), span: ferry_workflow::Span::default() }
}

/// A `pre` script to run before the job's steps: of an action a job's step uses, or of one
/// nested in a composite action it uses.
struct PreScript {
    /// Where its step is (see [`StepRunner::action_path`]).
    path: Vec<usize>,
    reference: String,
    found: Found,
    action: ferry_workflow::Action,
    action_file: String,
    inputs: Map<String, Value>,
    /// The contexts its inputs were evaluated in (a composite action's, when nested).
    contexts: Contexts,
}

/// The `pre` scripts of the actions `steps` use, in step order, those of the actions nested in
/// composite actions from repositories included (as GitHub's runner collects them, it skips
/// the repository's own `./` actions, which are not there before the checkout). `path` is where
/// `steps` are; `file` names them in messages.
fn collect_pre_scripts<'a>(
    runner: &'a StepRunner<'_>,
    steps: &'a [Step],
    path: Vec<usize>,
    file: &'a str,
    contexts: &'a Contexts,
    out: &'a mut Vec<PreScript>,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        for (idx, step) in steps.iter().enumerate() {
            let StepKind::Uses { uses, with } = &step.kind else { continue };
            let Ok(reference) = contexts.render(file, uses) else { continue };
            if builtin::builtin(&reference).is_some()
                || reference.starts_with("./")
                || reference.starts_with("docker://")
            {
                continue;
            }
            // Fetched now, as GitHub's runner fetches every action while it sets the job up;
            // the lines go to the step's own log when it runs. One that cannot be found is
            // left for its own run to report.
            let Ok(found) = locate(runner, &reference).await else { continue };
            let Ok((action, action_file)) = read_action(&reference, &found.dir) else { continue };
            let Ok(mut inputs) = rendered_inputs_in(with, file, contexts) else { continue };
            if add_default_inputs(runner, None, &action, &action_file, &mut inputs, contexts).is_err() {
                continue;
            }
            let mut step_path = path.clone();
            step_path.push(idx);
            match &action.runs {
                Some(Runs::Node { pre: Some(_), .. } | Runs::Docker { pre_entrypoint: Some(_), .. }) => {
                    out.push(PreScript {
                        path: step_path,
                        reference,
                        found,
                        action,
                        action_file,
                        inputs,
                        contexts: contexts.clone(),
                    });
                }
                Some(Runs::Composite { steps: inner_steps }) if step_path.len() < MAX_COMPOSITE_DEPTH => {
                    let mut inner = contexts.clone();
                    inner.set("inputs", Value::Object(inputs));
                    inner.set("steps", Value::Object(Map::new()));
                    collect_pre_scripts(runner, inner_steps, step_path, &action_file, &inner, out).await;
                }
                _ => {}
            }
        }
    })
}

/// Runs the `pre` scripts of the actions the job's steps use (JavaScript `pre`, Docker
/// `pre-entrypoint`; also of actions nested in composite actions), as GitHub's runner does
/// before the job's first step: one step `Pre <step name>` per step of the job, numbered from
/// `first_idx`, each script when its `pre-if` holds. What each saved is given to its action's
/// `main` and `post`, by the path of its step.
pub(super) async fn run_pre_steps(
    runner: &mut StepRunner<'_>,
    steps: &[Step],
    first_idx: usize,
    contexts: &mut Contexts,
) -> (Vec<StepRecord>, HashMap<Vec<usize>, Vec<(String, String)>>) {
    let mut records = Vec::new();
    let mut states = HashMap::new();
    let mut scripts = Vec::new();
    collect_pre_scripts(runner, steps, Vec::new(), &runner.file, contexts, &mut scripts).await;
    let mut scripts = scripts.into_iter().peekable();
    while let Some(first) = scripts.next() {
        let workflow_idx = first.path[0];
        let mut of_step = vec![first];
        while let Some(next) = scripts.next_if(|next| next.path[0] == workflow_idx) {
            of_step.push(next);
        }
        let step_idx = first_idx + records.len();
        let started = std::time::Instant::now();
        let step_name = runner.display_name(&steps[workflow_idx], contexts);
        let name = masked(&runner.setup.masker, &format!("Pre {step_name}"));
        runner.emit(JobEvent::StepStarted { step_idx, name: name.clone() });
        let mut outcome = Conclusion::Skipped;
        for script in of_step {
            let res = run_pre_script(runner, step_idx, &script, contexts).await;
            if let Some(state) = res.1 {
                states.insert(script.path, state);
            }
            outcome = match (outcome, res.0) {
                (Conclusion::Failure, _) | (_, Conclusion::Failure) => Conclusion::Failure,
                (Conclusion::Success, _) | (_, Conclusion::Success) => Conclusion::Success,
                (other, _) => other,
            };
        }
        if outcome == Conclusion::Failure && contexts.status == JobStatus::Success {
            contexts.status = JobStatus::Failure;
        }
        let elapsed = started.elapsed();
        runner.emit(JobEvent::StepFinished { step_idx, outcome, conclusion: outcome, elapsed });
        records.push(StepRecord { id: None, name, outcome, conclusion: outcome, elapsed });
    }
    (records, states)
}

/// Runs one `pre` script in the log of step `step_idx` when its `pre-if` holds; its outcome,
/// and what it saved when it ran.
async fn run_pre_script(
    runner: &mut StepRunner<'_>,
    step_idx: usize,
    script: &PreScript,
    contexts: &Contexts,
) -> (Conclusion, Option<Vec<(String, String)>>) {
    let (pre_if, env) = match &script.action.runs {
        Some(Runs::Node { pre_if, .. } | Runs::Docker { pre_if, .. }) => (pre_if, contexts.values.get("env")),
        _ => return (Conclusion::Skipped, None),
    };
    let env = env.and_then(Value::as_object).cloned().unwrap_or_default();
    let condition = pre_if.clone().unwrap_or_else(always);
    match contexts.condition(&script.action_file, Some(&condition)) {
        Ok(false) => return (Conclusion::Skipped, None),
        Ok(true) => {}
        Err(failure) => {
            runner.line(step_idx, &format!("error: {failure}"));
            return (Conclusion::Failure, None);
        }
    }
    let outcome = match &script.action.runs {
        Some(Runs::Node { using, pre: Some(pre), .. }) => {
            let call =
                Call { step_idx, reference: &script.reference, found: &script.found, timeout: None, pre_state: None };
            let node = NodeCall { using: &using.value, inputs: &script.inputs, env: &env };
            run_node_script(runner, &call, &node, &pre.value, NodePhase::Pre).await.outcome
        }
        Some(Runs::Docker { image, args, entrypoint, pre_entrypoint: Some(pre), env: runs_env, .. }) => {
            let runs = super::docker_action::DockerRuns { image, args, entrypoint: entrypoint.as_ref(), env: runs_env };
            let prepared = super::docker_action::prepare(
                runner,
                step_idx,
                &script.reference,
                &script.found.dir,
                &script.action_file,
                &runs,
                script.inputs.clone(),
                env,
                &script.contexts,
            )
            .await;
            match prepared {
                Ok(Ok(prepared)) => {
                    prepared.run(runner, step_idx, Some(pre.value.clone()), &[], contexts).await.outcome
                }
                Ok(Err(message)) => {
                    runner.line(step_idx, &format!("error: {message}"));
                    Conclusion::Failure
                }
                Err(failure) => {
                    runner.line(step_idx, &format!("error: {failure}"));
                    Conclusion::Failure
                }
            }
        }
        _ => Conclusion::Skipped,
    };
    (outcome, Some(std::mem::take(&mut runner.last_state)))
}
