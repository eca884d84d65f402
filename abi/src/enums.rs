// SPDX-License-Identifier: MIT
//! The open enums that carry guest-supplied values: commands, image types, range kinds,
//! ELF machines and Xen errno values. See [`crate::open_enum`] for the pattern.

use crate::open_enum::open_enum;

open_enum! {
    /// A `kexec_op` command (`unsigned int cmd`, the hypercall's first argument).
    ///
    /// ```
    /// use xen_kexec_abi::KexecCmd;
    /// assert_eq!(format!("{:?}", KexecCmd::LOAD), "KEXEC_CMD_kexec_load");
    /// assert_eq!(format!("{:?}", KexecCmd(9)), "KexecCmd(9)");
    /// ```
    #[doc(alias = "KEXEC_CMD")]
    pub struct KexecCmd(u32 as "unsigned int") {
        /// Enter the loaded image.
        KEXEC = KEXEC_CMD_kexec,
        /// The removed v1 load.
        LOAD_V1 = KEXEC_CMD_kexec_load_v1,
        /// The removed v1 unload.
        UNLOAD_V1 = KEXEC_CMD_kexec_unload_v1,
        /// Query a machine range.
        GET_RANGE = KEXEC_CMD_kexec_get_range,
        /// Load an image.
        LOAD = KEXEC_CMD_kexec_load,
        /// Unload an image.
        UNLOAD = KEXEC_CMD_kexec_unload,
        /// Ask whether an image is loaded.
        STATUS = KEXEC_CMD_kexec_status,
    }
}

open_enum! {
    /// The kind of kexec image (`uint8_t type` in load, unload and status).
    ///
    /// ```
    /// use xen_kexec_abi::KexecType;
    /// assert!(KexecType::CRASH.is_known());
    /// assert!(!KexecType(2).is_known());
    /// ```
    #[doc(alias = "KEXEC_TYPE")]
    pub struct KexecType(u8 as "uint8_t") {
        /// The reboot image.
        DEFAULT = KEXEC_TYPE_DEFAULT,
        /// The crash image.
        CRASH = KEXEC_TYPE_CRASH,
    }
}

open_enum! {
    /// The kind of image `KEXEC_CMD_kexec` enters: the `KEXEC_TYPE_*` values in the C
    /// `int type` of `xen_kexec_exec_t` (the other structures hold them in a `uint8_t`, as
    /// [`KexecType`]). [`KexecExecType::kexec_type`] converts.
    ///
    /// ```
    /// use xen_kexec_abi::{KexecExecType, KexecType};
    /// assert_eq!(format!("{:?}", KexecExecType(1)), "KEXEC_TYPE_CRASH");
    /// assert_eq!(format!("{:?}", KexecExecType(-1)), "KexecExecType(-1)");
    /// assert_eq!(KexecExecType::CRASH.kexec_type(), Ok(KexecType::CRASH));
    /// ```
    pub struct KexecExecType(i32 as "int") {
        /// The reboot image.
        DEFAULT = KEXEC_TYPE_DEFAULT,
        /// The crash image.
        CRASH = KEXEC_TYPE_CRASH,
    }
}

// The `int` values are the `uint8_t` ones, widened.
static_assertions::const_assert!(KexecExecType::DEFAULT.0 == KexecType::DEFAULT.0 as i32);
static_assertions::const_assert!(KexecExecType::CRASH.0 == KexecType::CRASH.0 as i32);

open_enum! {
    /// Which machine range `KEXEC_CMD_kexec_get_range` asks about (`int range`).
    #[doc(alias = "KEXEC_RANGE")]
    pub struct KexecRangeKind(i32 as "int") {
        /// The crash region.
        MA_CRASH = KEXEC_RANGE_MA_CRASH,
        /// Xen's own image.
        MA_XEN = KEXEC_RANGE_MA_XEN,
        /// A physical CPU's crash notes (`nr` is the CPU).
        MA_CPU = KEXEC_RANGE_MA_CPU,
        /// The Xen heap.
        MA_XENHEAP = KEXEC_RANGE_MA_XENHEAP,
        /// Obsolete ia64 boot parameters.
        MA_BOOT_PARAM = KEXEC_RANGE_MA_BOOT_PARAM,
        /// The EFI memory map.
        MA_EFI_MEMMAP = KEXEC_RANGE_MA_EFI_MEMMAP,
        /// The vmcoreinfo note.
        MA_VMCOREINFO = KEXEC_RANGE_MA_VMCOREINFO,
    }
}

open_enum! {
    /// The ELF machine of an image (`uint16_t arch` in the load structure); it alone
    /// decides the image's [`EntryMode`](crate::EntryMode).
    #[doc(alias = "EM")]
    pub struct ElfMachine(u16 as "uint16_t") {
        /// 32-bit x86.
        EM_386 = EM_386,
        /// 64-bit x86.
        EM_X86_64 = EM_X86_64,
    }
}

open_enum! {
    /// A Xen errno value (positive; the hypercall returns it negated).
    ///
    /// ```
    /// use xen_kexec_abi::Errno;
    /// assert_eq!(Errno::EINVAL.0, 22);
    /// assert_eq!(Errno::EINVAL.to_hypercall_ret(), -22);
    /// ```
    pub struct Errno(i32 as "int") {
        /// Operation not permitted.
        EPERM = XEN_EPERM,
        /// No such entry.
        ENOENT = XEN_ENOENT,
        /// I/O error.
        EIO = XEN_EIO,
        /// Out of memory.
        ENOMEM = XEN_ENOMEM,
        /// Bad guest address.
        EFAULT = XEN_EFAULT,
        /// Busy.
        EBUSY = XEN_EBUSY,
        /// Invalid argument.
        EINVAL = XEN_EINVAL,
        /// Result out of range for the caller.
        ERANGE = XEN_ERANGE,
        /// Not implemented.
        ENOSYS = XEN_ENOSYS,
        /// Not supported.
        EOPNOTSUPP = XEN_EOPNOTSUPP,
        /// Address not usable.
        EADDRNOTAVAIL = XEN_EADDRNOTAVAIL,
    }
}

impl Errno {
    /// The hypercall's return value for this error: the errno negated, as Xen's `long`.
    pub const fn to_hypercall_ret(self) -> i64 {
        -(self.0 as i64)
    }
}
