// SPDX-License-Identifier: MIT
//! The open-enum pattern for values a guest supplies.
//!
//! A guest can put any number in a `type`, `range` or `arch` field, so those fields are
//! `#[repr(transparent)]` newtypes over the integer, not Rust enums: every bit pattern is
//! a valid value (the structures stay `FromBytes`), known values have associated
//! constants, and validation rejects unknown ones with a precise [`Error`](crate::Error).
//! `Debug` prints the C name of a known value and the number of an unknown one.

/// Describes an open enum to code that renders it elsewhere (the C header generator).
pub trait OpenEnum: Copy + Eq + 'static {
    /// The integer the newtype wraps.
    type Repr: Copy;
    /// The C type of the field or value that holds it (`uint8_t`, `int`, ...).
    const C_TYPE: &'static str;
    /// Every value this ABI defines, with its C name, in ascending order.
    const KNOWN: &'static [(&'static str, Self)];
    /// The C name of this value, or `None` for a value the ABI does not define.
    fn c_name(self) -> Option<&'static str> {
        Self::KNOWN
            .iter()
            .find(|(_, v)| *v == self)
            .map(|(name, _)| *name)
    }
}

/// Defines an open enum: `open_enum! { /// doc\n pub struct Name(u8 as "uint8_t") { /// doc\n
/// VARIANT = C_CONST, ... } }`. The values are the C-named constants, so the C names
/// stay the single source of each number.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub struct $name:ident($repr:ty as $c_type:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $c_const:ident, )*
        }
    ) => {
        $(#[$meta])*
        #[repr(transparent)]
        #[derive(
            Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default,
            zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::KnownLayout, zerocopy::Immutable,
        )]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize), serde(transparent))]
        pub struct $name(pub $repr);

        impl $name {
            $(
                $(#[$vmeta])*
                #[doc = concat!("\n\nC name: `", stringify!($c_const), "`.")]
                // Widening only (a `uint8_t` constant in an `int` field), checked below.
                #[allow(clippy::cast_lossless, clippy::unnecessary_cast)]
                pub const $variant: $name = $name($crate::consts::$c_const as $repr);
            )*

            /// Whether this is a value the ABI defines.
            pub const fn is_known(self) -> bool {
                $( if self.0 == $name::$variant.0 { return true; } )*
                false
            }
        }

        impl $crate::layout::sealed::Sealed for $name {}
        impl $crate::layout::AbiField for $name {
            const SIGNED: bool = <$repr as $crate::layout::AbiField>::SIGNED;
        }

        impl $crate::open_enum::OpenEnum for $name {
            type Repr = $repr;
            const C_TYPE: &'static str = $c_type;
            const KNOWN: &'static [(&'static str, Self)] =
                &[$( (stringify!($c_const), $name::$variant), )*];
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match $crate::open_enum::OpenEnum::c_name(*self) {
                    Some(name) => f.write_str(name),
                    None => write!(f, concat!(stringify!($name), "({})"), self.0),
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Debug::fmt(self, f)
            }
        }

        impl From<$repr> for $name {
            fn from(value: $repr) -> Self {
                $name(value)
            }
        }

        impl From<$name> for $repr {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

pub(crate) use open_enum;
