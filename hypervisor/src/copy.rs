// SPDX-License-Identifier: MIT
//! Loading segments: Xen's `kimage_load_segment` (`common/kimage.c`), without a heap.

use xen_kexec_abi::guest_mem::GuestMemory;
use xen_kexec_abi::load::{Segment, ValidatedLoad};
use xen_kexec_abi::{Access, GuestFault};

use crate::error::Error;
use crate::host::{Host, ImageSlot};

/// The size of the stack buffer each segment's source is copied through: the most
/// bytes one [`GuestMemory::read`] and one write hook call carry.
///
/// 1 KiB: small enough for a hypervisor stack, large enough that a 64 MiB crash kernel
/// is 64 Ki reads. Chunks are also cut at every destination page boundary.
pub const COPY_CHUNK: usize = 1024;

/// Copies every segment with a source buffer of `load` into `slot`: `buf_size` bytes
/// from the guest, each read once, then the rest of the destination zeroed. Segments
/// without a buffer are skipped: the image only maps them.
pub(crate) fn copy_segments<M, H>(
    load: &ValidatedLoad,
    slot: ImageSlot,
    mem: &mut M,
    host: &mut H,
) -> Result<(), Error>
where
    M: GuestMemory + ?Sized,
    H: Host + ?Sized,
{
    let page = host.page_size().get();
    let mut buf = [0u8; COPY_CHUNK];
    for seg in load.segments().iter().filter(|s| s.has_buffer()) {
        copy_segment(seg, slot, page, &mut buf, mem, host)?;
    }
    Ok(())
}

fn copy_segment<M, H>(
    seg: &Segment,
    slot: ImageSlot,
    page: u64,
    buf: &mut [u8; COPY_CHUNK],
    mem: &mut M,
    host: &mut H,
) -> Result<(), Error>
where
    M: GuestMemory + ?Sized,
    H: Host + ?Sized,
{
    // The load rules guarantee `buf_size <= dest_size` and that `dest_maddr +
    // dest_size` does not wrap, so no destination address below wraps; the source's
    // can, and is then a fault of the whole source.
    let source_fault = || GuestFault {
        addr: seg.buf,
        len: seg.buf_size,
        access: Access::Read,
    };
    let mut done = 0u64;
    while done < seg.buf_size {
        let maddr = seg.dest_maddr.wrapping_add(done);
        let to_page_end = page - (maddr & (page - 1));
        let len = (seg.buf_size - done)
            .min(to_page_end)
            .min(COPY_CHUNK as u64);
        let chunk = usize::try_from(len)
            .ok()
            .and_then(|len| buf.get_mut(..len))
            .ok_or_else(source_fault)?;
        let src = seg.buf.checked_add(done).ok_or_else(source_fault)?;
        mem.read(src, chunk)?;
        match slot {
            ImageSlot::Crash => host.write_crash(maddr, chunk)?,
            ImageSlot::Default(area) => host.stage_default(area, maddr, chunk)?,
        }
        done += len;
    }
    let tail = seg.dest_size.saturating_sub(seg.buf_size);
    if tail > 0 {
        let maddr = seg.dest_maddr.wrapping_add(seg.buf_size);
        match slot {
            ImageSlot::Crash => host.zero_crash(maddr, tail)?,
            ImageSlot::Default(area) => host.zero_default(area, maddr, tail)?,
        }
    }
    Ok(())
}
