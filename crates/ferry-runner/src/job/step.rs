//! One step: its `if:`, its environment, and running a `run:` script as a process with
//! GitHub's runner files (`$GITHUB_OUTPUT`, `$GITHUB_ENV`, `$GITHUB_PATH`,
//! `$GITHUB_STEP_SUMMARY`, `$GITHUB_STATE`) and workflow commands.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ferry_model::{Conclusion, JobStatus};
use ferry_workflow::expr::Value;
use ferry_workflow::model::{Defaults, Env, Retry, Step, StepKind, Text};
use serde_json::{Map, json};
use tokio::sync::watch;

use super::contexts::{Contexts, EvalFailure, Evaluate as _};
use super::{
    EventSender, JobEvent, JobSetup, StepRecord, action, masked, minutes_to_duration, push_masked_line,
    push_masked_lines,
};
use crate::commands::{Command, Commands, may_be_command};
use crate::env_file::{EnvFileError, parse_env_file, parse_path_file};
use crate::mask::Masker;
use crate::process::{Output, ProcessSpec, Stream, on_path, run_process};
use crate::shell::parse_shell;

/// How long a stopped step gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_millis(7500);

/// The state a job's steps share while they run one after the other.
pub(super) struct StepRunner<'a> {
    pub setup: &'a JobSetup,
    /// The file messages name: the workflow, or the action file inside a composite action.
    pub file: String,
    pub defaults: Defaults,
    pub events: &'a EventSender,
    pub tag: usize,
    pub cancel: watch::Receiver<bool>,
    /// The job's `env` context: workflow and job `env`, then what steps wrote to `$GITHUB_ENV`.
    pub env: Map<String, Value>,
    /// Directories steps added with `$GITHUB_PATH`, latest first.
    pub path_additions: Vec<String>,
    pub summary: String,
    /// The host's allow-listed variables, then `GITHUB_*`, `RUNNER_*` and `CI`, for every step.
    pub base_env: Vec<(String, String)>,
    /// Process groups steps left running (`./server &`); killed when the job ends.
    pub background_groups: Vec<i32>,
    /// Whether the job's runner-files folder exists yet.
    pub made_files_dir: bool,
    /// Workflow-command state (`::stop-commands::`, `::echo::`), which on GitHub lasts for the
    /// whole job.
    pub commands: Commands,
    /// `actions/cache` entries to save when the job has succeeded.
    pub pending_saves: Vec<super::builtin::PendingSave>,
    /// The artifacts `actions/upload-artifact` stored, in the order first stored.
    pub artifacts: Vec<super::StoredArtifact>,
    /// Programs (`bash`, `python3`) found on PATH so far: name → path.
    pub programs: std::collections::HashMap<String, String>,
    /// JavaScript actions' `post` scripts, in the order their actions ran.
    pub post_steps: Vec<action::PostStep>,
    /// What the `pre` scripts saved, by the [`StepRunner::action_path`] of their step.
    pub pre_states: std::collections::HashMap<Vec<usize>, Vec<(String, String)>>,
    /// What the last script saved with `$GITHUB_STATE` or `::save-state::`.
    pub last_state: Vec<(String, String)>,
    /// The Node.js for JavaScript actions, once looked for (or why there is none), and its
    /// major version.
    pub node: Option<Result<String, super::action::NodeError>>,
    pub node_major: Option<u32>,
    /// How many composite actions the running step is inside.
    pub action_depth: usize,
    /// Where the running step is: the index of the job's step, then that of the step within
    /// each composite action it is in.
    pub action_path: Vec<usize>,
    /// The name of the job's step running now (for `Post <name>`).
    pub step_name: String,
    /// The job container `run:` steps run in (`container:`), if any.
    pub container: Option<Arc<super::containers::JobContainer>>,
    /// The `Download action repository …` lines shown so far: each once per job.
    pub shown_downloads: std::collections::HashSet<String>,
    /// The container engine, once the job has connected to it.
    pub docker: Option<Arc<crate::docker::DockerHost>>,
    /// Lines for the first step's log, shown when it starts (starting the job's containers).
    pub preamble: Vec<String>,
}

/// The path of `program` on this process's PATH, when it is a bare name found there.
fn resolve_program(program: &str) -> Option<String> {
    if program.contains('/') {
        return None;
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| std::fs::metadata(candidate).is_ok_and(|meta| meta.is_file()))
        .map(|found| found.display().to_string())
}

/// A step's outcome, conclusion and outputs, boxed because composite actions recurse.
type StepFuture<'s> = std::pin::Pin<Box<dyn Future<Output = (Conclusion, Conclusion, Map<String, Value>)> + Send + 's>>;

/// What running one step produced.
pub(super) struct StepResult {
    pub outcome: Conclusion,
    pub outputs: Map<String, Value>,
}

impl StepResult {
    fn failed() -> StepResult {
        StepResult { outcome: Conclusion::Failure, outputs: Map::new() }
    }
}

impl StepRunner<'_> {
    pub fn emit(&self, event: JobEvent) {
        self.events.send(self.tag, event);
    }

    /// Shows `text` in the step's log, masked.
    pub fn line(&self, step_idx: usize, text: &str) {
        self.emit(JobEvent::Line { step_idx, text: masked(&self.setup.masker, text) });
    }

    fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Runs a step of the job itself: decides whether it runs, runs it, and records it in the
    /// `steps` context and the job status.
    pub async fn run_top_level(&mut self, step_idx: usize, step: &Step, contexts: &mut Contexts) -> StepRecord {
        let started = Instant::now();
        let name = self.display_name(step, contexts);
        let name = masked(&self.setup.masker, &name);
        self.emit(JobEvent::StepStarted { step_idx, name: name.clone() });
        self.step_name.clone_from(&name);
        self.action_path = vec![step_idx];
        for text in std::mem::take(&mut self.preamble) {
            self.line(step_idx, &text);
        }
        let (outcome, conclusion, _outputs) = self.run_step(step_idx, step, contexts).await;
        let elapsed = started.elapsed();
        self.emit(JobEvent::StepFinished { step_idx, outcome, conclusion, elapsed });
        let id = step.id.as_ref().map(|id| id.value.clone());
        StepRecord { id, name, outcome, conclusion, elapsed }
    }

    /// Runs any step (of the job or of a composite action) and updates `contexts`: its status
    /// and `steps.<id>`. Returns the step's outcome, conclusion and outputs.
    pub fn run_step<'s>(&'s mut self, step_idx: usize, step: &'s Step, contexts: &'s mut Contexts) -> StepFuture<'s> {
        Box::pin(async move {
            if self.is_cancelled() && contexts.status != JobStatus::Cancelled {
                contexts.status = JobStatus::Cancelled;
            }
            let runs = match contexts.condition(&self.file, step.if_.as_ref()) {
                Ok(runs) => runs,
                Err(failure) => {
                    self.line(step_idx, &format!("error: {failure}"));
                    contexts.status = JobStatus::Failure;
                    record_step(contexts, step, Conclusion::Failure, Conclusion::Failure, &Map::new());
                    return (Conclusion::Failure, Conclusion::Failure, Map::new());
                }
            };
            if !runs {
                record_step(contexts, step, Conclusion::Skipped, Conclusion::Skipped, &Map::new());
                return (Conclusion::Skipped, Conclusion::Skipped, Map::new());
            }
            let res = match self.execute(step_idx, step, contexts).await {
                Ok(res) => res,
                Err(failure) => {
                    self.line(step_idx, &format!("error: {failure}"));
                    StepResult::failed()
                }
            };
            let continue_on_error = match contexts.boolean(&self.file, step.continue_on_error.as_ref(), false) {
                Ok(value) => value,
                Err(failure) => {
                    self.line(step_idx, &format!("error: {failure}"));
                    false
                }
            };
            let conclusion = res.outcome.with_continue_on_error(continue_on_error);
            match conclusion {
                Conclusion::Failure if contexts.status == JobStatus::Success => contexts.status = JobStatus::Failure,
                Conclusion::Cancelled => contexts.status = JobStatus::Cancelled,
                _ => {}
            }
            record_step(contexts, step, res.outcome, conclusion, &res.outputs);
            (res.outcome, conclusion, res.outputs)
        })
    }

    /// The name GitHub shows for a step: its `name:`, else `Run <command or action>`.
    pub fn display_name(&self, step: &Step, contexts: &Contexts) -> String {
        if let Some(name) = &step.name
            && let Ok(name) = contexts.render(&self.file, name)
        {
            return name;
        }
        match &step.kind {
            StepKind::Run { run, .. } => {
                format!("Run {}", run.value.lines().find(|line| !line.trim().is_empty()).unwrap_or("").trim())
            }
            StepKind::Uses { uses, .. } => format!("Run {}", uses.value),
            _ => step.id.as_ref().map_or_else(|| "step".to_owned(), |id| id.value.clone()),
        }
    }

    async fn execute(
        &mut self,
        step_idx: usize,
        step: &Step,
        contexts: &mut Contexts,
    ) -> Result<StepResult, EvalFailure> {
        // The step's own `env` is seen by its expressions and its process, not by later steps.
        let mut step_env = self.env.clone();
        for (key, value) in contexts.values.get("env").and_then(Value::as_object).into_iter().flatten() {
            step_env.entry(key.clone()).or_insert_with(|| value.clone());
        }
        let saved_env = contexts.values.get("env").cloned();
        contexts.set("env", Value::Object(step_env.clone()));
        add_env(&mut step_env, contexts, &self.file, &step.env)?;
        contexts.set("env", Value::Object(step_env.clone()));
        let timeout = contexts.number(&self.file, step.timeout_minutes.as_ref())?.map(minutes_to_duration);
        let res = match &step.kind {
            StepKind::Run { run, shell, working_directory } => {
                let script = contexts.render(&self.file, run)?;
                let shell = self.render_opt(contexts, shell.as_ref().or(self.defaults.shell.as_ref()))?;
                let working_directory =
                    self.render_opt(contexts, working_directory.as_ref().or(self.defaults.working_directory.as_ref()))?;
                let script = Script {
                    text: script,
                    shell,
                    working_directory,
                    env: step_env,
                    timeout,
                    retry: step.retry.clone(),
                    // Inside a composite action, `github.action_path` is the action's folder.
                    action_path: contexts
                        .values
                        .get("github")
                        .and_then(|github| github.get("action_path"))
                        .and_then(Value::as_str)
                        .filter(|path| !path.is_empty())
                        .map(PathBuf::from),
                    step_id: step.id.as_ref().map(|id| id.value.clone()),
                    command: None,
                    extra_env: action_variables(contexts),
                    action_container: None,
                };
                self.run_script(step_idx, script).await
            }
            StepKind::Uses { uses, with } => {
                action::run_uses(self, step_idx, uses, with, step_env, timeout, contexts).await?
            }
            StepKind::Parallel(_) | StepKind::Wait(_) | StepKind::Cancel(_) => {
                self.line(
                    step_idx,
                    "error: parallel, background, wait and cancel steps are not supported by `ferry run` yet",
                );
                StepResult::failed()
            }
            StepKind::Invalid => {
                self.line(step_idx, "error: this step is invalid; run `ferry lint` to see why");
                StepResult::failed()
            }
        };
        match saved_env {
            Some(env) => contexts.set("env", env),
            None => {
                contexts.values.remove("env");
            }
        }
        // `$GITHUB_ENV` may have changed the job's environment for later steps.
        let mut env = contexts.values.get("env").and_then(Value::as_object).cloned().unwrap_or_default();
        for (key, value) in &self.env {
            env.insert(key.clone(), value.clone());
        }
        contexts.set("env", Value::Object(env));
        Ok(res)
    }

    fn render_opt(&self, contexts: &Contexts, text: Option<&Text>) -> Result<Option<String>, EvalFailure> {
        text.map(|text| contexts.render(&self.file, text)).transpose()
    }

    /// Runs a script the way GitHub's runner runs a `run:` step, with retries if asked for.
    pub async fn run_script(&mut self, step_idx: usize, script: Script) -> StepResult {
        // In a job container, GitHub's default shell is `sh -e {0}`; what the host has does not matter.
        let shell = match &self.container {
            Some(_) => parse_shell(Some(script.shell.as_deref().unwrap_or("sh"))),
            None => parse_shell(script.shell.as_deref())
                .map(|shell| shell.with_fallbacks(|program| on_path(program, std::env::var_os("PATH").as_deref()))),
        };
        let shell = match shell {
            Ok(shell) => shell,
            Err(error) => {
                self.line(step_idx, &format!("error: {error}"));
                return StepResult::failed();
            }
        };
        let working_dir = match &script.working_directory {
            Some(dir) => self.setup.workspace.join(dir),
            None => self.setup.workspace.clone(),
        };
        if !working_dir.is_dir() {
            self.line(step_idx, &format!("error: working directory `{}` does not exist", working_dir.display()));
            return StepResult::failed();
        }
        let attempts = script.retry.as_ref().map_or(1, |retry| retry.attempts.max(1));
        let mut attempt = 1;
        loop {
            let (res, exit_code) = self.run_script_once(step_idx, &script, &shell, &working_dir).await;
            let retry = script.retry.as_ref();
            let retryable = res.outcome == Conclusion::Failure
                && attempt < attempts
                && !self.is_cancelled()
                && retry.is_some_and(|retry| retry.retries_exit_code(exit_code.unwrap_or(-1)));
            if !retryable {
                return res;
            }
            attempt += 1;
            let delay = retry.map_or(0.0, |retry| retry.delay_before(attempt));
            self.line(step_idx, &format!("↻ attempt {} of {attempts} failed; retrying in {delay}s", attempt - 1));
            let mut cancel = self.cancel.clone();
            let delay = Duration::try_from_secs_f64(delay).unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                _ = cancel.wait_for(|cancelled| *cancelled) => return res,
            }
        }
    }

    async fn run_script_once(
        &mut self,
        step_idx: usize,
        script: &Script,
        shell: &crate::shell::Shell,
        working_dir: &Path,
    ) -> (StepResult, Option<i32>) {
        let dir = self.setup.files.clone();
        // Steps of a job run one after the other, so they share these files: truncating a file
        // costs far less than making and deleting a new one (the inode allocation showed up as
        // the largest cost per step in the benchmark's profile).
        let files = RunnerFiles::new(&dir, "step");
        let script_path = dir.join(format!("step{}", shell.extension));
        // The folder is made once per job; the files are made per step, as GitHub does.
        let made_dir = if self.made_files_dir { Ok(()) } else { std::fs::create_dir_all(&dir) };
        self.made_files_dir = made_dir.is_ok();
        let written = made_dir
            .and_then(|()| match script.command {
                Some(_) => Ok(()),
                None => std::fs::write(&script_path, shell.script_contents(&script.text).as_bytes()),
            })
            .and_then(|()| files.create());
        if let Err(error) = written {
            self.line(
                step_idx,
                &format!("error: preparing the step's files in {}: {error}", self.setup.temp.display()),
            );
            return (StepResult::failed(), None);
        }
        let (program, args) = match &script.command {
            Some((program, args)) => (program.clone(), args.clone()),
            None => shell.command(&script_path.display().to_string()),
        };
        // Looked up once per job rather than by every spawn walking PATH; directories steps
        // added with `$GITHUB_PATH` come first.
        let added = (!program.contains('/'))
            .then(|| self.path_additions.iter().map(|dir| Path::new(dir).join(&program)).find(|path| path.is_file()))
            .flatten();
        let program = match (added, self.programs.get(&program)) {
            // The container's own PATH finds it.
            _ if self.container.is_some() => program,
            (Some(path), _) => path.display().to_string(),
            (None, Some(path)) => path.clone(),
            (None, None) => {
                let path = resolve_program(&program).unwrap_or_else(|| program.clone());
                self.programs.insert(program, path.clone());
                path
            }
        };
        let mut env = self.base_env.clone();
        env.push(("GITHUB_ACTION".to_owned(), script.step_id.clone().unwrap_or_else(|| format!("__run_{step_idx}"))));
        env.extend(files.vars());
        if let Some(action_path) = &script.action_path {
            env.push(("GITHUB_ACTION_PATH".to_owned(), action_path.display().to_string()));
        }
        env.extend(script.extra_env.iter().cloned());
        for (key, value) in &script.env {
            let value = match value {
                Value::String(text) => text.clone(),
                other => ferry_workflow::expr::to_display_string(other),
            };
            env.push((key.clone(), value));
        }
        if !self.path_additions.is_empty() {
            let inherited = env
                .iter()
                .rev()
                .find(|(key, _)| key == "PATH")
                .map(|(_, value)| value.clone())
                .or_else(|| std::env::var("PATH").ok())
                .unwrap_or_default();
            env.push(("PATH".to_owned(), format!("{}:{inherited}", self.path_additions.join(":"))));
        }
        let spec = ProcessSpec {
            program,
            args,
            working_dir: working_dir.to_path_buf(),
            env,
            confinement: self.setup.isolation.confinement.clone(),
            // The job's own timeout cancels the step through `cancel`.
            timeout: script.timeout,
            kill_grace: KILL_GRACE,
            keep_background: true,
        };

        // Steps that run after a cancel (`if: always()`) are not stopped by that same cancel.
        let (_keep_alive, fresh) = watch::channel(false);
        let mut cancel = if self.is_cancelled() { fresh } else { self.cancel.clone() };
        let mut output = ScriptOutput {
            step_idx,
            tag: self.tag,
            events: self.events,
            commands: &mut self.commands,
            masker: self.setup.masker.clone(),
            outputs: Map::new(),
            command_failed: false,
            state: Vec::new(),
            pending: String::new(),
            held: [String::new(), String::new()],
        };
        let exit = match (&script.action_container, &self.container) {
            (Some(action), _) => action.run(&spec, &mut cancel, &mut output, Some(self.events)).await,
            (None, Some(container)) => container.run(&spec, &mut cancel, &mut output, Some(self.events)).await,
            (None, None) => run_process(&spec, &mut cancel, &mut output, Some(self.events)).await,
        };
        output.flush();
        let ScriptOutput { mut outputs, command_failed, state, .. } = output;
        self.last_state = state;
        let exit = match exit {
            Ok(exit) => {
                self.background_groups.extend(exit.group);
                exit
            }
            Err(error) => {
                self.line(step_idx, &format!("error: starting `{}`: {error}", spec.program));
                return (StepResult::failed(), None);
            }
        };
        let mut files_ok = true;
        match files.read_outputs() {
            Ok(pairs) => outputs.extend(pairs.into_iter().map(|(key, value)| (key, Value::String(value)))),
            Err(message) => {
                self.line(step_idx, &format!("error: $GITHUB_OUTPUT: {message}"));
                files_ok = false;
            }
        }
        match files.read_env() {
            Ok(pairs) => {
                for (key, value) in pairs {
                    self.env.insert(key, Value::String(value));
                }
            }
            Err(message) => {
                self.line(step_idx, &format!("error: $GITHUB_ENV: {message}"));
                files_ok = false;
            }
        }
        // As GitHub's runner: each directory, in file order, moves to the front (once), so the
        // most recently added one is searched first.
        for path in files.read_path() {
            self.path_additions.retain(|added| *added != path);
            self.path_additions.insert(0, path);
        }
        self.summary.push_str(&files.read_summary());
        match RunnerFiles::read_pairs(&files.state) {
            Ok(pairs) => self.last_state.extend(pairs),
            Err(message) => {
                self.line(step_idx, &format!("error: $GITHUB_STATE: {message}"));
                files_ok = false;
            }
        }

        let outcome = if exit.cancelled {
            self.line(step_idx, "The step was cancelled.");
            Conclusion::Cancelled
        } else if exit.timed_out {
            self.line(step_idx, "The step timed out and was stopped.");
            Conclusion::Failure
        } else if exit.code == Some(0) && !command_failed && files_ok {
            Conclusion::Success
        } else {
            match (exit.code, exit.signal) {
                (Some(code), _) if code != 0 => {
                    self.line(step_idx, &format!("Process completed with exit code {code}."))
                }
                (_, Some(signal)) => self.line(step_idx, &format!("Process was killed by signal {signal}.")),
                _ => {}
            }
            Conclusion::Failure
        };
        (StepResult { outcome, outputs }, exit.code)
    }
}

/// A script to run and how.
pub(super) struct Script {
    pub text: String,
    pub shell: Option<String>,
    pub working_directory: Option<String>,
    pub env: Map<String, Value>,
    pub timeout: Option<Duration>,
    pub retry: Option<Retry>,
    /// For steps of a composite action: `GITHUB_ACTION_PATH`.
    pub action_path: Option<PathBuf>,
    pub step_id: Option<String>,
    /// A program and its arguments to run instead of the script (a JavaScript action's
    /// `node main.js`).
    pub command: Option<(String, Vec<String>)>,
    /// Variables set after the step's `env` (`INPUT_*`, `STATE_*`, `GITHUB_ACTION_*`).
    pub extra_env: Vec<(String, String)>,
    /// For a Docker action: the container that runs instead of the script.
    pub action_container: Option<super::docker_action::ActionContainer>,
}

/// `GITHUB_ACTION_REPOSITORY` and `GITHUB_ACTION_REF` inside an action from a repository.
fn action_variables(contexts: &Contexts) -> Vec<(String, String)> {
    let github = contexts.values.get("github");
    [("action_repository", "GITHUB_ACTION_REPOSITORY"), ("action_ref", "GITHUB_ACTION_REF")]
        .into_iter()
        .filter_map(|(key, name)| {
            let value = github?.get(key)?.as_str().filter(|value| !value.is_empty())?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Evaluates a step's `env` on top of `env`; later entries see earlier ones.
pub(super) fn add_env(
    env: &mut Map<String, Value>,
    contexts: &mut Contexts,
    file: &str,
    source: &Env,
) -> Result<(), EvalFailure> {
    for (name, text) in source {
        let value = contexts.render(file, text)?;
        env.insert(name.clone(), Value::String(value));
        contexts.set("env", Value::Object(env.clone()));
    }
    Ok(())
}

/// Records a finished step in the `steps` context (when it has an id) and `job.status`.
fn record_step(
    contexts: &mut Contexts,
    step: &Step,
    outcome: Conclusion,
    conclusion: Conclusion,
    outputs: &Map<String, Value>,
) {
    if let Some(id) = &step.id {
        let entry = json!({"outputs": outputs, "outcome": outcome.as_str(), "conclusion": conclusion.as_str()});
        contexts.object_mut("steps").insert(id.value.clone(), entry);
    }
    let status = match contexts.status {
        JobStatus::Success => "success",
        JobStatus::Failure => "failure",
        JobStatus::Cancelled => "cancelled",
    };
    contexts.object_mut("job").insert("status".to_owned(), Value::String(status.to_owned()));
}

/// The files one step attempt writes its results to.
struct RunnerFiles {
    output: PathBuf,
    env: PathBuf,
    path: PathBuf,
    summary: PathBuf,
    state: PathBuf,
}

impl RunnerFiles {
    fn new(dir: &Path, tag: &str) -> RunnerFiles {
        RunnerFiles {
            output: dir.join(format!("set_output_{tag}")),
            env: dir.join(format!("set_env_{tag}")),
            path: dir.join(format!("add_path_{tag}")),
            summary: dir.join(format!("step_summary_{tag}")),
            state: dir.join(format!("save_state_{tag}")),
        }
    }

    fn all(&self) -> [&PathBuf; 5] {
        [&self.output, &self.env, &self.path, &self.summary, &self.state]
    }

    fn create(&self) -> std::io::Result<()> {
        self.all().into_iter().try_for_each(|path| std::fs::write(path, b""))
    }

    fn vars(&self) -> [(String, String); 5] {
        let var = |name: &str, path: &PathBuf| (name.to_owned(), path.display().to_string());
        [
            var("GITHUB_OUTPUT", &self.output),
            var("GITHUB_ENV", &self.env),
            var("GITHUB_PATH", &self.path),
            var("GITHUB_STEP_SUMMARY", &self.summary),
            var("GITHUB_STATE", &self.state),
        ]
    }

    fn read_pairs(path: &Path) -> Result<Vec<(String, String)>, EnvFileError> {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        let (pairs, error) = parse_env_file(&text);
        match error {
            Some(error) => Err(error),
            None => Ok(pairs),
        }
    }

    fn read_outputs(&self) -> Result<Vec<(String, String)>, EnvFileError> {
        Self::read_pairs(&self.output)
    }

    fn read_env(&self) -> Result<Vec<(String, String)>, EnvFileError> {
        Self::read_pairs(&self.env)
    }

    fn read_path(&self) -> Vec<String> {
        parse_path_file(&std::fs::read_to_string(&self.path).unwrap_or_default())
    }

    fn read_summary(&self) -> String {
        std::fs::read_to_string(&self.summary).unwrap_or_default()
    }
}

/// The lines of `text` (joined by `\n`) that hold `::` or `\r`, each with where it starts, in
/// order: the only ones that can be a workflow command or end in `\r`.
fn special_candidates(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    let finder = memchr::memmem::Finder::new("::");
    let mut from = 0;
    std::iter::from_fn(move || {
        let rest = bytes.get(from..)?;
        let colons = finder.find(rest);
        let carriage = memchr::memchr(b'\r', colons.map_or(rest, |colons| &rest[..colons]));
        let hit = from + carriage.or(colons)?;
        let start = memchr::memrchr(b'\n', &bytes[..hit]).map_or(0, |newline| newline + 1);
        let end = memchr::memchr(b'\n', &bytes[hit..]).map_or(bytes.len(), |newline| hit + newline);
        from = end + 1;
        Some((start, &text[start..end]))
    })
}

/// A `run:` step's output as it is read: workflow commands are acted on, the rest is masked
/// and shown, and the lines of each read leave as one [`JobEvent::Lines`].
struct ScriptOutput<'a> {
    step_idx: usize,
    tag: usize,
    events: &'a EventSender,
    commands: &'a mut Commands,
    masker: Arc<RwLock<Masker>>,
    outputs: Map<String, Value>,
    command_failed: bool,
    /// What `::save-state::` saved.
    state: Vec<(String, String)>,
    /// Lines shown since the last flush, in order, each ending in `\n`.
    pending: String,
    /// Per stream (stdout, stderr), the end of a line longer than `MAX_LINE` not shown yet:
    /// what a secret the line's rest completes could begin with (`Masker::shown_of_unfinished`).
    held: [String; 2],
}

impl ScriptOutput<'_> {
    fn mask(&self, text: &str) -> String {
        masked(&self.masker, text)
    }

    /// Sends `event` after the lines before it.
    fn emit(&mut self, event: JobEvent) {
        self.flush();
        self.events.send(self.tag, event);
    }
}

/// Where [`ScriptOutput::held`] keeps `stream`'s unfinished line.
fn held_idx(stream: Stream) -> usize {
    match stream {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

/// An unfinished line held back this long is shown whatever it holds, so memory stays bounded
/// (only a pathological chain of overlapping secrets holds back more than the longest one).
const MAX_HELD: usize = 4 * crate::process::MAX_LINE;

impl Output for ScriptOutput<'_> {
    fn lines(&mut self, stream: Stream, text: &str) {
        let idx = held_idx(stream);
        let text = if self.held[idx].is_empty() {
            text
        } else {
            // The first line ends a long line whose pieces came before.
            let (first, rest) = text.split_once('\n').map_or((text, None), |(first, rest)| (first, Some(rest)));
            self.line(stream, first.strip_suffix('\r').unwrap_or(first));
            match rest {
                Some(rest) => rest,
                None => return,
            }
        };
        // Runs of lines shown as they are (no workflow command, no `\r` to drop) are masked
        // and copied in one piece: a step that prints fast gives thousands of lines a read.
        // Only lines holding `::` or `\r` can be otherwise, so only those are looked at (a
        // look at every line was a tenth of the runner's time for a loud step).
        let mut run_start = 0;
        for (start, line) in special_candidates(text) {
            if line.ends_with('\r') || may_be_command(line) {
                if start > run_start {
                    push_masked_lines(&self.masker, &text[run_start..start - 1], &mut self.pending);
                }
                self.line(stream, line.strip_suffix('\r').unwrap_or(line));
                run_start = start + line.len() + 1;
            }
        }
        if run_start <= text.len() {
            push_masked_lines(&self.masker, &text[run_start..], &mut self.pending);
        }
    }

    fn piece(&mut self, stream: Stream, piece: &str) {
        let held = &mut self.held[held_idx(stream)];
        held.push_str(piece);
        let Ok(masker) = self.masker.read() else { return };
        let shown = if held.len() > MAX_HELD { held.len() } else { masker.shown_of_unfinished(held) };
        if shown > 0 {
            self.pending.push_str(&masker.mask(&held[..shown]));
            self.pending.push('\n');
            held.drain(..shown);
        }
    }

    fn line(&mut self, stream: Stream, line: &str) {
        let idx = held_idx(stream);
        let whole;
        let line = if self.held[idx].is_empty() {
            line
        } else {
            whole = std::mem::take(&mut self.held[idx]) + line;
            &whole
        };
        let Some(command) = self.commands.process(line) else {
            push_masked_line(&self.masker, line, &mut self.pending);
            return;
        };
        if self.commands.echoes(&command) {
            push_masked_line(&self.masker, line, &mut self.pending);
        }
        let step_idx = self.step_idx;
        match command {
            Command::AddMask(value) => {
                if let Ok(mut masker) = self.masker.write() {
                    masker.add(&value);
                }
            }
            Command::Annotation(mut annotation) => {
                annotation.message = self.mask(&annotation.message);
                annotation.title = annotation.title.map(|title| self.mask(&title));
                annotation.file = annotation.file.map(|file| self.mask(&file));
                self.emit(JobEvent::Annotation { step_idx, annotation });
            }
            Command::Group(title) => {
                let title = self.mask(&title);
                self.emit(JobEvent::Group { step_idx, title });
            }
            Command::EndGroup => self.emit(JobEvent::EndGroup { step_idx }),
            Command::SetOutput { name, value } => {
                self.outputs.insert(name, Value::String(value));
            }
            Command::Failed(message) => {
                self.command_failed = true;
                let shown = format!("error: {message}");
                push_masked_line(&self.masker, &shown, &mut self.pending);
            }
            Command::SaveState { name, value } => self.state.push((name, value)),
            Command::Debug(_) | Command::StopCommands | Command::ResumeCommands | Command::Echo(_) => {}
        }
    }

    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let text = std::mem::take(&mut self.pending);
            self.events.send(self.tag, JobEvent::Lines { step_idx: self.step_idx, text });
        }
    }
}

#[cfg(test)]
mod tests;
