// SPDX-License-Identifier: MIT
//! What the engine refuses, each with the errno the hypercall returns.

use core::fmt;

use xen_kexec_abi::{Errno, KexecRangeKind, KexecType};

use crate::host::HostError;

/// A `kexec_op` refusal: the decoder's and load rules' refusals from the `abi` crate,
/// and the engine's own. Small and `Copy`; [`Error::errno`] gives its one Xen errno.
///
/// ```
/// use xen_kexec_abi::{Errno, KexecType};
/// use xen_kexec_hypervisor::Error;
/// let e = Error::NoImage { type_: KexecType::CRASH };
/// assert_eq!(e.errno(), Errno::ENOENT);
/// assert_eq!(e.to_hypercall_ret(), -2);
/// assert_eq!(e.to_string(), "no KEXEC_TYPE_CRASH image is loaded");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Error {
    /// Refused by the `abi` crate: an unsupported command, a bad argument, a load rule,
    /// a guest fault (reading the argument, a segment's source, or writing a get_range
    /// answer), or a get_range answer too wide for a 32-bit caller.
    Abi(xen_kexec_abi::Error),
    /// `KEXEC_CMD_kexec` for a type with no image loaded (`ENOENT`).
    NoImage {
        /// The type asked for.
        #[cfg_attr(feature = "serde", serde(rename = "type"))]
        type_: KexecType,
    },
    /// A load, unload or exec while an exec is in progress (`EBUSY`, Xen's
    /// `KEXEC_FLAG_IN_PROGRESS`).
    ExecInProgress {
        /// The type of the image being entered.
        #[cfg_attr(feature = "serde", serde(rename = "type"))]
        type_: KexecType,
    },
    /// `KEXEC_RANGE_MA_CPU` with `nr < 0` or `nr >=` the number of CPUs (`ERANGE`).
    CpuOutOfRange {
        /// The `nr` the guest passed.
        nr: i32,
        /// The host's number of CPU ids.
        cpus: u32,
    },
    /// get_range of a defined kind the host does not answer (`EINVAL`): on x86
    /// `KEXEC_RANGE_MA_XENHEAP`, `_BOOT_PARAM` and `_EFI_MEMMAP`, and `_CPU` or
    /// `_VMCOREINFO` on a host without crash notes or vmcoreinfo.
    RangeUnavailable {
        /// The kind asked for.
        range: KexecRangeKind,
    },
    /// A host hook refused (its errno, e.g. `ENOMEM` staging a DEFAULT image).
    Host(HostError),
}

impl Error {
    /// The Xen errno of this refusal.
    pub const fn errno(&self) -> Errno {
        match self {
            Error::Abi(e) => e.errno(),
            Error::NoImage { .. } => Errno::ENOENT,
            Error::ExecInProgress { .. } => Errno::EBUSY,
            Error::CpuOutOfRange { .. } => Errno::ERANGE,
            Error::RangeUnavailable { .. } => Errno::EINVAL,
            Error::Host(e) => e.errno,
        }
    }

    /// What `kexec_op` returns for this refusal: the errno negated.
    pub const fn to_hypercall_ret(&self) -> i64 {
        self.errno().to_hypercall_ret()
    }
}

impl From<xen_kexec_abi::Error> for Error {
    fn from(e: xen_kexec_abi::Error) -> Self {
        Error::Abi(e)
    }
}

impl From<xen_kexec_abi::GuestFault> for Error {
    fn from(fault: xen_kexec_abi::GuestFault) -> Self {
        Error::Abi(fault.into())
    }
}

impl From<HostError> for Error {
    fn from(e: HostError) -> Self {
        Error::Host(e)
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
            Error::Abi(e) => fmt::Display::fmt(&e, f),
            Error::NoImage { type_ } => write!(f, "no {type_:?} image is loaded"),
            Error::ExecInProgress { type_ } => {
                write!(f, "an exec of the {type_:?} image is in progress")
            }
            Error::CpuOutOfRange { nr, cpus } => {
                write!(f, "CPU {nr} is out of range: the host has {cpus} CPU ids")
            }
            Error::RangeUnavailable { range } => {
                write!(f, "the host does not answer get_range for {range:?}")
            }
            Error::Host(e) => fmt::Display::fmt(&e, f),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Abi(e) => Some(e),
            Error::Host(e) => Some(e),
            _ => None,
        }
    }
}
