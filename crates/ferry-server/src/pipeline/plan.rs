//! A trigger becomes runs: the repository is fetched, the workflow files at the commit are
//! read and parsed, and every workflow whose `on:` matches the event, ref and changed paths
//! (and whose activity `types:` hold the webhook's activity, GitHub's defaults where none are
//! written: a pull request labelled starts only the workflows that list `labeled`)
//! gets a run. A workflow with errors that would have run gets a failed run that says why,
//! as GitHub shows one. A pull request from a fork makes runs marked as such (no secrets at
//! claim), which wait for a developer's approval when the project requires it.

use ferry_store::{NewRun, Project, Run};
use ferry_workflow::Dialect;
use ferry_workflow::model::Workflow;
use serde_json::{Map, Value, json};
use tracing::{debug, info};

use crate::pipeline::calls;
use crate::pipeline::status::{self, Reported};
use crate::pipeline::{Mirror, MirrorError, advance};
use crate::{AppState, UpcomingCommit, now_ms};

/// What started runs, and what they run on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trigger {
    /// GitHub's event name: `push`, `pull_request`, `workflow_dispatch`, `schedule`, …
    pub(crate) event: String,
    /// The full ref (`refs/heads/main`).
    pub(crate) git_ref: String,
    /// The commit; `None` resolves `git_ref` in the mirror after fetching.
    pub(crate) sha: Option<String>,
    /// The files the event changed, for `paths:` filters; `None` when unknown.
    pub(crate) changed_paths: Option<Vec<String>>,
    /// The webhook's activity (`opened`, `labeled`, `published`…) for `on.<event>.types`;
    /// `None` when the event has none.
    pub(crate) activity: Option<String>,
    /// `github.event`; synthesized when `Null`.
    pub(crate) payload: Value,
    /// Who or what started it (a token's name, `webhook`, `poll`, `schedule`).
    pub(crate) actor: String,
    /// `workflow_dispatch` inputs as given.
    pub(crate) inputs: Vec<(String, String)>,
    /// Only this workflow file (its path, or its file name).
    pub(crate) workflow: Option<String>,
    /// For `schedule`: only workflows with this cron expression.
    pub(crate) cron: Option<String>,
    /// Extra details kept with the run (the forge, the sender).
    pub(crate) info: Map<String, Value>,
    /// A pull request from a fork: its runs get no secrets, and wait for a developer's
    /// approval when the project requires it.
    pub(crate) from_fork: bool,
}

/// Why a trigger could not be planned.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PlanError {
    #[error("reading the repository: {0}")]
    Mirror(#[from] MirrorError),
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] ferry_store::StoreError),
}

/// Starts the runs `trigger` causes for `project` and plans their first jobs; returns them
/// (none when no workflow matches).
pub(crate) async fn start_runs(state: &AppState, project: &Project, trigger: Trigger) -> Result<Vec<Run>, PlanError> {
    let mirror = Mirror::for_project(state, project).await?;
    mirror.sync().await?;
    let mut trigger = trigger;
    if !trigger.git_ref.starts_with("refs/") && !trigger.git_ref.is_empty() {
        // A branch or tag name, as people type it: the branch wins, as in git.
        let branch = format!("refs/heads/{}", trigger.git_ref);
        let tag = format!("refs/tags/{}", trigger.git_ref);
        if mirror.resolve(&branch).await.is_ok() {
            trigger.git_ref = branch;
        } else if mirror.resolve(&tag).await.is_ok() {
            trigger.git_ref = tag;
        }
    }
    let rev = match &trigger.sha {
        Some(sha) if !sha.is_empty() => sha.clone(),
        _ => trigger.git_ref.clone(),
    };
    let commit = mirror.read_commit(&rev).await?;
    let (sha, files) = (commit.sha.clone(), &commit.files);
    debug!(project = %project.name, sha = %sha, "read {} workflow files of {} at {}", files.len(), project.name, short(&sha));
    if let Some(wanted) = &trigger.workflow
        && !files.iter().any(|(path, _)| names_file(path, wanted))
    {
        let known: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
        return Err(PlanError::BadRequest(format!(
            "no workflow file `{wanted}` at {}; the workflows there are: {}",
            short(&sha),
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        )));
    }
    let mut runs = Vec::new();
    let mut told = false;
    for (path, src) in files {
        if trigger.workflow.as_ref().is_some_and(|wanted| !names_file(path, wanted)) {
            continue;
        }
        let unreadable = commit.unreadable.iter().find(|(unreadable, _)| unreadable == path);
        let (workflow, mut errors) = match unreadable {
            Some((_, why)) => (None, vec![why.clone()]),
            None => {
                let (workflow, diagnostics) = ferry_workflow::parse_workflow(src, Dialect::for_path(path));
                let errors: Vec<String> = diagnostics
                    .iter()
                    .filter(|diagnostic| diagnostic.is_error())
                    .map(|diagnostic| {
                        let start = diagnostic.span.start;
                        format!("{path}:{}:{}: {}", start.line, start.col, diagnostic.message)
                    })
                    .collect();
                (workflow, errors)
            }
        };
        let triggered = match &workflow {
            Some(workflow) => triggers(workflow, &trigger),
            // A file that cannot be read as a workflow (not YAML, not UTF-8, too large) cannot
            // say which events it takes: it fails a run of every event but a schedule's, as on
            // GitHub, so a push is not silently ignored.
            None => trigger.workflow.is_some() || (trigger.cron.is_none() && !errors.is_empty()),
        };
        if !triggered {
            continue;
        }
        let inputs = match &workflow {
            Some(workflow) if trigger.event == "workflow_dispatch" => {
                ferry_engine::dispatch_inputs(workflow, &trigger.inputs, true)
                    .map_err(|error| PlanError::BadRequest(error.to_string()))?
            }
            _ => Map::new(),
        };
        let payload = if trigger.payload.is_null() {
            synthesized_event(&trigger, project, &sha, &inputs)
        } else {
            trigger.payload.clone()
        };
        let mut info = trigger.info.clone();
        // The workflows it calls, read at the same commit and kept with the run.
        if let Some(workflow) =
            workflow.as_ref().filter(|workflow| ferry_engine::reusable::calls_of(workflow).next().is_some())
        {
            match calls::read_callees(workflow, files, state.pipeline.workflow_source.as_deref()).await {
                Ok(callees) => {
                    // Calls nested too deep or in a cycle fail the run before it plans a job.
                    if let Err(error) = calls::flatten(path, std::sync::Arc::new(workflow.clone()), &callees) {
                        errors.push(format!("{path}: {error}"));
                    }
                    info.insert("callees".to_owned(), Value::Object(callees));
                }
                Err(error) => errors.push(format!("{path}: {error}")),
            }
        }
        info.insert("payload".to_owned(), payload);
        info.insert("inputs".to_owned(), Value::Object(inputs));
        info.insert("changed_paths".to_owned(), json!(trigger.changed_paths));
        let trigger_info = Value::Object(info).to_string();
        let waits = trigger.from_fork && project.require_approval;
        if errors.is_empty() && !told && !waits {
            // Before the run is stored and its jobs planned: the embedded runner checks the
            // commit out meanwhile, off the way to the first step.
            told = true;
            state.pipeline.upcoming.send_replace(Some(UpcomingCommit {
                repo: project.repo.clone(),
                sha: sha.clone(),
                source: mirror.dir().to_path_buf(),
            }));
        }
        let run = state
            .store
            .runs()
            .create(
                &NewRun {
                    project_id: project.id,
                    workflow_file: path,
                    workflow_name: workflow
                        .as_ref()
                        .and_then(|workflow| workflow.name.as_ref())
                        .map_or(path.as_str(), |name| name.value.as_str()),
                    event: &trigger.event,
                    git_ref: &trigger.git_ref,
                    sha: &sha,
                    trigger_actor: &trigger.actor,
                    trigger_info: &trigger_info,
                    workflow_src: src,
                    title: &commit.title,
                    author: &commit.author,
                    rerun_of: None,
                },
                now_ms(),
            )
            .await?;
        info!(run.id = run.id, project = %project.name, workflow = %path, event = %trigger.event,
            "run {} of {} ({path}) queued for {} at {}", run.number, project.name, trigger.event, short(&sha));
        let run = if trigger.from_fork {
            // Marked before its first `advance`, so no job of it is planned with secrets.
            let run = state.store.runs().mark_from_fork(run.id, waits).await?;
            if waits && errors.is_empty() {
                info!(run.id = run.id, project = %project.name, "run {} of {} comes from a fork and waits for a developer's approval", run.number, project.name);
                status::report(state, &run, Reported::AwaitingApproval);
            }
            run
        } else {
            run
        };
        let run = if errors.is_empty() {
            run
        } else {
            let error =
                format!("the workflow has errors; fix them (`ferry lint` shows the same):\n{}", errors.join("\n"));
            let run = state.store.runs().fail(run.id, &error, now_ms()).await?;
            // `advance` leaves a completed run alone, so the forge hears of it only here.
            status::report(state, &run, Reported::NotPlanned);
            run
        };
        runs.push(run);
    }
    for run in &runs {
        advance(state, run.id).await?;
    }
    Ok(runs)
}

/// Whether the workflow runs for the trigger.
fn triggers(workflow: &Workflow, trigger: &Trigger) -> bool {
    if trigger.workflow.is_some() && trigger.event == "workflow_dispatch" {
        return workflow.trigger("workflow_dispatch").is_some();
    }
    if let Some(cron) = &trigger.cron {
        return crate::pipeline::supervisor::crons(workflow).iter().any(|own| own == cron);
    }
    ferry_workflow::filter::event_matches(
        &workflow.on,
        &trigger.event,
        &trigger.git_ref,
        trigger.changed_paths.as_deref(),
    ) && ferry_workflow::filter::activity_matches(&workflow.on, &trigger.event, trigger.activity.as_deref())
}

/// Whether `wanted` names the workflow at `path`: the whole path or its file name.
fn names_file(path: &str, wanted: &str) -> bool {
    path == wanted || path.rsplit('/').next() == Some(wanted)
}

pub(crate) fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// An event payload for triggers that come without one (dispatch, poll, schedule), shaped
/// like GitHub's.
fn synthesized_event(trigger: &Trigger, project: &Project, sha: &str, inputs: &Map<String, Value>) -> Value {
    let repository = json!({
        "name": project.name, "full_name": format!("ferry/{}", project.name),
        "owner": {"login": "ferry", "name": "ferry"}, "default_branch": project.branch,
        "clone_url": crate::repo_url::redacted(&project.repo),
    });
    let sender = json!({"login": trigger.actor});
    match trigger.event.as_str() {
        "push" => json!({
            "ref": trigger.git_ref, "before": "0000000000000000000000000000000000000000", "after": sha,
            "repository": repository, "sender": sender, "pusher": {"name": trigger.actor},
            "head_commit": {"id": sha}, "commits": [{"id": sha}],
        }),
        "workflow_dispatch" => json!({
            "ref": trigger.git_ref, "inputs": ferry_engine::event_inputs(inputs), "repository": repository, "sender": sender,
        }),
        "schedule" => json!({"schedule": trigger.cron, "repository": repository}),
        _ => json!({"repository": repository, "sender": sender}),
    }
}
