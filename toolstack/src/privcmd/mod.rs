// SPDX-License-Identifier: MIT
//! The Linux dom0 transport: `IOCTL_PRIVCMD_HYPERCALL` on `/dev/xen/privcmd` (for
//! `kexec_op` and `memory_op`'s machine memory map), with
//! argument buffers mapped from `/dev/xen/hypercall`, or locked anonymous memory where
//! that device is missing (as libxencall does).
//!
//! The dom0 kernel makes the hypercall, so the argument layout is the kernel's:
//! [`PrivcmdTransport::kernel_abi`] asks the kernel for its machine
//! (`/proc/sys/kernel/arch`, else `uname`). A 32-bit build of this tool on a 64-bit
//! kernel is refused before the device is opened ([`TransportError::NeedsNativeBuild`]):
//! privcmd refuses its hypercalls there (measured on Linux 6.1: `ENOTTY`), and this tool
//! never sends a layout the kernel did not ask for.
//!
//! All `unsafe` code is in the private `sys` module, with its safety argument.

mod sys;

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use xen_kexec_abi::memory::{MemoryMapArg, E820_ENTRY_SIZE};
use xen_kexec_abi::{x86_64, Errno, GuestAbi};

use crate::transport::{CallError, Hypercall, HypercallBuffer, Refused, Transport, TransportError};

pub use sys::{MappingKind, PrivcmdHypercall, IOCTL_PRIVCMD_HYPERCALL};

/// The privcmd device.
pub const PRIVCMD_DEVICE: &str = "/dev/xen/privcmd";
/// The device whose pages are safe for hypercall arguments.
pub const HYPERCALL_DEVICE: &str = "/dev/xen/hypercall";

/// Guest addresses that no mapping of an x86_64 process can hold: non-canonical with 4-
/// and with 5-level paging (above 2^63, below the 5-level kernel half at
/// `0xff00_0000_0000_0000`). A `kexec_op` argument here faults in the hypervisor
/// (`EFAULT`) whatever the command, and nothing is written: the differential test
/// (`realxen/kexec-diff`) passes such arguments on purpose.
pub const NEVER_MAPPED: core::ops::Range<u64> = 0x8000_0000_0000_0000..0xff00_0000_0000_0000;

/// The largest structure the hypervisor writes back (a 64-bit guest's
/// `xen_kexec_range_t`): an argument must have this much room inside its buffer.
const LARGEST_WRITTEN: u64 = size_of::<x86_64::KexecRange>() as u64;

/// The kernel's machine: `/proc/sys/kernel/arch` (the kernel's own, whatever the
/// process's personality), else `uname -m`.
pub fn kernel_machine() -> String {
    match std::fs::read_to_string("/proc/sys/kernel/arch") {
        Ok(text) if !text.trim().is_empty() => text.trim().to_owned(),
        _ => rustix::system::uname()
            .machine()
            .to_string_lossy()
            .into_owned(),
    }
}

/// The argument layout of a kernel whose machine is `machine`, if it is x86.
pub fn abi_of_machine(machine: &str) -> Option<GuestAbi> {
    match machine {
        "x86_64" | "amd64" => Some(GuestAbi::X86_64),
        "i386" | "i486" | "i586" | "i686" | "x86" => Some(GuestAbi::X86_32),
        _ => None,
    }
}

/// The width of this build of the tool.
pub const PROCESS_ABI: GuestAbi = if cfg!(target_pointer_width = "64") {
    GuestAbi::X86_64
} else {
    GuestAbi::X86_32
};

/// Refuses a 32-bit build on a 64-bit kernel.
///
/// # Errors
/// [`TransportError::NeedsNativeBuild`] for a 32-bit process on a kernel whose machine is
/// 64-bit.
pub fn check_process_width(kernel_machine: &str) -> Result<(), TransportError> {
    if PROCESS_ABI == GuestAbi::X86_32 && abi_of_machine(kernel_machine) == Some(GuestAbi::X86_64) {
        return Err(TransportError::NeedsNativeBuild {
            kernel: kernel_machine.to_owned(),
        });
    }
    Ok(())
}

/// Checks that `file` (opened from `path`) is the character device the kernel names
/// `devname` (`xen/privcmd`, `xen/hypercall`): a character device, and, where sysfs
/// tells (`/sys/dev/char/MAJOR:MINOR/uevent`), the one of that name. A regular file at
/// `/dev/xen/hypercall` would be mapped as hypercall memory (and fault, `SIGBUS`);
/// another device at `/dev/xen/privcmd` would answer the ioctl with its own errno.
///
/// # Errors
/// [`TransportError::WrongDevice`], naming what the file is.
fn check_device(file: &File, path: &Path, devname: &str) -> Result<(), TransportError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let wrong = |found: String| TransportError::WrongDevice {
        path: path.to_owned(),
        found,
    };
    let meta = file
        .metadata()
        .map_err(|e| wrong(format!("a file whose type cannot be read ({e})")))?;
    if !meta.file_type().is_char_device() {
        return Err(wrong(crate::input::file_kind(&meta).to_owned()));
    }
    let (major, minor) = (
        rustix::fs::major(meta.rdev()),
        rustix::fs::minor(meta.rdev()),
    );
    let uevent = format!("/sys/dev/char/{major}:{minor}/uevent");
    // Without sysfs, a character device is taken as the one asked for.
    if let Ok(text) = std::fs::read_to_string(uevent) {
        let name = text.lines().find_map(|l| l.strip_prefix("DEVNAME="));
        if let Some(name) = name.filter(|&n| n != devname) {
            return Err(wrong(format!(
                "the character device `{name}` ({major}:{minor})"
            )));
        }
    }
    Ok(())
}

/// A hypercall argument buffer of the privcmd transport.
#[derive(Debug)]
pub struct PrivcmdBuffer {
    map: sys::Mapping,
    len: usize,
}

impl PrivcmdBuffer {
    /// Where the pages come from.
    pub fn kind(&self) -> MappingKind {
        self.map.kind()
    }

    /// The buffer's bytes: always in one piece.
    pub fn bytes(&self) -> &[u8] {
        let all = self.map.as_bytes();
        all.split_at(self.len.min(all.len())).0
    }

    /// The buffer's bytes, to fill before a hypercall.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        let all = self.map.as_mut_bytes();
        let len = self.len.min(all.len());
        all.split_at_mut(len).0
    }

    /// The mapped bytes at `[addr, addr + len)`, if this buffer's pages hold them.
    fn bytes_at(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let at = usize::try_from(addr.checked_sub(self.map.addr())?).ok()?;
        self.map.as_bytes().get(at..at.checked_add(len)?)
    }

    /// Whether `[addr, addr + len)` lies inside this buffer's pages.
    fn holds(&self, addr: u64, len: u64) -> bool {
        let (start, mapped) = (self.map.addr(), self.map.as_bytes().len() as u64);
        addr >= start && addr - start <= mapped && mapped - (addr - start) >= len
    }
}

impl HypercallBuffer for PrivcmdBuffer {
    fn guest_addr(&self) -> u64 {
        self.map.addr()
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        Some(self.bytes())
    }

    fn as_mut_bytes(&mut self) -> Option<&mut [u8]> {
        Some(self.bytes_mut())
    }
}

/// Hypercalls through Linux privcmd.
#[derive(Debug)]
pub struct PrivcmdTransport {
    privcmd: File,
    privcmd_path: PathBuf,
    hypercall: Option<File>,
    machine: String,
}

impl PrivcmdTransport {
    /// Opens [`PRIVCMD_DEVICE`] and, if present, [`HYPERCALL_DEVICE`].
    ///
    /// # Errors
    /// See [`open_paths`](Self::open_paths).
    pub fn open() -> Result<PrivcmdTransport, TransportError> {
        Self::open_paths(Path::new(PRIVCMD_DEVICE), Path::new(HYPERCALL_DEVICE))
    }

    /// Opens the privcmd device at `privcmd` and the hypercall-buffer device at
    /// `hypercall` (missing: buffers are locked anonymous memory instead).
    ///
    /// # Errors
    /// [`TransportError::NeedsNativeBuild`] for a 32-bit build on a 64-bit kernel
    /// (checked first); [`TransportError::NoPrivcmd`] when `privcmd` does not exist;
    /// [`TransportError::OpenPrivcmd`] when it cannot be opened.
    pub fn open_paths(
        privcmd: &Path,
        hypercall: &Path,
    ) -> Result<PrivcmdTransport, TransportError> {
        let machine = kernel_machine();
        check_process_width(&machine)?;
        let device = OpenOptions::new()
            .read(true)
            .write(true)
            .open(privcmd)
            .map_err(|source| match source.kind() {
                io::ErrorKind::NotFound => TransportError::NoPrivcmd {
                    path: privcmd.to_owned(),
                },
                _ => TransportError::OpenPrivcmd {
                    path: privcmd.to_owned(),
                    source,
                },
            })?;
        check_device(&device, privcmd, "xen/privcmd")?;
        let hypercall = match OpenOptions::new().read(true).write(true).open(hypercall) {
            Ok(file) => {
                check_device(&file, hypercall, "xen/hypercall")?;
                Some(file)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(TransportError::OpenPrivcmd {
                    path: hypercall.to_owned(),
                    source,
                })
            }
        };
        Ok(PrivcmdTransport {
            privcmd: device,
            privcmd_path: privcmd.to_owned(),
            hypercall,
            machine,
        })
    }

    /// Whether argument buffers come from the hypercall device (else locked anonymous
    /// memory).
    pub fn has_hypercall_device(&self) -> bool {
        self.hypercall.is_some()
    }
}

impl Transport for PrivcmdTransport {
    type Buffer = PrivcmdBuffer;

    fn kernel_abi(&self) -> Result<GuestAbi, TransportError> {
        abi_of_machine(&self.machine).ok_or_else(|| TransportError::UnknownKernel {
            machine: self.machine.clone(),
        })
    }

    fn alloc(&mut self, len: usize) -> Result<PrivcmdBuffer, TransportError> {
        let map = match &self.hypercall {
            Some(dev) => sys::Mapping::hypercall_device(dev.as_fd(), len).map_err(|source| {
                TransportError::Memory {
                    what: format!("cannot map {len} bytes of {HYPERCALL_DEVICE}"),
                    source,
                }
            }),
            None => sys::Mapping::locked_anonymous(len).map_err(|source| TransportError::Memory {
                what: format!(
                    "cannot lock {len} bytes of memory for hypercall arguments \
                     ({HYPERCALL_DEVICE} is missing; see ulimit -l)"
                ),
                source,
            }),
        }?;
        Ok(PrivcmdBuffer { map, len })
    }

    fn hypercall(
        &mut self,
        call: Hypercall,
        buffers: &mut [&mut PrivcmdBuffer],
    ) -> Result<i64, CallError> {
        // Everything the hypervisor writes must be memory this call holds exclusively
        // (the safety argument of `sys`).
        self.check_writes(call, buffers)?;
        let mut privcmd = PrivcmdHypercall {
            op: u64::from(call.op()),
            arg: call.args(),
        };
        match sys::hypercall(self.privcmd.as_fd(), &mut privcmd) {
            // A negative value is a refusal, however the kernel passed it on.
            Ok(value) if value < 0 => Err(CallError::Refused(Refused::from_ret(value.into()))),
            Ok(value) => Ok(i64::from(value)),
            Err(e) => Err(self.ioctl_error(e)),
        }
    }
}

impl PrivcmdTransport {
    /// What a failed hypercall ioctl means. privcmd returns the hypercall's -errno as
    /// the ioctl's failure (Xen's errno values are Linux's for every value kexec_op and
    /// memory_op return). On the privcmd device (checked at open), the ioctl fails on
    /// its own only with EFAULT for an unreadable `struct privcmd_hypercall` (ours is
    /// always readable) and EPERM after IOCTL_PRIVCMD_RESTRICT (never made): so an
    /// errno the hypervisor can return is its answer, and any other is the kernel's.
    fn ioctl_error(&self, e: io::Error) -> CallError {
        let notty = rustix::io::Errno::NOTTY.raw_os_error();
        match e.raw_os_error() {
            Some(errno) if Errno(errno).is_known() => {
                CallError::Refused(Refused::from_ret(-i64::from(errno)))
            }
            Some(errno) if errno == notty => {
                CallError::Transport(match check_process_width(&self.machine) {
                    Err(native) => native,
                    Ok(()) => TransportError::NotPrivcmd {
                        path: self.privcmd_path.clone(),
                    },
                })
            }
            Some(_) => CallError::Transport(TransportError::Kernel {
                path: self.privcmd_path.clone(),
                source: e,
            }),
            None => CallError::Transport(TransportError::Ioctl { source: e }),
        }
    }
}

impl PrivcmdTransport {
    /// Checks that every byte the hypervisor may write for `call` lies inside one of
    /// `buffers`: for `kexec_op`, the largest argument structure at `arg` (or all of it
    /// in [`NEVER_MAPPED`], where the write faults); for
    /// `XENMEM_machine_memory_map`, the `struct xen_memory_map` at `arg` (in the
    /// kernel's layout, the one the hypervisor reads) and the `nr_entries` e820 entries
    /// at its `buffer`, read from the very bytes the hypervisor will read.
    fn check_writes(
        &self,
        call: Hypercall,
        buffers: &[&mut PrivcmdBuffer],
    ) -> Result<(), CallError> {
        let outside = |what: String| {
            CallError::Transport(TransportError::Ioctl {
                source: io::Error::other(format!(
                    "{what} is not inside a hypercall buffer of this call"
                )),
            })
        };
        let holder = |addr: u64, len: u64| buffers.iter().find(|b| b.holds(addr, len));
        match call {
            Hypercall::KexecOp { arg, .. } => {
                let never_mapped = arg >= NEVER_MAPPED.start
                    && arg
                        .checked_add(LARGEST_WRITTEN)
                        .is_some_and(|end| end <= NEVER_MAPPED.end);
                if !never_mapped {
                    holder(arg, LARGEST_WRITTEN)
                        .ok_or_else(|| outside(format!("argument {arg:#x}")))?;
                }
            }
            Hypercall::MachineMemoryMap { arg } => {
                let abi = self.kernel_abi()?;
                let size = MemoryMapArg::size(abi);
                let buf = holder(arg, size as u64)
                    .ok_or_else(|| outside(format!("argument {arg:#x}")))?;
                let map = buf
                    .bytes_at(arg, size)
                    .and_then(|bytes| MemoryMapArg::decode(abi, bytes))
                    .ok_or_else(|| outside(format!("argument {arg:#x}")))?;
                if !map.is_count_only() {
                    let len = u64::from(map.nr_entries) * E820_ENTRY_SIZE as u64;
                    holder(map.buffer, len).ok_or_else(|| {
                        outside(format!(
                            "the buffer of {} e820 entries at {:#x}",
                            map.nr_entries, map.buffer
                        ))
                    })?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xen_kexec_abi::KexecCmd;

    #[test]
    fn kernel_machines_map_to_their_layouts() {
        assert_eq!(abi_of_machine("x86_64"), Some(GuestAbi::X86_64));
        assert_eq!(abi_of_machine("i686"), Some(GuestAbi::X86_32));
        assert_eq!(abi_of_machine("aarch64"), None);
        // This machine's kernel is one of them.
        assert!(
            abi_of_machine(&kernel_machine()).is_some(),
            "{}",
            kernel_machine()
        );
    }

    #[test]
    fn a_32_bit_build_refuses_a_64_bit_kernel_and_only_that() {
        let on_64 = check_process_width("x86_64");
        match PROCESS_ABI {
            GuestAbi::X86_32 => {
                let e = on_64.expect_err("refused").to_string();
                assert!(e.contains("64-bit build of xen-kexec is needed"), "{e}");
            }
            GuestAbi::X86_64 => assert!(on_64.is_ok()),
        }
        assert!(check_process_width("i686").is_ok());
    }

    #[test]
    fn a_missing_device_is_named_and_is_no_interface() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("privcmd");
        match PrivcmdTransport::open_paths(&missing, &dir.path().join("hypercall")) {
            Err(TransportError::NoPrivcmd { path }) => assert_eq!(path, missing),
            Err(e @ TransportError::NeedsNativeBuild { .. }) => {
                assert_eq!(PROCESS_ABI, GuestAbi::X86_32, "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// A transport over `file` as its privcmd device, without the device check (for
    /// the tests of what happens after it), buffers from locked memory.
    fn unchecked(file: &Path) -> Option<PrivcmdTransport> {
        let machine = kernel_machine();
        check_process_width(&machine).ok()?;
        let privcmd = OpenOptions::new().read(true).write(true).open(file).ok()?;
        Some(PrivcmdTransport {
            privcmd,
            privcmd_path: file.to_owned(),
            hypercall: None,
            machine,
        })
    }

    #[test]
    fn a_file_or_another_device_is_refused_before_any_ioctl_or_mmap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("privcmd");
        std::fs::write(&plain, b"").expect("write");
        let missing = dir.path().join("hypercall");
        match PrivcmdTransport::open_paths(&plain, &missing) {
            Err(e @ TransportError::WrongDevice { .. }) => {
                assert!(e.is_unavailable());
                assert!(e.to_string().contains("is a regular file"), "{e}");
            }
            Err(e @ TransportError::NeedsNativeBuild { .. }) => {
                assert_eq!(PROCESS_ABI, GuestAbi::X86_32, "{e}");
            }
            other => panic!("{other:?}"),
        }
        // A plain file at /dev/xen/hypercall would be mmapped and SIGBUS.
        let file = File::open(&plain).expect("open");
        let e = check_device(&file, &plain, "xen/hypercall").expect_err("refused");
        assert!(e.to_string().contains("is a regular file"), "{e}");
        // Another character device: named, where sysfs tells.
        for dev in ["/dev/null", "/dev/loop-control"] {
            let Ok(file) = File::open(dev) else { continue };
            let e = check_device(&file, Path::new(dev), "xen/privcmd").expect_err(dev);
            if Path::new("/sys/dev/char").exists() {
                let name = dev.trim_start_matches("/dev/");
                assert!(e.to_string().contains(&format!("`{name}`")), "{e}");
            }
        }
    }

    #[test]
    fn an_errno_the_hypervisor_never_returns_is_the_kernels() {
        let Some(t) = unchecked(Path::new("/dev/null")) else {
            return;
        };
        for (errno, hypervisor) in [
            (Errno::EADDRNOTAVAIL.0, true),
            (Errno::ENOSYS.0, true),
            (Errno::EPERM.0, true),
            (rustix::io::Errno::BADF.raw_os_error(), false),
            (rustix::io::Errno::NODEV.raw_os_error(), false),
        ] {
            match t.ioctl_error(io::Error::from_raw_os_error(errno)) {
                CallError::Refused(r) => {
                    assert!(hypervisor, "{errno}");
                    assert_eq!(r.errno.0, errno);
                }
                CallError::Transport(e @ TransportError::Kernel { .. }) => {
                    assert!(!hypervisor, "{errno}");
                    assert!(!e.is_unavailable());
                    let text = e.to_string();
                    assert!(text.contains("the kernel's failure"), "{text}");
                }
                other @ CallError::Transport(_) => panic!("{errno}: {other:?}"),
            }
        }
    }

    /// A file that is not the privcmd device, past the device check: the path up to the
    /// ioctl runs (buffers from locked memory since there is no hypercall device, the
    /// argument written), and the ioctl's ENOTTY is reported as "not a privcmd device".
    #[test]
    fn an_ordinary_file_is_not_a_privcmd_device() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = dir.path().join("privcmd");
        std::fs::write(&fake, b"").expect("write");
        let Some(mut t) = unchecked(&fake) else {
            assert_eq!(PROCESS_ABI, GuestAbi::X86_32);
            return;
        };
        assert!(!t.has_hypercall_device());
        let mut buf = match t.alloc(24) {
            Ok(b) => b,
            Err(TransportError::Memory { .. }) => return, // RLIMIT_MEMLOCK of 0
            Err(e) => panic!("{e}"),
        };
        assert_eq!(buf.kind(), MappingKind::LockedAnonymous);
        assert_eq!(buf.as_bytes().map(<[u8]>::len), Some(24));
        let arg = buf.guest_addr();
        // An argument outside the call's buffers is never passed to the kernel.
        let outside = t.kexec_op(KexecCmd::STATUS, arg + 4096 - 8, &mut [&mut buf]);
        assert!(
            matches!(&outside, Err(CallError::Transport(TransportError::Ioctl { source })) if source.to_string().contains("not inside")),
            "{outside:?}"
        );
        // A non-canonical argument no mapping can hold goes to the kernel (its write
        // would fault in the hypervisor); a canonical one outside the buffers does not.
        let never = t.kexec_op(KexecCmd::GET_RANGE, NEVER_MAPPED.start, &mut [&mut buf]);
        assert!(
            matches!(
                &never,
                Err(CallError::Transport(TransportError::NotPrivcmd { .. }))
            ),
            "{never:?}"
        );
        for arg in [NEVER_MAPPED.start - 8, NEVER_MAPPED.end - 8] {
            let refused = t.kexec_op(KexecCmd::GET_RANGE, arg, &mut [&mut buf]);
            assert!(
                matches!(&refused, Err(CallError::Transport(TransportError::Ioctl { source })) if source.to_string().contains("not inside")),
                "{arg:#x}: {refused:?}"
            );
        }
        match t.kexec_op(KexecCmd::STATUS, arg, &mut [&mut buf]) {
            Err(CallError::Transport(TransportError::NotPrivcmd { path })) => {
                assert_eq!(path, fake);
            }
            other => panic!("{other:?}"),
        }
    }
}
