// SPDX-License-Identifier: MIT
//! Loading Linux itself: a bzImage, an initrd and a command line become a load of a
//! few segments that Xen enters through the purgatory.
//!
//! - [`bzimage`]: the setup header of the Linux x86 boot protocol, read and refused with
//!   a reason that names the field and the value.
//! - [`boot_params`]: the zero page built from the image's own header, with the command
//!   line, the initrd and an e820 table.
//! - [`synthetic`]: small bzImages made in the repository, for tests and the real-Xen run.

pub mod boot_params;
pub mod bzimage;
pub mod corehdr;
pub mod plan;
pub mod synthetic;
