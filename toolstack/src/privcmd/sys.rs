// SPDX-License-Identifier: MIT
//! Every `unsafe` operation of the toolstack, with its safety argument: the privcmd
//! hypercall ioctl and the hypercall-safe memory it points the hypervisor at.
//!
//! The safe API above this module ([`super::PrivcmdTransport`]) holds three invariants
//! that the blocks below rely on:
//! - a [`Mapping`] owns its pages exclusively from creation to `Drop`: nothing else
//!   maps or unmaps them, so slices over them are valid for its lifetime;
//! - the hypercall is made while the caller holds `&mut` to every mapping the call
//!   refers to, so no Rust reference observes the bytes the hypervisor writes;
//! - the only bytes the hypervisor writes are, for `kexec_op`, the answer of
//!   `KEXEC_CMD_kexec_get_range` over its argument, and for `memory_op`'s
//!   `XENMEM_machine_memory_map`, its `struct xen_memory_map` argument and at most
//!   `nr_entries` e820 entries at its `buffer` (nothing there for a null buffer); these
//!   are the only hypercalls the safe API can make, and [`hypercall`] is only given one
//!   whose written bytes all lie inside those mappings, `nr_entries` and `buffer` read
//!   from the very mapped bytes the hypervisor reads, or, for a `kexec_op` argument
//!   only, inside [`super::NEVER_MAPPED`], non-canonical addresses that no mapping of
//!   any x86_64 process can hold, where the hypervisor's write faults (EFAULT) and
//!   touches nothing (checked by the caller, see `PrivcmdTransport::check_writes`).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::BorrowedFd;
use std::ptr::NonNull;

use rustix::ioctl::{opcode, Direction, Ioctl, IoctlOutput, Opcode};
use rustix::mm::{MapFlags, ProtFlags};

/// `struct privcmd_hypercall { __u64 op; __u64 arg[5]; }` from Linux's
/// `include/uapi/xen/privcmd.h`; 48 bytes, checked against the C header by a test.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrivcmdHypercall {
    /// The hypercall number.
    pub op: u64,
    /// Its arguments, in order.
    pub arg: [u64; 5],
}

/// `#define IOCTL_PRIVCMD_HYPERCALL _IOC(_IOC_NONE, 'P', 0, sizeof(struct privcmd_hypercall))`
pub const IOCTL_PRIVCMD_HYPERCALL: Opcode =
    opcode::from_components(Direction::None, b'P', 0, size_of::<PrivcmdHypercall>());

/// The ioctl: [`PrivcmdHypercall`] in, the hypercall's return value out.
struct Hypercall<'a>(&'a mut PrivcmdHypercall);

// SAFETY: IOCTL_PRIVCMD_HYPERCALL takes a pointer to a `struct privcmd_hypercall`,
// which `as_ptr` gives (a live, exclusive borrow of the `#[repr(C)]` twin), and returns
// the hypercall's value as the ioctl's result, which `output_from_ptr` passes on without
// touching the pointer. The kernel only reads the structure; the memory the hypercall
// itself may write is the caller's concern (see the module documentation), so the call
// is marked mutating.
unsafe impl Ioctl for Hypercall<'_> {
    type Output = IoctlOutput;
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        IOCTL_PRIVCMD_HYPERCALL
    }

    fn as_ptr(&mut self) -> *mut core::ffi::c_void {
        std::ptr::from_mut(self.0).cast()
    }

    unsafe fn output_from_ptr(
        out: IoctlOutput,
        _: *mut core::ffi::c_void,
    ) -> rustix::io::Result<IoctlOutput> {
        Ok(out)
    }
}

/// Issues `call` through the privcmd device `fd`. A hypercall's negative return value
/// arrives as the ioctl's failure with that errno; it is returned as `Err`, for the
/// caller to tell a refusal from a failure of the ioctl itself.
///
/// The caller must hold `&mut` to every [`Mapping`] the call's arguments point into,
/// and the argument the hypervisor may write must lie inside one of them (see the
/// module documentation).
pub(super) fn hypercall(
    fd: BorrowedFd<'_>,
    call: &mut PrivcmdHypercall,
) -> io::Result<IoctlOutput> {
    // SAFETY: the ioctl's own contract is met by `Hypercall` (above): the kernel copies
    // in the `struct privcmd_hypercall` alone (copy_from_user) and makes the call. The
    // hypervisor reads the arguments through its own copy_from_guest (Xen's, with
    // exception fixups; not a kernel routine), which fails cleanly (EFAULT) on an
    // address the process has not mapped, and writes only what the
    // module documentation lists (the get_range answer, the machine memory map and its
    // argument), which the caller has checked lies inside mappings it holds
    // exclusively for the duration of this call, or at non-canonical addresses that no
    // mapping holds (`NEVER_MAPPED`), where the hypervisor's write faults.
    unsafe { rustix::ioctl::ioctl(fd, Hypercall(call)) }.map_err(io::Error::from)
}

/// Whether a mapping's pages come from the hypercall device or are locked anonymous
/// memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MappingKind {
    /// Pages of `/dev/xen/hypercall`: the kernel keeps them safe for hypercalls.
    HypercallDevice,
    /// Anonymous memory locked with `mlock`, as libxencall falls back to on kernels
    /// without `/dev/xen/hypercall` (before Linux 4.18). Its limit: `mlock` keeps the
    /// pages in RAM but does not stop the kernel migrating them (compaction, NUMA
    /// balancing), so on a PVH dom0 a hypercall can meet a page in flight and fail
    /// with a spurious `EFAULT`: the reason libxencall moved to the device.
    LockedAnonymous,
}

/// Pages mapped for hypercall arguments, owned exclusively, unmapped on drop.
#[derive(Debug)]
pub(super) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    kind: MappingKind,
}

impl Mapping {
    /// `len` bytes (rounded up to whole pages, at least one) of the hypercall device
    /// `fd`, zeroed.
    pub(super) fn hypercall_device(fd: BorrowedFd<'_>, len: usize) -> io::Result<Mapping> {
        let len = page_round(len)?;
        // SAFETY: a fresh shared mapping chosen by the kernel (null hint), so it
        // aliases no existing Rust object; on success it is owned by the returned
        // `Mapping` alone, which unmaps exactly `len` bytes at `ptr` in `Drop`.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )
        }?;
        let mut map = Mapping::own(ptr, len, MappingKind::HypercallDevice)?;
        map.as_mut_bytes().fill(0);
        Ok(map)
    }

    /// `len` bytes (rounded up to whole pages, at least one) of private anonymous
    /// memory, locked in RAM (zeroed by the kernel).
    pub(super) fn locked_anonymous(len: usize) -> io::Result<Mapping> {
        let len = page_round(len)?;
        // SAFETY: a fresh private anonymous mapping chosen by the kernel (null hint):
        // it aliases nothing and is owned by the returned `Mapping` alone.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }?;
        // Owned from here on, so an early return below unmaps it.
        let map = Mapping::own(ptr, len, MappingKind::LockedAnonymous)?;
        // SAFETY: `ptr..ptr + len` is exactly the mapping just made and owned by `map`;
        // mlock does not change its contents.
        unsafe { rustix::mm::mlock(ptr, len) }?;
        Ok(map)
    }

    fn own(ptr: *mut core::ffi::c_void, len: usize, kind: MappingKind) -> io::Result<Mapping> {
        let ptr = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned a null mapping"))?;
        Ok(Mapping { ptr, len, kind })
    }

    /// Where the pages come from.
    pub(super) fn kind(&self) -> MappingKind {
        self.kind
    }

    /// The address of the first byte in this process: the guest address the kernel
    /// passes to the hypervisor.
    pub(super) fn addr(&self) -> u64 {
        self.ptr.as_ptr() as usize as u64
    }

    /// The mapped bytes.
    pub(super) fn as_bytes(&self) -> &[u8] {
        // SAFETY: `ptr..ptr + len` is mapped readable for the life of `self` and owned
        // by it alone (module invariant); `&self` excludes writes through `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped bytes, writable.
    pub(super) fn as_mut_bytes(&mut self) -> &mut [u8] {
        // SAFETY: as `as_bytes`, mapped writable; `&mut self` makes this the only
        // reference to the bytes.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the pages this `Mapping` owns; no slice borrowed from
        // it outlives it. An error cannot be acted on here and leaves the pages mapped.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// The page size hypercall buffers are made of (x86: 4 KiB).
pub(super) const PAGE_SIZE: usize = 4096;

/// `len` rounded up to whole pages, at least one.
fn page_round(len: usize) -> io::Result<usize> {
    len.max(1)
        .checked_next_multiple_of(PAGE_SIZE)
        .ok_or_else(|| io::Error::other(format!("{len} bytes cannot be mapped")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_anonymous_memory_is_zeroed_writable_and_page_rounded() {
        let mut m = match Mapping::locked_anonymous(10) {
            Ok(m) => m,
            // A locked-memory limit of zero is a configuration, not a bug here.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOMEM.raw_os_error()) => return,
            Err(e) => panic!("mmap+mlock: {e}"),
        };
        assert_eq!(m.kind(), MappingKind::LockedAnonymous);
        assert_eq!(m.as_bytes().len(), PAGE_SIZE);
        assert!(m.as_bytes().iter().all(|&b| b == 0));
        m.as_mut_bytes()[PAGE_SIZE - 1] = 0xa5;
        assert_eq!(m.as_bytes()[PAGE_SIZE - 1], 0xa5);
        assert_eq!(m.addr() % PAGE_SIZE as u64, 0);
    }
}
