// SPDX-License-Identifier: MIT
//! Real Xen in the test suite (issue 16): boots Debian's Xen 4.17 with Debian's kernel as
//! a PV dom0 under QEMU and runs `xen-kexec` against the real `kexec_op` through privcmd,
//! step by step beside the same steps on `xen-kexec`'s simulated hypervisor.
//!
//! - [`machine`]: the emulated machine and Xen's command line, one description;
//! - [`debian`]: the unpacked packages (Xen, kernel, modules, busybox, kexec-tools);
//! - [`images`] and [`elf`]: the entry-mode test images, built by gcc and ld;
//! - [`toolstack`]: `xen-kexec`'s static builds, and its sim backend on the host;
//! - [`scenario`]: the steps, their expected outcomes, the judgement;
//! - [`dom0`], [`cpio`], [`qemu`], [`serial`]: dom0's script, the initramfs, the boot, the log;
//! - [`linux`]: the Linux boots: Debian's kernel loaded by `xen-kexec` and entered;
//! - [`kdump`]: the kdump boot: a crashed dom0's crash kernel reads `/proc/vmcore`; and
//!   its crash load timed against Debian's kexec-tools in a boot of its own;
//! - [`differential`]: thousands of random `kexec_op` calls against the engine, and the
//!   crash-reload panic;
//! - [`run`]: all of it, and the report.

pub mod cpio;
pub mod debian;
pub mod differential;
pub mod dom0;
pub mod elf;
pub mod images;
pub mod kdump;
pub mod linux;
pub mod machine;
pub mod qemu;
pub mod run;
pub mod scenario;
pub mod serial;
pub mod toolstack;
pub mod xen_rust;

/// Why the run could not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Something the run needs cannot be had on this machine: the run says so and stops.
    NotRun(String),
    /// The harness failed before any boot (a build, a check of what it built).
    Fail(String),
}
