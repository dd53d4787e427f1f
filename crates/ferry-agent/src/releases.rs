//! A release's files on this host: fetched blob by blob from the server (each digest checked
//! as it arrives), written into a temporary folder beside the release's own with their modes,
//! then renamed into place, so the folder `<dir>/releases/<project>/<service>/<number>/`
//! exists only whole. A release is immutable, so a folder that exists is never fetched again.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};

use ferry_client::Client;
use ferry_proto::agent::ReleaseSpec;

/// Why a release's files cannot be had on this host.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("the files of release {release} are not on this host and there is no server to fetch them from")]
    NoServer { release: i64 },
    /// A path in the release that would leave its folder.
    #[error("the release names the file `{path}`, which is not a plain relative path")]
    UnsafePath { path: String },
    #[error("{} has no parent folder", folder.display())]
    NoParent { folder: PathBuf },
    /// The server refused a blob, or its bytes were not its digest.
    #[error("fetching {path} of release {release}: {source}")]
    Fetch {
        path: String,
        release: i64,
        #[source]
        source: ferry_client::ClientError,
    },
    #[error("{action} {}: {source}", path.display())]
    File {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn file_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ReleaseError {
    let path = path.to_owned();
    move |source| ReleaseError::File { action, path, source }
}

/// Makes sure the release's files are in `folder`, fetching them with `client`.
///
/// # Errors
/// Why the files cannot be had: no server to fetch them from, a blob the server refuses or
/// whose bytes are not its digest, a path that leaves the folder, a disk error.
pub async fn ensure(folder: &Path, release: &ReleaseSpec, client: Option<&Client>) -> Result<(), ReleaseError> {
    if folder.is_dir() {
        return Ok(());
    }
    let parent = folder.parent().ok_or_else(|| ReleaseError::NoParent { folder: folder.to_owned() })?;
    tokio::fs::create_dir_all(parent).await.map_err(file_error("creating", parent))?;
    let name = folder.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = parent.join(format!(".{name}.partial"));
    if temp.exists() {
        tokio::fs::remove_dir_all(&temp).await.map_err(file_error("removing the leftover", &temp))?;
    }
    tokio::fs::create_dir(&temp).await.map_err(file_error("creating", &temp))?;
    let res = fetch_into(&temp, release, client).await;
    if let Err(error) = res {
        let _ = tokio::fs::remove_dir_all(&temp).await;
        return Err(error);
    }
    tokio::fs::rename(&temp, folder).await.map_err(file_error("renaming into place", &temp))
}

async fn fetch_into(temp: &Path, release: &ReleaseSpec, client: Option<&Client>) -> Result<(), ReleaseError> {
    if release.files.is_empty() {
        return Ok(());
    }
    let Some(client) = client else {
        return Err(ReleaseError::NoServer { release: release.number });
    };
    for file in &release.files {
        let dest = inside(temp, &file.path)?;
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(file_error("creating", parent))?;
        }
        client.agent_blob(&file.sha256, &dest).await.map_err(|source| ReleaseError::Fetch {
            path: file.path.clone(),
            release: release.number,
            source,
        })?;
        let mode = file.mode & 0o7777;
        tokio::fs::set_permissions(&dest, std::fs::Permissions::from_mode(if mode == 0 { 0o644 } else { mode }))
            .await
            .map_err(file_error("setting the mode of", &dest))?;
    }
    Ok(())
}

/// `root` joined with the release-relative `path`, refused when it would leave `root`.
fn inside(root: &Path, path: &str) -> Result<PathBuf, ReleaseError> {
    let relative = Path::new(path);
    let plain = relative.components().all(|component| matches!(component, Component::Normal(_)));
    if path.is_empty() || !plain {
        return Err(ReleaseError::UnsafePath { path: path.to_owned() });
    }
    Ok(root.join(relative))
}

#[cfg(test)]
mod tests;
