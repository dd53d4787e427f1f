//! The server's cache backend: a job's runtime token (`token.rs`) opens the entries of its
//! project that the built-in `actions/cache` would reach (`api/cache.rs`'s scopes: it saves
//! under its run's ref; it restores from its ref, a pull request's base branch, then the
//! default branch), archives kept as blobs (`blobs.rs`) and entries in the store with the
//! toolkit's version, for [`CACHE_RETENTION`](crate::api::cache::CACHE_RETENTION) after they
//! were saved or last restored.

use std::path::Path;

use ferry_model::Status;
use ferry_store::{NewCacheEntry, Store, StoreError};

use super::token::{TokenClaim, verify};
use super::{BoxFuture, CacheBackend, Caller, Found, RuntimeError};
use crate::api::cache::{retention_ms, scopes};
use crate::blobs::Blobs;
use crate::now_ms;

/// The store, the blobs and the key tokens are signed with.
pub(crate) struct StoreBackend {
    pub(crate) store: Store,
    pub(crate) blobs: Blobs,
    pub(crate) key: [u8; 32],
}

fn refused() -> RuntimeError {
    RuntimeError::Unauthenticated(
        "ACTIONS_RUNTIME_TOKEN is not the token of a job in progress; a job's token ends with the job".to_owned(),
    )
}

impl CacheBackend for StoreBackend {
    fn authorize<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, RuntimeError>> {
        Box::pin(async move {
            let TokenClaim { job_id, started_at } = verify(&self.key, token).ok_or_else(refused)?;
            let job = match self.store.jobs().get(job_id).await {
                Ok(job) => job,
                Err(StoreError::NotFound { .. }) => return Err(refused()),
                Err(error) => return Err(error.into()),
            };
            if job.status != Status::InProgress || job.started_at != Some(started_at) {
                return Err(refused());
            }
            let run = self.store.runs().get(job.run_id).await?;
            let project = self.store.projects().get(run.project_id).await?;
            let scopes = scopes(&run, &project.branch);
            Ok(Caller {
                name: format!("job {} of run {}", job.name, run.id),
                project_id: project.id,
                run_id: Some(run.id),
                job_id: Some(job.id),
                save_scope: scopes.own,
                readable: scopes.readable,
            })
        })
    }

    fn lookup<'a>(
        &'a self,
        caller: &'a Caller,
        keys: &'a [String],
        version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Found>, RuntimeError>> {
        Box::pin(async move {
            let now = now_ms();
            for scope in &caller.readable {
                let entries = self.store.cache().list_in_scope(caller.project_id, scope, version, now).await?;
                let matched = keys.iter().find_map(|prefix| {
                    entries
                        .iter()
                        .find(|entry| entry.key == *prefix)
                        .or_else(|| entries.iter().find(|entry| entry.key.starts_with(prefix.as_str())))
                });
                let Some(entry) = matched else { continue };
                // GitHub keeps an entry for 7 days after it was last used.
                self.store.cache().set_expiry(entry.id, Some(now.saturating_add(retention_ms()))).await?;
                return Ok(Some(Found {
                    key: entry.key.clone(),
                    version: entry.version.clone(),
                    scope: entry.scope.clone(),
                    archive: self.blobs.path(&entry.digest),
                    size: u64::try_from(entry.size).unwrap_or_default(),
                    created_at: entry.created_at,
                }));
            }
            Ok(None)
        })
    }

    fn exists<'a>(
        &'a self,
        caller: &'a Caller,
        key: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<bool, RuntimeError>> {
        Box::pin(async move {
            let entry = self.store.cache().get(caller.project_id, &caller.save_scope, key, version, now_ms()).await?;
            Ok(entry.is_some())
        })
    }

    fn save<'a>(
        &'a self,
        caller: &'a Caller,
        key: &'a str,
        version: &'a str,
        archive: &'a Path,
        size: u64,
    ) -> BoxFuture<'a, Result<i64, RuntimeError>> {
        Box::pin(async move {
            let digest = self.blobs.adopt(archive).await.map_err(|error| {
                RuntimeError::Internal(format!("keeping the archive of cache entry {key}: {error}"))
            })?;
            let now = now_ms();
            let entry = NewCacheEntry {
                project_id: caller.project_id,
                scope: &caller.save_scope,
                key,
                version,
                digest: &digest,
                size: i64::try_from(size).unwrap_or(i64::MAX),
                run_id: caller.run_id,
                job_id: caller.job_id,
                expires_at: Some(now.saturating_add(retention_ms())),
            };
            match self.store.cache().put(&entry, now).await {
                Ok(entry) => Ok(entry.id),
                Err(StoreError::Conflict(_)) => Err(super::legacy::taken(caller, key)),
                Err(error) => Err(error.into()),
            }
        })
    }
}
