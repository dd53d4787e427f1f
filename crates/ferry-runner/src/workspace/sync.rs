//! Making a slot's workspace from the last job hold a commit's files again, in place.
//!
//! A job gets a pristine copy of its commit. Copying a checkout into a new folder and deleting
//! the last job's made and freed a dozen inodes per job even for a one-file repository, and
//! on an ext4 without a journal (as on these machines) every new inode is searched for past
//! the ones freed in the last seconds (`recently_deleted` in the kernel): in a 1,000-job run
//! that search was half of the server's CPU, growing with the run. Syncing reuses the
//! folders and files already there: entries the commit lacks (or of another kind) are
//! removed, files whose bytes or mode differ are rewritten through the same inode, so an
//! unchanged workspace costs reads only.
//!
//! The last job's code may have left traps; none of them makes the runner write outside the
//! workspace: entries are compared by kind without following links, a symbolic link is never
//! followed (files are opened with `O_NOFOLLOW`), and a file with a second name (a hard link
//! to a file elsewhere) is replaced, never written through.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, FileType, OpenOptions};
use std::io::{self, Read as _, Seek as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use super::copy_workspace;

/// Makes `dest` hold exactly what `src` (a prepared workspace, see
/// [`super::prepare_workspace`]) holds: files with their bytes and permissions, symbolic links
/// as links, folders. What `dest` holds already is reused where it matches; a missing `dest`
/// is copied whole.
///
/// # Errors
/// Reading `src` or changing `dest` failed; `dest` is then partly synced, and the caller
/// removes it (a copy is the way back).
pub fn sync_workspace(src: &Path, dest: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_dir() => sync_dir(src, dest),
        Ok(_) => {
            std::fs::remove_file(dest)?;
            copy_workspace(src, dest)
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => copy_workspace(src, dest),
        Err(error) => Err(error),
    }
}

/// The three kinds a workspace holds; anything else (a FIFO, a socket) is removed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

impl From<FileType> for Kind {
    fn from(file_type: FileType) -> Kind {
        if file_type.is_symlink() {
            Kind::Symlink
        } else if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File
        } else {
            Kind::Other
        }
    }
}

fn entries(dir: &Path) -> io::Result<HashMap<OsString, Kind>> {
    std::fs::read_dir(dir)?
        .map(|entry| entry.and_then(|entry| Ok((entry.file_name(), entry.file_type()?.into()))))
        .collect()
}

fn sync_dir(src: &Path, dest: &Path) -> io::Result<()> {
    // A folder the last job made unreadable or unwritable is given the source's mode first.
    let mode = std::fs::metadata(src)?.permissions();
    if std::fs::symlink_metadata(dest)?.permissions().mode() & 0o7777 != mode.mode() & 0o7777 {
        std::fs::set_permissions(dest, mode)?;
    }
    let wanted = entries(src)?;
    let mut present = entries(dest)?;
    // What goes: not in the commit, or of another kind.
    present.retain(|name, kind| !wanted.get(name).is_some_and(|want| want == kind && *kind != Kind::Other));
    for (name, kind) in &present {
        let path = dest.join(name);
        match kind {
            // `remove_dir_all` does not follow symbolic links inside the folder.
            Kind::Dir => std::fs::remove_dir_all(&path)?,
            _ => std::fs::remove_file(&path)?,
        }
    }
    for (name, kind) in &wanted {
        let (from, to) = (src.join(name), dest.join(name));
        let fresh = present.contains_key(name) || !to_exists(&to)?;
        match (kind, fresh) {
            (Kind::Dir, true) => copy_workspace(&from, &to)?,
            (Kind::Dir, false) => sync_dir(&from, &to)?,
            (Kind::Symlink, fresh) => {
                let target = std::fs::read_link(&from)?;
                if !fresh && std::fs::read_link(&to)? == target {
                    continue;
                }
                if !fresh {
                    std::fs::remove_file(&to)?;
                }
                std::os::unix::fs::symlink(target, &to)?;
            }
            (Kind::File, true) => drop(std::fs::copy(&from, &to)?),
            (Kind::File, false) => sync_file(&from, &to)?,
            (Kind::Other, _) => {}
        }
    }
    Ok(())
}

fn to_exists(path: &Path) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(error),
    }
}

/// Gives the regular file `to` the bytes and mode of `from`, through its own inode when that
/// inode has no other name.
fn sync_file(from: &Path, to: &Path) -> io::Result<()> {
    let mut source = File::open(from)?;
    let source_meta = source.metadata()?;
    let opened =
        OpenOptions::new().read(true).write(true).custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32).open(to);
    let mut target = match opened {
        Ok(target) => target,
        // Changed since it was listed (a link put there): made anew.
        Err(_) => return replace(from, to),
    };
    let target_meta = target.metadata()?;
    if !target_meta.is_file() || target_meta.nlink() != 1 {
        drop(target);
        return replace(from, to);
    }
    if target_meta.len() != source_meta.len() || !same_bytes(&mut source, &mut target)? {
        source.rewind()?;
        target.rewind()?;
        target.set_len(0)?;
        io::copy(&mut source, &mut target)?;
    }
    if target_meta.permissions().mode() & 0o7777 != source_meta.permissions().mode() & 0o7777 {
        target.set_permissions(source_meta.permissions())?;
    }
    Ok(())
}

fn replace(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(to) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(to)?,
        Ok(_) => std::fs::remove_file(to)?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    std::fs::copy(from, to).map(drop)
}

/// Whether two files of the same length hold the same bytes, read from their starts.
fn same_bytes(a: &mut File, b: &mut File) -> io::Result<bool> {
    let (mut left, mut right) = (vec![0_u8; 64 * 1024], vec![0_u8; 64 * 1024]);
    loop {
        let n = a.read(&mut left)?;
        if n == 0 {
            return Ok(true);
        }
        b.read_exact(&mut right[..n])?;
        if left[..n] != right[..n] {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests;
