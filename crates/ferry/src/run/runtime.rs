//! The runtime services of `ferry run`: the cache service `@actions/cache` speaks, served on
//! loopback for the run's duration over the run's cache folder (`ferry_server::LocalService`),
//! so JavaScript actions and steps save and restore through it as they do on GitHub. Its
//! token opens it for this run only and is masked in the run's output. Containers (a
//! `container:` job's actions, Docker actions) cannot reach the host's loopback: when a
//! container engine answers, the service is also served on the engine's bridge gateway, the
//! host's address on the containers' side, and they are given that address.
//!
//! [`prepare_engine`] also removes, when the run starts, what killed `ferry run` processes
//! left on the engine in the name of any work slot nobody holds now.

use std::net::IpAddr;
use std::path::Path;

use ferry_proto::runtime::RuntimeAccess;
use ferry_runner::mask::Masker;
use ferry_server::LocalService;

/// The run's service and what its steps are given.
pub(super) struct Runtime {
    /// Serves while kept.
    _service: LocalService,
    pub access: RuntimeAccess,
    /// The service's URL for containers, when it serves them.
    pub in_containers: Option<String>,
}

/// Connects to the container engine when one answers (`DOCKER_HOST`, or the usual socket),
/// removes what killed runs left in the work slots under `work`, and returns the engine's
/// bridge gateway. Without an engine: `None`, and nothing to do (a job that needs one says
/// so when it starts).
pub(super) async fn prepare_engine(work: &Path) -> Option<IpAddr> {
    let docker_host = std::env::var("DOCKER_HOST").ok();
    let engine = match ferry_runner::docker::Engine::connect(docker_host.as_deref()).await {
        Ok(engine) => engine,
        Err(error) => {
            tracing::debug!(%error, "no container engine at the run's start");
            return None;
        }
    };
    match ferry_runner::docker::remove_left_in(&engine, work).await {
        Ok((0, 0)) => {}
        Ok((n_containers, n_networks)) => tracing::info!(
            n_containers,
            n_networks,
            "removed {n_containers} containers and {n_networks} networks that killed runs left in {}",
            work.display()
        ),
        Err(error) => tracing::warn!(%error, "removing what killed runs left in {}: {error}", work.display()),
    }
    engine.bridge_gateway().await
}

/// The run's service, also on `gateway` for containers, or `None` without a cache folder
/// (or when the service cannot start: a warning, and steps get no runtime variables, as
/// caches are optional).
pub(super) async fn start(
    cache: Option<&Path>,
    gateway: Option<IpAddr>,
    masker: &std::sync::RwLock<Masker>,
) -> Option<Runtime> {
    let cache = cache?;
    let started = match LocalService::start_on(cache, gateway).await {
        // The bridge may be gone or not this host's: loopback still serves the host's steps.
        Err(error) if gateway.is_some() => {
            tracing::warn!(%error, "the cache service cannot listen on the container engine's bridge: {error}; actions in containers run without it");
            LocalService::start(cache).await
        }
        started => started,
    };
    let service = match started {
        Ok(service) => service,
        Err(error) => {
            tracing::warn!(%error, "the cache service for actions does not start in {}: {error}; steps run without it", cache.display());
            return None;
        }
    };
    if let Ok(mut masker) = masker.write() {
        masker.add(service.token());
    }
    let access = RuntimeAccess { url: service.url().to_owned(), token: service.token().to_owned() };
    let in_containers = service.container_url().map(str::to_owned);
    Some(Runtime { _service: service, access, in_containers })
}
