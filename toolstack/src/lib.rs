// SPDX-License-Identifier: MIT
//! The toolstack side of Xen's `kexec_op`: what libxenctrl's `xc_kexec_*` and the Xen
//! path of kexec-tools do, in Rust, and the `xen-kexec` command built on it.
//!
//! - [`cli`]: the command lines of `xen-kexec` and its `kexec` personality (clap
//!   definitions, which headgen renders as man pages and shell completions).
//! - [`client`]: the typed client (`status`, `get_range`, `load`, `unload`, `exec`) over
//!   a [`Transport`], in the argument layout of the kernel that
//!   makes the hypercall (the dom0 kernel's width, never this process's).
//! - [`privcmd`]: the Linux dom0 transport (`IOCTL_PRIVCMD_HYPERCALL` on
//!   `/dev/xen/privcmd`, argument buffers from `/dev/xen/hypercall` or locked memory);
//!   the crate's only `unsafe` code is in its private `sys` module.
//! - [`sim`]: the simulated transport: the `xen-kexec-hypervisor` engine in process,
//!   over a simulated host whose state persists in a file.
//! - [`plan`]: the ELF image planner (segments from `PT_LOAD`s, blobs, the low-1-MiB
//!   mapping, the entry point), reading only headers until the load is sent.
//! - [`input`]: size-checked input files, opened only when they are regular files.
//! - [`store`]: the sim's state file as a store: locked, replaced whole and synced.
//! - [`record`] and [`tracked`]: the status record kept under `/run/xen-kexec/`, the
//!   loads and unloads that keep it, and a status answer that says its source.
//!
//! Facts followed: Xen 4.23's `xen/include/public/kexec.h`, libxenctrl's
//! `tools/libs/ctrl/xc_kexec.c`, Linux's `include/uapi/xen/privcmd.h`, and kexec-tools'
//! `kexec/kexec-xen.c`.

pub mod cli;
pub mod client;
pub mod input;
pub mod linux;
pub mod memmap;
pub mod num;
pub mod plan;
pub mod privcmd;
pub mod purgatory;
pub mod record;
pub mod sim;
pub mod store;
pub mod tracked;
pub mod transport;

pub use client::{CheckedLoad, Client, ClientError, LoadSummary, RangeAnswer, Refusal, RuleError};
pub use transport::{
    CallError, FillPart, Hypercall, HypercallBuffer, HypercallCmd, Refused, StatusMeaning,
    Transport, TransportError,
};

// The README's example is compiled and run as a doctest, so what crates.io shows works.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
