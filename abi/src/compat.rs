// SPDX-License-Identifier: MIT
//! The compat layer: how 32-bit guests' structures relate to 64-bit guests', classified
//! as Xen's `xen/include/xlat.lst` does (Xen 4.23).
//!
//! | structure | class | why |
//! |---|---|---|
//! | exec, unload, status | checked | identical layout, alignment included |
//! | segment, load | checked | same offsets and size; only the alignment differs (4 vs 8) |
//! | range | translated | `unsigned long size, start` are 4 bytes on 32-bit guests |
//!
//! The class of each structure is data in [`crate::layout`] ([`StructDef::compat`]) and is
//! proven at compile time here: a *checked* structure has the same bytes on
//! [`Arch::X86_32`] and [`Arch::X86_64`], a *translated* one does not. Checked structures
//! convert both ways with `From` (a byte-for-byte copy); `range` widens with `From` and
//! narrows with `TryFrom`, refusing with `ERANGE` rather than truncating.
//!
//! **Handles of 32-bit guests.** A handle field is an 8-byte union; a 32-bit guest's
//! compiler writes the 4-byte pointer into its low half and leaves the high half as it
//! was. Converting a checked structure copies all 8 bytes unchanged; the reader of a
//! 32-bit guest's handle takes the low 4 ([`crate::GuestHandle64::addr`] with
//! [`crate::GuestAbi::X86_32`]).
//!
//! [`StructDef::compat`]: crate::layout::StructDef::compat

use zerocopy::transmute;

use crate::error::{Error, RangeField};
use crate::layout::{self, Arch, CompatClass, StructDef};
use crate::{x86_32, x86_64};

// Each structure's class holds. One `const` item, the function inside it: rustc 1.83
// (the MSRV) calls a free function used only in `const_assert!`s dead.
const _: () = {
    const fn class_holds(def: &StructDef) -> bool {
        let same = def.same_bytes(Arch::X86_32, Arch::X86_64);
        match def.compat {
            CompatClass::Checked => same,
            CompatClass::Translated => !same,
        }
    }
    assert!(class_holds(&layout::EXEC));
    assert!(class_holds(&layout::RANGE));
    assert!(class_holds(&layout::SEGMENT));
    assert!(class_holds(&layout::LOAD));
    assert!(class_holds(&layout::UNLOAD));
    assert!(class_holds(&layout::STATUS));
};

impl From<x86_32::KexecSegment> for x86_64::KexecSegment {
    fn from(seg: x86_32::KexecSegment) -> Self {
        transmute!(seg)
    }
}

impl From<x86_64::KexecSegment> for x86_32::KexecSegment {
    fn from(seg: x86_64::KexecSegment) -> Self {
        transmute!(seg)
    }
}

impl From<x86_32::KexecLoad> for x86_64::KexecLoad {
    fn from(load: x86_32::KexecLoad) -> Self {
        transmute!(load)
    }
}

impl From<x86_64::KexecLoad> for x86_32::KexecLoad {
    fn from(load: x86_64::KexecLoad) -> Self {
        transmute!(load)
    }
}

/// Widening a 32-bit guest's range: always exact.
impl From<x86_32::KexecRange> for x86_64::KexecRange {
    fn from(r: x86_32::KexecRange) -> Self {
        x86_64::KexecRange {
            range: r.range,
            nr: r.nr,
            size: u64::from(r.size),
            start: u64::from(r.start),
        }
    }
}

/// Narrowing a range for a 32-bit guest: `ERANGE` ([`Error::RangeTooWide`]) when `size`
/// or `start` does not fit in 32 bits, never a truncated value. `size` is checked first.
impl TryFrom<x86_64::KexecRange> for x86_32::KexecRange {
    type Error = Error;

    fn try_from(r: x86_64::KexecRange) -> Result<Self, Error> {
        let narrow = |field, value: u64| {
            u32::try_from(value).map_err(|_| Error::RangeTooWide { field, value })
        };
        Ok(x86_32::KexecRange {
            range: r.range,
            nr: r.nr,
            size: narrow(RangeField::Size, r.size)?,
            start: narrow(RangeField::Start, r.start)?,
        })
    }
}
