// SPDX-License-Identifier: MIT
//! The simulated dom0's memory: its hypercall buffers, and the guest memory the engine
//! reads and writes during a call.
//!
//! A buffer from [`Transport::alloc`](crate::Transport::alloc) is one piece of bytes. A
//! buffer from [`Transport::alloc_source`](crate::Transport::alloc_source), a segment's
//! source, is kept in pieces of [`SOURCE_PIECE`] bytes, and a piece is given back to the
//! allocator once the hypervisor has read its last byte: the client never reads a source
//! again, so a load of N MiB holds the source and the machine memory it is copied to
//! together only a piece at a time, and its memory peaks near N MiB, not 2 N. A read of
//! a piece already given back faults, so an engine that read a source twice could not
//! go unnoticed.

use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::{Access, GuestFault};

use crate::transport::{FillPart, HypercallBuffer};

/// The size of the pieces a source buffer is kept in.
pub const SOURCE_PIECE: usize = 1 << 20;

/// A hypercall buffer of the simulated dom0.
#[derive(Debug)]
pub struct SimBuffer {
    addr: u64,
    len: usize,
    /// The bytes: one piece, or (a source) pieces of [`SOURCE_PIECE`] bytes, the last
    /// one shorter; a piece given back is empty.
    pieces: Vec<Vec<u8>>,
    /// Whether pieces are given back once read (a source buffer).
    source: bool,
}

impl SimBuffer {
    /// A zeroed buffer of `len` bytes at `addr`, in one piece.
    pub(super) fn whole(addr: u64, len: usize) -> SimBuffer {
        SimBuffer {
            addr,
            len,
            pieces: vec![vec![0; len]],
            source: false,
        }
    }

    /// A source buffer of `len` bytes at `addr`, each piece filled by `fill(offset,
    /// piece)` in turn.
    ///
    /// # Errors
    /// The first error of `fill`.
    pub(super) fn source<E>(
        addr: u64,
        len: usize,
        fill: &mut FillPart<'_, E>,
    ) -> Result<SimBuffer, E> {
        let mut pieces = Vec::with_capacity(len.div_ceil(SOURCE_PIECE));
        let mut offset = 0;
        while offset < len {
            let mut piece = vec![0; (len - offset).min(SOURCE_PIECE)];
            fill(offset, &mut piece)?;
            offset += piece.len();
            pieces.push(piece);
        }
        Ok(SimBuffer {
            addr,
            len,
            pieces,
            source: true,
        })
    }

    /// The buffer's length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The offset in this buffer of `[addr, addr + len)`, if the buffer holds it all.
    fn offset_of(&self, addr: u64, len: usize) -> Option<usize> {
        let at = usize::try_from(addr.checked_sub(self.addr)?).ok()?;
        (at.checked_add(len)? <= self.len).then_some(at)
    }

    /// The nominal length of this buffer's pieces.
    fn piece_len(&self) -> usize {
        if self.source {
            SOURCE_PIECE
        } else {
            self.len.max(1)
        }
    }
}

/// The pieces of `piece_len` bytes that `[at, at + len)` touches, as `(piece, offset in
/// it, offset in the access, bytes)`.
fn parts(
    piece_len: usize,
    at: usize,
    len: usize,
) -> impl Iterator<Item = (usize, usize, usize, usize)> {
    let mut done = 0;
    std::iter::from_fn(move || {
        (done < len).then(|| {
            let pos = at + done;
            let (piece, off) = (pos / piece_len, pos % piece_len);
            let n = (piece_len - off).min(len - done);
            done += n;
            (piece, off, done - n, n)
        })
    })
}

impl SimBuffer {
    /// Copies `[at, at + out.len())` out; a source gives back each piece whose last
    /// byte this read. `false` when a piece was given back already.
    fn read(&mut self, at: usize, out: &mut [u8]) -> bool {
        for (piece, off, pos, n) in parts(self.piece_len(), at, out.len()) {
            let Some(bytes) = self.pieces.get_mut(piece) else {
                return false;
            };
            let (Some(from), Some(to)) = (bytes.get(off..off + n), out.get_mut(pos..pos + n))
            else {
                return false;
            };
            to.copy_from_slice(from);
            if self.source && off + n == bytes.len() {
                *bytes = Vec::new();
            }
        }
        true
    }

    /// Copies `bytes` in at `at`. `false` when a piece was given back already.
    fn write(&mut self, at: usize, bytes: &[u8]) -> bool {
        for (piece, off, pos, n) in parts(self.piece_len(), at, bytes.len()) {
            let Some(to) = self
                .pieces
                .get_mut(piece)
                .and_then(|p| p.get_mut(off..off + n))
            else {
                return false;
            };
            to.copy_from_slice(&bytes[pos..pos + n]);
        }
        true
    }
}

impl HypercallBuffer for SimBuffer {
    fn guest_addr(&self) -> u64 {
        self.addr
    }

    fn as_bytes(&self) -> Option<&[u8]> {
        match self.pieces.as_slice() {
            [] => Some(&[]),
            [one] if one.len() == self.len => Some(one),
            _ => None,
        }
    }

    fn as_mut_bytes(&mut self) -> Option<&mut [u8]> {
        match self.pieces.as_mut_slice() {
            [] => Some(&mut []),
            [one] if one.len() == self.len => Some(one),
            _ => None,
        }
    }
}

/// The simulated dom0's memory during a call: the call's buffers; every other address
/// faults.
pub(super) struct Dom0Memory<'a, 'b> {
    buffers: &'a mut [&'b mut SimBuffer],
}

impl<'a, 'b> Dom0Memory<'a, 'b> {
    /// The memory of `buffers`.
    pub(super) fn new(buffers: &'a mut [&'b mut SimBuffer]) -> Self {
        Dom0Memory { buffers }
    }

    /// The buffer holding all of `[addr, addr + len)`, and the offset in it.
    fn find(&mut self, addr: u64, len: usize) -> Option<(&mut SimBuffer, usize)> {
        self.buffers.iter_mut().find_map(|b| {
            let at = b.offset_of(addr, len)?;
            Some((&mut **b, at))
        })
    }
}

fn fault(addr: u64, len: usize, access: Access) -> GuestFault {
    GuestFault {
        addr,
        len: u64::try_from(len).unwrap_or(u64::MAX),
        access,
    }
}

impl GuestMemory for Dom0Memory<'_, '_> {
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), GuestFault> {
        let len = buf.len();
        let read = self.find(addr, len).is_some_and(|(b, at)| b.read(at, buf));
        read.then_some(())
            .ok_or_else(|| fault(addr, len, Access::Read))
    }

    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), GuestFault> {
        let written = self
            .find(addr, bytes.len())
            .is_some_and(|(b, at)| b.write(at, bytes));
        written
            .then_some(())
            .ok_or_else(|| fault(addr, bytes.len(), Access::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting(len: usize) -> SimBuffer {
        SimBuffer::source::<()>(0x10_0000, len, &mut |offset, piece| {
            for (i, b) in piece.iter_mut().enumerate() {
                *b = u8::try_from((offset + i) % 251).expect("small");
            }
            Ok(())
        })
        .expect("fills")
    }

    #[test]
    fn a_source_is_read_back_whole_across_its_pieces() {
        let len = 2 * SOURCE_PIECE + 100;
        let mut b = counting(len);
        assert_eq!(b.pieces.len(), 3);
        assert!(
            b.as_bytes().is_none(),
            "a source in pieces is not one slice"
        );
        let mut mem_buffers = [&mut b];
        let mut mem = Dom0Memory::new(&mut mem_buffers);
        let mut out = vec![0u8; len];
        // Reads that straddle pieces, as the engine's copy does.
        for start in (0..len).step_by(4096 * 3) {
            let end = (start + 4096 * 3).min(len);
            let addr = 0x10_0000 + u64::try_from(start).expect("small");
            mem.read(addr, &mut out[start..end]).expect("reads");
        }
        assert!(out
            .iter()
            .enumerate()
            .all(|(i, &b)| usize::from(b) == i % 251));
    }

    #[test]
    fn a_source_piece_is_given_back_once_read_and_a_second_read_faults() {
        let mut b = counting(SOURCE_PIECE + 8);
        let mut buffers = [&mut b];
        let mut mem = Dom0Memory::new(&mut buffers);
        let mut head = vec![0u8; SOURCE_PIECE];
        mem.read(0x10_0000, &mut head)
            .expect("reads the first piece");
        let again = mem.read(0x10_0000, &mut [0u8; 1]).expect_err("given back");
        assert_eq!((again.addr, again.access), (0x10_0000, Access::Read));
        let second = 0x10_0000 + u64::try_from(SOURCE_PIECE).expect("small");
        mem.read(second, &mut [0u8; 8])
            .expect("the second piece is still there");
        assert!(b.pieces.iter().all(Vec::is_empty), "every piece given back");
    }

    #[test]
    fn a_whole_buffer_keeps_its_bytes_and_faults_outside() {
        let mut b = SimBuffer::whole(0x20_0000, 16);
        let mut buffers = [&mut b];
        let mut mem = Dom0Memory::new(&mut buffers);
        mem.write(0x20_0004, &[1, 2, 3]).expect("writes");
        let mut out = [0u8; 16];
        mem.read(0x20_0000, &mut out).expect("reads");
        mem.read(0x20_0000, &mut out).expect("reads again");
        assert_eq!(out[4..7], [1, 2, 3]);
        assert!(mem.read(0x20_000f, &mut [0u8; 2]).is_err(), "past the end");
        assert!(mem.write(0x1f_ffff, &[0]).is_err(), "before the start");
        assert_eq!(b.as_bytes().map(<[u8]>::len), Some(16));
    }
}
