// SPDX-License-Identifier: MIT
//! The crate's error: what was wrong, and the Xen errno the hypercall returns for it.

use core::fmt;

use crate::enums::{ElfMachine, Errno, KexecCmd, KexecRangeKind};

/// Which field of `xen_kexec_range_t` an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RangeField {
    /// `size`.
    Size,
    /// `start`.
    Start,
}

impl RangeField {
    /// The C field name.
    pub const fn c_name(self) -> &'static str {
        match self {
            RangeField::Size => "size",
            RangeField::Start => "start",
        }
    }
}

/// Whether a guest memory access was a read or a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Access {
    /// Copying from the guest (`copy_from_guest`).
    Read,
    /// Copying to the guest (`copy_to_guest`).
    Write,
}

impl Access {
    /// `"read"` or `"write"`.
    pub const fn verb(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// Which end of a segment's destination `[dest_maddr, dest_maddr + dest_size)` an error
/// is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DestBound {
    /// `dest_maddr`, the first byte.
    Start,
    /// `dest_maddr + dest_size`, one past the last byte.
    End,
}

impl DestBound {
    /// How the C code names this bound.
    pub const fn c_expr(self) -> &'static str {
        match self {
            DestBound::Start => "dest_maddr",
            DestBound::End => "dest_maddr + dest_size",
        }
    }
}

/// A guest memory access that could not be made in full (`EFAULT`): some byte of
/// `[addr, addr + len)` is not backed, or the range wraps past 2^64. What
/// [`GuestMemory`](crate::guest_mem::GuestMemory) returns; it becomes
/// [`Error::GuestFault`] in the decoder's answers.
///
/// ```
/// use xen_kexec_abi::{Access, Errno, GuestFault};
/// let fault = GuestFault { addr: 0x1000, len: 24, access: Access::Read };
/// assert_eq!(fault.errno(), Errno::EFAULT);
/// assert_eq!(fault.to_string(), "cannot read 24 bytes of guest memory at 0x1000");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GuestFault {
    /// The guest address of the access.
    pub addr: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Read or write.
    pub access: Access,
}

impl GuestFault {
    /// The fault of an access of `len` bytes at `addr`.
    pub fn new(addr: u64, len: usize, access: Access) -> GuestFault {
        GuestFault {
            addr,
            len: u64::try_from(len).unwrap_or(u64::MAX),
            access,
        }
    }

    /// Always `EFAULT`.
    pub const fn errno(&self) -> Errno {
        Errno::EFAULT
    }

    /// Always `"GuestFault"`: the name of the rule, as [`Error::rule`] gives it for
    /// [`Error::GuestFault`].
    pub const fn rule(&self) -> &'static str {
        "GuestFault"
    }
}

impl fmt::Display for GuestFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} {} bytes of guest memory at {:#x}",
            self.access.verb(),
            self.len,
            self.addr
        )
    }
}

impl core::error::Error for GuestFault {}

impl From<GuestFault> for Error {
    fn from(fault: GuestFault) -> Self {
        Error::GuestFault(fault)
    }
}

/// Everything this crate refuses, each with exactly one Xen errno ([`Error::errno`]).
///
/// Small and `Copy`, so a hypervisor can return it from any path without allocating.
/// `Display` says what was wrong in words; [`Error::to_hypercall_ret`] gives the value
/// `kexec_op` returns.
///
/// ```
/// use xen_kexec_abi::{ElfMachine, Error, Errno};
/// let e = Error::UnsupportedArch { arch: ElfMachine(40) };
/// assert_eq!(e.errno(), Errno::EINVAL);
/// assert_eq!(e.to_hypercall_ret(), -22);
/// assert_eq!(e.to_string(), "arch ElfMachine(40) is neither EM_386 nor EM_X86_64");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Error {
    /// A range's `size` or `start` does not fit in a 32-bit guest's `unsigned long`
    /// (`ERANGE`).
    RangeTooWide {
        /// The field that does not fit.
        field: RangeField,
        /// Its 64-bit value.
        value: u64,
    },
    /// An image's ELF machine is neither `EM_386` nor `EM_X86_64` (`EINVAL`).
    UnsupportedArch {
        /// The machine the image names.
        arch: ElfMachine,
    },
    /// A `type` is neither `KEXEC_TYPE_DEFAULT` nor `KEXEC_TYPE_CRASH` (`EINVAL`).
    UnknownType {
        /// The value found (the C `int` of `exec`, or a `uint8_t` widened).
        value: i32,
    },
    /// Guest memory could not be read or written (`EFAULT`).
    GuestFault(GuestFault),
    /// A command this ABI does not offer (`EOPNOTSUPP`): an unknown number, or one of the
    /// v1 commands (1, 2) removed in Xen 4.23.
    UnsupportedCmd {
        /// The command the guest passed.
        cmd: KexecCmd,
    },
    /// `KEXEC_CMD_kexec_get_range` names a range kind this ABI does not define
    /// (`EINVAL`, as Xen's lookup answers).
    UnknownRangeKind {
        /// The kind the guest passed.
        range: KexecRangeKind,
    },
    /// The reserved `_pad` byte of the load structure is not zero (`EINVAL`). Xen does
    /// not check it; this crate does (see [`crate::load`]).
    ReservedNotZero {
        /// The value found.
        value: u8,
    },
    /// `nr_segments` exceeds `KEXEC_SEGMENT_MAX` (`EINVAL`).
    TooManySegments {
        /// The number the request carries (for a builder, the count it would reach).
        nr: u32,
    },
    /// A segment's `dest_maddr + dest_size` wraps past 2^64 (`EADDRNOTAVAIL`).
    SegmentWraps {
        /// The segment's index.
        segment: u8,
        /// Its `dest_maddr`.
        dest_maddr: u64,
        /// Its `dest_size`.
        dest_size: u64,
    },
    /// A bound of a segment's destination is not page aligned (`EADDRNOTAVAIL`).
    SegmentMisaligned {
        /// The segment's index.
        segment: u8,
        /// Which bound.
        bound: DestBound,
        /// Its value.
        addr: u64,
    },
    /// A segment's `buf_size` exceeds its `dest_size` (`EINVAL`).
    BufferExceedsDest {
        /// The segment's index.
        segment: u8,
        /// Its `buf_size`.
        buf_size: u64,
        /// Its `dest_size`.
        dest_size: u64,
    },
    /// The destinations of two segments overlap (`EINVAL`); `first < second`.
    SegmentsOverlap {
        /// The index of the earlier segment.
        first: u8,
        /// The index of the later segment.
        second: u8,
    },
    /// A crash image was loaded on a host that reserves no crash region
    /// (`EADDRNOTAVAIL`).
    NoCrashRegion,
    /// A crash image's segment with a source buffer has a destination outside the crash
    /// region (`EADDRNOTAVAIL`).
    CrashSegmentOutside {
        /// The segment's index.
        segment: u8,
        /// Its `dest_maddr`.
        dest_maddr: u64,
        /// Its `dest_size`.
        dest_size: u64,
    },
    /// A crash image's entry point is outside `[start, start + size)` of the crash
    /// region (`EADDRNOTAVAIL`).
    CrashEntryOutside {
        /// The `entry_maddr` of the request.
        entry: u64,
    },
}

impl Error {
    /// The Xen errno of this error: one errno per variant.
    pub const fn errno(&self) -> Errno {
        match self {
            Error::RangeTooWide { .. } => Errno::ERANGE,
            Error::UnsupportedArch { .. }
            | Error::UnknownType { .. }
            | Error::UnknownRangeKind { .. }
            | Error::ReservedNotZero { .. }
            | Error::TooManySegments { .. }
            | Error::BufferExceedsDest { .. }
            | Error::SegmentsOverlap { .. } => Errno::EINVAL,
            Error::GuestFault(_) => Errno::EFAULT,
            Error::UnsupportedCmd { .. } => Errno::EOPNOTSUPP,
            Error::SegmentWraps { .. }
            | Error::SegmentMisaligned { .. }
            | Error::NoCrashRegion
            | Error::CrashSegmentOutside { .. }
            | Error::CrashEntryOutside { .. } => Errno::EADDRNOTAVAIL,
        }
    }

    /// The name of the rule broken: the variant's name, which is also its serde tag
    /// (`{"SegmentsOverlap": {...}}`), so reports that name the rule and the serialized
    /// error agree.
    ///
    /// ```
    /// use xen_kexec_abi::Error;
    /// assert_eq!(Error::SegmentsOverlap { first: 1, second: 4 }.rule(), "SegmentsOverlap");
    /// assert_eq!(Error::NoCrashRegion.rule(), "NoCrashRegion");
    /// ```
    pub const fn rule(&self) -> &'static str {
        match self {
            Error::RangeTooWide { .. } => "RangeTooWide",
            Error::UnsupportedArch { .. } => "UnsupportedArch",
            Error::UnknownType { .. } => "UnknownType",
            Error::GuestFault(_) => "GuestFault",
            Error::UnsupportedCmd { .. } => "UnsupportedCmd",
            Error::UnknownRangeKind { .. } => "UnknownRangeKind",
            Error::ReservedNotZero { .. } => "ReservedNotZero",
            Error::TooManySegments { .. } => "TooManySegments",
            Error::SegmentWraps { .. } => "SegmentWraps",
            Error::SegmentMisaligned { .. } => "SegmentMisaligned",
            Error::BufferExceedsDest { .. } => "BufferExceedsDest",
            Error::SegmentsOverlap { .. } => "SegmentsOverlap",
            Error::NoCrashRegion => "NoCrashRegion",
            Error::CrashSegmentOutside { .. } => "CrashSegmentOutside",
            Error::CrashEntryOutside { .. } => "CrashEntryOutside",
        }
    }

    /// The index of the segment this error is about, if it is about one segment (for
    /// [`Error::SegmentsOverlap`], the later of the two).
    ///
    /// ```
    /// use xen_kexec_abi::Error;
    /// assert_eq!(Error::SegmentsOverlap { first: 1, second: 4 }.segment(), Some(4));
    /// assert_eq!(Error::NoCrashRegion.segment(), None);
    /// ```
    pub const fn segment(&self) -> Option<u8> {
        match *self {
            Error::SegmentWraps { segment, .. }
            | Error::SegmentMisaligned { segment, .. }
            | Error::BufferExceedsDest { segment, .. }
            | Error::CrashSegmentOutside { segment, .. }
            | Error::SegmentsOverlap {
                second: segment, ..
            } => Some(segment),
            _ => None,
        }
    }

    /// What `kexec_op` returns for this error: the errno negated.
    pub const fn to_hypercall_ret(&self) -> i64 {
        self.errno().to_hypercall_ret()
    }
}

impl From<Error> for Errno {
    fn from(e: Error) -> Self {
        e.errno()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::RangeTooWide { field, value } => write!(
                f,
                "range {} {value:#x} does not fit in a 32-bit guest's unsigned long",
                field.c_name()
            ),
            Error::UnsupportedArch { arch } => {
                write!(f, "arch {arch:?} is neither EM_386 nor EM_X86_64")
            }
            Error::UnknownType { value } => write!(
                f,
                "type {value} is neither KEXEC_TYPE_DEFAULT nor KEXEC_TYPE_CRASH"
            ),
            Error::GuestFault(fault) => fault.fmt(f),
            Error::UnsupportedCmd { cmd } => match cmd {
                KexecCmd::LOAD_V1 | KexecCmd::UNLOAD_V1 => {
                    write!(f, "command {cmd:?} was removed in Xen 4.23")
                }
                _ => write!(f, "command {cmd:?} is not a kexec_op command"),
            },
            Error::UnknownRangeKind { range } => {
                write!(f, "range {range:?} is not a KEXEC_RANGE_MA_* value")
            }
            Error::ReservedNotZero { value } => {
                write!(f, "reserved load _pad is {value:#x}, not zero")
            }
            Error::TooManySegments { nr } => write!(
                f,
                "nr_segments {nr} exceeds KEXEC_SEGMENT_MAX ({})",
                crate::consts::KEXEC_SEGMENT_MAX
            ),
            Error::SegmentWraps {
                segment,
                dest_maddr,
                dest_size,
            } => write!(
                f,
                "segment {segment}: dest_maddr {dest_maddr:#x} + dest_size {dest_size:#x} wraps past 2^64"
            ),
            Error::SegmentMisaligned {
                segment,
                bound,
                addr,
            } => write!(
                f,
                "segment {segment}: {} {addr:#x} is not page aligned",
                bound.c_expr()
            ),
            Error::BufferExceedsDest {
                segment,
                buf_size,
                dest_size,
            } => write!(
                f,
                "segment {segment}: buf_size {buf_size:#x} exceeds dest_size {dest_size:#x}"
            ),
            Error::SegmentsOverlap { first, second } => write!(
                f,
                "segments {first} and {second} have overlapping destinations"
            ),
            Error::NoCrashRegion => {
                f.write_str("a crash image needs a crash region and the host reserves none")
            }
            Error::CrashSegmentOutside {
                segment,
                dest_maddr,
                dest_size,
            } => write!(
                f,
                "segment {segment}: destination {dest_maddr:#x} (size {dest_size:#x}) is not inside the crash region"
            ),
            Error::CrashEntryOutside { entry } => {
                write!(f, "entry_maddr {entry:#x} is not inside the crash region")
            }
        }
    }
}

impl core::error::Error for Error {}

#[cfg(all(test, feature = "serde"))]
#[allow(clippy::expect_used, clippy::panic)] // a test's expectations
pub(crate) mod tests {
    extern crate std;

    use std::string::String;

    use super::*;

    /// One value of every variant; `index` fails to compile when a variant is added
    /// without a line here.
    pub(crate) const ALL: [Error; 15] = [
        Error::RangeTooWide {
            field: RangeField::Size,
            value: 1 << 32,
        },
        Error::UnsupportedArch {
            arch: ElfMachine(40),
        },
        Error::UnknownType { value: 2 },
        Error::GuestFault(GuestFault {
            addr: 0,
            len: 1,
            access: Access::Read,
        }),
        Error::UnsupportedCmd { cmd: KexecCmd(9) },
        Error::UnknownRangeKind {
            range: KexecRangeKind(9),
        },
        Error::ReservedNotZero { value: 1 },
        Error::TooManySegments { nr: 17 },
        Error::SegmentWraps {
            segment: 0,
            dest_maddr: u64::MAX,
            dest_size: 0x1000,
        },
        Error::SegmentMisaligned {
            segment: 0,
            bound: DestBound::End,
            addr: 1,
        },
        Error::BufferExceedsDest {
            segment: 0,
            buf_size: 2,
            dest_size: 1,
        },
        Error::SegmentsOverlap {
            first: 0,
            second: 1,
        },
        Error::NoCrashRegion,
        Error::CrashSegmentOutside {
            segment: 0,
            dest_maddr: 0,
            dest_size: 0x1000,
        },
        Error::CrashEntryOutside { entry: 0 },
    ];

    const fn index(e: &Error) -> usize {
        match e {
            Error::RangeTooWide { .. } => 0,
            Error::UnsupportedArch { .. } => 1,
            Error::UnknownType { .. } => 2,
            Error::GuestFault(_) => 3,
            Error::UnsupportedCmd { .. } => 4,
            Error::UnknownRangeKind { .. } => 5,
            Error::ReservedNotZero { .. } => 6,
            Error::TooManySegments { .. } => 7,
            Error::SegmentWraps { .. } => 8,
            Error::SegmentMisaligned { .. } => 9,
            Error::BufferExceedsDest { .. } => 10,
            Error::SegmentsOverlap { .. } => 11,
            Error::NoCrashRegion => 12,
            Error::CrashSegmentOutside { .. } => 13,
            Error::CrashEntryOutside { .. } => 14,
        }
    }

    /// The tag serde gives a value: its string, or the one key of its map.
    pub(crate) fn serde_tag<T: serde::Serialize>(value: &T) -> String {
        match serde_json::to_value(value).expect("serializes") {
            serde_json::Value::String(s) => s,
            serde_json::Value::Object(map) if map.len() == 1 => {
                map.keys().next().cloned().expect("one key")
            }
            other => panic!("not an externally tagged enum: {other}"),
        }
    }

    #[test]
    fn every_error_rule_is_its_serde_tag() {
        for (i, e) in ALL.iter().enumerate() {
            assert_eq!(index(e), i, "ALL lists each variant once, in order");
            assert_eq!(e.rule(), serde_tag(e), "{e:?}");
        }
        let fault = GuestFault::new(0, 1, Access::Write);
        assert_eq!(fault.rule(), Error::from(fault).rule());
    }
}
