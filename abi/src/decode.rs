// SPDX-License-Identifier: MIT
//! The hypervisor side of `kexec_op`: read a guest's argument from its memory, at its
//! width, into a typed, validated [`Operation`], or the exact error to return.
//!
//! Follows Xen 4.23's `do_kexec_op` (`xen/common/kexec.c`) and its compat twin:
//!
//! | `cmd` | argument read | result |
//! |---|---|---|
//! | 0 `KEXEC_CMD_kexec` | `xen_kexec_exec_t` (4 bytes) | [`Operation::Exec`] |
//! | 1, 2 (v1, removed) | nothing | `EOPNOTSUPP` ([`Error::UnsupportedCmd`]) |
//! | 3 `KEXEC_CMD_kexec_get_range` | `xen_kexec_range_t` (16 or 24 bytes) | [`Operation::GetRange`] |
//! | 4 `KEXEC_CMD_kexec_load` | `xen_kexec_load_t`, then the segment array | [`Operation::Load`] |
//! | 5 `KEXEC_CMD_kexec_unload` | `xen_kexec_unload_t` | [`Operation::Unload`] |
//! | 6 `KEXEC_CMD_kexec_status` | `xen_kexec_status_t` | [`Operation::Status`] |
//! | any other | nothing | `EOPNOTSUPP` ([`Error::UnsupportedCmd`]) |
//!
//! **No double fetch.** Every guest object is read exactly once, with one
//! [`GuestMemory::read`]: the argument structure, then (for a load) the whole segment
//! array in one copy into a fixed `[KexecSegment; 16]` buffer. Every check and the
//! returned operation use those copies only, so a guest that rewrites its memory during
//! the hypercall cannot make what was validated differ from what is used. (From this
//! crate's own [`FlatMemory`](crate::guest_mem::FlatMemory) and
//! [`SparseMemory`](crate::guest_mem::SparseMemory), Rust slices nothing can change
//! while they are borrowed, the array is copied segment by segment and each segment
//! checked in registers loaded from the same bytes: the same checks on the same values,
//! faster.) Nothing is read that the decision does not need: unknown commands read
//! nothing, a load with too many or zero segments does not read the segment array. As
//! in Xen, every other rule is checked after the array is copied, so a load whose array
//! cannot be read is `EFAULT` whatever else is wrong with it (see [`crate::load::rules`]
//! for the order).
//!
//! **Types of exec, unload and status.** Xen only acts on a known type (its `switch`
//! falls through to `-EINVAL`); the decoder refuses an unknown one at once with
//! [`Error::UnknownType`] (`EINVAL`), so the hypervisor never sees it.
//!
//! **Widths.** A 32-bit guest's handles are read from the low 4 bytes of their 8-byte
//! field; the upper 4 bytes are ignored (its compiler never writes them). An image's
//! entry mode comes from its `arch` alone. The load rules and their departures from Xen
//! are listed in [`crate::load::rules`].

use zerocopy::{FromBytes, IntoBytes};

use crate::enums::{ElfMachine, KexecCmd};
use crate::get_range::RangeQuery;
use crate::guest_mem::{read_object, GuestMemory, Sealed};
use crate::handle::{ConstVoid, GuestHandle64};
use crate::host::HostDescription;
use crate::load::{
    check_count, check_type, first_broken_of, passes_swept, AsRules, Segment, SegmentList, Sweep,
    ValidatedLoad,
};
use crate::{consts, x86_32, x86_64, Error, GuestAbi, KexecType};

/// A decoded `kexec_op` call, ready for the hypervisor to act on.
///
/// ```
/// use xen_kexec_abi::decode::{decode, Operation};
/// use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
/// use xen_kexec_abi::host::HostDescription;
/// use xen_kexec_abi::{GuestAbi, KexecCmd, KexecType};
///
/// let status = [1u8]; // xen_kexec_status_t { type = KEXEC_TYPE_CRASH }
/// let mut regions = [GuestRegion { base: 0x2000, bytes: &status[..] }];
/// let mut mem = SparseMemory::new(&mut regions).unwrap();
/// let op = decode(GuestAbi::X86_32, KexecCmd::STATUS, 0x2000, &mut mem, &HostDescription::x86(None));
/// assert_eq!(op, Ok(Operation::Status { type_: KexecType::CRASH }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
// A load is ~540 bytes held inline: there is no heap to box it on, and the hypervisor
// keeps the one copy it validated.
#[allow(clippy::large_enum_variant)]
#[non_exhaustive]
pub enum Operation {
    /// `KEXEC_CMD_kexec`: enter the loaded image of this type.
    Exec {
        /// DEFAULT or CRASH.
        #[cfg_attr(feature = "serde", serde(rename = "type"))]
        type_: KexecType,
    },
    /// `KEXEC_CMD_kexec_get_range`: answer with [`RangeQuery::complete`].
    GetRange(RangeQuery),
    /// `KEXEC_CMD_kexec_load`: a load that passed every rule.
    Load(ValidatedLoad),
    /// `KEXEC_CMD_kexec_unload`: unload the image of this type.
    Unload {
        /// DEFAULT or CRASH.
        #[cfg_attr(feature = "serde", serde(rename = "type"))]
        type_: KexecType,
    },
    /// `KEXEC_CMD_kexec_status`: is an image of this type loaded?
    Status {
        /// DEFAULT or CRASH.
        #[cfg_attr(feature = "serde", serde(rename = "type"))]
        type_: KexecType,
    },
}

impl Operation {
    /// The command this operation answers.
    pub const fn cmd(&self) -> KexecCmd {
        match self {
            Operation::Exec { .. } => KexecCmd::KEXEC,
            Operation::GetRange(_) => KexecCmd::GET_RANGE,
            Operation::Load(_) => KexecCmd::LOAD,
            Operation::Unload { .. } => KexecCmd::UNLOAD,
            Operation::Status { .. } => KexecCmd::STATUS,
        }
    }
}

/// Decodes `kexec_op(cmd, arg)` from a guest of width `abi`, validating a load against
/// `host`.
///
/// # Errors
/// [`Error::UnsupportedCmd`] (`EOPNOTSUPP`) for commands 1, 2 and unknown ones;
/// [`Error::GuestFault`] (`EFAULT`) when the argument cannot be read; otherwise the
/// error of the command's decoder ([`exec`], [`get_range`], [`load`], [`unload`],
/// [`status`]).
pub fn decode<M: GuestMemory + ?Sized>(
    abi: GuestAbi,
    cmd: KexecCmd,
    arg: u64,
    mem: &mut M,
    host: &HostDescription,
) -> Result<Operation, Error> {
    match cmd.0 {
        consts::KEXEC_CMD_kexec => exec(mem, arg).map(|type_| Operation::Exec { type_ }),
        consts::KEXEC_CMD_kexec_get_range => get_range(abi, mem, arg).map(Operation::GetRange),
        consts::KEXEC_CMD_kexec_load => {
            // Decoded in place in a value built by stores (no copy of a constant); it is
            // then moved once into the returned `Result` (~540 bytes: see `load_into`
            // for the entry point without that move).
            let mut op = Operation::Load(ValidatedLoad::empty());
            if let Operation::Load(slot) = &mut op {
                slot.decode_load(abi, mem, arg, host)?;
            }
            Ok(op)
        }
        consts::KEXEC_CMD_kexec_unload => unload(mem, arg).map(|type_| Operation::Unload { type_ }),
        consts::KEXEC_CMD_kexec_status => status(mem, arg).map(|type_| Operation::Status { type_ }),
        // The v1 commands (1, 2) were removed in Xen 4.23; anything else never existed.
        _ => Err(Error::UnsupportedCmd { cmd }),
    }
}

/// Reads `xen_kexec_exec_t` (the same 4 bytes for both widths) at `arg`.
///
/// # Errors
/// [`Error::GuestFault`] (`EFAULT`); [`Error::UnknownType`] (`EINVAL`) for an `int type`
/// that is not DEFAULT or CRASH.
pub fn exec<M: GuestMemory + ?Sized>(mem: &mut M, arg: u64) -> Result<KexecType, Error> {
    read_object::<x86_64::KexecExec, M>(mem, arg)?.kexec_type()
}

/// Reads `xen_kexec_unload_t` (1 byte, both widths) at `arg`.
///
/// # Errors
/// [`Error::GuestFault`] (`EFAULT`); [`Error::UnknownType`] (`EINVAL`).
pub fn unload<M: GuestMemory + ?Sized>(mem: &mut M, arg: u64) -> Result<KexecType, Error> {
    check_type(read_object::<x86_64::KexecUnload, M>(mem, arg)?.type_)
}

/// Reads `xen_kexec_status_t` (1 byte, both widths) at `arg`.
///
/// # Errors
/// [`Error::GuestFault`] (`EFAULT`); [`Error::UnknownType`] (`EINVAL`).
pub fn status<M: GuestMemory + ?Sized>(mem: &mut M, arg: u64) -> Result<KexecType, Error> {
    check_type(read_object::<x86_64::KexecStatus, M>(mem, arg)?.type_)
}

/// Reads a load request at `arg` from a guest of width `abi` (the 24-byte load
/// structure, then the segment array, each once) and validates it against `host` with
/// the rules of [`crate::load::rules`].
///
/// # Errors
/// [`Error::GuestFault`] (`EFAULT`) if either read faults; otherwise the first rule
/// broken, in Xen's order (see [`crate::load::rules`]): only the segment count is checked
/// before the segment array is read.
///
/// ```
/// use xen_kexec_abi::decode;
/// use xen_kexec_abi::guest_mem::{GuestRegion, SparseMemory};
/// use xen_kexec_abi::host::HostDescription;
/// use xen_kexec_abi::{x86_32, ElfMachine, Errno, GuestAbi, GuestHandle64, KexecType};
/// use zerocopy::IntoBytes;
///
/// // A 32-bit guest asks for 17 segments: refused before the array is read.
/// let load = x86_32::KexecLoad { type_: KexecType::DEFAULT, _pad: 0, arch: ElfMachine::EM_386,
///     nr_segments: 17, segments: GuestHandle64::from_low32(0x5000), entry_maddr: 0x10_0000 };
/// let mut regions = [GuestRegion { base: 0x4000, bytes: load.as_bytes() }];
/// let mut mem = SparseMemory::new(&mut regions).unwrap();
/// let err = decode::load(GuestAbi::X86_32, &mut mem, 0x4000, &HostDescription::x86(None));
/// assert_eq!(err.unwrap_err().errno(), Errno::EINVAL);
/// ```
pub fn load<M: GuestMemory + ?Sized>(
    abi: GuestAbi,
    mem: &mut M,
    arg: u64,
    host: &HostDescription,
) -> Result<ValidatedLoad, Error> {
    let mut load = ValidatedLoad::empty();
    load.decode_load(abi, mem, arg, host)?;
    Ok(load)
}

/// Storage for [`load_into`]: a validated load's ~540 bytes, kept by the caller across
/// calls so that decoding neither zeroes nor moves them. A hypervisor keeps one per
/// CPU, or one on the stack of its hypercall handler.
///
/// Its contents are read only through the reference [`load_into`] returns; after an
/// error it holds the empty load.
///
/// ```
/// use xen_kexec_abi::decode::{load_into, LoadSlot};
/// use xen_kexec_abi::guest_mem::FlatMemory;
/// use xen_kexec_abi::host::HostDescription;
/// use xen_kexec_abi::load::{LoadRequest, Segment};
/// use xen_kexec_abi::{ElfMachine, GuestAbi, KexecType};
///
/// let mut req = LoadRequest::new(KexecType::DEFAULT, ElfMachine::EM_X86_64, 0x100_0000);
/// req.push_segment(Segment { buf: 0x8000, buf_size: 0x800, dest_maddr: 0x100_0000, dest_size: 0x1000 })?;
/// let host = HostDescription::x86(None);
/// let encoded = req.validate(&host)?.encode(GuestAbi::X86_64, 0x2000).unwrap();
/// let mut page = [0u8; 0x2000];
/// let mut mem = FlatMemory::new(0x1000, &mut page[..]).unwrap();
/// encoded.write_to(&mut mem, 0x1000)?;
///
/// let mut slot = LoadSlot::new();
/// let load = load_into(GuestAbi::X86_64, &mut mem, 0x1000, &host, &mut slot)?;
/// assert_eq!(load.request(), req);
/// # Ok::<(), xen_kexec_abi::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LoadSlot {
    /// A validated load after a successful [`load_into`], the empty load after a
    /// failed one; in between, the decode's work in progress.
    load: ValidatedLoad,
}

impl LoadSlot {
    /// An empty slot.
    pub const fn new() -> LoadSlot {
        LoadSlot {
            load: ValidatedLoad::empty(),
        }
    }
}

impl Default for LoadSlot {
    fn default() -> Self {
        LoadSlot::new()
    }
}

/// [`load`], decoding into `slot`: the segment array is read straight into the slot and
/// validated there, and the answer is a reference to it. The same checks, order and
/// errors as [`load`]; what it saves is zeroing and moving the ~540-byte result.
///
/// # Errors
/// As [`load`]; `slot` then holds the empty load.
pub fn load_into<'s, M: GuestMemory + ?Sized>(
    abi: GuestAbi,
    mem: &mut M,
    arg: u64,
    host: &HostDescription,
    slot: &'s mut LoadSlot,
) -> Result<&'s ValidatedLoad, Error> {
    slot.load.decode_load(abi, mem, arg, host)?;
    Ok(&slot.load)
}

impl ValidatedLoad {
    /// Decodes the load at `arg` into `self`: the load structure is copied, its count
    /// checked, and the segment array read and validated in place (see [`load`]).
    /// After an error `self` is the empty load.
    #[inline]
    fn decode_load<M: GuestMemory + ?Sized>(
        &mut self,
        abi: GuestAbi,
        mem: &mut M,
        arg: u64,
        host: &HostDescription,
    ) -> Result<(), Error> {
        // One copy of the load structure, in the guest's own layout (the bytes are the
        // same for both widths; only the handle is read differently).
        let header = match abi {
            GuestAbi::X86_64 => read_object::<x86_64::KexecLoad, M>(mem, arg),
            GuestAbi::X86_32 => read_object::<x86_32::KexecLoad, M>(mem, arg).map(Into::into),
        };
        let checked = header.map_err(Error::from).and_then(|load| {
            let count = check_count(load.nr_segments, host.profile)?;
            #[allow(clippy::used_underscore_binding)] // Xen's name for the reserved byte
            let pad = host.profile.reserved(load._pad);
            let fields = (load.type_, pad, load.arch, load.entry_maddr);
            self.decode_in_place(mem, abi, host, fields, load.segments.addr(abi), count)
        });
        if checked.is_err() {
            *self = ValidatedLoad::empty();
        }
        checked
    }
}

// Copying a guest's segment array: each byte read once, straight into the load being
// decoded, and swept by the fast path of the load rules as it is copied.
impl ValidatedLoad {
    /// The decoder's path: makes `self` the load of `type_`, `arch`, `entry_maddr`, the
    /// `count` segments of a guest of width `abi` at `segments_addr` (read straight into
    /// `self`, no copy, no zeroing) and the reserved byte `reserved`, if it passes every
    /// rule against `host`.
    ///
    /// # Errors
    /// The read's fault, or the first rule broken. `self` is then [`Self::empty`].
    #[inline]
    fn decode_in_place<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        abi: GuestAbi,
        host: &HostDescription,
        (type_, reserved, arch, entry_maddr): (KexecType, u8, ElfMachine, u64),
        segments_addr: u64,
        count: usize,
    ) -> Result<(), Error> {
        // The header's fields go into `self` at once, so that only `self` is live across
        // the read of the array.
        self.type_ = type_;
        self.arch = arch;
        self.entry_maddr = entry_maddr;
        let mut sweep = Sweep::new();
        let checked =
            match self
                .segments
                .read_from_guest(mem, abi, segments_addr, count, &mut sweep)
            {
                Ok(()) => match passes_swept(self.rules(), &sweep, host, reserved) {
                    Some(mode) => Ok(mode),
                    None => first_broken_of(&*self, host, reserved),
                },
                Err(e) => Err(e),
            };
        match checked {
            Ok(entry_mode) => {
                self.entry_mode = entry_mode;
                Ok(())
            }
            Err(e) => {
                *self = ValidatedLoad::empty();
                Err(e)
            }
        }
    }
}

impl SegmentList {
    /// Reads `count` (at most 16) segments of a guest of width `abi` at `addr` into this
    /// list, replacing its contents, with one read straight into its storage: a guest's
    /// segment array has the bytes of a `[Segment]` except that a 32-bit guest's `buf` is
    /// only its low 4 bytes, which are then kept and the upper 4 ignored. Nothing is
    /// zeroed first: the read overwrites the `count` entries it fills, and the others are
    /// not part of the list. On an error the list is empty.
    #[inline]
    fn read_from_guest<M: GuestMemory + ?Sized>(
        &mut self,
        mem: &mut M,
        abi: GuestAbi,
        addr: u64,
        count: usize,
        sweep: &mut Sweep,
    ) -> Result<(), Error> {
        self.len = 0;
        let (Some(wanted), Ok(len)) = (self.items.get_mut(..count), u8::try_from(count)) else {
            return Err(Error::TooManySegments {
                nr: u32::try_from(count).unwrap_or(u32::MAX),
            });
        };
        if wanted.is_empty() {
            // Nothing to read.
        } else if let Some(src) = mem
            .lend(addr, size_of_val(wanted), Sealed(()))
            // Every byte asked for, or none: no segment may go unchecked.
            .filter(|src| src.len() == size_of_val(wanted))
        {
            // Memory of this crate's own (see `GuestMemory::lend`), which nothing can
            // change while it is lent: each segment copied as bytes, and swept from
            // registers loaded from the same bytes, in one pass. (The same instruction
            // count as storing the four words it loads, and measured faster: see the
            // README's benchmarks.)
            //
            // The upper half of a 32-bit guest's handle is not its: zeroed in place, which
            // leaves `GuestHandle64::addr` of the handle (as the copying path below does).
            // A store, not a mask on the copied value: the mask measured slower. Two loops,
            // not one that tests the width: the compiler then calls `memset` per segment.
            let pairs = wanted
                .iter_mut()
                .zip(src.chunks_exact(size_of::<Segment>()));
            if abi == GuestAbi::X86_32 {
                let upper = if cfg!(target_endian = "little") {
                    4..8
                } else {
                    0..4
                };
                for (seg, bytes) in pairs {
                    seg.as_mut_bytes().copy_from_slice(bytes);
                    if let Some(half) = seg.as_mut_bytes().get_mut(upper.clone()) {
                        half.fill(0);
                    }
                    if let Ok(value) = Segment::read_from_bytes(bytes) {
                        sweep.add(&value);
                    }
                }
            } else {
                for (seg, bytes) in pairs {
                    seg.as_mut_bytes().copy_from_slice(bytes);
                    if let Ok(value) = Segment::read_from_bytes(bytes) {
                        sweep.add(&value);
                    }
                }
            }
        } else {
            // Any other memory: one copy, then the sweep over the copy.
            mem.read(addr, wanted.as_mut_bytes())?;
            if abi == GuestAbi::X86_32 {
                for seg in wanted.iter_mut() {
                    seg.buf = GuestHandle64::<ConstVoid>::from_raw(seg.buf).addr(abi);
                }
            }
            sweep.add_all(wanted);
        }
        self.len = len;
        Ok(())
    }
}

/// Reads `xen_kexec_range_t` at `arg` in the layout of `abi`.
///
/// # Errors
/// [`Error::GuestFault`] (`EFAULT`); [`Error::UnknownRangeKind`] (`EINVAL`) for a
/// `range` that is not a defined `KEXEC_RANGE_MA_*` value. Whether the host can answer a
/// defined kind (a CPU number, an obsolete kind) is the host's decision.
pub fn get_range<M: GuestMemory + ?Sized>(
    abi: GuestAbi,
    mem: &mut M,
    arg: u64,
) -> Result<RangeQuery, Error> {
    RangeQuery::read(abi, mem, arg)
}
