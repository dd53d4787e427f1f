//! The blob store: content-addressed files under `<data_dir>/blobs/sha256/<2 hex>/<64 hex>`,
//! the bytes of artifacts and of their manifests.
//!
//! A blob is written to a temporary file beside its final name, its digest checked while the
//! bytes stream in, fsynced and then renamed, so a blob that exists is whole and holds what
//! its name says; writing one that exists reads the bytes (to check them) and keeps the file.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// The largest blob the server takes.
pub(crate) const MAX_BLOB_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// Why a blob was not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BlobError {
    #[error("the body's SHA-256 is {actual}, not {expected}")]
    Mismatch { expected: String, actual: String },
    #[error("the body is over {} bytes", MAX_BLOB_BYTES)]
    TooLarge,
    /// The body broke off (the client went away).
    #[error("reading the body: {0}")]
    Body(String),
    #[error("writing the blob: {0}")]
    Io(#[from] std::io::Error),
}

/// The blob folder of a data directory.
#[derive(Debug, Clone)]
pub(crate) struct Blobs {
    /// `<data_dir>/blobs/sha256`.
    root: PathBuf,
}

impl Blobs {
    pub(crate) fn new(data_dir: &Path) -> Blobs {
        Blobs { root: data_dir.join("blobs").join("sha256") }
    }

    /// Where the blob `digest` (checked by `ferry_proto::artifacts::is_digest`) lives.
    pub(crate) fn path(&self, digest: &str) -> PathBuf {
        self.root.join(&digest[..2]).join(digest)
    }

    /// The blob's size, if the store has it.
    pub(crate) async fn size(&self, digest: &str) -> Option<u64> {
        tokio::fs::metadata(self.path(digest)).await.ok().filter(std::fs::Metadata::is_file).map(|meta| meta.len())
    }

    /// Streams `body` into the blob `digest`; nothing is kept unless all of it arrived, within
    /// [`MAX_BLOB_BYTES`], with that digest.
    pub(crate) async fn write<E: std::fmt::Display>(
        &self,
        digest: &str,
        mut body: impl Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    ) -> Result<u64, BlobError> {
        let final_path = self.path(digest);
        let exists = tokio::fs::try_exists(&final_path).await.unwrap_or(false);
        let dir = final_path.parent().expect("a blob path has a folder");
        let mut temp = None;
        if !exists {
            tokio::fs::create_dir_all(dir).await?;
            let path = dir.join(format!(".tmp-{}", random_suffix()));
            temp = Some((tokio::fs::File::create(&path).await?, path));
        }
        let res = async {
            let mut hasher = Sha256::new();
            let mut n_bytes = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|error| BlobError::Body(error.to_string()))?;
                n_bytes += chunk.len() as u64;
                if n_bytes > MAX_BLOB_BYTES {
                    return Err(BlobError::TooLarge);
                }
                hasher.update(&chunk);
                if let Some((file, _)) = &mut temp {
                    file.write_all(&chunk).await?;
                }
            }
            let actual = hex::encode(hasher.finalize());
            if actual != digest {
                return Err(BlobError::Mismatch { expected: digest.to_owned(), actual });
            }
            if let Some((file, path)) = &mut temp {
                file.sync_all().await?;
                tokio::fs::rename(&path, &final_path).await?;
            }
            Ok(n_bytes)
        }
        .await;
        if res.is_err()
            && let Some((_, path)) = &temp
        {
            let _ = tokio::fs::remove_file(path).await;
        }
        res
    }

    /// Stores `bytes` (a manifest) and answers its digest.
    pub(crate) async fn write_bytes(&self, bytes: Vec<u8>) -> Result<String, BlobError> {
        let digest = hex::encode(Sha256::digest(&bytes));
        let chunk = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(bytes))]);
        self.write(&digest, chunk).await?;
        Ok(digest)
    }

    /// Takes the whole file at `path` (on the data directory's file system) as a blob: hashes
    /// it, then renames it into place, or removes it when the blob exists; its digest.
    pub(crate) async fn adopt(&self, path: &Path) -> Result<String, BlobError> {
        let source = path.to_path_buf();
        let digest = tokio::task::spawn_blocking(move || {
            let mut file = std::fs::File::open(&source)?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 1024 * 1024];
            loop {
                let n = std::io::Read::read(&mut file, &mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            Ok::<_, std::io::Error>(hex::encode(hasher.finalize()))
        })
        .await
        .map_err(|error| BlobError::Io(std::io::Error::other(error.to_string())))??;
        let final_path = self.path(&digest);
        if tokio::fs::try_exists(&final_path).await.unwrap_or(false) {
            tokio::fs::remove_file(path).await?;
        } else {
            tokio::fs::create_dir_all(final_path.parent().expect("a blob path has a folder")).await?;
            tokio::fs::File::open(path).await?.sync_all().await?;
            tokio::fs::rename(path, &final_path).await?;
        }
        Ok(digest)
    }

    /// Deletes the blobs (and temporary files) not in `live` that are older than `grace`, so a
    /// blob a runner uploaded for a manifest it has yet to send stays; the digests removed.
    pub(crate) fn remove_unreferenced(
        &self,
        live: &std::collections::HashSet<String>,
        grace: Duration,
    ) -> std::io::Result<Vec<String>> {
        let mut removed = Vec::new();
        let cutoff = SystemTime::now().checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
        let dirs = match std::fs::read_dir(&self.root) {
            Ok(dirs) => dirs,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
            Err(error) => return Err(error),
        };
        for dir in dirs {
            for entry in std::fs::read_dir(dir?.path())? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if live.contains(&name) {
                    continue;
                }
                let modified = entry.metadata()?.modified()?;
                if modified <= cutoff {
                    std::fs::remove_file(entry.path())?;
                    removed.push(name);
                }
            }
        }
        Ok(removed)
    }
}

fn random_suffix() -> String {
    hex::encode(crate::data_dir::random_bytes::<8>())
}
