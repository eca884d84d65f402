// SPDX-License-Identifier: MIT
//! Input files, size-checked before a byte is read: only regular files (a device such
//! as `/dev/zero` has no size to check), at most [`MAX_INPUT_BYTES`], read with
//! positioned reads straight into their destination (never whole into memory).
//!
//! Every file the tool reads goes through [`open_regular`]: its `metadata` is checked
//! before it is opened, and it is opened `O_NONBLOCK`, so a FIFO, socket or device
//! where a regular file is expected is an immediate error, never a read that waits for
//! ever.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest input file accepted (512 MiB): more than any kernel and initrd pair a
/// kexec load carries, and small enough that the buffers of a load fit in memory.
pub const MAX_INPUT_BYTES: u64 = 512 << 20;

/// An input file opened and size-checked, not yet read.
#[derive(Debug)]
pub struct InputFile {
    path: PathBuf,
    file: File,
    len: u64,
}

/// Why an input file cannot be used.
#[derive(Debug)]
pub enum InputError {
    /// It cannot be opened or its metadata read.
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It is not a regular file.
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead ("a FIFO", "a character device", ...).
        kind: &'static str,
    },
    /// It is larger than [`MAX_INPUT_BYTES`].
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// Reading it failed (or it shrank since it was checked).
    Read {
        /// The file.
        path: PathBuf,
        /// The offset of the read.
        offset: u64,
        /// Why.
        source: io::Error,
    },
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::Open { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            InputError::NotRegular { path, kind } => {
                write!(f, "{} is {kind}, not a regular file", path.display())
            }
            InputError::TooLarge { path, len } => write!(
                f,
                "{} is {len} bytes, more than the {} MiB an input file may have",
                path.display(),
                MAX_INPUT_BYTES >> 20
            ),
            InputError::Read {
                path,
                offset,
                source,
            } => write!(
                f,
                "cannot read {} at offset {offset:#x}: {source}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for InputError {}

/// Opens `path` for reading if it is a regular file (a symlink is followed): its
/// `metadata` is checked before `open`, the open is `O_NONBLOCK` (so a FIFO put there in
/// between does not block it), and the open file is checked again.
///
/// # Errors
/// [`InputError::Open`] when it cannot be opened or its metadata read;
/// [`InputError::NotRegular`] for a FIFO, socket, device or directory.
pub fn open_regular(path: &Path) -> Result<File, InputError> {
    let open = |source| InputError::Open {
        path: path.to_owned(),
        source,
    };
    let not_regular = |meta: &std::fs::Metadata| InputError::NotRegular {
        path: path.to_owned(),
        kind: file_kind(meta),
    };
    let meta = std::fs::metadata(path).map_err(open)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    let nonblock = i32::try_from(rustix::fs::OFlags::NONBLOCK.bits())
        .map_err(|e| open(io::Error::other(e)))?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(nonblock)
        .open(path)
        .map_err(open)?;
    let meta = file.metadata().map_err(open)?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    Ok(file)
}

/// What a file is, in words: "a FIFO", "a directory", ...
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    let t = meta.file_type();
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "a special file"
    }
}

impl InputFile {
    /// Opens `path` and checks that it is a regular file of at most
    /// [`MAX_INPUT_BYTES`].
    ///
    /// # Errors
    /// [`InputError`], naming the file.
    pub fn open(path: &Path) -> Result<InputFile, InputError> {
        let open = |source| InputError::Open {
            path: path.to_owned(),
            source,
        };
        let file = open_regular(path)?;
        let meta = file.metadata().map_err(open)?;
        if meta.len() > MAX_INPUT_BYTES {
            return Err(InputError::TooLarge {
                path: path.to_owned(),
                len: meta.len(),
            });
        }
        Ok(InputFile {
            path: path.to_owned(),
            file,
            len: meta.len(),
        })
    }

    /// The file's path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its size when it was opened.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The open file (for parsers that read headers through it).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Fills `buf` from offset `offset`.
    ///
    /// # Errors
    /// [`InputError::Read`], also when the file ends early.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), InputError> {
        self.file
            .read_exact_at(buf, offset)
            .map_err(|source| InputError::Read {
                path: self.path.clone(),
                offset,
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_oversized_files_are_refused_before_reading() {
        match InputFile::open(Path::new("/dev/zero")) {
            Err(e @ InputError::NotRegular { .. }) => {
                assert!(e.to_string().contains("/dev/zero"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("sparse.img");
        let f = File::create(&big).expect("create");
        f.set_len(2 << 30).expect("2 GiB sparse file");
        match InputFile::open(&big) {
            Err(e @ InputError::TooLarge { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains("sparse.img") && msg.contains("2147483648"),
                    "{msg}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_file_that_shrank_is_a_read_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("blob");
        std::fs::write(&p, [7u8; 100]).expect("write");
        let input = InputFile::open(&p).expect("opens");
        let mut buf = [0u8; 10];
        input.read_at(90, &mut buf).expect("reads");
        assert_eq!(buf, [7; 10]);
        std::fs::write(&p, [7u8; 50]).expect("shrink");
        let e = input.read_at(90, &mut buf).expect_err("past the end");
        assert!(
            e.to_string().contains("blob") && e.to_string().contains("0x5a"),
            "{e}"
        );
    }
}
