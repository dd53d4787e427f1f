//! The runtime services of `ferry run`: the cache service `@actions/cache` speaks, served on
//! loopback for the run's duration over the run's cache folder (`ferry_server::LocalService`),
//! so JavaScript actions and steps save and restore through it as they do on GitHub. Its
//! token opens it for this run only and is masked in the run's output.

use std::path::Path;

use ferry_proto::runtime::RuntimeAccess;
use ferry_runner::mask::Masker;
use ferry_server::LocalService;

/// The run's service and what its steps are given, or `None` without a cache folder (or
/// when the service cannot start: a warning, and steps get no runtime variables, as caches
/// are optional).
pub(super) async fn start(
    cache: Option<&Path>,
    masker: &std::sync::RwLock<Masker>,
) -> Option<(LocalService, RuntimeAccess)> {
    let cache = cache?;
    match LocalService::start(cache).await {
        Ok(service) => {
            if let Ok(mut masker) = masker.write() {
                masker.add(service.token());
            }
            let access = RuntimeAccess { url: service.url().to_owned(), token: service.token().to_owned() };
            Some((service, access))
        }
        Err(error) => {
            tracing::warn!(%error, "the cache service for actions does not start in {}: {error}; steps run without it", cache.display());
            None
        }
    }
}
