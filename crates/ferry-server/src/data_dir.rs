//! The data directory and the owner-only files in it (`secret.key`, `admin.token`, `ferry.db`).

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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

/// Makes sure the SQLite database at `path` exists and only its owner can read and write it,
/// before SQLite opens it: SQLite would create it `0644` (less the umask), and gives its
/// `-wal` and `-shm` files the database's own permissions. A database left readable by others
/// (by an older Ferry) is made owner-only too. Its contents are left alone.
pub(crate) fn private_database(path: &Path) -> Result<(), ServerError> {
    let open = || -> std::io::Result<()> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path)?;
        let mut permissions = file.metadata()?.permissions();
        if permissions.mode() & 0o077 != 0 {
            permissions.set_mode(permissions.mode() & 0o700);
            file.set_permissions(permissions)?;
        }
        Ok(())
    };
    open().map_err(|source| ServerError::DataDir { action: "creating", path: path.to_owned(), source })
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
