// SPDX-License-Identifier: MIT
//! Reports on a 16550 serial line that the firmware (or Xen's console) has set up.
//! No `core::fmt`: numbers are written as hex by hand, which keeps the purgatory small.

use crate::hw;

/// The line status register's "transmit holding register empty" bit.
const THR_EMPTY: u8 = 0x20;
/// How long to wait for the line before a byte is dropped (a missing UART reads 0xff).
const SPINS: u32 = 100_000;

/// A serial console, or none (port 0).
#[derive(Clone, Copy)]
pub struct Console {
    port: u16,
}

impl Console {
    /// The console on `port`, or a silent one for port 0.
    pub fn new(port: u16) -> Console {
        Console { port }
    }

    fn byte(self, b: u8) {
        if self.port == 0 {
            return;
        }
        for _ in 0..SPINS {
            if hw::inb(self.port + 5) & THR_EMPTY != 0 {
                break;
            }
        }
        hw::outb(self.port, b);
    }

    /// Writes `s`.
    pub fn text(self, s: &str) {
        for b in s.bytes() {
            if b == b'\n' {
                self.byte(b'\r');
            }
            self.byte(b);
        }
    }

    /// Writes `v` as `0x` and 16 hex digits.
    pub fn hex(self, v: u64) {
        self.text("0x");
        for shift in (0..16).rev() {
            let digit = ((v >> (shift * 4)) & 0xf) as u8;
            self.byte(if digit < 10 {
                b'0' + digit
            } else {
                b'a' + digit - 10
            });
        }
    }
}
