//! `ferry run`'s cache backend: archives in a folder of the cache folder, one token for the
//! whole run, one scope (`local`). An entry is `<root>/<sha256(version)>/<sha256(key)>.tar`
//! with `….json` beside it (`{"key", "version", "size", "created_at"}`), written after the
//! archive is in place, so an entry without its description does not exist.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{BoxFuture, CacheBackend, Caller, Found, RuntimeError, same};

/// The one scope of a local run.
const SCOPE: &str = "local";

/// An entry's description.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    key: String,
    version: String,
    size: u64,
    created_at: i64,
}

/// Archives under `root`, opened by one token.
#[derive(Debug)]
pub(crate) struct FolderBackend {
    root: PathBuf,
    token: String,
}

impl FolderBackend {
    pub(crate) fn new(root: PathBuf, token: String) -> FolderBackend {
        FolderBackend { root, token }
    }

    fn version_dir(&self, version: &str) -> PathBuf {
        self.root.join(hex::encode(Sha256::digest(version.as_bytes())))
    }

    fn entry_paths(&self, key: &str, version: &str) -> (PathBuf, PathBuf) {
        let name = hex::encode(Sha256::digest(key.as_bytes()));
        let dir = self.version_dir(version);
        (dir.join(format!("{name}.tar")), dir.join(format!("{name}.json")))
    }

    fn found(&self, meta: Meta) -> Found {
        let (archive, _) = self.entry_paths(&meta.key, &meta.version);
        Found {
            key: meta.key,
            version: meta.version,
            scope: SCOPE.to_owned(),
            archive,
            size: meta.size,
            created_at: meta.created_at,
        }
    }

    /// Every entry of `version`, newest first.
    fn entries(&self, version: &str) -> Vec<Meta> {
        let mut metas: Vec<Meta> = std::fs::read_dir(self.version_dir(version))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().extension().is_some_and(|extension| extension == "json"))
            .filter_map(|entry| serde_json::from_slice::<Meta>(&std::fs::read(entry.path()).ok()?).ok())
            .filter(|meta| meta.version == version)
            .collect();
        metas.sort_by_key(|meta| std::cmp::Reverse(meta.created_at));
        metas
    }
}

impl CacheBackend for FolderBackend {
    fn authorize<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Caller, RuntimeError>> {
        Box::pin(async move {
            if !same(&self.token, token) {
                return Err(RuntimeError::Unauthenticated(
                    "this is not the run's ACTIONS_RUNTIME_TOKEN; the cache service serves only its own run".to_owned(),
                ));
            }
            Ok(Caller {
                name: "ferry run".to_owned(),
                project_id: 0,
                run_id: None,
                job_id: None,
                save_scope: SCOPE.to_owned(),
                readable: vec![SCOPE.to_owned()],
            })
        })
    }

    fn lookup<'a>(
        &'a self,
        _caller: &'a Caller,
        keys: &'a [String],
        version: &'a str,
    ) -> BoxFuture<'a, Result<Option<Found>, RuntimeError>> {
        Box::pin(async move {
            let entries = self.entries(version);
            let matched = keys.iter().find_map(|prefix| {
                let position = entries
                    .iter()
                    .position(|meta| meta.key == *prefix)
                    .or_else(|| entries.iter().position(|meta| meta.key.starts_with(prefix.as_str())))?;
                Some(position)
            });
            Ok(matched.and_then(|position| entries.into_iter().nth(position)).map(|meta| self.found(meta)))
        })
    }

    fn exists<'a>(
        &'a self,
        _caller: &'a Caller,
        key: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<bool, RuntimeError>> {
        Box::pin(async move {
            let (_, meta) = self.entry_paths(key, version);
            Ok(tokio::fs::try_exists(&meta).await.unwrap_or(false))
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
            let (target, meta_path) = self.entry_paths(key, version);
            if tokio::fs::try_exists(&meta_path).await.unwrap_or(false) {
                return Err(super::legacy::taken(caller, key));
            }
            let io = |error: std::io::Error| RuntimeError::Internal(format!("saving cache entry {key}: {error}"));
            let dir = self.version_dir(version);
            tokio::fs::create_dir_all(&dir).await.map_err(io)?;
            tokio::fs::rename(archive, &target).await.map_err(io)?;
            let created_at = crate::now_ms();
            let meta = Meta { key: key.to_owned(), version: version.to_owned(), size, created_at };
            let json = serde_json::to_vec(&meta).expect("a description is JSON");
            let temp = dir.join(format!(".{}.json", super::new_ticket()));
            tokio::fs::write(&temp, json).await.map_err(io)?;
            tokio::fs::rename(&temp, &meta_path).await.map_err(io)?;
            Ok(created_at)
        })
    }
}
