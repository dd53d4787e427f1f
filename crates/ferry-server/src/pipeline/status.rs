//! Commit statuses on the forge: when a run that a forge's webhook started waits for its
//! `concurrency:` group, begins and completes (or fails before any job, as a workflow with
//! errors does), and its project has the secret `FERRY_FORGE_TOKEN`, the run's state is
//! posted to that forge as the status `ferry/<workflow file>` of the run's commit.
//!
//! - `request.rs`: the request for each forge, from the webhook payload (pure).
//! - `send.rs`: the HTTP(S) client, a short time-out and one retry, each run's reports in order.
//!
//! Reporting never holds planning up: [`report`] only spawns a task, which reads the token,
//! builds the request and sends it. A status that cannot be sent is logged with the reason
//! or the forge's answer, never with the token, and the run goes on as if nothing happened.

mod request;
mod send;

use ferry_hooks::Forge;
use ferry_store::{Run, StoreError};
use serde_json::Value;
use tracing::{debug, info, warn};

pub(crate) use request::Reported;
use request::{StatusFacts, status_request};
pub(crate) use send::StatusSender;

use crate::AppState;

/// The project secret that holds the forge's API token.
pub(crate) const TOKEN_SECRET: &str = "FERRY_FORGE_TOKEN";

/// Reports `reported` about `run` to the forge whose webhook started it, in the background;
/// the reports of one run reach the forge in the order they were made.
pub(crate) fn report(state: &AppState, run: &Run, reported: Reported) {
    let concluded = matches!(reported, Reported::Concluded(_) | Reported::NotPlanned);
    let (task_state, run) = (state.clone(), run.clone());
    state.pipeline.forge_status.in_order(run.id, concluded, async move { deliver(&task_state, &run, reported).await });
}

async fn deliver(state: &AppState, run: &Run, reported: Reported) {
    let info: Value = serde_json::from_str(&run.trigger_info).unwrap_or(Value::Null);
    // Runs no webhook started (dispatch, poll, schedule) have no forge to report to.
    let Some(forge) = info.get("forge").and_then(Value::as_str).and_then(Forge::from_slug) else { return };
    let token = match forge_token(state, run.project_id).await {
        Ok(Some(token)) => token,
        Ok(None) => {
            debug!(run.id = run.id, "run {} is not reported to {forge}: the project has no {TOKEN_SECRET}", run.id);
            return;
        }
        Err(error) => {
            warn!(run.id = run.id, %error, "run {} is not reported to {forge}: reading {TOKEN_SECRET}: {error}", run.id);
            return;
        }
    };
    let target_url = state.pipeline.public_url.as_ref().map(|url| format!("{url}/ui/runs/{}", run.id));
    let facts = StatusFacts {
        forge,
        payload: info.get("payload").unwrap_or(&Value::Null),
        sha: &run.sha,
        workflow_file: &run.workflow_file,
        run_number: run.number,
        reported,
        error: run.error.as_deref(),
        target_url: target_url.as_deref(),
    };
    let request = match status_request(&facts, &token) {
        Ok(request) => request,
        Err(error) => {
            warn!(run.id = run.id, %forge, %error, "run {} is not reported to {forge}: {error}", run.id);
            return;
        }
    };
    match state.pipeline.forge_status.send(&request).await {
        Ok(()) => {
            info!(run.id = run.id, %forge, url = %request.url, state = ?reported, "reported run {} to {forge} ({reported:?})", run.id)
        }
        Err(error) => warn!(run.id = run.id, %forge, url = %request.url, %error,
            "could not report run {} to {forge} ({reported:?}): {error}", run.id),
    }
}

/// The project's forge token, when it has one that decrypts.
async fn forge_token(state: &AppState, project_id: i64) -> Result<Option<String>, StoreError> {
    let Some(secret) = state.store.secrets().get(project_id, TOKEN_SECRET).await? else { return Ok(None) };
    match state.secret_box.open(project_id, &secret.name, &secret.ciphertext, &secret.nonce) {
        // A pasted token often ends with a newline, which no forge's token has.
        Some(value) => Ok(Some(String::from_utf8_lossy(&value).trim().to_owned())),
        None => {
            warn!(project.id = project_id, "{TOKEN_SECRET} does not decrypt under secret.key; no status is reported");
            Ok(None)
        }
    }
}
