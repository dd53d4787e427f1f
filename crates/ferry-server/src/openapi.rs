//! `GET /api/v1/openapi.json`: the OpenAPI document of every route, generated from the
//! handlers' `#[utoipa::path]` attributes and the body types' `ToSchema` derives.
//!
//! Every route of [`crate::router::routes`] is listed in [`ApiDoc`]'s `paths`; a test checks
//! that the document and the table name the same methods and paths.

use axum::Json;
use ferry_proto::names;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{
    agents, alertmanager, approvals, artifacts, cache, deployments, dora, projects, releases, runner, runners, runs,
    secrets, slos, tokens,
};
use crate::runtime::{blob, legacy, twirp};
use crate::{hooks, metrics, probes, prometheus, remote_write, rules, scrape};

#[derive(OpenApi)]
#[openapi(
    info(title = "Ferry", description = "Ferry's HTTP API: projects, their secrets and variables (the project's and each environment's), runs, releases, agents and deployments, DORA keys and incidents, SLOs and their error budgets, their logs and artifacts, metrics (Prometheus' query API under `/prometheus`), cache entries, API tokens, the runner protocol, the cache service jobs reach with their runtime token (GitHub's legacy and results-service protocols), forge webhooks and probes."),
    paths(
        probes::healthz,
        probes::readyz,
        metrics::get,
        hooks::receive,
        get,
        tokens::list,
        tokens::create,
        tokens::revoke,
        tokens::login_link,
        projects::list,
        projects::create,
        projects::get,
        approvals::update_project,
        secrets::list_secrets,
        secrets::put_secret,
        secrets::delete_secret,
        secrets::list_vars,
        secrets::get_var,
        secrets::put_var,
        secrets::delete_var,
        runs::list,
        runs::trigger,
        runs::get,
        runs::cancel,
        runs::rerun,
        approvals::approve,
        runs::logs,
        runner::register,
        runners::list,
        runners::revoke,
        runner::claim,
        runner::events,
        runner::heartbeat,
        runner::complete,
        artifacts::list,
        artifacts::download,
        artifacts::missing_blobs,
        artifacts::put_blob,
        artifacts::get_blob,
        artifacts::create,
        artifacts::list_for_job,
        releases::list,
        releases::create,
        releases::get,
        releases::missing_blobs,
        releases::put_blob,
        cache::lookup,
        cache::save,
        agents::register,
        agents::list,
        agents::revoke,
        agents::hello,
        agents::desired,
        agents::report,
        agents::logs,
        agents::blob,
        deployments::create,
        deployments::list,
        deployments::get,
        deployments::events,
        deployments::approve,
        deployments::cancel,
        deployments::rollback,
        deployments::status,
        deployments::plan,
        deployments::logs,
        dora::get,
        dora::record,
        dora::list_incidents,
        dora::open_incident,
        dora::resolve_incident,
        dora::ack_incident,
        dora::get_incident,
        slos::list,
        prometheus::query,
        prometheus::post::query,
        prometheus::query_range,
        prometheus::post::query_range,
        prometheus::series,
        prometheus::post::series,
        prometheus::labels,
        prometheus::label_values,
        remote_write::write,
        remote_write::agent_write,
        scrape::list,
        rules::rules,
        rules::alerts,
        alertmanager::post_alerts,
        alertmanager::list_alerts,
        alertmanager::list_silences,
        alertmanager::create_silence,
        alertmanager::get_silence,
        alertmanager::expire_silence,
        prometheus::import,
        legacy::lookup,
        legacy::reserve,
        legacy::upload_chunk,
        legacy::commit,
        twirp::create_cache_entry,
        twirp::finalize_cache_entry_upload,
        twirp::get_cache_entry_download_url,
        blob::upload,
        blob::download,
    ),
    // Schemas that only path parameters name, which utoipa does not collect by itself.
    components(schemas(names::Id, names::Name, names::Key, names::Digest, names::RunStateWord)),
    modifiers(&BearerScheme),
)]
struct ApiDoc;

/// Adds the `bearer` scheme: `Authorization: Bearer <token>`, a token from `/api/v1/tokens`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, document: &mut Document) {
        let components = document.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An API token, `ferry_<prefix>_<secret>`, made by an admin at `/api/v1/tokens`"))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        let runner = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("A runner token, `ferryr_<prefix>_<secret>`, from `POST /api/v1/runners`"))
            .build();
        components.add_security_scheme("runner", SecurityScheme::Http(runner));
        let agent = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An agent token, `ferrya_<prefix>_<secret>`, from `POST /api/v1/agents`"))
            .build();
        components.add_security_scheme("agent", SecurityScheme::Http(agent));
        let runtime = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "A job's ACTIONS_RUNTIME_TOKEN, `ferryj_…`, given to its steps; valid while the job runs",
            ))
            .build();
        components.add_security_scheme("runtime", SecurityScheme::Http(runtime));
    }
}

/// `GET /api/v1/openapi.json`.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "get_openapi",
    tag = "meta",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "This document", content_type = "application/json", body = Object),
        crate::api::Refusals,
    ),
)]
pub(crate) async fn get() -> Json<Document> {
    Json(ApiDoc::openapi())
}
