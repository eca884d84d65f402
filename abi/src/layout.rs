// SPDX-License-Identifier: MIT
//! The layout model: the single source of truth for every layout fact of the ABI.
//!
//! Each structure is described once, as Xen's C declares it: its fields in order, each
//! with its C type ([`CType`]). Each Xen arch ([`Arch`]) says how big and how aligned
//! those C types are. Offsets, sizes, alignments, holes and padding then follow from the
//! C struct layout rules, computed by `const fn`s, for all four arches.
//!
//! Everything else is derived from or checked against this model:
//! - compile-time assertions next to each Rust structure (see [`crate::x86_64`] and
//!   [`crate::x86_32`]) check size, alignment and every field's offset and size;
//! - the header generator renders its C layout checks and `docs/layout.md` from it;
//! - a test pins the model's numbers to the table of the facts sheet.
//!
//! ```
//! use xen_kexec_abi::layout::{Arch, RANGE};
//! assert_eq!(RANGE.size(Arch::X86_32), 16);
//! assert_eq!(RANGE.size(Arch::X86_64), 24);
//! assert_eq!(RANGE.field("start").map(|f| f.offset(Arch::X86_32)), Some(12));
//! ```

// The model is evaluated over its own static tables, mostly at compile time, where an
// out-of-range index is a build error; no guest input reaches it.
#![allow(clippy::indexing_slicing, clippy::panic)]

mod check;
pub(crate) use check::{assert_layout, sealed};
pub use check::{signed_of_return, size_of_return, AbiField};

/// A Xen architecture whose C compilers lay out the public headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// 32-bit x86 (i386 System V): `unsigned long` and pointers 4 bytes, a `uint64_t`
    /// member aligned to 4.
    X86_32,
    /// 64-bit x86 (LP64): `unsigned long` and pointers 8 bytes, `uint64_t` aligned to 8.
    X86_64,
    /// 32-bit Arm (AAPCS): `unsigned long` 4 bytes, `uint64_t` aligned to 8; Xen's guest
    /// handles are 64 bits.
    Arm32,
    /// 64-bit Arm (LP64, AAPCS64).
    Arm64,
}

impl Arch {
    /// Every arch, in the order reports list them.
    pub const ALL: [Arch; 4] = [Arch::X86_32, Arch::X86_64, Arch::Arm32, Arch::Arm64];

    /// The arch's name as Xen and this project spell it (`x86_32`, `x86_64`, `arm32`,
    /// `arm64`).
    pub const fn name(self) -> &'static str {
        match self {
            Arch::X86_32 => "x86_32",
            Arch::X86_64 => "x86_64",
            Arch::Arm32 => "arm32",
            Arch::Arm64 => "arm64",
        }
    }

    /// The arch named `name` (the inverse of [`name`](Self::name)).
    pub fn from_name(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The size in bytes of `unsigned long` (and of a pointer) on this arch.
    pub const fn long_size(self) -> usize {
        match self {
            Arch::X86_32 | Arch::Arm32 => 4,
            Arch::X86_64 | Arch::Arm64 => 8,
        }
    }

    /// The alignment of a `uint64_t` structure member on this arch.
    pub const fn u64_align(self) -> usize {
        match self {
            Arch::X86_32 => 4,
            Arch::X86_64 | Arch::Arm32 | Arch::Arm64 => 8,
        }
    }
}

/// The C type of a field, as Xen's `kexec.h` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CType {
    /// `int`: 4 bytes, aligned to 4, on every arch.
    Int,
    /// `unsigned long`: the guest's word, 4 or 8 bytes.
    UnsignedLong,
    /// `uint8_t`.
    U8,
    /// `uint16_t`.
    U16,
    /// `uint32_t`.
    U32,
    /// `uint64_t`.
    U64,
    /// `union { XEN_GUEST_HANDLE(pointee) h; uint64_t _pad; }`: 8 bytes, aligned as a
    /// `uint64_t` member. Holds the C name of the pointee type.
    Handle(&'static str),
}

impl CType {
    /// The size of this type on `arch`.
    pub const fn size(self, arch: Arch) -> usize {
        match self {
            CType::U8 => 1,
            CType::U16 => 2,
            CType::Int | CType::U32 => 4,
            CType::UnsignedLong => arch.long_size(),
            CType::U64 | CType::Handle(_) => 8,
        }
    }

    /// The alignment of this type as a structure member on `arch`.
    pub const fn align(self, arch: Arch) -> usize {
        match self {
            CType::U64 | CType::Handle(_) => arch.u64_align(),
            other => other.size(arch),
        }
    }

    /// Whether C reads this type as signed: only `int` is. The layout assertions require
    /// each Rust field to agree ([`AbiField::SIGNED`]).
    pub const fn is_signed(self) -> bool {
        matches!(self, CType::Int)
    }
}

/// One field of a structure: its C name and C type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field's C name (the Rust field is the same, but `type` is `type_`).
    pub name: &'static str,
    /// The field's C type.
    pub ctype: CType,
    /// The field's index in its structure.
    pub index: usize,
    /// The structure the field belongs to.
    pub parent: &'static StructDef,
}

impl Field {
    /// The field's offset on `arch`.
    pub const fn offset(&self, arch: Arch) -> usize {
        self.parent.offset_of(self.index, arch)
    }

    /// The field's size on `arch`.
    pub const fn size(&self, arch: Arch) -> usize {
        self.ctype.size(arch)
    }
}

/// How Xen's compat layer (`xen/include/xlat.lst`) treats a structure for 32-bit guests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompatClass {
    /// *Checked*: field offsets and the size are the same for 32- and 64-bit guests
    /// (alignment may differ), so the bytes are used as they are.
    Checked,
    /// *Translated*: the 32-bit layout differs and is converted field by field.
    Translated,
}

/// One ABI structure as Xen's C declares it.
#[derive(Debug, PartialEq, Eq)]
pub struct StructDef {
    /// The C structure tag (`xen_kexec_load`); the typedef adds `_t`.
    pub c_name: &'static str,
    /// The Rust type that implements it (`KexecLoad`).
    pub rust_name: &'static str,
    /// The fields, in ABI order: (C name, C type).
    pub fields: &'static [(&'static str, CType)],
    /// Whether Xen's header declares `DEFINE_XEN_GUEST_HANDLE` for it.
    pub guest_handle: bool,
    /// How the compat layer treats it.
    pub compat: CompatClass,
}

impl StructDef {
    /// The number of fields.
    pub const fn len(&self) -> usize {
        self.fields.len()
    }

    /// Always false: every ABI structure has fields.
    pub const fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The C typedef name (`xen_kexec_load_t`), as a pair of parts to concatenate.
    pub const fn typedef_parts(&self) -> (&'static str, &'static str) {
        (self.c_name, "_t")
    }

    /// The field at `index`, with its layout accessors.
    ///
    /// # Panics
    /// If `index` is out of range (a programming error in a caller iterating the model).
    pub const fn field_at(&'static self, index: usize) -> Field {
        let (name, ctype) = self.fields[index];
        Field {
            name,
            ctype,
            index,
            parent: self,
        }
    }

    /// The field named `name`, if the structure has one.
    pub const fn field(&'static self, name: &str) -> Option<Field> {
        match self.field_index(name) {
            Some(i) => Some(self.field_at(i)),
            None => None,
        }
    }

    /// Every field, in order.
    pub fn iter(&'static self) -> impl Iterator<Item = Field> {
        (0..self.len()).map(move |i| self.field_at(i))
    }

    /// The index of the field named `name` (usable in constant expressions).
    pub const fn field_index(&self, name: &str) -> Option<usize> {
        let mut i = 0;
        while i < self.fields.len() {
            if str_eq(self.fields[i].0, name) {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// The offset of field `index` on `arch`: each field at the next multiple of its
    /// alignment after the previous one.
    pub const fn offset_of(&self, index: usize, arch: Arch) -> usize {
        let mut offset = 0;
        let mut i = 0;
        loop {
            let ctype = self.fields[i].1;
            offset = round_up(offset, ctype.align(arch));
            if i == index {
                return offset;
            }
            offset += ctype.size(arch);
            i += 1;
        }
    }

    /// The structure's alignment on `arch`: the largest member alignment.
    pub const fn align(&self, arch: Arch) -> usize {
        let mut align = 1;
        let mut i = 0;
        while i < self.fields.len() {
            let a = self.fields[i].1.align(arch);
            if a > align {
                align = a;
            }
            i += 1;
        }
        align
    }

    /// The structure's size on `arch`: the end of the last field rounded up to the
    /// alignment.
    pub const fn size(&self, arch: Arch) -> usize {
        let last = self.fields.len() - 1;
        let end = self.offset_of(last, arch) + self.fields[last].1.size(arch);
        round_up(end, self.align(arch))
    }

    /// The bytes of padding (holes and tail) on `arch`; every ABI structure has none.
    pub const fn padding(&self, arch: Arch) -> usize {
        let mut used = 0;
        let mut i = 0;
        while i < self.fields.len() {
            used += self.fields[i].1.size(arch);
            i += 1;
        }
        self.size(arch) - used
    }

    /// Whether the size and every field's offset and size are the same on `a` and `b`
    /// (the alignment may differ): the condition for a *checked* compat structure.
    pub const fn same_bytes(&self, a: Arch, b: Arch) -> bool {
        if self.size(a) != self.size(b) {
            return false;
        }
        let mut i = 0;
        while i < self.fields.len() {
            if self.offset_of(i, a) != self.offset_of(i, b)
                || self.fields[i].1.size(a) != self.fields[i].1.size(b)
            {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Whether size, alignment and every offset are the same on `a` and `b`.
    pub const fn same_layout(&self, a: Arch, b: Arch) -> bool {
        self.same_bytes(a, b) && self.align(a) == self.align(b)
    }
}

const fn round_up(value: usize, align: usize) -> usize {
    value.div_ceil(align) * align
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `xen_kexec_exec_t { int type; }`.
pub static EXEC: StructDef = StructDef {
    c_name: "xen_kexec_exec",
    rust_name: "KexecExec",
    fields: &[("type", CType::Int)],
    guest_handle: false,
    compat: CompatClass::Checked,
};

/// `xen_kexec_range_t { int range; int nr; unsigned long size; unsigned long start; }`.
pub static RANGE: StructDef = StructDef {
    c_name: "xen_kexec_range",
    rust_name: "KexecRange",
    fields: &[
        ("range", CType::Int),
        ("nr", CType::Int),
        ("size", CType::UnsignedLong),
        ("start", CType::UnsignedLong),
    ],
    guest_handle: false,
    compat: CompatClass::Translated,
};

/// `xen_kexec_segment_t { union { XEN_GUEST_HANDLE(const_void) h; uint64_t _pad; } buf;
/// uint64_t buf_size; uint64_t dest_maddr; uint64_t dest_size; }`.
pub static SEGMENT: StructDef = StructDef {
    c_name: "xen_kexec_segment",
    rust_name: "KexecSegment",
    fields: &[
        ("buf", CType::Handle("const_void")),
        ("buf_size", CType::U64),
        ("dest_maddr", CType::U64),
        ("dest_size", CType::U64),
    ],
    guest_handle: true,
    compat: CompatClass::Checked,
};

/// `xen_kexec_load_t { uint8_t type; uint8_t _pad; uint16_t arch; uint32_t nr_segments;
/// union { XEN_GUEST_HANDLE(xen_kexec_segment_t) h; uint64_t _pad; } segments;
/// uint64_t entry_maddr; }`.
pub static LOAD: StructDef = StructDef {
    c_name: "xen_kexec_load",
    rust_name: "KexecLoad",
    fields: &[
        ("type", CType::U8),
        ("_pad", CType::U8),
        ("arch", CType::U16),
        ("nr_segments", CType::U32),
        ("segments", CType::Handle("xen_kexec_segment_t")),
        ("entry_maddr", CType::U64),
    ],
    guest_handle: true,
    compat: CompatClass::Checked,
};

/// `xen_kexec_unload_t { uint8_t type; }`.
pub static UNLOAD: StructDef = StructDef {
    c_name: "xen_kexec_unload",
    rust_name: "KexecUnload",
    fields: &[("type", CType::U8)],
    guest_handle: true,
    compat: CompatClass::Checked,
};

/// `xen_kexec_status_t { uint8_t type; }`.
pub static STATUS: StructDef = StructDef {
    c_name: "xen_kexec_status",
    rust_name: "KexecStatus",
    fields: &[("type", CType::U8)],
    guest_handle: true,
    compat: CompatClass::Checked,
};

/// Every ABI structure, in the order Xen's header declares them.
pub static ALL: [&StructDef; 6] = [&EXEC, &RANGE, &SEGMENT, &LOAD, &UNLOAD, &STATUS];
