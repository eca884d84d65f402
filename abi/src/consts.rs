// SPDX-License-Identifier: MIT
//! The constants of Xen's kexec interface, under their C names: the `KEXEC_*` ones of
//! `xen/include/public/kexec.h` (Xen 4.23), the hypercall number of `xen.h`, the ELF
//! machine numbers of `<elf.h>` and the error values of Xen's `errno.h`.
//!
//! These `const` items are the single source of every number: the open enums
//! ([`crate::KexecCmd`], [`crate::KexecType`], ...) take their values from here, and the
//! header generator emits the `KEXEC_*` ones as `#define`s. The names are Xen's, hence the
//! lower-case parts.
//!
//! The first block of each `KEXEC_*` constant's documentation (up to its first blank
//! line) becomes its comment in the generated C header, and that of
//! [`__HYPERVISOR_kexec_op`] the header's description of the hypercall: so they are
//! written as C header prose, and together they state the hypercall's contract. Anything
//! about this crate goes in later paragraphs.
#![allow(non_upper_case_globals)]

/// `__HYPERVISOR_kexec_op`, from Xen's `xen.h`: the number of the hypercall
/// `long kexec_op(unsigned int cmd, void *arg)`. `cmd` is a `KEXEC_CMD_*` value and `arg`
/// the caller's address of that command's structure. The result is 0 on success, unless
/// the command says otherwise, and a negated Xen errno value on failure. Only a
/// privileged domain may make the call.
///
/// Xen defines it in its public `xen.h`, which `kexec.h` includes, so the generated
/// header leaves it out (as it leaves out every `__HYPERVISOR_*` constant).
pub const __HYPERVISOR_kexec_op: u32 = 37;

/// `__HYPERVISOR_memory_op`, from Xen's `xen.h`: the number of the hypercall
/// `long memory_op(unsigned int cmd, void *arg)`. Of its commands this project makes
/// only [`XENMEM_machine_memory_map`] (see [`crate::memory`]).
///
/// Not part of `kexec.h`: the generated header leaves it out.
pub const __HYPERVISOR_memory_op: u32 = 12;

/// `XENMEM_machine_memory_map`, from Xen's `public/memory.h`: the `memory_op` command
/// that returns the machine's e820 map to a privileged domain; takes
/// `struct xen_memory_map` ([`crate::memory`]).
///
/// Not part of `kexec.h`: the generated header leaves it out.
pub const XENMEM_machine_memory_map: u32 = 10;

/// Enter the loaded image of a type: takes `xen_kexec_exec_t`, and does not return on
/// success. The image starts at its entry address in this machine state:
/// - it runs on one CPU, and every other CPU is stopped;
/// - interrupts are disabled;
/// - the contents of the registers are undefined;
/// - each segment's destination is mapped 1:1 (virtual address = machine address);
///   where the page tables themselves lie is unspecified.
pub const KEXEC_CMD_kexec: u32 = 0;
/// Removed in Xen 4.23 (the v1 load, whose `unsigned long page_list[17]` changed size
/// with the guest's width); answered with `-EOPNOTSUPP`.
///
/// This crate refuses it the same way, and the generated header does not define it.
pub const KEXEC_CMD_kexec_load_v1: u32 = 1;
/// Removed in Xen 4.23 (the v1 unload); answered with `-EOPNOTSUPP`.
///
/// This crate refuses it the same way, and the generated header does not define it.
pub const KEXEC_CMD_kexec_unload_v1: u32 = 2;
/// Ask where a machine range lies: takes `xen_kexec_range_t`, filled as each
/// `KEXEC_RANGE_MA_*` value says. A 32-bit caller whose answer does not fit its
/// `unsigned long` gets `-ERANGE` and nothing written.
pub const KEXEC_CMD_kexec_get_range: u32 = 3;
/// Load an image of a type, replacing the one loaded before: takes `xen_kexec_load_t`
/// and the array of `xen_kexec_segment_t` it points to.
pub const KEXEC_CMD_kexec_load: u32 = 4;
/// Unload the image of a type: takes `xen_kexec_unload_t`.
pub const KEXEC_CMD_kexec_unload: u32 = 5;
/// Ask whether an image of a type is loaded: takes `xen_kexec_status_t`, and returns 1
/// if one is, 0 if none is, and a negative errno value on error.
pub const KEXEC_CMD_kexec_status: u32 = 6;

/// The image entered on a normal reboot. Its segments' destinations may be anywhere in
/// machine memory: the image is kept aside and put in place when it is entered.
pub const KEXEC_TYPE_DEFAULT: u8 = 0;
/// The image entered when Xen crashes. Each of its segments that has a source buffer,
/// and its entry address, must lie inside the crash region (`KEXEC_RANGE_MA_CRASH`),
/// else the load fails with `-EADDRNOTAVAIL`; the segments are copied there when the
/// image is loaded.
pub const KEXEC_TYPE_CRASH: u8 = 1;

/// The crash region reserved at boot for the crash image: its `start` and `size`, both
/// 0 when none is reserved.
pub const KEXEC_RANGE_MA_CRASH: i32 = 0;
/// The machine memory holding Xen's own image.
pub const KEXEC_RANGE_MA_XEN: i32 = 1;
/// The crash notes of one physical CPU, `nr` being its CPU number (an `nr` that is not
/// one gets `-ERANGE`): where its state is saved when Xen crashes. Both 0 when that
/// CPU's notes could not be allocated.
pub const KEXEC_RANGE_MA_CPU: i32 = 2;
/// The Xen heap; x86 does not answer it (`-EINVAL`).
pub const KEXEC_RANGE_MA_XENHEAP: i32 = 3;
/// Obsolete (ia64 boot parameters), kept for its number; x86 does not answer it
/// (`-EINVAL`).
pub const KEXEC_RANGE_MA_BOOT_PARAM: i32 = 4;
/// The EFI memory map; x86 does not answer it (`-EINVAL`).
pub const KEXEC_RANGE_MA_EFI_MEMMAP: i32 = 5;
/// The vmcoreinfo note: the buffer in which Xen describes itself to crash-dump tools.
pub const KEXEC_RANGE_MA_VMCOREINFO: i32 = 6;

/// The most segments one load may carry. Xen refuses a load of exactly 16 (its check is
/// `nr_segments >= KEXEC_SEGMENT_MAX`) and keeps the constant out of its public header;
/// the xen-kexec-abi decoder accepts 16.
///
/// Public here because both sides of the ABI need it.
pub const KEXEC_SEGMENT_MAX: u32 = 16;

/// `EM_386`: the ELF machine of a 32-bit x86 image, entered in 32-bit protected mode.
pub const EM_386: u16 = 3;
/// `EM_X86_64`: the ELF machine of a 64-bit x86 image, entered in 64-bit long mode.
pub const EM_X86_64: u16 = 62;

/// `XEN_EPERM` (Xen's `errno.h`): operation not permitted.
pub const XEN_EPERM: i32 = 1;
/// `XEN_ENOENT`: no such entry.
pub const XEN_ENOENT: i32 = 2;
/// `XEN_EIO`: an I/O error (what a host's failure without a usable errno becomes).
pub const XEN_EIO: i32 = 5;
/// `XEN_ENOMEM`: out of memory.
pub const XEN_ENOMEM: i32 = 12;
/// `XEN_EFAULT`: a guest address could not be read or written.
pub const XEN_EFAULT: i32 = 14;
/// `XEN_EBUSY`: the resource is busy.
pub const XEN_EBUSY: i32 = 16;
/// `XEN_EINVAL`: an argument is invalid.
pub const XEN_EINVAL: i32 = 22;
/// `XEN_ERANGE`: a result does not fit in the caller's type.
pub const XEN_ERANGE: i32 = 34;
/// `XEN_ENOSYS`: the function is not implemented.
pub const XEN_ENOSYS: i32 = 38;
/// `XEN_EOPNOTSUPP`: the operation is not supported.
pub const XEN_EOPNOTSUPP: i32 = 95;
/// `XEN_EADDRNOTAVAIL`: an address is not usable for this purpose.
pub const XEN_EADDRNOTAVAIL: i32 = 99;
