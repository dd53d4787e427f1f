//! The data directory and the owner-only files in it (`secret.key`, `admin.token`).

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use crate::ServerError;

/// Creates the data directory (owner-only when Ferry creates it) if it is missing.
pub(crate) fn create(dir: &Path) -> Result<(), ServerError> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|source| ServerError::DataDir {
        action: "creating",
        path: dir.to_owned(),
        source,
    })
}

/// Writes `contents` to a new file at `path` that only its owner can read and write.
/// Refuses to replace an existing file, so a key is never overwritten.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> Result<(), ServerError> {
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
        file.write_all(contents)?;
        file.sync_all()
    };
    write().map_err(|source| ServerError::DataDir { action: "writing", path: path.to_owned(), source })
}

/// Reads a file, `None` when it does not exist.
pub(crate) fn read(path: &Path) -> Result<Option<Vec<u8>>, ServerError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ServerError::DataDir { action: "reading", path: path.to_owned(), source }),
    }
}

/// `n` random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes
}
