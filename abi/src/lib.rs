// SPDX-License-Identifier: MIT
//! Xen's kexec hypercall ABI (`kexec_op`, hypercall 37), as Rust types that both a
//! hypervisor and a toolstack can build on.
//!
//! Follows `xen/include/public/kexec.h` of Xen 4.23 byte for byte, and fixes the
//! weaknesses of Xen's C where they are behaviour rather than layout (each departure is
//! documented where its check is made).
//!
//! - [`x86_64`]: the structures as a 64-bit guest lays them out (also arm64's layout).
//! - [`x86_32`]: the same structures as a 32-bit guest lays them out (Xen's compat
//!   layouts); both exist in every build, on any host.
//! - [`native`]: the layout of the host this crate is compiled for, for toolstacks.
//! - [`compat`]: which structures are identical for both widths and which is translated,
//!   with the conversions.
//! - [`layout`]: the layout model, the single source of every size, alignment and
//!   offset on x86_32, x86_64, arm32 and arm64; everything else is checked against it.
//! - [`consts`]: Xen's constants under their C names; [`KexecCmd`], [`KexecType`],
//!   [`KexecRangeKind`], [`ElfMachine`] and [`Errno`] are the open enums that carry them.
//! - [`GuestHandle64`]: the 8-byte guest handle union.
//! - [`Error`]: every refusal, with its Xen errno; [`GuestFault`]: a guest memory
//!   access that faulted.
//! - [`decode`]: the hypervisor side of `kexec_op`: each command's argument read once
//!   from [`guest_mem`] at the caller's width, validated by the rules of [`load`] (in
//!   Xen's order) against a [`host`] description; [`get_range`] writes the answer back.
//! - [`encode`]: the toolstack side: the same rules, and the argument bytes for either
//!   width, with its own [`encode::EncodeError`]; [`load_fill`] fills a validated load's
//!   source buffers in without running the rules again. Neither side allocates.
//! - [`memory`]: `memory_op`'s machine memory map (`XENMEM_machine_memory_map`): its
//!   argument in both widths and the e820 entry, kept out of the kexec layout model.
//! - [`zerocopy`] is re-exported: its traits (`FromBytes`, `IntoBytes`) read and write
//!   the structures.
//!
//! No field of an ABI structure is pointer-sized or platform-dependent: every width is
//! explicit, and every byte is a named field (zerocopy's derives refuse hidden padding).
//!
//! ```
//! use xen_kexec_abi::{x86_32, x86_64, KexecRangeKind};
//! use zerocopy::{FromBytes, IntoBytes};
//!
//! // A 32-bit guest's get_range request, as its 16 bytes arrive.
//! let guest = x86_32::KexecRange { range: KexecRangeKind::MA_CRASH, nr: 0, size: 0, start: 0 };
//! let request = x86_32::KexecRange::read_from_bytes(guest.as_bytes()).unwrap();
//! // Widen, answer, narrow back (refused with ERANGE if the answer needs 64 bits).
//! let mut wide = x86_64::KexecRange::from(request);
//! wide.start = 0x0400_0000;
//! wide.size = 0x1000_0000;
//! let reply = x86_32::KexecRange::try_from(wide).unwrap();
//! assert_eq!((reply.start, reply.size), (0x0400_0000, 0x1000_0000));
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Hypervisor code: no path may panic on guest input.
#![warn(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(target_endian = "big")]
compile_error!(
    "Xen's x86 and Arm ABIs are little-endian; this crate models them with native integers"
);

pub mod compat;
pub mod consts;
pub mod decode;
pub mod encode;
mod entry;
mod enums;
mod error;
pub mod get_range;
pub mod guest_mem;
mod handle;
pub mod host;
pub mod layout;
pub mod load;
pub mod load_fill;
pub mod memory;
pub mod open_enum;
pub mod serde_format;
pub mod x86_32;
pub mod x86_64;

pub use entry::EntryMode;
pub use enums::{ElfMachine, Errno, KexecCmd, KexecExecType, KexecRangeKind, KexecType};
pub use error::{Access, DestBound, Error, GuestFault, RangeField};
pub use handle::{ConstVoid, GuestHandle64};
pub use open_enum::OpenEnum;
/// The byte-level traits the structures implement (`FromBytes`, `IntoBytes`, ...), at
/// the version this crate uses.
pub use zerocopy;

/// The structures in the layout of the host this crate is compiled for: a toolstack
/// running in a guest uses these.
///
/// x86_64 and aarch64 hosts get [`x86_64`] (arm64's layout is the same, asserted in the
/// layout model); 32-bit x86 hosts get [`x86_32`]. On other hosts there is no native
/// layout (arm32's alignment differs from x86_32's) and this module is empty: name the
/// guest layout you need explicitly.
pub mod native {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub use crate::x86_64::*;

    #[cfg(target_arch = "x86")]
    pub use crate::x86_32::*;

    /// The [`GuestAbi`](crate::GuestAbi) of this host's layout.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub const GUEST_ABI: crate::GuestAbi = crate::GuestAbi::X86_64;

    /// The [`GuestAbi`](crate::GuestAbi) of this host's layout.
    #[cfg(target_arch = "x86")]
    pub const GUEST_ABI: crate::GuestAbi = crate::GuestAbi::X86_32;
}

/// The width of the guest that makes a hypercall: which layout its arguments have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum GuestAbi {
    /// A 32-bit x86 guest on a 64-bit hypervisor ("32-on-64", compat): [`x86_32`].
    X86_32,
    /// A 64-bit x86 guest: [`x86_64`].
    X86_64,
}

impl GuestAbi {
    /// Both guest ABIs.
    pub const ALL: [GuestAbi; 2] = [GuestAbi::X86_32, GuestAbi::X86_64];

    /// The arch of the layout model that describes this guest's structures.
    pub const fn arch(self) -> layout::Arch {
        match self {
            GuestAbi::X86_32 => layout::Arch::X86_32,
            GuestAbi::X86_64 => layout::Arch::X86_64,
        }
    }

    /// The name used on command lines and in reports (`x86_32`, `x86_64`).
    pub const fn name(self) -> &'static str {
        self.arch().name()
    }

    /// The guest ABI a [`name`](Self::name) names, if one does.
    ///
    /// ```
    /// use xen_kexec_abi::GuestAbi;
    /// assert_eq!(GuestAbi::from_name("x86_32"), Some(GuestAbi::X86_32));
    /// assert_eq!(GuestAbi::from_name("X86_32"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<GuestAbi> {
        GuestAbi::ALL.into_iter().find(|abi| abi.name() == name)
    }
}
