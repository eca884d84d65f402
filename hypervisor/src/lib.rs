// SPDX-License-Identifier: MIT
//! Xen's `kexec_op` hypercall for a Rust hypervisor: the image slots, loading segments
//! into machine memory, status, unload, exec and the get_range answers, over a few
//! hooks the hypervisor implements.
//!
//! Decoding and validating the guest's arguments is the [`xen_kexec_abi`] crate's
//! ([`xen_kexec_abi::decode`]); this crate acts on what it decoded, in the place where
//! Xen's C has its real bugs (`common/kexec.c`, `kimage.c`, Xen 4.23):
//!
//! - [`Kexec`]: the engine. [`Kexec::hypercall`] is the one entry point: the caller's
//!   guest width, `cmd`, `arg`, the caller's guest memory and the host's hooks in; the
//!   value the hypercall returns out. Its documentation lists the semantics and every
//!   departure from Xen.
//! - [`Host`]: the hooks (crash region, page size, get_range answers, writing and
//!   staging image bytes, releasing and entering images).
//! - `sim` (feature `sim`): a simulated host, for tests and the toolstack's simulator;
//!   the only part of the crate that allocates.
//! - [`Error`]: every refusal, with its Xen errno.
//!
//! The engine is `no_std`, never allocates (a load is copied through a
//! [`COPY_CHUNK`]-byte stack buffer) and never panics on guest input.
//!
//! Features: `sim` (the simulated host; needs `alloc`), `serde` (`Serialize` and
//! `Deserialize` for the engine's state and, with `sim`, the simulated host's).
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

#[cfg(feature = "sim")]
extern crate alloc;

mod copy;
mod engine;
mod error;
pub mod host;
#[cfg(feature = "sim")]
pub mod sim;

pub use copy::COPY_CHUNK;
pub use engine::{Image, Kexec, Outcome};
pub use error::Error;
pub use host::{Host, HostError, ImageSlot, StagingArea};

// The README's example is compiled and run as a doctest, so what crates.io shows works.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
