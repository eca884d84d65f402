// SPDX-License-Identifier: MIT
//! A value of one ABI structure, written once and rendered two ways: as a C designated
//! initializer (for the guest's compiler) and as the Rust structure of the same guest
//! layout (through serde, whose field names are Xen's C names). Comparing the two
//! encodings is the cross-check.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use xen_kexec_abi::layout::{CType, StructDef};
use xen_kexec_abi::{
    x86_32, x86_64, ElfMachine, GuestAbi, KexecCmd, KexecRangeKind, KexecType, OpenEnum,
};
use zerocopy::IntoBytes;

/// A field's value: a number, or the C name of a constant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldValue {
    /// A number (negative only for `int` fields).
    Num(i128),
    /// A constant's C name (`KEXEC_TYPE_CRASH`, `EM_386`, ...).
    Named(String),
}

/// Every constant a fixture may name, with its value: read from the crate's open enums.
fn named_constants() -> impl Iterator<Item = (&'static str, i128)> {
    let t = KexecType::KNOWN.iter().map(|(n, v)| (*n, i128::from(v.0)));
    let m = ElfMachine::KNOWN.iter().map(|(n, v)| (*n, i128::from(v.0)));
    let r = KexecRangeKind::KNOWN
        .iter()
        .map(|(n, v)| (*n, i128::from(v.0)));
    let c = KexecCmd::KNOWN.iter().map(|(n, v)| (*n, i128::from(v.0)));
    t.chain(m).chain(r).chain(c)
}

/// The value of the constant named `name`, if the ABI defines one.
pub fn constant(name: &str) -> Option<i128> {
    named_constants().find(|(n, _)| *n == name).map(|(_, v)| v)
}

impl FieldValue {
    /// The number this value stands for.
    ///
    /// # Errors
    /// A message naming the constant when it is unknown.
    pub fn number(&self) -> Result<i128, String> {
        match self {
            FieldValue::Num(n) => Ok(*n),
            FieldValue::Named(name) => {
                constant(name).ok_or_else(|| format!("unknown constant {name}"))
            }
        }
    }
}

/// A value of one ABI structure: some fields set, the rest zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructValue {
    /// The structure.
    pub def: &'static StructDef,
    /// (C field name, value) for the fields that are set.
    pub fields: Vec<(String, FieldValue)>,
}

/// The range of values a field of `ctype` holds for `abi`.
fn field_range(ctype: CType, abi: GuestAbi) -> (i128, i128) {
    let bits = ctype.size(abi.arch()) * 8;
    if ctype == CType::Int {
        (i128::from(i32::MIN), i128::from(i32::MAX))
    } else {
        (0, (1i128 << bits) - 1)
    }
}

impl StructValue {
    /// Checks every field name and value against the model for `abi`.
    ///
    /// # Errors
    /// A message naming the structure, field and value that does not fit.
    pub fn validate(&self, abi: GuestAbi) -> Result<(), String> {
        for (name, value) in &self.fields {
            let field = self
                .def
                .field(name)
                .ok_or_else(|| format!("{} has no field {name}", self.def.c_name))?;
            let n = value.number()?;
            let (lo, hi) = field_range(field.ctype, abi);
            // A 32-bit guest's handle may carry garbage in its upper 4 bytes: the full
            // 8 bytes are allowed there.
            let hi = if matches!(field.ctype, CType::Handle(_)) {
                i128::from(u64::MAX)
            } else {
                hi
            };
            if n < lo || n > hi {
                return Err(format!(
                    "{}.{name} = {n:#x} does not fit a {}-byte field on {}",
                    self.def.c_name,
                    field.size(abi.arch()),
                    abi.name()
                ));
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The C designated initializer (`{ .type = KEXEC_TYPE_CRASH, ... }`) for `abi`.
    ///
    /// Handles are written through their handle member (`.h = { .p = (T *)ADDR }`), the
    /// way a guest's C code fills them; a 32-bit guest's handle whose value does not fit
    /// in 32 bits is written through the union's `_pad` member instead, which is how a
    /// guest leaves garbage in the upper half.
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn c_initializer(&self, abi: GuestAbi) -> Result<String, String> {
        self.validate(abi)?;
        let mut out = String::from("{");
        for field in self.def.iter() {
            let Some(value) = self.get(field.name) else {
                continue;
            };
            let n = value.number()?;
            let rendered = match (field.ctype, value) {
                (CType::Handle(pointee), _) => {
                    let fits = abi == GuestAbi::X86_64 || u32::try_from(n).is_ok();
                    if fits {
                        let qualifier = if pointee == "const_void" {
                            "const void"
                        } else {
                            pointee
                        };
                        format!("{{ .h = {{ .p = ({qualifier} *){n:#x}UL }} }}")
                    } else {
                        format!("{{ ._pad = {n:#x}ULL }}")
                    }
                }
                (_, FieldValue::Named(name)) if name.starts_with("KEXEC_") => name.clone(),
                (CType::Int, _) if n == i128::from(i32::MIN) => "(-2147483647 - 1)".to_string(),
                (CType::Int, _) => format!("{n}"),
                (CType::U64, _) => format!("{n:#x}ULL"),
                _ => format!("{n:#x}U"),
            };
            let _ = write!(out, " .{} = {rendered},", field.name);
        }
        out.push_str(" }");
        Ok(out)
    }

    /// The value as a JSON object under Xen's field names (the serde form of the Rust
    /// structures).
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub fn to_json(&self, abi: GuestAbi) -> Result<Value, String> {
        self.validate(abi)?;
        let mut map = Map::new();
        for field in self.def.iter() {
            let n = self.get(field.name).map_or(Ok(0), FieldValue::number)?;
            let json = if field.ctype == CType::Int {
                Value::from(i64::try_from(n).map_err(|e| e.to_string())?)
            } else {
                Value::from(u64::try_from(n).map_err(|e| e.to_string())?)
            };
            map.insert(field.name.to_string(), json);
        }
        Ok(Value::Object(map))
    }

    /// The bytes of this value as the Rust structure of `abi`'s layout encodes it.
    ///
    /// # Errors
    /// As [`validate`](Self::validate), or when serde refuses the value.
    pub fn rust_bytes(&self, abi: GuestAbi) -> Result<Vec<u8>, String> {
        fn enc<T: serde::de::DeserializeOwned + IntoBytes + zerocopy::Immutable>(
            json: Value,
        ) -> Result<Vec<u8>, String> {
            serde_json::from_value::<T>(json)
                .map(|v| v.as_bytes().to_vec())
                .map_err(|e| e.to_string())
        }
        let json = self.to_json(abi)?;
        match (self.def.rust_name, abi) {
            ("KexecExec", _) => enc::<x86_64::KexecExec>(json),
            ("KexecUnload", _) => enc::<x86_64::KexecUnload>(json),
            ("KexecStatus", _) => enc::<x86_64::KexecStatus>(json),
            ("KexecRange", GuestAbi::X86_64) => enc::<x86_64::KexecRange>(json),
            ("KexecRange", GuestAbi::X86_32) => enc::<x86_32::KexecRange>(json),
            ("KexecSegment", GuestAbi::X86_64) => enc::<x86_64::KexecSegment>(json),
            ("KexecSegment", GuestAbi::X86_32) => enc::<x86_32::KexecSegment>(json),
            ("KexecLoad", GuestAbi::X86_64) => enc::<x86_64::KexecLoad>(json),
            ("KexecLoad", GuestAbi::X86_32) => enc::<x86_32::KexecLoad>(json),
            (other, _) => Err(format!("no Rust structure {other}")),
        }
    }
}

/// The distinctive byte pattern a field-walk fixture puts in a field of `size` bytes.
pub fn walk_pattern(size: usize) -> Vec<u8> {
    [0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x17, 0x28]
        .into_iter()
        .take(size)
        .collect()
}

/// How many bytes of a field of `ctype` a guest's C compiler fills: all of them, but
/// of a handle only its pointer member, so a 32-bit guest's compiler fills the low
/// `long_size` (4) bytes of the 8-byte union.
pub fn filled_bytes(ctype: CType, abi: GuestAbi) -> usize {
    match ctype {
        CType::Handle(_) => abi.arch().long_size(),
        other => other.size(abi.arch()),
    }
}

/// The field-walk value of field `index` of `def` for `abi`: that field holds
/// [`walk_pattern`] of the bytes the guest's compiler fills, the rest are zero.
pub fn walk_value(def: &'static StructDef, index: usize, abi: GuestAbi) -> StructValue {
    let field = def.field_at(index);
    let filled = filled_bytes(field.ctype, abi);
    let mut le = [0u8; 16];
    le[..filled].copy_from_slice(&walk_pattern(filled));
    let unsigned = u128::from_le_bytes(le);
    let n = if field.ctype == CType::Int {
        i128::from(i32::from_le_bytes([le[0], le[1], le[2], le[3]]))
    } else {
        i128::try_from(unsigned).unwrap_or(0)
    };
    StructValue {
        def,
        fields: vec![(field.name.to_string(), FieldValue::Num(n))],
    }
}
