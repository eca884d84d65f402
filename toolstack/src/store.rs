// SPDX-License-Identifier: MIT
//! A state file as a store: one process at a time, replaced whole, durably.
//!
//! The simulated host's state ([`crate::sim`]) lives in one file that every command
//! reads, changes and writes back. This module keeps that safe when commands run at
//! once, crash, or are pointed at odd paths:
//!
//! - **Only a regular file.** The path is resolved (symlinks followed: the file a
//!   symlink names is the one read and updated, the symlink stays) and its `metadata`
//!   checked before it is opened `O_NONBLOCK` ([`crate::input::open_regular`]): a FIFO,
//!   socket, device or directory is refused at once.
//! - **One process at a time.** The open file is locked with `flock(LOCK_EX)` from the
//!   read to the last write (the lock goes when the [`LockedFile`] is dropped). A save
//!   replaces the file's inode, so a process that waited on the old inode finds, once
//!   it holds the lock, that the path names another file, and starts again on it. The
//!   lock is advisory: it orders `xen-kexec` processes, not other writers.
//! - **Replaced whole.** A save writes a temporary file with a unique name in the same
//!   directory (`.NAME.XXXXXX.tmp`, by `tempfile`; no other file there is touched), with
//!   the old file's permission bits, `fsync`s it, locks it, renames it over the file and
//!   `fsync`s the directory: after a crash the path holds the old state or the new one,
//!   whole.

use std::fs::{File, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};

use crate::input::{open_regular, InputError};

/// Why a state file cannot be opened or saved.
#[derive(Debug)]
pub enum StoreError {
    /// The path cannot be used (missing, not a regular file, unreadable).
    Open(InputError),
    /// Locking, writing or renaming failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why.
        source: io::Error,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Open(e) => e.fmt(f),
            StoreError::Io { path, what, source } => {
                write!(f, "cannot {what} {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for StoreError {}

/// A state file, open and locked (`flock(LOCK_EX)`) until dropped.
#[derive(Debug)]
pub struct LockedFile {
    /// The file's real path (symlinks resolved): the one a save replaces.
    path: PathBuf,
    /// The open, locked file.
    file: File,
}

fn io_error<'p>(path: &'p Path, what: &'static str) -> impl FnOnce(io::Error) -> StoreError + 'p {
    move |source| StoreError::Io {
        path: path.to_owned(),
        what,
        source,
    }
}

/// `path` with its symlinks resolved, when it exists.
fn real_path(path: &Path) -> Result<PathBuf, InputError> {
    std::fs::canonicalize(path).map_err(|source| InputError::Open {
        path: path.to_owned(),
        source,
    })
}

impl LockedFile {
    /// Opens the regular file at `path` (symlinks followed) and locks it, waiting for
    /// the process that holds it.
    ///
    /// # Errors
    /// [`StoreError::Open`] when it is missing or not a regular file;
    /// [`StoreError::Io`] when it cannot be locked.
    pub fn open(path: &Path) -> Result<LockedFile, StoreError> {
        loop {
            let real = real_path(path).map_err(StoreError::Open)?;
            let file = open_regular(&real).map_err(StoreError::Open)?;
            flock(&file, FlockOperation::LockExclusive)
                .map_err(|e| io_error(&real, "lock")(e.into()))?;
            // The holder may have replaced the file while this process waited: the lock
            // counts only on the inode the path names now.
            let held = file.metadata().map_err(io_error(&real, "read"))?;
            match std::fs::metadata(&real) {
                Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                    return Ok(LockedFile { path: real, file });
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&real, "read")(e)),
            }
        }
    }

    /// The open file, to read the state from.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The real path: the file a save replaces.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file with what `write` writes, keeping its permission bits and the
    /// lock (now on the new file).
    ///
    /// # Errors
    /// [`StoreError::Io`]; the file is then unchanged.
    pub fn replace(
        &mut self,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), StoreError> {
        let perms = self
            .file
            .metadata()
            .map_err(io_error(&self.path, "read"))?
            .permissions();
        self.file = write_new(&self.path, Some(perms), write)?;
        Ok(())
    }
}

/// Writes a new state file at `path`, replacing a regular file there (symlinks
/// followed) and refusing anything else. A file already there is replaced as a save
/// replaces it ([`LockedFile::replace`]): under its lock, so a command holding it
/// finishes first and one waiting for it starts again on the new state, and keeping
/// its mode. A new file's mode is `0666` less the umask, as `creat(2)` gives.
///
/// # Errors
/// [`StoreError::Open`] for a path that is not a regular file; [`StoreError::Io`].
pub fn create(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), StoreError> {
    let target = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => return LockedFile::open(path)?.replace(write),
        Ok(m) => {
            return Err(StoreError::Open(InputError::NotRegular {
                path: path.to_owned(),
                kind: crate::input::file_kind(&m),
            }))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if path.is_symlink() {
                // A dangling symlink: creating its target is not this command's job.
                return Err(StoreError::Open(InputError::Open {
                    path: path.to_owned(),
                    source: e,
                }));
            }
            path.to_owned()
        }
        Err(e) => {
            return Err(StoreError::Open(InputError::Open {
                path: path.to_owned(),
                source: e,
            }))
        }
    };
    write_new(&target, None, write).map(drop)
}

/// The temporary file, written, synced and locked, renamed over `path`, and the
/// directory synced: the new file, locked. `perms`: the mode to give it (else `0666`
/// less the umask).
fn write_new(
    path: &Path,
    perms: Option<Permissions>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<File, StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(path.file_name().unwrap_or_default());
    prefix.push(".");
    let tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(io_error(path, "create a temporary file beside"))?;
    if let Some(perms) = perms {
        tmp.as_file()
            .set_permissions(perms)
            .map_err(io_error(path, "set the permissions of the new"))?;
    }
    let mut out = BufWriter::new(tmp.as_file());
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(io_error(path, "write"))?;
    drop(out);
    tmp.as_file().sync_all().map_err(io_error(path, "sync"))?;
    flock(tmp.as_file(), FlockOperation::LockExclusive)
        .map_err(|e| io_error(path, "lock")(e.into()))?;
    let file = tmp
        .persist(path)
        .map_err(|e| io_error(path, "rename the new state over")(e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(path, "sync the directory of"))?;
    Ok(file)
}
