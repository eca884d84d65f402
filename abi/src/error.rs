//! The crate's error: what was wrong, and the Xen errno the hypercall returns for it.

use core::fmt;

use crate::types::{ElfMachine, Errno};

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
}

impl Error {
    /// The Xen errno of this error: one errno per variant.
    pub const fn errno(&self) -> Errno {
        match self {
            Error::RangeTooWide { .. } => Errno::ERANGE,
            Error::UnsupportedArch { .. } | Error::UnknownType { .. } => Errno::EINVAL,
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
        }
    }
}

impl core::error::Error for Error {}
