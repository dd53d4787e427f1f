//! What a deployment runs and where it may go, resolved once when it is created from the
//! release and its deploy.yml, and kept in the deployment's row (`target`), so that
//! everything after (gates, desired state, promotion) is computed from the store alone.
//!
//! [`resolve`] reads the release (`store.releases()`) and compiles its deploy.yml
//! (`ferry_deploy::compile`): it turns a service, an environment and a release number into a
//! [`Resolved`] deployment.

use axum::http::StatusCode;
use ferry_proto::agent::{AnalysisSpec, StrategySpec, Unit};
use ferry_store::Project;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::ApiError;
use crate::deployments::gates::EnvironmentRules;

/// What a deployment runs: the unit as the agent gets it (its `release` is the release being
/// deployed, with the service's own `env:`; the environment's variables and secrets are added
/// when the desired state is sent), and how it rolls out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Target {
    pub(crate) unit: Unit,
    pub(crate) strategy: StrategySpec,
    #[serde(default)]
    pub(crate) analysis: Option<AnalysisSpec>,
    pub(crate) verify_ms: u64,
    /// The environment's gates.
    pub(crate) rules: EnvironmentRules,
    /// The environments whose `after:` names this one: where a success promotes the release.
    #[serde(default)]
    pub(crate) promotes_to: Vec<String>,
    /// The service's SLOs (`slos:`), whose error budgets here the `error-budget:` gate judges.
    #[serde(default)]
    pub(crate) slos: Vec<ferry_deploy::Slo>,
}

/// A deployment ready to be submitted: the release and everything its deploy.yml says about
/// the service in the environment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    pub(crate) service: String,
    pub(crate) environment: String,
    pub(crate) release: i64,
    /// The commit the release was made from.
    pub(crate) commit_sha: String,
    /// The run that built it, if a run did.
    pub(crate) run_id: Option<i64>,
    /// The release's author, who may not approve its deployments.
    pub(crate) author: String,
    /// The branch its commit came from, for `branches:`.
    pub(crate) branch: Option<String>,
    /// The commits it brings, in words.
    pub(crate) commits: Vec<String>,
    pub(crate) target: Target,
}

impl Target {
    /// The strategy's name as listed (`rolling`).
    pub(crate) fn strategy_name(&self) -> &'static str {
        match self.strategy {
            StrategySpec::Recreate => "recreate",
            StrategySpec::Rolling { .. } => "rolling",
            StrategySpec::BlueGreen { .. } => "blue-green",
            StrategySpec::Canary { .. } => "canary",
        }
    }
}

/// Resolves release `release` of `service` (default: the newest) for `environment` of
/// `project`: the release's own deploy.yml says how it runs there and what gates it passes.
///
/// # Errors
/// 422 when there is no such release, when its deploy.yml has errors or does not deploy
/// the service to the environment, or a file of the release is missing from the blob store.
pub(crate) async fn resolve(
    state: &AppState,
    project: &Project,
    service: &str,
    environment: &str,
    release: Option<i64>,
) -> Result<Resolved, ApiError> {
    // A release the body names that does not exist is a bad reference (422), not a missing
    // resource of the route.
    let release = match release {
        Some(number) => match state.store.releases().get(project.id, service, number).await {
            Err(ferry_store::StoreError::NotFound { .. }) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("service {service} of project {} has no release {number}", project.name),
                ));
            }
            other => other?,
        },
        None => state.store.releases().latest(project.id, service).await?.ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "service {service} of project {} has no release yet; make one with `ferry release create`",
                    project.name
                ),
            )
        })?,
    };
    let number = release.number;
    let unprocessable = |message: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message);
    let (spec, diagnostics) = ferry_deploy::compile(&release.deploy_spec);
    let first_error = diagnostics.iter().find(|diagnostic| diagnostic.severity == ferry_deploy::Severity::Error);
    let spec = match (spec, first_error) {
        (Some(spec), None) => spec,
        (_, Some(error)) => {
            return Err(unprocessable(format!(
                "the .ferry/deploy.yml of release {number} of {service} has errors ({}: {}); fix it and make a new release",
                error.span.start, error.message
            )));
        }
        (None, None) => {
            return Err(unprocessable(format!("the .ferry/deploy.yml of release {number} of {service} is empty")));
        }
    };
    let Some(env) = spec.environment(environment) else {
        let names: Vec<&str> = spec.environments.iter().map(|env| env.name.as_str()).collect();
        return Err(unprocessable(format!(
            "the .ferry/deploy.yml of release {number} declares no environment {environment} (it declares: {})",
            names.join(", ")
        )));
    };
    let Some(declared) = spec.service(service) else {
        return Err(unprocessable(format!("the .ferry/deploy.yml of release {number} declares no service {service}")));
    };
    if declared.deploy_to(environment).is_none() {
        return Err(unprocessable(format!(
            "service {service} does not deploy to {environment} in the .ferry/deploy.yml of release {number}; \
             add `deploy: {{ {environment}: {{ port: … }} }}` to it"
        )));
    }
    for file in &release.files {
        if state.blobs.size(&file.sha256).await.is_none() {
            return Err(unprocessable(format!(
                "file {} (blob {}) of release {number} of {service} is missing from the server's blob store; \
                 make a new release",
                file.path, file.sha256
            )));
        }
    }
    let release_spec =
        declared.release_spec(number, release.files.clone(), &std::collections::BTreeMap::new(), Vec::new());
    let unit = spec.unit(&project.name, service, environment, Some(release_spec.clone()));
    let order = spec.order(0, service, environment, release_spec, false);
    let (Some(unit), Some(order)) = (unit, order) else {
        return Err(unprocessable(format!("service {service} does not deploy to {environment}")));
    };
    // The branch of the run that built it; a release made from files, the project's branch.
    let branch = match release.run_id {
        Some(run_id) => {
            let run = state.store.runs().get(run_id).await?;
            run.git_ref.strip_prefix("refs/heads/").map(str::to_owned)
        }
        None => Some(project.branch.clone()),
    };
    let promotes_to = spec
        .environments_after(environment)
        .into_iter()
        .filter(|next| declared.deploy_to(&next.name).is_some())
        .map(|next| next.name.clone())
        .collect();
    Ok(Resolved {
        service: service.to_owned(),
        environment: environment.to_owned(),
        release: number,
        commit_sha: release.commit_sha.clone(),
        run_id: release.run_id,
        author: release.author.clone().unwrap_or_default(),
        branch,
        commits: release
            .commits
            .iter()
            .map(|commit| format!("{} {}", commit.sha.get(..7).unwrap_or(&commit.sha), commit.message))
            .collect(),
        target: Target {
            unit,
            strategy: order.strategy,
            analysis: order.analysis,
            verify_ms: order.verify_ms,
            rules: EnvironmentRules::of(env),
            promotes_to,
            slos: declared.slos.clone(),
        },
    })
}

/// The environments a new release of `service` goes to by itself (`auto-deploy: true`), as
/// the release's deploy.yml says.
pub(crate) fn auto_deploy_environments(deploy_spec: &str, service: &str) -> Vec<String> {
    let (Some(spec), _) = ferry_deploy::compile(deploy_spec) else { return Vec::new() };
    let Some(declared) = spec.service(service) else { return Vec::new() };
    spec.auto_deploy_environments()
        .into_iter()
        .filter(|env| declared.deploy_to(&env.name).is_some())
        .map(|env| env.name.clone())
        .collect()
}
