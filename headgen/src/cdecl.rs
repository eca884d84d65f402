// SPDX-License-Identifier: MIT
//! How Xen's C spells the layout model's types: shared by the header, the C checks and
//! the layout reports.

use xen_kexec_abi::layout::{CType, StructDef};

/// The C type of `ctype` on one line (`uint64_t`, `unsigned long`,
/// `union { XEN_GUEST_HANDLE(const_void) h; uint64_t _pad; }`).
pub(crate) fn spelling(ctype: CType) -> String {
    match ctype {
        CType::Handle(pointee) => {
            format!("union {{ XEN_GUEST_HANDLE({pointee}) h; uint64_t _pad; }}")
        }
        scalar => scalar_spelling(scalar).to_owned(),
    }
}

/// The C type of a scalar (non-handle) type.
fn scalar_spelling(ctype: CType) -> &'static str {
    match ctype {
        CType::Int => "int",
        CType::UnsignedLong => "unsigned long",
        CType::U8 => "uint8_t",
        CType::U16 => "uint16_t",
        CType::U32 => "uint32_t",
        CType::U64 => "uint64_t",
        CType::Handle(_) => "union",
    }
}

/// A structure member declaration as Xen writes it, indented by `indent`; a handle is
/// the multi-line union of Xen's headers.
pub(crate) fn member(ctype: CType, name: &str, indent: &str) -> String {
    match ctype {
        CType::Handle(pointee) => format!(
            "{indent}union {{\n{indent}    XEN_GUEST_HANDLE({pointee}) h;\n\
             {indent}    uint64_t _pad;\n{indent}}} {name};"
        ),
        scalar => format!("{indent}{} {name};", scalar_spelling(scalar)),
    }
}

/// The structure's C typedef name (`xen_kexec_load_t`).
pub(crate) fn typedef_name(def: &StructDef) -> String {
    let (tag, suffix) = def.typedef_parts();
    format!("{tag}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use xen_kexec_abi::layout::LOAD;

    #[test]
    fn a_handle_member_is_xens_union() {
        assert_eq!(
            member(CType::Handle("xen_kexec_segment_t"), "segments", "    "),
            "    union {\n        XEN_GUEST_HANDLE(xen_kexec_segment_t) h;\n        uint64_t _pad;\n    } segments;"
        );
        assert_eq!(
            member(CType::UnsignedLong, "size", ""),
            "unsigned long size;"
        );
        assert_eq!(spelling(CType::Int), "int");
    }

    #[test]
    fn the_typedef_name_has_xens_suffix() {
        assert_eq!(typedef_name(&LOAD), "xen_kexec_load_t");
    }
}
