//! The constants of Xen's kexec interface, under their C names: the `KEXEC_*` ones of
//! `xen/include/public/kexec.h` (Xen 4.23), the hypercall number of `xen.h`, the ELF
//! machine numbers of `<elf.h>` and the error values of Xen's `errno.h`.
//!
//! These `const` items are the single source of every number: the open enums
//! ([`crate::KexecCmd`], [`crate::KexecType`], ...) take their values from here, and the
//! header generator emits the `KEXEC_*` ones as `#define`s. The names are Xen's, hence the
//! lower-case parts.
//!
//! The first paragraph of each `KEXEC_*` constant's documentation becomes its comment in
//! the generated C header, so it is written as C header prose; anything about this crate
//! goes in later paragraphs.
#![allow(non_upper_case_globals)]

/// The hypercall number of `kexec_op`: `long kexec_op(unsigned int cmd, void *arg)`.
///
/// Xen defines it in its public `xen.h`, which `kexec.h` includes, so the generated
/// header leaves it out (as it leaves out every `__HYPERVISOR_*` constant).
pub const __HYPERVISOR_kexec_op: u32 = 37;

/// Enter the loaded image of a type. Takes `xen_kexec_exec_t`; does not return on
/// success.
pub const KEXEC_CMD_kexec: u32 = 0;
/// Removed in Xen 4.23 (the v1 load, whose `unsigned long page_list[17]` changed size
/// with the guest's width); answered with `-EOPNOTSUPP`.
///
/// This crate refuses it the same way.
pub const KEXEC_CMD_kexec_load_v1: u32 = 1;
/// Removed in Xen 4.23 (the v1 unload); answered with `-EOPNOTSUPP`.
///
/// This crate refuses it the same way.
pub const KEXEC_CMD_kexec_unload_v1: u32 = 2;
/// Ask where a machine range (the crash region, Xen, a CPU's notes, ...) lies. Takes
/// `xen_kexec_range_t`; fills in `size` and `start`.
pub const KEXEC_CMD_kexec_get_range: u32 = 3;
/// Load an image made of an array of segments. Takes `xen_kexec_load_t`.
pub const KEXEC_CMD_kexec_load: u32 = 4;
/// Unload the image of a type. Takes `xen_kexec_unload_t`.
pub const KEXEC_CMD_kexec_unload: u32 = 5;
/// Ask whether an image of a type is loaded. Takes `xen_kexec_status_t`; returns 1 if it
/// is, 0 if not.
pub const KEXEC_CMD_kexec_status: u32 = 6;

/// The image entered on a normal reboot.
pub const KEXEC_TYPE_DEFAULT: u8 = 0;
/// The image entered when Xen crashes; it must lie in the reserved crash region.
pub const KEXEC_TYPE_CRASH: u8 = 1;

/// The machine range reserved for the crash image.
pub const KEXEC_RANGE_MA_CRASH: i32 = 0;
/// The machine range holding Xen itself.
pub const KEXEC_RANGE_MA_XEN: i32 = 1;
/// A physical CPU's crash notes; `nr` is the CPU number.
pub const KEXEC_RANGE_MA_CPU: i32 = 2;
/// The machine range of the Xen heap.
pub const KEXEC_RANGE_MA_XENHEAP: i32 = 3;
/// Obsolete (ia64 boot parameters); kept for its number.
pub const KEXEC_RANGE_MA_BOOT_PARAM: i32 = 4;
/// The EFI memory map.
pub const KEXEC_RANGE_MA_EFI_MEMMAP: i32 = 5;
/// The vmcoreinfo note.
pub const KEXEC_RANGE_MA_VMCOREINFO: i32 = 6;

/// The most segments one load may carry (16 is accepted).
///
/// Internal to Xen's hypervisor; public here because both sides of the ABI need it. Xen's
/// own check (`nr_segments >= KEXEC_SEGMENT_MAX`) refuses exactly this many; this crate
/// accepts it.
pub const KEXEC_SEGMENT_MAX: u32 = 16;

/// `EM_386`: the ELF machine of a 32-bit x86 image, entered in 32-bit protected mode.
pub const EM_386: u16 = 3;
/// `EM_X86_64`: the ELF machine of a 64-bit x86 image, entered in 64-bit long mode.
pub const EM_X86_64: u16 = 62;

/// `XEN_EPERM` (Xen's `errno.h`): operation not permitted.
pub const XEN_EPERM: i32 = 1;
/// `XEN_ENOENT`: no such entry.
pub const XEN_ENOENT: i32 = 2;
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
