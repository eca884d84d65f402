// SPDX-License-Identifier: MIT
//! Input files, size-checked before a byte is read: only regular files (a device such
//! as `/dev/zero` has no size to check), at most [`MAX_INPUT_BYTES`], read with
//! positioned reads straight into their destination (never whole into memory).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
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
            InputError::NotRegular { path } => write!(
                f,
                "{} is not a regular file (its size cannot be checked before reading)",
                path.display()
            ),
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
        let file = File::open(path).map_err(open)?;
        let meta = file.metadata().map_err(open)?;
        if !meta.is_file() {
            return Err(InputError::NotRegular {
                path: path.to_owned(),
            });
        }
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
