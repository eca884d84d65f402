// SPDX-License-Identifier: MIT
//! The `native` alias picks the layout of the host the crate is compiled for. (That each
//! layout matches the model is asserted at compile time under each structure.)

#[cfg(target_arch = "x86")]
#[test]
fn native_is_the_x86_32_layout_on_a_32_bit_x86_host() {
    use xen_kexec_abi::{native, x86_32, GuestAbi};
    static_assertions::assert_type_eq_all!(native::KexecLoad, x86_32::KexecLoad);
    static_assertions::assert_type_eq_all!(native::KexecSegment, x86_32::KexecSegment);
    static_assertions::assert_type_eq_all!(native::KexecRange, x86_32::KexecRange);
    assert_eq!(native::GUEST_ABI, GuestAbi::X86_32);
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn native_is_the_x86_64_layout_on_a_64_bit_host() {
    use xen_kexec_abi::{native, x86_64, GuestAbi};
    static_assertions::assert_type_eq_all!(native::KexecLoad, x86_64::KexecLoad);
    static_assertions::assert_type_eq_all!(native::KexecSegment, x86_64::KexecSegment);
    static_assertions::assert_type_eq_all!(native::KexecRange, x86_64::KexecRange);
    assert_eq!(native::GUEST_ABI, GuestAbi::X86_64);
}
