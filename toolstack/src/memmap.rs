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
