//! Making releases and gathering what an environment gives a service.
//!
//! [`create_release`] is the one way a release is made: by hand through the API (from a run's
//! artifact or from uploaded files) and automatically when a run concludes `success` and a
//! service's `release:` matches it ([`after_run`]). It reads the `.ferry/deploy.yml` of the
//! release's commit from the project's mirror, refuses a file with errors (`ferry_deploy::
//! compile_valid`, the diagnostics in the message) or one that does not declare the service, lists the commits since the service's previous release, and numbers
//! the release in the store's transaction. A run makes at most one release per service (a
//! unique index), so the automatic path may run again after a restart and change nothing.
//!
//! [`environment_env`] is what deployments give a service's processes: the project's
//! variables, then the environment's, then the project's secrets, then the environment's
//! (each later one wins), with the keys that are secrets.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use ferry_proto::artifacts::ArtifactFile;
use ferry_proto::releases::{ReleaseCommit, ReleaseView};
use ferry_store::{Conclusion, NewRelease, Project, Release, Run, StoreError};
use tracing::{info, warn};

use crate::api::ApiError;
use crate::api::artifacts::{artifacts_of, check_file_list};
use crate::pipeline::{Mirror, MirrorError};
use crate::{AppState, now_ms};

/// Where a release's deploy spec is read from, in its commit.
pub(crate) const DEPLOY_FILE: &str = ".ferry/deploy.yml";

/// The most commits a release lists.
const MAX_COMMITS: usize = 100;

/// Where a release's files come from.
#[derive(Debug, Clone)]
pub(crate) enum ReleaseSource {
    /// The artifact the service's `release:` names (else the one named after the service) of
    /// this run of the project, which must have concluded `success`; the commit is the run's.
    Run(i64),
    /// Files whose blobs the project may name, with the commit (id, branch or tag; `None`:
    /// the head of the project's branch).
    Files { files: Vec<ArtifactFile>, commit: Option<String> },
}

/// Makes release of `service` of `project` from `source`, recorded as made by `author`.
///
/// # Errors
/// An [`ApiError`] saying what to fix: 404 for a run of no such project, 422 for a run that
/// did not succeed or lacks the artifact, files the project may not name, a commit without a
/// `.ferry/deploy.yml` declaring the service or with one that has errors; 409 when the run
/// already made a release of the service.
pub(crate) async fn create_release(
    state: &AppState,
    project: &Project,
    service: &str,
    source: ReleaseSource,
    author: Option<&str>,
) -> Result<Release, ApiError> {
    crate::api::check_name("service", service)?;
    let mirror = Mirror::for_project(state, project).await.map_err(mirror_error)?;
    let (run, sha, branch, files) = match source {
        ReleaseSource::Run(run_id) => {
            // A run the body names that is not the project's is a bad reference (422), not a
            // missing resource of the route.
            let run = match state.store.runs().get(run_id).await {
                Ok(run) if run.project_id == project.id => run,
                Ok(_) | Err(ferry_store::StoreError::NotFound { .. }) => {
                    return Err(unprocessable(format!("project {} has no run {run_id}", project.name)));
                }
                Err(error) => return Err(error.into()),
            };
            if run.conclusion != Some(Conclusion::Success) {
                return Err(unprocessable(format!(
                    "run {run_id} has not concluded success ({}); a release is made from a successful run",
                    run.conclusion.map_or("not finished", |conclusion| conclusion.as_str())
                )));
            }
            let sha = run.sha.clone();
            let branch = run.git_ref.strip_prefix("refs/heads/").map(str::to_owned);
            (Some(run), sha, branch, None)
        }
        ReleaseSource::Files { files, commit } => {
            check_file_list(&files)?;
            for file in &files {
                let size = match project_may_name(state, project.id, &file.sha256).await? {
                    true => state.blobs.size(&file.sha256).await,
                    false => None,
                };
                match size {
                    None => {
                        return Err(unprocessable(format!(
                            "blob {} of {} was not uploaded to project {}; upload it with \
                             `PUT /api/v1/projects/{}/blobs/{}` first",
                            file.sha256, file.path, project.name, project.name, file.sha256
                        )));
                    }
                    Some(size) if size != file.size => {
                        return Err(unprocessable(format!(
                            "blob {} of {} is {size} bytes, not {}",
                            file.sha256, file.path, file.size
                        )));
                    }
                    Some(_) => {}
                }
            }
            let rev = commit.unwrap_or_else(|| project.branch.clone());
            mirror.sync().await.map_err(mirror_error)?;
            let sha = mirror.resolve(&rev).await.map_err(mirror_error)?;
            // A branch's name (or its full ref) names the branch; a tag or a commit id none.
            let name = rev.strip_prefix("refs/heads/").unwrap_or(&rev);
            let branch = match mirror.resolve(&format!("refs/heads/{name}")).await {
                Ok(_) => Some(name.to_owned()),
                Err(_) => None,
            };
            (None, sha, branch, Some(files))
        }
    };
    let deploy_spec = deploy_spec_at(&mirror, &sha, run.is_some()).await?;
    let spec = ferry_deploy::compile_valid(&deploy_spec).map_err(|error| {
        unprocessable(format!("{DEPLOY_FILE} at commit {sha}: {error}; `ferry lint` shows them all"))
    })?;
    let Some(declared) = spec.services.iter().find(|declared| declared.name == service) else {
        let names: Vec<&str> = spec.services.iter().map(|declared| declared.name.as_str()).collect();
        return Err(unprocessable(format!(
            "{DEPLOY_FILE} at commit {sha} declares no service {service:?} (it declares: {}); add it under `services:`",
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        )));
    };
    let files = match (files, &run) {
        (Some(files), _) => files,
        (None, Some(run)) => {
            let artifact = declared.release.as_ref().map_or(service, |rule| rule.artifact.as_str());
            let artifacts = artifacts_of(state, run.id).await?;
            let names: Vec<String> = artifacts.iter().map(|artifact| artifact.name.clone()).collect();
            let Some(found) = artifacts.into_iter().find(|found| found.name == artifact) else {
                return Err(unprocessable(format!(
                    "run {} has no artifact {artifact:?} (it has: {}); the service's `release.artifact` names it",
                    run.id,
                    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
                )));
            };
            found.files
        }
        (None, None) => Vec::new(),
    };
    let previous = state.store.releases().latest(project.id, service).await?;
    let commits = commits_since(&mirror, previous.as_ref().map(|release| release.commit_sha.as_str()), &sha).await;
    let author = author.map(str::to_owned).or_else(|| run.as_ref().map(|run| run.trigger_actor.clone()));
    let new_release = NewRelease {
        project_id: project.id,
        service,
        commit_sha: &sha,
        branch: branch.as_deref(),
        run_id: run.as_ref().map(|run| run.id),
        author: author.as_deref().filter(|author| !author.is_empty()),
        files: &files,
        deploy_spec: &deploy_spec,
        commits: &commits,
    };
    match state.store.releases().create(&new_release, now_ms()).await {
        Ok(release) => {
            info!(project = %project.name, service, release = release.number, commit = %sha,
                "made release {} of {} in {}", release.number, service, project.name);
            crate::deployments::after_release(state, project, &release).await;
            Ok(release)
        }
        Err(StoreError::Conflict(what)) => {
            let Some(run) = &run else { return Err(StoreError::Conflict(what).into()) };
            let number = match state.store.releases().of_run(run.id, service).await? {
                Some(release) => release.number.to_string(),
                None => "?".to_owned(),
            };
            Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "run {} already made release {number} of {service}; a run makes one release per service",
                    run.id
                ),
            ))
        }
        Err(error) => Err(error.into()),
    }
}

/// The `.ferry/deploy.yml` at `sha`; a commit the mirror lacks is fetched once when `fetch`.
async fn deploy_spec_at(mirror: &Mirror, sha: &str, fetch: bool) -> Result<String, ApiError> {
    let mut text = mirror.read_file(sha, DEPLOY_FILE).await.map_err(mirror_error)?;
    if text.is_none() && fetch {
        mirror.sync().await.map_err(mirror_error)?;
        text = mirror.read_file(sha, DEPLOY_FILE).await.map_err(mirror_error)?;
    }
    text.ok_or_else(|| {
        unprocessable(format!(
            "commit {sha} has no {DEPLOY_FILE}; a release is made from a commit whose {DEPLOY_FILE} declares its service"
        ))
    })
}

/// The commits since `previous` up to `sha`, newest first (only `sha` for a first release,
/// or when the history cannot be read, say after a force-push removed `previous`).
async fn commits_since(mirror: &Mirror, previous: Option<&str>, sha: &str) -> Vec<ReleaseCommit> {
    let listed = match previous {
        Some(previous) => mirror.log(Some(previous), sha, MAX_COMMITS).await,
        None => mirror.log(None, sha, 1).await,
    };
    let listed = match listed {
        Ok(listed) => listed,
        Err(error) => {
            warn!(%error, commit = sha, "listing the commits of a release: {error}");
            mirror.log(None, sha, 1).await.unwrap_or_default()
        }
    };
    listed
        .into_iter()
        .map(|(sha, message, author, at)| ReleaseCommit { sha, message, author, at: at.saturating_mul(1000) })
        .collect()
}

/// Whether project `project_id` may name blob `digest` in a release made from files: its
/// people uploaded it, or one of its releases holds it. Blobs are shared by digest across
/// projects, so a digest learnt elsewhere must not make another project's files its own.
pub(crate) async fn project_may_name(state: &AppState, project_id: i64, digest: &str) -> Result<bool, StoreError> {
    Ok(state.store.project_blobs().has(project_id, digest).await?
        || state.store.releases().holds_blob(project_id, digest).await?)
}

/// Makes the releases run `run` matches, if it concluded `success`: every service of the
/// run's `.ferry/deploy.yml` whose `release:` names the run's workflow file, its branch (the
/// project's by default) and, when it names a job, a job that succeeded. Idempotent: a
/// release the run already made is left as it is. Failures are logged, never raised: the run
/// is finished whatever happens here.
pub(crate) async fn after_run(state: &AppState, run: &Run) {
    if run.conclusion != Some(Conclusion::Success) {
        return;
    }
    if let Err(error) = release_run(state, run).await {
        warn!(run.id = run.id, error = error.message(), "releases of run {}: {}", run.id, error.message());
    }
}

async fn release_run(state: &AppState, run: &Run) -> Result<(), ApiError> {
    let project = state.store.projects().get(run.project_id).await?;
    let mirror = Mirror::for_project(state, &project).await.map_err(mirror_error)?;
    let Some(text) = mirror.read_file(&run.sha, DEPLOY_FILE).await.map_err(mirror_error)? else { return Ok(()) };
    let spec = ferry_deploy::compile_valid(&text)
        .map_err(|error| unprocessable(format!("{DEPLOY_FILE} at commit {}: {error}", run.sha)))?;
    let file_name = run.workflow_file.rsplit('/').next().unwrap_or_default();
    let jobs = state.store.jobs().list_for_run(run.id).await?;
    for service in spec.services {
        let Some(rule) = &service.release else { continue };
        let branch = rule.branch.as_deref().unwrap_or(&project.branch);
        let job_succeeded = rule.job.as_ref().is_none_or(|job| {
            let instances: Vec<_> = jobs.iter().filter(|row| &row.job_key == job).collect();
            !instances.is_empty() && instances.iter().all(|row| row.conclusion == Some(Conclusion::Success))
        });
        let matches = rule.workflow == file_name && run.git_ref == format!("refs/heads/{branch}") && job_succeeded;
        if !matches || state.store.releases().of_run(run.id, &service.name).await?.is_some() {
            continue;
        }
        match create_release(state, &project, &service.name, ReleaseSource::Run(run.id), None).await {
            Ok(_) => {}
            Err(error) if error.status() == StatusCode::CONFLICT => {}
            Err(error) => {
                warn!(run.id = run.id, service = %service.name, error = error.message(),
                    "no release of {} from run {}: {}", service.name, run.id, error.message());
            }
        }
    }
    Ok(())
}

/// What environment `environment` of project `project_id` gives a service's processes: the
/// project's variables, then the environment's, then the project's secrets, then the
/// environment's, each later one replacing an earlier one of its name; and the keys that are
/// secrets. A secret that does not decrypt under the server's key is left out (and logged).
///
/// # Errors
/// The store failed.
pub(crate) async fn environment_env(
    state: &AppState,
    project_id: i64,
    environment: &str,
) -> Result<(BTreeMap<String, String>, Vec<String>), StoreError> {
    let mut variables = Vec::new();
    let mut secrets = Vec::new();
    for scope in ["", environment] {
        let values = environment_values(state, project_id, scope).await?;
        variables.push(values.variables.into_iter().collect());
        secrets.push(values.secrets.into_iter().collect());
    }
    Ok(layered(variables, secrets))
}

/// The variables and secrets (decrypted) of one scope of a project: an environment's own, or
/// with `""` the project's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EnvironmentValues {
    pub(crate) variables: BTreeMap<String, String>,
    pub(crate) secrets: BTreeMap<String, String>,
}

/// The variables and secrets of scope `environment` (`""`: the project's own) of project
/// `project_id`. A secret that does not decrypt under the server's key is left out (and
/// logged).
///
/// # Errors
/// The store failed.
pub(crate) async fn environment_values(
    state: &AppState,
    project_id: i64,
    environment: &str,
) -> Result<EnvironmentValues, StoreError> {
    let variables = state.store.variables().list_in(project_id, environment).await?;
    let mut values = EnvironmentValues {
        variables: variables.into_iter().map(|variable| (variable.name, variable.value)).collect(),
        secrets: BTreeMap::new(),
    };
    for secret in state.store.secrets().list_in(project_id, environment).await? {
        let bound = secret_binding(environment, &secret.name);
        match state.secret_box.open(project_id, &bound, &secret.ciphertext, &secret.nonce) {
            Some(value) => {
                values.secrets.insert(secret.name, String::from_utf8_lossy(&value).into_owned());
            }
            None => warn!(project.id = project_id, environment, secret = %secret.name,
                "secret {} does not decrypt under secret.key; left out", secret.name),
        }
    }
    Ok(values)
}

/// The variables' layers, then the secrets' layers, each later one replacing an earlier one's
/// value of the same name; and the names whose value is a secret, sorted.
fn layered(
    variables: Vec<Vec<(String, String)>>,
    secrets: Vec<Vec<(String, String)>>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut env: BTreeMap<String, String> = variables.into_iter().flatten().collect();
    let mut secret_keys = Vec::new();
    for (name, value) in secrets.into_iter().flatten() {
        env.insert(name.clone(), value);
        secret_keys.push(name);
    }
    secret_keys.sort();
    secret_keys.dedup();
    (env, secret_keys)
}

/// The name a secret is sealed under: its own for the project's, `ENVIRONMENT/NAME` for an
/// environment's, so a ciphertext cannot be moved from one environment to another.
pub(crate) fn secret_binding(environment: &str, name: &str) -> String {
    if environment.is_empty() { name.to_owned() } else { format!("{environment}/{name}") }
}

/// A release as the API shows it.
pub(crate) fn release_view(project: &str, release: Release) -> ReleaseView {
    ReleaseView {
        id: release.id,
        project: project.to_owned(),
        size: release.files.iter().map(|file| file.size).sum(),
        service: release.service,
        number: release.number,
        commit: release.commit_sha,
        branch: release.branch,
        run_id: release.run_id,
        author: release.author,
        files: release.files,
        commits: release.commits,
        deploy_spec: release.deploy_spec,
        created_at: release.created_at,
    }
}

fn unprocessable(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn mirror_error(error: MirrorError) -> ApiError {
    match error {
        MirrorError::UnknownRef(_) => unprocessable(error.to_string()),
        // As a trigger answers: the request was well formed; the project's repository refuses it.
        _ => unprocessable(format!("reading the project's repository: {error}")),
    }
}

#[cfg(test)]
mod tests;
