// SPDX-License-Identifier: MIT
//! How a hypercall reaches a hypervisor: the [`Transport`] trait, the hypercalls it
//! makes ([`Hypercall`]), its hypercall-safe argument buffers, and the ways a transport
//! can fail before the hypervisor answers.
//!
//! A hypercall's argument is a guest address. The client asks the transport for buffers
//! ([`Transport::alloc`]), writes the argument structures and segment sources into them,
//! and passes their guest addresses to [`Transport::hypercall`] together with the
//! buffers themselves: the privcmd transport checks that everything the hypervisor may
//! write lies in them (the kernel reads the process's memory directly), the simulated
//! one builds the caller's guest memory from them.
//!
//! [`Hypercall`] is a closed list on purpose: a transport knows, for each hypercall it
//! makes, which bytes the hypervisor writes, and privcmd's safety argument rests on it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use xen_kexec_abi::consts::{
    __HYPERVISOR_kexec_op, __HYPERVISOR_memory_op, XENMEM_machine_memory_map,
};
use xen_kexec_abi::{Errno, GuestAbi, KexecCmd};

/// A hypercall this toolstack makes, with its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hypercall {
    /// `kexec_op(cmd, arg)` (hypercall 37): `arg` the guest address of the command's
    /// structure. The hypervisor writes only the get_range answer, over `arg`.
    KexecOp {
        /// The command.
        cmd: KexecCmd,
        /// The guest address of its argument.
        arg: u64,
    },
    /// `memory_op(XENMEM_machine_memory_map, arg)` (hypercall 12, command 10): `arg`
    /// the guest address of a `struct xen_memory_map`
    /// ([`xen_kexec_abi::memory`]). The hypervisor writes that structure and up to
    /// its `nr_entries` e820 entries at its `buffer`.
    MachineMemoryMap {
        /// The guest address of the `struct xen_memory_map`.
        arg: u64,
    },
}

impl Hypercall {
    /// The hypercall's number (`__HYPERVISOR_*`).
    pub const fn op(self) -> u32 {
        match self {
            Hypercall::KexecOp { .. } => __HYPERVISOR_kexec_op,
            Hypercall::MachineMemoryMap { .. } => __HYPERVISOR_memory_op,
        }
    }

    /// The command: what a refusal is of.
    pub const fn cmd(self) -> HypercallCmd {
        match self {
            Hypercall::KexecOp { cmd, .. } => HypercallCmd::Kexec(cmd),
            Hypercall::MachineMemoryMap { .. } => HypercallCmd::MACHINE_MEMORY_MAP,
        }
    }

    /// The guest address of the argument structure.
    pub const fn arg(self) -> u64 {
        match self {
            Hypercall::KexecOp { arg, .. } | Hypercall::MachineMemoryMap { arg } => arg,
        }
    }

    /// The hypercall's five register arguments, as privcmd passes them.
    pub const fn args(self) -> [u64; 5] {
        let cmd = match self.cmd() {
            HypercallCmd::Kexec(cmd) => cmd.0,
            HypercallCmd::Memory(cmd) => cmd,
        };
        [cmd as u64, self.arg(), 0, 0, 0]
    }
}

/// A hypercall's command, as refusals name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HypercallCmd {
    /// A `kexec_op` command.
    Kexec(KexecCmd),
    /// A `memory_op` command (`XENMEM_*`).
    Memory(u32),
}

impl HypercallCmd {
    /// `memory_op`'s `XENMEM_machine_memory_map`.
    pub const MACHINE_MEMORY_MAP: HypercallCmd = HypercallCmd::Memory(XENMEM_machine_memory_map);
}

impl From<KexecCmd> for HypercallCmd {
    fn from(cmd: KexecCmd) -> Self {
        HypercallCmd::Kexec(cmd)
    }
}

impl fmt::Display for HypercallCmd {
    /// The command's C name (`KEXEC_CMD_kexec_load`, `XENMEM_machine_memory_map`), or
    /// its hypercall and number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HypercallCmd::Kexec(cmd) => write!(f, "{cmd:?}"),
            HypercallCmd::Memory(cmd) if cmd == XENMEM_machine_memory_map => {
                f.write_str("XENMEM_machine_memory_map")
            }
            HypercallCmd::Memory(cmd) => write!(f, "memory_op command {cmd}"),
        }
    }
}

/// Memory the hypervisor may read and write during a hypercall, at a known guest
/// address. Zeroed when allocated.
pub trait HypercallBuffer {
    /// The guest address of the first byte: what goes into a handle or the hypercall's
    /// argument.
    fn guest_addr(&self) -> u64;
    /// The bytes, when the buffer holds them in one piece: always for a buffer from
    /// [`Transport::alloc`]; a source from [`Transport::alloc_source`] may be kept in
    /// pieces only the hypervisor reads (`None`).
    fn as_bytes(&self) -> Option<&[u8]>;
    /// The bytes, to fill before the hypercall: as [`as_bytes`](Self::as_bytes).
    fn as_mut_bytes(&mut self) -> Option<&mut [u8]>;
}

/// What fills a source buffer: `fill(offset, part)` writes bytes
/// `[offset, offset + part.len())` of the source into `part`.
pub type FillPart<'f, E> = dyn FnMut(usize, &mut [u8]) -> Result<(), E> + 'f;

/// The error of a buffer from [`Transport::alloc`] that is not in one piece, which no
/// transport of this crate gives.
pub(crate) fn not_one_piece(len: usize) -> TransportError {
    TransportError::Memory {
        what: format!("hypercall buffer of {len} bytes"),
        source: io::Error::other("the transport gave a buffer not in one piece"),
    }
}

/// A way to make hypercalls: Linux privcmd, or the simulated hypervisor.
pub trait Transport {
    /// The argument buffers of this transport.
    type Buffer: HypercallBuffer;

    /// The width of the kernel that makes the hypercalls: the argument layout it
    /// passes to the hypervisor (`--guest auto`).
    ///
    /// # Errors
    /// [`TransportError::UnknownKernel`] when the kernel's layout is not known.
    fn kernel_abi(&self) -> Result<GuestAbi, TransportError>;

    /// A zeroed hypercall-safe buffer of `len` bytes.
    ///
    /// # Errors
    /// [`TransportError::Memory`] when the memory cannot be had.
    fn alloc(&mut self, len: usize) -> Result<Self::Buffer, TransportError>;

    /// A hypercall buffer of `len` bytes for a segment's source, filled by
    /// `fill(offset, part)` for each part in turn, that only the hypervisor reads
    /// afterwards. The default is [`alloc`](Self::alloc) and one `fill` of the whole;
    /// the simulated host keeps a source in pieces it gives back as the engine copies
    /// them.
    ///
    /// # Errors
    /// [`TransportError::Memory`] (as `E`), or the first error of `fill`.
    fn alloc_source<E: From<TransportError>>(
        &mut self,
        len: usize,
        fill: &mut FillPart<'_, E>,
    ) -> Result<Self::Buffer, E> {
        let mut buf = self.alloc(len)?;
        fill(0, buf.as_mut_bytes().ok_or_else(|| not_one_piece(len))?)?;
        Ok(buf)
    }

    /// Makes `call`, its argument being a guest address inside one of `buffers` (which
    /// hold every object the call refers to). Returns the hypercall's value (`>= 0`) or
    /// its refusal, with all the transport knows of it.
    ///
    /// # Errors
    /// [`CallError::Refused`] when the hypervisor refused; [`CallError::Transport`]
    /// when the call could not be made at all (privcmd: also when something the
    /// hypervisor would write lies outside `buffers`).
    fn hypercall(
        &mut self,
        call: Hypercall,
        buffers: &mut [&mut Self::Buffer],
    ) -> Result<i64, CallError>;

    /// What this transport's hypervisor answers to `KEXEC_CMD_kexec_status`: Xen's
    /// slot-position bit (the default), or presence.
    fn status_meaning(&self) -> StatusMeaning {
        StatusMeaning::PositionBit
    }

    /// Makes `kexec_op(cmd, arg)`: [`hypercall`](Self::hypercall) of
    /// [`Hypercall::KexecOp`].
    ///
    /// # Errors
    /// As [`hypercall`](Self::hypercall).
    fn kexec_op(
        &mut self,
        cmd: KexecCmd,
        arg: u64,
        buffers: &mut [&mut Self::Buffer],
    ) -> Result<i64, CallError> {
        self.hypercall(Hypercall::KexecOp { cmd, arg }, buffers)
    }
}

/// What a hypervisor's `KEXEC_CMD_kexec_status` answer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusMeaning {
    /// Xen's slot-position bit (`test_bit(KEXEC_FLAG_*_POS)`): `kexec_swap_images`
    /// flips it on every load and every unload of the type, so it is the parity of
    /// those calls since boot (0 at boot), not whether an image is loaded. Xen 4.17 and
    /// its development head answer this.
    PositionBit,
    /// Whether an image of the type is loaded (the simulated hypervisor, which departs
    /// from Xen here).
    Presence,
}

/// A hypervisor's refusal of a hypercall: its errno and, when the transport knows them
/// (the simulated hypervisor does; privcmd passes only the errno), the rule broken, the
/// segment and the reason in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The errno the hypercall returned.
    pub errno: Errno,
    /// The rule broken, when known.
    pub rule: Option<&'static str>,
    /// The segment it is about, when known and about one.
    pub segment: Option<u32>,
    /// What was wrong, in words, when known.
    pub reason: Option<String>,
}

impl Refused {
    /// A refusal known only by its errno, from a hypercall's negative return value.
    pub fn from_ret(ret: i64) -> Refused {
        Refused {
            errno: Errno(i32::try_from(ret.unsigned_abs()).unwrap_or(i32::MAX)),
            rule: None,
            segment: None,
            reason: None,
        }
    }
}

/// Why [`Transport::kexec_op`] gave no value.
#[derive(Debug)]
pub enum CallError {
    /// The hypervisor refused the call.
    Refused(Refused),
    /// The call could not be made.
    Transport(TransportError),
}

impl From<TransportError> for CallError {
    fn from(e: TransportError) -> Self {
        CallError::Transport(e)
    }
}

/// Why a hypercall could not be made: there is no hypervisor interface to make it with
/// (the command's exit status 3), or the transport's own machinery failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// The privcmd device does not exist: not a Xen domain with privcmd.
    NoPrivcmd {
        /// The device path looked for.
        path: PathBuf,
    },
    /// The privcmd device exists but cannot be opened (permissions, ...).
    OpenPrivcmd {
        /// The device path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A 32-bit build of the tool on a 64-bit kernel: privcmd refuses hypercalls from
    /// 32-bit processes there (measured on Linux 6.1: `ENOTTY`), and the argument
    /// layout would be the kernel's anyway.
    NeedsNativeBuild {
        /// The kernel's machine, as the kernel names it.
        kernel: String,
    },
    /// The kernel's machine is not one whose argument layout this tool knows.
    UnknownKernel {
        /// The kernel's machine, as the kernel names it.
        machine: String,
    },
    /// The file opened as the privcmd device does not take the privcmd hypercall
    /// ioctl (`ENOTTY`): not a privcmd device.
    NotPrivcmd {
        /// The device path.
        path: PathBuf,
    },
    /// The file opened as a privcmd or hypercall device is not that device (checked
    /// before any ioctl or mmap: a regular file, or another character device).
    WrongDevice {
        /// The device path.
        path: PathBuf,
        /// What it is instead, in words ("a regular file", "the character device
        /// `loop-control`").
        found: String,
    },
    /// The kernel failed the privcmd hypercall ioctl with an errno that `kexec_op` and
    /// `memory_op` never return: the kernel's own failure, not the hypervisor's answer.
    Kernel {
        /// The privcmd device.
        path: PathBuf,
        /// The errno.
        source: io::Error,
    },
    /// The hypercall ioctl failed for a reason other than the hypercall's refusal.
    Ioctl {
        /// Why.
        source: io::Error,
    },
    /// Hypercall-safe memory could not be had.
    Memory {
        /// What was being done.
        what: String,
        /// Why.
        source: io::Error,
    },
    /// The simulated hypervisor's state file cannot be used.
    Sim {
        /// What went wrong, naming the file.
        message: String,
    },
}

impl TransportError {
    /// Whether this error means "no hypervisor interface" (exit status 3) rather than
    /// a failure of the interface (exit status 2).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            TransportError::NoPrivcmd { .. }
                | TransportError::OpenPrivcmd { .. }
                | TransportError::NeedsNativeBuild { .. }
                | TransportError::UnknownKernel { .. }
                | TransportError::NotPrivcmd { .. }
                | TransportError::WrongDevice { .. }
        )
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::NoPrivcmd { path } => write!(
                f,
                "{} does not exist: this is not a Xen domain with privcmd \
                 (run in dom0 with the xen-privcmd driver loaded, or use --backend sim:PATH)",
                path.display()
            ),
            TransportError::OpenPrivcmd { path, source } => {
                write!(f, "cannot open {}: {source}", path.display())
            }
            TransportError::NeedsNativeBuild { kernel } => write!(
                f,
                "this is a 32-bit build of xen-kexec and the kernel is 64-bit ({kernel}): \
                 privcmd refuses hypercalls from 32-bit processes on a 64-bit kernel, \
                 so a 64-bit build of xen-kexec is needed"
            ),
            TransportError::UnknownKernel { machine } => write!(
                f,
                "the kernel's machine `{machine}` is not x86: its kexec_op argument layout \
                 is unknown (use --guest x86_32|x86_64 to name it)"
            ),
            TransportError::NotPrivcmd { path } => write!(
                f,
                "{} does not take IOCTL_PRIVCMD_HYPERCALL (ENOTTY): not a privcmd device",
                path.display()
            ),
            TransportError::WrongDevice { path, found } => {
                write!(
                    f,
                    "{} is {found}, not the device it should be",
                    path.display()
                )
            }
            TransportError::Kernel { path, source } => write!(
                f,
                "the kernel failed IOCTL_PRIVCMD_HYPERCALL on {}: {source} (an errno kexec_op \
                 and memory_op never return: the kernel's failure, not the hypervisor's refusal)",
                path.display()
            ),
            TransportError::Ioctl { source } => {
                write!(f, "IOCTL_PRIVCMD_HYPERCALL failed: {source}")
            }
            TransportError::Memory { what, source } => write!(f, "{what}: {source}"),
            TransportError::Sim { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransportError::OpenPrivcmd { source, .. }
            | TransportError::Ioctl { source }
            | TransportError::Kernel { source, .. }
            | TransportError::Memory { source, .. } => Some(source),
            _ => None,
        }
    }
}
