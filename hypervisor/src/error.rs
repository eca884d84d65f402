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
            Error::Host(e) => e.errno(),
        }
    }

    /// The name of the rule broken: the `abi` crate's ([`xen_kexec_abi::Error::rule`])
    /// for [`Error::Abi`], else the variant's name, spelled as the `abi` crate spells its
    /// rules (`"NoImage"`; the serde tag is its snake case, `"no_image"`).
    ///
    /// ```
    /// use xen_kexec_abi::KexecType;
    /// use xen_kexec_hypervisor::Error;
    /// assert_eq!(Error::NoImage { type_: KexecType::CRASH }.rule(), "NoImage");
    /// assert_eq!(Error::Abi(xen_kexec_abi::Error::NoCrashRegion).rule(), "NoCrashRegion");
    /// ```
    pub const fn rule(&self) -> &'static str {
        match self {
            Error::Abi(e) => e.rule(),
            Error::NoImage { .. } => "NoImage",
            Error::ExecInProgress { .. } => "ExecInProgress",
            Error::CpuOutOfRange { .. } => "CpuOutOfRange",
            Error::RangeUnavailable { .. } => "RangeUnavailable",
            Error::Host(_) => "Host",
        }
    }

    /// The index of the segment this refusal is about, if one: the `abi` crate's
    /// ([`xen_kexec_abi::Error::segment`]); the engine's own refusals are about none.
    pub const fn segment(&self) -> Option<u8> {
        match self {
            Error::Abi(e) => e.segment(),
            _ => None,
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

#[cfg(all(test, feature = "serde"))]
#[allow(clippy::expect_used, clippy::panic)] // a test's expectations
mod tests {
    extern crate std;

    use std::string::String;

    use xen_kexec_abi::{Errno, KexecRangeKind, KexecType};

    use super::Error;
    use crate::host::HostError;

    /// The tag serde gives a value: its string, or the one key of its map.
    fn serde_tag<T: serde::Serialize>(value: &T) -> (String, serde_json::Value) {
        match serde_json::to_value(value).expect("serializes") {
            serde_json::Value::String(s) => (s, serde_json::Value::Null),
            serde_json::Value::Object(map) if map.len() == 1 => {
                map.into_iter().next().expect("one key")
            }
            other => panic!("not an externally tagged enum: {other}"),
        }
    }

    /// `no_image` → `NoImage`.
    fn camel(snake: &str) -> String {
        snake
            .split('_')
            .flat_map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase())
                    .into_iter()
                    .chain(c)
            })
            .collect()
    }

    #[test]
    fn every_engine_rule_is_its_serde_tag_in_the_abi_crates_spelling() {
        let all = [
            Error::Abi(xen_kexec_abi::Error::NoCrashRegion),
            Error::NoImage {
                type_: KexecType::CRASH,
            },
            Error::ExecInProgress {
                type_: KexecType::DEFAULT,
            },
            Error::CpuOutOfRange { nr: -1, cpus: 4 },
            Error::RangeUnavailable {
                range: KexecRangeKind::MA_XENHEAP,
            },
            Error::Host(HostError::new(Errno::ENOMEM)),
        ];
        for e in all {
            // Exhaustive: a new variant fails to compile here until it is listed.
            match e {
                Error::Abi(_)
                | Error::NoImage { .. }
                | Error::ExecInProgress { .. }
                | Error::CpuOutOfRange { .. }
                | Error::RangeUnavailable { .. }
                | Error::Host(_) => {}
            }
            let (tag, inner) = serde_tag(&e);
            match e {
                // The abi crate's refusal names its own rule, as its serde tag.
                Error::Abi(abi) => {
                    assert_eq!(tag, "abi");
                    let inner: xen_kexec_abi::Error =
                        serde_json::from_value(inner).expect("abi error");
                    assert_eq!(e.rule(), abi.rule());
                    assert_eq!(inner.rule(), e.rule());
                }
                _ => assert_eq!(e.rule(), camel(&tag), "{e:?}"),
            }
        }
    }
}
