// SPDX-License-Identifier: MIT
//! The purgatory of xen-kexec: the first code Xen runs of a loaded Linux image.
//!
//! Xen's `kexec_reloc.S` enters it in long mode on relocation page tables that map only
//! the image's segments, with CR4 = PAE only (so SSE faults; the target has no SSE) and
//! no IDT (so any fault resets the machine). It
//! 1. loads its own GDT and stack (`entry.S`);
//! 2. checks the SHA-256 digest of every region the toolstack listed in the parameter
//!    block; on a mismatch it names the region on the serial line (when the kernel's
//!    command line asked for a serial console) and halts, rather than enter a corrupted
//!    kernel;
//! 3. for a crash kernel, copies the low memory into the backup segment, so the crash
//!    kernel's `/proc/vmcore` can serve it;
//! 4. enters Linux's 64-bit entry with RSI = boot_params.
//!
//! All `unsafe` is in [`hw`].

#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn, missing_docs)]

mod hw;
#[path = "../../toolstack/src/purgatory/params.rs"]
#[allow(dead_code)]
mod params;
mod serial;

use core::panic::PanicInfo;

use params::{FLAG_VERIFY, MAGIC, MAX_COPIES, MAX_REGIONS};
use serial::Console;
use sha2::{Digest, Sha256};

core::arch::global_asm!(
    include_str!("entry.S"),
    entry = const core::mem::offset_of!(params::Params, entry),
    boot_params = const core::mem::offset_of!(params::Params, boot_params),
    options(att_syntax)
);

/// The checks and the backup copy; returns only when the kernel may be entered.
#[no_mangle]
extern "C" fn purgatory_main() {
    let p = hw::params();
    let console = Console::new(p.serial_port);
    if p.magic != MAGIC {
        console.text("xen-kexec purgatory: no parameter block, halting\n");
        hw::halt();
    }
    let start = hw::rdtsc();
    let mut checked = 0u64;
    if p.flags & FLAG_VERIFY != 0 {
        let n = (p.nr_regions as usize).min(MAX_REGIONS);
        for (i, r) in p.regions[..n].iter().enumerate() {
            checked += r.len;
            let digest = Sha256::digest(hw::machine_bytes(r.start, r.len));
            if digest[..] != r.sha256[..] {
                console.text("xen-kexec purgatory: digest mismatch in segment ");
                console.hex(i as u64);
                console.text(" at ");
                console.hex(r.start);
                console.text(" size ");
                console.hex(r.len);
                console.text(", halting\n");
                hw::halt();
            }
        }
    }
    if p.backup_len != 0 {
        hw::copy_machine(p.backup_src, p.backup_dst, p.backup_len);
    }
    for c in &p.copies[..(p.nr_copies as usize).min(MAX_COPIES)] {
        hw::copy_machine(c.src, c.dst, c.len);
    }
    let cycles = hw::rdtsc().wrapping_sub(start);
    console.text("xen-kexec purgatory: digests ok, entering the kernel at ");
    console.hex(p.entry);
    console.text(" (checked ");
    console.hex(checked);
    console.text(" bytes in ");
    console.hex(cycles);
    console.text(" TSC cycles)\n");
}

/// A panic cannot be reported safely this early: halt.
#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    hw::halt()
}
