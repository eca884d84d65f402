//! The `native` alias picks the layout of the host the crate is compiled for.

use xen_kexec_abi::layout::{Arch, LOAD, RANGE};

#[cfg(target_arch = "x86")]
#[test]
fn native_is_the_x86_32_layout_on_a_32_bit_x86_host() {
    use xen_kexec_abi::{native, x86_32, GuestAbi};
    static_assertions::assert_type_eq_all!(native::KexecLoad, x86_32::KexecLoad);
    static_assertions::assert_type_eq_all!(native::KexecSegment, x86_32::KexecSegment);
    static_assertions::assert_type_eq_all!(native::KexecRange, x86_32::KexecRange);
    assert_eq!(native::GUEST_ABI, GuestAbi::X86_32);
    assert_eq!(size_of::<native::KexecRange>(), RANGE.size(Arch::X86_32));
    assert_eq!(align_of::<native::KexecLoad>(), LOAD.align(Arch::X86_32));
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn native_is_the_x86_64_layout_on_a_64_bit_host() {
    use xen_kexec_abi::{native, x86_64, GuestAbi};
    static_assertions::assert_type_eq_all!(native::KexecLoad, x86_64::KexecLoad);
    static_assertions::assert_type_eq_all!(native::KexecSegment, x86_64::KexecSegment);
    static_assertions::assert_type_eq_all!(native::KexecRange, x86_64::KexecRange);
    assert_eq!(native::GUEST_ABI, GuestAbi::X86_64);
    assert_eq!(size_of::<native::KexecRange>(), RANGE.size(Arch::X86_64));
    assert_eq!(align_of::<native::KexecLoad>(), LOAD.align(Arch::X86_64));
}

#[test]
fn both_guest_layouts_exist_in_every_build_with_host_independent_layouts() {
    use xen_kexec_abi::{x86_32, x86_64};
    let of = |size: usize, align: usize| (size, align);
    for (arch, range, load) in [
        (
            Arch::X86_32,
            of(
                size_of::<x86_32::KexecRange>(),
                align_of::<x86_32::KexecRange>(),
            ),
            of(
                size_of::<x86_32::KexecLoad>(),
                align_of::<x86_32::KexecLoad>(),
            ),
        ),
        (
            Arch::X86_64,
            of(
                size_of::<x86_64::KexecRange>(),
                align_of::<x86_64::KexecRange>(),
            ),
            of(
                size_of::<x86_64::KexecLoad>(),
                align_of::<x86_64::KexecLoad>(),
            ),
        ),
    ] {
        assert_eq!(
            range,
            (RANGE.size(arch), RANGE.align(arch)),
            "{}",
            arch.name()
        );
        assert_eq!(load, (LOAD.size(arch), LOAD.align(arch)), "{}", arch.name());
    }
}
