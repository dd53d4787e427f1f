//! The agent's [`CacheRemote`]: `actions/cache` entries of the job's project on the server,
//! so every runner of a project shares them. An entry is sent as the files of its folder in
//! this runner's cache folder (blobs the server lacks, then the list), and fetched back the
//! same way into a folder beside it that is renamed into place, so an entry there is always
//! whole.

use std::path::{Path, PathBuf};

use ferry_client::Client;
use ferry_proto::artifacts::{CacheEntryView, CacheLookup};
use tracing::info;

use super::artifacts::{download_files, upload_tree};
use crate::job::{BoxFuture, CacheRemote};

/// The server's cache entries, for the job `job_id`.
#[derive(Debug)]
pub(super) struct ServerCache {
    pub client: Client,
    pub job_id: i64,
}

impl CacheRemote for ServerCache {
    fn fetch<'a>(
        &'a self,
        key: &'a str,
        restore_keys: &'a [String],
        dest: &'a (dyn Fn(&str) -> PathBuf + Send + Sync),
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move {
            let lookup = CacheLookup { key: key.to_owned(), restore_keys: restore_keys.to_vec() };
            let found = self
                .client
                .lookup_cache(self.job_id, &lookup)
                .await
                .map_err(|error| format!("looking up the cache on the server: {error}"))?;
            let Some(entry) = found else { return Ok(None) };
            let dest = dest(&entry.key);
            if tokio::fs::try_exists(&dest).await.unwrap_or(false) {
                return Ok(Some(entry.key));
            }
            let name = dest.file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
            let partial = dest.with_file_name(format!(".fetching-{}-{name}", self.job_id));
            let fail = |error: &dyn std::fmt::Display| format!("fetching cache entry `{}`: {error}", entry.key);
            let _ = tokio::fs::remove_dir_all(&partial).await;
            if let Err(error) = download_files(&self.client, &entry.files, &partial).await {
                let _ = tokio::fs::remove_dir_all(&partial).await;
                return Err(fail(&error));
            }
            // Another slot may have fetched it meanwhile; then its copy stays.
            if tokio::fs::rename(&partial, &dest).await.is_err() {
                let _ = tokio::fs::remove_dir_all(&partial).await;
                if !tokio::fs::try_exists(&dest).await.unwrap_or(false) {
                    return Err(fail(&"cannot move it into the cache folder"));
                }
            }
            info!(job.id = self.job_id, cache.key = %entry.key, "fetched cache entry {} ({} file(s))", entry.key, entry.files.len());
            Ok(Some(entry.key))
        })
    }

    fn store<'a>(&'a self, key: &'a str, entry: &'a Path) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let fail = |error: &dyn std::fmt::Display| format!("storing cache entry `{key}` on the server: {error}");
            let (files, n_sent) = upload_tree(&self.client, entry).await.map_err(|error| fail(&error))?;
            let view = CacheEntryView { key: key.to_owned(), files };
            match self.client.save_cache(self.job_id, &view).await {
                Ok(_) => {
                    info!(job.id = self.job_id, cache.key = %key, n_blobs = n_sent, "stored cache entry {key} ({n_sent} new blob(s))");
                    Ok(())
                }
                // Another runner stored it first; entries are immutable.
                Err(error) if error.status() == Some(409) => Ok(()),
                Err(error) => Err(fail(&error)),
            }
        })
    }
}
