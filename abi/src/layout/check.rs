// SPDX-License-Identifier: MIT
//! What the compile-time layout assertions check a Rust structure with: the sealed
//! [`AbiField`] trait of explicit-width field types, and `assert_layout!`, which compares a
//! structure with its model on one arch.

/// The types a field of an ABI structure may have: the fixed-width integers `u8`, `u16`,
/// `u32`, `u64` and `i32`, the open enums over them, and the 8-byte [`GuestHandle64`]
/// union. Never `usize`, `isize`, a pointer, `c_ulong`/`c_long` or a Rust union: the
/// layout assertions under each structure require this trait of every field, so a field
/// of any other type does not compile. Sealed: only this crate implements it.
///
/// The check the assertions make, on a field of explicit width:
/// ```
/// use xen_kexec_abi::layout::size_of_return;
/// #[derive(Clone, Copy)]
/// struct Good { size: u64 }
/// const _: usize = size_of_return(|s: Good| s.size);
/// ```
/// and the same check refusing a pointer-sized field:
/// ```compile_fail,E0277
/// use xen_kexec_abi::layout::size_of_return;
/// #[derive(Clone, Copy)]
/// struct Bad { size: usize }
/// const _: usize = size_of_return(|s: Bad| s.size);
/// ```
///
/// [`GuestHandle64`]: crate::GuestHandle64
pub trait AbiField: sealed::Sealed + Copy {
    /// Whether the field's integer is signed (`i32` and the open enums over it). The
    /// layout assertions require it to match the model's [`CType::is_signed`](super::CType::is_signed), so a
    /// `u32` where C has `int` does not compile.
    const SIGNED: bool;
}

pub(crate) mod sealed {
    /// Seals [`AbiField`](super::AbiField).
    pub trait Sealed {}
}

macro_rules! abi_fields {
    ($($t:ty => $signed:literal),*) => {$(
        impl sealed::Sealed for $t {}
        impl AbiField for $t {
            const SIGNED: bool = $signed;
        }
    )*};
}
abi_fields!(u8 => false, u16 => false, u32 => false, u64 => false, i32 => true);

/// The size of the value a field accessor returns, which must be an [`AbiField`]: lets
/// a constant expression name a field's Rust type without a reference into a packed
/// structure.
#[doc(hidden)]
pub const fn size_of_return<S, F: AbiField>(_accessor: fn(S) -> F) -> usize {
    size_of::<F>()
}

/// Whether the value a field accessor returns is signed ([`AbiField::SIGNED`]); the
/// companion of [`size_of_return`]. The check the assertions make, on a field whose
/// signedness matches the model's `int range`:
/// ```
/// use xen_kexec_abi::layout::{signed_of_return, RANGE};
/// #[derive(Clone, Copy)]
/// struct Good { range: i32 }
/// const _: () = assert!(signed_of_return(|s: Good| s.range) == RANGE.fields[0].1.is_signed());
/// ```
/// and the same check refusing an unsigned field of the same width:
/// ```compile_fail,E0080
/// use xen_kexec_abi::layout::{signed_of_return, RANGE};
/// #[derive(Clone, Copy)]
/// struct Bad { range: u32 }
/// const _: () = assert!(signed_of_return(|s: Bad| s.range) == RANGE.fields[0].1.is_signed());
/// ```
#[doc(hidden)]
pub const fn signed_of_return<S, F: AbiField>(_accessor: fn(S) -> F) -> bool {
    F::SIGNED
}

/// Asserts at compile time that a Rust structure matches its model on one arch: size,
/// alignment, and every field's offset, size and signedness, with every model field named
/// once and every field's type an [`AbiField`].
macro_rules! assert_layout {
    ($ty:ty, $def:expr, $arch:expr, { $($field:ident => $cname:literal),+ $(,)? }) => {
        // `_pad` mirrors Xen's field name; reading it here is the point.
        #[allow(clippy::used_underscore_binding)]
        const _: () = {
            static_assertions::const_assert_eq!(size_of::<$ty>(), $def.size($arch));
            static_assertions::const_assert_eq!(align_of::<$ty>(), $def.align($arch));
            static_assertions::const_assert_eq!([$($cname),+].len(), $def.len());
            $(
                static_assertions::const_assert_eq!(
                    core::mem::offset_of!($ty, $field),
                    $def.field_at(match $def.field_index($cname) {
                        Some(i) => i,
                        None => panic!(concat!("the model has no field ", $cname)),
                    }).offset($arch)
                );
                static_assertions::const_assert_eq!(
                    $crate::layout::size_of_return(|s: $ty| s.$field),
                    $def.field_at(match $def.field_index($cname) {
                        Some(i) => i,
                        None => panic!(concat!("the model has no field ", $cname)),
                    }).size($arch)
                );
                static_assertions::const_assert!(
                    $crate::layout::signed_of_return(|s: $ty| s.$field)
                        == $def.field_at(match $def.field_index($cname) {
                            Some(i) => i,
                            None => panic!(concat!("the model has no field ", $cname)),
                        }).ctype.is_signed()
                );
            )+
        };
    };
}

pub(crate) use assert_layout;
