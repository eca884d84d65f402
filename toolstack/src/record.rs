// SPDX-License-Identifier: MIT
//! The status record: what this tool last loaded or unloaded, per image type, and the
//! slot-position bit it then expects Xen's `KEXEC_CMD_kexec_status` to show.
//!
//! Xen's status answer is the parity of the loads and unloads of the type since boot
//! ([`StatusMeaning::PositionBit`](crate::StatusMeaning::PositionBit)); no query reveals
//! presence without changing it. So every load and unload through this tool writes a
//! record, one small JSON file per type in a directory on a tmpfs (`/run/xen-kexec/`,
//! gone at reboot as Xen's state is; the environment variable [`STATE_DIR_ENV`] names
//! another), and [`tracked`](crate::tracked) reads presence from it when Xen's bit
//! agrees.
//!
//! A file is written whole to a temporary file in the same directory and renamed over
//! the old one, so a reader never sees half a record. A load or unload holds
//! [`RecordStore::lock`] (`flock(LOCK_EX)` on the directory's `.lock` file) from the
//! status read before its hypercall to the record written after it, so two `xen-kexec`
//! processes at once cannot interleave their hypercalls and records.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};
use serde::{Deserialize, Serialize};
use xen_kexec_abi::KexecType;

/// The records' lock, held until dropped: see [`RecordStore::lock`].
#[derive(Debug)]
pub struct RecordLock {
    /// The open `.lock` file; closing it releases the lock.
    _file: File,
}

/// The directory of the records, unless [`STATE_DIR_ENV`] names another.
pub const DEFAULT_STATE_DIR: &str = "/run/xen-kexec";

/// The environment variable that names the records' directory (for tests, or a system
/// whose tmpfs is elsewhere).
pub const STATE_DIR_ENV: &str = "XEN_KEXEC_STATE_DIR";

/// The `format` of a record this version reads and writes.
pub const FORMAT: &str = "xen-kexec-record 1";

/// What a load put in the slot, as the command named it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageNote {
    /// The kernel or ELF file.
    pub kernel: Option<String>,
    /// The initrd.
    pub initrd: Option<String>,
    /// The kernel command line.
    pub cmdline: Option<String>,
}

/// One type's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// [`FORMAT`].
    pub format: String,
    /// `"default"` or `"crash"`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether an image of the type is loaded.
    pub loaded: bool,
    /// The slot-position bit Xen shows after the operation recorded.
    pub position_bit: bool,
    /// What is loaded (`None` when nothing is).
    pub image: Option<ImageNote>,
}

impl Record {
    /// A record of `type_`.
    pub fn new(
        type_: KexecType,
        loaded: bool,
        position_bit: bool,
        image: Option<ImageNote>,
    ) -> Record {
        Record {
            format: FORMAT.to_owned(),
            type_name: type_file_name(type_).to_owned(),
            loaded,
            position_bit,
            image: image.filter(|_| loaded),
        }
    }

    /// What a type's slot holds at boot, before any load: nothing, and bit 0. The
    /// answer when no record exists (the records' directory is on a tmpfs).
    pub fn at_boot(type_: KexecType) -> Record {
        Record::new(type_, false, false, None)
    }
}

/// `default` or `crash`: the record's file name (without `.json`) and `type`.
fn type_file_name(type_: KexecType) -> &'static str {
    if type_ == KexecType::CRASH {
        "crash"
    } else {
        "default"
    }
}

/// Why a record cannot be read or written.
#[derive(Debug)]
pub struct RecordError {
    /// The file.
    pub path: PathBuf,
    /// What was being done (`reading`, `writing`).
    pub doing: &'static str,
    /// Why.
    pub reason: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} the status record {}: {}",
            self.doing,
            self.path.display(),
            self.reason
        )
    }
}

impl std::error::Error for RecordError {}

/// The directory of the records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordStore {
    dir: PathBuf,
}

impl RecordStore {
    /// The records in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> RecordStore {
        RecordStore { dir: dir.into() }
    }

    /// The records in the directory [`STATE_DIR_ENV`] names, else
    /// [`DEFAULT_STATE_DIR`].
    pub fn from_env() -> RecordStore {
        match std::env::var_os(STATE_DIR_ENV) {
            Some(dir) if !dir.is_empty() => RecordStore::new(dir),
            _ => RecordStore::new(DEFAULT_STATE_DIR),
        }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of `type_`'s record.
    pub fn path(&self, type_: KexecType) -> PathBuf {
        self.dir.join(format!("{}.json", type_file_name(type_)))
    }

    /// The file [`lock`](Self::lock) locks.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(".lock")
    }

    /// Takes the records' lock, waiting for the process that holds it: `flock(LOCK_EX)`
    /// on the directory's `.lock` file. With `create`, the directory and the file are
    /// made when missing (for a load or unload); without, a missing directory means no
    /// records to guard, and `Ok(None)` (for a status).
    ///
    /// # Errors
    /// The directory or the file cannot be made or opened, or the lock cannot be taken.
    pub fn lock(&self, create: bool) -> Result<Option<RecordLock>, RecordError> {
        let path = self.lock_path();
        let failed = |e: &dyn fmt::Display| RecordError {
            path: path.clone(),
            doing: "locking",
            reason: e.to_string(),
        };
        if create {
            std::fs::create_dir_all(&self.dir).map_err(|e| failed(&e))?;
        } else if !self.dir.is_dir() {
            return Ok(None);
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| failed(&e))?;
        flock(&file, FlockOperation::LockExclusive).map_err(|e| failed(&e))?;
        Ok(Some(RecordLock { _file: file }))
    }

    /// `type_`'s record, or `None` when there is none.
    ///
    /// # Errors
    /// A file that exists but cannot be read or is not a record of this format and type.
    pub fn read(&self, type_: KexecType) -> Result<Option<Record>, RecordError> {
        let path = self.path(type_);
        let failed = |reason: String| RecordError {
            path: path.clone(),
            doing: "reading",
            reason,
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(failed(e.to_string())),
        };
        let record: Record = serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
        if record.format != FORMAT {
            return Err(failed(format!(
                "format `{}`, not `{FORMAT}`",
                record.format
            )));
        }
        if record.type_name != type_file_name(type_) {
            return Err(failed(format!(
                "type `{}`, not `{}`",
                record.type_name,
                type_file_name(type_)
            )));
        }
        Ok(Some(record))
    }

    /// Writes `record` as `type_`'s (creating the directory, mode 0755): to a temporary
    /// file in the directory, then renamed over the old record.
    ///
    /// # Errors
    /// The directory or file cannot be made or written.
    pub fn write(&self, type_: KexecType, record: &Record) -> Result<(), RecordError> {
        let path = self.path(type_);
        let failed = |e: &dyn fmt::Display| RecordError {
            path: path.clone(),
            doing: "writing",
            reason: e.to_string(),
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| failed(&e))?;
        let text = serde_json::to_string(record).map_err(|e| failed(&e))? + "\n";
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{}.", type_file_name(type_)))
            .suffix(".tmp")
            .permissions(std::fs::Permissions::from_mode(0o644))
            .tempfile_in(&self.dir)
            .map_err(|e| failed(&e))?;
        tmp.write_all(text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| failed(&e))?;
        // A failed rename drops (removes) the temporary file.
        tmp.persist(&path).map_err(|e| failed(&e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_written_reads_back_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RecordStore::new(dir.path().join("sub"));
        assert_eq!(store.read(KexecType::CRASH).expect("reads"), None);
        let note = ImageNote {
            kernel: Some("/boot/vmlinuz".into()),
            initrd: None,
            cmdline: Some("irqpoll".into()),
        };
        let record = Record::new(KexecType::CRASH, true, true, Some(note));
        store.write(KexecType::CRASH, &record).expect("writes");
        assert_eq!(store.read(KexecType::CRASH).expect("reads"), Some(record));
        assert_eq!(store.read(KexecType::DEFAULT).expect("reads"), None);
        let names: Vec<_> = std::fs::read_dir(store.dir())
            .expect("lists")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["crash.json"]);
    }

    #[test]
    fn a_record_of_another_format_or_type_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RecordStore::new(dir.path());
        std::fs::write(store.path(KexecType::DEFAULT), "not json").expect("write");
        let e = store.read(KexecType::DEFAULT).expect_err("refused");
        assert!(e.to_string().contains("default.json"), "{e}");
        let crash = Record::new(KexecType::CRASH, false, false, None);
        std::fs::write(
            store.path(KexecType::DEFAULT),
            serde_json::to_string(&crash).expect("json"),
        )
        .expect("write");
        let e = store.read(KexecType::DEFAULT).expect_err("refused");
        assert!(e.to_string().contains("type `crash`"), "{e}");
    }

    #[test]
    fn the_lock_makes_a_second_taker_wait_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RecordStore::new(dir.path().join("run"));
        assert!(store.lock(false).expect("no directory").is_none());
        let held = store.lock(true).expect("locks").expect("a lock");
        let (tx, rx) = std::sync::mpsc::channel();
        let other = store.clone();
        let waiter = std::thread::spawn(move || {
            let second = other.lock(false).expect("locks").expect("a lock");
            tx.send(()).expect("send");
            drop(second);
        });
        let early = rx.recv_timeout(std::time::Duration::from_millis(300));
        assert!(early.is_err(), "the second taker did not wait");
        drop(held);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the second taker gets the lock once the first lets go");
        waiter.join().expect("join");
    }

    #[test]
    fn an_unloaded_record_names_no_image() {
        let r = Record::new(KexecType::DEFAULT, false, true, Some(ImageNote::default()));
        assert_eq!(r.image, None);
    }
}
