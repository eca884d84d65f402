// SPDX-License-Identifier: MIT
//! The simulated machine's memory map and its `memory_op(XENMEM_machine_memory_map)`,
//! with Xen's semantics (x86 `arch_memory_op`, Xen 4.17 to 4.23) in both guest widths:
//!
//! - the argument is read at the caller's width (`-EFAULT` if it cannot be);
//! - a null buffer asks for the count: `nr_entries` is set to it, nothing else written;
//! - a buffer of fewer than count + 1 entries is `-EINVAL`, nothing written (Xen checks
//!   `nr_entries < nr_map + 1`: it keeps room for one more entry);
//! - else the entries are written to the buffer and `nr_entries` set to their number
//!   (`-EFAULT` if either write faults; entries already written stay written, as in Xen).
//!
//! One departure, deliberate: Xen also reports, as `E820_RESERVED` entries, the holes
//! between the map's entries (and above the last) that the calling domain may map as
//! I/O memory (its `iomem_caps`). The simulated host has no I/O memory permissions, so
//! it answers the configured map as it is: a test that wants a hole reported lists it.
//!
//! Any other `memory_op` command is `-ENOSYS`.

use alloc::vec::Vec;
use core::fmt;

use xen_kexec_abi::consts::XENMEM_machine_memory_map;
use xen_kexec_abi::guest_mem::{read_object, write_object, GuestMemory};
use xen_kexec_abi::memory::{self, E820Entry, MemoryMapArg, E820_ENTRY_SIZE};
use xen_kexec_abi::zerocopy::IntoBytes;
use xen_kexec_abi::{Errno, GuestAbi, GuestFault};

/// One range of the simulated machine's e820 map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SimE820 {
    /// The first machine address.
    pub start: u64,
    /// The size in bytes (not 0; `start + size` does not wrap).
    pub size: u64,
    /// The e820 type: [`SimE820::RAM`], [`SimE820::RESERVED`], ...
    pub kind: u32,
}

impl SimE820 {
    /// `E820_RAM`: usable RAM.
    pub const RAM: u32 = 1;
    /// `E820_RESERVED`: reserved by the firmware.
    pub const RESERVED: u32 = 2;
    /// `E820_ACPI`: ACPI tables.
    pub const ACPI: u32 = 3;
    /// `E820_NVS`: ACPI non-volatile storage.
    pub const NVS: u32 = 4;
    /// `E820_UNUSABLE`: memory with errors.
    pub const UNUSABLE: u32 = 5;

    const fn new(start: u64, size: u64, kind: u32) -> SimE820 {
        SimE820 { start, size, kind }
    }

    /// The entry as Xen writes it.
    pub const fn entry(&self) -> E820Entry {
        E820Entry::new(self.start, self.size, self.kind)
    }
}

/// The most entries a simulated map may have: Xen's `E820MAX`.
pub const SIM_E820_MAX: usize = 1024;

/// The default map: what SeaBIOS reports for a 1 GiB QEMU PC (`-m 1G`, i440fx). The
/// default crash region, Xen, the CPU notes and vmcoreinfo all lie in its RAM.
pub fn default_memory_map() -> Vec<SimE820> {
    Vec::from([
        SimE820::new(0, 0x9_fc00, SimE820::RAM),
        SimE820::new(0x9_fc00, 0x400, SimE820::RESERVED),
        SimE820::new(0xf_0000, 0x1_0000, SimE820::RESERVED),
        SimE820::new(0x10_0000, 0x3fee_0000, SimE820::RAM),
        SimE820::new(0x3ffe_0000, 0x2_0000, SimE820::RESERVED),
        SimE820::new(0xfffc_0000, 0x4_0000, SimE820::RESERVED),
    ])
}

/// Why a map cannot be the simulated machine's: the index of the first bad entry and
/// what is wrong with it.
pub(super) fn check_memory_map(map: &[SimE820]) -> Result<(), (usize, &'static str)> {
    if map.len() > SIM_E820_MAX {
        return Err((
            SIM_E820_MAX,
            "is one more than Xen's E820MAX (1024) entries",
        ));
    }
    let mut end_of_previous = 0u64;
    for (i, e) in map.iter().enumerate() {
        if e.size == 0 {
            return Err((i, "is empty"));
        }
        let Some(end) = e.start.checked_add(e.size) else {
            return Err((i, "runs past the top of the address space"));
        };
        if i > 0 && e.start < end_of_previous {
            return Err((i, "overlaps the entry before it or is out of order"));
        }
        end_of_previous = end;
    }
    Ok(())
}

/// A `memory_op` refusal of the simulated host. Small and `Copy`; [`errno`](Self::errno)
/// gives its one Xen errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MemoryOpError {
    /// A `memory_op` command the simulated host does not implement (`ENOSYS`).
    UnknownCommand {
        /// The command.
        cmd: u32,
    },
    /// The argument could not be read or written, or the buffer written (`EFAULT`).
    Fault(GuestFault),
    /// The buffer has room for fewer than the map's entries plus one (`EINVAL`).
    BufferTooSmall {
        /// The capacity the caller gave, in entries.
        nr_entries: u32,
        /// The least capacity Xen accepts: the map's entries plus one.
        needed: u32,
    },
}

impl MemoryOpError {
    /// The Xen errno.
    pub const fn errno(&self) -> Errno {
        match self {
            MemoryOpError::UnknownCommand { .. } => Errno::ENOSYS,
            MemoryOpError::Fault(_) => Errno::EFAULT,
            MemoryOpError::BufferTooSmall { .. } => Errno::EINVAL,
        }
    }

    /// The name of the rule broken: the variant's name.
    pub const fn rule(&self) -> &'static str {
        match self {
            MemoryOpError::UnknownCommand { .. } => "UnknownCommand",
            MemoryOpError::Fault(_) => "Fault",
            MemoryOpError::BufferTooSmall { .. } => "BufferTooSmall",
        }
    }
}

impl fmt::Display for MemoryOpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemoryOpError::UnknownCommand { cmd } => {
                write!(f, "memory_op command {cmd} is not implemented")
            }
            MemoryOpError::Fault(fault) => write!(f, "XENMEM_machine_memory_map: {fault}"),
            MemoryOpError::BufferTooSmall { nr_entries, needed } => write!(
                f,
                "XENMEM_machine_memory_map: a buffer of {nr_entries} entries is too small, \
                 the map needs {needed} (its entries plus one)"
            ),
        }
    }
}

impl core::error::Error for MemoryOpError {}

impl From<GuestFault> for MemoryOpError {
    fn from(f: GuestFault) -> Self {
        MemoryOpError::Fault(f)
    }
}

/// `memory_op(cmd, arg)` from a guest of width `abi` on a machine whose map is `map`.
pub(super) fn memory_op<M: GuestMemory + ?Sized>(
    map: &[SimE820],
    abi: GuestAbi,
    cmd: u32,
    arg: u64,
    mem: &mut M,
) -> Result<i64, MemoryOpError> {
    if cmd != XENMEM_machine_memory_map {
        return Err(MemoryOpError::UnknownCommand { cmd });
    }
    // Read at the caller's width; written back as read, `nr_entries` changed (as Xen
    // copies its own copy of the argument back, x86_64's padding included).
    let (mut native, mut compat) = (None, None);
    let request = match abi {
        GuestAbi::X86_64 => {
            let m: memory::x86_64::MemoryMap = read_object(mem, arg)?;
            native = Some(m);
            MemoryMapArg {
                nr_entries: m.nr_entries,
                buffer: m.buffer,
            }
        }
        GuestAbi::X86_32 => {
            let m: memory::x86_32::MemoryMap = read_object(mem, arg)?;
            compat = Some(m);
            MemoryMapArg {
                nr_entries: m.nr_entries,
                buffer: u64::from(m.buffer),
            }
        }
    };
    // The map is checked to hold at most SIM_E820_MAX entries.
    let count = u32::try_from(map.len()).unwrap_or(u32::MAX);
    if !request.is_count_only() {
        let needed = count.saturating_add(1);
        if request.nr_entries < needed {
            return Err(MemoryOpError::BufferTooSmall {
                nr_entries: request.nr_entries,
                needed,
            });
        }
        let mut at = request.buffer;
        for e in map {
            mem.write(at, e.entry().as_bytes())?;
            at = at.wrapping_add(E820_ENTRY_SIZE as u64);
        }
    }
    if let Some(mut m) = native {
        m.nr_entries = count;
        write_object(mem, arg, &m)?;
    }
    if let Some(mut m) = compat {
        m.nr_entries = count;
        write_object(mem, arg, &m)?;
    }
    Ok(0)
}
