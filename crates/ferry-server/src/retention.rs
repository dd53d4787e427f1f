//! Artifact and cache retention: the supervisor's sweep deletes artifacts and cache entries
//! past their `expires_at` (a cache entry's moves on each restore), then the blobs no
//! remaining artifact's or entry's manifest references, nor any release (releases keep
//! their files for as long as they exist).
//!
//! A blob younger than [`BLOB_GRACE`] stays even when nothing references it: a runner uploads
//! an artifact's blobs before its manifest, and the sweep must not take them in between.

use std::collections::HashSet;
use std::time::Duration;

use ferry_store::StoreError;
use tracing::{info, warn};

use crate::api::artifacts::{manifest_at, read_manifest};
use crate::hooks::DELIVERY_MEMORY;
use crate::{AppState, now_ms};

/// How old an unreferenced blob must be before the sweep removes it.
pub(crate) const BLOB_GRACE: Duration = Duration::from_secs(60 * 60);

/// Deletes expired artifacts and cache entries and the blobs left unreferenced.
pub(crate) async fn sweep(state: &AppState) -> Result<(), StoreError> {
    let now = now_ms();
    for artifact in state.store.artifacts().expired(now).await? {
        match state.store.artifacts().delete(artifact.id).await {
            Ok(()) | Err(StoreError::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
        info!(run.id = artifact.run_id, artifact = %artifact.name, "artifact {} of run {} expired", artifact.name, artifact.run_id);
    }
    for entry in state.store.cache().expired(now).await? {
        match state.store.cache().delete(entry.id).await {
            Ok(()) | Err(StoreError::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
        info!(project.id = entry.project_id, cache.key = %entry.key, "cache entry {} of project {} expired", entry.key, entry.project_id);
    }
    let forgotten = now.saturating_sub(i64::try_from(DELIVERY_MEMORY.as_millis()).unwrap_or(i64::MAX));
    state.store.deliveries().sweep(forgotten).await?;
    let mut live = HashSet::new();
    for artifact in state.store.artifacts().all().await? {
        // A manifest that cannot be read leaves its blobs unknown: remove nothing this time.
        let Ok(manifest) = read_manifest(state, &artifact).await else { return Ok(()) };
        live.extend(manifest.files.into_iter().map(|file| file.sha256));
        live.insert(artifact.digest);
    }
    for entry in state.store.cache().all().await? {
        // An entry of the runtime service is one archive, its own blob.
        if entry.version != crate::api::cache::BUILTIN_VERSION {
            live.insert(entry.digest);
            continue;
        }
        let Ok(manifest) = manifest_at(state, &entry.digest).await else { return Ok(()) };
        live.extend(manifest.files.into_iter().map(|file| file.sha256));
        live.insert(entry.digest);
    }
    live.extend(state.store.releases().all_files().await?.into_iter().map(|file| file.sha256));
    let blobs = state.blobs.clone();
    match tokio::task::spawn_blocking(move || blobs.remove_unreferenced(&live, BLOB_GRACE)).await {
        Ok(Ok(removed)) if !removed.is_empty() => {
            info!(n_blobs = removed.len(), "removed {} blob(s) no artifact or cache entry references", removed.len());
        }
        Ok(Ok(_)) => {}
        Ok(Err(error)) => warn!(%error, "removing unreferenced blobs failed: {error}"),
        Err(error) => warn!(%error, "the blob sweep panicked: {error}"),
    }
    Ok(())
}
