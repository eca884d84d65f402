// SPDX-License-Identifier: MIT
//! Every `unsafe` of the purgatory: the parameter block, machine memory, port I/O and
//! the halt. Above this module the purgatory is safe Rust.
//!
//! Machine addresses are used as pointers because Xen's relocation page tables map each
//! segment of the image 1:1 (null-buffer segments included, so the low 1 MiB that a
//! crash image maps is reachable) and the purgatory runs on them until it jumps.

use crate::params::Params;

/// The parameter block the toolstack patched in (see `toolstack/src/purgatory`).
#[no_mangle]
#[used]
#[link_section = ".data.params"]
static mut purgatory_params: Params = Params::EMPTY;

/// A copy of the parameter block.
pub fn params() -> Params {
    // SAFETY: the block is a plain-data static that nothing writes while the purgatory
    // runs (the toolstack wrote it before the image was loaded). The volatile read keeps
    // the compiler from folding the build-time value in.
    unsafe { core::ptr::read_volatile(&raw const purgatory_params) }
}

/// The `len` bytes at machine address `start`.
pub fn machine_bytes(start: u64, len: u64) -> &'static [u8] {
    // SAFETY: the toolstack names only ranges of the image's own segments, which Xen
    // maps 1:1; nothing writes them while the slice lives (the backup copy runs after
    // every check, and writes only the backup segment, never a checked one).
    unsafe { core::slice::from_raw_parts(start as usize as *const u8, len as usize) }
}

/// Copies `len` bytes from machine address `src` to `dst`.
pub fn copy_machine(src: u64, dst: u64, len: u64) {
    // SAFETY: both ranges are mapped: the source by the low-memory segment (the backup)
    // or by a segment without a buffer over Xen's note pages (the note copies), the
    // destination inside a segment of the crash region; the toolstack places each
    // destination apart from every source.
    unsafe {
        core::ptr::copy_nonoverlapping(
            src as usize as *const u8,
            dst as usize as *mut u8,
            len as usize,
        );
    }
}

/// Writes `value` to I/O port `port`.
pub fn outb(port: u16, value: u8) {
    // SAFETY: port output touches no memory; the ports used are the serial line's.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags))
    }
}

/// Reads I/O port `port`.
pub fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: as for `outb`.
    unsafe {
        core::arch::asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack, preserves_flags))
    }
    value
}

/// The time-stamp counter.
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc reads a counter into two registers and touches no memory. Xen leaves
    // CR4.TSD clear, so it does not fault at any privilege level.
    unsafe {
        core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// Stops this CPU for good: interrupts off, then `hlt` for ever.
pub fn halt() -> ! {
    loop {
        // SAFETY: `cli; hlt` touches no memory.
        unsafe { core::arch::asm!("cli", "hlt", options(nomem, nostack)) }
    }
}
