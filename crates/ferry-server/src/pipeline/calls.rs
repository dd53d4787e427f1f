//! The server's side of reusable workflows (`jobs.<id>.uses: ./.github/workflows/x.yml`):
//! when a run is planned, the workflows it calls are read from the workflow files at the
//! run's commit, or for another repository's (`owner/repo/.github/workflows/x.yml@ref`) from
//! the server's [`WorkflowSource`] ([`read_callees`]), and kept with the run (`trigger_info.callees`), so the run
//! is planned from what was committed even when the branch moves on; its jobs are flattened
//! by `ferry_engine::reusable` ([`flat_of`]), and a runner that claims a called job gets the
//! called workflow's text and the secrets its caller passes ([`called_job`]).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use ferry_engine::{Callee, Flat};
use ferry_store::Run;
use ferry_workflow::Dialect;
use ferry_workflow::model::Workflow;
use serde_json::{Map, Value, json};

/// Why a [`WorkflowSource`] could not read a workflow: what could not be fetched or read, and
/// how to fix it, in the source's own words (shown to the run's viewers as it is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WorkflowSourceError(pub String);

/// Where reusable workflows of other repositories come from: the binary gives the server the
/// actions source its runner fetches actions from, so a call reads what `ferry run` reads.
pub trait WorkflowSource: Send + Sync {
    /// The text of the workflow `uses` names (`owner/repo/.github/workflows/x.yml@ref`), a tag
    /// or branch resolved now.
    ///
    /// # Errors
    /// What could not be fetched or read, and how to fix it.
    fn read<'a>(
        &'a self,
        uses: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<String, WorkflowSourceError>> + Send + 'a>>;
}

/// Why the workflows a run calls cannot be read or flattened; the run fails with it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallsError {
    #[error(
        "`uses: {uses}`: this server has no actions source to read another repository's workflow \
         from; copy it into .github/workflows and call it by its local path"
    )]
    NoSource { uses: String },
    #[error("`uses: {uses}`: {source}")]
    Remote {
        uses: String,
        #[source]
        source: WorkflowSourceError,
    },
    #[error(
        "`uses: {uses}`: there is no workflow file {path} at this commit; reusable workflows live in .github/workflows"
    )]
    NoFile { uses: String, path: String },
    /// The called workflow has errors, each as `file:line:col: message`.
    #[error("the called workflow {path} has errors: {}", errors.join("; "))]
    CalledErrors { path: String, errors: Vec<String> },
    #[error(transparent)]
    Flatten(#[from] ferry_engine::CallError),
}

/// The sources of every workflow `workflow` calls, at any depth, by `uses:` as written, read
/// from `files` (the workflow files at the run's commit) or, for other repositories', from
/// `remote`, as JSON for `trigger_info.callees`.
///
/// # Errors
/// A call of a file that is not among `files`, of another repository's workflow that `remote`
/// cannot read (or without one), or of a workflow with errors; the message says which and how
/// to fix it.
pub(crate) async fn read_callees(
    workflow: &Workflow,
    files: &[(String, String)],
    remote: Option<&dyn WorkflowSource>,
) -> Result<Map<String, Value>, CallsError> {
    let mut found: HashMap<String, Callee> = HashMap::new();
    let mut sources = Map::new();
    loop {
        let missing = ferry_engine::missing_calls(workflow, &found);
        if missing.is_empty() {
            break;
        }
        for uses in missing {
            // `$/path` names a file of the same repository at the same commit, as `./path` does.
            let Some(path) = uses.strip_prefix("./").or_else(|| uses.strip_prefix("$/")) else {
                let Some(remote) = remote else {
                    return Err(CallsError::NoSource { uses });
                };
                let src =
                    remote.read(&uses).await.map_err(|source| CallsError::Remote { uses: uses.clone(), source })?;
                let callee = parse(&uses, &src)?;
                sources.insert(uses.clone(), json!({"file": uses, "src": src}));
                found.insert(uses, callee);
                continue;
            };
            let Some((_, src)) = files.iter().find(|(file, _)| file == path) else {
                return Err(CallsError::NoFile { path: path.to_owned(), uses });
            };
            let callee = parse(path, src)?;
            sources.insert(uses.clone(), json!({"file": path, "src": src}));
            found.insert(uses, callee);
        }
    }
    Ok(sources)
}

fn parse(path: &str, src: &str) -> Result<Callee, CallsError> {
    let (workflow, diagnostics) = ferry_workflow::parse_workflow(src, Dialect::for_path(path));
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.is_error())
        .map(|diagnostic| {
            let start = diagnostic.span.start;
            format!("{path}:{}:{}: {}", start.line, start.col, diagnostic.message)
        })
        .collect();
    match workflow {
        Some(workflow) if errors.is_empty() => Ok(Callee { file: path.to_owned(), workflow: Arc::new(workflow) }),
        _ => Err(CallsError::CalledErrors { path: path.to_owned(), errors }),
    }
}

/// The run's jobs with its calls flattened, from the callees kept with the run.
///
/// # Errors
/// A stored callee that no longer reads, or calls that cannot be flattened (too deep, a
/// cycle).
pub(crate) fn flat_of(run: &Run, workflow: Arc<Workflow>) -> Result<Flat, CallsError> {
    let info: Value = serde_json::from_str(&run.trigger_info).unwrap_or(Value::Null);
    let callees = info.get("callees").and_then(Value::as_object).cloned().unwrap_or_default();
    flatten(&run.workflow_file, workflow, &callees)
}

/// The jobs of `workflow` (at `file`) with its calls flattened, the called workflows taken
/// from `sources` (as [`read_callees`] returns them).
///
/// # Errors
/// As [`flat_of`].
pub(crate) fn flatten(file: &str, workflow: Arc<Workflow>, sources: &Map<String, Value>) -> Result<Flat, CallsError> {
    let mut callees = HashMap::new();
    for (uses, source) in sources {
        let file = source.get("file").and_then(Value::as_str).unwrap_or_default();
        let src = source.get("src").and_then(Value::as_str).unwrap_or_default();
        callees.insert(uses.clone(), parse(file, src)?);
    }
    Ok(ferry_engine::flatten(file, workflow, &callees)?)
}

/// What a runner gets for job `job_key` of `run` when it belongs to a called workflow: that
/// workflow's file and text, the job's id in it, and the secrets its caller passes out of
/// `secrets` (the project's); `None` for a job of the run's own workflow.
pub(crate) fn called_job(
    run: &Run,
    job_key: &str,
    contexts: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Option<CalledJob> {
    if !job_key.contains('/') {
        return None;
    }
    let (workflow, _) = ferry_workflow::parse_workflow(&run.workflow_src, Dialect::for_path(&run.workflow_file));
    let flat = flat_of(run, Arc::new(workflow?)).ok()?;
    let job_idx = flat.jobs.iter().position(|job| job.id == job_key)?;
    let flat_job = &flat.jobs[job_idx];
    let mut values = contexts.clone();
    values.insert("secrets".to_owned(), Value::Object(secrets.clone()));
    let secrets = ferry_engine::reusable::job_values(&values, &flat, job_idx, None)
        .ok()
        .and_then(|values| values.get("secrets").and_then(Value::as_object).cloned())
        .unwrap_or_default();
    Some(CalledJob {
        file: flat_job.file.clone(),
        src: run_callee_src(run, &flat_job.file)?,
        own_id: flat_job.own_id.clone(),
        secrets,
    })
}

/// A job of a called workflow, as a runner must see it.
pub(crate) struct CalledJob {
    pub(crate) file: String,
    pub(crate) src: String,
    pub(crate) own_id: String,
    pub(crate) secrets: Map<String, Value>,
}

fn run_callee_src(run: &Run, file: &str) -> Option<String> {
    let info: Value = serde_json::from_str(&run.trigger_info).ok()?;
    info.get("callees")?
        .as_object()?
        .values()
        .find(|source| source.get("file").and_then(Value::as_str) == Some(file))
        .and_then(|source| source.get("src").and_then(Value::as_str))
        .map(str::to_owned)
}
