// SPDX-License-Identifier: MIT
//! Load requests independent of the guest's width, and the one implementation of the
//! rules a load must pass: used by the hypervisor's decoder ([`crate::decode`]) and by
//! the toolstack's builder ([`LoadRequest::validate`]) alike.
//!
//! - [`rules`]: the spec, the rules in Xen's order (Xen 4.23's `kexec_load`), each
//!   departure from Xen documented at its check;
//! - the types: [`Segment`], [`SegmentList`], [`LoadRequest`] and [`ValidatedLoad`];
//! - the fast path (`load/sweep.rs`): one branch-free sweep that accepts a valid load,
//!   leaving every refusal, and so the choice of error, to the ordered rules; its unit
//!   property test checks it against them.
//!
//! Reading a guest's segment array (each byte once, swept as it is copied) is the
//! decoder's: see [`crate::decode`].

pub mod rules;
mod sweep;
mod types;

pub(crate) use rules::{check_count, check_type, first_broken_of, AsRules};
pub(crate) use sweep::{passes_swept, Sweep};
pub use types::{LoadRequest, Segment, SegmentList, ValidatedLoad};
