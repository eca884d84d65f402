// SPDX-License-Identifier: MIT
//! The machine memory map: what `XENMEM_machine_memory_map` answers, in e820 form, and
//! what a loaded kernel is told in its boot_params.

use std::fmt;

use serde::Serialize;
use zerocopy::little_endian::{U32, U64};

/// One e820 entry, 20 bytes packed: the abi crate's, where its layout is asserted and
/// checked against gcc.
pub use xen_kexec_abi::memory::E820Entry;

/// The kind of an e820 range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct E820Type(pub u32);

impl E820Type {
    /// Usable RAM.
    pub const RAM: E820Type = E820Type(1);
    /// Reserved by the firmware.
    pub const RESERVED: E820Type = E820Type(2);
    /// ACPI tables, reclaimable after they are read.
    pub const ACPI: E820Type = E820Type(3);
    /// ACPI non-volatile storage.
    pub const NVS: E820Type = E820Type(4);
    /// Memory with errors.
    pub const UNUSABLE: E820Type = E820Type(5);

    /// The kind's name as Linux prints it, or its number.
    pub fn name(self) -> String {
        match self.0 {
            1 => "RAM".into(),
            2 => "reserved".into(),
            3 => "ACPI".into(),
            4 => "NVS".into(),
            5 => "unusable".into(),
            n => format!("type {n}"),
        }
    }
}

/// A range of the machine memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemRange {
    /// The first address.
    pub start: u64,
    /// The size in bytes (never 0; `start + size` never wraps).
    pub size: u64,
    /// The kind.
    pub kind: E820Type,
}

impl MemRange {
    /// The address one past the end.
    pub fn end(&self) -> u64 {
        self.start + self.size
    }

    /// The range as an e820 entry.
    pub fn entry(&self) -> E820Entry {
        E820Entry {
            addr: U64::new(self.start),
            size: U64::new(self.size),
            kind: U32::new(self.kind.0),
        }
    }

    /// The range of an e820 entry; `None` for an empty one or one that wraps past 2^64.
    pub fn from_entry(e: &E820Entry) -> Option<MemRange> {
        let (start, size) = (e.addr.get(), e.size.get());
        (size != 0 && start.checked_add(size).is_some()).then_some(MemRange {
            start,
            size,
            kind: E820Type(e.kind.get()),
        })
    }
}

impl fmt::Display for MemRange {
    /// `[0x0000000000100000-0x000000001fffffff] RAM`, as Linux prints e820 ranges.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:#018x}-{:#018x}] {}",
            self.start,
            self.end() - 1,
            self.kind.name()
        )
    }
}

impl Serialize for MemRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("MemRange", 4)?;
        st.serialize_field("start", &format!("{:#x}", self.start))?;
        st.serialize_field("size", &format!("{:#x}", self.size))?;
        st.serialize_field("type", &self.kind.0)?;
        st.serialize_field("kind", &self.kind.name())?;
        st.end()
    }
}

impl E820Type {
    /// The kind a `--memory-map` entry names: `ram`, `reserved`, `acpi`, `nvs`,
    /// `unusable`, or its number (decimal or `0x` hex).
    pub fn from_spec(text: &str) -> Option<E820Type> {
        match text {
            "ram" => Some(E820Type::RAM),
            "reserved" => Some(E820Type::RESERVED),
            "acpi" => Some(E820Type::ACPI),
            "nvs" => Some(E820Type::NVS),
            "unusable" => Some(E820Type::UNUSABLE),
            n => crate::num::parse_u32(n).ok().map(E820Type),
        }
    }
}

/// Why a `--memory-map` specification cannot be read: the entry, as written, and what
/// is wrong with it. Bad input: `EINVAL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryMapSpecError {
    /// The entry as written (the whole specification when it is empty).
    pub entry: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl MemoryMapSpecError {
    /// The errno of bad input.
    pub const fn errno(&self) -> xen_kexec_abi::Errno {
        xen_kexec_abi::Errno::EINVAL
    }

    /// The rule's name.
    pub const fn rule(&self) -> &'static str {
        "MemoryMapSpec"
    }
}

impl fmt::Display for MemoryMapSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "memory map entry `{}`: {} (want START:SIZE:KIND,..., KIND one of ram, \
             reserved, acpi, nvs, unusable or a number)",
            self.entry, self.reason
        )
    }
}

impl std::error::Error for MemoryMapSpecError {}

/// Reads a memory map written `START:SIZE:KIND,START:SIZE:KIND,...` (numbers decimal or
/// `0x` hex; KIND as [`E820Type::from_spec`]), e.g.
/// `0x0:0x9fc00:ram,0x100000:0x3fee0000:ram,0xfffc0000:0x40000:reserved`. Each entry must
/// be non-empty and not run past 2^64; order and overlaps are the simulated host's to
/// check.
///
/// # Errors
/// [`MemoryMapSpecError`] naming the first bad entry.
///
/// ```
/// use xen_kexec_toolstack::memmap::{parse_memory_map, E820Type};
/// let map = parse_memory_map("0:0x9fc00:ram,0x9fc00:0x400:reserved").unwrap();
/// assert_eq!((map[1].start, map[1].size, map[1].kind), (0x9fc00, 0x400, E820Type::RESERVED));
/// let err = parse_memory_map("0:0x1000:ram,0x1000:0:ram").unwrap_err();
/// assert_eq!(err.entry, "0x1000:0:ram");
/// ```
pub fn parse_memory_map(spec: &str) -> Result<Vec<MemRange>, MemoryMapSpecError> {
    if spec.trim().is_empty() {
        return Err(MemoryMapSpecError {
            entry: spec.to_owned(),
            reason: "the map has no entries",
        });
    }
    spec.split(',')
        .map(|entry| {
            let bad = |reason| MemoryMapSpecError {
                entry: entry.to_owned(),
                reason,
            };
            let mut parts = entry.trim().split(':');
            let (Some(start), Some(size), Some(kind), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad("is not START:SIZE:KIND"));
            };
            let start = crate::num::parse_u64(start).map_err(|_| bad("START is not a number"))?;
            let size = crate::num::parse_u64(size).map_err(|_| bad("SIZE is not a number"))?;
            let kind = E820Type::from_spec(kind).ok_or_else(|| bad("KIND is not an e820 type"))?;
            MemRange::from_entry(&E820Entry::new(start, size, kind.0)).ok_or_else(|| {
                bad(if size == 0 {
                    "the entry is empty"
                } else {
                    "the entry runs past the top of the address space"
                })
            })
        })
        .collect()
}
