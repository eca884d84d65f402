// SPDX-License-Identifier: MIT
//! Constants, open enums, entry modes and errors: the values of the ABI.

use xen_kexec_abi::consts::*;
use xen_kexec_abi::{
    x86_32, x86_64, ElfMachine, EntryMode, Errno, Error, KexecCmd, KexecExecType, KexecRangeKind,
    KexecType, OpenEnum, RangeField,
};

#[test]
fn constants_have_the_values_of_xens_headers() {
    assert_eq!(__HYPERVISOR_kexec_op, 37);
    assert_eq!(
        [
            KEXEC_CMD_kexec,
            KEXEC_CMD_kexec_load_v1,
            KEXEC_CMD_kexec_unload_v1,
            KEXEC_CMD_kexec_get_range,
            KEXEC_CMD_kexec_load,
            KEXEC_CMD_kexec_unload,
            KEXEC_CMD_kexec_status
        ],
        [0, 1, 2, 3, 4, 5, 6]
    );
    assert_eq!((KEXEC_TYPE_DEFAULT, KEXEC_TYPE_CRASH), (0, 1));
    assert_eq!(
        [
            KEXEC_RANGE_MA_CRASH,
            KEXEC_RANGE_MA_XEN,
            KEXEC_RANGE_MA_CPU,
            KEXEC_RANGE_MA_XENHEAP,
            KEXEC_RANGE_MA_BOOT_PARAM,
            KEXEC_RANGE_MA_EFI_MEMMAP,
            KEXEC_RANGE_MA_VMCOREINFO
        ],
        [0, 1, 2, 3, 4, 5, 6]
    );
    assert_eq!(KEXEC_SEGMENT_MAX, 16);
    assert_eq!((EM_386, EM_X86_64), (3, 62));
    assert_eq!(
        [
            XEN_EPERM,
            XEN_ENOENT,
            XEN_EIO,
            XEN_ENOMEM,
            XEN_EFAULT,
            XEN_EBUSY,
            XEN_EINVAL,
            XEN_ERANGE,
            XEN_ENOSYS,
            XEN_EOPNOTSUPP,
            XEN_EADDRNOTAVAIL
        ],
        [1, 2, 5, 12, 14, 16, 22, 34, 38, 95, 99]
    );
}

#[test]
fn open_enums_print_c_names_for_known_values_and_numbers_for_unknown_ones() {
    assert_eq!(format!("{:?}", KexecType::CRASH), "KEXEC_TYPE_CRASH");
    assert_eq!(format!("{:?}", KexecType(9)), "KexecType(9)");
    assert_eq!(
        format!("{:?}", KexecRangeKind::MA_VMCOREINFO),
        "KEXEC_RANGE_MA_VMCOREINFO"
    );
    assert_eq!(format!("{:?}", KexecRangeKind(-1)), "KexecRangeKind(-1)");
    assert_eq!(format!("{:?}", ElfMachine::EM_X86_64), "EM_X86_64");
    assert_eq!(format!("{}", Errno::EADDRNOTAVAIL), "XEN_EADDRNOTAVAIL");
    assert_eq!(format!("{:?}", KexecCmd(1)), "KEXEC_CMD_kexec_load_v1");
}

#[test]
fn open_enums_list_every_known_value_with_its_c_type() {
    assert_eq!(KexecCmd::KNOWN.len(), 7);
    assert_eq!(KexecRangeKind::KNOWN.len(), 7);
    assert_eq!(Errno::KNOWN.len(), 11);
    assert_eq!(
        KexecType::KNOWN,
        &[
            ("KEXEC_TYPE_DEFAULT", KexecType(0)),
            ("KEXEC_TYPE_CRASH", KexecType(1))
        ]
    );
    assert_eq!(
        [
            KexecType::C_TYPE,
            ElfMachine::C_TYPE,
            KexecRangeKind::C_TYPE,
            KexecCmd::C_TYPE
        ],
        ["uint8_t", "uint16_t", "int", "unsigned int"]
    );
    for (name, value) in KexecCmd::KNOWN {
        assert!(value.is_known());
        assert_eq!(value.c_name(), Some(*name));
    }
    assert!(!KexecCmd(7).is_known());
    assert_eq!(KexecCmd(7).c_name(), None);
}

#[test]
fn entry_mode_follows_the_images_arch_in_either_guest_layout() {
    for arch in [ElfMachine::EM_386, ElfMachine::EM_X86_64] {
        let expected = if arch == ElfMachine::EM_386 {
            EntryMode::Protected32
        } else {
            EntryMode::Long64
        };
        let wide = x86_64::KexecLoad {
            arch,
            ..Default::default()
        };
        let narrow = x86_32::KexecLoad {
            arch,
            ..Default::default()
        };
        assert_eq!(wide.entry_mode(), Ok(expected));
        assert_eq!(narrow.entry_mode(), Ok(expected));
    }
    for arch in [0, 40, 183, 0xffff] {
        let load = x86_32::KexecLoad {
            arch: ElfMachine(arch),
            ..Default::default()
        };
        let err = load.entry_mode().unwrap_err();
        assert_eq!(
            err,
            Error::UnsupportedArch {
                arch: ElfMachine(arch)
            }
        );
        assert_eq!(err.errno(), Errno::EINVAL);
    }
}

#[test]
fn exec_type_is_checked_including_ints_outside_a_byte() {
    let exec = |value| x86_64::KexecExec {
        type_: KexecExecType(value),
    };
    assert_eq!(exec(0).kexec_type(), Ok(KexecType::DEFAULT));
    assert_eq!(exec(1).kexec_type(), Ok(KexecType::CRASH));
    for bad in [2, -1, 256, 257, i32::MIN] {
        assert_eq!(
            exec(bad).kexec_type(),
            Err(Error::UnknownType { value: bad })
        );
    }
}

#[test]
fn errors_carry_their_errno_and_say_what_was_wrong() {
    let too_wide = Error::RangeTooWide {
        field: RangeField::Start,
        value: 0x1_0000_0000,
    };
    assert_eq!(too_wide.errno(), Errno::ERANGE);
    assert_eq!(too_wide.to_hypercall_ret(), -34);
    assert_eq!(Errno::from(too_wide), Errno::ERANGE);
    assert_eq!(
        too_wide.to_string(),
        "range start 0x100000000 does not fit in a 32-bit guest's unsigned long"
    );
    let unknown = Error::UnknownType { value: 5 };
    assert_eq!(unknown.to_hypercall_ret(), -22);
    assert_eq!(
        unknown.to_string(),
        "type 5 is neither KEXEC_TYPE_DEFAULT nor KEXEC_TYPE_CRASH"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(unknown);
    assert!(boxed.source().is_none());
}
