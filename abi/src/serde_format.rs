// SPDX-License-Identifier: MIT
//! The `serde` format of this crate's types, and what of it is stable.
//!
//! This module holds only documentation: the impls are derived on each type when the
//! `serde` feature is enabled (it is off by default). The examples below are doctests
//! that run with the feature on, so each form shown here is the one produced.
//!
//! # ABI structures: Xen's C field names
//!
//! The structures of [`x86_64`](crate::x86_64) and [`x86_32`](crate::x86_32) serialize
//! as a map (a struct) of their fields, in declaration order, under the field names of
//! Xen's `public/kexec.h`, not the Rust ones (`type`, not `type_`):
//!
//! | structure | fields |
//! |---|---|
//! | `KexecExec` (`xen_kexec_exec_t`) | `type` |
//! | `KexecRange` (`xen_kexec_range_t`) | `range`, `nr`, `size`, `start` |
//! | `KexecSegment` (`xen_kexec_segment_t`) | `buf`, `buf_size`, `dest_maddr`, `dest_size` |
//! | `KexecLoad` (`xen_kexec_load_t`) | `type`, `_pad`, `arch`, `nr_segments`, `segments`, `entry_maddr` |
//! | `KexecUnload` (`xen_kexec_unload_t`) | `type` |
//! | `KexecStatus` (`xen_kexec_status_t`) | `type` |
//!
//! Both guest layouts use the same names; only the width of `KexecRange`'s `size` and
//! `start` differs (`u32` for a 32-bit guest, where a larger number is refused on
//! deserialization).
//!
//! # Values: numbers, never names
//!
//! - The open enums ([`KexecCmd`](crate::KexecCmd), [`KexecType`](crate::KexecType),
//!   [`KexecExecType`](crate::KexecExecType), [`KexecRangeKind`](crate::KexecRangeKind),
//!   [`ElfMachine`](crate::ElfMachine), [`Errno`](crate::Errno)) are transparent: the
//!   integer the guest wrote, in the C type's width and sign (`KEXEC_TYPE_CRASH` is `1`,
//!   `EM_X86_64` is `62`). A value the ABI does not define round-trips unchanged; it is
//!   validation, not deserialization, that refuses it.
//! - A guest handle ([`GuestHandle64`](crate::GuestHandle64)) is its whole 64-bit raw
//!   value, upper bytes included (for a 32-bit guest they are whatever the guest left).
//! - Every integer is a number. A JSON reader that holds numbers as `f64` (JavaScript)
//!   loses addresses above 2^53: read them as 64-bit integers.
//!
//! # The crate's own types
//!
//! They use serde's defaults: structs as maps under their Rust field names (with `type`
//! for `type_`), enums externally tagged under their Rust variant names.
//!
//! - [`GuestAbi`](crate::GuestAbi): `"X86_32"` or `"X86_64"`; [`EntryMode`](crate::EntryMode):
//!   `"Protected32"` or `"Long64"`.
//! - [`Error`](crate::Error): `{"Variant": {fields}}`, or `"Variant"` for a variant without
//!   fields; its helper enums likewise (`RangeField`: `"Size"`, `"Start"`, ...).
//! - [`load::Segment`](crate::load::Segment): `buf`, `buf_size`, `dest_maddr`, `dest_size`;
//!   a `SegmentList` is a sequence of at most `KEXEC_SEGMENT_MAX` segments (a longer one
//!   is refused on deserialization); [`load::LoadRequest`](crate::load::LoadRequest):
//!   `type`, `arch`, `entry_maddr`, `segments`.
//! - Serialize only (they are made by validation, never read back):
//!   [`decode::Operation`](crate::decode::Operation), in snake case (`{"exec": {"type": 1}}`,
//!   `{"get_range": {...}}`, `{"load": {...}}`, `{"unload": ...}`, `{"status": ...}`),
//!   [`load::ValidatedLoad`](crate::load::ValidatedLoad) (`type`, `arch`, `entry_mode`,
//!   `entry_maddr`, `segments`) and [`host::MachineRange`](crate::host::MachineRange)
//!   (`start`, `size`).
//!
//! ```
//! # #[cfg(feature = "serde")]
//! # {
//! use xen_kexec_abi::decode::Operation;
//! use xen_kexec_abi::{x86_32, x86_64, ElfMachine, Error, GuestAbi, GuestHandle64, KexecType};
//!
//! let load = x86_64::KexecLoad {
//!     type_: KexecType::CRASH,
//!     _pad: 0,
//!     arch: ElfMachine::EM_X86_64,
//!     nr_segments: 2,
//!     segments: GuestHandle64::from_raw(0x1000),
//!     entry_maddr: 0x20_0000,
//! };
//! let json = r#"{"type":1,"_pad":0,"arch":62,"nr_segments":2,"segments":4096,"entry_maddr":2097152}"#;
//! assert_eq!(serde_json::to_string(&load).unwrap(), json);
//! // The 32-bit layout has the same names and numbers.
//! assert_eq!(serde_json::to_string(&x86_32::KexecLoad::from(load)).unwrap(), json);
//!
//! // An undefined value is kept, not refused.
//! let status: x86_64::KexecStatus = serde_json::from_str(r#"{"type":7}"#).unwrap();
//! assert_eq!(status.type_, KexecType(7));
//!
//! // A 32-bit guest's size or start cannot exceed 32 bits.
//! let wide = r#"{"range":0,"nr":0,"size":4294967296,"start":0}"#;
//! assert!(serde_json::from_str::<x86_32::KexecRange>(wide).is_err());
//! assert!(serde_json::from_str::<x86_64::KexecRange>(wide).is_ok());
//!
//! assert_eq!(serde_json::to_string(&GuestAbi::X86_32).unwrap(), r#""X86_32""#);
//! let error = Error::UnsupportedArch { arch: ElfMachine(40) };
//! assert_eq!(serde_json::to_string(&error).unwrap(), r#"{"UnsupportedArch":{"arch":40}}"#);
//! let op = Operation::Status { type_: KexecType::DEFAULT };
//! assert_eq!(serde_json::to_string(&op).unwrap(), r#"{"status":{"type":0}}"#);
//! # }
//! ```
//!
//! # Stability
//!
//! - The ABI structures' field names and the numbers of every value are Xen's ABI: they
//!   change only if Xen's `public/kexec.h` changes, and then in a new minor version
//!   (before 1.0) or major version (after), named in the changelog.
//! - The crate's own types follow their Rust names. Renaming or removing a field or
//!   variant is a breaking change of the crate, made only in a new minor version before
//!   1.0 (a major one after), and the changelog names every changed serde form.
//!   Adding a variant to a `#[non_exhaustive]` enum (such as [`Error`](crate::Error)) is
//!   not breaking: readers must accept variants they do not know.
//! - Serializing and then deserializing with the same version of this crate always
//!   gives back the same value (the crate's tests check every structure and value).

// The README's example is compiled and run as a doctest, so what crates.io shows works.
// It is attached here, to a doc-only module, to keep the crate root untouched.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
