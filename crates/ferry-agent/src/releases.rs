//! A release's files on this host: fetched blob by blob from the server (each digest checked
//! as it arrives), written into a temporary folder beside the release's own with their modes,
//! then renamed into place, so the folder `<dir>/releases/<project>/<service>/<number>/`
//! exists only whole. A release is immutable, so a folder that exists is never fetched again.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Component, Path, PathBuf};

use ferry_client::Client;
use ferry_proto::agent::ReleaseSpec;

/// Makes sure the release's files are in `folder`, fetching them with `client`.
///
/// # Errors
/// Why the files cannot be had, in words: no server to fetch them from, a blob the server
/// refuses or whose bytes are not its digest, a path that leaves the folder, a disk error.
pub async fn ensure(folder: &Path, release: &ReleaseSpec, client: Option<&Client>) -> Result<(), String> {
    if folder.is_dir() {
        return Ok(());
    }
    let parent = folder.parent().ok_or_else(|| format!("{} has no parent folder", folder.display()))?;
    tokio::fs::create_dir_all(parent).await.map_err(|error| format!("creating {}: {error}", parent.display()))?;
    let name = folder.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = parent.join(format!(".{name}.partial"));
    if temp.exists() {
        tokio::fs::remove_dir_all(&temp)
            .await
            .map_err(|error| format!("removing the leftover {}: {error}", temp.display()))?;
    }
    tokio::fs::create_dir(&temp).await.map_err(|error| format!("creating {}: {error}", temp.display()))?;
    let res = fetch_into(&temp, release, client).await;
    if let Err(error) = res {
        let _ = tokio::fs::remove_dir_all(&temp).await;
        return Err(error);
    }
    tokio::fs::rename(&temp, folder).await.map_err(|error| format!("renaming {} into place: {error}", temp.display()))
}

async fn fetch_into(temp: &Path, release: &ReleaseSpec, client: Option<&Client>) -> Result<(), String> {
    if release.files.is_empty() {
        return Ok(());
    }
    let Some(client) = client else {
        return Err(format!(
            "the files of release {} are not on this host and there is no server to fetch them from",
            release.number
        ));
    };
    for file in &release.files {
        let dest = inside(temp, &file.path)?;
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|error| format!("creating {}: {error}", parent.display()))?;
        }
        client
            .agent_blob(&file.sha256, &dest)
            .await
            .map_err(|error| format!("fetching {} of release {}: {error}", file.path, release.number))?;
        let mode = file.mode & 0o7777;
        tokio::fs::set_permissions(&dest, std::fs::Permissions::from_mode(if mode == 0 { 0o644 } else { mode }))
            .await
            .map_err(|error| format!("setting the mode of {}: {error}", dest.display()))?;
    }
    Ok(())
}

/// `root` joined with the release-relative `path`, refused when it would leave `root`.
fn inside(root: &Path, path: &str) -> Result<PathBuf, String> {
    let relative = Path::new(path);
    let plain = relative.components().all(|component| matches!(component, Component::Normal(_)));
    if path.is_empty() || !plain {
        return Err(format!("the release names the file `{path}`, which is not a plain relative path"));
    }
    Ok(root.join(relative))
}

#[cfg(test)]
mod tests;
