//! What a deployment runs and where it may go, resolved once when it is created from the
//! release and its deploy.yml, and kept in the deployment's row (`target`), so that
//! everything after (gates, desired state, promotion) is computed from the store alone.
//!
//! [`resolve`] is the one seam to the releases (`store.releases()`) and to the deploy.yml
//! compiler (`ferry_deploy::compile`): it turns a service, an environment and a release
//! number into a [`Resolved`] deployment.

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
}

/// A deployment ready to be submitted: the release and everything its deploy.yml says about
/// the service in the environment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resolved {
    pub(crate) service: String,
    pub(crate) environment: String,
    pub(crate) release: i64,
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
/// `project`.
///
/// # Errors
/// 404 when there is no such release, 422 when its deploy.yml does not declare the service or
/// the environment, or its files are missing.
pub(crate) async fn resolve(
    _state: &AppState,
    project: &Project,
    service: &str,
    environment: &str,
    release: Option<i64>,
) -> Result<Resolved, ApiError> {
    // The releases and the deploy.yml compiler arrive from their own branches; until they are
    // merged here no release can be resolved.
    let what = release.map_or_else(|| "no release".to_owned(), |number| format!("release {number}"));
    Err(ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        format!("{what} of service {service} of project {} to deploy to {environment}: this server has no releases yet", project.name),
    ))
}
