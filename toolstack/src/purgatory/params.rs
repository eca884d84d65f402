// SPDX-License-Identifier: MIT
//! The purgatory's parameter block: what the toolstack patches into the purgatory image
//! before it is loaded, and what the purgatory reads when Xen enters it.
//!
//! This file is the one definition of that contract. The toolstack compiles it as
//! `xen_kexec_toolstack::purgatory::params`; the purgatory crate (`purgatory/`, built
//! for `x86_64-unknown-none`) includes the same file with `#[path]`. It uses only `core`
//! and zerocopy, so it builds in both.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The first bytes of a filled-in block; the purgatory halts on anything else.
pub const MAGIC: [u8; 8] = *b"XKPURG01";

/// The most regions whose digests one block carries (one per hashed segment; an image
/// has at most 16 segments).
pub const MAX_REGIONS: usize = 16;

/// The most note areas the purgatory copies (see [`Params::copies`]).
pub const MAX_COPIES: usize = 8;

/// [`Params::flags`]: check every region's SHA-256 digest before entering the kernel.
pub const FLAG_VERIFY: u32 = 1;

/// The symbol that names the block in the purgatory's ELF file.
pub const SYMBOL: &str = "purgatory_params";

/// One loaded range and the SHA-256 digest of its bytes as loaded.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Region {
    /// The first machine address.
    pub start: u64,
    /// The length in bytes.
    pub len: u64,
    /// SHA-256 of the `len` bytes at `start`.
    pub sha256: [u8; 32],
}

/// A copy the purgatory makes after the checks: `len` bytes from `src` to `dst`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Copy {
    /// The first machine address read.
    pub src: u64,
    /// The first machine address written.
    pub dst: u64,
    /// The length in bytes.
    pub len: u64,
}

/// The parameter block (`purgatory_params` in the purgatory's `.data`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct Params {
    /// [`MAGIC`] once filled in.
    pub magic: [u8; 8],
    /// Where the purgatory jumps last: Linux's 64-bit entry (load address + 0x200).
    pub entry: u64,
    /// The machine address of the kernel's `boot_params` (zero page), passed in RSI.
    pub boot_params: u64,
    /// Where the backup copy comes from (a crash kernel: machine address 0).
    pub backup_src: u64,
    /// Where it goes (the backup segment).
    pub backup_dst: u64,
    /// How many bytes to copy (0: no backup).
    pub backup_len: u64,
    /// [`FLAG_VERIFY`], or 0.
    pub flags: u32,
    /// How many of `regions` are in use.
    pub nr_regions: u32,
    /// The I/O port of the serial line to report on (0x3f8 for COM1), or 0 for none.
    pub serial_port: u16,
    /// Zero.
    pub pad: [u8; 6],
    /// The regions to check, the first `nr_regions` of them.
    pub regions: [Region; MAX_REGIONS],
    /// How many of `copies` are in use.
    pub nr_copies: u32,
    /// Zero.
    pub pad2: u32,
    /// Copies made after the checks and the backup: a crash kernel's notes, from where
    /// Xen keeps them to beside the core header, followed there by zeros (so that
    /// Linux's note reader finds their end inside its buffer).
    pub copies: [Copy; MAX_COPIES],
}

impl Params {
    /// The block as the purgatory is built: no magic, nothing to do.
    pub const EMPTY: Params = Params {
        magic: [0; 8],
        entry: 0,
        boot_params: 0,
        backup_src: 0,
        backup_dst: 0,
        backup_len: 0,
        flags: 0,
        nr_regions: 0,
        serial_port: 0,
        pad: [0; 6],
        regions: [Region {
            start: 0,
            len: 0,
            sha256: [0; 32],
        }; MAX_REGIONS],
        nr_copies: 0,
        pad2: 0,
        copies: [Copy {
            src: 0,
            dst: 0,
            len: 0,
        }; MAX_COPIES],
    };
}

// The entry assembly reads `entry` and `boot_params` at these offsets.
const _: () = assert!(core::mem::offset_of!(Params, entry) == 8);
const _: () = assert!(core::mem::offset_of!(Params, boot_params) == 16);
const _: () = assert!(size_of::<Region>() == 48);
const _: () = assert!(size_of::<Params>() == 64 + 48 * MAX_REGIONS + 8 + 24 * MAX_COPIES);
