//! The server's background work, one task ticking once a second:
//! - on start, every unfinished run is advanced (a restart resumes where the store is), and
//!   each project's newest successful run makes the releases it should have made;
//! - jobs whose lease ran out are failed with "runner lost" and their runs advanced;
//! - each project's repository is polled every `poll_interval` for a new head of its
//!   branch, which starts `push` runs as a webhook would (a fallback when no webhook comes),
//!   each project in a task of its own, so a remote that hangs (until the git timeout) holds
//!   up neither the lease checks nor the other projects;
//! - `on.schedule` crons of the workflows on each project's branch fire once per minute
//!   they match;
//! - every `artifact_sweep_interval` (a minute), expired artifacts and the blobs no artifact
//!   references any more are deleted (`retention.rs`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_model::Conclusion;
use ferry_store::{Project, RunFilter, RunState, StoreError};
use ferry_workflow::Dialect;
use tracing::{info, warn};

use crate::AppState;
use crate::pipeline::{Mirror, Trigger, advance, start_runs};

pub(crate) use ferry_workflow::schedule::crons;

/// Starts the background task; it ends when the runtime does.
pub(crate) fn spawn_supervisor(state: AppState) {
    tokio::spawn(async move {
        if let Err(error) = resume(&state).await {
            warn!(%error, "resuming unfinished runs failed: {error}");
        }
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_poll = None::<tokio::time::Instant>;
        let mut last_sweep = None::<tokio::time::Instant>;
        let polling = Polling::default();
        // A stopped server keeps no task (and so no handle on its stores) running.
        let mut shutting_down = state.pipeline.shutting_down.subscribe();
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutting_down.wait_for(|stopping| *stopping) => break,
            }
            if let Err(error) = fail_lost_jobs(&state).await {
                warn!(%error, "checking job leases failed: {error}");
            }
            let poll_due = last_poll.is_none_or(|at| at.elapsed() >= state.pipeline.poll_interval);
            if poll_due && !state.pipeline.poll_interval.is_zero() {
                last_poll = Some(tokio::time::Instant::now());
                poll_and_schedule(&state, &polling).await;
            }
            if last_sweep.is_none_or(|at| at.elapsed() >= state.pipeline.artifact_sweep_interval) {
                last_sweep = Some(tokio::time::Instant::now());
                if let Err(error) = crate::retention::sweep(&state).await {
                    warn!(%error, "sweeping expired artifacts failed: {error}");
                }
            }
        }
    });
}

async fn resume(state: &AppState) -> Result<(), StoreError> {
    let runs = state.store.runs().unfinished().await?;
    if !runs.is_empty() {
        info!(n_runs = runs.len(), "resuming {} unfinished run(s)", runs.len());
    }
    for run in runs {
        advance(state, run.id).await?;
    }
    // A server stopped between a run's success and its releases makes them now: only the
    // newest successful run of each project, so a release never numbers an older commit
    // after a newer one (a run that made its releases makes none again). Off the supervisor's
    // path: reading a repository must not hold the lease checks.
    let success = RunFilter { state: Some(RunState::Conclusion(Conclusion::Success)), ..RunFilter::default() };
    let mut newest = Vec::new();
    for project in state.store.projects().list().await? {
        newest.extend(state.store.runs().list_filtered(project.id, &success, i64::MAX, 1).await?);
    }
    let state = state.clone();
    tokio::spawn(async move {
        for run in newest {
            crate::releases::after_run(&state, &run).await;
        }
    });
    Ok(())
}

async fn fail_lost_jobs(state: &AppState) -> Result<(), StoreError> {
    let now = state.pipeline.clock.now_ms();
    for job in state.store.jobs().expired_leases(now).await? {
        let silent_ms = job.lease_expires_at.map_or(0, |expiry| now - expiry + state.pipeline.lease_ms);
        let reason = format!("runner lost: no heartbeat for {:.1} s", silent_ms as f64 / 1000.0);
        match state.store.jobs().finish(job.id, Conclusion::Failure, "{}", Some(&reason), now).await {
            Ok(_) => warn!(job.id = job.id, run.id = job.run_id, "job {} of run {}: {reason}", job.name, job.run_id),
            Err(StoreError::Conflict(_)) => continue,
            Err(error) => return Err(error),
        }
        advance(state, job.run_id).await?;
        state.pipeline.logs_changed.send_modify(|generation| *generation += 1);
    }
    Ok(())
}

/// The projects whose poll is under way.
type Polling = Arc<Mutex<HashSet<i64>>>;

/// Starts a poll of each project whose last one has finished, each in a task of its own.
async fn poll_and_schedule(state: &AppState, polling: &Polling) {
    let projects = match state.store.projects().list().await {
        Ok(projects) => projects,
        Err(error) => return warn!(%error, "listing projects failed: {error}"),
    };
    for project in projects {
        if !polling.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(project.id) {
            continue;
        }
        let (state, under_way) = (state.clone(), PollUnderWay(polling.clone(), project.id));
        tokio::spawn(async move {
            if let Err(error) = poll(&state, &project).await {
                warn!(project = %project.name, %error, "polling {} failed: {error}", project.name);
            }
            drop(under_way);
        });
    }
}

/// A project's poll under way; dropped (also when its task ends any other way), the project
/// is polled again at the next interval.
struct PollUnderWay(Polling, i64);

impl Drop for PollUnderWay {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.1);
    }
}

/// Fetches the project's branch; a head not seen before starts `push` runs (unless a
/// webhook already started runs for that commit) and fires the minutes of `on.schedule`
/// that passed since the last check.
async fn poll(state: &AppState, project: &Project) -> Result<(), crate::pipeline::PlanError> {
    let mirror = Mirror::for_project(state, project).await?;
    mirror.sync().await?;
    let git_ref = format!("refs/heads/{}", project.branch);
    let sha = mirror.resolve(&git_ref).await?;
    if sha != project.polled_sha {
        state.store.projects().set_polled_sha(project.id, &sha).await?;
        let seen = state.store.runs().list(project.id, i64::MAX, 50).await?.iter().any(|run| run.sha == sha);
        // The first poll only learns where the branch is.
        if !project.polled_sha.is_empty() && !seen {
            let changed_paths = mirror.changed_paths(&project.polled_sha, &sha).await;
            let trigger = Trigger {
                event: "push".to_owned(),
                git_ref: git_ref.clone(),
                sha: Some(sha.clone()),
                changed_paths,
                actor: "poll".to_owned(),
                ..Trigger::default()
            };
            let runs = start_runs(state, project, trigger).await?;
            info!(project = %project.name, n_runs = runs.len(), "polling found {} on {}: {} run(s)", crate::pipeline::plan::short(&sha), project.branch, runs.len());
        }
    }
    schedule(state, project, &mirror, &git_ref, &sha).await
}

async fn schedule(
    state: &AppState,
    project: &Project,
    mirror: &Mirror,
    git_ref: &str,
    sha: &str,
) -> Result<(), crate::pipeline::PlanError> {
    let now_minute = state.pipeline.clock.now_minute();
    // The first check starts the clock; after downtime at most an hour is caught up.
    let from = project.schedule_checked_at.unwrap_or(now_minute).max(now_minute - 60);
    if from >= now_minute
        || !state.store.projects().advance_schedule(project.id, project.schedule_checked_at, now_minute).await?
    {
        if project.schedule_checked_at.is_none() {
            state.store.projects().advance_schedule(project.id, None, now_minute).await?;
        }
        return Ok(());
    }
    for (path, src) in mirror.read_commit(sha).await?.files {
        let (Some(workflow), _) = ferry_workflow::parse_workflow(&src, Dialect::for_path(&path)) else { continue };
        for cron in crons(&workflow) {
            let fired = ((from + 1)..=now_minute).any(|minute| ferry_workflow::schedule::fires_at(&cron, minute));
            if !fired {
                continue;
            }
            let trigger = Trigger {
                event: "schedule".to_owned(),
                git_ref: git_ref.to_owned(),
                sha: Some(sha.to_owned()),
                actor: "schedule".to_owned(),
                workflow: Some(path.clone()),
                cron: Some(cron.clone()),
                ..Trigger::default()
            };
            start_runs(state, project, trigger).await?;
        }
    }
    Ok(())
}
