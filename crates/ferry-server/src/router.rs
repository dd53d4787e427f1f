//! Every route, the one place to see what the server answers and who may call it: each row
//! of [`routes`] names its [`Access`], and [`router`] puts `auth::guard` with that access in
//! front of the row's handler, so the table is the role check. The route sweep
//! (`tests/it/access.rs`) calls every row without a token, with too small a role and with
//! another project's token.
//!
//! | access | means |
//! |---|---|
//! | `Public` | anyone (probes, metrics); a webhook is checked against its project's secret by its handler |
//! | `Token(role, reach)` | a token (or the UI's session) with at least `role` whose scope reaches what the route names: `Any` (the answer is limited to the token's projects), `Project` (`{name}`), `Run` (`{id}`'s project; both answer 404 for another project), `AllProjects` (403 for a token scoped to projects) |
//! | `Agent` | an agent token (`ferrya_…`) that is not revoked; the agent protocol's routes answer about that agent only |
//! | `Runner` | a runner token (`ferryr_…`) that is not revoked; a route naming a job answers 409 unless the runner holds it |
//! | `Runtime` | a job's `ACTIONS_RUNTIME_TOKEN` (`ferryj_…`), valid while that job runs under the claim it was issued for; checked by the handler's extractor, as `ferry run`'s copy of the service checks its own (`runtime.rs`) |
//! | `Signed` | a signed URL's ticket in the query (`sig=`), which a lookup or reservation of the same job answered; no token, as the toolkit sends none there |
//!
//! The web UI's pages (`/`, `/login`, `/ui/…`) are merged from `ui::router`; see `ui.rs`.
//! The OpenAPI check reads the same table, so it describes every route and nothing else.

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::routing::{MethodFilter, MethodRouter, on};
use ferry_store::Role;

use crate::api::{
    ApiError, agents, alertmanager, approvals, artifacts, cache, deployments, dora, projects, releases, runner,
    runners, runs, secrets, slos, tokens,
};
use crate::auth::{Guard, guard};
use crate::runtime::{blob, legacy, twirp};
use crate::{AppState, hooks, metrics, openapi, probes, prometheus, remote_write, rules, scrape};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// A token with at least this role, whose scope reaches what the route names.
    Token(Role, Reach),
    /// A runner, by its runner token.
    Runner,
    /// An agent, by its agent token.
    Agent,
    /// A job in progress, by its runtime token (`ACTIONS_RUNTIME_TOKEN`).
    Runtime,
    /// Whoever holds a signed URL the runtime service answered (its ticket in the query).
    Signed,
}

/// What a route names, which a token scoped to projects must reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// No one project: the handler limits its answer to the token's projects.
    Any,
    /// The project `{name}`.
    Project,
    /// The run `{id}`, of one project.
    Run,
    /// The deployment `{id}`, of one project.
    Deployment,
    /// The incident `{id}`, of one project.
    Incident,
    /// Everything: only a token for all projects may call it.
    AllProjects,
}

/// One row of the route table: a method, a path, who may call it and the handler.
pub(crate) struct Route {
    pub(crate) method: Method,
    pub(crate) path: &'static str,
    pub(crate) access: Access,
    endpoint: MethodRouter<AppState>,
}

fn route<H: Handler<T, AppState>, T: 'static>(method: Method, path: &'static str, access: Access, handler: H) -> Route {
    let filter = MethodFilter::try_from(method.clone()).expect("the table only uses standard methods");
    Route { method, path, access, endpoint: on(filter, handler) }
}

impl Route {
    /// Takes bodies up to `bytes` instead of axum's default 2 MiB.
    fn body_limit(mut self, bytes: usize) -> Route {
        self.endpoint = self.endpoint.layer(axum::extract::DefaultBodyLimit::max(bytes));
        self
    }
}

fn viewer(reach: Reach) -> Access {
    Access::Token(Role::Viewer, reach)
}

fn developer(reach: Reach) -> Access {
    Access::Token(Role::Developer, reach)
}

fn admin() -> Access {
    Access::Token(Role::Admin, Reach::AllProjects)
}

/// Every route the server answers and who may call it; the rest answer 404 or 405.
pub(crate) fn routes() -> Vec<Route> {
    use Access::{Agent, Public, Runner, Runtime, Signed};
    use Method as M;
    use Reach::{AllProjects, Any, Deployment, Incident, Project, Run};
    vec![
        route(M::GET, "/healthz", Public, probes::healthz),
        route(M::GET, "/readyz", Public, probes::readyz),
        route(M::GET, "/metrics", Public, metrics::get),
        route(M::POST, "/hooks/{forge}/{project}", Public, hooks::receive),
        route(M::GET, "/api/v1/openapi.json", viewer(Any), openapi::get),
        route(M::GET, "/api/v1/tokens", admin(), tokens::list),
        route(M::POST, "/api/v1/tokens", admin(), tokens::create),
        route(M::DELETE, "/api/v1/tokens/{id}", admin(), tokens::revoke),
        route(M::POST, "/api/v1/login-links", viewer(Any), tokens::login_link),
        route(M::GET, "/api/v1/projects", viewer(Any), projects::list),
        route(M::POST, "/api/v1/projects", developer(AllProjects), projects::create),
        route(M::GET, "/api/v1/projects/{name}", viewer(Project), projects::get),
        route(M::PATCH, "/api/v1/projects/{name}", developer(Project), approvals::update_project),
        route(M::GET, "/api/v1/projects/{name}/secrets", viewer(Project), secrets::list_secrets),
        route(M::PUT, "/api/v1/projects/{name}/secrets/{key}", developer(Project), secrets::put_secret),
        route(M::DELETE, "/api/v1/projects/{name}/secrets/{key}", developer(Project), secrets::delete_secret),
        route(M::GET, "/api/v1/projects/{name}/runs", viewer(Project), runs::list),
        route(M::POST, "/api/v1/projects/{name}/trigger", developer(Project), runs::trigger),
        route(M::GET, "/api/v1/runs/{id}", viewer(Run), runs::get),
        route(M::POST, "/api/v1/runs/{id}/cancel", developer(Run), runs::cancel),
        route(M::POST, "/api/v1/runs/{id}/rerun", developer(Run), runs::rerun),
        route(M::POST, "/api/v1/runs/{id}/approve", developer(Run), approvals::approve),
        route(M::GET, "/api/v1/runs/{id}/logs", viewer(Run), runs::logs),
        route(M::POST, "/api/v1/runners", admin(), runner::register),
        route(M::GET, "/api/v1/runners", admin(), runners::list),
        route(M::DELETE, "/api/v1/runners/{id}", admin(), runners::revoke),
        route(M::POST, "/api/v1/runner/claim", Runner, runner::claim),
        route(M::POST, "/api/v1/runner/jobs/{id}/events", Runner, runner::events),
        route(M::POST, "/api/v1/runner/jobs/{id}/heartbeat", Runner, runner::heartbeat),
        route(M::POST, "/api/v1/runner/jobs/{id}/complete", Runner, runner::complete),
        route(M::GET, "/api/v1/runs/{id}/artifacts", viewer(Run), artifacts::list),
        route(M::GET, "/api/v1/runs/{id}/artifacts/{name}", viewer(Run), artifacts::download),
        route(M::POST, "/api/v1/runner/blobs/missing", Runner, artifacts::missing_blobs),
        route(M::PUT, "/api/v1/runner/blobs/{sha256}", Runner, artifacts::put_blob),
        route(M::GET, "/api/v1/runner/blobs/{sha256}", Runner, artifacts::get_blob),
        route(M::POST, "/api/v1/runner/jobs/{id}/artifacts", Runner, artifacts::create),
        route(M::GET, "/api/v1/runner/jobs/{id}/artifacts", Runner, artifacts::list_for_job),
        route(M::POST, "/api/v1/runner/jobs/{id}/cache/lookup", Runner, cache::lookup),
        route(M::POST, "/api/v1/runner/jobs/{id}/cache", Runner, cache::save),
        route(M::GET, "/api/v1/projects/{name}/vars", viewer(Project), secrets::list_vars),
        route(M::GET, "/api/v1/projects/{name}/vars/{key}", viewer(Project), secrets::get_var),
        route(M::PUT, "/api/v1/projects/{name}/vars/{key}", developer(Project), secrets::put_var),
        route(M::DELETE, "/api/v1/projects/{name}/vars/{key}", developer(Project), secrets::delete_var),
        // Continuous delivery: agents, their protocol, deployments.
        route(M::POST, "/api/v1/agents", admin(), agents::register),
        route(M::GET, "/api/v1/agents", admin(), agents::list),
        route(M::DELETE, "/api/v1/agents/{id}", admin(), agents::revoke),
        route(M::POST, "/api/v1/agent/hello", Agent, agents::hello),
        route(M::GET, "/api/v1/agent/desired", Agent, agents::desired),
        route(M::POST, "/api/v1/agent/report", Agent, agents::report),
        route(M::POST, "/api/v1/agent/logs", Agent, agents::logs),
        route(M::GET, "/api/v1/agent/blobs/{sha256}", Agent, agents::blob),
        route(M::POST, "/api/v1/agent/metrics", Agent, remote_write::agent_write).body_limit(remote_write::MAX_BODY),
        route(M::POST, "/api/v1/projects/{name}/deployments", developer(Project), deployments::create),
        route(M::GET, "/api/v1/projects/{name}/deployments", viewer(Project), deployments::list),
        route(M::GET, "/api/v1/deployments/{id}", viewer(Deployment), deployments::get),
        route(M::GET, "/api/v1/deployments/{id}/events", viewer(Deployment), deployments::events),
        route(M::POST, "/api/v1/deployments/{id}/approve", developer(Deployment), deployments::approve),
        route(M::POST, "/api/v1/deployments/{id}/cancel", developer(Deployment), deployments::cancel),
        route(M::POST, "/api/v1/projects/{name}/rollback", developer(Project), deployments::rollback),
        route(M::GET, "/api/v1/projects/{name}/status", viewer(Project), deployments::status),
        route(M::GET, "/api/v1/projects/{name}/plan", viewer(Project), deployments::plan),
        route(
            M::GET,
            "/api/v1/projects/{name}/services/{service}/{environment}/logs",
            viewer(Project),
            deployments::logs,
        ),
        // Releases (issue 15): made from a run's artifact or from files a developer uploaded.
        route(M::GET, "/api/v1/projects/{name}/dora", viewer(Project), dora::get),
        route(M::POST, "/api/v1/projects/{name}/dora/events", developer(Project), dora::record),
        route(M::GET, "/api/v1/projects/{name}/incidents", viewer(Project), dora::list_incidents),
        route(M::GET, "/api/v1/projects/{name}/slos", viewer(Project), slos::list),
        route(M::POST, "/api/v1/projects/{name}/incidents", developer(Project), dora::open_incident),
        route(M::GET, "/api/v1/incidents/{id}", viewer(Incident), dora::get_incident),
        route(M::POST, "/api/v1/incidents/{id}/ack", developer(Incident), dora::ack_incident),
        route(M::POST, "/api/v1/incidents/{id}/resolve", developer(Incident), dora::resolve_incident),
        route(M::GET, "/api/v1/projects/{name}/releases", viewer(Project), releases::list),
        route(M::POST, "/api/v1/projects/{name}/releases", developer(Project), releases::create),
        route(M::GET, "/api/v1/projects/{name}/releases/{service}/{number}", viewer(Project), releases::get),
        route(M::POST, "/api/v1/projects/{name}/blobs/missing", developer(Project), releases::missing_blobs),
        route(M::PUT, "/api/v1/projects/{name}/blobs/{sha256}", developer(Project), releases::put_blob),
        // Metrics (issue 17): Prometheus' HTTP API and the OpenMetrics backfill; metrics are
        // not a project's, so only tokens for all projects reach them.
        route(M::GET, "/prometheus/api/v1/query", viewer(AllProjects), prometheus::query),
        route(M::POST, "/prometheus/api/v1/query", viewer(AllProjects), prometheus::post::query),
        route(M::GET, "/prometheus/api/v1/query_range", viewer(AllProjects), prometheus::query_range),
        route(M::POST, "/prometheus/api/v1/query_range", viewer(AllProjects), prometheus::post::query_range),
        route(M::GET, "/prometheus/api/v1/series", viewer(AllProjects), prometheus::series),
        route(M::POST, "/prometheus/api/v1/series", viewer(AllProjects), prometheus::post::series),
        route(M::GET, "/prometheus/api/v1/labels", viewer(AllProjects), prometheus::labels),
        route(M::GET, "/prometheus/api/v1/label/{name}/values", viewer(AllProjects), prometheus::label_values),
        route(M::GET, "/prometheus/api/v1/rules", viewer(AllProjects), rules::rules),
        route(M::GET, "/prometheus/api/v1/alerts", viewer(AllProjects), rules::alerts),
        route(M::POST, "/api/v1/metrics/import", admin(), prometheus::import).body_limit(prometheus::MAX_IMPORT),
        route(M::GET, "/prometheus/api/v1/targets", viewer(AllProjects), scrape::list),
        route(M::POST, "/prometheus/api/v1/write", admin(), remote_write::write).body_limit(remote_write::MAX_BODY),
        // Alert routing (issue 17): Alertmanager's API v2, so Prometheus and amtool reach Ferry.
        route(M::POST, "/alertmanager/api/v2/alerts", admin(), alertmanager::post_alerts),
        route(M::GET, "/alertmanager/api/v2/alerts", viewer(AllProjects), alertmanager::list_alerts),
        route(M::GET, "/alertmanager/api/v2/silences", viewer(AllProjects), alertmanager::list_silences),
        route(M::POST, "/alertmanager/api/v2/silences", developer(AllProjects), alertmanager::create_silence),
        route(M::GET, "/alertmanager/api/v2/silence/{silenceID}", viewer(AllProjects), alertmanager::get_silence),
        route(
            M::DELETE,
            "/alertmanager/api/v2/silence/{silenceID}",
            developer(AllProjects),
            alertmanager::expire_silence,
        ),
        route(M::GET, legacy::LOOKUP, Runtime, legacy::lookup),
        route(M::POST, legacy::RESERVE, Runtime, legacy::reserve),
        route(M::PATCH, legacy::CACHE, Runtime, legacy::upload_chunk),
        route(M::POST, legacy::CACHE, Runtime, legacy::commit),
        route(M::POST, twirp::CREATE, Runtime, twirp::create_cache_entry),
        route(M::POST, twirp::FINALIZE, Runtime, twirp::finalize_cache_entry_upload),
        route(M::POST, twirp::DOWNLOAD_URL, Runtime, twirp::get_cache_entry_download_url),
        route(M::PUT, blob::UPLOAD, Signed, blob::upload),
        route(M::GET, blob::ARCHIVE, Signed, blob::download),
    ]
}

pub(crate) fn router(state: AppState) -> Router {
    // Routing a path twice merges the methods, so each row can stand alone.
    let router = routes().into_iter().fold(Router::new(), |router, route| {
        let guarded = Guard { state: state.clone(), access: route.access };
        router.route(route.path, route.endpoint.layer(axum::middleware::from_fn_with_state(guarded, guard)))
    });
    router
        // The web UI's pages are not API routes, so they stay out of the table above.
        .merge(crate::ui::router())
        .fallback(async || ApiError::new(StatusCode::NOT_FOUND, "no such route"))
        .method_not_allowed_fallback(async || {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not take that method")
        })
        .with_state(state)
}
