// SPDX-License-Identifier: MIT
//! The layout model's numbers, pinned to the table of the facts sheet
//! (`shared/kexec-abi.md`, "Layouts as real C compilers lay out Xen's own header").
//! The table is typed here once, as the oracle; nothing else restates it.

use xen_kexec_abi::layout::{self, Arch, CompatClass, StructDef};

/// (structure, [(size, align); x86_32, x86_64, arm32, arm64])
const SIZES: [(&StructDef, [(usize, usize); 4]); 6] = [
    (&layout::EXEC, [(4, 4), (4, 4), (4, 4), (4, 4)]),
    (&layout::RANGE, [(16, 4), (24, 8), (16, 4), (24, 8)]),
    (&layout::SEGMENT, [(32, 4), (32, 8), (32, 8), (32, 8)]),
    (&layout::LOAD, [(24, 4), (24, 8), (24, 8), (24, 8)]),
    (&layout::UNLOAD, [(1, 1), (1, 1), (1, 1), (1, 1)]),
    (&layout::STATUS, [(1, 1), (1, 1), (1, 1), (1, 1)]),
];

/// (structure, field, offset, size) the same on every arch.
const FIXED_FIELDS: [(&StructDef, &str, usize, usize); 13] = [
    (&layout::EXEC, "type", 0, 4),
    (&layout::SEGMENT, "buf", 0, 8),
    (&layout::SEGMENT, "buf_size", 8, 8),
    (&layout::SEGMENT, "dest_maddr", 16, 8),
    (&layout::SEGMENT, "dest_size", 24, 8),
    (&layout::LOAD, "type", 0, 1),
    (&layout::LOAD, "_pad", 1, 1),
    (&layout::LOAD, "arch", 2, 2),
    (&layout::LOAD, "nr_segments", 4, 4),
    (&layout::LOAD, "segments", 8, 8),
    (&layout::LOAD, "entry_maddr", 16, 8),
    (&layout::UNLOAD, "type", 0, 1),
    (&layout::STATUS, "type", 0, 1),
];

#[test]
fn model_sizes_and_alignments_match_the_facts_table_on_all_four_arches() {
    for (def, expected) in SIZES {
        for (arch, (size, align)) in Arch::ALL.into_iter().zip(expected) {
            assert_eq!(
                def.size(arch),
                size,
                "{} size on {}",
                def.c_name,
                arch.name()
            );
            assert_eq!(
                def.align(arch),
                align,
                "{} align on {}",
                def.c_name,
                arch.name()
            );
        }
    }
}

#[test]
fn model_field_offsets_match_the_facts_table_on_all_four_arches() {
    for (def, name, offset, size) in FIXED_FIELDS {
        let field = def.field(name).expect("field in the model");
        for arch in Arch::ALL {
            assert_eq!(
                field.offset(arch),
                offset,
                "{}.{name} on {}",
                def.c_name,
                arch.name()
            );
            assert_eq!(
                field.size(arch),
                size,
                "{}.{name} on {}",
                def.c_name,
                arch.name()
            );
        }
    }
    // range: size@8 start@12 (4 bytes each) on 32-bit arches, size@8 start@16 on 64-bit.
    for (arch, start, word) in [
        (Arch::X86_32, 12, 4),
        (Arch::Arm32, 12, 4),
        (Arch::X86_64, 16, 8),
        (Arch::Arm64, 16, 8),
    ] {
        let f = |n| layout::RANGE.field(n).expect("range field");
        assert_eq!((f("range").offset(arch), f("nr").offset(arch)), (0, 4));
        assert_eq!((f("size").offset(arch), f("size").size(arch)), (8, word));
        assert_eq!(
            (f("start").offset(arch), f("start").size(arch)),
            (start, word)
        );
    }
}

#[test]
fn model_lists_every_structure_with_no_padding_anywhere() {
    let names: Vec<_> = layout::ALL.iter().map(|d| d.c_name).collect();
    assert_eq!(
        names,
        [
            "xen_kexec_exec",
            "xen_kexec_range",
            "xen_kexec_segment",
            "xen_kexec_load",
            "xen_kexec_unload",
            "xen_kexec_status"
        ]
    );
    for def in layout::ALL {
        for arch in Arch::ALL {
            assert_eq!(def.padding(arch), 0, "{} on {}", def.c_name, arch.name());
        }
    }
}

#[test]
fn only_range_is_translated_as_in_xen_xlat_lst() {
    for def in layout::ALL {
        let expected = if def.c_name == "xen_kexec_range" {
            CompatClass::Translated
        } else {
            CompatClass::Checked
        };
        assert_eq!(def.compat, expected, "{}", def.c_name);
    }
}

#[test]
fn guest_handles_are_defined_for_segment_load_unload_and_status() {
    let with: Vec<_> = layout::ALL
        .iter()
        .filter(|d| d.guest_handle)
        .map(|d| d.c_name)
        .collect();
    assert_eq!(
        with,
        [
            "xen_kexec_segment",
            "xen_kexec_load",
            "xen_kexec_unload",
            "xen_kexec_status"
        ]
    );
}

#[test]
fn arch_names_round_trip() {
    for arch in Arch::ALL {
        assert_eq!(Arch::from_name(arch.name()), Some(arch));
    }
    assert_eq!(Arch::from_name("ia64"), None);
}
