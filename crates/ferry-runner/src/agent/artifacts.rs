//! The agent's artifact sync with the server. `actions/upload-artifact` and
//! `download-artifact` work on the run's artifacts folder on this runner
//! (`work_dir/artifacts/<run id>/<name>/…`); before a job runs, the run's artifacts that
//! folder lacks are fetched from the server (each file's digest checked), and after it, the
//! artifacts the job stored are uploaded: their blobs the server lacks, then the manifest.
//! So jobs of one run share artifacts across runners.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use ferry_client::{Client, ClientError};
use ferry_proto::artifacts::{ArtifactFile, ArtifactUpload};
use sha2::{Digest, Sha256};
use tracing::info;

use crate::job::StoredArtifact;

/// Why files could not be moved between this runner and the server.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransferError {
    #[error("the server lists the unsafe path {0:?}")]
    UnsafePath(String),
    #[error("{action} {}: {source}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("hashing the files stopped: {0}")]
    Hashing(#[source] tokio::task::JoinError),
    #[error("cannot move it into {}", dir.display())]
    Move { dir: PathBuf },
    #[error(transparent)]
    Server(#[from] ClientError),
}

/// Why the artifacts of a job could not be fetched or uploaded; the job fails with it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ArtifactError {
    #[error("listing the run's artifacts: {0}")]
    List(#[source] ClientError),
    #[error("fetching artifact `{name}`: {source}")]
    Fetch {
        name: String,
        #[source]
        source: TransferError,
    },
    #[error("uploading artifact `{name}`: {source}")]
    Upload {
        name: String,
        #[source]
        source: TransferError,
    },
}

/// Fetches the artifacts of the job's run that `artifacts` lacks; each is assembled in
/// `scratch` and renamed into place, so a folder there is always whole.
pub(super) async fn fetch(client: &Client, job_id: i64, artifacts: &Path, scratch: &Path) -> Result<(), ArtifactError> {
    let listed = client.job_artifacts(job_id).await.map_err(ArtifactError::List)?;
    for artifact in listed {
        let dest = artifacts.join(&artifact.name);
        if tokio::fs::try_exists(&dest).await.unwrap_or(false) {
            continue;
        }
        let fail = |source: TransferError| ArtifactError::Fetch { name: artifact.name.clone(), source };
        let partial = scratch.join(&artifact.name);
        download_files(client, &artifact.files, &partial).await.map_err(fail)?;
        tokio::fs::create_dir_all(artifacts)
            .await
            .map_err(|source| fail(TransferError::File { action: "creating", path: artifacts.to_owned(), source }))?;
        // Another slot may have fetched it meanwhile; then its copy stays.
        if tokio::fs::rename(&partial, &dest).await.is_err() && !tokio::fs::try_exists(&dest).await.unwrap_or(false) {
            return Err(fail(TransferError::Move { dir: artifacts.to_owned() }));
        }
        info!(job.id = job_id, artifact = %artifact.name, "fetched artifact {} ({} file(s))", artifact.name, artifact.files.len());
    }
    Ok(())
}

/// Uploads the artifacts `stored` of `artifacts` for the job: each one's blobs the server
/// lacks, then its manifest with the retention and overwrite its step asked for.
pub(super) async fn upload(
    client: &Client,
    job_id: i64,
    artifacts: &Path,
    stored: &[StoredArtifact],
) -> Result<(), ArtifactError> {
    for artifact in stored {
        let name = &artifact.name;
        let fail = |source: TransferError| ArtifactError::Upload { name: name.clone(), source };
        let (files, n_sent) = upload_tree(client, &artifacts.join(name)).await.map_err(fail)?;
        let upload = ArtifactUpload {
            name: name.clone(),
            files,
            retention_days: artifact.retention_days,
            overwrite: artifact.overwrite,
        };
        client.create_artifact(job_id, &upload).await.map_err(|error| fail(error.into()))?;
        info!(job.id = job_id, artifact = %name, n_blobs = n_sent, "uploaded artifact {name} ({n_sent} new blob(s))");
    }
    Ok(())
}

/// Downloads `files` into `dir` (made if missing), each one's digest checked and its mode
/// set; a path that is not relative and plain is refused.
pub(super) async fn download_files(client: &Client, files: &[ArtifactFile], dir: &Path) -> Result<(), TransferError> {
    let creating = |path: &Path| {
        let path = path.to_owned();
        move |source| TransferError::File { action: "creating", path, source }
    };
    for file in files {
        let relative = Path::new(&file.path);
        if !relative.components().all(|part| matches!(part, Component::Normal(_))) {
            return Err(TransferError::UnsafePath(file.path.clone()));
        }
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(creating(parent))?;
        }
        client.download_blob(&file.sha256, &path).await?;
        let mode = if file.mode & 0o777 == 0 { 0o644 } else { file.mode & 0o777 };
        tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .await
            .map_err(|source| TransferError::File { action: "setting the mode of", path: path.clone(), source })?;
    }
    tokio::fs::create_dir_all(dir).await.map_err(creating(dir))
}

/// Uploads the blobs of the files under `root` that the server lacks; the files, for a
/// manifest, and how many blobs were sent.
pub(super) async fn upload_tree(client: &Client, root: &Path) -> Result<(Vec<ArtifactFile>, usize), TransferError> {
    let root = root.to_path_buf();
    let files = {
        let root = root.clone();
        tokio::task::spawn_blocking(move || hash_tree(&root)).await.map_err(TransferError::Hashing)?
    }
    .map_err(|source| TransferError::File { action: "reading", path: root, source })?;
    let mut digests: Vec<String> = files.iter().map(|(file, _)| file.sha256.clone()).collect();
    digests.sort();
    digests.dedup();
    let missing: HashSet<String> = client.missing_blobs(&digests).await?.into_iter().collect();
    let mut sent = HashSet::new();
    for (file, path) in &files {
        if missing.contains(&file.sha256) && sent.insert(file.sha256.clone()) {
            client.upload_blob(&file.sha256, path).await?;
        }
    }
    Ok((files.into_iter().map(|(file, _)| file).collect(), sent.len()))
}

/// The regular files under `root` with their digests, sizes and modes, by path (as an
/// artifact lists them; `ferry release create --dir` packs a folder with it too).
///
/// # Errors
/// A folder or file cannot be read, or a path is not UTF-8.
pub fn hash_tree(root: &Path) -> std::io::Result<Vec<(ArtifactFile, PathBuf)>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    let mut files = Vec::with_capacity(found.len());
    for path in found {
        let relative = path.strip_prefix(root).expect("found under root");
        let relative = relative.to_str().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{} is not UTF-8", relative.display()))
        })?;
        let mut hasher = Sha256::new();
        let mut reader = std::fs::File::open(&path)?;
        let size = std::io::copy(&mut reader, &mut HashWriter(&mut hasher))?;
        let mode = reader.metadata()?.permissions().mode() & 0o777;
        let sha256 = hex::encode(hasher.finalize());
        files.push((ArtifactFile { path: relative.to_owned(), sha256, size, mode }, path));
    }
    Ok(files)
}

/// Feeds what is written to a hasher.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
